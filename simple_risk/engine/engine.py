"""The engine: domain events in, firings with intents out. Pure, deterministic, no I/O.

The daemon (and ``rules test``, replay and the benchmarks) feed events one at a time::

    engine = Engine(load_ruleset("rulesets/topstep.yaml"))
    for event in events:
        for firing in engine.apply(event):
            executor.submit(firing.intents)
    deadline = engine.next_deadline()   # schedule an exact ClockTick there

Per event: the fact store updates the facts, then the ruleset's derived facts (``derive:``,
``simple_risk.engine.derive``) take their samples for each affected account; the rules the
event's trigger wakes (every rule on ``reconcile``) are evaluated for each affected account —
once per item for ``each:`` rules — in file order, and **every** matching rule fires. Each
(rule, account, item) has a Prometheus-style state: inactive → pending (``for:``) → firing →
resolved (dropped), driven by event time; a rule fires once per breach episode. A rule whose
evaluation raises yields an engine-error firing (critical alert) and the other rules still run.
Then lockouts are enforced (exposure cannot grow while locked — the reducing orders of a
contract only up to its position's size, together), ``while:`` locks re-evaluated, and intents
whose target the facts now show are forgotten.

Unknown facts are explicit (docs/architecture.md §3): an awaited fact a rule needs that stays
unknown for ``unknown_alert_after`` raises one ``unknown`` alert (``engine.unknowns``).

The hot path is planned once per ruleset: each trigger has the rules it wakes, grouped by how
they bind their items (a quote re-evaluates only the quoted contract's position for rules that
read nothing else that a quote changes), and each account's conditions are functions of its
reusable environment. Evaluating a rule that is false and has no state costs one call and one
dict look-up; traces, messages and intents are built only on firing.

Within a trigger's plan, the dependency index keeps only the rules whose facts the event
changed (``engine.plans``); a rule whose facts changed on an event that did not wake it is
*stale* and runs in full when next woken (``engine.staleness``). ``Engine(incremental=False)``
evaluates every woken rule instead; both fire exactly the same
(tests/oracle/test_incremental_matches_full.py).

Breach episodes are keyed by (rule, account, item). The item is the ``each:`` item
(``position:<contract>``, ``order:<id>``, ``symbol:<root>``); for a rule without ``each:`` it is
the event item its condition reads — ``fill-order:<order id>`` for ``trade.*`` (so every
losing order starts its own cooldown episode, while the fills of one order share one),
``order:<id>``, ``position:<contract>`` or ``symbol:<root>`` — and ``""`` for account-level
rules (``simple_risk.engine.episodes``; a rule's ``refire:`` states it instead: once per
trading day, again every DURATION while still true, per fill or per order). Episodes of rules
reading ``day.*`` or with ``refire: day`` (and per-fill episodes) end at the daily reset. A
firing ``move_stop`` or ``place_stop`` rule fires again when its stop target moves — the price
(a trailing stop) or the size the stop must cover (a position that grew) — and only then.
A pending state whose ``for:`` elapses is re-evaluated at its deadline even when the rule has
no ``clock`` trigger, with the bindings of the event that last evaluated it. On
``reconcile`` a rule reading an item family iterates that family's current items; one that
needs the triggering fill or quote is skipped. When an admin clears the lockout of a firing
episode (``rearm``), the episode is marked: its next evaluation on anything but a reconcile
that finds the rule still broken fires it again (and locks again).

This module keeps the public API and the hot path (``apply``, ``_evaluate``, ``_transition``,
``_fire``, written out for speed); each other job is a module of its own: ``plans`` (compiled
rules, plans, the dependency index), ``staleness``, ``deadlines`` (``for:``), ``unknowns``,
``enforce`` (lockouts while locked) and ``records`` (firings, rule states).

``snapshot()`` / ``restore()`` carry the whole state as JSON so that a restored engine fed the
rest of a stream fires exactly as the uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simple_risk.engine import dependencies
from simple_risk.engine.actions import ActionContext, render, run_action, stop_target
from simple_risk.engine.bindings import AccountBindings
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.deadlines import Deadlines
from simple_risk.engine.derive import Derivations
from simple_risk.engine.enforce import LockEnforcement
from simple_risk.engine.events import (
    Event,
    OrderSide,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.facts.account import AccountState, SymbolFacts
from simple_risk.engine.facts.market import raw_root
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.facts.store import FactStore, Touched
from simple_risk.engine.intents import Alert, Intent
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import CompiledExpression, Ruleset
from simple_risk.engine.plans import (
    ITEM,
    ITEM_FAMILIES,
    ORDER,
    POSITION,
    QUOTED_POSITION,
    RETARGET_ACTIONS,
    AccountPlan,
    CompiledRule,
    Kind,
    RuleIndex,
    kind_of,
)
from simple_risk.engine.records import (
    Firing,
    LockNotice,
    RuleState,
    describe,
    error_firing,
    utc,
    values_of,
)
from simple_risk.engine.staleness import Staleness
from simple_risk.engine.unknowns import UnknownFacts

_EVERYTHING = dependencies.CHANGE_ID["everything"]
_GLOBALS: dict[str, object] = {"__builtins__": {}}
#: How long an awaited fact a rule needs may stay unknown before it raises an alert (the
#: default of ``Engine(unknown_alert_after=...)``; docs/architecture.md §3 says "a few seconds").
UNKNOWN_ALERT_AFTER = timedelta(seconds=5)


def base_env_for(ruleset: Ruleset) -> dict[str, object]:
    """The ruleset's constant environment (params, lists, functions, hidden constants)."""
    from simple_risk.engine.dsl import base_env  # the DSL imports the engine's model only

    return dict(base_env(ruleset))


class Engine(AccountBindings, Staleness, LockEnforcement, Deadlines):
    """Evaluate one ruleset over a stream of domain events (see the module docstring)."""

    def __init__(
        self,
        ruleset: Ruleset,
        *,
        accounts: Iterable[int] | None = None,
        starting_balances: Mapping[int, Decimal] | None = None,
        unknown_alert_after: timedelta | None = UNKNOWN_ALERT_AFTER,
        incremental: bool = True,
    ) -> None:
        self.ruleset = ruleset
        #: evaluate only the rules whose facts an event changed (False: every woken rule,
        #: the reference the incremental engine is tested against)
        self.incremental = incremental
        self.calendar = TradingCalendar(ruleset.calendar)
        self._accounts_arg = sorted(accounts) if accounts is not None else None
        self._starting_balances = dict(starting_balances or {})
        self.store = FactStore(
            ruleset.symbols,
            self.calendar,
            accounts=accounts,
            starting_balances=starting_balances,
        )
        self.rules = tuple(
            CompiledRule(rule, index, ruleset.lists)
            for index, rule in enumerate(ruleset.rules)
            if rule.enabled
        )
        #: the ``derive:`` facts, sampled before the rules on each event (``derived.NAME``)
        self.derive = Derivations(ruleset.derived, self.store)
        self._rules_by_id = {compiled.rule.id: compiled for compiled in self.rules}
        self._by_index = {compiled.index: compiled for compiled in self.rules}
        #: rule index → ``for:`` of the rules that have one
        self._timed = {c.index: c.for_ for c in self.rules if c.for_ is not None}
        #: the keys of ``_states`` that belong to those rules, and how many keys it had then
        self._timed_keys: list[tuple[int, int]] = []
        self._timed_listed = 0
        # the plans and dependency index of the ruleset (``plans.RuleIndex``), as attributes
        # of the engine's own for the hot path
        index = RuleIndex(self.rules)
        #: trigger → the rules it wakes
        self._by_trigger = index.by_trigger
        #: trigger → the rules it wakes in file order with how each iterates its items
        self._plans = index.plans
        #: (trigger, change id) → the rules to run / the rules the change leaves stale
        self._change_plans = index.change_plans
        self._lagging = index.lagging
        #: trigger → the rules its full plan runs (a stale one among them: run the full plan)
        self._woken = index.woken
        #: trigger → the rules its full plan evaluates over every item (no longer stale after)
        self._settles = index.settles
        #: item family → the ``each:`` rules that iterate it (and can be stale)
        self._members = index.members
        #: reported fact key (``derived.NAME``) → the rules reading it
        self._readers = index.readers
        #: the rules that can be stale (volatile ones run whenever woken)
        self._tracked = index.tracked
        #: the rules reading ``session.open``: stale for every account at a session edge
        self._session_readers = index.session_readers
        #: the keys of the plans (a trigger's, or a trigger's for a kind of change) whose
        #: rules are all ``each: position`` rules (a clock tick's in the shipped book): on an
        #: account without positions they have nothing to evaluate
        self._positions_only = frozenset(
            key
            for key, plan in [*self._plans.items(), *self._change_plans.items()]
            if plan and all(mode == POSITION for mode, _rules in plan)
        )
        #: account → the rules whose facts changed since their last full evaluation (every
        #: rule of an account seen for the first time, after a restore, after the daily reset)
        self._stale: dict[int, set[int]] = {}
        #: (rule index, account) of rules with a state an admin cleared (``rearm``): stale
        #: until that state fires again or ends
        self._rearmed: set[tuple[int, int]] = set()
        #: event class → what it wakes (``plans.kind_of``)
        self._kinds: dict[type[Event], Kind] = {}
        self._base_env = base_env_for(ruleset)
        #: id of a ``while:`` expression → (it, whether it reads only constants)
        self._constant: dict[int, tuple[CompiledExpression, bool]] = {}
        self._envs: dict[int, dict[str, object]] = {}
        #: account → trigger (full plan) or (trigger, change id) → its plan with the
        #: conditions bound to the account's env
        self._account_plans: dict[int, dict[object, AccountPlan]] = {}
        #: account → (trigger, change id, forced rules) → plan (``_forced_plan``)
        self._forced_plans: dict[int, dict[tuple[str, int, frozenset[int]], AccountPlan]] = {}
        #: account → (plan key, root, tickers held) → the plan for an event about that root
        self._rooted: dict[int, dict[tuple[object, ...], AccountPlan]] = {}
        #: plan key → the modes of its groups narrowed to tickers (the same for every account)
        self._narrowed_families: dict[object, frozenset[int]] = {}
        #: whether plans are narrowed to an event's root (``plans.for_root``): incremental
        #: evaluation only (a full re-evaluation is what the tests hold it against), and only
        #: when a rule is narrowed to a ticker at all (else it changes nothing)
        self._narrowed = incremental and any(c.ticker is not None for c in self.rules)
        #: account → rule index → the rule's condition bound to the account's env
        self._checks: dict[int, dict[int, Callable[[], object]]] = {}
        #: (rule index, account) → item → state
        self._states: dict[tuple[int, int], dict[str, RuleState]] = {}
        #: (rule index, account, item) of rules whose last evaluation raised
        self._errors: set[tuple[int, int, str]] = set()
        #: account → intent key → unmet intent
        self._intents: dict[int, dict[str, Intent]] = {}
        self._pending_deadline: datetime | None = None
        #: the earliest end of any lock (expiry is checked only once time reaches it)
        self._lock_end: datetime | None = None
        #: accounts that got a lock during the current event (enforced on everything)
        self._locked_now: set[int] = set()
        #: the episodes of awaited facts rules found unknown (``simple_risk.engine.unknowns``)
        self.unknown = UnknownFacts(unknown_alert_after)
        self.now: datetime | None = None

    # -- public ------------------------------------------------------------------------------

    def apply(self, event: Event) -> list[Firing]:
        """Apply one event; returns the firings it caused, in order."""
        at = event.at
        self.now = at
        # deadlines are kept in UTC (the calendar's and the adapters' zone): comparing
        # datetimes of two zones converts both on every comparison, so an event stamped in
        # another zone is converted once here
        now = at if at.tzinfo is UTC else at.astimezone(UTC)
        firings: list[Firing] = []
        locked_now = self._locked_now
        if locked_now:
            locked_now.clear()
        store = self.store
        clock = store.clock
        clock.now = at
        clock.utc = now
        day_end = store.day_end
        rolled = False
        if (day_end is None or now >= day_end) and store.roll(at):
            self._new_day()
            rolled = True
        if self._lock_end is not None and now >= self._lock_end:
            for state in store.accounts.values():
                if state.locks:
                    state.locks.expire(now)
            self._recompute_lock_end()
        # a fill seen for the first time (the gateway re-sends fills) while its account has
        # lockouts: it may belong to the order that set one (Lock.opening_order)
        fresh_fill: TradeFill | None = None
        if isinstance(event, TradeFill) and not event.voided:
            holder = store.accounts.get(event.account_id)
            if holder is not None and holder.locks and event.trade_id not in holder.ledger.fills:
                fresh_fill = event
        session = store.session
        edge = session.next_edge
        if (edge is not None and now >= edge) or not session.primed:
            self._session_edge(now)
        touched = store.apply(event)
        if self.derive.facts:  # before any rule (or ``for:`` deadline) reads them
            self.derive.begin()
            for state in touched.accounts:
                moved = self.derive.update(state, self._env(state), touched, event)
                if moved and self.incremental:
                    # the rules reading a derived fact that moved run in full when woken
                    stale = self._stale.get(state.id)
                    if stale is None:
                        stale = self._stale[state.id] = set(self._tracked)
                    for name in moved:
                        stale |= self._readers.get("derived." + name, frozenset())
            if self.derive.failed:
                self._derived_failures(at, firings)
        if self._pending_deadline is not None and now >= self._pending_deadline:
            self._run_deadlines(at, firings)
        unknown = self.unknown
        if unknown.deadline is not None and now >= unknown.deadline:
            unknown.run_deadlines(self, at, firings)
        if not touched.accounts:
            # about half of all quotes: nobody holds or works the contract, nothing to wake
            if locked_now:
                self._enforce_new_locks(touched, event, firings)
            return firings
        kind = self._kinds.get(type(event))
        if kind is None:
            kind = self._kinds[type(event)] = kind_of(type(event), self._plans)
        trigger, reconcile, changes_exposure, quoted_only = kind
        envs = self._envs
        plans = self._account_plans
        quoted = touched.contract_id if quoted_only else None
        incremental = self.incremental
        change = touched.change if not rolled else _EVERYTHING
        stale_of = self._stale
        # an event about one root that kept its item there: rules narrowed to other tickers
        # about its own item are left out of the plan (``plans.for_root``)
        rooted_at = (
            touched.root if touched.root is not None and touched.change != _EVERYTHING else None
        )
        for state in touched.accounts:
            env = envs.get(state.id)
            if env is None:
                env = self._env(state)
            stale = None
            if incremental:
                stale = stale_of.get(state.id)
                if stale is None:
                    stale = stale_of[state.id] = set(self._tracked)
            # a quote for a contract the account only has working orders in wakes nothing
            # when every quote rule reads only the quoted contract's position
            if trigger and (quoted is None or quoted in state.positions):
                plan_key: object
                if stale is None:
                    plan_key = trigger
                    plan = plans[state.id][trigger]
                    forced: frozenset[int] | None = None
                else:
                    # the woken rules whose facts changed since they last ran in full run
                    # in full, the others as far as this event changed their facts
                    woken = self._woken[trigger]
                    forced = (
                        woken.intersection(stale) if stale and not woken.isdisjoint(stale) else None
                    )
                    if not forced:
                        plan_key = (trigger, change)
                        plan = plans[state.id][plan_key]
                    else:
                        plan_key = (trigger, change, forced)
                        plan = self._forced_plan(state.id, trigger, change, forced)
                if rooted_at is not None and self._narrowed and len(plan) > 1:
                    # (a plan of one group gains nothing: ``_evaluate`` picks its root's rules)
                    plan = self._rooted_plan(state, plan_key, plan, rooted_at)
                if (
                    plan
                    and not state.positions
                    and not forced
                    and plan_key in self._positions_only
                    and not self.unknown.episodes
                    and not self._keeps_states(plan, state.id)
                ):
                    plan = ()  # no position to evaluate and no state of one to drop
                if plan:
                    # the event's item families (``_bind_event``, inlined: once per account)
                    env["order"] = touched.order
                    env["position"] = touched.position
                    env["trade"] = touched.trade
                    env["quote"] = touched.quote
                    root = touched.root
                    symbol = state.symbol(root) if root is not None else None
                    env["symbol"] = symbol
                    self._evaluate(plan, state, env, touched, symbol, event, firings)
                if stale is not None and forced:
                    stale -= self._settles[trigger]
                    if self._rearmed:
                        self._still_rearmed(state.id, stale)
            if stale is not None:
                lagging = self._lagging[trigger, change]
                if lagging:
                    stale |= lagging
                # an order or root that went with this event is still listed for it (its
                # rules see it end) and no more after: dropped at their next full run
                order = touched.order
                if order is not None and order.id not in state.orders:
                    stale |= self._members["order"]
                root = touched.root
                if root is not None and root not in state.roots:
                    stale |= self._members["symbol"]
            locks = state.locks
            if locks.locks:
                if fresh_fill is not None:
                    # the fill of an order whose event set a lockout: part of its start
                    locks.fill_seen(
                        fresh_fill.order_id,
                        fresh_fill.contract_id,
                        fresh_fill.side is OrderSide.BUY,
                        fresh_fill.size,
                    )
                now_locked = state.id in locked_now
                if now_locked or changes_exposure:
                    self._enforce(state, touched, event, firings, reconcile or now_locked)
                if locks.whiles:
                    self._run_while_locks(state, env)
            if state.own_tags and changes_exposure:
                self._retire_own_stops(state, event, firings, reconcile)
            # an intent issued on this very event may already be met (a flatten on an account
            # that is flat): remembered, it would cover — and so cancel — a later, legal order
            if changes_exposure or firings:
                self._forget_met_intents(state)
        if locked_now:
            self._enforce_new_locks(touched, event, firings)
        return firings

    def next_deadline(self) -> datetime | None:
        """The earliest instant at which time alone changes something (a ``for:`` deadline, a
        lockout end, the daily boundary); the daemon schedules an exact ClockTick there."""
        # ``_lock_end`` is never later than the earliest lock end (lowered when a lock is
        # added, recomputed on expiry and restore), so this stays O(1) per call: the daemon
        # asks after every event. A value that is early only costs one tick that finds nothing.
        # Ties keep the first of (``for:`` deadline, lock end, day end).
        earliest = self._pending_deadline
        lock_end = self._lock_end
        if lock_end is not None and (earliest is None or lock_end < earliest):
            earliest = lock_end
        day_end = self.store.day_end
        if day_end is not None and (earliest is None or day_end < earliest):
            earliest = day_end
        unknown = self.unknown.deadline
        if unknown is not None and (earliest is None or unknown < earliest):
            earliest = unknown
        edge = self.store.session.next_edge
        if edge is not None and (earliest is None or edge < earliest):
            earliest = edge
        return earliest

    @property
    def unknown_alert_after(self) -> timedelta | None:
        """How long an awaited fact a rule needs may stay unknown before it raises an alert
        (None: never)."""
        return self.unknown.after

    def unmet_intents(self, account: int) -> list[Intent]:
        """Intents issued for the account whose target the facts do not show yet."""
        return list(self._intents.get(account, {}).values())

    def locks(self, account: int) -> list[Lock]:
        state = self.store.accounts.get(account)
        return list(state.locks.locks.values()) if state is not None else []

    def account(self, account: int) -> AccountState | None:
        return self.store.accounts.get(account)

    def state_of(self, rule_id: str, account: int, item: str = "") -> str:
        """``inactive``, ``pending`` or ``firing`` for one (rule, account, item)."""
        compiled = self._rules_by_id[rule_id]
        rule_state = self._states.get((compiled.index, account), {}).get(item)
        if rule_state is None:
            return "inactive"
        return "firing" if rule_state.firing else "pending"

    def rearm(self, rule_id: str, account: int, symbol: str | None = None) -> list[str]:
        """Mark the firing states of ``rule_id`` on ``account`` — only those bound to the root
        ``symbol`` when it is given — as cleared, and return their items.

        A rule fires once per breach episode; the lockout it sets is that firing's lasting
        effect. When an admin clears the lockout while the breach goes on, the episode must
        not go on silently, or the rule — still broken — would never lock again. A cleared
        state fires anew at the rule's next evaluation that finds it broken on something that
        happened (a fill, a position, an order, the clock): its next firing. A reconcile only
        re-reads what the admin saw when clearing, so it keeps the state quiet — else the
        periodic reconcile (or a restart's) would undo every clear within a minute. A rule
        found no longer broken ends the episode as usual. Pending states keep their timers.
        A state whose root cannot be told is marked too (locking again is the safe side).
        """
        compiled = self._rules_by_id.get(rule_id)
        state = self.store.accounts.get(account)
        if compiled is None or state is None:
            return []
        bucket = self._states.get((compiled.index, account))
        if not bucket:
            return []
        marked = [
            item
            for item, rule_state in bucket.items()
            if rule_state.firing
            and (symbol is None or self._root_of(state, item, rule_state.event) in (symbol, None))
        ]
        for item in marked:
            bucket[item].cleared = True
        if marked:
            self._rearmed.add((compiled.index, account))
            self._stale.setdefault(account, set(self._tracked)).add(compiled.index)
        return marked

    def _root_of(self, state: AccountState, item: str, event: Event) -> str | None:
        """The symbol root a rule state is about (its item's, else its event's), if any."""
        kind, _, key = item.partition(":")
        if kind == "symbol":
            return key
        contract_id: object = key if kind == "position" else None
        if kind == "order" and key.isdigit() and (order := state.orders.get(int(key))):
            return order.symbol
        if contract_id is None:
            contract_id = getattr(event, "contract_id", None)
        if not isinstance(contract_id, str):
            return None
        known = self.store.market.contracts.get(contract_id)
        if known is not None:
            return known.root
        return self.store.market.symbols.root(raw_root(contract_id))

    def facts(self, account: int) -> dict[str, object]:
        """The always-bound families of an account, for ``--explain`` and tests."""
        state = self.store.accounts.get(account)
        if state is None:
            return {}
        facts = dict(self._env(state))
        for name in ITEM_FAMILIES:  # bound per event and item, not facts of the account
            facts[name] = None
        facts["derived"] = self.derive.view(account, facts)
        facts.pop("__builtins__", None)
        return facts

    # -- rule evaluation ---------------------------------------------------------------------

    def _evaluate(
        self,
        plan: AccountPlan,
        state: AccountState,
        env: dict[str, object],
        touched: Touched,
        symbol: SymbolFacts | None,
        event: Event,
        firings: list[Firing],
    ) -> None:
        """Evaluate the rules an event woke for one account, in file order.

        The hot path of the engine. The plan groups consecutive rules that bind the same
        item (the event's own, or the quoted contract's position), so the item is bound once
        for the group; ``each:`` rules run one at a time over their family's items. A rule
        calls :meth:`_transition` only when its result is true or its item has a state: the
        common "false and inactive" case costs one ``eval`` and one dict look-up. The items of
        each family are listed at most once per account and event.

        The few lines that evaluate one (rule, item) — eval, error, unknown-fact bookkeeping,
        transition — are written out in each binding mode on purpose: as a method they cost a
        call per rule evaluation (~0.2 µs, several per event), which the p99 floor of
        bench/engine.py cannot afford. Keep the copies identical when changing one.
        """
        at = event.at
        sid = state.id
        states = self._states
        errors = self._errors
        seen = self.unknown.seen  # known(None) calls of the evaluation running
        unknowns = self.unknown.episodes
        positions: list[tuple[Position, SymbolFacts, str]] | None = None
        orders: list[tuple[Order, SymbolFacts, str]] | None = None
        roots: list[tuple[None, SymbolFacts, str]] | None = None
        item_keys: dict[str, str] | None = None  # item mode → the event's item key
        listed_roots: dict[str, set[str]] | None = None  # item prefix → its items' roots
        for mode, rules, by_ticker in plan:
            if mode == ITEM:
                # rules about the event's own item narrowed to another ticker find their
                # first condition false; none can have a state for this item — unless the item
                # moved between roots, which the store reports as a change of everything (an
                # order moved to another contract)
                if (
                    by_ticker is not None
                    and touched.root is not None
                    and touched.change != _EVERYTHING
                ):
                    rules = by_ticker.get(touched.root) or by_ticker[""]
                for compiled, check, _scoped in rules:
                    item_mode = compiled.item_mode
                    if not item_mode:
                        item = ""
                    else:
                        if item_keys is None:
                            item_keys = {}
                        known_item = item_keys.get(item_mode)
                        if known_item is None:
                            known_item = item_keys[item_mode] = self._item_key(compiled, touched)
                        item = known_item
                    if seen:
                        seen.clear()
                    try:
                        hit = bool(check())
                    except Exception as exc:
                        self._error(compiled, state, item, exc, at, firings)
                        continue
                    if errors:
                        errors.discard((compiled.index, sid, item))
                    if seen or unknowns:
                        self.unknown.note(compiled, sid, env, item, event, at)
                    if hit:
                        self._transition(compiled, state, env, item, True, event, at, firings)
                    else:
                        bucket = states.get((compiled.index, sid))
                        if bucket and item in bucket:
                            self._transition(compiled, state, env, item, False, event, at, firings)
                continue
            if mode == QUOTED_POSITION:
                # a quote reprices only the positions in the quoted contract, and these rules
                # read nothing another position changes: only that position can change
                position = state.positions.get(touched.contract_id or "")
                if position is None:
                    continue
                if by_ticker is not None:  # the rules of other tickers are false for it
                    rules = by_ticker.get(position.symbol) or by_ticker[""]
                item = "position:" + position.contract_id
                env["position"] = position
                env["symbol"] = state.symbol(position.symbol)
                for compiled, check, _scoped in rules:
                    if seen:
                        seen.clear()
                    try:
                        hit = bool(check())
                    except Exception as exc:
                        self._error(compiled, state, item, exc, at, firings)
                        continue
                    if errors:
                        errors.discard((compiled.index, sid, item))
                    if seen or unknowns:
                        self.unknown.note(compiled, sid, env, item, event, at)
                    if hit:
                        self._transition(compiled, state, env, item, True, event, at, firings)
                    else:
                        bucket = states.get((compiled.index, sid))
                        if bucket and item in bucket:
                            self._transition(compiled, state, env, item, False, event, at, firings)
                env["position"] = touched.position
                env["symbol"] = symbol
                continue
            listed: list[tuple[Any, SymbolFacts, str]]
            if mode == POSITION:
                if positions is None:
                    positions = [
                        (p, state.symbol(p.symbol), "position:" + p.contract_id)
                        for p in state.positions.values()
                    ]
                family, prefix, listed = "position", "position:", positions
            elif mode == ORDER:
                if orders is None:
                    working = list(state.orders.values())
                    if touched.order is not None and touched.order.id not in state.orders:
                        working.append(touched.order)
                    orders = [(o, state.symbol(o.symbol), f"order:{o.id}") for o in working]
                family, prefix, listed = "order", "order:", orders
            else:
                if roots is None:
                    names = set(state.roots)
                    if touched.root is not None:
                        names.add(touched.root)
                    roots = [(None, state.symbol(r), "symbol:" + r) for r in sorted(names)]
                family, prefix, listed = "", "symbol:", roots
            held: set[str] | None = None
            wanted: set[str] | None = None
            if by_ticker is not None:
                # the roots of the listed items, once per family and event (a book of copies
                # narrowed to tickers has many one-rule groups of each family)
                if listed_roots is None:
                    listed_roots = {}
                held = listed_roots.get(prefix)
                if held is None:
                    held = listed_roots[prefix] = {entry[1].root for entry in listed}
                if touched.root is not None:
                    # rules narrowed to a ticker that no listed item has, and that this event
                    # is not about (the event that removes an item is about its root), find
                    # nothing
                    wanted = held | {touched.root}
                    held = None
                # else an event about no root (a clock tick): such a rule still has states to
                # drop when an item of its ticker went on an event that did not wake it
            for compiled, check, scoped in rules:
                narrowed = compiled.ticker
                if wanted is not None and narrowed is not None and narrowed not in wanted:
                    continue
                key = (compiled.index, sid)
                bucket = states.get(key)
                if (
                    held is not None
                    and narrowed is not None
                    and narrowed not in held
                    and not bucket
                    and not (unknowns and compiled.awaited)
                ):
                    continue  # no item of its ticker, nothing kept: evaluating finds nothing
                # scoped: the event changed this rule's facts for its own contract or root only
                own = (
                    None
                    if not scoped
                    else "position:" + (touched.contract_id or "")
                    if mode == POSITION
                    else "symbol:" + (touched.root or "")
                )
                for bound, sym, item in listed:
                    if (own is not None and item != own) or (
                        narrowed is not None and sym.root != narrowed
                    ):
                        continue  # nothing it reads changed / its first condition is false
                    if family:
                        env[family] = bound
                    env["symbol"] = sym
                    if seen:
                        seen.clear()
                    try:
                        hit = bool(check())
                    except Exception as exc:
                        self._error(compiled, state, item, exc, at, firings)
                        continue
                    if errors:
                        errors.discard((compiled.index, sid, item))
                    if seen or unknowns:
                        self.unknown.note(compiled, sid, env, item, event, at)
                    if hit or (bucket and item in bucket):
                        self._transition(compiled, state, env, item, hit, event, at, firings)
                        bucket = states.get(key)
                env["position"] = touched.position
                env["order"] = touched.order
                env["symbol"] = symbol
                if bucket:
                    self._drop_stale(compiled, bucket, prefix, listed)
                if unknowns and compiled.awaited:
                    self.unknown.forget(compiled.index, sid, prefix, listed)

    def _keeps_states(self, plan: AccountPlan, account: int) -> bool:
        """Whether a rule of ``plan`` has a state on ``account``."""
        states = self._states
        for _mode, entries, _by_ticker in plan:
            for compiled, _check, _scoped in entries:
                if states.get((compiled.index, account)):
                    return True
        return False

    def _item_key(self, compiled: CompiledRule, touched: Touched) -> str:
        mode = compiled.item_mode
        if mode == "trade" and touched.trade is not None:
            return f"fill-order:{touched.trade.order_id}"
        if mode == "fill" and touched.trade is not None:
            return f"fill:{touched.trade.id}"
        if mode == "order-of-event":
            if touched.trade is not None:
                return f"fill-order:{touched.trade.order_id}"
            if touched.order is not None:
                return f"order:{touched.order.id}"
        if mode == "order" and touched.order is not None:
            return f"order:{touched.order.id}"
        if mode == "position" and touched.contract_id is not None:
            return "position:" + touched.contract_id
        if mode == "symbol" and touched.root is not None:
            return "symbol:" + touched.root
        return ""

    def _drop_stale(
        self,
        compiled: CompiledRule,
        bucket: dict[str, RuleState],
        prefix: str,
        listed: list[tuple[Any, SymbolFacts, str]],
    ) -> None:
        """Items that no longer exist resolve (a closed position, a filled order)."""
        # a bucket and the listed items are a handful each: scanning beats building sets, and
        # mostly every item is still listed (no list is built then)
        stale: list[str] | None = None
        for item in bucket:
            if item.startswith(prefix):
                for entry in listed:
                    if entry[2] == item:
                        break
                else:
                    if stale is None:
                        stale = []
                    stale.append(item)
        if stale is None:
            return
        for item in stale:
            if compiled.keep_resolved and bucket[item].firing:
                continue  # ``refire: day``: the item fired today, gone or not
            rule_state = bucket.pop(item)
            if not rule_state.firing:
                self._pending_ended(compiled, rule_state)

    def _step(
        self,
        compiled: CompiledRule,
        state: AccountState,
        env: dict[str, object],
        item: str,
        event: Event,
        at: datetime,
        firings: list[Firing],
    ) -> None:
        """Evaluate one (rule, account, item) and move its state (deadlines use this)."""
        unknown = self.unknown
        unknown.seen.clear()
        try:
            result = bool(eval(compiled.code, _GLOBALS, env))
        except Exception as exc:
            self._error(compiled, state, item, exc, at, firings)
            return
        if self._errors:
            self._errors.discard((compiled.index, state.id, item))
        if unknown.seen or unknown.episodes:
            unknown.note(compiled, state.id, env, item, event, at)
        self._transition(compiled, state, env, item, result, event, at, firings)

    def _transition(
        self,
        compiled: CompiledRule,
        state: AccountState,
        env: dict[str, object],
        item: str,
        result: bool,
        event: Event,
        at: datetime,
        firings: list[Firing],
    ) -> None:
        """inactive → pending → firing → resolved for one evaluated (rule, account, item)."""
        key = (compiled.index, state.id)
        bucket = self._states.get(key)
        current = bucket.get(item) if bucket is not None else None
        if not result:
            if current is not None and bucket is not None:
                if current.firing and compiled.keep_resolved:
                    return  # ``refire: day``: no new episode before the daily reset
                del bucket[item]
                if not current.firing:
                    self._pending_ended(compiled, current)
            return
        if current is None:
            if bucket is None:
                bucket = self._states[key] = {}
            if compiled.for_ is None:
                new_state = bucket[item] = RuleState(at, True, event)
                if compiled.every is not None:
                    new_state.fired = at
                firings.append(self._fire(compiled, state, env, item, at, new_state))
            else:
                bucket[item] = RuleState(at, False, event)
                deadline = utc(at + compiled.for_)
                if self._pending_deadline is None or deadline < self._pending_deadline:
                    self._pending_deadline = deadline
            return
        if current.firing:
            if current.cleared and not isinstance(event, Reconciled):
                # its lockout was cleared while the rule stayed broken: a new episode
                fresh = RuleState(at, True, event)
                if compiled.every is not None:
                    fresh.fired = at
                self._states[key][item] = fresh
                firings.append(self._fire(compiled, state, env, item, at, fresh))
                return
            every = compiled.every
            if (
                every is not None
                and current.fired is not None
                and utc(at) >= utc(current.fired + every)
            ):
                # ``refire: {every: …}``: still broken a whole period after the last firing
                current.fired = at
                current.event = event
                firings.append(self._fire(compiled, state, env, item, at, current))
                return
            if compiled.retarget and self._target_moved(compiled, state, env, current, at):
                current.event = event
                firings.append(self._fire(compiled, state, env, item, at, current))
            return
        current.event = event
        if compiled.for_ is not None and utc(at) >= utc(current.since + compiled.for_):
            current.firing = True
            if compiled.every is not None:
                current.fired = at
            firings.append(self._fire(compiled, state, env, item, at, current))
            self._pending_ended(compiled, current)

    # -- firing ------------------------------------------------------------------------------

    def _target_moved(
        self,
        compiled: CompiledRule,
        state: AccountState,
        env: dict[str, object],
        rule_state: RuleState,
        at: datetime,
    ) -> bool:
        # the retarget actions are the stop actions: their intents, built directly (no other
        # action runs, nothing is kept)
        ctx = ActionContext(state, env, at, self.calendar, compiled.rule.id, "")
        targets: list[str] = []
        try:
            for _index, action in compiled.retarget:
                intent = stop_target(ctx, action)
                if intent is not None:
                    targets.append(intent.key)
        except Exception:
            return False
        return bool(targets) and tuple(targets) != rule_state.targets

    def _fire(
        self,
        compiled: CompiledRule,
        state: AccountState,
        env: dict[str, object],
        item: str,
        at: datetime,
        rule_state: RuleState,
    ) -> Firing:
        rule = compiled.rule
        values = values_of(compiled.decisive, env)
        message = render(rule.message, env) if rule.message is not None else rule.id
        ctx = ActionContext(state, env, at, self.calendar, rule.id, message)
        notices: list[LockNotice] = []
        targets: list[str] = []
        try:
            for index, action in enumerate(rule.then):
                issued = len(ctx.intents)
                run_action(ctx, action, index)
                if action.kind in RETARGET_ACTIONS:
                    targets.extend(intent.key for intent in ctx.intents[issued:])
        except Exception as exc:
            ctx.intents.append(
                Alert(
                    "critical",
                    f"rule {rule.id}: action failed: {describe(exc)}",
                    state.id,
                    rule.id,
                )
            )
        if ctx.locks:
            self._locked_now.add(state.id)
        for lock in ctx.locks:
            merged = state.locks.add(lock)
            if merged.ends_at is not None:
                end = utc(merged.ends_at)
                if self._lock_end is None or end < self._lock_end:
                    self._lock_end = end
            notices.append(
                LockNotice(merged.scope, merged.symbol, merged.kind, merged.ends_at, merged.reason)
            )
        self._remember(state.id, ctx.intents)
        rule_state.targets = tuple(targets)
        return Firing(
            rule_id=rule.id,
            account=state.id,
            item=item,
            at=at,
            severity=rule.severity,
            message=message,
            values=values,
            intents=tuple(ctx.intents),
            locks=tuple(notices),
        )

    def _error(
        self,
        compiled: CompiledRule,
        state: AccountState,
        item: str,
        exc: Exception,
        at: datetime,
        firings: list[Firing],
    ) -> None:
        key = (compiled.index, state.id, item)
        if key in self._errors:
            return
        self._errors.add(key)
        rule = compiled.rule
        message = f"rule {rule.id} ({rule.location}) failed: {describe(exc)}"
        firings.append(error_firing(rule.id, state.id, item, at, message))

    def _derived_failures(self, at: datetime, firings: list[Firing]) -> None:
        """A derived fact's sample started failing on this event: an engine-error firing (a
        critical alert) for each, whether a rule reads the fact or not (one that does fails
        too, and says so itself)."""
        for account, fact, key, error in self.derive.failed:
            item = f"{fact.each}:{key}" if fact.each is not None else ""
            name = f"derived.{fact.name}"
            where = f" for {key}" if key else ""
            message = f"{name} ({fact.location}) failed{where}: {error}"
            firings.append(error_firing(name, account, item, at, message))

    # -- the day -----------------------------------------------------------------------------

    def _new_day(self) -> None:
        """Episodes of rules about the day, and per-fill episodes, end at the daily reset."""
        self._stale.clear()  # the day's facts reset for every account: evaluate in full
        for (index, _account), bucket in self._states.items():
            if self._by_index[index].day_scoped:
                bucket.clear()
                continue
            for item in [i for i in bucket if i.startswith(("fill-order:", "fill:"))]:
                del bucket[item]
        self._recompute_pending_deadline()
        # unknown episodes of a fill's item, or of an item that is gone, end too
        self.unknown.end_with_day(self.store.accounts)

    # -- snapshot ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The engine's whole state as JSON-serialisable data."""
        from simple_risk.engine.snapshot import dump_engine

        return dump_engine(self)

    @classmethod
    def restore(
        cls,
        ruleset: Ruleset,
        snapshot: Mapping[str, Any],
        *,
        accounts: Iterable[int] | None = None,
        starting_balances: Mapping[int, Decimal] | None = None,
        unknown_alert_after: timedelta | None = UNKNOWN_ALERT_AFTER,
        incremental: bool = True,
    ) -> Engine:
        """An engine in the state ``snapshot()`` captured (same ruleset)."""
        from simple_risk.engine.snapshot import load_engine

        engine = cls(
            ruleset,
            accounts=accounts,
            starting_balances=starting_balances,
            unknown_alert_after=unknown_alert_after,
            incremental=incremental,
        )
        load_engine(engine, snapshot)
        # every rule is stale until evaluated in full (``_stale`` starts empty); a cleared
        # state stays so until it fires again or ends
        engine._rearmed = {
            key
            for key, bucket in engine._states.items()
            if any(rule_state.cleared for rule_state in bucket.values())
        }
        engine._stale.clear()
        return engine


__all__ = [
    "UNKNOWN_ALERT_AFTER",
    "CompiledRule",
    "Engine",
    "Firing",
    "LockNotice",
    "RuleState",
    "base_env_for",
]
