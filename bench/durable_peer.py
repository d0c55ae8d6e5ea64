"""The performance peer: the twelve rules' matching through durable-rules (docs/architecture.md §3).

durable-rules is not the core (one firing per event however many rules match, unmatched events
raise, type mismatches silently do not match, no release since 2020), but it is the obvious
Python rules engine, so ``bench/engine.py`` measures it on the same stream as ours and prints
the ratio.

What is measured is only durable-rules' matching: the facts each rule needs (weighted lots,
if-filled sizes, day P&L, fill windows, unrealized P&L, protection) are computed beforehand
by :func:`messages` — a plain incremental fact tracker — and flattened into one message per
event (one per affected position for a quote), outside the timed loop. The engine is timed
with its fact store, rules and traces; the peer is timed on matching alone, so the ratio the
benchmark prints is conservative.

Needs the optional ``bench`` extra (``durable-rules==2.0.28``); it does not import on 3.13.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as wall
from decimal import Decimal
from zoneinfo import ZoneInfo

from simple_risk.engine.dsl.catalogue import listings
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractInfo,
    ContractLoaded,
    Event,
    OrderSide,
    OrderStatus,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
    TradeFill,
)

CHICAGO = ZoneInfo("America/Chicago")
WORKING = (OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.SUSPENDED)
BLOCKED = ("RTY", "BTC")
#: ticker → product (the shipped ruleset blocks products: RTY blocks M2K, BTC blocks MBT)
PRODUCTS = {item.ticker: item.product for item in listings()}
SYMBOL_LIMITS = {"MNQ": 2, "ES": 2, "NQ": 2}
UNKNOWN_SYMBOL_LIMIT = 5
RULESET = "topstep_peer"


@dataclass
class _Account:
    positions: dict[str, tuple[bool, int, Decimal]] = field(default_factory=dict)
    orders: dict[int, OrderUpdate] = field(default_factory=dict)
    can_trade: bool = True
    day: object = None
    day_pnl: Decimal = Decimal(0)
    day_fills: int = 0
    fill_times: deque[datetime] = field(default_factory=deque)
    order_pnl: dict[int, Decimal] = field(default_factory=dict)
    unprotected_since: dict[str, datetime] = field(default_factory=dict)


def _session_open(at: datetime) -> bool:
    local = at.astimezone(CHICAGO)
    return local.weekday() < 5 and wall(8, 30) <= local.time() < wall(15, 0)


def _trading_day(at: datetime) -> object:
    local = at.astimezone(CHICAGO)
    return local.date() + timedelta(days=1) if local.time() >= wall(17, 0) else local.date()


def messages(events: Iterable[Event]) -> Iterator[list[dict[str, object]]]:
    """One list of flattened fact messages per event (empty when no rule could care).

    Numbers are floats: durable-rules compares JSON numbers, and a Decimal does not match
    (one of its quirks); the exactness of these values is not what is being measured.
    """
    contracts: dict[str, ContractInfo] = {}
    accounts: dict[int, _Account] = {}
    quotes: dict[str, Decimal] = {}

    def acct(account_id: int) -> _Account:
        return accounts.setdefault(account_id, _Account())

    def lots(a: _Account) -> float:
        return sum(size * contracts[c].units for c, (_l, size, _p) in a.positions.items()) / 10

    def root(cid: str) -> str:
        return contracts[cid].root if cid in contracts else cid.split(".")[3]

    def protected(a: _Account, cid: str) -> bool:
        long, size, avg = a.positions[cid]
        mark = quotes.get(cid, avg)
        cover = 0
        for o in a.orders.values():
            if o.contract_id == cid and o.status in WORKING and o.stop_price is not None:
                loss_side = o.stop_price < mark if long else o.stop_price > mark
                if loss_side and (o.side is OrderSide.SELL) == long:
                    cover += o.size
        return cover >= size

    def position_facts(sid: str, a: _Account, cid: str, at: datetime) -> dict[str, object]:
        long, size, avg = a.positions[cid]
        info = contracts[cid]
        mark = quotes.get(cid)
        upnl = 0.0
        ticks = 0.0
        if mark is not None:
            move = (mark - avg) if long else (avg - mark)
            ticks = float(move / info.tick_size)
            upnl = float(move / info.tick_size * info.tick_value * size)
        if protected(a, cid):
            a.unprotected_since.pop(cid, None)
        else:
            a.unprotected_since.setdefault(cid, at)
        since = a.unprotected_since.get(cid)
        return {
            "sid": sid,
            "upnl": upnl,
            "ticks": ticks,
            "unprotected_for": (at - since).total_seconds() if since else 0.0,
            "symbol": root(cid),
        }

    for event in events:
        out: list[dict[str, object]] = []
        if isinstance(event, ContractLoaded):
            contracts[event.contract.contract_id] = event.contract
        elif isinstance(event, AccountUpdate):
            a = acct(event.account_id)
            a.can_trade = event.can_trade
            out.append({"sid": str(event.account_id), "t": "account", "can_trade": a.can_trade})
        elif isinstance(event, OrderUpdate):
            a = acct(event.account_id)
            if event.status in WORKING:
                a.orders[event.order_id] = event
            else:
                a.orders.pop(event.order_id, None)
            r = root(event.contract_id)
            same_side = sum(o.size for o in a.orders.values() if o.side is event.side)
            out.append(
                {
                    "sid": str(event.account_id),
                    "t": "order",
                    "working": event.status in WORKING,
                    "if_filled_lots": lots(a) + same_side * contracts[event.contract_id].units / 10,
                    "if_filled_symbol": same_side,
                    "symbol_limit": SYMBOL_LIMITS.get(r, UNKNOWN_SYMBOL_LIMIT),
                    "blocked": r in BLOCKED or PRODUCTS.get(r) in BLOCKED,
                    "outside": not _session_open(event.at),
                }
            )
        elif isinstance(event, PositionUpdate):
            a = acct(event.account_id)
            sid = str(event.account_id)
            if event.size == 0:
                a.positions.pop(event.contract_id, None)
                a.unprotected_since.pop(event.contract_id, None)
            else:
                long = event.type is PositionType.LONG
                a.positions[event.contract_id] = (long, event.size, event.average_price)
                facts = position_facts(sid, a, event.contract_id, event.at)
                r = root(event.contract_id)
                facts.update(
                    {
                        "t": "position",
                        "lots": lots(a),
                        "symbol_size": event.size,
                        "symbol_limit": SYMBOL_LIMITS.get(r, UNKNOWN_SYMBOL_LIMIT),
                        "blocked": r in BLOCKED or PRODUCTS.get(r) in BLOCKED,
                        "outside": not _session_open(event.at),
                    }
                )
                out.append(facts)
        elif isinstance(event, TradeFill):
            a = acct(event.account_id)
            day = _trading_day(event.at)
            if day != a.day:
                a.day, a.day_pnl, a.day_fills = day, Decimal(0), 0
            net = (event.pnl or Decimal(0)) - event.fees - event.commissions
            a.day_pnl += net
            a.day_fills += 1
            a.fill_times.append(event.at)
            while a.fill_times and event.at - a.fill_times[0] > timedelta(hours=1):
                a.fill_times.popleft()
            minute = sum(1 for t in a.fill_times if event.at - t <= timedelta(seconds=60))
            order_pnl = 0.0
            if event.pnl is not None:
                a.order_pnl[event.order_id] = a.order_pnl.get(event.order_id, Decimal(0)) + net
                order_pnl = float(a.order_pnl[event.order_id])
            out.append(
                {
                    "sid": str(event.account_id),
                    "t": "trade",
                    "day_pnl": float(a.day_pnl),
                    "n_minute": minute,
                    "n_hour": len(a.fill_times),
                    "n_day": a.day_fills,
                    "order_pnl": order_pnl,
                }
            )
        elif isinstance(event, Quote):
            price = event.last if event.last is not None else event.bid
            if price is not None:
                quotes[event.contract_id] = price
            for account_id, a in accounts.items():
                if event.contract_id in a.positions:
                    facts = position_facts(str(account_id), a, event.contract_id, event.at)
                    facts["t"] = "quote"
                    out.append(facts)
        elif isinstance(event, ClockTick):
            for account_id, a in accounts.items():
                exposed = bool(a.positions) or bool(a.orders)
                worst = 0.0
                for cid in a.positions:
                    since = a.unprotected_since.get(cid)
                    if since is not None:
                        worst = max(worst, (event.at - since).total_seconds())
                if exposed or worst:
                    out.append(
                        {
                            "sid": str(account_id),
                            "t": "clock",
                            "unprotected_for": worst,
                            "outside": exposed and not _session_open(event.at),
                        }
                    )
        yield out


def build_ruleset() -> dict[str, int]:
    """Declare the twelve rules as one durable-rules ruleset; returns the firing counters."""
    from durable.lang import m, ruleset, when_all

    counts: dict[str, int] = {}

    def fire(rule_id: str) -> None:
        counts[rule_id] = counts.get(rule_id, 0) + 1

    with ruleset(RULESET):

        @when_all((m.t == "position") & (m.lots > 5))
        def max_contracts(c: object) -> None:
            fire("RULE-001")

        @when_all((m.t == "order") & (m.working == True) & (m.if_filled_lots > 5))  # noqa: E712
        def max_contracts_order(c: object) -> None:
            fire("RULE-001")

        @when_all((m.t == "position") & (m.symbol_size > m.symbol_limit))
        def per_instrument(c: object) -> None:
            fire("RULE-002")

        @when_all((m.t == "order") & (m.working == True) & (m.if_filled_symbol > m.symbol_limit))  # noqa: E712
        def per_instrument_order(c: object) -> None:
            fire("RULE-002")

        @when_all((m.t == "trade") & (m.day_pnl <= -500))
        def daily_realized_loss(c: object) -> None:
            fire("RULE-003")

        @when_all(((m.t == "quote") | (m.t == "position")) & (m.upnl <= -300))
        def daily_unrealized_loss(c: object) -> None:
            fire("RULE-004")

        @when_all(((m.t == "quote") | (m.t == "position")) & (m.upnl >= 1000))
        def max_unrealized_profit(c: object) -> None:
            fire("RULE-005")

        @when_all((m.t == "trade") & ((m.n_minute > 3) | (m.n_hour > 10) | (m.n_day > 50)))
        def trade_frequency(c: object) -> None:
            fire("RULE-006")

        @when_all((m.t == "trade") & (m.order_pnl <= -100))
        def cooldown_after_loss(c: object) -> None:
            fire("RULE-007")

        @when_all(((m.t == "clock") | (m.t == "position")) & (m.unprotected_for >= 30))
        def no_stop_loss_grace(c: object) -> None:
            fire("RULE-008")

        @when_all(
            ((m.t == "clock") | (m.t == "order") | (m.t == "position")) & (m.outside == True)  # noqa: E712
        )
        def session_block_outside(c: object) -> None:
            fire("RULE-009")

        @when_all((m.t == "account") & (m.can_trade == False))  # noqa: E712
        def auth_loss_guard(c: object) -> None:
            fire("RULE-010")

        @when_all(((m.t == "order") | (m.t == "position")) & (m.blocked == True))  # noqa: E712
        def symbol_blocks(c: object) -> None:
            fire("RULE-011")

        @when_all(((m.t == "quote") | (m.t == "position")) & (m.ticks >= 10))
        def trade_management(c: object) -> None:
            fire("RULE-012")

    return counts


@dataclass
class PeerResult:
    events: int
    posts: int
    seconds: float
    firings: dict[str, int]
    #: time the plain fact tracker took to flatten the stream (not part of ``seconds``)
    facts_seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Matching only: the rate the ratio is computed on."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def with_facts_per_second(self) -> float:
        """Matching plus the plain fact tracker, for context."""
        total = self.seconds + self.facts_seconds
        return self.events / total if total else 0.0


def run(events: list[Event]) -> PeerResult:
    """Flatten the stream's facts (untimed), then time durable-rules matching every message."""
    from durable.engine import MessageNotHandledException
    from durable.lang import post

    flatten_started = time.perf_counter()
    batches = list(messages(events))
    facts_seconds = time.perf_counter() - flatten_started
    counts = build_ruleset()
    posts = 0
    started = time.perf_counter()
    for batch in batches:
        for message in batch:
            posts += 1
            with contextlib.suppress(MessageNotHandledException):
                post(RULESET, message)
    seconds = time.perf_counter() - started
    return PeerResult(len(events), posts, seconds, dict(counts), facts_seconds)
