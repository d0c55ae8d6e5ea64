"""The evaluation plans: what the engine decides once per ruleset so ``apply`` does not.

A ruleset is compiled here into ``CompiledRule``s (what each rule reads, how it binds its
items, when it may be skipped) and, per trigger and kind of change, into plans: the rules an
event wakes, in file order, grouped by how they bind their items (``ITEM``, ``POSITION``,
``ORDER``, ``SYMBOL``, ``QUOTED_POSITION``). The engine's hot path only walks these plans;
keeping their construction apart keeps the hot path small and lets the dependency index
(``simple_risk.engine.dependencies``) be tested against plans without running events.

Within a trigger's plan, the dependency index (``simple_risk.engine.dependencies``) keeps only
the rules whose facts the event changed — the store names the kind of change in
``Touched.change`` — and runs an ``each:`` rule only for the event's own contract or root when
only that item changed; a rule narrowed to one ticker runs only for that ticker's items. The
rules whose facts a change moves but whose plan does not run them in full (``lagging``)
become stale (``simple_risk.engine.staleness``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from simple_risk.engine import dependencies, namespace
from simple_risk.engine.episodes import item_mode
from simple_risk.engine.events import TRIGGER_OF, Event, OrderUpdate, PositionUpdate, Reconciled
from simple_risk.engine.model import Rule

#: the item families bound per event and item (None outside an evaluation): not facts of the
#: account, and cleared before a condition that reads none of them (a ``while:`` lock)
ITEM_FAMILIES = ("position", "order", "symbol", "trade", "quote", "lock")
#: actions whose target can move during one breach episode; the rule fires again when it does
RETARGET_ACTIONS = frozenset({"move_stop", "place_stop"})

#: what a stop target reads besides its arguments when the rule has no ``each: position``:
#: the position it protects is the event's, or that of its order's or fill's contract
_STOP_BINDINGS = frozenset({"position.*", "order.*", "symbol.*"})

#: Facts an ``each: position`` rule must not read to be re-evaluated, on a quote, for the
#: position in the quoted contract only (these sum over every position: a quote for one
#: contract changes them for all).
_ACCOUNT_WIDE = frozenset(
    {
        "account.unrealized_pnl",
        "account.equity",
        "day.unrealized_pnl",
        "day.net_pnl",
    }
)


class CompiledRule:
    """A rule plus what the engine precomputes about it once."""

    __slots__ = (
        "awaited",
        "code",
        "day_scoped",
        "decisive",
        "each",
        "every",
        "for_",
        "index",
        "item_mode",
        "keep_resolved",
        "quote_local",
        "reads",
        "reconcile_each",
        "reconcile_skip",
        "retarget",
        "rule",
        "ticker",
    )

    def __init__(self, rule: Rule, index: int, lists: Iterable[str] = ()) -> None:
        self.rule = rule
        self.index = index
        self.code = rule.when.code
        self.each = rule.each
        self.for_ = rule.for_ if rule.for_ and rule.for_ > timedelta(0) else None
        names = rule.when.names
        families = {name.split(".", 1)[0] for name in names}
        #: what identifies a breach episode (``episodes.item_mode``; ``each:`` rules iterate)
        self.item_mode = item_mode(rule)
        #: ``refire: {every: …}``: fire again this long after the last firing while still true
        self.every = rule.refire.every if rule.refire.kind == "every" else None
        #: ``refire: day``: a firing episode that ends stays recorded until the daily reset
        self.keep_resolved = rule.refire.kind == "day"
        self.quote_local = (
            rule.each == "position"
            and not (names & _ACCOUNT_WIDE)
            and not any(name.startswith("derived.") for name in names)
        )
        #: the facts the rule reads that are unknown until data arrives: (name, family, attr)
        #: the ``when`` names, parsed for the trace a firing carries
        self.decisive = parse_names(names)
        self.awaited = tuple(
            (name, *name.split(".", 1)) for name in sorted(names & namespace.AWAITED_FACTS)
        )
        #: episodes of rules reading ``day.*`` end at the daily reset
        self.day_scoped = "day" in families or self.keep_resolved
        #: the actions whose target may move while the rule stays true (stop management)
        self.retarget = tuple(
            (index, action)
            for index, action in enumerate(rule.then)
            if action.kind in RETARGET_ACTIONS
        )
        #: on ``reconcile`` (no event item), a rule reading an item family iterates that
        #: family's current items; one that needs the triggering fill or quote cannot run
        self.reconcile_each: str | None = rule.each
        self.reconcile_skip = False
        if rule.each is None:
            if families & {"trade", "quote"}:
                self.reconcile_skip = True
            elif "order" in families:
                self.reconcile_each = "order"
            elif "position" in families:
                self.reconcile_each = "position"
            elif "symbol" in families:
                self.reconcile_each = "symbol"
        #: the fact keys the rule reads (its ``when:``, and its stop targets' arguments: a
        #: firing stop rule fires again when they move) and whether it runs whenever woken
        read = set(names)
        if self.retarget:
            # the stop protects the bound position: an ``each: position`` rule's own item (an
            # open position, so never the fallback to the event's order or fill)
            read |= {"position.*"} if rule.each == "position" else _STOP_BINDINGS
            for _index, action in self.retarget:
                for value in action.args.values():
                    read |= getattr(value, "names", frozenset())
        #: the ticker the rule's first condition narrows it to (an ``each:`` rule only)
        self.ticker = dependencies.ticker_of(rule.when.source, rule.each, self.item_mode)
        self.reads = dependencies.reads_of(
            read,
            each=rule.each,
            item_mode=self.item_mode,
            timed=self.for_ is not None or self.every is not None,
            lists=lists,
        )


#: How a rule iterates its items for one trigger (see ``mode_of``).
ITEM, POSITION, ORDER, SYMBOL, QUOTED_POSITION = range(5)
_EACH_MODES = {None: ITEM, "position": POSITION, "order": ORDER, "symbol": SYMBOL}
#: (mode, rules) groups in file order: consecutive rules of a mode that binds one item per
#: event (``ITEM``, ``QUOTED_POSITION``) share a group; ``each:`` rules are grouped too, but
#: still run one after the other over the family's items. Each rule carries whether it runs
#: only for the event's own item (``dependencies.SCOPED``: an ``each:`` rule whose facts
#: the event changed for its own contract or root only).
Plan = tuple[tuple[int, tuple[tuple[CompiledRule, bool], ...]], ...]


Entry = tuple[CompiledRule, Callable[[], object], bool]
#: a plan with each rule's condition as a function of one account's environment; a group
#: with rules narrowed to one ticker (``dependencies.ticker_of``) has them indexed by ticker:
#: ticker → its rules and the group's other rules (``""``: the other rules alone)
AccountPlan = tuple[tuple[int, tuple[Entry, ...], dict[str, tuple[Entry, ...]] | None], ...]


def plan_of(
    rules: Iterable[CompiledRule],
    trigger: str,
    change: dependencies.Change | None = None,
    stale: frozenset[int] = frozenset(),
) -> Plan:
    """The evaluation plan of the rules ``trigger`` wakes (see ``Plan``): all of them, or
    with ``change`` only those whose facts it changes and the ``stale`` ones (in full)."""
    groups: list[tuple[int, list[tuple[CompiledRule, bool]]]] = []
    for compiled in rules:
        mode = mode_of(compiled, trigger)
        if mode is None:
            continue
        scoped = False
        if change is not None and compiled.index not in stale:
            decision = dependencies.decide(compiled.reads, compiled.each, change)
            if decision == dependencies.SKIP:
                continue
            scoped = decision == dependencies.SCOPED and mode in (POSITION, SYMBOL)
        if groups and groups[-1][0] == mode:
            groups[-1][1].append((compiled, scoped))
        else:
            groups.append((mode, [(compiled, scoped)]))
    return tuple((mode, tuple(group)) for mode, group in groups)


def bind_group(
    mode: int,
    rules: tuple[tuple[CompiledRule, bool], ...],
    checks: Mapping[int, Callable[[], object]],
) -> tuple[int, tuple[Entry, ...], dict[str, tuple[Entry, ...]] | None]:
    """One plan group with its conditions bound, indexed by ticker when it has rules
    narrowed to one (see ``AccountPlan``)."""
    entries = tuple((c, checks[c.index], scoped) for c, scoped in rules)
    tickers = {c.ticker for c, _scoped in rules if c.ticker is not None}
    if not tickers:
        return mode, entries, None
    by_ticker = {"": tuple(e for e in entries if e[0].ticker is None)}
    for ticker in tickers:
        by_ticker[ticker] = tuple(e for e in entries if e[0].ticker in (None, ticker))
    return mode, entries, by_ticker


def for_root(
    plan: AccountPlan,
    root: str,
    positions: frozenset[str],
    orders: frozenset[str],
    roots: frozenset[str],
) -> AccountPlan:
    """The plan of an event about ``root`` (that did not move its item to another root), for
    an account whose positions, working orders and roots are of the tickers given (each with
    ``root``): the rules narrowed to a ticker that cannot be true for any item they would see
    left out — the event's own item or the quoted position is of ``root``, and an ``each:``
    rule's items are of the tickers listed (a rule about an item of another ticker finds its
    first condition false) — and the groups they separated joined again. A book of per-ticker
    copies otherwise walks one small group per copy on every event."""
    kept: list[tuple[int, list[Entry], dict[str, tuple[Entry, ...]] | None]] = []
    seen = {POSITION: positions, ORDER: orders, SYMBOL: roots}
    by_ticker: dict[str, tuple[Entry, ...]] | None
    for mode, entries, by_ticker in plan:
        if by_ticker is not None:
            if mode in (ITEM, QUOTED_POSITION):
                entries = by_ticker.get(root) or by_ticker[""]
            else:
                tickers = seen[mode]
                entries = tuple(e for e in entries if e[0].ticker in tickers or not e[0].ticker)
            by_ticker = None
            if not entries:
                continue
        if kept and kept[-1][0] == mode and kept[-1][2] is None and by_ticker is None:
            kept[-1][1].extend(entries)
        else:
            kept.append((mode, list(entries), by_ticker))
    return tuple((kind, tuple(group), index) for kind, group, index in kept)


def lagging(
    plan: Plan, rules: Iterable[CompiledRule], change: dependencies.Change
) -> frozenset[int]:
    """The rules whose facts ``change`` moves but whose full evaluation this plan does not
    cover: not woken, or woken only for the quoted position. They are marked stale and
    evaluated in full the next time they are woken."""
    covered = {
        compiled.index
        for mode, group in plan
        for compiled, _scoped in group
        if mode != QUOTED_POSITION
        or dependencies.decide(compiled.reads, compiled.each, change) != dependencies.RUN
    }
    return frozenset(
        compiled.index
        for compiled in rules
        if compiled.index not in covered
        and not compiled.reads.volatile
        and dependencies.decide(compiled.reads, compiled.each, change) != dependencies.SKIP
    )


def mode_of(compiled: CompiledRule, trigger: str) -> int | None:
    """How ``compiled`` runs when ``trigger`` wakes it; None: it cannot run (a rule that needs
    the triggering fill or quote, on ``reconcile``)."""
    if trigger == "reconcile":
        if compiled.reconcile_skip:
            return None
        return _EACH_MODES[compiled.reconcile_each]
    if trigger == "quote" and compiled.quote_local:
        return QUOTED_POSITION
    return _EACH_MODES[compiled.each]


#: (the trigger, "" when it wakes no rule; is a reconcile; can change exposure; every rule it
#: wakes reads only the quoted contract's position) of one event class
Kind = tuple[str, bool, bool, bool]


def kind_of(event_type: type[Event], plans: Mapping[str, Plan]) -> Kind:
    """What an event kind wakes, found once per event class (subclasses included): the
    engine keeps it, so ``apply`` dispatches with one dict look-up instead of ``isinstance``
    chains."""
    trigger: str | None = None
    for base in event_type.__mro__:
        if base in TRIGGER_OF:
            trigger = TRIGGER_OF[base]
            break
    plan = plans.get(trigger, ()) if trigger is not None else ()
    return (
        trigger if plan and trigger is not None else "",
        issubclass(event_type, Reconciled),
        issubclass(event_type, OrderUpdate | PositionUpdate | Reconciled),
        bool(plan) and all(mode == QUOTED_POSITION for mode, _rules in plan),
    )


class RuleIndex:
    """What the engine decides once per ruleset about which rules an event runs.

    Per trigger: the rules it wakes and their plan; per trigger and kind of change (the
    dependency index, ``simple_risk.engine.dependencies``): the rules to run, and the rules
    the change leaves stale (run in full when next woken). The engine copies these into its
    own attributes, which its hot path reads.
    """

    __slots__ = (
        "by_trigger",
        "change_plans",
        "lagging",
        "members",
        "plans",
        "readers",
        "session_readers",
        "settles",
        "tracked",
        "woken",
    )

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        #: trigger → the rules it wakes, in file order (``reconcile`` wakes every rule)
        self.by_trigger: dict[str, tuple[CompiledRule, ...]] = {
            trigger: tuple(r for r in rules if trigger in r.rule.triggers)
            for trigger in ("account", "order", "position", "trade", "quote", "clock")
        }
        self.by_trigger["reconcile"] = rules
        #: per trigger, the rules it wakes in file order with how each iterates its items,
        #: decided once so that ``apply`` does no per-event filtering
        self.plans: dict[str, Plan] = {
            trigger: plan_of(woken, trigger) for trigger, woken in self.by_trigger.items()
        }
        # the dependency index (simple_risk.engine.dependencies): per trigger and kind of
        # change, the rules to run, and the rules the change leaves stale
        self.change_plans: dict[tuple[str, int], Plan] = {}
        self.lagging: dict[tuple[str, int], frozenset[int]] = {}
        for change_id, change in enumerate(dependencies.CHANGES):
            for trigger, woken in self.by_trigger.items():
                plan = self.change_plans[trigger, change_id] = plan_of(woken, trigger, change)
                self.lagging[trigger, change_id] = lagging(plan, rules, change)
            self.lagging["", change_id] = lagging((), rules, change)
        #: trigger → the rules its full plan runs (a stale one among them: run the full plan)
        self.woken = {
            trigger: frozenset(c.index for _mode, group in plan for c, _scoped in group)
            for trigger, plan in self.plans.items()
        }
        #: trigger → the rules its full plan evaluates over every item (no longer stale after)
        self.settles = {
            trigger: frozenset(
                c.index for mode, group in plan for c, _scoped in group if mode != QUOTED_POSITION
            )
            for trigger, plan in self.plans.items()
        }
        #: item family → the ``each:`` rules that iterate it (and can be stale)
        self.members = {
            family: frozenset(c.index for c in rules if c.each == family and not c.reads.volatile)
            for family in ("order", "symbol")
        }
        #: reported fact key (``derived.NAME``) → the rules reading it
        readers: dict[str, set[int]] = {}
        for compiled in rules:
            for key in compiled.reads.keys:
                if key.partition(".")[0] in dependencies.REPORTED_FAMILIES:
                    readers.setdefault(key, set()).add(compiled.index)
        self.readers = {key: frozenset(indices) for key, indices in readers.items()}
        #: the rules that can be stale (volatile ones run whenever woken)
        self.tracked = frozenset(c.index for c in rules if not c.reads.volatile)
        #: the rules reading ``session.open``: stale for every account at a session edge
        self.session_readers = frozenset(
            c.index
            for c in rules
            if not c.reads.volatile and dependencies.SESSION_EDGE in c.reads.keys
        )


def parse_names(names: Iterable[str]) -> tuple[tuple[str, str, str], ...]:
    """(name, family, attribute) of each fact name, sorted: parsed once per rule."""
    parsed = []
    for name in sorted(names):
        family, _, attr = name.partition(".")
        parsed.append((name, family, attr))
    return tuple(parsed)
