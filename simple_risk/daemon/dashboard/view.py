"""What one account's dashboard page shows, built on the engine thread from the status view.

The page starts from :func:`simple_risk.daemon.control.views.account_status` — the very dict the
status socket sends — and only reshapes it for a trader: ProjectX roots become tickers, the
daily loss limit becomes a gauge (how much may still be lost today), a ``for:`` timer names the
ticker it waits on, and the session calendar says whether the market is open and when it opens
next. Nothing is shown that the status socket would not tell a trader (the fills behind the P&L
line are in its ``history``, the calendar is the ruleset's), so the page can never leak a
credential or the admin hash.

The day's P&L line is drawn from the engine's own fill ledger (the fills of the trading day,
each with its net P&L), so it covers the whole day — also after a restart, since the ledger is
restored from the journal — and always ends at the realized P&L the daily-loss rule reads.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from simple_risk import words
from simple_risk.daemon.control import views
from simple_risk.engine.engine import Engine

if TYPE_CHECKING:
    from simple_risk.daemon.control.target import ControlTarget

#: account-level facts a daily loss limit compares (the shipped ruleset uses realized P&L)
LOSS_FACTS = {"day.realized_pnl": "Realized P&L today", "day.net_pnl": "Net P&L today"}
#: firings shown, newest first
FIRINGS_SHOWN = 10
#: the daemon's latest alerts shown (newest first), as ``engine status`` shows them
ALERTS_SHOWN = 5


def account_page(daemon: ControlTarget, account: int, now: datetime) -> dict[str, Any]:
    """Everything one account's page shows (engine thread only: it reads the engine)."""
    engine = daemon.engines[account]
    status = views.account_status(daemon, account, now)
    tickers = _Tickers(engine, status)
    day = engine.calendar.trading_day(now)
    loss = _loss_gauge(status)
    # the alerts still current: yesterday's hub reconnect is not what is wrong now
    alerts, earlier = daemon.alerter.current(
        ALERTS_SHOWN, now, engine.calendar.trading_day_start(day), account
    )
    return {
        "now": now,
        # the firings below are kept in memory: none before this moment (a restart)
        "daemon_started_at": daemon.started_at,
        "account": {
            "id": account,
            "name": status["name"],
            "can_trade": status["can_trade"],
            "balance": status["balance"],
        },
        "mode": _mode(status),
        "trading": _trading(status, tickers),
        "ruleset": status["ruleset"],
        "trading_day": day,
        "calendar_zone": engine.calendar.spec.timezone,
        "connection": status["connection"],
        "pnl": status["pnl"],
        "loss": loss,
        "line": [{"at": at, "value": value} for at, value in _day_line(engine, account)],
        "contracts": status["contracts"],
        "limits": [
            {
                "label": words.rule_title(str(entry["rule"]), entry.get("label")),
                "unit": entry.get("unit"),
                "value": entry["value"],
                "limit": entry["limit"],
                "used_pct": entry["used_pct"],
            }
            for entry in status["limits"]
            if entry["limit"] != 0  # "… > 0": a condition, not a bound to come close to
        ],
        "positions": [
            {
                "ticker": tickers.of(p["symbol"]),
                "side": p["side"],
                "size": p["size"],
                "avg_price": p["avg_price"],
                "unrealized_pnl": p["unrealized_pnl"],
                "priced_from": p["priced_from"],
                "protected": p["protected"],
                "stop_price": p["stop_price"],
                "opened_at": p["opened_at"],
                "unprotected_since": p["unprotected_since"],
            }
            for p in status["positions"]
        ],
        "orders": [
            {
                "id": o["id"],
                "ticker": tickers.of(o["symbol"]),
                "side": _word(o["side"]),
                "type": _word(o["type"]),
                "size": o["size"],
                "remaining": o["remaining"],
                "limit_price": o["limit_price"],
                "stop_price": o["stop_price"],
                "own": o["own"],
            }
            for o in status["orders"]
        ],
        "lockouts": [
            {
                "rule": lock["rule"],
                "scope": lock["scope"],
                "ticker": tickers.of(lock["symbol"]) if lock["symbol"] else None,
                "kind": lock["kind"],
                "reason": lock["reason"],
                "ends_at": lock["ends_at"],
                "while": lock["while"] is not None,
            }
            for lock in status["lockouts"]
        ],
        "pending": [
            {
                "rule": timer["rule"],
                "on": tickers.of_item(timer["item"]),
                "since": timer["since"],
                "fires_at": timer["fires_at"],
            }
            for timer in status["pending"]
        ],
        "sessions": status["sessions"],
        "derived": [
            {
                "name": d["name"],
                "description": d["description"],
                "ticker": d["ticker"],
                "value": d["value"],
                "error": d["error"],
            }
            for d in status["derived"]
        ],
        # the account's alerts and the daemon's own (enforcement failing, reconciles failing,
        # a lease lost …): the firings alone would say "position closed" while the gateway
        # keeps refusing the close. Another account's are its page's, and never push this
        # account's own off the page.
        "alerts": list(reversed(alerts)),
        "alerts_earlier": earlier,
        "firings": [
            {"at": f["at"], "rule": f["rule"], "severity": f["severity"], "text": f["text"]}
            for f in reversed(status["firings"][-FIRINGS_SHOWN:])
        ],
    }


def _trading(status: dict[str, Any], tickers: _Tickers) -> dict[str, Any]:
    """Whether the trader may trade now, as ``engine status`` says it first: the gateway's
    refusal, else the account-wide lockout that ends last (a 5-minute cooldown must not hide
    the lock until the day ends; a ``while:`` one has no end), else the tickers locked."""
    if status["can_trade"] is False:
        return {"state": "refused"}
    whole = [lock for lock in status["lockouts"] if lock["scope"] == "account"]
    if whole:
        state = "cooldown" if _last(whole)["kind"] == "cooldown" else "locked"
        return {"state": state} | _until(whole)
    by_ticker: dict[str, list[dict[str, Any]]] = {}
    for lock in status["lockouts"]:
        if lock["symbol"]:
            by_ticker.setdefault(tickers.of(lock["symbol"]), []).append(lock)
    if by_ticker:
        # each ticker's lockout that ends last, as for the account: until when, and why
        return {
            "state": "except",
            "tickers": sorted(by_ticker),
            "locks": [{"ticker": t} | _until(by_ticker[t]) for t in sorted(by_ticker)],
        }
    return {"state": "open"}


def index_entry(account: int, picture: Mapping[str, Any] | None) -> str:
    """One account's line on the dashboard's root (HTML): its name and, as its page's header
    says first, whether it may trade — a trader with several accounts must see which one is
    locked without opening each. ``picture`` is the account's page (None: not built yet)."""
    name = f"Account {account}"
    if picture is None:
        words_, css = "starting — no picture from the daemon yet", "waiting"
    else:
        given = picture["account"].get("name")
        name = f"{given} ({account})" if given else name
        trading = picture["trading"]
        state = trading["state"]
        words_, css = {
            "refused": ("TRADING BLOCKED BY TOPSTEPX", "blocked"),
            "locked": ("LOCKED", "blocked"),
            "cooldown": ("COOLING DOWN", "blocked"),
            "except": (f"CAN TRADE, EXCEPT {', '.join(trading.get('tickers', []))}", "partial"),
        }.get(state, ("CAN TRADE", "open"))
        if (picture.get("connection") or {}).get("lease") == "lost":
            words_, css = f"NOT ENFORCED · {words_}", "blocked"
        elif picture.get("mode") == "observe":
            words_ = f"OBSERVE · {words_}"
    return (
        f'<li><a href="/account/{account}">{html.escape(name)}</a> '
        f'<span class="badge {css}">{html.escape(words_)}</span></li>'
    )


def _last(locks: list[dict[str, Any]]) -> dict[str, Any]:
    """The lockout that ends last (a ``while:`` one has no end: the first, when none has)."""
    timed = [lock for lock in locks if lock["ends_at"] is not None]
    return max(timed, key=lambda lock: lock["ends_at"]) if timed else locks[0]


def _until(locks: list[dict[str, Any]]) -> dict[str, Any]:
    """Until when ``locks`` hold together, and why: the one that ends last."""
    last = _last(locks)
    return {
        "until": last["ends_at"],
        "while": any(lock["ends_at"] is None for lock in locks) and last["ends_at"] is not None,
        "rule": last["rule"],
        "reason": last["reason"],
    }


def _mode(status: dict[str, Any]) -> str:
    """``enforce`` unless the status says the daemon only observes (``mode: observe`` or
    ``observe: true``)."""
    mode = status.get("mode")
    if isinstance(mode, str) and mode:
        return mode.lower()
    return "observe" if status.get("observe") is True else "enforce"


def _day_line(engine: Engine, account: int) -> list[tuple[datetime, Decimal]]:
    """The ledger's trading day as a realized P&L line (empty before the account is known)."""
    state = engine.account(account)
    if state is None:
        return []
    ledger = state.ledger
    fills = [
        (record.window_at, record.net)
        for record in ledger.fills.values()
        if record.day == ledger.day and not record.fill.voided
    ]
    return realized_line(fills, engine.calendar.trading_day_start(ledger.day))


def realized_line(
    fills: Iterable[tuple[datetime, Decimal]], start: datetime
) -> list[tuple[datetime, Decimal]]:
    """The realized P&L after each fill (in time order), from 0 at the trading day's start."""
    total = Decimal(0)
    points = [(start, total)]
    for at, net in sorted(fills, key=lambda fill: fill[0]):
        total += net
        points.append((max(at, start), total))
    return points


def _word(value: object) -> str:
    """An enum member as a word (``OrderType.TRAILING_STOP`` → ``trailing stop``)."""
    if isinstance(value, Enum):
        return value.name.lower().replace("_", " ")
    return str(value)


def _loss_gauge(status: dict[str, Any]) -> dict[str, Any] | None:
    """The daily loss limit as a floor under the P&L the rule reads, and what is left of it."""
    for entry in status["limits"]:
        fact, limit, value = entry["fact"], entry["limit"], entry["value"]
        if (
            fact not in LOSS_FACTS
            or isinstance(limit, bool)
            or not isinstance(limit, int | Decimal)
        ):
            continue
        if limit >= 0:
            continue
        floor = Decimal(limit)
        current = Decimal(value) if isinstance(value, int | Decimal) else Decimal(0)
        return {
            "rule": entry["rule"],
            "label": LOSS_FACTS[fact],
            "value": current,
            "floor": floor,
            "limit": -floor,
            "left": max(current - floor, Decimal(0)),
        }
    return None


class _Tickers:
    """ProjectX roots (``EP``) and contract ids as the tickers traders know (``ES``)."""

    def __init__(self, engine: Engine, status: dict[str, Any]) -> None:
        self._symbols = engine.ruleset.symbols
        self._contracts = {
            item["contract_id"]: item["symbol"]
            for item in (*status["positions"], *status["orders"])
        }

    def of(self, symbol: object) -> str:
        return self._symbols.root(str(symbol)) if symbol else ""

    def of_item(self, item: object) -> str | None:
        """A ``for:`` timer's item (a contract id, an order id) as a ticker, if it is one."""
        if item is None or item == "":
            return None
        kind, _, key = str(item).rpartition(":")  # "position:CON.F.US.EP.H27", "order:9001"
        symbol = self._contracts.get(key)
        if symbol is not None:
            return self.of(symbol)
        parts = key.split(".")
        if len(parts) == 5 and parts[0] == "CON":
            return self.of(parts[3])
        return f"{kind} {key}" if kind else key


__all__ = ["LOSS_FACTS", "account_page", "realized_line"]
