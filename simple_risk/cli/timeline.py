"""What happened, as rows of a timeline: ``engine history``'s table of the journal and
``engine monitor``'s live lines, one per streamed message.

The two share their vocabulary (a moment in the viewer's zone, a kind, an account, a rule,
what happened, coloured by kind or severity), and neither is a view of the current state,
which is what the status screen shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from simple_risk import words
from simple_risk.cli.formatting import clock, parse_time, plain, section_table, severity_style

#: rich style of each ``history`` kind
KIND_STYLE: Mapping[str, str] = {
    "fill": "cyan",
    "firing": "bold red",
    "lockout": "magenta",
    "lockout_cleared": "green",
    "intent": "yellow",
    "admin": "blue",
    "alert": "bold yellow",
}


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)")


def local_stamps(text: str, now: datetime) -> str:
    """Every ISO-8601 moment in a stored summary (``until 2026-11-24T23:00:00+00:00``) in
    the viewer's zone, named (``until 17:00 CST``), like every other time on screen."""

    def local(match: re.Match[str]) -> str:
        moment = parse_time(match.group(0).replace("Z", "+00:00"))
        return match.group(0) if moment is None else words.at_words(moment, now)

    return _STAMP.sub(local, text)


#: a ``while:`` lockout as the store words it: ``RTY locked while EXPRESSION: reason`` (an
#: expression has no ": "; a time in it is quoted, "15:55")
_WHILE_LOCK = re.compile(r"^(.*? locked) while .+?: ")


def lockout_words(summary: str) -> str:
    """A lockout's summary in the trader's words: a ``while:`` lockout holds "while the
    condition holds", as engine status and the dashboard say, not while its rule's expression
    does (``known(lock.symbol) and …``)."""
    return _WHILE_LOCK.sub(r"\1 while the condition holds: ", summary, count=1)


def history_table(items: Sequence[Mapping[str, Any]], now: datetime) -> RenderableType:
    """Oldest first; the ``At`` column and every moment in a summary in the viewer's zone."""
    if not items:
        return Text("nothing in this period", style="dim")
    title = f"History (times in {_zone_names(items, now)})"
    table = section_table(title, "At", "Kind", "Account", "Rule", "Summary")
    for item in items:
        kind = str(item.get("kind", ""))
        summary = str(item.get("summary", ""))
        if kind == "lockout":
            summary = lockout_words(summary)
        table.add_row(
            clock(item.get("at"), now),
            Text(kind, style=KIND_STYLE.get(kind, "")),
            plain(item.get("account")),
            plain(item.get("rule")),
            Text(local_stamps(summary, now)),
        )
    return table


def _zone_names(items: Sequence[Mapping[str, Any]], now: datetime) -> str:
    """The viewer's zone as the rows show it: ``CST``, or ``CDT/CST`` for rows on both sides
    of a clock change (each row is in the offset in force at its moment)."""
    names = {words.zone_name(now)}
    for item in items:
        moment = parse_time(item.get("at"))
        if moment is not None:
            names.add(words.zone_name(moment.astimezone(now.tzinfo)))
    return "/".join(sorted(names))


def monitor_severity(message: Mapping[str, Any]) -> str:
    """The severity of a streamed message: its own, else one derived from its type."""
    severity = message.get("severity")
    if isinstance(severity, str) and severity:
        return severity
    kind = message.get("type")
    if kind in ("alert", "dropped"):
        return "critical" if kind == "alert" else "warning"
    if kind in ("firing", "result", "call"):
        return "warning"
    return "info"


def day_line(moment: datetime) -> Text:
    """``── Tue 12 Jan 2027 ──``: printed by ``engine monitor`` before the first line of a day
    other than the previous line's (its lines show only the time)."""
    return Text(f"── {moment:%a} {moment.day} {moment:%b %Y} ──", style="dim")


def monitor_line(
    message: Mapping[str, Any], tz: tzinfo | None = None, *, banner: datetime | None = None
) -> Text:
    """``10:15:02  20100001  firing   Order cancelled: …`` coloured by severity; the time in
    ``tz`` (the viewer's local zone when ``None``), with its zone's name when its offset is
    not the one the ``banner`` named (a monitor left running over a clock change)."""
    kind = str(message.get("type", "?"))
    severity = monitor_severity(message)
    style = severity_style(severity) if kind != "event" else "dim"
    moment = parse_time(message.get("at"))
    shown = "--:--:--"
    if moment is not None:
        local = moment.astimezone(tz)
        shown = local.strftime("%H:%M:%S")
        if banner is not None and local.utcoffset() != banner.utcoffset():
            shown = f"{shown} {words.zone_name(local)}"
    line = Text(shown, style="dim")
    account = message.get("account")
    line.append(f"  {account if account is not None else '':<9}")
    line.append(f" {kind:<8} ", style=style or "bold")
    text = message.get("text")
    if not text and kind == "dropped":
        count = (message.get("data") or {}).get("count", "?")
        text = f"{count} messages skipped: this monitor read too slowly"
    line.append(str(text or ""), style=style)
    return line


__all__ = [
    "KIND_STYLE",
    "day_line",
    "history_table",
    "local_stamps",
    "lockout_words",
    "monitor_line",
    "monitor_severity",
]
