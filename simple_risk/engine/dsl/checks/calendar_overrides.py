"""A warning for a calendar override that changes nothing against the named exchange calendar.

``holidays:`` adds closures to those of ``calendar.exchange`` and ``regular_days:`` takes the
exchange's closures and early closes away (docs/calendar.md). A holiday the exchange already
closes for is a leftover of a hand-kept list; a regular day the exchange does not close (or
close early) on is a typo or a date from another exchange, and either way it does nothing.

WARN::

    calendar:
      exchange: cme_globex_equity
      holidays: [2026-12-25]        # already a holiday of cme_globex_equity
      regular_days: [2026-12-28]    # not a holiday or early close of cme_globex_equity
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from simple_risk.calendars import ExchangeDays
from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem

_CHECK = "calendar-override"


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _listed(compilation: Compilation, key: str) -> Iterator[tuple[int, dt.date]]:
    values = compilation.doc.get(("calendar", key))
    for index, value in enumerate(values if isinstance(values, list) else []):
        day = _as_date(value)
        if day is not None:
            yield index, day


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    exchange: ExchangeDays | None = compilation.exchange
    name = exchange.exchange if exchange is not None else ""

    def warn(key: str, index: int, message: str, hint: str) -> Problem:
        mark = doc.at(("calendar", key, index))
        return Problem(doc.file, mark.line, mark.column, message, _CHECK, None, hint, "warning")

    if exchange is not None:
        for index, day in _listed(compilation, "holidays"):
            if day in exchange.holidays:
                yield warn(
                    "holidays",
                    index,
                    f"{day.isoformat()} is already a holiday of {name}",
                    "remove it: the exchange calendar has it",
                )
    closures = exchange.holidays | frozenset(exchange.early_closes) if exchange else frozenset()
    for index, day in _listed(compilation, "regular_days"):
        if exchange is None:
            yield warn(
                "regular_days",
                index,
                f"{day.isoformat()} overrides nothing: the calendar names no exchange",
                "remove it, or name the exchange calendar it overrides (calendar.exchange)",
            )
        elif day not in closures:
            yield warn(
                "regular_days",
                index,
                f"{day.isoformat()} is not a holiday or early close of {name}",
                "remove it: regular_days only takes away the exchange calendar's closures",
            )


CHECK = CheckDef(_CHECK, "Calendar overrides change something against the exchange calendar.", run)
