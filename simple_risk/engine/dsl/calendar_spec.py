"""The ``calendar:`` section: time zone, trading-day start, sessions, holidays, early closes.

Everything date-like is resolved here, once per load, into a ``CalendarSpec`` of concrete
dates and times (a named exchange calendar included), so the engine never reads a calendar
or a clock of its own. Kept apart because it is the one section about dates and times, with
mistakes of its own (``bad-timezone``, ``bad-time``, ``bad-date``).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from simple_risk.calendars import EXCHANGES, NO_EXCHANGE
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.durations import TIME_HINT, parse_time
from simple_risk.engine.dsl.problems import did_you_mean
from simple_risk.engine.dsl.schema import WEEKDAYS
from simple_risk.engine.dsl.yamlload import Path
from simple_risk.engine.model import CalendarSpec, SessionSpec


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def compile_calendar(out: Compilation, raw: object) -> CalendarSpec:
    """The ``calendar:`` section as a ``CalendarSpec`` (the defaults when it is absent)."""
    if not isinstance(raw, dict):
        return CalendarSpec()
    base: Path = ("calendar",)
    timezone = raw.get("timezone", "America/Chicago")
    if isinstance(timezone, str):
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            out.error(
                (*base, "timezone"),
                f'unknown time zone "{timezone}"',
                "bad-timezone",
                did_you_mean(timezone, _zone_names()) or "an IANA name such as America/Chicago",
            )
            timezone = "America/Chicago"
    else:
        timezone = "America/Chicago"
    starts = _time(raw.get("trading_day_starts"), dt.time(17, 0))
    sessions: dict[str, SessionSpec] = {}
    raw_sessions = raw.get("sessions")
    if isinstance(raw_sessions, dict):
        for name, spec in raw_sessions.items():
            if not isinstance(spec, dict):
                continue
            start, end = _time(spec.get("start"), None), _time(spec.get("end"), None)
            days = spec.get("days", list(WEEKDAYS[:5]))
            if start is None or end is None or not isinstance(days, list):
                continue
            if start == end:
                out.error(
                    (*base, "sessions", name, "end"),
                    f'session "{name}" starts and ends at the same time',
                    "bad-time",
                    TIME_HINT,
                )
            day_numbers = frozenset(WEEKDAYS.index(d) for d in days if d in WEEKDAYS)
            sessions[str(name)] = SessionSpec(str(name), start, end, day_numbers)
    holidays, early = _exchange_days(out, raw.get("exchange"), timezone)
    regular = _dates(out, (*base, "regular_days"), raw.get("regular_days"))
    holidays -= regular
    early = {day: close for day, close in early.items() if day not in regular}
    holidays |= _dates(out, (*base, "holidays"), raw.get("holidays"))
    raw_early = raw.get("early_closes")
    if isinstance(raw_early, dict):
        for key, value in raw_early.items():
            day = _date(out, (*base, "early_closes", key), key, key=True)
            close = _time(value, None)
            if day is not None and close is not None:
                early[day] = close
    return CalendarSpec(
        timezone=timezone,
        trading_day_starts=starts or dt.time(17, 0),
        sessions=MappingProxyType(sessions),
        holidays=frozenset(holidays),
        early_closes=MappingProxyType(early),
    )


def _exchange_days(
    out: Compilation, exchange: object, timezone: str
) -> tuple[set[dt.date], dict[dt.date, dt.time]]:
    """The named exchange calendar's holidays and early closes (empty for ``none``).

    Resolved here, once per load, so the engine only ever sees concrete dates; the resolver
    (and pandas under it) is imported only when a ruleset names an exchange.
    """
    if not isinstance(exchange, str) or exchange == NO_EXCHANGE or exchange not in EXCHANGES:
        return set(), {}
    from simple_risk.calendars import exchange_days

    days = exchange_days(exchange, timezone)
    out.exchange = days
    return set(days.holidays), dict(days.early_closes)


def _dates(out: Compilation, path: Path, raw: object) -> set[dt.date]:
    dates: set[dt.date] = set()
    if isinstance(raw, list):
        for index, value in enumerate(raw):
            day = _date(out, (*path, index), value)
            if day is not None:
                dates.add(day)
    return dates


def _time(value: object, default: dt.time | None) -> dt.time | None:
    try:
        return parse_time(value)
    except ValueError:
        return default


def _date(out: Compilation, path: Path, value: object, key: bool = False) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", value):
                out.error(path, f'"{value}" is not a calendar date', "bad-date", key=key)
    return None
