"""The fact store: every fact the rules read, kept per account and updated one event at a time.

Called by the engine only. ``apply(event)`` updates the state the event touches and returns a
:class:`Touched` naming the accounts it affects and the item it binds (the order, position,
fill or quote of the event), and the kind of change the event made (``change``, an index into
``dependencies.CHANGES``), so that the engine re-evaluates only the rules whose facts changed:
a quote that repeats the contract's prices changes nothing but the quote it binds, and an
order update that moves orders between contracts changes everything. ``roll(at)`` performs
the daily reset when engine time reaches the
calendar's boundary: the first event at or after it (a ClockTick exactly at it, when the
daemon schedules one from ``next_deadline``) resets the day facts of every account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal

from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.dependencies import CHANGE_ID
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ConnectionChanged,
    ContractLoaded,
    Event,
    OrderUpdate,
    OwnOrder,
    PositionType,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.facts.account import AccountState, Clock
from simple_risk.engine.facts.ledger import TradeFacts
from simple_risk.engine.facts.market import ContractState, Market, QuoteFacts
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.facts.views import (
    AccountFacts,
    DayFacts,
    SessionFacts,
    TradesFacts,
    WeekFacts,
)
from simple_risk.engine.model import SymbolSpec

_EVERYTHING = CHANGE_ID["everything"]
_TIME = CHANGE_ID["time"]
_QUOTE = CHANGE_ID["quote"]
_QUOTE_SAME = CHANGE_ID["quote-same"]
_ORDER = CHANGE_ID["order"]
_POSITION = CHANGE_ID["position"]
_FILL = CHANGE_ID["fill"]
_ACCOUNT = CHANGE_ID["account"]


class Touched:
    """What one event changed: the affected accounts, the item it binds and the kind of
    change (``dependencies.CHANGES``; everything unless the store says less). Callers only
    read ``accounts``: a quote's list is the one its contract keeps between quotes."""

    __slots__ = (
        "accounts",
        "change",
        "contract_id",
        "order",
        "position",
        "quote",
        "resent",
        "root",
        "trade",
    )

    def __init__(self, accounts: list[AccountState], change: int = _EVERYTHING) -> None:
        self.accounts = accounts
        self.change = change
        self.order: Order | None = None
        self.position: Position | None = None
        self.trade: TradeFacts | None = None
        self.quote: QuoteFacts | None = None
        self.root: str | None = None
        self.contract_id: str | None = None
        #: a fill event that is a copy of a fill already recorded (the hub re-sending a
        #: half-turn, the REST copy a reconciliation reads, a void): not a new fill; an order
        #: or position update that changes nothing of a working order or an open position
        #: (the REST copy a reconciliation reads): not a change of it
        self.resent = False


class AccountFamilies:
    """The always-bound family objects of one account."""

    __slots__ = ("account", "day", "trades", "week")

    def __init__(self, state: AccountState) -> None:
        self.account = AccountFacts(state)
        self.day = DayFacts(state)
        self.week = WeekFacts(state)
        self.trades = TradesFacts(state)


class FactStore:
    """Facts of every guarded account plus the shared market state."""

    __slots__ = (
        "_day_from",
        "_guarded",
        "_starting_balances",
        "accounts",
        "calendar",
        "clock",
        "day",
        "day_end",
        "families",
        "market",
        "session",
        "symbols",
        "week",
    )

    def __init__(
        self,
        symbols: SymbolSpec,
        calendar: TradingCalendar,
        *,
        accounts: Iterable[int] | None = None,
        starting_balances: Mapping[int, Decimal] | None = None,
    ) -> None:
        self.symbols = symbols
        self.calendar = calendar
        self.clock = Clock(datetime.min)
        self.market = Market(symbols)
        self.accounts: dict[int, AccountState] = {}
        self.families: dict[int, AccountFamilies] = {}
        self._guarded = frozenset(accounts) if accounts is not None else None
        self._starting_balances = dict(starting_balances or {})
        self.day: date | None = None
        self.week: date | None = None
        self.day_end: datetime | None = None
        #: when the current trading day was entered: every instant in [it, ``day_end``)
        #: belongs to ``day`` (None: not known, e.g. after a restore)
        self._day_from: datetime | None = None
        self.session = SessionFacts(calendar, self.clock, date.min)
        if self._guarded is not None:
            for account_id in sorted(self._guarded):
                self._create(account_id)

    # -- time --------------------------------------------------------------------------------

    def roll(self, at: datetime) -> bool:
        """Advance engine time; returns True when a new trading day started (the reset)."""
        self.clock.set(at)
        if self.day_end is not None and at < self.day_end:
            return False
        first = self.day is None
        self.day = self.calendar.trading_day(at)
        self.week = self.day - timedelta(days=self.day.weekday())
        self.day_end = self.calendar.trading_day_end(at)
        self._day_from = self.clock.utc
        self.session.day = self.day
        for state in self.accounts.values():
            if not first:
                state.end_of_day()
            state.ledger.new_day(self.day, self.week, at)
        return not first

    def fill_day(self, fill: TradeFill) -> tuple[date, date]:
        """The trading day and week of a fill's exchange time (else its engine time)."""
        stamp = fill.created_at if fill.created_at is not None else fill.at
        start, end = self._day_from, self.day_end
        if (
            start is not None
            and end is not None
            and self.day is not None
            and self.week is not None
            and start <= stamp < end
        ):
            return self.day, self.week  # today's, as almost every fill: no calendar look-up
        day = self.calendar.trading_day(stamp)
        return day, day - timedelta(days=day.weekday())

    # -- accounts ----------------------------------------------------------------------------

    def _create(self, account_id: int) -> AccountState:
        day = self.day or date.min
        week = self.week or date.min
        state = AccountState(
            account_id,
            self.market.book,
            self.clock,
            day,
            week,
            self._starting_balances.get(account_id),
        )
        self.accounts[account_id] = state
        self.families[account_id] = AccountFamilies(state)
        return state

    def account(self, account_id: int) -> AccountState | None:
        """The account's state, created on first sight unless the engine guards a fixed set."""
        state = self.accounts.get(account_id)
        if state is None and (self._guarded is None or account_id in self._guarded):
            state = self._create(account_id)
        return state

    # -- events ------------------------------------------------------------------------------

    def apply(self, event: Event) -> Touched:
        """Update the facts for one event (``roll`` must have been called for its time)."""
        if isinstance(event, Quote):
            return self._quote(event)
        if isinstance(event, OrderUpdate):
            state = self.account(event.account_id)
            if state is None:
                return Touched([])
            contract = self.market.contract(event.contract_id)
            old = state.orders.get(event.order_id)
            touched = _touching(state, contract)
            moved_from = (
                self.market.contract(old.contract_id)
                if old is not None and old.contract_id != event.contract_id
                else None
            )
            touched.resent = old is not None and _restates(old.update, event)
            order = touched.order = state.apply_order(event, contract, moved_from)
            if _within_contract(state, old, order):
                touched.change = _ORDER
            return touched
        if isinstance(event, PositionUpdate):
            state = self.account(event.account_id)
            if state is None:
                return Touched([])
            contract = self.market.contract(event.contract_id)
            touched = _touching(state, contract)
            held = state.positions.get(event.contract_id)
            # the REST copy a reconciliation reads of an open position: not a change of it
            touched.resent = (
                held is not None
                and event.size == held.size
                and event.type is (PositionType.LONG if held.long else PositionType.SHORT)
                and event.average_price == held.avg_price
            )
            touched.position = state.apply_position(event, contract)
            touched.change = _POSITION
            return touched
        if isinstance(event, TradeFill):
            state = self.account(event.account_id)
            if state is None:
                return Touched([])
            contract = self.market.contract(event.contract_id)
            day, week = self.fill_day(event)
            resent = event.trade_id in state.ledger.fills
            state.ledger.apply(event, event.at, day, week)
            touched = _touching(state, contract)
            touched.resent = resent
            touched.trade = TradeFacts(event, contract.root, state.ledger)
            touched.change = _FILL
            return touched
        if isinstance(event, AccountUpdate):
            state = self.account(event.account_id)
            if state is None:
                return Touched([])
            state.apply_account(event)
            return Touched([state], _ACCOUNT)
        if isinstance(event, ContractLoaded):
            contract = self.market.load(event.contract)
            for account_id, position in contract.positions.items():
                # the tick value prices the stops' risk too, not only the P&L
                orders = self.accounts[account_id].orders_by_contract.get(contract.contract_id)
                position.refresh(orders.values() if orders else (), event.at)
            return Touched([self.accounts[a] for a in sorted(contract.positions)])
        if isinstance(event, OwnOrder):
            state = self.account(event.account_id)
            if state is not None:
                state.apply_own(event)
            return Touched([state] if state is not None else [])
        if isinstance(event, Reconciled):
            if event.account_id is None:
                return Touched(list(self.accounts.values()))
            state = self.account(event.account_id)
            return Touched([state] if state is not None else [])
        if isinstance(event, ClockTick | ConnectionChanged):
            return Touched(list(self.accounts.values()), _TIME)  # time only
        return Touched(list(self.accounts.values()))

    def _quote(self, quote: Quote) -> Touched:
        contract = self.market.contracts.get(quote.contract_id)
        if contract is None:
            contract = self.market.contract(quote.contract_id)
        last, bid, ask = quote.last, quote.bid, quote.ask
        same = contract.last == last and contract.bid == bid and contract.ask == ask
        # ``ContractState.quote``, inlined: every quote passes here
        contract.last = last
        contract.bid = bid
        contract.ask = ask
        contract.quote_at = quote.at
        positions = contract.positions
        affected = contract.affected
        if affected is None:
            affected = contract.affected = self._affected(contract)
        if not affected:
            return _NOBODY  # about half of all quotes: nobody holds or works that contract
        contract_id = contract.contract_id
        if not same and positions:  # the same prices: marks, P&L and protection stay
            at = quote.at
            for position in positions.values():
                position.requote(at)
        touched = Touched(affected, _QUOTE_SAME if same else _QUOTE)
        touched.quote = QuoteFacts(quote, contract.root)
        touched.root = contract.root
        touched.contract_id = contract_id
        return touched

    def _affected(self, contract: ContractState) -> list[AccountState]:
        """The accounts with a position or a working order in the contract, by id: what its
        quote touches (kept on the contract until either set changes)."""
        ids = contract.positions.keys() | contract.working_accounts.keys()
        accounts = self.accounts
        return [accounts[account_id] for account_id in sorted(ids)]


#: What a quote nobody holds or works touches; shared, never changed (callers only read it).
_NOBODY = Touched([])


def _restates(old: OrderUpdate, new: OrderUpdate) -> bool:
    """Whether an order update says of the order only what the last one did: its contract,
    status, type, side, size, filled volume, prices and trail (when both say one)."""
    return (
        old.contract_id == new.contract_id
        and old.status is new.status
        and old.type is new.type
        and old.side is new.side
        and old.size == new.size
        and old.fill_volume == new.fill_volume
        and old.limit_price == new.limit_price
        and old.stop_price == new.stop_price
        and (
            old.trail_distance is None
            or new.trail_distance is None
            or old.trail_distance == new.trail_distance
        )
    )


def _within_contract(state: AccountState, old: Order | None, order: Order) -> bool:
    """Whether an order update changed the positions and root of its own contract only: not
    when the order moved contracts or its bracket family lives in another contract."""
    contract_id = order.contract_id
    if old is not None and old.contract_id != contract_id:
        return False
    for parent in (order.parent_id, old.parent_id if old is not None else None, order.id):
        family = state.families.get(parent) if parent is not None else None
        if family is not None and family.contract_id != contract_id:
            return False
    return True


def _touching(state: AccountState, contract: ContractState) -> Touched:
    """What an account event touched: the account, and the contract and root it is about."""
    touched = Touched([state])
    touched.root = contract.root
    touched.contract_id = contract.contract_id
    return touched


__all__ = ["AccountFamilies", "FactStore", "Touched"]
