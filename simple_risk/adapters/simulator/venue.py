"""The simulated trading venue: accounts, orders, positions, fills, P&L and balances.

This is the matching engine behind the simulator's REST and hub surfaces. It is pure and
deterministic — no I/O, no threads, no clock reads: time comes from an injected ``clock``
callable and prices move only through :meth:`Venue.update_price`. That makes it testable with
hypothesis (positions equal the net of fills, realized P&L equals the sum of closing-fill P&L,
balance = start + realized − fees, fills only at quoted prices) and lets the server drive it
from a seeded random walk.

Pricing model: a contract has one *last* price on the tick grid; the quote is
``bid = last`` and ``ask = last + 1 tick``. Market orders buy at the ask and sell at the bid;
resting orders fill at the bid/ask that reaches them (a gap fills at the better quoted price),
so every fill happens at a price the venue quoted.

Behaviour mirrors what was seen live (reference §7.3, §14): events come out as order Pending,
trade, order Filled, position, account; when a position goes flat its opening half-turns are
re-sent and the position is announced removed (action 2, type 0, size 0, the old average
price). Positions net into one per (account, contract) and close first-in first-out, so
realized P&L is exact in ticks. Brackets on ``Order/place`` are rejected with code 2 unless the
account is in Auto-OCO mode (reference §4.8); in that mode an entry is born with its bracket
family (§14.3): a stop-loss and a take-profit child, suspended (status 8) and priceless until
the entry fills, then Open at prices computed from the fill — ``shapes.bracket_delay`` later,
through the injected ``schedule`` — and one-cancels-other. :class:`~.shapes.Shapes` selects the
older behaviours instead.

Callers subscribe with :meth:`Venue.add_listener` and receive :class:`~.records.UserEvent` /
:class:`~.records.MarketEvent` values synchronously, in order.

:class:`Venue` is the facade: it owns the accounts, markets and orders, runs the matching and
announces every change, in the order the live gateway does. The rest is delegated, one job per
module: the shared records (:mod:`.records`), the checks an order must pass
(:mod:`.checks`), bracket families (:mod:`.brackets`), what a fill or a bust does to positions,
trades and cash (:mod:`.positions`) and the market data a price move publishes
(:mod:`.market`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from simple_risk.adapters.simulator.brackets import (
    BRACKETS_NEED_AUTO_OCO,
    arm,
    bracket_family,
    placed_brackets,
)
from simple_risk.adapters.simulator.checks import (
    MAX_TRAIL_TICKS,
    check_modify,
    order_kind,
    validate_prices,
)
from simple_risk.adapters.simulator.contracts import Contract
from simple_risk.adapters.simulator.market import (
    MarketState,
    depth_levels,
    full_quote,
    print_trade,
    quote_delta,
)
from simple_risk.adapters.simulator.positions import Ledger
from simple_risk.adapters.simulator.records import (
    Account,
    AccountSpec,
    Clock,
    Entity,
    Listener,
    MarketEvent,
    Order,
    PlaceRequest,
    Position,
    Reason,
    Trade,
    UserEvent,
    VenueError,
    VenueEvent,
)
from simple_risk.adapters.simulator.shapes import Shapes
from simple_risk.engine.events import OrderSide, OrderStatus, OrderType, PositionType

#: ``schedule(delay_seconds, action)``: run ``action`` later on the venue's thread
Schedule = Callable[[float, Callable[[], None]], None]

#: The first order id handed out. Order ids start above 2^31 like the real ones, so a client
#: that squeezes them into int32 breaks against the simulator too.
FIRST_ORDER_ID = 4_100_000_001


class Venue:
    """The whole simulated exchange and clearing for a set of accounts and contracts."""

    def __init__(
        self,
        contracts: Sequence[Contract],
        accounts: Iterable[AccountSpec],
        clock: Clock,
        *,
        start_prices: dict[str, Decimal] | None = None,
        shapes: Shapes | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self._clock = clock
        self.shapes = shapes or Shapes()
        #: without a scheduler (pure tests) delayed actions run at once
        self._schedule: Schedule = schedule or (lambda delay, action: action())
        self._contracts = {c.id: c for c in contracts}
        self._accounts: dict[int, Account] = {}
        for spec in accounts:
            self._accounts[spec.id] = Account(
                spec.id,
                spec.name,
                spec.balance,
                spec.can_trade,
                spec.is_visible,
                spec.simulated,
                spec.active,
                spec.auto_oco,
            )
        prices = start_prices or {}
        self._markets: dict[str, MarketState] = {}
        for c in contracts:
            if c.active:
                p = prices.get(c.id, c.start_price)
                market = MarketState(c, p, p, p, p, opened_at=clock(), opened_price=p)
                # what a subscriber's snapshot shows, so the first update is already partial
                market.published = full_quote(market, clock())
                self._markets[c.id] = market
        self._orders: dict[int, Order] = {}
        self._ledger = Ledger(clock)
        self._next_order = FIRST_ORDER_ID
        self._listeners: list[Listener] = []

    # -- observation ---------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every event, synchronously and in order."""
        self._listeners.append(listener)

    def _emit(self, event: VenueEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _user(self, action: int, entity: Entity) -> None:
        self._emit(
            UserEvent(
                entity.account_id if not isinstance(entity, Account) else entity.id,
                action,
                copy.deepcopy(entity),
            )
        )

    # -- reference data ------------------------------------------------------------------------

    def accounts(self, *, only_active: bool = False) -> list[Account]:
        return [a for a in self._accounts.values() if a.active or not only_active]

    def account(self, account_id: int) -> Account:
        try:
            return self._accounts[account_id]
        except KeyError:
            raise VenueError(Reason.ACCOUNT_NOT_FOUND) from None

    def contracts(self) -> list[Contract]:
        return list(self._contracts.values())

    def contract(self, contract_id: str) -> Contract:
        for cid, c in self._contracts.items():
            if cid.lower() == contract_id.lower():
                return c
        raise VenueError(Reason.CONTRACT_NOT_FOUND)

    def market(self, contract_id: str) -> MarketState:
        contract = self.contract(contract_id)
        try:
            return self._markets[contract.id]
        except KeyError:
            raise VenueError(Reason.CONTRACT_NOT_ACTIVE, "Contract is not active.") from None

    def active_contract_ids(self) -> list[str]:
        return list(self._markets)

    # -- queries -------------------------------------------------------------------------------

    def orders(
        self, account_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[Order]:
        self.account(account_id)
        return [
            o
            for o in self._orders.values()
            if o.account_id == account_id
            and (start is None or o.creation_timestamp >= start)
            and (end is None or o.creation_timestamp <= end)
        ]

    def open_orders(self, account_id: int) -> list[Order]:
        self.account(account_id)
        return [
            o
            for o in self._orders.values()
            if o.account_id == account_id and o.status == OrderStatus.OPEN
        ]

    def order(self, order_id: int) -> Order:
        try:
            return self._orders[order_id]
        except KeyError:
            raise VenueError(Reason.ORDER_NOT_FOUND, "Order not found.") from None

    def open_positions(self, account_id: int) -> list[Position]:
        self.account(account_id)
        return [p for (acc, _), p in self._ledger.positions.items() if acc == account_id]

    def trades(
        self, account_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[Trade]:
        self.account(account_id)
        return [
            t
            for t in self._ledger.trades.values()
            if t.account_id == account_id
            and (start is None or t.creation_timestamp >= start)
            and (end is None or t.creation_timestamp <= end)
        ]

    def all_trades(self) -> list[Trade]:
        return list(self._ledger.trades.values())

    # -- account control -----------------------------------------------------------------------

    def set_can_trade(self, account_id: int, can_trade: bool) -> None:
        account = self.account(account_id)
        account.can_trade = can_trade
        self._user(1, account)

    def set_auto_oco(self, account_id: int, auto_oco: bool) -> None:
        self.account(account_id).auto_oco = auto_oco

    # -- orders --------------------------------------------------------------------------------

    def place(self, req: PlaceRequest) -> int:
        """Accept or refuse an order; return its id. Marketable orders fill before returning."""
        account = self.account(req.account_id)
        contract = self.contract(req.contract_id)
        if not contract.active:
            raise VenueError(Reason.CONTRACT_NOT_ACTIVE, "Contract is not active.")
        market = self._markets[contract.id]
        if not account.can_trade:
            raise VenueError(Reason.ACCOUNT_VIOLATION, "Account is not allowed to trade.")
        otype, side = order_kind(req)
        if req.custom_tag is not None and any(
            o.custom_tag == req.custom_tag and o.account_id == account.id
            for o in self._orders.values()
        ):
            raise VenueError(Reason.ORDER_REJECTED, "An order with this custom tag already exists.")
        limit, stop, trail_ticks = validate_prices(otype, side, req, contract, market)
        now = self._clock()
        order = Order(
            id=self._new_order_id(),
            account_id=account.id,
            contract_id=contract.id,
            symbol_id=contract.symbol_id,
            creation_timestamp=now,
            update_timestamp=now,
            status=OrderStatus.PENDING,
            type=otype,
            side=side,
            size=req.size,
            limit_price=limit,
            stop_price=stop,
            fill_volume=0,
            filled_price=None,
            custom_tag=req.custom_tag,
            trail_ticks=trail_ticks,
            stop_loss=req.stop_loss,
            take_profit=req.take_profit,
        )
        self._orders[order.id] = order
        if (req.stop_loss or req.take_profit) and not account.auto_oco:
            self._user(1, order)
            self._set_status(order, OrderStatus.REJECTED)
            raise VenueError(Reason.ORDER_REJECTED, BRACKETS_NEED_AUTO_OCO, order_id=order.id)
        children = bracket_family(order, self._new_order_id) if self.shapes.live_brackets else []
        for child in children:
            self._orders[child.id] = child
        if otype != OrderType.MARKET:
            order.status = OrderStatus.OPEN
        self._user(1, order)
        for child in children:
            self._user(1, child)
        if otype == OrderType.MARKET:
            self._fill(order, market.ask if side == OrderSide.BUY else market.bid)
        else:
            self._try_fill(order, market)
        return order.id

    def cancel(self, account_id: int, order_id: int) -> None:
        """Cancel a working order; a resting entry takes its suspended bracket children along
        (a family is never left with orphans — the simulator's reading of §14.3)."""
        self.account(account_id)
        order = self._orders.get(order_id)
        if order is None or order.account_id != account_id:
            raise VenueError(Reason.ORDER_NOT_FOUND, "Order not found.")
        if order.status not in (OrderStatus.OPEN, OrderStatus.SUSPENDED):
            raise VenueError(Reason.ORDER_REJECTED, "Order is not open.")
        self._set_status(order, OrderStatus.CANCELLED)
        for child_id in order.children:
            child = self._orders[child_id]
            if child.status == OrderStatus.SUSPENDED:
                self._set_status(child, OrderStatus.CANCELLED)

    def modify(
        self,
        account_id: int,
        order_id: int,
        *,
        size: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail_price: Decimal | None = None,
    ) -> None:
        """Change a working order; omitted fields stay as they are."""
        self.account(account_id)
        order = self._orders.get(order_id)
        if order is None or order.account_id != account_id:
            raise VenueError(Reason.ORDER_NOT_FOUND, "Order not found.")
        if order.status != OrderStatus.OPEN:
            raise VenueError(Reason.ORDER_REJECTED, "Order is not open.")
        contract = self._contracts[order.contract_id]
        market = self._markets[order.contract_id]
        check_modify(order, contract, size, limit_price, stop_price, trail_price)
        if size is not None:
            order.size = size
        if limit_price is not None:
            order.limit_price = limit_price
        if stop_price is not None:
            order.stop_price = stop_price
        if trail_price is not None:
            ticks = int(abs(market.last - trail_price) / contract.tick_size)
            if not 0 < ticks <= MAX_TRAIL_TICKS:
                raise VenueError(Reason.ORDER_REJECTED, "Trail Distance not set.")
            order.trail_ticks = ticks
            order.stop_price = trail_price
        order.update_timestamp = self._clock()
        self._user(1, order)
        self._try_fill(order, market)

    # -- positions -----------------------------------------------------------------------------

    def close_position(self, account_id: int, contract_id: str, size: int | None = None) -> int:
        """Flatten (``size`` None) or reduce a position with a market order; return its id."""
        self.account(account_id)
        contract = self.contract(contract_id)
        position = self._ledger.positions.get((account_id, contract.id))
        if position is None:
            raise VenueError(Reason.POSITION_NOT_FOUND, "Position not found.")
        if size is not None and not 0 < size <= position.size:
            raise VenueError(Reason.INVALID_CLOSE_SIZE, "Invalid close size.")
        market = self._markets[contract.id]
        side = OrderSide.SELL if position.type == PositionType.LONG else OrderSide.BUY
        now = self._clock()
        order = Order(
            id=self._new_order_id(),
            account_id=account_id,
            contract_id=contract.id,
            symbol_id=contract.symbol_id,
            creation_timestamp=now,
            update_timestamp=now,
            status=OrderStatus.PENDING,
            type=OrderType.MARKET,
            side=side,
            size=position.size if size is None else size,
            limit_price=None,
            stop_price=None,
            fill_volume=0,
            filled_price=None,
            custom_tag=None,
        )
        self._orders[order.id] = order
        self._user(1, order)
        self._fill(order, market.ask if side == OrderSide.BUY else market.bid)
        return order.id

    # -- prices --------------------------------------------------------------------------------

    def update_price(self, contract_id: str, last: Decimal, volume: int = 1) -> None:
        """Move a contract's last price (bid = last, ask = last + 1 tick), publish the quote and
        a market trade, then fill every order the new quote reaches."""
        market = self.market(contract_id)
        if not market.contract.on_grid(last) or last <= 0:
            raise ValueError(f"price {last} is not on the tick grid of {contract_id}")
        now = self._clock()
        printed = print_trade(market, last, volume, now)
        cid = market.contract.id
        self._emit(MarketEvent("GatewayQuote", cid, quote_delta(market, now, self.shapes)))
        self._emit(MarketEvent("GatewayTrade", cid, printed))
        self._emit(MarketEvent("GatewayDepth", cid, self.depth(cid)))
        for order in sorted(self._orders.values(), key=lambda o: o.id):
            if order.contract_id == cid and order.status == OrderStatus.OPEN:
                self._try_fill(order, market)

    def quote(self, contract_id: str) -> dict[str, object]:
        """The full current quote (what a new subscriber receives first)."""
        market = self.market(contract_id)
        return full_quote(market, market.published.get("timestamp") or self._clock())

    def depth(self, contract_id: str) -> list[dict[str, object]]:
        """A small synthetic book: best bid/ask and five levels a side."""
        market = self.market(contract_id)
        return depth_levels(market, self._clock())

    # -- matching ------------------------------------------------------------------------------

    def _try_fill(self, order: Order, market: MarketState) -> None:
        """Fill ``order`` if the current quote reaches it (at the reaching bid/ask)."""
        if order.status != OrderStatus.OPEN:
            return
        buy = order.side == OrderSide.BUY
        reach = market.ask if buy else market.bid
        if order.type == OrderType.TRAILING_STOP and order.trail_ticks is not None:
            offset = order.trail_ticks * market.contract.tick_size
            assert order.stop_price is not None
            trailed = (
                min(order.stop_price, market.ask + offset)
                if buy
                else max(order.stop_price, market.bid - offset)
            )
            if trailed != order.stop_price:
                order.stop_price = trailed
                order.update_timestamp = self._clock()
                self._user(1, order)
        stop_like = (OrderType.STOP, OrderType.TRAILING_STOP, OrderType.STOP_LIMIT)
        if order.type in stop_like and not order.triggered:
            assert order.stop_price is not None
            if not (reach >= order.stop_price if buy else reach <= order.stop_price):
                return
            if order.type != OrderType.STOP_LIMIT:
                self._fill(order, reach)
                return
            order.triggered = True
        if order.limit_price is not None:
            limit = order.limit_price
            if reach <= limit if buy else reach >= limit:
                self._fill(order, reach)

    def _fill(self, order: Order, price: Decimal) -> None:
        """Fill the whole order at ``price``: trades, order Filled, position, account."""
        account = self._accounts[order.account_id]
        contract = self._contracts[order.contract_id]
        now = self._clock()
        netting = self._ledger.net_fill(order, price, contract, now)
        for trade in netting.trades:
            self._ledger.book(trade, account)
            self._user(0, trade)
        for trade in netting.reopened:
            self._user(1, trade)
        order.fill_volume = order.size
        order.filled_price = price
        self._set_status(order, OrderStatus.FILLED)
        if netting.flat is not None:
            self._announce_flat(netting.flat)
        current = self._ledger.positions.get((order.account_id, order.contract_id))
        if current is not None:
            self._user(1, current)
        self._user(1, account)
        self._after_fill(order, price, contract)

    def _announce_flat(self, position: Position) -> None:
        """A position that went flat: live, it is removed (action 2) with type 0, size 0 and
        its old average price (§14.1); the older shape kept action 1 and the old type."""
        if not self.shapes.flat_position_removed:
            self._user(1, position)
            return
        flat = copy.deepcopy(position)
        flat.type = PositionType.UNDEFINED
        flat.size = 0
        flat.lots = []
        self._emit(UserEvent(position.account_id, 2, flat))

    def _after_fill(self, order: Order, price: Decimal, contract: Contract) -> None:
        """Cancel an OCO sibling; arm (live) or place (older shape) a filled entry's brackets."""
        if order.oco_sibling is not None:
            sibling = self._orders.get(order.oco_sibling)
            if sibling is not None and sibling.status in (
                OrderStatus.OPEN,
                OrderStatus.SUSPENDED,
            ):
                self._set_status(sibling, OrderStatus.CANCELLED)
        if order.children:
            entry_id = order.id
            self._schedule(self.shapes.bracket_delay, lambda: self._arm_children(entry_id, price))
            return
        if self.shapes.live_brackets or (order.stop_loss is None and order.take_profit is None):
            return
        children = placed_brackets(order, price, contract, self._clock, self._new_order_id)
        for child in children:
            self._orders[child.id] = child
        market = self._markets[order.contract_id]
        for child in children:
            self._user(1, child)
        for child in children:
            self._try_fill(child, market)

    def _arm_children(self, entry_id: int, fill_price: Decimal) -> None:
        """The filled entry's suspended children become Open at absolute prices: the fill
        plus/minus their bracket ticks; then any the market already reaches fill."""
        entry = self._orders[entry_id]
        contract = self._contracts[entry.contract_id]
        armed: list[Order] = []
        for child_id in entry.children:
            child = self._orders[child_id]
            if child.status != OrderStatus.SUSPENDED or child.trail_distance is None:
                continue
            arm(child, fill_price, contract)
            child.update_timestamp = self._clock()
            self._user(1, child)
            armed.append(child)
        market = self._markets[entry.contract_id]
        for child in armed:
            self._try_fill(child, market)

    def _set_status(self, order: Order, status: OrderStatus) -> None:
        order.status = status
        order.update_timestamp = self._clock()
        self._user(1, order)

    def _new_order_id(self) -> int:
        order_id = self._next_order
        self._next_order += 1
        return order_id

    # -- corrections ---------------------------------------------------------------------------

    def void_trade(self, trade_id: int) -> None:
        """Bust a fill: undo its cash effect and rebuild its position from the surviving fills."""
        trade = self._ledger.trades.get(trade_id)
        if trade is None:
            raise VenueError(Reason.TRADE_NOT_FOUND, f"Trade {trade_id} not found.")
        if trade.voided:
            return
        account = self._accounts[trade.account_id]
        self._ledger.void(trade, account)
        self._user(1, trade)
        old, rebuilt = self._ledger.rebuild(trade.account_id, self._contracts[trade.contract_id])
        if rebuilt is not None:
            self._user(1, rebuilt)
        elif old is not None:
            self._announce_flat(old)
        self._user(1, account)
