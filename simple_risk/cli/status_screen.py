"""The whole ``engine status`` screen: the daemon's line with its alerts and the observe
banner, then one panel per account with its trading state, connection and market session
over the tables of :mod:`~simple_risk.cli.account_tables`.

This module decides what a trader reads first: whether they may trade now (the same words in
a panel's title and its first line) and whether the daemon can be trusted (live, degraded,
observe only, not yet confirmed); the tables below only list what is there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from simple_risk import words
from simple_risk.cli.account_tables import (
    derived_table,
    firings_table,
    intents_table,
    lockouts_table,
    orders_table,
    pending_table,
    pnl_table,
    positions_table,
    what_locked,
)
from simple_risk.cli.formatting import (
    clock,
    format_duration,
    parse_time,
    plain,
    seconds_since,
    seconds_until,
    severity_style,
)


def daemon_header(result: Mapping[str, Any], now: datetime) -> RenderableType:
    """``daemon pid 4242 · up 2h 05m · queue 0 · … · times in CST`` and its recent alerts."""
    daemon = result.get("daemon") or {}
    line = Text("daemon ", style="bold")
    parts = [
        f"pid {plain(daemon.get('pid'))}",
        f"up {format_duration(seconds_since(daemon.get('started_at'), now))}",
        f"queue {plain(daemon.get('queue_depth'))}",
        f"events {plain(daemon.get('events_applied'))}",
    ]
    line.append(" · ".join(parts))
    open_intents = daemon.get("intents_open") or 0
    line.append(" · ")
    line.append(f"open intents {open_intents}", style="yellow" if open_intents else "")
    store = daemon.get("store") or {}
    if store.get("state", "ok") != "ok":
        line.append(" · ")
        line.append(
            f"store {str(store['state']).upper()} for {format_duration(store.get('for_seconds'))}"
            f" ({plain(store.get('held'))} writes held) — enforcing from memory",
            style="bold red",
        )
    line.append(f" · times in {words.zone_name(now)}", style="dim")
    alerts = daemon.get("alerts") or []
    earlier = daemon.get("alerts_earlier") or 0
    banner = observe_banner(result.get("accounts") or [])
    if not alerts and not earlier and banner is None:
        return line
    rows: list[RenderableType] = [line]
    if banner is not None:
        rows.append(banner)
    for alert in alerts:
        level = str(alert.get("level", "critical"))
        row = Text(f"  ALERT {clock(alert.get('at'), now)} ", style=severity_style(level))
        message, whose = str(alert.get("message", "")), alert.get("account")
        if whose is not None and str(whose) not in message:  # a rule's words name no account
            message = f"account {whose}: {message}"
        row.append(message, style=severity_style(level))
        rows.append(row)
    if earlier:
        # older than the trading day (and the last hour): not what is wrong now, not gone
        rows.append(
            Text(
                f"  {earlier} earlier alert{'' if earlier == 1 else 's'}: "
                "simple-risk engine history --kind alert",
                style="dim",
            )
        )
    return Group(*rows)


def trading_state(account: Mapping[str, Any], now: datetime) -> tuple[str, str]:
    """Whether the trader may trade now, in one phrase, and its style — the same words in the
    panel's title and its first line, so they can never contradict each other.

    The gateway's ``can_trade`` comes first (nothing else matters when it says no), then the
    account-wide lockout or cooldown that ends last (a 5-minute cooldown does not hide the
    lock until the day ends; a ``while:`` one has no end to compare), then lockouts of single
    tickers."""
    if account.get("can_trade") is False:
        return "CANNOT TRADE (the gateway refuses orders)", "bold red"
    locks = account.get("lockouts") or []
    whole = [lock for lock in locks if lock.get("scope") == "account"]
    if whole:
        timed = [(end, lock) for lock in whole if (end := parse_time(lock.get("ends_at")))]
        held = any(parse_time(lock.get("ends_at")) is None for lock in whole)
        if timed:
            end, lock = max(timed, key=lambda pair: pair[0])
            until = f" until {words.at_words(end, now)}"
            if held:
                until += ", and while the condition holds"
        else:
            lock, until = whole[0], " while the condition holds"
        kind = "COOLING DOWN" if lock.get("kind") == "cooldown" else "LOCKED"
        return f"{kind}{until}", "bold red"
    tickers = sorted({what_locked(lock) for lock in locks})
    if tickers:
        return f"can trade, except {', '.join(tickers)}", "yellow"
    return "can trade", "green"


def observing(account: Mapping[str, Any]) -> bool:
    """The account is only observed (``mode: observe``): nothing is sent to the gateway."""
    return str(account.get("mode") or "enforce").lower() == "observe"


def observe_banner(accounts: Sequence[Mapping[str, Any]]) -> Text | None:
    """``OBSERVE MODE — 20100001: breaches are shown, nothing is sent …`` (None: all enforced)."""
    observed = [str(account.get("id")) for account in accounts if observing(account)]
    if not observed:
        return None
    line = Text(" OBSERVE MODE ", style="bold black on yellow")
    line.append(
        f" account(s) {', '.join(observed)}: breaches are shown and journaled, NOTHING is "
        "sent to the gateway (simple-risk admin enforce ACCOUNT --on to enforce)",
        style="bold yellow",
    )
    return line


#: shown over an account the daemon has not reconciled since it started (or lost): what the
#: tables show is the state the daemon restored, which the gateway has not confirmed
UNCONFIRMED = Text(
    "Not yet confirmed with the gateway: positions, orders and P&L below are as the daemon "
    "last saved them, and nothing is sent for this account until the gateway confirms them.",
    style="yellow",
)


def connection_line(account: Mapping[str, Any], now: datetime) -> Text:
    """``20100001 50K-EVAL-1 · can trade · LIVE (user hub connected, …) · balance $50,210.00``."""
    connection = account.get("connection") or {}
    line = Text(f"{account.get('id')} ", style="bold")
    if account.get("name"):
        line.append(f"{account['name']} ", style="bold")
    line.append("· ")
    state, style = trading_state(account, now)
    line.append(state, style=style)
    line.append(" · ")
    if connection.get("live"):
        line.append("LIVE", style="bold green")
    else:
        line.append("NOT LIVE", style="bold red")
    hubs = [
        f"{name} hub {connection.get(key) or 'unknown'}"
        for name, key in (("user", "user_hub"), ("market", "market_hub"))
    ]
    line.append(f" ({', '.join(hubs)})")
    degraded = connection.get("degraded") or []
    if degraded:
        # a part serving the account keeps failing (docs/architecture.md §6)
        line.append(" · ")
        line.append(f"DEGRADED ({', '.join(map(str, degraded))} failing)", style="bold red")
    line.append(" · ")
    if connection.get("lease") == "lost":
        # docs/daemon.md, Leases: the daemon enforces nothing for an account it lost
        line.append(
            "NOT ENFORCED (lease lost: another daemon holds the account, or the store cannot "
            "renew it)",
            style="bold red",
        )
    elif observing(account):
        line.append("OBSERVE ONLY", style="bold black on yellow")
    else:
        line.append("ENFORCING", style="bold green")
    if connection.get("last_reconcile_at"):
        line.append(f" · reconciled {clock(connection['last_reconcile_at'], now)}")
    if account.get("balance") is not None:
        line.append(f" · balance {words.usd(account['balance'])}")
    return line


def session_line(sessions: Sequence[Mapping[str, Any]], now: datetime) -> Text | None:
    """``Market: rth open until 15:00 CST`` or ``Market: rth closed, opens Mon 08:30 CST
    (in 2d 22h)`` — one phrase per session of the account's calendar."""
    if not sessions:
        return None
    line = Text("Market: ", style="bold")
    for index, session in enumerate(sessions):
        if index:
            line.append(" · ")
        name = str(session.get("name", ""))
        closes, opens = parse_time(session.get("closes_at")), parse_time(session.get("next_open"))
        if session.get("open"):
            line.append(f"{name} open", style="green")
            if closes is not None:
                line.append(f" until {words.at_words(closes, now)}")
        else:
            line.append(f"{name} closed", style="yellow")
            if opens is not None:
                left = format_duration(seconds_until(session.get("next_open"), now))
                line.append(f", opens {words.at_words(opens, now)} (in {left})")
    return line


def account_panel(account: Mapping[str, Any], now: datetime) -> Panel:
    """One account: trading state and connection, the market's session, positions, orders,
    P&L and limits, lockouts, pending, firings."""
    parts: list[RenderableType] = [connection_line(account, now)]
    market = session_line(account.get("sessions") or [], now)
    if market is not None:
        parts.append(market)
    if not (account.get("connection") or {}).get("live"):
        parts.append(UNCONFIRMED)
    parts += [
        positions_table(account.get("positions") or [], now),
        orders_table(account.get("orders") or []),
        pnl_table(account),
        *derived_table(account.get("derived") or []),
        lockouts_table(account.get("lockouts") or [], now),
        pending_table(account.get("pending") or [], now, account),
        firings_table(account.get("firings") or [], now),
    ]
    intents = intents_table(account.get("intents_open") or [])
    if intents is not None:
        parts.append(intents)
    state, style = trading_state(account, now)
    connection = account.get("connection") or {}
    live = bool(connection.get("live")) and not connection.get("degraded")
    if observing(account):
        border = "red" if style == "bold red" or not live else "yellow"
    else:
        border = "green" if style == "green" and live else "yellow" if style == "yellow" else "red"
    title = f"account {account.get('id')} — {state}"
    if observing(account):
        title += " — OBSERVE (not enforced)"
    return Panel(Group(*parts), title=title, title_align="left", border_style=border)


def status_view(result: Mapping[str, Any], now: datetime) -> Group:
    """The whole ``engine status`` screen: the daemon line, then one panel per account."""
    parts: list[RenderableType] = [daemon_header(result, now)]
    accounts = result.get("accounts") or []
    if not accounts:
        parts.append(Text("no accounts", style="dim"))
    parts += [account_panel(account, now) for account in accounts]
    return Group(*parts)


__all__ = [
    "UNCONFIRMED",
    "account_panel",
    "connection_line",
    "daemon_header",
    "observe_banner",
    "observing",
    "session_line",
    "status_view",
    "trading_state",
]
