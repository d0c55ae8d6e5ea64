"""The oracle: docs/architecture.md §4's twelve rules as plain Python over a list of domain events.

Written from the rule table and ``rulesets/topstep.yaml``'s rule ids, not from the engine:
every sum is a loop over the fills kept in a dict, every window is a scan, every calendar
answer is wall-clock arithmetic in America/Chicago, every lockout a tuple in a list.
``Oracle(params).run(events)`` returns the firings the rule book demands — (engine time, rule
id, account, item, intents, lockouts set) — which ``test_oracle_matches_engine`` compares with
the YAML engine's.

Episode semantics are Prometheus's (architecture.md §3): a rule is evaluated for an account (and
item) when one of its triggers happens; it fires when its condition becomes true (or has been
true for ``for:``), and again only after an evaluation found it false — except a rule that
places or moves a stop (RULE-012, ``place_stop`` / ``move_stop``), which fires again within
its episode whenever its target (the stop price, or the size of the position the stop must
cover) moves, so the trail follows the market and a scale-in gets a bigger stop. What an
item is:

- ``each: position`` rules: every open position (on a quote: the quoted contract's only);
- ``each: symbol`` rules: every root with a position or a working order, plus the event's root;
- rules about "the order" (RULE-001/002 order sides): the order of the event (on a
  reconciliation: every working order), never one whose last update only filled more of it;
- rules about "the resting orders" (RULE-001/002 judged again on a position or order
  change): every working order, each counted with the orders on its side kept before it —
  stops closing a position first, then the others oldest first (creation time, then id) —
  so that only the newest beyond a limit break it; one breaks it only if it still does
  ``resting_order_grace`` seconds after it first did (judged again then, on the facts of
  that instant, whatever event comes; an order change that ends the breach meanwhile — a
  resize, a cancel, a fill — ends the wait at once);
- rules about "the closing order's P&L" (RULE-007): the order of the fill, forgotten when the
  trading day changes;
- everything else: the account.

A reconciliation evaluates every rule that does not need the fill or quote that triggered it.
Lockout enforcement (orders refused while locked) is the engine's business and not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractInfo,
    ContractLoaded,
    Event,
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

CHICAGO = ZoneInfo("America/Chicago")
DAY_STARTS = time(17, 0)
RTH = (time(8, 30), time(15, 0))
HOLIDAYS = frozenset({date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)})
EARLY_CLOSES = {date(2026, 11, 27): time(12, 15), date(2026, 12, 24): time(12, 15)}
ALIASES = {"EP": "ES", "ENQ": "NQ", "GCE": "GC", "CLE": "CL", "MCLE": "MCL", "USA": "ZB"}
MICROS = frozenset({"MES", "MNQ", "M2K", "MYM", "MCL", "MGC", "MBT"})
#: a micro's product is its mini's (MBT's is bitcoin, BTC); any other ticker is its own
PRODUCTS = {"MES": "ES", "MNQ": "NQ", "M2K": "RTY", "MYM": "YM", "MCL": "CL", "MGC": "GC"}
PRODUCTS["MBT"] = "BTC"

#: The rule book's numbers (docs/architecture.md §4), under the ruleset's param names so that a test
#: overriding a param overrides it here too.
DEFAULTS: dict[str, object] = {
    "max_contracts": 5,
    "per_symbol_limits": {"ES": 5, "NQ": 5, "CL": 3, "GC": 3, "MES": 50, "MNQ": 50},
    "unknown_symbol_limit": 1,
    "daily_loss_limit": 500,
    "max_unrealized_loss": 300,
    "max_unrealized_profit": 1000,
    "max_trades_per_minute": 3,
    "max_trades_per_hour": 10,
    "max_trades_per_day": 50,
    "loss_tier_1": 100,
    "loss_tier_2": 200,
    "loss_tier_3": 300,
    "blocked_symbols": ("RTY", "BTC"),
    "breakeven_ticks": 10,
    "breakeven_offset_ticks": 0,
    "trail_start_ticks": 20,
    "trail_ticks": 10,
    "stop_loss_grace": 30,
    "max_stop_risk": 1000,
    "resting_order_grace": 2,
}

#: Off by default (``enabled: false``): an account overlay switches them on.
DISABLED = frozenset({"trade-management-breakeven", "trade-management-trail"})
FREQUENCY_WINDOWS = (timedelta(seconds=60), timedelta(minutes=60))

#: stands in for an unknown creation time in a sort key (one sorts after every known one)
NEVER = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
STOP_GRACE = timedelta(seconds=30)
ORDER_COOLDOWN = timedelta(minutes=5)

WORKING = (OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.SUSPENDED)
STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)

#: rule id → (RULE number, triggers, what an item is), in file order.
RULES: dict[str, tuple[str, frozenset[str], str]] = {
    "max-contracts": ("RULE-001", frozenset({"position"}), "account"),
    "max-contracts-order": ("RULE-001", frozenset({"order"}), "order"),
    "max-contracts-resting": ("RULE-001", frozenset({"position", "order"}), "resting"),
    "max-contracts-per-instrument": ("RULE-002", frozenset({"position"}), "symbol"),
    "max-contracts-per-instrument-order": ("RULE-002", frozenset({"order"}), "order"),
    "max-contracts-per-instrument-resting": (
        "RULE-002",
        frozenset({"position", "order"}),
        "resting",
    ),
    "daily-realized-loss": ("RULE-003", frozenset({"trade", "reconcile"}), "account"),
    "daily-unrealized-loss": ("RULE-004", frozenset({"quote", "position"}), "position"),
    "max-unrealized-profit": ("RULE-005", frozenset({"quote", "position"}), "position"),
    "trade-frequency-minute": ("RULE-006", frozenset({"trade"}), "account"),
    "trade-frequency-hour": ("RULE-006", frozenset({"trade"}), "account"),
    "trade-frequency-day": ("RULE-006", frozenset({"trade"}), "account"),
    "cooldown-after-loss-1": ("RULE-007", frozenset({"trade"}), "fill-order"),
    "cooldown-after-loss-2": ("RULE-007", frozenset({"trade"}), "fill-order"),
    "cooldown-after-loss-3": ("RULE-007", frozenset({"trade"}), "fill-order"),
    "no-stop-loss-grace": ("RULE-008", frozenset({"position", "order", "clock"}), "position"),
    "no-stop-loss-total": ("RULE-008", frozenset({"position", "order", "clock"}), "position"),
    "session-block-outside": ("RULE-009", frozenset({"position", "order", "clock"}), "account"),
    "auth-loss-guard": ("RULE-010", frozenset({"account", "reconcile"}), "account"),
    "symbol-blocks": ("RULE-011", frozenset({"position", "order"}), "symbol"),
    "trade-management-breakeven": (
        "RULE-012",
        frozenset({"quote", "position", "order"}),
        "position",
    ),
    "trade-management-trail": ("RULE-012", frozenset({"quote", "position", "order"}), "position"),
}

#: RULE-001/002's resting-order rules: each waits resting_order_grace seconds before it fires.
RESTING = frozenset({"max-contracts-resting", "max-contracts-per-instrument-resting"})

#: Rules whose action places or moves a stop: they fire again when the target moves.
RETARGETED = frozenset({"trade-management-breakeven", "trade-management-trail"})

#: RULE-007's tiers: (param, cooldown).
LOSS_TIERS = {
    "cooldown-after-loss-1": ("loss_tier_1", timedelta(minutes=5)),
    "cooldown-after-loss-2": ("loss_tier_2", timedelta(minutes=15)),
    "cooldown-after-loss-3": ("loss_tier_3", timedelta(minutes=30)),
}

TRIGGER_OF: dict[type[Event], str] = {
    AccountUpdate: "account",
    OrderUpdate: "order",
    PositionUpdate: "position",
    TradeFill: "trade",
    Quote: "quote",
    ClockTick: "clock",
    Reconciled: "reconcile",
}

Intent = tuple[object, ...]
LockTuple = tuple[str, str | None, datetime | None]


# -- calendar, by wall-clock arithmetic ----------------------------------------------------


def _chicago(day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=CHICAGO)


def trading_day(at: datetime) -> date:
    """17:00 Chicago starts the next day's trading; Saturday and Sunday belong to Monday."""
    local = at.astimezone(CHICAGO)
    day = local.date()
    if local.time() >= DAY_STARTS:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def trading_day_end(at: datetime) -> datetime:
    """17:00 Chicago on the trading day's own date."""
    return _chicago(trading_day(at), DAY_STARTS)


def _session(day: date) -> tuple[datetime, datetime] | None:
    if day.weekday() >= 5 or day in HOLIDAYS:
        return None
    end = min(RTH[1], EARLY_CLOSES.get(day, RTH[1]))
    return _chicago(day, RTH[0]), _chicago(day, end)


def rth_open(at: datetime) -> bool:
    window = _session(at.astimezone(CHICAGO).date())
    return window is not None and window[0] <= at < window[1]


def next_rth_start(at: datetime) -> datetime:
    day = at.astimezone(CHICAGO).date()
    for _ in range(30):
        window = _session(day)
        if window is not None and window[0] > at:
            return window[0]
        day += timedelta(days=1)
    raise AssertionError("no session within 30 days")


# -- the account book ----------------------------------------------------------------------


@dataclass
class Holding:
    """An open position as the oracle sees it."""

    contract_id: str
    long: bool
    size: int
    avg: Decimal
    best: Decimal | None = None
    #: (time, whether the position counted as protected from then on), one entry per change
    history: list[tuple[datetime, bool]] = field(default_factory=list)
    #: since when it has had no covering stop at all (None while it has one)
    bare_since: datetime | None = None
    bare_known: bool = False


@dataclass
class Book:
    """Everything the oracle knows about one account."""

    account_id: int
    can_trade: bool = True
    orders: dict[int, OrderUpdate] = field(default_factory=dict)
    #: working orders whose last update only filled more of them (same size, type, prices)
    only_filled: set[int] = field(default_factory=set)
    holdings: dict[str, Holding] = field(default_factory=dict)
    #: trade id → (fill, engine time first seen)
    fills: dict[int, tuple[TradeFill, datetime]] = field(default_factory=dict)
    #: (rule, scope, symbol) → end (None: a while-lock)
    locks: dict[tuple[str, str, str | None], datetime | None] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class OracleFiring:
    at: datetime
    rule: str
    account: int
    item: str
    intents: tuple[Intent, ...]
    locks: tuple[LockTuple, ...]


#: a join-bid or join-ask rests as a limit at the best price: a closing one counts as a limit
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.JOIN_BID, OrderType.JOIN_ASK})


def _fills_only(before: OrderUpdate, after: OrderUpdate) -> bool:
    """The rule book: an update that only fills more of a working order (its contract, side,
    type, size and prices unchanged) is the market's doing, not a modify of the trader's."""
    return (
        after.fill_volume > before.fill_volume
        and after.contract_id == before.contract_id
        and after.side is before.side
        and after.type is before.type
        and after.size == before.size
        and after.limit_price == before.limit_price
        and after.stop_price == before.stop_price
        and after.trail_distance == before.trail_distance
    )


class Oracle:
    """Feed events with :meth:`apply`; read :attr:`firings`."""

    def __init__(
        self, params: Mapping[str, object] | None = None, enable: Iterable[str] = ()
    ) -> None:
        self.p: dict[str, object] = dict(DEFAULTS)
        self.p.update(params or {})
        switched_on = set(enable)
        self.rules = {
            rule: spec
            for rule, spec in RULES.items()
            if rule not in DISABLED or rule in switched_on
        }
        self.contracts: dict[str, ContractInfo] = {}
        self.quotes: dict[str, Quote] = {}
        self.books: dict[int, Book] = {}
        #: (rule, account, item) → time the condition became true (pending or firing)
        self.since: dict[tuple[str, int, str], datetime] = {}
        self.firing: set[tuple[str, int, str]] = set()
        #: the stop price a firing stop-management rule last asked for
        self.targets: dict[tuple[str, int, str], object] = {}
        self.firings: list[OracleFiring] = []
        self.day: date | None = None

    # -- small facts -----------------------------------------------------------------------
    def _num(self, name: str) -> Decimal:
        return Decimal(str(self.p[name]))

    def _root(self, contract_id: str) -> str:
        raw = contract_id.split(".")[3]
        return ALIASES.get(raw, raw)

    def _units(self, contract_id: str) -> int:
        return 1 if self._root(contract_id) in MICROS else 10

    def _symbol_limit(self, root: str) -> int:
        limits = self.p["per_symbol_limits"]
        assert isinstance(limits, dict)
        return int(limits.get(root, self.p["unknown_symbol_limit"]))

    def _mark(self, holding: Holding) -> Decimal | None:
        quote = self.quotes.get(holding.contract_id)
        if quote is None:
            return None
        last, bid, ask = quote.last, quote.bid, quote.ask
        stale = last is not None and (
            (bid is not None and last < bid) or (ask is not None and last > ask)
        )
        if last is not None and not stale:
            return last
        side = bid if holding.long else ask
        return side if side is not None else last

    def _profit_ticks(self, holding: Holding) -> Decimal | None:
        mark = self._mark(holding)
        info = self.contracts.get(holding.contract_id)
        if mark is None or info is None:
            return None
        move = mark - holding.avg if holding.long else holding.avg - mark
        return move / info.tick_size

    def _unrealized(self, holding: Holding) -> Decimal | None:
        ticks = self._profit_ticks(holding)
        info = self.contracts.get(holding.contract_id)
        if ticks is None or info is None:
            return None
        return ticks * info.tick_value * holding.size

    def _day_pnl(self, book: Book, now: datetime) -> Decimal:
        today = trading_day(now)
        total = Decimal(0)
        for fill, first_seen in book.fills.values():
            if trading_day(fill.created_at or first_seen) == today:
                total += (fill.pnl or Decimal(0)) - fill.fees - fill.commissions
        return total

    def _fills_within(self, book: Book, now: datetime, within: timedelta) -> int:
        return sum(1 for _fill, seen in book.fills.values() if now - within <= seen <= now)

    def _fills_today(self, book: Book, now: datetime) -> int:
        today = trading_day(now)
        return sum(
            1 for fill, seen in book.fills.values() if trading_day(fill.created_at or seen) == today
        )

    def _order_pnl(self, book: Book, order_id: int) -> Decimal | None:
        total: Decimal | None = None
        for fill, _seen in book.fills.values():
            if fill.order_id == order_id and fill.pnl is not None:
                net = fill.pnl - fill.fees - fill.commissions
                total = net if total is None else total + net
        return total

    def _working(self, book: Book) -> list[OrderUpdate]:
        return [o for o in book.orders.values() if o.status in WORKING]

    def _net(self, book: Book, contract_id: str) -> int:
        holding = book.holdings.get(contract_id)
        if holding is None:
            return 0
        return holding.size if holding.long else -holding.size

    def _reduces_only(self, book: Book, order: OrderUpdate) -> bool:
        net = self._net(book, order.contract_id)
        remaining = order.size - order.fill_volume
        if order.side is OrderSide.BUY:
            return net < 0 and remaining <= -net
        return net > 0 and remaining <= net

    def _if_filled_account_lots(
        self, book: Book, side: OrderSide, among: list[OrderUpdate] | None = None
    ) -> Decimal:
        """Σ over roots of |net + same-side working| × weight, in lots (the working orders
        ``among``, when given)."""
        sign = 1 if side is OrderSide.BUY else -1
        orders = self._working(book) if among is None else among
        roots = {self._root(c) for c in book.holdings}
        roots |= {self._root(o.contract_id) for o in orders}
        units = 0
        for root in roots:
            net = sum(self._net(book, c) for c in book.holdings if self._root(c) == root)
            pending = sum(
                o.size - o.fill_volume
                for o in orders
                if self._root(o.contract_id) == root and o.side is side
            )
            weight = 1 if root in MICROS else 10
            units += abs(net + sign * pending) * weight
        return Decimal(units) / 10

    def _if_filled_symbol(
        self, book: Book, side: OrderSide, root: str, among: list[OrderUpdate] | None = None
    ) -> int:
        sign = 1 if side is OrderSide.BUY else -1
        orders = self._working(book) if among is None else among
        net = sum(self._net(book, c) for c in book.holdings if self._root(c) == root)
        pending = sum(
            o.size - o.fill_volume
            for o in orders
            if self._root(o.contract_id) == root and o.side is side
        )
        return max(0, sign * net + pending)

    def _closing_stop(self, book: Book, order: OrderUpdate) -> bool:
        """A stop on the other side of its contract's position: that position's protection."""
        net = self._net(book, order.contract_id)
        closes = net < 0 if order.side is OrderSide.BUY else net > 0
        return order.type in STOPS and closes

    def _kept_before(self, book: Book, order: OrderUpdate) -> list[OrderUpdate]:
        """The order and the working orders on its side kept before it: closing stops first,
        then the others oldest first (an unknown creation time is the newest), then by id."""

        def rank(o: OrderUpdate) -> tuple[int, int, datetime, int]:
            return (
                0 if self._closing_stop(book, o) else 1,
                1 if o.created_at is None else 0,
                o.created_at or NEVER,
                o.order_id,
            )

        mine = rank(order)
        return [o for o in self._working(book) if o.side is order.side and rank(o) <= mine]

    def _protecting_stops(self, book: Book, holding: Holding) -> list[OrderUpdate]:
        """Working stops on the opposite side whose trigger is on the loss side of the mark
        (at the mark counts; before any quote, of the entry); trailing stops at any distance."""
        reference = self._mark(holding)
        if reference is None:
            reference = holding.avg
        stops = []
        for order in self._working(book):
            if order.contract_id != holding.contract_id or order.type not in STOPS:
                continue
            if (order.side is OrderSide.SELL) != holding.long:
                continue
            if order.type is not OrderType.TRAILING_STOP:
                if order.stop_price is None:
                    continue
                if holding.long and order.stop_price > reference:
                    continue
                if not holding.long and order.stop_price < reference:
                    continue
            stops.append(order)
        return stops

    def _protected(self, book: Book, holding: Holding) -> bool:
        covered = sum(o.size - o.fill_volume for o in self._protecting_stops(book, holding))
        return covered >= holding.size

    def _stop_risk(self, book: Book, holding: Holding) -> Decimal | None:
        """Money the protecting stops lose from the entry, tightest first, up to the size."""
        info = self.contracts.get(holding.contract_id)
        stops = self._protecting_stops(book, holding)
        if info is None or not stops or any(o.stop_price is None for o in stops):
            return None
        losses = []
        for o in stops:
            assert o.stop_price is not None
            distance = holding.avg - o.stop_price if holding.long else o.stop_price - holding.avg
            losses.append((distance / info.tick_size * info.tick_value, o.size - o.fill_volume))
        losses.sort()
        risk = Decimal(0)
        left = holding.size
        for per_contract, size in losses:
            take = min(size, left)
            risk += per_contract * take
            left -= take
        return risk

    def _counts(self, book: Book, holding: Holding) -> bool:
        """Protected by stops that risk at most max_stop_risk (a risk nobody knows counts)."""
        if not self._protected(book, holding):
            return False
        risk = self._stop_risk(book, holding)
        return risk is None or risk <= self._num("max_stop_risk")

    def _uncounted(self, holding: Holding, now: datetime) -> timedelta:
        """Time since the position opened that it did not count as protected: every spell."""
        total = timedelta(0)
        ends = [at for at, _counted in holding.history[1:]] + [now]
        for (start, counted), end in zip(holding.history, ends, strict=True):
            if not counted and end > start:
                total += end - start
        return total

    def _record_protection(self, at: datetime) -> None:
        for book in self.books.values():
            for holding in book.holdings.values():
                counted = self._counts(book, holding)
                if not holding.history or holding.history[-1][1] != counted:
                    holding.history.append((at, counted))
                bare = not self._protected(book, holding)
                if not holding.bare_known:
                    holding.bare_known = True
                    holding.bare_since = at if bare else None
                elif bare and holding.bare_since is None:
                    holding.bare_since = at
                elif not bare:
                    holding.bare_since = None

    def _stop_price(self, book: Book, holding: Holding) -> Decimal | None:
        prices = [
            o.stop_price for o in self._protecting_stops(book, holding) if o.stop_price is not None
        ]
        if not prices:
            return None
        return max(prices) if holding.long else min(prices)

    # -- events ----------------------------------------------------------------------------
    def run(self, events: Iterable[Event]) -> list[OracleFiring]:
        for event in events:
            self.apply(event)
        return self.firings

    def apply(self, event: Event) -> list[OracleFiring]:
        before = len(self.firings)
        today = trading_day(event.at)
        if self.day is not None and today != self.day:
            # per-fill episodes belong to the day they happened
            for key in [k for k in self.since if RULES[k[0]][2] == "fill-order"]:
                del self.since[key]
                self.firing.discard(key)
        self.day = today
        root: str | None = None
        accounts: list[int]
        if isinstance(event, ContractLoaded):
            self.contracts[event.contract.contract_id] = event.contract
            self._record_protection(event.at)
            return []
        if isinstance(event, AccountUpdate):
            self._book(event.account_id).can_trade = event.can_trade
            accounts = [event.account_id]
        elif isinstance(event, OrderUpdate):
            book = self._book(event.account_id)
            prior = book.orders.get(event.order_id)
            if prior is not None and _fills_only(prior, event):
                book.only_filled.add(event.order_id)
            else:
                book.only_filled.discard(event.order_id)
            if event.status in WORKING:
                book.orders[event.order_id] = event
            else:
                book.orders.pop(event.order_id, None)
            accounts = [event.account_id]
            root = self._root(event.contract_id)
        elif isinstance(event, PositionUpdate):
            self._position(event)
            accounts = [event.account_id]
            root = self._root(event.contract_id)
        elif isinstance(event, TradeFill):
            book = self._book(event.account_id)
            if event.voided:
                book.fills.pop(event.trade_id, None)
            else:
                # windows place a fill at its exchange time when that is earlier than when it
                # was first seen (architecture.md §3): a reconciled morning is not "the last 60 s"
                earlier = book.fills.get(event.trade_id)
                seen = event.at if event.created_at is None else min(event.at, event.created_at)
                book.fills[event.trade_id] = (event, earlier[1] if earlier else seen)
            accounts = [event.account_id]
        elif isinstance(event, Quote):
            self.quotes[event.contract_id] = event
            accounts = []
            for account, book in sorted(self.books.items()):
                holding = book.holdings.get(event.contract_id)
                if holding is not None:
                    self._better(holding)
                    accounts.append(account)
        elif isinstance(event, Reconciled):
            accounts = sorted(self.books) if event.account_id is None else [event.account_id]
        else:
            accounts = sorted(self.books)
        self._record_protection(event.at)
        for account in accounts:
            self._expire_locks(self._book(account), event.at)
        self._resting_deadlines(event)
        trigger = TRIGGER_OF.get(type(event))
        if trigger is not None:
            for account in accounts:
                self._evaluate(trigger, self._book(account), event, root)
        return self.firings[before:]

    def _book(self, account: int) -> Book:
        if account not in self.books:
            self.books[account] = Book(account)
        return self.books[account]

    def _better(self, holding: Holding) -> None:
        mark = self._mark(holding)
        if mark is None:
            return
        if holding.best is None or (mark > holding.best if holding.long else mark < holding.best):
            holding.best = mark

    def _position(self, event: PositionUpdate) -> None:
        book = self._book(event.account_id)
        if event.size == 0 or event.type is PositionType.UNDEFINED:
            book.holdings.pop(event.contract_id, None)
            return
        long = event.type is PositionType.LONG
        current = book.holdings.get(event.contract_id)
        if current is None or current.long != long:
            current = Holding(event.contract_id, long, event.size, event.average_price)
            book.holdings[event.contract_id] = current
        else:
            current.size = event.size
            current.avg = event.average_price
        self._better(current)

    def _expire_locks(self, book: Book, now: datetime) -> None:
        for key, end in list(book.locks.items()):
            timed_out = end is not None and now >= end
            trading_again = end is None and key[0] == "auth-loss-guard" and book.can_trade
            if timed_out or trading_again:
                del book.locks[key]

    # -- rule evaluation -------------------------------------------------------------------
    def _items(
        self, rule: str, trigger: str, book: Book, event: Event, root: str | None
    ) -> list[str]:
        kind = RULES[rule][2]
        if kind == "account":
            return [""]
        if kind == "position":
            if trigger == "quote":
                assert isinstance(event, Quote)
                return [event.contract_id] if event.contract_id in book.holdings else []
            return sorted(book.holdings)
        if kind == "symbol":
            roots = {self._root(c) for c in book.holdings}
            roots |= {self._root(o.contract_id) for o in self._working(book)}
            if root is not None:
                roots.add(root)
            return sorted(roots)
        if kind == "resting":
            return [str(o.order_id) for o in self._working(book)]
        if kind == "order":
            if trigger == "reconcile":
                return [str(o.order_id) for o in self._working(book)]
            assert isinstance(event, OrderUpdate)
            return [str(event.order_id)]
        assert isinstance(event, TradeFill)
        return [str(event.order_id)]

    def _evaluate(self, trigger: str, book: Book, event: Event, root: str | None) -> None:
        for rule, (_tag, triggers, kind) in self.rules.items():
            if trigger == "reconcile":
                if kind == "fill-order":
                    continue
            elif trigger not in triggers:
                continue
            items = self._items(rule, trigger, book, event, root)
            full = kind in ("position", "symbol", "resting") and trigger != "quote"
            if full:
                live = set(items)
                for key in [k for k in self.since if k[0] == rule and k[1] == book.account_id]:
                    if key[2] not in live:
                        del self.since[key]
                        self.firing.discard(key)
            for item in items:
                self._step(rule, book, item, event)

    def _step(self, rule: str, book: Book, item: str, event: Event) -> None:
        key = (rule, book.account_id, item)
        now = event.at
        breach = self._condition(rule, book, item, now, event)
        if breach is None:
            self.since.pop(key, None)
            self.firing.discard(key)
            return
        if key in self.firing:
            # a stop rule: while the breach lasts, each new target (price, size) is a new move
            if rule in RETARGETED and self.targets.get(key) != breach["to"]:
                self.targets[key] = breach["to"]
                intents, locks = self._actions(rule, book, item, now, breach)
                self.firings.append(OracleFiring(now, rule, book.account_id, item, intents, locks))
            return
        since = self.since.setdefault(key, now)
        if rule == "no-stop-loss-grace" and now - since < STOP_GRACE:
            return
        if rule in RESTING and now - since < self._resting_grace():
            return
        self.firing.add(key)
        if "to" in breach:
            self.targets[key] = breach["to"]
        intents, locks = self._actions(rule, book, item, now, breach)
        self.firings.append(OracleFiring(now, rule, book.account_id, item, intents, locks))

    def _resting_grace(self) -> timedelta:
        return timedelta(seconds=float(self._num("resting_order_grace")))

    def _resting_deadlines(self, event: Event) -> None:
        """A resting order waiting since resting_order_grace seconds or more is judged again
        now, on any event (its position change is long past): still too big, it goes."""
        grace = self._resting_grace()
        due = [
            key
            for key, since in self.since.items()
            if key[0] in RESTING and key not in self.firing and event.at - since >= grace
        ]
        for rule, account, item in sorted(due):
            self._step(rule, self._book(account), item, event)

    def next_deadline(self) -> datetime | None:
        """The earliest instant a pending ``for:`` would fire or a timed lock would end."""
        deadlines = [
            since + STOP_GRACE
            for key, since in self.since.items()
            if key[0] == "no-stop-loss-grace" and key not in self.firing
        ]
        deadlines += [
            since + self._resting_grace()
            for key, since in self.since.items()
            if key[0] in RESTING and key not in self.firing
        ]
        grace = timedelta(seconds=int(self._num("stop_loss_grace")))
        for book in self.books.values():
            for contract_id, holding in book.holdings.items():
                key = ("no-stop-loss-total", book.account_id, contract_id)
                if holding.history and not holding.history[-1][1] and key not in self.firing:
                    last = holding.history[-1][0]
                    deadlines.append(last + grace - self._uncounted(holding, last))
            deadlines += [end for end in book.locks.values() if end is not None]
        return min(deadlines) if deadlines else None

    def _condition(
        self, rule: str, book: Book, item: str, now: datetime, event: Event
    ) -> dict[str, object] | None:
        """The breach, as the values the actions need; None when the rule holds."""
        if rule == "max-contracts":
            units = sum(h.size * self._units(h.contract_id) for h in book.holdings.values())
            return {} if Decimal(units) / 10 > self._num("max_contracts") else None
        if rule in ("max-contracts-order", "max-contracts-per-instrument-order"):
            order = book.orders.get(int(item))
            if order is None or order.order_id in book.only_filled:
                # an update that only filled more of it is no place or modify of the trader's
                return None
            # a closing limit order counts with the others: over the limit if they all filled,
            # and then breaking the rule unless the whole leaves less than now (a closing stop
            # or market order never breaks it)
            symbol = self._root(order.contract_id)
            if rule == "max-contracts-order":
                after = self._if_filled_account_lots(book, order.side)
                limit = self._num("max_contracts")
                now_open = (
                    Decimal(
                        sum(h.size * self._units(h.contract_id) for h in book.holdings.values())
                    )
                    / 10
                )
            else:
                after = Decimal(self._if_filled_symbol(book, order.side, symbol))
                limit = Decimal(self._symbol_limit(symbol))
                now_open = Decimal(
                    sum(h.size for c, h in book.holdings.items() if self._root(c) == symbol)
                )
            closing_limit = self._reduces_only(book, order) and order.type in LIMIT_TYPES
            over = after > limit and (
                not self._reduces_only(book, order) or (closing_limit and after > now_open)
            )
            return (
                {"order": order.order_id, "symbol": self._root(order.contract_id)} if over else None
            )
        if rule in ("max-contracts-resting", "max-contracts-per-instrument-resting"):
            order = book.orders.get(int(item))
            if order is None:
                return None
            kept = self._kept_before(book, order)
            symbol = self._root(order.contract_id)
            if rule == "max-contracts-resting":
                after = self._if_filled_account_lots(book, order.side, kept)
                limit = self._num("max_contracts")
                now_open = (
                    Decimal(
                        sum(h.size * self._units(h.contract_id) for h in book.holdings.values())
                    )
                    / 10
                )
            else:
                after = Decimal(self._if_filled_symbol(book, order.side, symbol, kept))
                limit = Decimal(self._symbol_limit(symbol))
                now_open = Decimal(
                    sum(h.size for c, h in book.holdings.items() if self._root(c) == symbol)
                )
            closing_limit = self._reduces_only(book, order) and order.type in LIMIT_TYPES
            over = after > limit and (
                not self._reduces_only(book, order) or (closing_limit and after > now_open)
            )
            return {"order": order.order_id} if over else None
        if rule == "max-contracts-per-instrument":
            size = sum(h.size for c, h in book.holdings.items() if self._root(c) == item)
            limit = self._symbol_limit(item)
            return {"limit": limit} if size > limit else None
        if rule == "daily-realized-loss":
            return {} if self._day_pnl(book, now) <= -self._num("daily_loss_limit") else None
        if rule in ("daily-unrealized-loss", "max-unrealized-profit"):
            pnl = self._unrealized(book.holdings[item])
            if pnl is None:
                return None
            if rule == "daily-unrealized-loss":
                return {} if pnl <= -self._num("max_unrealized_loss") else None
            return {} if pnl >= self._num("max_unrealized_profit") else None
        if rule == "trade-frequency-minute":
            count = self._fills_within(book, now, FREQUENCY_WINDOWS[0])
            return {} if count > self._num("max_trades_per_minute") else None
        if rule == "trade-frequency-hour":
            count = self._fills_within(book, now, FREQUENCY_WINDOWS[1])
            return {} if count > self._num("max_trades_per_hour") else None
        if rule == "trade-frequency-day":
            return {} if self._fills_today(book, now) > self._num("max_trades_per_day") else None
        if rule in LOSS_TIERS:
            assert isinstance(event, TradeFill)
            pnl = self._order_pnl(book, event.order_id)
            if pnl is None:
                return None
            return {} if pnl <= -self._num(LOSS_TIERS[rule][0]) else None
        if rule == "no-stop-loss-grace":
            return None if self._protected(book, book.holdings[item]) else {}
        if rule == "no-stop-loss-total":
            # every spell added up; one spell long enough is no-stop-loss-grace's
            grace = timedelta(seconds=int(self._num("stop_loss_grace")))
            holding = book.holdings[item]
            spell = now - holding.bare_since if holding.bare_since is not None else timedelta(0)
            return {} if self._uncounted(holding, now) >= grace and spell < grace else None
        if rule == "session-block-outside":
            exposed = bool(self._working(book)) or bool(book.holdings)
            return {} if exposed and not rth_open(now) else None
        if rule == "auth-loss-guard":
            return None if book.can_trade else {}
        if rule == "symbol-blocks":
            blocked = self.p["blocked_symbols"]
            assert isinstance(blocked, tuple | list)
            size = sum(h.size for c, h in book.holdings.items() if self._root(c) == item)
            working = [o for o in self._working(book) if self._root(o.contract_id) == item]
            listed = item in blocked or PRODUCTS.get(item, item) in blocked
            return {} if listed and (size > 0 or working) else None
        if rule in ("trade-management-breakeven", "trade-management-trail"):
            return self._management(rule, book, book.holdings[item])
        raise AssertionError(rule)

    def _management(self, rule: str, book: Book, holding: Holding) -> dict[str, object] | None:
        info = self.contracts.get(holding.contract_id)
        ticks = self._profit_ticks(holding)
        if info is None or ticks is None:
            return None
        sign = 1 if holding.long else -1
        if rule == "trade-management-breakeven":
            if ticks < self._num("breakeven_ticks"):
                return None
            target = holding.avg + sign * self._num("breakeven_offset_ticks") * info.tick_size
        else:
            if ticks < self._num("trail_start_ticks") or holding.best is None:
                return None
            target = holding.best - sign * self._num("trail_ticks") * info.tick_size
        stop = self._stop_price(book, holding)
        tighter = stop is None or (stop < target if holding.long else stop > target)
        return {"to": (target, holding.size)} if tighter else None

    def _close(self, contract_id: str) -> list[Intent]:
        return [("cancel_orders", None, contract_id, None), ("close_position", contract_id)]

    def _flatten(self, book: Book) -> list[Intent]:
        intents: list[Intent] = [("cancel_orders", None, None, None)]
        intents += [("close_position", c) for c in book.holdings]
        return intents

    def _lock(
        self, book: Book, rule: str, scope: str, symbol: str | None, end: datetime | None
    ) -> LockTuple:
        """Add a lock; the same (rule, scope, symbol) keeps the later end."""
        key = (rule, scope, symbol)
        if key in book.locks:
            current = book.locks[key]
            if end is not None and current is not None and current > end:
                end = current
        book.locks[key] = end
        return (scope, symbol, end)

    def _actions(
        self, rule: str, book: Book, item: str, now: datetime, breach: dict[str, object]
    ) -> tuple[tuple[Intent, ...], tuple[LockTuple, ...]]:
        intents: list[Intent] = []
        locks: list[LockTuple] = []
        if rule == "max-contracts":
            units = int(self._num("max_contracts") * 10)
            intents.append(("reduce_to", "account", units, "units", "newest_first"))
        elif rule == "max-contracts-order":
            intents.append(("cancel_order", breach["order"]))
            locks.append(self._lock(book, rule, "account", None, now + ORDER_COOLDOWN))
        elif rule == "max-contracts-per-instrument-order":
            intents.append(("cancel_order", breach["order"]))
            symbol = breach["symbol"]
            assert isinstance(symbol, str)
            locks.append(self._lock(book, rule, "symbol", symbol, now + ORDER_COOLDOWN))
        elif rule in ("max-contracts-resting", "max-contracts-per-instrument-resting"):
            intents.append(("cancel_order", breach["order"]))  # no cooldown: nothing new placed
        elif rule == "max-contracts-per-instrument":
            intents.append(("reduce_to", item, breach["limit"], "contracts", "newest_first"))
        elif rule == "daily-realized-loss":
            intents += self._flatten(book)
            locks.append(self._lock(book, rule, "account", None, trading_day_end(now)))
        elif rule in (
            "daily-unrealized-loss",
            "max-unrealized-profit",
            "no-stop-loss-grace",
            "no-stop-loss-total",
        ):
            intents += self._close(item)
        elif rule == "trade-frequency-minute":
            locks.append(self._lock(book, rule, "account", None, now + timedelta(seconds=60)))
        elif rule == "trade-frequency-hour":
            locks.append(self._lock(book, rule, "account", None, now + timedelta(minutes=30)))
        elif rule == "trade-frequency-day":
            locks.append(self._lock(book, rule, "account", None, trading_day_end(now)))
        elif rule in LOSS_TIERS:
            locks.append(self._lock(book, rule, "account", None, now + LOSS_TIERS[rule][1]))
        elif rule == "session-block-outside":
            intents += self._flatten(book)
            locks.append(self._lock(book, rule, "account", None, next_rth_start(now)))
        elif rule == "auth-loss-guard":
            intents += self._flatten(book)
            intents.append(("alert", "critical"))
            locks.append(self._lock(book, rule, "account", None, None))
        elif rule == "symbol-blocks":
            intents.append(("cancel_orders", item, None, None))
            for contract_id in book.holdings:
                if self._root(contract_id) == item:
                    intents += self._close(contract_id)
            locks.append(self._lock(book, rule, "symbol", item, None))
        elif rule in ("trade-management-breakeven", "trade-management-trail"):
            price, size = breach["to"]  # type: ignore[misc]
            intents.append(("stop_at", item, price, size))
        else:
            raise AssertionError(rule)
        return tuple(intents), tuple(locks)
