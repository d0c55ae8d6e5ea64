"""The fact namespace: every name a rule expression may use, declared once.

This table is the contract between rule authors, ``rules lint``, the generated docs
(``simple-risk rules facts``) and the engine's fact store. Lint checks names against it (with a
did-you-mean), rejects optional facts used without a ``known(...)`` guard, rejects a family the
rule's triggers cannot bind, and evaluates expressions on :func:`sample_value` facts. The engine
must provide exactly these attributes, with these types, on the objects it binds.

Binding: account-level families (``account``, ``day``, ``week``, ``session``, ``trades``) are
always bound. An item family (``position``, ``order``, ``trade``, ``quote``, ``symbol``) is bound
when the rule iterates it with ``each:`` or when *every* trigger of the rule binds it from its
event (a ``trade`` trigger binds ``trade``; an ``order`` event binds ``order`` and the order's
``symbol``). ``lock`` is bound only inside a lockout's ``while:`` expression.

Types: ``money`` and ``price`` are exact ``Decimal``; ``decimal`` is an exact ratio such as
weighted lots; ``seconds`` is a ``Decimal`` number of seconds; ``int``, ``bool`` and ``str`` are
what they say. An optional fact is ``None`` when unknown — never a silent zero.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal


class FactType(enum.StrEnum):
    MONEY = "money"
    PRICE = "price"
    DECIMAL = "decimal"
    SECONDS = "seconds"
    INT = "int"
    BOOL = "bool"
    STR = "str"


@dataclass(frozen=True, slots=True)
class Fact:
    """One attribute of a family, e.g. ``day.realized_pnl``."""

    family: str
    attr: str
    type: FactType
    meaning: str
    optional: bool = False

    @property
    def name(self) -> str:
        return f"{self.family}.{self.attr}"


@dataclass(frozen=True, slots=True)
class Method:
    """A callable attribute of a family, e.g. ``session.open("rth")``.

    ``params`` name the arguments in order; a name ending in ``=`` is keyword-only
    (``trades.count(within="60s")``). ``duration_args`` are parsed as durations at compile time.
    """

    family: str
    attr: str
    params: tuple[str, ...]
    returns: FactType
    meaning: str
    optional: bool = False
    duration_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.family}.{self.attr}"


@dataclass(frozen=True, slots=True)
class Family:
    """A group of facts bound under one name in expressions."""

    name: str
    meaning: str
    #: None: always bound. Otherwise the triggers whose event binds this family.
    bound_by_triggers: frozenset[str] | None
    #: whether ``each: <name>`` may iterate it
    iterable: bool = False
    #: bound only inside a lockout's ``while:``
    lock_only: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A pure function callable by bare name."""

    name: str
    signature: str
    meaning: str


TRIGGERS: tuple[str, ...] = ("account", "order", "position", "trade", "quote", "clock", "reconcile")
EACH_KINDS: tuple[str, ...] = ("position", "order", "symbol")

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("account", "The guarded account: balance, flags, exposure.", None),
        Family("day", "The current trading day (reset at calendar.trading_day_starts).", None),
        Family("week", "The current trading week (Monday's trading day onward).", None),
        Family("session", "The session calendar at engine time.", None),
        Family("trades", "Rolling windows over the account's non-voided fills.", None),
        Family(
            "position",
            "One open position (per contract).",
            frozenset({"position"}),
            iterable=True,
        ),
        Family(
            "order",
            "One order. A bracket's stop-loss and take-profit children only ever reduce"
            " (docs/order-families.md).",
            frozenset({"order"}),
            iterable=True,
        ),
        Family("trade", "The fill (half-turn) that triggered the rule.", frozenset({"trade"})),
        Family("quote", "The quote that triggered the rule.", frozenset({"quote"})),
        Family(
            "symbol",
            "One ticker (all contract months): ES, MES, 6B …",
            frozenset({"order", "position", "trade", "quote"}),
            iterable=True,
        ),
        Family("lock", "The lockout whose `while:` is being evaluated.", None, lock_only=True),
        Family(
            "derived",
            "The facts the ruleset declares under `derive:` (`derived.NAME`), evaluated before"
            " the rules on every event; one kept `each: position` or `each: symbol` reads as"
            " the bound item's (docs/rule-language.md, Derived facts).",
            None,
        ),
    )
}

M, P, D, S, N, B, T = (
    FactType.MONEY,
    FactType.PRICE,
    FactType.DECIMAL,
    FactType.SECONDS,
    FactType.INT,
    FactType.BOOL,
    FactType.STR,
)

_FACTS: tuple[Fact, ...] = (
    # account
    Fact("account", "id", N, "ProjectX account id."),
    Fact("account", "name", T, "Account name, e.g. 50KTC-V2-12345."),
    Fact("account", "balance", M, "Balance as last reported by the gateway."),
    Fact("account", "can_trade", B, "The gateway's canTrade flag."),
    Fact("account", "open_contracts", D, "Weighted open lots, all symbols (a micro is 1/10)."),
    Fact(
        "account", "open_units", N, "Weighted open contracts in integer units (mini 10, micro 1)."
    ),
    Fact("account", "open_contracts_raw", N, "Open contracts, unweighted, all symbols."),
    Fact("account", "working_orders", N, "Number of working orders."),
    Fact("account", "open_positions", N, "Contracts with an open position."),
    Fact("account", "working_buy_orders", N, "Working buy orders (orders, not contracts)."),
    Fact("account", "working_sell_orders", N, "Working sell orders (orders, not contracts)."),
    Fact("account", "locked", B, "An account-scoped lockout is active."),
    Fact(
        "account",
        "unrealized_pnl",
        M,
        "Sum of open positions' unrealized P&L (unknown if any lacks a price).",
        optional=True,
    ),
    Fact("account", "equity", M, "balance + unrealized_pnl.", optional=True),
    Fact(
        "account",
        "starting_balance",
        M,
        "Balance the account started with (config, or first balance seen).",
        optional=True,
    ),
    Fact(
        "account",
        "eod_high_balance",
        M,
        "Highest end-of-day balance, kept across days.",
        optional=True,
    ),
    # day
    Fact("day", "realized_pnl", M, "Net realized P&L today: Σ pnl − Σ (fees + commissions)."),
    Fact("day", "gross_pnl", M, "Σ profitAndLoss of today's closing fills."),
    Fact("day", "fees", M, "Σ (fees + commissions) of today's fills."),
    Fact("day", "trade_count", N, "Non-voided fills today (not capped by any window)."),
    Fact("day", "closed_trades", N, "Closing fills today."),
    Fact("day", "winning_trades", N, "Closing fills today with net P&L > 0."),
    Fact("day", "losing_trades", N, "Closing fills today with net P&L < 0."),
    Fact("day", "roots_traded", N, "Distinct roots with a non-voided fill today."),
    Fact("day", "consecutive_losses", N, "Losing closed orders in a row (a win resets it)."),
    Fact("day", "high_water_pnl", M, "Highest day realized P&L reached today."),
    Fact(
        "day",
        "low_water_pnl",
        M,
        "Lowest day realized P&L reached today (0 at the day's start): a level it crossed "
        "stays crossed until the daily reset.",
    ),
    Fact("day", "unrealized_pnl", M, "Same as account.unrealized_pnl.", optional=True),
    Fact("day", "net_pnl", M, "realized_pnl + unrealized_pnl.", optional=True),
    # week
    Fact("week", "realized_pnl", M, "Net realized P&L this trading week."),
    Fact("week", "trade_count", N, "Non-voided fills this trading week."),
    # session
    Fact("session", "trading_day", T, "The trading day's date, ISO (a Sunday 18:00 is Monday's)."),
    Fact("session", "is_trading_day", B, "Today is a weekday trading day and not a holiday."),
    Fact("session", "is_holiday", B, "Today is a holiday (calendar.exchange's or listed)."),
    Fact("session", "weekday", T, "mon … sun of the trading day."),
    Fact("session", "time", T, "Local wall-clock time HH:MM in the calendar's time zone."),
    # position
    Fact("position", "contract_id", T, "ProjectX contract id, e.g. CON.F.US.MNQ.Z26."),
    Fact("position", "symbol", T, "Root after alias mapping, e.g. NQ for ENQ."),
    Fact("position", "side", T, "long or short."),
    Fact("position", "size", N, "Contracts (always positive)."),
    Fact("position", "units", N, "Weighted size in units (mini 10, micro 1)."),
    Fact("position", "avg_price", P, "Average entry price."),
    Fact("position", "age", S, "Seconds since the position opened."),
    Fact("position", "tick_size", P, "Contract tick size.", optional=True),
    Fact("position", "tick_value", M, "Dollars per tick per contract.", optional=True),
    Fact(
        "position",
        "last_price",
        P,
        "Mark price: last trade, else bid (long) / ask (short).",
        optional=True,
    ),
    Fact("position", "unrealized_pnl", M, "Unrealized P&L at the mark price.", optional=True),
    Fact("position", "profit_ticks", D, "(mark − entry) in ticks, signed by side.", optional=True),
    Fact("position", "best_price", P, "Best mark price since entry.", optional=True),
    Fact("position", "protected", B, "Working stops on the loss side cover the whole position."),
    Fact(
        "position",
        "unprotected_for",
        S,
        "Seconds the position has been unprotected (0 if protected).",
    ),
    Fact(
        "position",
        "unprotected_total",
        S,
        "Seconds the position has been unprotected since it opened, every spell together "
        "(a stop that comes and goes does not restart it).",
    ),
    Fact("position", "stop_price", P, "Tightest protective stop price.", optional=True),
    Fact(
        "position",
        "stop_ticks",
        D,
        "Ticks from the average entry price to the farthest protective stop (negative: the "
        "stop locks in profit).",
        optional=True,
    ),
    Fact(
        "position",
        "stop_risk",
        M,
        "Money the protective stops risk from the average entry price: each stop's distance "
        "× tick value × the contracts it closes (negative: locked-in profit).",
        optional=True,
    ),
    Fact("position", "locked", B, "An account or symbol lockout covers this position."),
    # symbol
    Fact("symbol", "root", T, "Ticker: the CME root of the contracts (ES for ProjectX's EP)."),
    Fact(
        "symbol",
        "product",
        T,
        "The product the ticker belongs to: ES for ES and MES, RTY for RTY and M2K.",
    ),
    Fact("symbol", "size", N, "Open contracts in this root, all months (gross)."),
    Fact("symbol", "units", N, "Weighted open units in this root."),
    Fact(
        "symbol",
        "working_buy",
        N,
        "Contracts in working buy orders (non-stop and stop); a bracket family's legs count "
        "once, for no more than they can close.",
    ),
    Fact("symbol", "working_sell", N, "Contracts in working sell orders (families: as above)."),
    Fact("symbol", "if_filled_long", N, "Long size if every working buy filled."),
    Fact("symbol", "if_filled_short", N, "Short size if every working sell filled."),
    Fact("symbol", "if_filled_max", N, "max(if_filled_long, if_filled_short, size)."),
    Fact("symbol", "locked", B, "A lockout (account or this symbol) is active."),
    Fact(
        "symbol",
        "traded_today",
        B,
        "This root had a non-voided fill today (one of the roots day.roots_traded counts).",
    ),
    # order
    Fact("order", "id", N, "Order id (int64)."),
    Fact("order", "contract_id", T, "ProjectX contract id."),
    Fact("order", "symbol", T, "Root after alias mapping."),
    Fact("order", "side", T, "buy or sell."),
    Fact("order", "type", T, "limit, market, stop_limit, stop, trailing_stop, join_bid, join_ask."),
    Fact("order", "status", T, "open, filled, cancelled, expired, rejected, pending, …"),
    Fact("order", "size", N, "Order size."),
    Fact("order", "remaining", N, "size − fill volume."),
    Fact("order", "limit_price", P, "Limit price.", optional=True),
    Fact("order", "stop_price", P, "Stop trigger price.", optional=True),
    Fact("order", "is_working", B, "Status open, pending or suspended."),
    Fact("order", "is_stop", B, "A stop, stop-limit or trailing stop."),
    Fact(
        "order",
        "reduces_only",
        B,
        "Only reduces an existing position, at no more than its size; always for a bracket child.",
    ),
    Fact(
        "order",
        "opens_position",
        B,
        "Its contract has no position: filling it opens one (never for a bracket child).",
    ),
    Fact(
        "order",
        "adds_to_position",
        B,
        "Its contract has a position on the order's side: filling it adds to it.",
    ),
    Fact(
        "order",
        "reduces_position",
        B,
        "Its contract has a position on the other side (a larger order reverses it), or it "
        "is a bracket child.",
    ),
    Fact("order", "own", B, "Placed by simple-risk itself (it recorded placing it)."),
    Fact(
        "order",
        "only_filled",
        B,
        "This update only filled more of the working order (same size, type and prices): "
        "the market's doing, not a place or modify of the trader's.",
    ),
    Fact(
        "order",
        "is_child",
        B,
        "A bracket child (stop-loss or take-profit of an entry): never exposure of its own.",
    ),
    Fact("order", "parent_id", N, "The bracket entry's order id of a child.", optional=True),
    Fact(
        "order",
        "if_filled_symbol_size",
        N,
        "The root's size on this order's side if it and every same-side working order fill.",
    ),
    Fact(
        "order",
        "if_filled_account_contracts",
        D,
        "Weighted account lots if every working order on this order's side fills.",
    ),
    Fact(
        "order",
        "if_filled_symbol_size_by_age",
        N,
        "The root's size on this order's side if it and the same-side working orders kept "
        "before it fill: simple-risk's own orders and bracket children, then stops closing a "
        "position, then the others oldest first (newer ones left out: over a limit by it, "
        "the newest go first).",
    ),
    Fact(
        "order",
        "if_filled_account_contracts_by_age",
        D,
        "Weighted account lots if it and the working orders on its side kept before it fill "
        "(as if_filled_symbol_size_by_age).",
    ),
    # trade
    Fact("trade", "id", N, "Fill id (int64)."),
    Fact("trade", "order_id", N, "The order that filled."),
    Fact("trade", "contract_id", T, "ProjectX contract id."),
    Fact("trade", "symbol", T, "Root after alias mapping."),
    Fact("trade", "side", T, "buy or sell."),
    Fact("trade", "size", N, "Contracts filled."),
    Fact("trade", "price", P, "Fill price."),
    Fact("trade", "pnl", M, "Gross profitAndLoss; unknown on an opening fill.", optional=True),
    Fact(
        "trade",
        "net_pnl",
        M,
        "pnl − fees − commissions; unknown on an opening fill.",
        optional=True,
    ),
    Fact(
        "trade",
        "order_pnl",
        M,
        "Net P&L of all closing fills of the same order; unknown if none closed.",
        optional=True,
    ),
    Fact("trade", "fees", M, "Exchange fees."),
    Fact(
        "trade",
        "commissions",
        M,
        "Commissions; unknown while no copy of the fill carried them (REST copies lack them).",
        optional=True,
    ),
    Fact("trade", "is_closing", B, "The fill closed (part of) a position."),
    Fact("trade", "voided", B, "The fill was voided."),
    # quote
    Fact("quote", "contract_id", T, "ProjectX contract id."),
    Fact("quote", "symbol", T, "Root after alias mapping."),
    Fact("quote", "last", P, "Last trade price.", optional=True),
    Fact("quote", "bid", P, "Best bid.", optional=True),
    Fact("quote", "ask", P, "Best ask.", optional=True),
    # lock (inside while: only)
    Fact("lock", "scope", T, "account or symbol."),
    Fact("lock", "symbol", T, "The locked root (symbol locks).", optional=True),
    Fact("lock", "product", T, "The locked root's product (symbol locks).", optional=True),
    Fact("lock", "rule", T, "Id of the rule that set the lock."),
    Fact("lock", "reason", T, "The firing message that set the lock."),
)

FACTS: dict[str, Fact] = {f.name: f for f in _FACTS}

#: The optional facts that are unknown only until data arrives — a quote (or a partial one),
#: contract metadata, the first account update — as opposed to those absent by nature (an
#: opening fill's P&L, a position without a stop, an account lock's symbol). A rule that needs
#: one of these while it stays unknown for longer than the engine's threshold raises an
#: ``unknown`` alert (docs/architecture.md §3 "Unknown facts are explicit").
AWAITED_FACTS: frozenset[str] = frozenset(
    {
        "account.unrealized_pnl",
        "account.equity",
        "account.starting_balance",
        "account.eod_high_balance",
        "day.unrealized_pnl",
        "day.net_pnl",
        "position.tick_size",
        "position.tick_value",
        "position.last_price",
        "position.unrealized_pnl",
        "position.profit_ticks",
        "position.best_price",
        "quote.last",
        "quote.bid",
        "quote.ask",
    }
)

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("session", "open", ("name",), B, "The named session is open now."),
        Method(
            "session",
            "minutes_to_close",
            ("name",),
            D,
            "Minutes until the named session closes (unknown when it is not open).",
            optional=True,
        ),
        Method(
            "session",
            "minutes_to_open",
            ("name",),
            D,
            "Minutes until the named session next opens (0 when open).",
        ),
        Method(
            "position",
            "unprotected_time",
            ("max_risk",),
            S,
            "Seconds since the position opened that it was unprotected or protected only by "
            "stops risking more than max_risk (money), every spell together.",
        ),
        Method(
            "trades",
            "count",
            ("within=",),
            N,
            "Non-voided fills whose engine time is in the last `within` (a duration).",
            duration_args=("within",),
        ),
        Method(
            "trades",
            "losses",
            ("within=",),
            N,
            "Losing closing fills in the last `within` (a duration).",
            duration_args=("within",),
        ),
    )
}

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("known", "known(x) -> bool", "x is not unknown. Guards every optional fact."),
        Function(
            "lookup",
            "lookup(map, key, default)",
            "map[key] if present, else default (map-valued params).",
        ),
        Function(
            "round_to_tick",
            'round_to_tick(price, tick_size, mode="nearest")',
            'price on the tick grid; mode "down", "up" or "nearest".',
        ),
        Function("abs", "abs(x)", "Absolute value."),
        Function("min", "min(a, b, …)", "Smallest argument."),
        Function("max", "max(a, b, …)", "Largest argument."),
    )
}

#: Reserved bare names: families, functions, ``params`` and the boolean/None constants.
RESERVED_NAMES: frozenset[str] = frozenset(
    set(FAMILIES) | set(FUNCTIONS) | {"params", "True", "False", "None"}
)

_SAMPLES: Mapping[FactType, object] = {
    FactType.MONEY: Decimal("-123.45"),
    FactType.PRICE: Decimal("21000.25"),
    FactType.DECIMAL: Decimal("2.5"),
    FactType.SECONDS: Decimal("12"),
    FactType.INT: 3,
    FactType.BOOL: True,
    FactType.STR: "MNQ",
}


def sample_value(fact_type: FactType) -> object:
    """A plausible value of the type, used by lint to evaluate expressions on sample facts."""
    return _SAMPLES[fact_type]


def family_facts(family: str) -> list[Fact]:
    return [f for f in _FACTS if f.family == family]


def family_members(family: str) -> list[str]:
    """Every attribute name (fact or method) of a family, for did-you-mean hints."""
    names = [f.attr for f in _FACTS if f.family == family]
    names += [m.attr for m in METHODS.values() if m.family == family]
    return names


def family_is_bound(
    family: str, triggers: Iterable[str], each: str | None, in_lock: bool = False
) -> bool:
    """Whether a rule with these triggers and ``each`` binds ``family`` in its expressions."""
    spec = FAMILIES[family]
    if spec.lock_only:
        return in_lock
    if spec.bound_by_triggers is None:
        return True
    if each == family:
        return True
    if family == "symbol" and each in ("position", "order"):
        return True
    trigger_set = set(triggers)
    return bool(trigger_set) and trigger_set <= spec.bound_by_triggers
