"""Which rules an event can change: a dependency index from facts to the rules that read them.

Built once per ruleset by the engine. Every rule's ``when:`` (and, for stop-management rules,
the arguments that compute the stop's target) names the facts it reads
(``CompiledExpression.names``). Every event changes a known set of fact keys — a key is a fact
name (``account.equity``) or a whole family (``order.*``) — and may confine its changes to one
*item*: a quote, an order or a position update changes the ``position`` facts of one contract
only, and the ``symbol`` facts of one root. The engine then re-evaluates a woken rule only when
the event changed what it reads, and an ``each:`` rule only for the item whose facts changed.

What an event changes, by its kind (:data:`CHANGES`):

- a clock tick or a connection change: nothing (time-dependent facts are volatile, below);
- a quote that repeats the contract's last, bid and ask: only the ``quote`` it binds;
- a quote that moves a price: the quote, the position in its contract (mark, P&L, best price,
  protection) and the account-wide open P&L (``account.unrealized_pnl``, ``account.equity``,
  ``day.unrealized_pnl``, ``day.net_pnl``);
- an order update: every order's facts (``if_filled_*`` sum over the working orders), the
  account's working-order counts, the position in its contract (protection) and its root's
  ``symbol`` facts;
- a position update: the same, plus the account's open size and open P&L;
- a fill: ``trade``, ``day``, ``week``, ``trades`` and its root's ``symbol``
  (``traded_today``) — the ledger, never a position, an order or the account's balance;
- an account update: the account's name, balance, ``can_trade``, starting and end-of-day high
  balance, and the equity read from the balance (the day's, the week's and the fill windows'
  facts come from fills);
- anything else (a reconcile, contract metadata, an own-order notice, the daily reset, an
  event kind this table does not know): everything.

Time-dependent facts that change only at instants the engine knows are indexed by those
instants: ``session.open(name)`` changes only at a session's start or end, and the engine
marks the rules reading it stale when time reaches the next one (and asks for a clock tick
there); ``session.trading_day``, ``is_trading_day``, ``is_holiday`` and ``weekday`` change
only at the daily reset, which changes everything.

Being conservative is the rule: a fact whose value moves with time or with lockouts
(``session.time``, ``session.minutes_to_*``, every other method, ``position.age``,
``unprotected_*``, ``*.locked``), a name
outside the fact namespace, a rule with ``for:`` or ``refire: {every: …}`` (their state moves
with time), and a rule without ``each:`` that reads the event's own item (its episode follows
the event) are *volatile*: evaluated whenever their trigger wakes them, exactly as before.
A rule narrowed to one ticker by its first condition (``position.symbol == "NQ" and …``) is
indexed by it too (:func:`ticker_of`): an ``each:`` rule is evaluated only for the items of
that ticker, and a rule about the event's own order, position or root only for events of that
ticker — for any other item its first condition is false before anything else is read, so
skipping it is exact — and a book of per-ticker rules costs an event what its own ticker's
rules cost. A derived fact (``derived.NAME``) is one more key: the derived facts' module
reports the names whose value an event changed for an account (``Derivations.update``), and
the rules reading them re-evaluate in full (:data:`REPORTED_FAMILIES`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from simple_risk.engine import namespace

#: the families an event binds as its own item (a rule without ``each:`` reads the event's)
EVENT_ITEM_FAMILIES = frozenset({"order", "position", "trade", "quote", "symbol"})
#: families whose every fact moves with time or lockouts
_VOLATILE_FAMILIES = frozenset({"lock"})
#: session facts that change only at the daily reset (which changes everything)
SESSION_DAY = frozenset(
    {"session.trading_day", "session.is_trading_day", "session.is_holiday", "session.weekday"}
)
#: session facts that change only at a session's start or end: the engine knows that instant
#: (``SessionFacts.next_edge``) and marks their readers stale when time reaches it
SESSION_EDGE = "session.open"
_SESSION_INDEXED = SESSION_DAY | {SESSION_EDGE}
#: single facts that move with time or lockouts
_VOLATILE_FACTS = frozenset(
    {
        "position.age",
        "position.unprotected_for",
        "position.unprotected_total",
        "position.locked",
        "account.locked",
        "symbol.locked",
    }
)
#: what every non-fact name is: a param or a list is constant for the ruleset's life
_CONSTANT_FAMILIES = frozenset({"params"})
#: families whose changes are reported per event and account, name by name, instead of
#: following from the kind of event: ``derived`` (the engine marks their readers stale)
REPORTED_FAMILIES = frozenset({"derived"})

#: a decision for one (rule, kind of change)
SKIP, SCOPED, RUN = range(3)


@dataclass(frozen=True, slots=True)
class Change:
    """The fact keys one kind of event changes.

    ``keys`` change for every item; ``scoped`` (``position.*``, ``symbol.*``) change only for
    the event's own contract and root. A key is a fact name or ``family.*``.
    """

    name: str
    keys: frozenset[str]
    scoped: frozenset[str] = frozenset()


_EVERYTHING = "*"
_OPEN_PNL = frozenset(
    {"account.unrealized_pnl", "account.equity", "day.unrealized_pnl", "day.net_pnl"}
)


def _names(family: str, *attrs: str) -> frozenset[str]:
    return frozenset(f"{family}.{attr}" for attr in attrs)


#: The position, symbol and account facts, by what changes them. A bare family name
#: (``position``) is the set of its items: it changes when an item opens or goes. A fact of
#: these families missing here is volatile (``reads_of``), so a new fact is safe before it is
#: classified.
POSITION_PROTECTION = _names("position", "protected", "stop_price", "stop_ticks", "stop_risk")
POSITION_PRICE = _names("position", "last_price", "unrealized_pnl", "profit_ticks", "best_price")
POSITION_OWN = _names(
    "position", "contract_id", "symbol", "side", "size", "units", "avg_price"
) | _names("position", "tick_size", "tick_value")
SYMBOL_ORDERS = _names(
    "symbol", "working_buy", "working_sell", "if_filled_long", "if_filled_short", "if_filled_max"
)
SYMBOL_OWN = _names("symbol", "root", "product", "size", "units", "traded_today")
ACCOUNT_ORDERS = _names("account", "working_orders", "working_buy_orders", "working_sell_orders")
ACCOUNT_OTHER = _names(
    "account", "id", "name", "balance", "can_trade", "starting_balance", "eod_high_balance"
) | _names(
    "account",
    "open_contracts",
    "open_units",
    "open_contracts_raw",
    "open_positions",
    "unrealized_pnl",
    "equity",
)
CLASSIFIED = (
    POSITION_PROTECTION
    | POSITION_PRICE
    | POSITION_OWN
    | SYMBOL_ORDERS
    | SYMBOL_OWN
    | ACCOUNT_ORDERS
    | ACCOUNT_OTHER
)
_ITEM_SCOPED = frozenset({"position", "position.*", "symbol", "symbol.*"})

TIME = Change("time", frozenset())
QUOTE_SAME = Change("quote-same", frozenset({"quote.*"}))
QUOTE = Change("quote", frozenset({"quote.*"}) | _OPEN_PNL, POSITION_PRICE | POSITION_PROTECTION)
ORDER = Change(
    "order",
    frozenset({"order", "order.*"}) | ACCOUNT_ORDERS,
    POSITION_PROTECTION | SYMBOL_ORDERS | {"symbol"},
)
#: the account's facts a position update moves: its open size, and the open P&L
ACCOUNT_POSITIONS = _names(
    "account", "open_contracts", "open_units", "open_contracts_raw", "open_positions"
)
POSITION = Change(
    "position",
    frozenset({"order", "order.*"}) | ACCOUNT_POSITIONS | _OPEN_PNL,
    _ITEM_SCOPED,
)
FILL = Change(
    "fill",
    frozenset({"trade.*", "day.*", "week.*", "trades.*"}),
    _names("symbol", "traded_today"),
)
#: what an account update sets (``AccountState.apply_account``) and the one fact read from it
ACCOUNT_UPDATE = _names(
    "account", "name", "balance", "can_trade", "starting_balance", "eod_high_balance", "equity"
)
ACCOUNT = Change("account", ACCOUNT_UPDATE)
EVERYTHING = Change("everything", frozenset({_EVERYTHING}))

#: every kind of change, in the order of their small-integer ids (``Touched.change``)
CHANGES: tuple[Change, ...] = (TIME, QUOTE_SAME, QUOTE, ORDER, POSITION, FILL, ACCOUNT, EVERYTHING)
CHANGE_ID = {change.name: index for index, change in enumerate(CHANGES)}


@dataclass(frozen=True, slots=True)
class Reads:
    """What one rule reads, as fact keys, and whether it must run whenever it is woken."""

    keys: frozenset[str]
    volatile: bool


def reads_of(
    names: Iterable[str],
    *,
    each: str | None,
    item_mode: str,
    timed: bool,
    lists: Iterable[str] = (),
) -> Reads:
    """Classify the names a rule reads (its ``when:`` and its stop targets' arguments)."""
    constants = set(lists) | set(namespace.FUNCTIONS)
    keys: set[str] = set()
    volatile = timed
    for name in names:
        family, dot, attr = name.partition(".")
        if not dot:
            if name in constants:
                continue
            if name in namespace.FAMILIES:
                keys |= {name, name + ".*"}  # the whole item (``known(position)``)
                if name in _VOLATILE_FAMILIES or name == "session":
                    volatile = True
                continue
            volatile = True  # a name the namespace does not know: run it
            continue
        if family in _CONSTANT_FAMILIES:
            continue
        if family in REPORTED_FAMILIES:
            keys.add(name)
            continue
        if name in _SESSION_INDEXED:
            pass  # the daily reset, or the engine at a session edge, marks it changed
        elif (
            family in _VOLATILE_FAMILIES
            or family == "session"  # its clock time and the minutes to an edge
            or name in _VOLATILE_FACTS
            or name in namespace.METHODS
        ):
            volatile = True
        elif attr == "*":
            if family not in namespace.FAMILIES:
                volatile = True
        elif name not in namespace.FACTS or (
            family in ("position", "symbol", "account") and name not in CLASSIFIED
        ):
            volatile = True
        keys.add(name)
    families = {key.partition(".")[0] for key in keys}
    if each is None and (item_mode or families & EVENT_ITEM_FAMILIES):
        volatile = True  # its episode, and its bound item, follow the event
    if each is not None:
        keys.add(each)  # its items come and go
    return Reads(frozenset(keys), volatile)


def _hits(reads: frozenset[str], changed: frozenset[str]) -> frozenset[str]:
    """The keys of ``reads`` that ``changed`` covers."""
    if _EVERYTHING in changed:
        return reads
    hit = set()
    for key in reads:
        family, dot, attr = key.partition(".")
        if (
            key in changed
            or (dot and family + ".*" in changed)
            or (attr == "*" and any(c.startswith(family + ".") for c in changed))
        ):
            hit.add(key)
    return frozenset(hit)


def decide(reads: Reads, each: str | None, change: Change) -> int:
    """How a woken rule runs on an event of this kind: ``SKIP`` (nothing it reads changed),
    ``SCOPED`` (an ``each: position`` / ``each: symbol`` rule, only for the event's own
    contract or root) or ``RUN`` (as a full evaluation would)."""
    if reads.volatile or _EVERYTHING in change.keys or _hits(reads.keys, change.keys):
        return RUN
    scoped = _hits(reads.keys, change.scoped)
    if not scoped:
        return SKIP
    families = {key.partition(".")[0] for key in scoped}
    if each in ("position", "symbol") and families == {each}:
        return SCOPED
    return RUN


#: the fact that names an item's ticker, per ``each:`` family (``symbol`` is bound to the
#: item's root for every family)
_TICKER_FACTS = {
    "position": ("position.symbol", "symbol.root"),
    "order": ("order.symbol", "symbol.root"),
    "symbol": ("symbol.root",),
}


def ticker_of(source: str, each: str | None, item_mode: str = "") -> str | None:
    """The ticker a rule about items is narrowed to: its condition's first conjunct is
    ``<item>.symbol == "TICKER"`` (or ``symbol.root == …``), the item being each of its
    ``each:`` family or, without ``each:``, the event's own order, position or root
    (``item_mode``); None otherwise."""
    facts = _TICKER_FACTS.get(each or item_mode or "")
    if facts is None:
        return None
    try:
        body = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return None
    first = (
        body.values[0] if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else body
    )
    if not (
        isinstance(first, ast.Compare) and len(first.ops) == 1 and isinstance(first.ops[0], ast.Eq)
    ):
        return None
    sides = (first.left, first.comparators[0])
    for fact, literal in (sides, sides[::-1]):
        if (
            isinstance(fact, ast.Attribute)
            and isinstance(fact.value, ast.Name)
            and f"{fact.value.id}.{fact.attr}" in facts
            and isinstance(literal, ast.Constant)
            and isinstance(literal.value, str)
        ):
            return literal.value
    return None


__all__ = [
    "ACCOUNT",
    "CHANGES",
    "CHANGE_ID",
    "CLASSIFIED",
    "EVENT_ITEM_FAMILIES",
    "EVERYTHING",
    "FILL",
    "ORDER",
    "POSITION",
    "QUOTE",
    "QUOTE_SAME",
    "REPORTED_FAMILIES",
    "RUN",
    "SCOPED",
    "SESSION_DAY",
    "SESSION_EDGE",
    "SKIP",
    "TIME",
    "Change",
    "Reads",
    "decide",
    "reads_of",
    "ticker_of",
]
