"""The small values of the status socket's JSON as terminal text: moments, durations,
money, usage bars, severities, located problems, and the titled tables every screen is made of.

Every screen of the CLI (:mod:`~simple_risk.cli.status_screen`,
:mod:`~simple_risk.cli.explain_screen`, :mod:`~simple_risk.cli.timeline`,
:mod:`~simple_risk.cli.admin_views`) spells a value through these, so a time, an amount or a
severity reads and looks the same wherever it shows, and no screen imports another to borrow
one. Pure functions: no socket, no clock, no printing; countdowns are computed from ``ends_at``
/ ``fires_at`` against the ``now`` handed in, which is what lets ``engine status --watch`` tick
every second between two fetches.

Colour follows severity everywhere: info blue/dim, warning yellow, critical bold red; P&L
limits are green below 50 % used, yellow below 80 %, red from 80 %. Rich drops the colour by
itself on a non-terminal or with ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from simple_risk import words

#: rich style of each severity (firings, alerts, monitor lines)
SEVERITY_STYLE: Mapping[str, str] = {
    "debug": "dim",
    "info": "blue",
    "warning": "yellow",
    "error": "red",
    "critical": "bold red",
}

#: shown for a value that is absent or unknown
NONE = "—"


def parse_time(stamp: object) -> datetime | None:
    """An ISO-8601 stamp from the daemon as an aware datetime (``None`` when absent/bad)."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


def format_duration(seconds: float | None) -> str:
    """``4.2s``, ``42s``, ``38m 32s``, ``2h 05m``, ``1d 03h``; ``—`` for unknown."""
    if seconds is None:
        return NONE
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{int(seconds)}s" if seconds == int(seconds) and seconds else f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"


def seconds_until(stamp: object, now: datetime, fallback: object = None) -> float | None:
    """Seconds from ``now`` to ``stamp`` (never negative); ``fallback`` when no stamp."""
    end = parse_time(stamp)
    if end is not None:
        return max((end - now).total_seconds(), 0.0)
    if isinstance(fallback, int | float):
        return float(fallback)
    return None


def seconds_since(stamp: object, now: datetime) -> float | None:
    start = parse_time(stamp)
    return None if start is None else max((now - start).total_seconds(), 0.0)


def clock(stamp: object, now: datetime | None = None) -> str:
    """``10:15:02`` in ``now``'s time zone (the viewer's), with the date when it is not
    ``now``'s day and the zone's name when its offset then was not the one in force now
    (``2026-10-30 16:30:00 CDT`` read on a Monday in CST: the screen's header names only
    today's); without ``now``, in the stamp's own offset."""
    moment = parse_time(stamp)
    if moment is None:
        return NONE
    if now is None:
        return moment.strftime("%H:%M:%S")
    moment = moment.astimezone(now.tzinfo)
    shown = moment.strftime("%H:%M:%S" if moment.date() == now.date() else "%Y-%m-%d %H:%M:%S")
    if moment.utcoffset() != now.utcoffset():
        shown = f"{shown} {words.zone_name(moment)}"
    return shown


def decimal_of(value: object) -> Decimal | None:
    """A number of the JSON (sent as a string or a number) as an exact ``Decimal``;
    ``None`` when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money_text(value: object) -> str:
    """A money string as sent, but never with more than two decimals of trailing zeros
    (``-0.500000000`` → ``-0.50``; ``-0.125`` stays exact)."""
    amount = decimal_of(value)
    if amount is None:
        return NONE
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        cents = amount.quantize(Decimal("0.01"))
        if cents == amount:
            return str(cents)
        return str(amount.normalize())
    return str(value)


def money(value: object) -> Text:
    """Dollars with cents (``-$48.40``) coloured by sign (red below zero, green above);
    ``—`` when unknown."""
    amount = decimal_of(value)
    if amount is None:
        return Text(NONE, style="dim")
    style = "red" if amount < 0 else "green" if amount > 0 else ""
    return Text(words.usd(value), style=style)


def plain(value: object) -> str:
    return NONE if value is None or value == "" else str(value)


def used_style(percent: float | None) -> str:
    """green below 50 %, yellow below 80 %, red from 80 % (dim when unknown)."""
    if percent is None:
        return "dim"
    if percent < 50:
        return "green"
    if percent < 80:
        return "yellow"
    return "bold red"


def usage_bar(percent: float | None, width: int = 10) -> Text:
    """``███░░░░░░░  29.8%`` coloured by :func:`used_style`; ``—`` when unknown."""
    if percent is None:
        return Text(NONE, style="dim")
    if round(percent, 1) <= 0:
        # not "-0.0%" on a fresh day, nor "-21.6%" on a winning one (a profit against a
        # negative loss limit): nothing of the limit is used
        percent = 0.0
    filled = min(max(round(percent / 100 * width), 0), width)
    bar = Text("█" * filled + "░" * (width - filled), style=used_style(percent))
    bar.append(f" {percent:5.1f}%", style=used_style(percent))
    return bar


def severity_style(severity: object) -> str:
    return SEVERITY_STYLE.get(str(severity), "")


def format_problem(problem: Mapping[str, Any]) -> str:
    """A located problem of a refused reload: ``FILE:LINE:COL: rule "ID": message (hint)``."""
    where = ":".join(
        str(part)
        for part in (problem.get("file"), problem.get("line"), problem.get("column"))
        if part is not None and part != ""
    )
    rule = problem.get("rule")
    text = f'rule "{rule}": ' if rule else ""
    if problem.get("severity") == "warning":
        text = "warning: " + text
    text += str(problem.get("message", ""))
    if problem.get("hint"):
        text += f" ({problem['hint']})"
    return f"{where}: {text}" if where else text


def section_table(title: str, *columns: str, right: Iterable[str] = ()) -> Table:
    """A table titled at its left like every section of a screen; ``right`` names the
    columns of numbers, aligned right. In a terminal too narrow for a cell, the cell folds
    onto more lines: a rule id or a ticker is never cut to ``cooldown-aft…``."""
    table = Table(
        title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=False
    )
    aligned = set(right)
    for column in columns:
        table.add_column(column, justify="right" if column in aligned else "left", overflow="fold")
    return table


def empty_section(title: str, what: str) -> Text:
    """``Positions: flat``: a section with nothing to list, in one dim line instead of an
    empty table."""
    text = Text(f"{title}: ", style="bold")
    text.append(what, style="dim")
    return text


__all__ = [
    "NONE",
    "SEVERITY_STYLE",
    "clock",
    "decimal_of",
    "empty_section",
    "format_duration",
    "format_problem",
    "money",
    "money_text",
    "parse_time",
    "plain",
    "seconds_since",
    "seconds_until",
    "section_table",
    "severity_style",
    "usage_bar",
    "used_style",
]
