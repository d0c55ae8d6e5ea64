"""The tables inside an account's panel of ``engine status``: positions, working orders,
P&L and limits, what the rules remember, lockouts, rules about to act, last firings and open
intents — each from its part of the ``status`` answer (docs/status-protocol.md).

Separate from :mod:`~simple_risk.cli.status_screen`, which lays them out in a panel per
account, because a table is also shown on its own (``admin lockout list`` shows the lockouts of
every account) and because each table is the one place that knows how its rows are worded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from simple_risk import words
from simple_risk.cli.formatting import (
    NONE,
    clock,
    decimal_of,
    empty_section,
    format_duration,
    money,
    money_text,
    parse_time,
    plain,
    seconds_since,
    seconds_until,
    section_table,
    severity_style,
    usage_bar,
    used_style,
)


def what_locked(lock: Mapping[str, Any]) -> str:
    """What a lockout locks, as the trader says it: ``Account`` or the ticker (``ES``)."""
    return "Account" if lock.get("scope") == "account" else _ticker(lock) or "Symbol"


def _ticker(item: Mapping[str, Any]) -> str:
    """The ticker traders know (``ES``): the daemon's ``ticker``, else its ``symbol``."""
    return str(item.get("ticker") or item.get("symbol") or item.get("contract_id") or "")


def derived_table(derived: Sequence[Mapping[str, Any]]) -> list[RenderableType]:
    """The ruleset's derived facts (``derive:``) now: what the rules remember, as a table —
    none at all for a ruleset that derives no facts."""
    if not derived:
        return []
    table = section_table("What the rules remember", "Fact", "For", "Value", right=["Value"])
    for entry in derived:
        label = str(entry.get("description") or entry.get("name"))
        if entry.get("error"):
            value = Text(f"cannot be computed: {entry['error']}", style="red")
        elif entry.get("value") is None:
            value = Text("not known yet", style="dim")
        elif isinstance(entry["value"], bool):
            value = Text("yes" if entry["value"] else "no")
        else:
            value = Text(words.number(entry["value"]))
        table.add_row(label, str(entry.get("ticker") or "account"), value)
    return [table]


def positions_table(positions: Sequence[Mapping[str, Any]], now: datetime) -> RenderableType:
    if not positions:
        return empty_section("Positions", "flat")
    table = section_table(
        "Positions",
        "Ticker",
        "Side",
        "Size",
        "Avg price",
        "Last",
        "Open P&L",
        "Ticks",
        "Protected",
        right=("Size", "Avg price", "Last", "Open P&L", "Ticks"),
    )
    for position in positions:
        if position.get("protected"):
            stop = position.get("stop_price")
            label = f"yes (stop {money_text(stop)})" if stop else "yes"
            protected = Text(label, style="green")
        else:
            since = seconds_since(position.get("unprotected_since"), now)
            label = "NO" if since is None else f"NO for {format_duration(since)}"
            protected = Text(label, style="bold red")
        table.add_row(
            _ticker(position) or NONE,
            plain(position.get("side")),
            words.contracts(position.get("size")),
            money_text(position.get("avg_price")),
            _last(position),
            money(position.get("unrealized_pnl")),
            plain(position.get("profit_ticks")),
            protected,
        )
    return table


def _last(position: Mapping[str, Any]) -> RenderableType:
    """The price the position is marked at; while its quotes are missing the daemon prices it
    from REST bars (the last trade, not the bid or ask), and says so."""
    last = money_text(position.get("last_price"))
    if position.get("priced_from") != "bars":
        return last
    return Text(f"{last} (bars)", style="yellow")


def orders_table(orders: Sequence[Mapping[str, Any]]) -> RenderableType:
    if not orders:
        return empty_section("Working orders", "none")
    table = section_table(
        "Working orders",
        "Id",
        "Ticker",
        "Side",
        "Type",
        "Size",
        "Limit",
        "Stop",
        "Status",
        "Placed by",
        right=("Id", "Size", "Limit", "Stop"),
    )
    for order in orders:
        table.add_row(
            plain(order.get("id")),
            _ticker(order) or NONE,
            plain(order.get("side")),
            plain(order.get("type")),
            words.contracts(order.get("size")),
            money_text(order.get("limit_price")),
            money_text(order.get("stop_price")),
            plain(order.get("status")),
            "simple-risk" if order.get("own", True) else "you",
        )
    return table


def pnl_table(account: Mapping[str, Any]) -> RenderableType:
    """Net P&L today (realized and open), trades, lots open, and every limit by name with
    its value now, its bound and the share used — never the rule expression behind it."""
    pnl = account.get("pnl") or {}
    summary = Text("Net P&L today: ", style="bold")
    summary.append_text(money(pnl.get("net")))
    summary.append(" (realized ")
    summary.append_text(money(pnl.get("realized")))
    summary.append(", open ")
    summary.append_text(money(pnl.get("unrealized")))
    summary.append(")")
    if pnl.get("week_net") is not None:
        summary.append(" · week ")
        summary.append_text(money(pnl.get("week_net")))
    if pnl.get("trades") is not None:
        summary.append(f" · {words.quantity(pnl['trades'], 'trades')}")
    contracts = account.get("contracts") or {}
    if contracts:
        summary.append(f" · Contracts open: {words.quantity(contracts.get('open'), 'lots')}")
        if contracts.get("limit") is not None:
            summary.append(f" of {words.number(contracts.get('limit'))}")
        used = _percent(contracts.get("open"), contracts.get("limit"))
        if used is not None:
            summary.append(f" ({used:.0f}%)", style=used_style(used))
    limits = account.get("limits") or []
    if not limits:
        return summary
    table = section_table("Limits", "Limit", "Now", "Max", "Used", right=("Now", "Max"))
    for limit in limits:
        used = limit.get("used_pct")
        unit = limit.get("unit")
        unit = unit if isinstance(unit, str) else _unit_of(limit.get("fact"))
        table.add_row(
            words.rule_title(str(limit.get("rule", "")), limit.get("label")),
            _amount(limit.get("value"), unit),
            words.quantity(limit.get("limit"), unit),
            usage_bar(float(used) if isinstance(used, int | float) else None),
        )
    return Group(summary, table)


def _unit_of(fact: object) -> str | None:
    """The unit of a limit from a daemon that does not send one, read off its fact."""
    name = str(fact or "")
    if "pnl" in name or "balance" in name or "equity" in name:
        return "usd"
    if name == "account.open_contracts":
        return "lots"
    # the fact's own name (trades.count(…), day.trade_count), not the "count" in "account."
    if "count" in name.split("(", 1)[0].rsplit(".", 1)[-1]:
        return "trades"
    return None


def _amount(value: object, unit: str | None) -> Text:
    """A limit's value now: money coloured by sign, a quantity with its unit."""
    if unit == "usd":
        return money(value)
    return Text(words.quantity(value, unit))


def _percent(value: object, limit: object) -> float | None:
    amount, bound = decimal_of(value), decimal_of(limit)
    if amount is None or bound is None or bound == 0:
        return None
    return float(amount / bound * 100)


def lockouts_table(
    lockouts: Sequence[Mapping[str, Any]], now: datetime, *, with_account: bool = False
) -> RenderableType:
    if not lockouts:
        return empty_section("Lockouts", "none")
    columns = ["Account"] if with_account else []
    columns += ["Locked", "Kind", "By rule", "Reason", "Ends", "Left"]
    table = section_table("Lockouts", *columns, right=("Left",))
    for lock in lockouts:
        end = parse_time(lock.get("ends_at"))
        if end is not None:
            left = format_duration(seconds_until(lock.get("ends_at"), now))
            ends = words.at_words(end, now)
        elif lock.get("while"):
            left, ends = "while it holds", "when the condition clears"
        else:
            left = format_duration(seconds_until(None, now, lock.get("remaining_s")))
            ends = NONE
        row: list[RenderableType] = [plain(lock.get("account"))] if with_account else []
        row += [
            what_locked(lock),
            plain(lock.get("kind")),
            plain(lock.get("rule")),
            plain(lock.get("reason")),
            ends,
            Text(left, style="bold magenta"),
        ]
        table.add_row(*row)
    return table


def _item_words(item: object, account: Mapping[str, Any]) -> str:
    """A ``for:`` timer's item as the trader knows it: ``MNQ position``, ``order 9001``."""
    text = str(item or "")
    kind, _, key = text.rpartition(":")
    if not kind:
        return text or NONE
    for entry in (*(account.get("positions") or []), *(account.get("orders") or [])):
        if str(entry.get("contract_id")) == key:
            return f"{_ticker(entry)} {kind}"
    parts = key.split(".")
    if len(parts) == 5 and parts[0] == "CON":
        return f"{parts[3]} {kind}"
    return f"{kind} {key}"


def pending_table(
    pending: Sequence[Mapping[str, Any]], now: datetime, account: Mapping[str, Any] | None = None
) -> RenderableType:
    if not pending:
        return empty_section("Rules about to act", "none")
    table = section_table("Rules about to act", "Rule", "On", "Since", "Acts at", "Left")
    for entry in pending:
        left = seconds_until(entry.get("fires_at"), now, entry.get("remaining_s"))
        table.add_row(
            plain(entry.get("rule")),
            _item_words(entry.get("item"), account or {}),
            clock(entry.get("since"), now),
            clock(entry.get("fires_at"), now),
            Text(format_duration(left), style="bold yellow"),
        )
    return table


def firings_table(firings: Sequence[Mapping[str, Any]], now: datetime) -> RenderableType:
    if not firings:
        return empty_section("Last firings", "none")
    table = section_table("Last firings", "At", "Rule", "Severity", "What happened")
    for firing in firings:
        severity = str(firing.get("severity", ""))
        table.add_row(
            clock(firing.get("at"), now),
            plain(firing.get("rule")),
            Text(severity, style=severity_style(severity)),
            Text(str(firing.get("text") or firing.get("message") or "")),
        )
    return table


def intents_table(intents: Sequence[Mapping[str, Any]]) -> RenderableType | None:
    if not intents:
        return None
    observed = any(intent.get("state") == "observed" for intent in intents)
    title = "Open intents (observed: not sent)" if observed else "Enforcement in progress"
    table = section_table(title, "Intent", "Kind", "State")
    for intent in intents:
        table.add_row(
            plain(intent.get("key")),
            plain(intent.get("kind")),
            Text(plain(intent.get("state")), style="yellow"),
        )
    return table


__all__ = [
    "derived_table",
    "firings_table",
    "intents_table",
    "lockouts_table",
    "orders_table",
    "pending_table",
    "pnl_table",
    "positions_table",
    "what_locked",
]
