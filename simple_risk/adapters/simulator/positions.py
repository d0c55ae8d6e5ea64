"""Position and lot accounting at the simulated venue: what a fill or a bust does to the books.

The venue's matching decides *that* an order fills and at what price; the :class:`Ledger`
decides what follows from it: which lots the fill closes first-in first-out, the realized P&L
in exact ticks, the average price of what stays open, the half-turn trade records and their
ids, the account's cash, and — after a voided trade — the position the surviving fills imply.
It is separate from :mod:`.venue` because this arithmetic is what the property tests pin down
(positions are the net of fills, balance = start + realized − fees) and it has no business
with orders, quotes or events: the venue announces what the ledger changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.records import (
    Account,
    Clock,
    Lot,
    Order,
    Position,
    Trade,
)
from simple_risk.engine.events import OrderSide, PositionType

#: First ids handed out. Trade ids start above 2^31 like the real ones, so a client that
#: squeezes them into int32 breaks against the simulator too.
FIRST_TRADE_ID = 3_200_000_001
FIRST_POSITION_ID = 500_001
#: average prices of multi-lot positions are kept to 9 decimals (the REST precision)
AVERAGE_PRICE_STEP = Decimal("0.000000001")

#: a position's key: one net position per (account, contract)
PositionKey = tuple[int, str]


def closes(position: Position, side: OrderSide) -> bool:
    """Whether a fill on ``side`` reduces ``position`` (rather than adding to it)."""
    return (position.type == PositionType.LONG) == (side == OrderSide.SELL)


def consume_lots(position: Position, size: int, price: Decimal, contract: Contract) -> Decimal:
    """Close ``size`` contracts first-in first-out; return the realized P&L."""
    direction = 1 if position.type == PositionType.LONG else -1
    pnl = Decimal(0)
    left = size
    while left:
        lot = position.lots[0]
        take = min(left, lot.size)
        ticks = (price - lot.price) / contract.tick_size
        pnl += direction * ticks * contract.tick_value * take
        lot.size -= take
        left -= take
        if lot.size == 0:
            position.lots.pop(0)
    reprice(position)
    return pnl


def reprice(position: Position) -> None:
    """Size and average price from the open lots."""
    position.size = sum(lot.size for lot in position.lots)
    if position.size:
        total = sum((lot.price * lot.size for lot in position.lots), Decimal(0))
        position.average_price = (total / position.size).quantize(AVERAGE_PRICE_STEP)


def cash_effect(trade: Trade) -> Decimal:
    """What a half-turn does to the account balance: its realized P&L less fees and commissions."""
    return (trade.profit_and_loss or 0) - trade.fees - trade.commissions


def net_lots(trades: Iterable[Trade]) -> tuple[list[Lot], bool | None]:
    """The lots still open after ``trades`` (in id order, voided ones skipped), netted first-in
    first-out, and whether they are long (None when nothing was ever opened)."""
    lots: list[Lot] = []
    long_side: bool | None = None
    for trade in trades:
        if trade.voided:
            continue
        buy = trade.side == OrderSide.BUY
        left = trade.size
        if long_side is not None and lots and buy != long_side:
            while left and lots:
                take = min(left, lots[0].size)
                lots[0].size -= take
                left -= take
                if lots[0].size == 0:
                    lots.pop(0)
        if left:
            if not lots:
                long_side = buy
            lots.append(Lot(left, trade.price, trade.id))
    return lots, long_side


@dataclass(frozen=True)
class Netting:
    """What one fill did to its position: the new half-turns (closing first), the opening
    half-turns of a position it closed (re-sent, §14.1), and that position if it went flat."""

    trades: list[Trade]
    reopened: list[Trade]
    flat: Position | None


class Ledger:
    """The venue's open positions and trades, and the ids it hands them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.positions: dict[PositionKey, Position] = {}
        self.trades: dict[int, Trade] = {}
        #: position id -> the opening half-turns, re-sent when that position goes flat
        self.opening_trades: dict[int, list[int]] = {}
        self._next_trade = FIRST_TRADE_ID
        self._next_position = FIRST_POSITION_ID

    def net_fill(self, order: Order, price: Decimal, contract: Contract, now: datetime) -> Netting:
        """Net a whole-order fill at ``price`` into the order's position: close first, then
        open the rest. The new trades are not booked yet (:meth:`book` does that, one by one)."""
        key = (order.account_id, order.contract_id)
        position = self.positions.get(key)
        remaining = order.size
        new_trades: list[Trade] = []
        reopened: list[Trade] = []
        flat_position: Position | None = None
        if position is not None and closes(position, order.side):
            closing = min(remaining, position.size)
            pnl = consume_lots(position, closing, price, contract)
            new_trades.append(self._new_trade(order, price, closing, pnl, contract, now))
            remaining -= closing
            if position.size == 0:
                flat_position = position
                del self.positions[key]
                reopened = [self.trades[tid] for tid in self.opening_trades.pop(position.id, [])]
        if remaining > 0:
            trade = self._new_trade(order, price, remaining, None, contract, now)
            new_trades.append(trade)
            position = self.positions.get(key)
            if position is None:
                position = Position(
                    id=self._next_position,
                    account_id=order.account_id,
                    contract_id=contract.id,
                    contract_display_name=contract.name,
                    creation_timestamp=now,
                    type=PositionType.LONG if order.side == OrderSide.BUY else PositionType.SHORT,
                    size=0,
                    average_price=price,
                )
                self._next_position += 1
                self.positions[key] = position
            position.lots.append(Lot(remaining, price, trade.id))
            self.opening_trades.setdefault(position.id, []).append(trade.id)
            reprice(position)
        return Netting(new_trades, reopened, flat_position)

    def book(self, trade: Trade, account: Account) -> None:
        """Record a new half-turn and its cash effect on the account."""
        self.trades[trade.id] = trade
        account.balance += cash_effect(trade)

    def void(self, trade: Trade, account: Account) -> None:
        """Mark a half-turn voided and take its cash effect back out of the account."""
        trade.voided = True
        account.balance -= cash_effect(trade)

    def rebuild(
        self, account_id: int, contract: Contract
    ) -> tuple[Position | None, Position | None]:
        """Replace the position of (account, contract) by the one its non-voided fills imply;
        return (the old position, the rebuilt one). A position that no longer exists is left
        with size 0 for the venue to announce flat."""
        key = (account_id, contract.id)
        old = self.positions.pop(key, None)
        rebuilt = self._replay(account_id, contract, old)
        if rebuilt is not None:
            self.positions[key] = rebuilt
        elif old is not None:
            self.opening_trades.pop(old.id, None)
            old.size = 0
        return old, rebuilt

    def _replay(self, account_id: int, contract: Contract, old: Position | None) -> Position | None:
        """The open position implied by the account's non-voided fills, first-in first-out."""
        fills = (
            t
            for t in sorted(self.trades.values(), key=lambda t: t.id)
            if t.account_id == account_id and t.contract_id == contract.id
        )
        lots, long_side = net_lots(fills)
        if not lots:
            return None
        position = Position(
            id=old.id if old is not None else self._next_position,
            account_id=account_id,
            contract_id=contract.id,
            contract_display_name=contract.name,
            creation_timestamp=old.creation_timestamp if old is not None else self._clock(),
            type=PositionType.LONG if long_side else PositionType.SHORT,
            size=0,
            average_price=lots[0].price,
            lots=lots,
        )
        if old is None:
            self._next_position += 1
        reprice(position)
        self.opening_trades[position.id] = [lot.trade_id for lot in lots]
        return position

    def _new_trade(
        self,
        order: Order,
        price: Decimal,
        size: int,
        pnl: Decimal | None,
        contract: Contract,
        now: datetime,
    ) -> Trade:
        trade = Trade(
            id=self._next_trade,
            account_id=order.account_id,
            contract_id=order.contract_id,
            creation_timestamp=now,
            price=price,
            profit_and_loss=pnl,
            fees=contract.fee_per_side * size,
            commissions=contract.commission_per_side * size,
            side=order.side,
            size=size,
            voided=False,
            order_id=order.id,
        )
        self._next_trade += 1
        return trade
