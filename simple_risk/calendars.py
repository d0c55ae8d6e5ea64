"""Exchange holidays and early closes, resolved once when a ruleset loads.

A ruleset says which exchange calendar its products follow (``calendar: {exchange:
cme_globex_equity}``); the compiler asks :func:`exchange_days` for that exchange's full-day
closures and early closes and hands the engine a plain
:class:`~simple_risk.engine.model.CalendarSpec` with concrete dates. The dates come from
pandas-market-calendars' CME Globex calendars, which are maintained upstream year by year, so
the project never carries a holiday table that silently runs out.

Why a fixed range of years (:data:`FIRST_DAY` … :data:`LAST_DAY`) rather than a window around
today: the engine must give the same answers for the same events whatever day it runs, and a
``rules test`` case dated years from now (or in the past) must see that year's holidays. The
whole range costs well under a second once per process (the answer is cached per exchange and
time zone) and a few hundred dates in memory.

pandas is imported inside :func:`exchange_days` only: the names in :data:`EXCHANGES` are what
the schema and the lint need, and ``simple-risk --help`` or the per-event hot path never pay
for pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

#: the ruleset's name for an exchange calendar → pandas-market-calendars' calendar name
EXCHANGES: Mapping[str, str] = MappingProxyType(
    {
        # ES, NQ, YM, RTY and their micros: the products TopstepX accounts trade most
        "cme_globex_equity": "CME Globex Equity",
        # CL, NG, GC, SI, HG and their micros (closed on Good Friday, unlike equities)
        "cme_globex_energy_metals": "CMEGlobex_EnergyAndMetals",
        # 6E, 6J, 6B …
        "cme_globex_fx": "CMEGlobex_FX",
        # ZB, ZN, ZF, ZT
        "cme_globex_rates": "CME Globex Fixed Income",
        # ZC, ZW, ZS
        "cme_globex_grains": "CMEGlobex_Grains",
    }
)
#: the ``exchange:`` value that uses only the ruleset's own ``holidays:`` and ``early_closes:``
NO_EXCHANGE = "none"

#: the first and last trade dates resolved (inclusive); fixed so answers never depend on today
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2060, 12, 31)


@dataclass(frozen=True, slots=True)
class ExchangeDays:
    """One exchange's weekday closures and early closes between FIRST_DAY and LAST_DAY."""

    exchange: str
    #: weekdays with no session at all (trade dates)
    holidays: frozenset[date] = frozenset()
    #: trade date → the local wall-clock time the session closes early
    early_closes: Mapping[date, time] = field(default_factory=dict)


@lru_cache(maxsize=16)
def exchange_days(exchange: str, timezone: str) -> ExchangeDays:
    """The holidays and early closes of ``exchange`` (a key of :data:`EXCHANGES`), early close
    times as wall-clock times in ``timezone`` (the ruleset's calendar zone)."""
    import pandas_market_calendars as mcal  # heavy (pandas): only when a ruleset names one

    market: Any = mcal.get_calendar(EXCHANGES[exchange])
    schedule: Any = market.schedule(FIRST_DAY.isoformat(), LAST_DAY.isoformat())
    trading = {stamp.date() for stamp in schedule.index}
    holidays = frozenset(day for day in _weekdays(FIRST_DAY, LAST_DAY) if day not in trading)
    zone = ZoneInfo(timezone)
    early: dict[date, time] = {}
    closes: Any = market.early_closes(schedule)["market_close"]
    for stamp in closes:
        close: datetime = stamp.to_pydatetime().astimezone(zone)
        early[close.date()] = close.time()
    return ExchangeDays(exchange, holidays, MappingProxyType(early))


def _weekdays(first: date, last: date) -> list[date]:
    days: list[date] = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


__all__ = ["EXCHANGES", "FIRST_DAY", "LAST_DAY", "NO_EXCHANGE", "ExchangeDays", "exchange_days"]
