"""One guarded account's facts: positions, working orders, per-root aggregates, the ledger.

:class:`AccountState` is updated by the fact store, one event at a time, and keeps every
aggregate a rule reads (weighted and raw open contracts, per-root sizes and working counts,
protection of each position) up to date incrementally. The ``symbol`` family object
(:class:`SymbolFacts`) is the per-root aggregate itself. Bracket children are grouped into
order families (families.py): their working sizes enter the per-root totals once per family,
never as exposure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from simple_risk.engine.events import (
    AccountUpdate,
    OrderSide,
    OrderUpdate,
    OwnOrder,
    PositionType,
    PositionUpdate,
)
from simple_risk.engine.facts import counts
from simple_risk.engine.facts.families import Family, bracket_base, entry_opened
from simple_risk.engine.facts.ledger import Ledger
from simple_risk.engine.facts.market import ContractState
from simple_risk.engine.facts.orders import Order, fills_only
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.facts.symbols import SymbolBook
from simple_risk.engine.lockouts import LockSet


class Clock:
    """Engine time, shared by every fact object that reads "now" (ages, durations).

    ``now`` is the event's time as stamped; ``utc`` the same instant in UTC, for comparisons
    with the calendar's UTC instants (a comparison across zones converts both sides).
    """

    __slots__ = ("now", "utc")

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.utc = now

    def set(self, now: datetime) -> None:
        self.now = now
        self.utc = now if now.tzinfo is UTC or now.tzinfo is None else now.astimezone(UTC)


class SymbolFacts:
    """The ``symbol`` family: one root of one account, all contract months."""

    __slots__ = (
        "_account",
        "net",
        "product",
        "root",
        "size",
        "units",
        "weight",
        "working_buy",
        "working_sell",
    )

    def __init__(self, account: AccountState, root: str) -> None:
        self._account = account
        self.root = root
        self.product = account.symbols.product(root)
        self.weight = account.symbols.units(root)
        self.size = 0
        self.units = 0
        self.net = 0  # signed: long positive
        self.working_buy = 0
        self.working_sell = 0

    @property
    def if_filled_long(self) -> int:
        return max(self.net + self.working_buy, 0)

    @property
    def if_filled_short(self) -> int:
        return max(self.working_sell - self.net, 0)

    @property
    def if_filled_max(self) -> int:
        return max(self.if_filled_long, self.if_filled_short, self.size)

    @property
    def locked(self) -> bool:
        return self._account.locks.covers(self.root)

    @property
    def traded_today(self) -> bool:
        return self.root in counts.roots_traded_today(self._account)

    @property
    def empty(self) -> bool:
        return self.size == 0 and self.working_buy == 0 and self.working_sell == 0


class AccountState:
    """Everything the engine knows about one account."""

    __slots__ = (
        "balance",
        "can_trade",
        "child_of",
        "clock",
        "ended_fills",
        "eod_high_balance",
        "families",
        "family_counted",
        "id",
        "ledger",
        "locks",
        "name",
        "open_raw",
        "open_units",
        "orders",
        "orders_by_contract",
        "own_ids",
        "own_sizes",
        "own_tags",
        "positions",
        "roots",
        "starting_balance",
        "symbols",
        "tags",
    )

    def __init__(
        self,
        account_id: int,
        symbols: SymbolBook,
        clock: Clock,
        day: date,
        week: date,
        starting_balance: Decimal | None = None,
    ) -> None:
        self.id = account_id
        self.symbols = symbols
        self.clock = clock
        self.name = ""
        self.balance: Decimal | None = None
        self.can_trade = True
        self.starting_balance = starting_balance
        self.eod_high_balance: Decimal | None = starting_balance
        self.positions: dict[str, Position] = {}
        self.orders: dict[int, Order] = {}
        self.orders_by_contract: dict[str, dict[int, Order]] = {}
        self.roots: dict[str, SymbolFacts] = {}
        self.open_units = 0
        self.open_raw = 0
        self.ledger = Ledger(day, week)
        self.locks = LockSet(account_id)
        #: bracket families by entry id, while a child of theirs works (families.py)
        self.families: dict[int, Family] = {}
        #: (contract, legs close a long) → (contracts added to the root's working totals, root)
        self.family_counted: dict[tuple[str, bool], tuple[int, str]] = {}
        #: working child id → its family's entry id (kept when a later copy lacks the links)
        self.child_of: dict[int, int] = {}
        #: customTag → the order that carried it, its contract, whether it buys and its size
        #: (finds a child's entry by ``<tag>-SL``: in the entry's contract, on the other side,
        #: no larger than the entry)
        self.tags: dict[str, tuple[int, str, bool, int]] = {}
        #: ended order id → contracts it filled (an entry that ended before its child arrived)
        self.ended_fills: dict[int, int] = {}
        #: customTags of the orders simple-risk placed → the order id once known
        self.own_tags: dict[str, int | None] = {}
        self.own_ids: set[int] = set()
        self.own_sizes: dict[int, int] = {}  # the size each own order was placed with

    # -- symbols -----------------------------------------------------------------------------

    def symbol(self, root: str) -> SymbolFacts:
        """The root's aggregate (a fresh empty one when the account has nothing in it)."""
        sym = self.roots.get(root)
        return sym if sym is not None else SymbolFacts(self, root)

    def _root(self, root: str) -> SymbolFacts:
        sym = self.roots.get(root)
        if sym is None:
            sym = SymbolFacts(self, root)
            self.roots[root] = sym
        return sym

    def _drop_if_empty(self, sym: SymbolFacts) -> None:
        if sym.empty and self.roots.get(sym.root) is sym:
            del self.roots[sym.root]

    def _position_delta(self, position: Position, sign: int) -> None:
        position.contract.affected = None  # the accounts holding it may change
        sym = self._root(position.symbol)
        sym.size += sign * position.size
        sym.units += sign * position.units
        sym.net += sign * (position.size if position.long else -position.size)
        self.open_units += sign * position.units
        self.open_raw += sign * position.size
        if sign < 0:
            self._drop_if_empty(sym)

    def _order_delta(self, order: Order, sign: int, contract: ContractState) -> None:
        sym = self._root(order.symbol)
        if order.is_child:
            pass  # counted once per family, by _recount
        elif order.buy:
            sym.working_buy += sign * order.remaining
        else:
            sym.working_sell += sign * order.remaining
        count = contract.working_accounts.get(self.id, 0) + sign
        contract.affected = None  # the accounts working orders in it may change
        if count > 0:
            contract.working_accounts[self.id] = count
        else:
            contract.working_accounts.pop(self.id, None)
        if sign < 0:
            self._drop_if_empty(sym)

    # -- updates -----------------------------------------------------------------------------

    def apply_account(self, update: AccountUpdate) -> None:
        self.name = update.name
        self.balance = update.balance
        self.can_trade = update.can_trade
        if self.starting_balance is None:
            self.starting_balance = update.balance
        if self.eod_high_balance is None:
            self.eod_high_balance = self.starting_balance

    def end_of_day(self) -> None:
        """The daily boundary passed: the last balance becomes an end-of-day balance.

        What the bracket families remember of ended orders and tags, and what the daemon
        remembers of the orders it placed, is kept only for the families and orders still
        alive (and the daemon's tags whose order id is not known yet), so it does not grow day
        after day: an order of the daemon's that ended is no longer its to tell apart.
        """
        live = self.orders.keys() | self.families.keys()
        self.ended_fills = {k: v for k, v in self.ended_fills.items() if k in live}
        self.tags = {tag: named for tag, named in self.tags.items() if named[0] in live}
        ended = self.own_ids - live
        if ended:
            self.own_ids -= ended
            self.own_sizes = {k: v for k, v in self.own_sizes.items() if k not in ended}
            self.own_tags = {t: o for t, o in self.own_tags.items() if o is None or o not in ended}
        if self.balance is not None and (
            self.eod_high_balance is None or self.balance > self.eod_high_balance
        ):
            self.eod_high_balance = self.balance

    def apply_position(self, update: PositionUpdate, contract: ContractState) -> Position:
        """Apply a position update; returns the position (a detached flat one when closed)."""
        now = update.at
        old = self.positions.get(contract.contract_id)
        if update.size <= 0 or update.type is PositionType.UNDEFINED:
            if old is not None:
                self._remove_position(old, contract)
                self._recount_contract(contract.contract_id)
            flat = Position(self, contract, old.long if old else True, 0, update.average_price, now)
            flat.protected = True
            flat.unprotected_since = None
            return flat
        long = update.type is PositionType.LONG
        if old is not None and old.long == long:
            self._position_delta(old, -1)
            old.size = update.size
            old.units = update.size * self.symbols.units(old.symbol)
            old.avg_price = update.average_price
            position = old
        else:
            if old is not None:
                self._remove_position(old, contract)
            position = Position(self, contract, long, update.size, update.average_price, now)
            self.positions[contract.contract_id] = position
            contract.positions[self.id] = position
        if update.position_id is not None:
            position.position_id = update.position_id
        self._position_delta(position, +1)
        self._recount_contract(contract.contract_id)
        position.refresh(self.contract_orders(contract.contract_id), now)
        return position

    def _remove_position(self, position: Position, contract: ContractState) -> None:
        self._position_delta(position, -1)
        del self.positions[position.contract_id]
        contract.positions.pop(self.id, None)
        contract.affected = None

    def apply_own(self, event: OwnOrder) -> None:
        """Remember an order simple-risk places (its tag) or placed (its tag and id). A tag
        names one order: once bound to an id, another order carrying it is not the daemon's."""
        bound = self.own_tags.get(event.custom_tag)
        if event.order_id is None:
            self.own_tags.setdefault(event.custom_tag, None)
            # the hub may announce the order before the place call returns its id: an order
            # already carrying the tag is the daemon's from now on (as a restore computes it)
            for tagged in self.orders.values():
                if tagged.update.custom_tag == event.custom_tag:
                    tagged.own = self.is_own(tagged.update)
            return
        if bound is not None and bound != event.order_id:
            return
        self.own_tags[event.custom_tag] = event.order_id
        self.own_ids.add(event.order_id)
        if event.size is not None:
            self.own_sizes[event.order_id] = event.size
        order = self.orders.get(event.order_id)
        if order is not None:
            order.own = self.is_own(order.update)

    def is_own(self, update: OrderUpdate) -> bool:
        """The order is one simple-risk placed — its id, or its tag while the id is not known —
        and still no larger than it placed it: the trader cannot borrow the daemon's order by
        resizing it."""
        if update.order_id in self.own_ids:
            placed = self.own_sizes.get(update.order_id)
            return placed is None or update.size <= placed
        tag = update.custom_tag
        return tag is not None and tag in self.own_tags and self.own_tags[tag] is None

    def contract_orders(self, contract_id: str) -> list[Order]:
        orders = self.orders_by_contract.get(contract_id)
        return list(orders.values()) if orders else []

    def apply_order(
        self,
        update: OrderUpdate,
        contract: ContractState,
        old_contract: ContractState | None = None,
    ) -> Order:
        """Apply an order update; only working orders stay in the account.

        ``old_contract``: the contract the order worked in before, when the update moves it to
        another (its working count there goes down, not the new contract's)."""
        touched: list[Family] = []
        old = self.orders.pop(update.order_id, None)
        if old is not None:
            self._order_delta(old, -1, old_contract or contract)
            by_contract = self.orders_by_contract.get(old.contract_id)
            if by_contract is not None:
                by_contract.pop(old.id, None)
                if not by_contract:
                    del self.orders_by_contract[old.contract_id]
            if old.parent_id is not None:
                family = self.families.get(old.parent_id)
                if family is not None:
                    family.legs.pop(old.id, None)
                    touched.append(family)
        order = Order(self, update, contract.root)
        order.only_filled = old is not None and fills_only(old.update, update)
        parent = self._parent_of(update)
        if parent is not None:
            order.parent_id = parent
            order.is_child = True
        if order.is_working:
            self.orders[order.id] = order
            self.orders_by_contract.setdefault(order.contract_id, {})[order.id] = order
            self._order_delta(order, +1, contract)
            if parent is not None:
                self.child_of[order.id] = parent
                family = self.families.get(parent)
                if family is None:
                    family = self.families[parent] = Family(parent, order)
                    entry = self.orders.get(parent)
                    if entry is not None:
                        family.opened = entry_opened(entry)
                        family.entry_size = entry.update.size
                    elif parent in self.ended_fills:
                        family.opened = self.ended_fills[parent]
                family.legs[order.id] = order
                touched.append(family)
        else:
            self.child_of.pop(order.id, None)
            self.ended_fills[order.id] = entry_opened(order)
        as_entry = self.families.get(order.id)
        if as_entry is not None:
            as_entry.opened = entry_opened(order)
            as_entry.entry_size = update.size
            touched.append(as_entry)
        for family in touched:
            self._recount(family)
        tag = update.custom_tag
        if tag:
            named = self.tags.get(tag)
            if named is None or named[0] == order.id:
                self.tags[tag] = (order.id, order.contract_id, order.buy, update.size)
                if old is None:
                    self._adopt_children(tag, order, contract)
        if old is not None and old.contract_id != order.contract_id:
            self.refresh_contract(old.contract_id)
        # a working stop heard of for the first time may have been placed while the daemon
        # could not hear it: its position counts as protected from the stop's creation
        placed_at = (
            update.created_at if old is None and order.is_working and order.is_stop else None
        )
        self.refresh_contract(order.contract_id, placed_at)
        return order

    # -- bracket families (families.py) -----------------------------------------------------

    def _parent_of(self, update: OrderUpdate) -> int | None:
        """The entry id of the family an order is a child of, if it is one."""
        parent = update.parent_order_id
        if parent is None:
            parent = self.child_of.get(update.order_id)
        if parent is None and update.linked_order_id is not None:
            linked = update.linked_order_id
            parent = self.child_of.get(linked, linked)
        if parent is None:
            # a customTag is the trader's to choose: it names a child only in its entry's
            # contract, on the other side of the market and no larger than the entry, as every
            # bracket child is
            base = bracket_base(update.custom_tag)
            named = self.tags.get(base) if base is not None else None
            if (
                named is not None
                and named[1] == update.contract_id
                and named[2] != (update.side is OrderSide.BUY)
                and update.size <= named[3]
            ):
                parent = named[0]
        if parent is None or parent == update.order_id:
            return None
        # Order/modify can resize a leg: one that can close more than its entry opened (its
        # size while it works, its fills once it ended) is an order like any other
        bound = self._entry_bound(parent)
        if bound is not None and update.size - update.fill_volume > bound:
            return None
        return parent

    def _entry_bound(self, entry_id: int) -> int | None:
        """The most a child of this entry can close: the size the entry was placed with (a
        leg is born that size, §14.3, also when the entry fills only in part); None while no
        update of the entry has been seen beside its family."""
        entry = self.orders.get(entry_id)
        if entry is not None:
            return entry.update.size
        family = self.families.get(entry_id)
        return family.entry_size if family is not None else None

    def _adopt_children(self, tag: str, entry: Order, contract: ContractState) -> None:
        """An entry arrived after children that name it only by tag: make them its children."""
        if bracket_base(tag) is not None:
            return  # a child's own tag: nothing names it as an entry
        in_contract = self.orders_by_contract.get(entry.contract_id)
        if not in_contract:
            return
        wanted = {tag + "-SL", tag + "-TP"}
        for order in list(in_contract.values()):
            if not order.is_child and order.custom_tag in wanted and order.id != entry.id:
                self.apply_order(order.update, contract)

    def _recount(self, family: Family) -> None:
        """A family's legs or entry changed: forget it once no leg works, and recount."""
        if not family.legs:
            self.families.pop(family.entry_id, None)
        self._recount_contract(family.contract_id)

    def recount_families(self) -> None:
        """Recount every contract's families (positions were set without apply_position)."""
        for contract_id in sorted({family.contract_id for family in self.families.values()}):
            self._recount_contract(contract_id)

    def _recount_contract(self, contract_id: str) -> None:
        """Put what the contract's families can close (each once, together no more than the
        position holds) into their root's working totals, per closing side."""
        if not self.families and not self.family_counted:
            return
        wanted = {True: 0, False: 0}
        root = ""
        for family in self.families.values():
            if family.contract_id == contract_id:
                wanted[family.closes_long] += family.closing()
                root = family.root
        position = self.positions.get(contract_id)
        for closes_long in (True, False):
            key = (contract_id, closes_long)
            counted, counted_root = self.family_counted.get(key, (0, root))
            held = position.size if position is not None and position.long == closes_long else 0
            now = min(wanted[closes_long], held)
            if now == counted:
                continue
            root = root or counted_root
            if now:
                self.family_counted[key] = (now, root)
            else:
                self.family_counted.pop(key, None)
            sym = self._root(root)
            if closes_long:
                sym.working_sell += now - counted
            else:
                sym.working_buy += now - counted
            if now < counted:
                self._drop_if_empty(sym)

    def refresh_contract(self, contract_id: str, placed_at: datetime | None = None) -> None:
        """An order in the contract changed: its position's protection (only) may have
        (``placed_at``: a new stop's creation, :meth:`Position.reprotect`)."""
        position = self.positions.get(contract_id)
        if position is not None:
            orders = self.orders_by_contract.get(contract_id)
            position.reprotect(orders.values() if orders else (), self.clock.now, placed_at)

    # -- derived ----------------------------------------------------------------------------

    @property
    def unrealized_pnl(self) -> Decimal | None:
        total = Decimal(0)
        for position in self.positions.values():
            pnl = position.unrealized_pnl
            if pnl is None:
                return None
            total += pnl
        return total


__all__ = ["AccountState", "Clock", "SymbolFacts"]
