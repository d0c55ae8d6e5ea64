"""A deterministic trading day of domain events, for the benchmark and the oracle tests.

`bench/engine.py` pushes about a million of these through the engine and through the
durable-rules peer; `tests/oracle/` draws short, rule-breaking streams from the same generator
(with a hypothesis-controlled ``random.Random``) and checks the YAML engine against a plain
Python model of the twelve rules. One generator serves both so that the stream the figures are
measured on is the stream whose semantics are tested.

The sequences follow what ProjectX sends live (reference §7.3): an entry is ``order pending →
fill (no P&L) → order filled → position → account``; a protective stop rests as an ``Open``
stop order; an exit cancels or fills the stop and ends with a ``size 0`` position event and the
new balance. Quotes (about 80 % of the events) are a tick-exact random walk per contract; a
quote that crosses a resting stop fills it. Everything is ``Decimal`` and seeded: the same
profile and seed give the same events, byte for byte.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractInfo,
    ContractLoaded,
    DomainEvent,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.ruletest.contracts import contract_info, reference_price

CHICAGO = ZoneInfo("America/Chicago")

#: Per-side exchange fees and commissions per contract (mini, micro), exact.
_FEES = {10: (Decimal("1.40"), Decimal("0.50")), 1: (Decimal("0.37"), Decimal("0.25"))}


def contract(root: str) -> ContractInfo:
    """The catalogue entry for a ProjectX root (``EP``) or a ticker (``ES``)."""
    return contract_info(root)


def base_price(info: ContractInfo) -> Decimal:
    return reference_price(info)


@dataclass(frozen=True)
class Profile:
    """Knobs of a generated day. The defaults are the benchmark's realistic day.

    The ``p_*`` knobs make traders misbehave so that risk rules have something to catch: an
    entry without a stop, an oversized entry, a trade in a blocked root, the gateway switching
    ``canTrade`` off, a loss-making streak. The benchmark keeps them small; the oracle tests
    raise them.
    """

    accounts: int = 10
    events: int = 1_000_000
    quote_share: float = 0.8
    #: engine time as the adapters stamp it (``datetime.now(UTC)``, adapters/topstepx/clock.py):
    #: 08:30 Chicago, the RTH open
    start: datetime = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    duration: timedelta = timedelta(hours=6, minutes=30)
    #: tradable roots (M2K is the RTY product, blocked with it, so the micro crude stands in)
    roots: tuple[str, ...] = ("EP", "MES", "ENQ", "MNQ", "MCLE", "MYM", "CLE", "MGC")
    blocked_roots: tuple[str, ...] = ("RTY", "MBT")
    first_account_id: int = 7001
    starting_balance: Decimal = Decimal("50000")
    clock_every: timedelta | None = timedelta(seconds=1)
    #: the daemon's light reconciliation of every account (docs/architecture.md §5: every 30–60 s)
    reconcile_every: timedelta | None = timedelta(seconds=45)
    max_lots: int = 3
    p_no_stop: float = 0.05
    p_oversize: float = 0.02
    p_blocked: float = 0.005
    p_auth_loss: float = 0.001
    p_resting_limit: float = 0.15
    p_scale_in: float = 0.1
    #: how far a stop sits from entry, in ticks (drawn uniformly)
    stop_ticks: tuple[int, int] = (8, 40)
    #: quote volatility: ticks per quote step (drawn from -v..v)
    volatility: int = 2


@dataclass
class _Slot:
    """One position an account holds in one contract, and its resting stop."""

    info: ContractInfo
    side: OrderSide
    size: int
    entry: Decimal
    stop_id: int | None = None
    stop_price: Decimal | None = None
    opened: datetime | None = None


@dataclass
class _Account:
    account_id: int
    balance: Decimal
    can_trade: bool = True
    slots: dict[str, _Slot] = field(default_factory=dict)
    resting: dict[int, OrderUpdate] = field(default_factory=dict)


class _Ids:
    """Order and trade ids above 2^31, as ProjectX's are (reference §4)."""

    def __init__(self) -> None:
        self.order = 2_200_000_000
        self.trade = 3_400_000_000
        self.position = 900_000

    def next_order(self) -> int:
        self.order += 1
        return self.order

    def next_trade(self) -> int:
        self.trade += 1
        return self.trade

    def next_position(self) -> int:
        self.position += 1
        return self.position


class TradingDay:
    """Generates one day: call :meth:`events` once; iterate lazily (a million events fit)."""

    def __init__(self, profile: Profile, rng: random.Random) -> None:
        self.profile = profile
        self.rng = rng
        self.contracts = [contract(r) for r in profile.roots]
        self.blocked = [contract(r) for r in profile.blocked_roots]
        self.prices: dict[str, Decimal] = {
            c.contract_id: base_price(c) for c in self.contracts + self.blocked
        }
        self.accounts = [
            _Account(profile.first_account_id + i, profile.starting_balance)
            for i in range(profile.accounts)
        ]
        self.ids = _Ids()
        self.now = profile.start
        self.mean_gap = profile.duration / max(profile.events, 1)

    # -- time ---------------------------------------------------------------------------
    def _advance(self) -> datetime:
        """Engine time moves forward by a random gap around the day's mean; never backwards."""
        gap_us = int(self.mean_gap / timedelta(microseconds=1) * 2 * self.rng.random())
        self.now += timedelta(microseconds=max(gap_us, 1))
        return self.now

    def _burst(self) -> datetime:
        """Events of one gateway burst arrive a few hundred microseconds apart."""
        self.now += timedelta(microseconds=self.rng.randint(50, 400))
        return self.now

    # -- event builders -----------------------------------------------------------------
    def _order(
        self,
        acct: _Account,
        order_id: int,
        info: ContractInfo,
        status: OrderStatus,
        otype: OrderType,
        side: OrderSide,
        size: int,
        *,
        fill_volume: int = 0,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        filled_price: Decimal | None = None,
    ) -> OrderUpdate:
        return OrderUpdate(
            at=self._burst(),
            account_id=acct.account_id,
            order_id=order_id,
            contract_id=info.contract_id,
            status=status,
            type=otype,
            side=side,
            size=size,
            fill_volume=fill_volume,
            limit_price=limit_price,
            stop_price=stop_price,
            filled_price=filled_price,
            symbol_id=info.symbol_id,
            created_at=self.now.astimezone(UTC),
            updated_at=self.now.astimezone(UTC),
        )

    def _fill(
        self,
        acct: _Account,
        order_id: int,
        info: ContractInfo,
        side: OrderSide,
        size: int,
        price: Decimal,
        pnl: Decimal | None,
    ) -> TradeFill:
        fees, commissions = _FEES[info.units]
        fill = TradeFill(
            at=self._burst(),
            account_id=acct.account_id,
            trade_id=self.ids.next_trade(),
            order_id=order_id,
            contract_id=info.contract_id,
            side=side,
            size=size,
            price=price,
            pnl=pnl,
            fees=fees * size,
            commissions=commissions * size,
            created_at=self.now.astimezone(UTC),
        )
        acct.balance += (pnl or Decimal(0)) - fill.fees - fill.commissions
        return fill

    def _position(self, acct: _Account, slot: _Slot, size: int) -> PositionUpdate:
        return PositionUpdate(
            at=self._burst(),
            account_id=acct.account_id,
            contract_id=slot.info.contract_id,
            type=PositionType.LONG if slot.side is OrderSide.BUY else PositionType.SHORT,
            size=size,
            average_price=slot.entry,
            position_id=self.ids.next_position(),
            created_at=(slot.opened or self.now).astimezone(UTC),
        )

    def _account(self, acct: _Account) -> AccountUpdate:
        return AccountUpdate(
            at=self._burst(),
            account_id=acct.account_id,
            name=f"50KTC-V2-{acct.account_id}",
            balance=acct.balance,
            can_trade=acct.can_trade,
        )

    # -- trader behaviour -----------------------------------------------------------------
    def _pnl(self, slot: _Slot, exit_price: Decimal, size: int) -> Decimal:
        move = exit_price - slot.entry if slot.side is OrderSide.BUY else slot.entry - exit_price
        return move / slot.info.tick_size * slot.info.tick_value * size

    def _enter(self, acct: _Account) -> list[DomainEvent]:
        p = self.profile
        rng = self.rng
        if rng.random() < p.p_blocked and self.blocked:
            info = rng.choice(self.blocked)
        else:
            info = rng.choice(self.contracts)
        slot = acct.slots.get(info.contract_id)
        side = slot.side if slot else rng.choice((OrderSide.BUY, OrderSide.SELL))
        size = rng.randint(1, p.max_lots)
        if rng.random() < p.p_oversize:
            size = rng.randint(p.max_lots + 1, p.max_lots * 4)
        price = self.prices[info.contract_id]
        out: list[DomainEvent] = []
        order_id = self.ids.next_order()
        out.append(
            self._order(acct, order_id, info, OrderStatus.PENDING, OrderType.MARKET, side, size)
        )
        out.append(self._fill(acct, order_id, info, side, size, price, None))
        out.append(
            self._order(
                acct,
                order_id,
                info,
                OrderStatus.FILLED,
                OrderType.MARKET,
                side,
                size,
                fill_volume=size,
                filled_price=price,
            )
        )
        if slot is None:
            slot = _Slot(info, side, size, price, opened=self.now)
            acct.slots[info.contract_id] = slot
        else:
            total = slot.size + size
            avg = (slot.entry * slot.size + price * size) / total
            slot.entry = avg.quantize(info.tick_size / 100)
            slot.size = total
        out.append(self._position(acct, slot, slot.size))
        out.append(self._account(acct))
        if slot.stop_id is not None:
            # resize the resting stop to the new position size (a modify keeps the id)
            out.append(
                self._order(
                    acct,
                    slot.stop_id,
                    info,
                    OrderStatus.OPEN,
                    OrderType.STOP,
                    side.opposite,
                    slot.size,
                    stop_price=slot.stop_price,
                )
            )
        elif rng.random() >= p.p_no_stop:
            ticks = rng.randint(*p.stop_ticks)
            offset = info.tick_size * ticks
            slot.stop_price = price - offset if side is OrderSide.BUY else price + offset
            slot.stop_id = self.ids.next_order()
            out.append(
                self._order(
                    acct,
                    slot.stop_id,
                    info,
                    OrderStatus.OPEN,
                    OrderType.STOP,
                    side.opposite,
                    slot.size,
                    stop_price=slot.stop_price,
                )
            )
        return out

    def _exit(self, acct: _Account, slot: _Slot, *, by_stop: bool) -> list[DomainEvent]:
        info = slot.info
        price = slot.stop_price if by_stop and slot.stop_price is not None else None
        price = price if price is not None else self.prices[info.contract_id]
        out: list[DomainEvent] = []
        exit_side = slot.side.opposite
        if by_stop and slot.stop_id is not None:
            order_id = slot.stop_id
            otype = OrderType.STOP
        else:
            if slot.stop_id is not None:
                out.append(
                    self._order(
                        acct,
                        slot.stop_id,
                        info,
                        OrderStatus.CANCELLED,
                        OrderType.STOP,
                        exit_side,
                        slot.size,
                        stop_price=slot.stop_price,
                    )
                )
            order_id = self.ids.next_order()
            otype = OrderType.MARKET
            out.append(
                self._order(acct, order_id, info, OrderStatus.PENDING, otype, exit_side, slot.size)
            )
        pnl = self._pnl(slot, price, slot.size)
        out.append(self._fill(acct, order_id, info, exit_side, slot.size, price, pnl))
        out.append(
            self._order(
                acct,
                order_id,
                info,
                OrderStatus.FILLED,
                otype,
                exit_side,
                slot.size,
                fill_volume=slot.size,
                stop_price=slot.stop_price if by_stop else None,
                filled_price=price,
            )
        )
        out.append(self._position(acct, slot, 0))
        out.append(self._account(acct))
        del acct.slots[info.contract_id]
        return out

    def _rest_or_cancel_limit(self, acct: _Account) -> list[DomainEvent]:
        """A working limit order away from the market, later cancelled by the trader."""
        if acct.resting:
            order_id, order = next(iter(acct.resting.items()))
            del acct.resting[order_id]
            info = next(c for c in self.contracts if c.contract_id == order.contract_id)
            return [
                self._order(
                    acct,
                    order_id,
                    info,
                    OrderStatus.CANCELLED,
                    OrderType.LIMIT,
                    order.side,
                    order.size,
                    limit_price=order.limit_price,
                )
            ]
        info = self.rng.choice(self.contracts)
        side = self.rng.choice((OrderSide.BUY, OrderSide.SELL))
        away = info.tick_size * self.rng.randint(20, 80)
        price = self.prices[info.contract_id]
        limit = price - away if side is OrderSide.BUY else price + away
        order = self._order(
            acct,
            self.ids.next_order(),
            info,
            OrderStatus.OPEN,
            OrderType.LIMIT,
            side,
            self.rng.randint(1, self.profile.max_lots),
            limit_price=limit,
        )
        acct.resting[order.order_id] = order
        return [order]

    def _act(self, acct: _Account) -> list[DomainEvent]:
        p = self.profile
        rng = self.rng
        if not acct.can_trade:
            acct.can_trade = True
            return [self._account(acct)]
        if rng.random() < p.p_auth_loss:
            acct.can_trade = False
            return [self._account(acct)]
        if rng.random() < p.p_resting_limit:
            return self._rest_or_cancel_limit(acct)
        if acct.slots and (rng.random() >= p.p_scale_in or len(acct.slots) >= 2):
            slot = rng.choice(list(acct.slots.values()))
            return self._exit(acct, slot, by_stop=False)
        return self._enter(acct)

    def _quote(self) -> list[DomainEvent]:
        info = self.rng.choice(self.contracts + self.blocked)
        cid = info.contract_id
        step = self.rng.randint(-self.profile.volatility, self.profile.volatility)
        price = self.prices[cid] + info.tick_size * step
        self.prices[cid] = price
        at = self._advance()
        out: list[DomainEvent] = [
            Quote(
                at=at,
                contract_id=cid,
                last=price,
                bid=price,
                ask=price + info.tick_size,
                timestamp=at.astimezone(UTC),
            )
        ]
        for acct in self.accounts:
            slot = acct.slots.get(cid)
            if slot is None or slot.stop_price is None:
                continue
            hit = (
                price <= slot.stop_price if slot.side is OrderSide.BUY else price >= slot.stop_price
            )
            if hit:
                out.extend(self._exit(acct, slot, by_stop=True))
        return out

    # -- the stream -----------------------------------------------------------------------
    def events(self) -> Iterator[DomainEvent]:
        """Yield the day: contract metadata and starting balances first, then the session.

        ``Profile.events`` counts market and account events (``quote_share`` of them quotes);
        the clock's ticks (one per ``clock_every`` of engine time) and the periodic
        reconciliations (every account, every ``reconcile_every``) come on top.
        """
        p = self.profile
        for info in self.contracts + self.blocked:
            yield ContractLoaded(at=self.now, contract=info)
        for acct in self.accounts:
            yield self._account(acct)
            yield Reconciled(at=self._burst(), account_id=acct.account_id)
        emitted = quotes = 0
        next_tick = p.start + p.clock_every if p.clock_every is not None else None
        next_reconcile = p.start + p.reconcile_every if p.reconcile_every is not None else None
        timers: list[tuple[datetime, int, DomainEvent]] = []
        seq = 0
        while emitted < p.events:
            if quotes < p.quote_share * (emitted + 1) or not self.accounts:
                batch = self._quote()
                quotes += 1
            else:
                self._advance()
                batch = self._act(self.rng.choice(self.accounts))
            while next_tick is not None and p.clock_every is not None and next_tick <= self.now:
                heapq.heappush(timers, (next_tick, seq, ClockTick(at=next_tick)))
                seq += 1
                next_tick += p.clock_every
            while (
                next_reconcile is not None
                and p.reconcile_every is not None
                and next_reconcile <= self.now
            ):
                for acct in self.accounts:
                    reconciled = Reconciled(at=next_reconcile, account_id=acct.account_id)
                    heapq.heappush(timers, (next_reconcile, seq, reconciled))
                    seq += 1
                next_reconcile += p.reconcile_every
            for event in batch:
                while timers and timers[0][0] <= event.at:
                    yield heapq.heappop(timers)[2]
                yield event
                emitted += 1
        while timers:
            yield heapq.heappop(timers)[2]


def trading_day(profile: Profile | None = None, seed: int = 20261124) -> Iterator[DomainEvent]:
    """The seeded day the benchmark measures: ``trading_day(Profile(events=10_000))``."""
    return TradingDay(profile or Profile(), random.Random(seed)).events()
