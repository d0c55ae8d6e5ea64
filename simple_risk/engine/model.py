"""The compiled ruleset: what the DSL compiler produces and the evaluator consumes.

Everything here is immutable and already checked: a ``Ruleset`` only exists once the file
passed the strict loader, the schema, name resolution and type checks. Expressions are compiled
code objects (filename = the rule id) evaluated without builtins against a mapping of bound
families (see :mod:`simple_risk.engine.namespace`). Every element keeps the ``SourceLocation``
it came from, so runtime errors and ``--explain`` point back into the YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import CodeType

from simple_risk.words import rule_title

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Operand:
    """One side of a comparison: its source text, compiled code and the dotted names it reads
    (facts such as ``day.net_pnl`` and ``params.NAME``)."""

    text: str
    code: CodeType
    names: frozenset[str] = frozenset()

    @property
    def reads_facts(self) -> bool:
        """Whether it reads a fact (anything but params, lists, literals)."""
        return any(not name.startswith("params.") for name in self.names)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One binary comparison of an expression (``a < b < c`` yields two), so ``--explain``
    and the status server's ``limits`` can show each side's value on the current facts."""

    text: str
    left: Operand
    op: str  # "<", "<=", ">", ">=", "==", "!=", "in", "not in"
    right: Operand


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """One expression, parsed and checked once, evaluated many times.

    ``names`` holds every dotted fact name it reads (``day.realized_pnl``) so the engine can
    index rules by the facts they depend on and ``--explain`` can show the values it saw.
    ``operands`` are the sub-expressions of its comparisons (source text and compiled code),
    re-evaluated only when a firing is explained; ``comparisons`` pairs them with their
    operator, one entry per binary comparison.
    """

    source: str
    code: CodeType
    location: SourceLocation
    names: frozenset[str] = frozenset()
    operands: tuple[tuple[str, CodeType], ...] = ()
    #: every binary comparison, outermost first (for ``explain`` and limit usage)
    comparisons: tuple[Comparison, ...] = ()

    def evaluate(self, env: Mapping[str, object]) -> object:
        return eval(self.code, {"__builtins__": {}}, dict(env))


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A firing message: literal text interleaved with ``{expr:format}`` fields."""

    source: str
    #: (literal, expression or None, format spec)
    parts: tuple[tuple[str, CompiledExpression | None, str], ...]
    location: SourceLocation


@dataclass(frozen=True, slots=True)
class LockoutSpec:
    """Arguments of the ``lockout`` action; exactly one of the ends is set.

    ``kind`` ``lock`` freezes exposure (orders that add exposure are cancelled, a position
    that grew is reduced back, a new one closed); ``cooldown`` (RULE-006/007) only cancels
    orders that would add exposure and leaves positions alone.
    """

    scope: str  # "account" | "symbol"
    duration: timedelta | None = None
    #: ``for:`` as an expression giving a duration string, evaluated when the rule fires
    duration_expr: CompiledExpression | None = None  # for: 15m
    until_trading_day_end: bool = False  # until: trading_day_end
    until_session_start: str | None = None  # until: {session_start: rth}
    while_expr: CompiledExpression | None = None  # while: not account.can_trade
    reason: MessageTemplate | None = None
    kind: str = "lock"  # "lock" | "cooldown"
    until_time: datetime | None = None  # until: 2026-12-24T12:00:00-06:00 (aware)
    #: the root of a symbol lock (an expression; default: the rule's bound symbol)
    symbol: CompiledExpression | None = None


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One entry of a rule's ``then:``; ``kind`` is from the closed action vocabulary.

    ``args`` holds the validated arguments: plain values (str, int, Decimal, bool, timedelta),
    ``CompiledExpression`` for expression-valued arguments (``to:`` of ``move_stop``), a
    ``MessageTemplate`` for ``message:`` and a ``LockoutSpec`` under ``"lockout"`` for lockouts.
    """

    kind: str
    args: Mapping[str, object]
    location: SourceLocation


#: the spellings of ``refire:`` besides ``{every: DURATION}`` (see simple_risk.engine.episodes)
REFIRE_KINDS = ("episode", "day", "fill", "order")
#: the triggers a per-fill or per-order ``refire:`` allows (the event must carry the item)
REFIRE_TRIGGERS = {"fill": frozenset({"trade"}), "order": frozenset({"trade", "order"})}


@dataclass(frozen=True, slots=True)
class Refire:
    """When a rule that stays broken fires again: ``refire:`` of the rule (default ``episode``).

    ``kind`` is one of ``REFIRE_KINDS`` or ``every`` (then ``every`` is the duration).
    """

    kind: str = "episode"
    every: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    triggers: frozenset[str]
    when: CompiledExpression
    then: tuple[ActionSpec, ...]
    location: SourceLocation
    each: str | None = None  # "position" | "order" | "symbol"
    for_: timedelta | None = None
    message: MessageTemplate | None = None
    description: str = ""
    severity: str = "warning"
    enabled: bool = True
    mandatory: bool = False
    #: shipped with ``enabled: false`` on purpose (an account overlay enables it)
    optional: bool = False
    tags: tuple[str, ...] = ()
    label: str = ""
    refire: Refire = Refire()

    @property
    def title(self) -> str:
        """What the rule protects, as a trader reads it in every view: its ``label:``, else
        its id in words (``daily-realized-loss`` → ``Daily realized loss``)."""
        return rule_title(self.id, self.label)


#: the aggregates of a derived fact (``derive:``); none: the expression's current value
AGGREGATES = ("max", "min", "sum", "count", "first", "last")
#: the periods an aggregate may run over (``over:``); a sliding window is ``within:`` instead
PERIODS = ("day", "week", "session", "position")
#: what a derived fact may be kept per (``each:``)
DERIVE_EACH = ("position", "symbol")


@dataclass(frozen=True, slots=True)
class DerivedFact:
    """One entry of ``derive:``: a named, typed fact computed from an expression before the
    rules run, optionally aggregated over a period or a sliding window, per account or per
    item (simple_risk.engine.derive evaluates it; docs/rule-language.md "Derived facts").

    ``aggregate`` None keeps the expression's current value. ``over`` None and ``within``
    None: the aggregate runs for as long as the account (or the item) exists. ``reads`` names
    the other derived facts its expression reads (they are evaluated first).
    """

    name: str
    type: str  # a namespace.FactType value
    value: CompiledExpression
    location: SourceLocation
    triggers: frozenset[str]
    aggregate: str | None = None
    over: str | None = None
    session: str | None = None
    within: timedelta | None = None
    each: str | None = None
    reads: frozenset[str] = frozenset()
    description: str = ""

    @property
    def optional(self) -> bool:
        """Unknown (None) until a first sample: every aggregate but ``sum`` and ``count``."""
        return self.aggregate not in ("sum", "count")


@dataclass(frozen=True, slots=True)
class SessionSpec:
    name: str
    start: time
    end: time
    days: frozenset[int]  # 0 = Monday … 6 = Sunday


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    timezone: str = "America/Chicago"
    trading_day_starts: time = time(17, 0)
    sessions: Mapping[str, SessionSpec] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    early_closes: Mapping[date, time] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ticker:
    """What the contract catalogue says about one ProjectX root: the CME ticker a trader
    writes (``EP`` is ``ES``), the product it belongs to (``MES`` is the ``ES`` product) and
    whether it is a micro (1/10 of a mini for position limits)."""

    ticker: str
    product: str
    micro: bool = False


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """How contracts become tickers, products and weights (``units``: a mini 10, a micro 1).

    ``catalogue`` (ProjectX root → :class:`Ticker`) is the shipped contract catalogue, put here
    when the ruleset is loaded so the engine itself never reads a file. The ruleset's own
    ``aliases`` (ProjectX root → ticker), ``weights`` (ticker → units) and ``products``
    (ticker → product) override it.
    """

    aliases: Mapping[str, str] = field(default_factory=dict)
    weights: Mapping[str, int] = field(default_factory=dict)
    units_per_lot: int = 10
    products: Mapping[str, str] = field(default_factory=dict)
    catalogue: Mapping[str, Ticker] = field(default_factory=dict, repr=False)

    @property
    def micro_units(self) -> int:
        """A micro's weight: a tenth of a lot (never less than one unit)."""
        return max(self.units_per_lot // 10, 1)

    def root(self, raw_root: str) -> str:
        """The ticker of a ProjectX root: the ruleset's alias, else the catalogue's ticker."""
        alias = self.aliases.get(raw_root)
        if alias is not None:
            return alias
        listed = self.catalogue.get(raw_root)
        return listed.ticker if listed is not None else raw_root

    def listed(self, ticker: str) -> Ticker | None:
        """The catalogue's entry for a ticker (None for a ticker it does not list)."""
        for entry in self.catalogue.values():
            if entry.ticker == ticker:
                return entry
        return None

    def units(self, root: str, micro: bool | None = None) -> int:
        """A ticker's weight: the ruleset's, else a micro's (``micro``, else the catalogue's
        word) or a whole lot."""
        weight = self.weights.get(root)
        if weight is not None:
            return weight
        if micro is None:
            entry = self.listed(root)
            micro = entry is not None and entry.micro
        return self.micro_units if micro else self.units_per_lot

    def product(self, root: str) -> str:
        """A ticker's product: the ruleset's, else the catalogue's, else the ticker itself."""
        product = self.products.get(root)
        if product is not None:
            return product
        entry = self.listed(root)
        return entry.product if entry is not None else root


@dataclass(frozen=True, slots=True)
class Ruleset:
    name: str
    rules: tuple[Rule, ...]
    location: SourceLocation
    calendar: CalendarSpec = field(default_factory=CalendarSpec)
    symbols: SymbolSpec = field(default_factory=SymbolSpec)
    params: Mapping[str, object] = field(default_factory=dict)
    lists: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    requires: str | None = None
    #: hidden constants the compiler introduced (exact Decimal literals, durations), by name;
    #: part of the evaluation environment (see ``simple_risk.engine.dsl.base_env``)
    constants: Mapping[str, object] = field(default_factory=dict)
    #: the ``derive:`` facts in evaluation order (a fact after every fact it reads)
    derived: tuple[DerivedFact, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
