"""The engine: domain events in, firings with intents out. Pure, deterministic, no I/O.

The daemon (and ``rules test``, replay and the benchmarks) feed events one at a time::

    engine = Engine(load_ruleset("rulesets/topstep.yaml"))
    for event in events:
        for firing in engine.apply(event):
            executor.submit(firing.intents)
    deadline = engine.next_deadline()   # schedule an exact ClockTick there

Per event: the fact store updates the facts; the rules the event's trigger wakes (every rule on
``reconcile``) are evaluated for each affected account — once per item for ``each:`` rules —
in file order, and **every** matching rule fires. Each (rule, account, item) has a
Prometheus-style state: inactive → pending (``for:``) → firing → resolved (dropped), driven by
event time; a rule fires once per breach episode. A rule whose evaluation raises yields an
engine-error firing (critical alert) and the other rules still run. Then lockouts are
enforced (exposure cannot grow while locked), ``while:`` locks re-evaluated, and intents whose
target the facts now show are forgotten.

Breach episodes are keyed by (rule, account, item). The item is the ``each:`` item
(``position:<contract>``, ``order:<id>``, ``symbol:<root>``); for a rule without ``each:`` it is
the event item its condition reads — ``fill-order:<order id>`` for ``trade.*`` (so every
losing order starts its own cooldown episode, while the fills of one order share one),
``order:<id>``, ``position:<contract>`` or ``symbol:<root>`` — and ``""`` for account-level
rules. Episodes of rules reading ``day.*`` (and per-fill episodes) end at the daily reset. A
firing ``move_stop`` rule fires again when its stop target moves (a trailing stop), and only
then. A pending state whose ``for:`` elapses is re-evaluated at its deadline even when the
rule has no ``clock`` trigger, with the bindings of the event that last evaluated it. On
``reconcile`` a rule reading an item family iterates that family's current items; one that
needs the triggering fill or quote is skipped.

``snapshot()`` / ``restore()`` carry the whole state as JSON so that a restored engine fed the
rest of a stream fires exactly as the uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from simple_risk.engine.actions import ActionContext, evaluate, render, run_action
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.events import (
    TRIGGER_OF,
    Event,
    OrderUpdate,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.facts.account import AccountState, SymbolFacts
from simple_risk.engine.facts.ledger import TradeFacts
from simple_risk.engine.facts.market import QuoteFacts
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.store import FactStore, Touched
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    is_met,
)
from simple_risk.engine.lockouts import Lock, LockFacts
from simple_risk.engine.model import Rule, Ruleset

_GLOBALS: dict[str, object] = {"__builtins__": {}}
#: actions whose target can move during one breach episode; the rule fires again when it does
_RETARGET_ACTIONS = frozenset({"move_stop"})
_ITEM_FAMILIES = ("position", "order", "symbol", "trade", "quote", "lock")

#: Facts that an ``each: position`` rule may read and still be re-evaluated, on a quote, for
#: the positions in the quoted contract only (they do not depend on other positions).
_ACCOUNT_WIDE = frozenset(
    {
        "account.unrealized_pnl",
        "account.equity",
        "day.unrealized_pnl",
        "day.net_pnl",
    }
)


@dataclass(frozen=True, slots=True)
class LockNotice:
    """A lockout a firing set (or extended): its scope, end and reason."""

    scope: str
    symbol: str | None
    kind: str
    ends_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule firing (or engine error, or lockout enforcement) with its intents.

    ``values`` maps every fact name the rule's ``when`` read to the value it had when the rule
    fired (built only on firing); ``intents`` keep the rule's declared action order.
    ``kind``: ``rule``, ``error`` (the rule's evaluation raised) or ``lockout`` (an active
    lockout refused new exposure).
    """

    rule_id: str
    account: int
    item: str
    at: datetime
    severity: str
    message: str
    values: Mapping[str, object]
    intents: tuple[Intent, ...]
    kind: str = "rule"
    locks: tuple[LockNotice, ...] = field(default=())


class RuleState:
    """The state of one (rule, account, item) that is pending or firing."""

    __slots__ = ("event", "firing", "since", "targets")

    def __init__(
        self, since: datetime, firing: bool, event: Event, targets: tuple[str, ...] = ()
    ) -> None:
        self.since = since
        self.firing = firing
        self.event = event
        #: keys of the stop targets of the last firing (stop-management rules re-fire when
        #: the target moves, e.g. a trailing stop following the best price)
        self.targets = targets


class CompiledRule:
    """A rule plus what the engine precomputes about it once."""

    __slots__ = (
        "code",
        "day_scoped",
        "each",
        "for_",
        "index",
        "item_mode",
        "quote_local",
        "reconcile_each",
        "reconcile_skip",
        "retarget",
        "rule",
    )

    def __init__(self, rule: Rule, index: int) -> None:
        self.rule = rule
        self.index = index
        self.code = rule.when.code
        self.each = rule.each
        self.for_ = rule.for_ if rule.for_ and rule.for_ > timedelta(0) else None
        names = rule.when.names
        families = {name.split(".", 1)[0] for name in names}
        #: what identifies a breach episode of a rule without ``each:``
        if rule.each is not None:
            self.item_mode = rule.each
        elif "trade" in families and "trade" in rule.triggers:
            self.item_mode = "trade"
        elif "order" in families:
            self.item_mode = "order"
        elif "position" in families:
            self.item_mode = "position"
        elif "symbol" in families:
            self.item_mode = "symbol"  # e.g. a blocked root: one episode per root
        else:
            self.item_mode = ""
        self.quote_local = rule.each == "position" and not (names & _ACCOUNT_WIDE)
        #: episodes of rules reading ``day.*`` end at the daily reset
        self.day_scoped = "day" in families
        #: the actions whose target may move while the rule stays true (stop management)
        self.retarget = tuple(
            (index, action)
            for index, action in enumerate(rule.then)
            if action.kind in _RETARGET_ACTIONS
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


def base_env_for(ruleset: Ruleset) -> dict[str, object]:
    """The ruleset's constant environment (params, lists, functions, hidden constants)."""
    from simple_risk.engine.dsl import base_env  # the DSL imports the engine's model only

    return dict(base_env(ruleset))


class Engine:
    """Evaluate one ruleset over a stream of domain events (see the module docstring)."""

    def __init__(
        self,
        ruleset: Ruleset,
        *,
        accounts: Iterable[int] | None = None,
        starting_balances: Mapping[int, Decimal] | None = None,
    ) -> None:
        self.ruleset = ruleset
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
            CompiledRule(rule, index) for index, rule in enumerate(ruleset.rules) if rule.enabled
        )
        self._rules_by_id = {compiled.rule.id: compiled for compiled in self.rules}
        self._by_index = {compiled.index: compiled for compiled in self.rules}
        self._by_trigger: dict[str, tuple[CompiledRule, ...]] = {
            trigger: tuple(r for r in self.rules if trigger in r.rule.triggers)
            for trigger in ("account", "order", "position", "trade", "quote", "clock")
        }
        self._by_trigger["reconcile"] = self.rules
        self._base_env = base_env_for(ruleset)
        self._envs: dict[int, dict[str, object]] = {}
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
        self.now: datetime | None = None

    # -- public ------------------------------------------------------------------------------

    def apply(self, event: Event) -> list[Firing]:
        """Apply one event; returns the firings it caused, in order."""
        at = event.at
        self.now = at
        firings: list[Firing] = []
        self._locked_now.clear()
        if self.store.roll(at):
            self._new_day()
        if self._lock_end is not None and at >= self._lock_end:
            for state in self.store.accounts.values():
                if state.locks:
                    state.locks.expire(at)
            self._recompute_lock_end()
        touched = self.store.apply(event)
        if self._pending_deadline is not None and at >= self._pending_deadline:
            self._run_deadlines(at, firings)
        trigger = TRIGGER_OF.get(type(event))
        rules = self._by_trigger.get(trigger, ()) if trigger is not None else ()
        reconcile = isinstance(event, Reconciled)
        changes_exposure = isinstance(event, OrderUpdate | PositionUpdate | Reconciled)
        for state in touched.accounts:
            env = self._env(state)
            symbol = self._bind_event(env, state, touched)
            for compiled in rules:
                self._run_rule(compiled, state, env, touched, symbol, event, firings)
            if state.locks:
                locked_now = state.id in self._locked_now
                if locked_now or changes_exposure:
                    self._enforce(state, touched, event, firings, reconcile or locked_now)
                self._run_while_locks(state, env)
            # an intent issued on this very event may already be met (a flatten on an account
            # that is flat): remembered, it would cover — and so cancel — a later, legal order
            if changes_exposure or firings:
                self._forget_met_intents(state)
        if self._locked_now:
            self._enforce_new_locks(touched, event, firings)
        return firings

    def _enforce_new_locks(self, touched: Touched, event: Event, firings: list[Firing]) -> None:
        """Accounts locked by a deadline firing that this event did not otherwise touch."""
        done = {state.id for state in touched.accounts}
        for account in sorted(self._locked_now - done):
            state = self.store.accounts[account]
            if state.locks:
                self._enforce(state, Touched([state]), event, firings, True)
        self._locked_now.clear()

    def _recompute_lock_end(self) -> None:
        ends = [
            end
            for state in self.store.accounts.values()
            if state.locks
            for end in (state.locks.next_end(),)
            if end is not None
        ]
        self._lock_end = min(ends) if ends else None

    def next_deadline(self) -> datetime | None:
        """The earliest instant at which time alone changes something (a ``for:`` deadline, a
        lockout end, the daily boundary); the daemon schedules an exact ClockTick there."""
        # ``_lock_end`` is never later than the earliest lock end (lowered when a lock is
        # added, recomputed on expiry and restore), so this stays O(1) per call: the daemon
        # asks after every event. A value that is early only costs one tick that finds nothing.
        candidates = [
            when
            for when in (self._pending_deadline, self._lock_end, self.store.day_end)
            if when is not None
        ]
        return min(candidates) if candidates else None

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

    def facts(self, account: int) -> dict[str, object]:
        """The always-bound families of an account, for ``--explain`` and tests."""
        state = self.store.accounts.get(account)
        if state is None:
            return {}
        return dict(self._env(state))

    # -- environments ------------------------------------------------------------------------

    def _env(self, state: AccountState) -> dict[str, object]:
        env = self._envs.get(state.id)
        if env is None:
            families = self.store.families[state.id]
            env = dict(self._base_env)
            env.update(
                account=families.account,
                day=families.day,
                week=families.week,
                trades=families.trades,
                session=self.store.session,
            )
            for name in _ITEM_FAMILIES:
                env[name] = None
            self._envs[state.id] = env
        return env

    def _bind_event(
        self, env: dict[str, object], state: AccountState, touched: Touched
    ) -> SymbolFacts | None:
        """Bind the event's item families; returns the bound symbol."""
        env["order"] = touched.order
        env["position"] = touched.position
        env["trade"] = touched.trade
        env["quote"] = touched.quote
        symbol = state.symbol(touched.root) if touched.root is not None else None
        env["symbol"] = symbol
        return symbol

    # -- rule evaluation ---------------------------------------------------------------------

    def _run_rule(
        self,
        compiled: CompiledRule,
        state: AccountState,
        env: dict[str, object],
        touched: Touched,
        symbol: SymbolFacts | None,
        event: Event,
        firings: list[Firing],
    ) -> None:
        each = compiled.each
        if isinstance(event, Reconciled):
            if compiled.reconcile_skip:
                return
            each = compiled.reconcile_each
        if each is None:
            item = self._item_key(compiled, touched)
            self._step(compiled, state, env, item, event, event.at, firings)
            return
        if each == "position":
            if compiled.quote_local and touched.quote is not None and compiled.each is not None:
                position = state.positions.get(touched.contract_id or "")
                positions = [position] if position is not None else []
                full = False
            else:
                positions = list(state.positions.values())
                full = True
            seen = []
            for position in positions:
                env["position"] = position
                env["symbol"] = state.symbol(position.symbol)
                item = "position:" + position.contract_id
                seen.append(item)
                self._step(compiled, state, env, item, event, event.at, firings)
        elif each == "order":
            orders = list(state.orders.values())
            if touched.order is not None and touched.order.id not in state.orders:
                orders.append(touched.order)
            seen = []
            full = True
            for order in orders:
                env["order"] = order
                env["symbol"] = state.symbol(order.symbol)
                item = f"order:{order.id}"
                seen.append(item)
                self._step(compiled, state, env, item, event, event.at, firings)
        else:
            roots = set(state.roots)
            if touched.root is not None:
                roots.add(touched.root)
            seen = []
            full = True
            for root in sorted(roots):
                env["symbol"] = state.symbol(root)
                item = "symbol:" + root
                seen.append(item)
                self._step(compiled, state, env, item, event, event.at, firings)
        env["position"] = touched.position
        env["order"] = touched.order
        env["symbol"] = symbol
        if full:
            self._drop_stale(compiled, state.id, each, seen)

    def _item_key(self, compiled: CompiledRule, touched: Touched) -> str:
        mode = compiled.item_mode
        if mode == "trade" and touched.trade is not None:
            return f"fill-order:{touched.trade.order_id}"
        if mode == "order" and touched.order is not None:
            return f"order:{touched.order.id}"
        if mode == "position" and touched.contract_id is not None:
            return "position:" + touched.contract_id
        if mode == "symbol" and touched.root is not None:
            return "symbol:" + touched.root
        return ""

    def _drop_stale(self, compiled: CompiledRule, account: int, each: str, seen: list[str]) -> None:
        """Items that no longer exist resolve (a closed position, a filled order)."""
        bucket = self._states.get((compiled.index, account))
        if not bucket:
            return
        keep = set(seen)
        prefix = each + ":"
        stale = [i for i in bucket if i.startswith(prefix) and i not in keep]
        if not stale:
            return
        for item in stale:
            del bucket[item]
        self._recompute_pending_deadline()

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
        try:
            result = bool(eval(compiled.code, _GLOBALS, env))
        except Exception as exc:
            self._error(compiled, state, item, exc, at, firings)
            return
        if self._errors:
            self._errors.discard((compiled.index, state.id, item))
        key = (compiled.index, state.id)
        bucket = self._states.get(key)
        current = bucket.get(item) if bucket is not None else None
        if not result:
            if current is not None and bucket is not None:
                del bucket[item]
                if not current.firing:
                    self._recompute_pending_deadline()
            return
        if current is None:
            if bucket is None:
                bucket = self._states[key] = {}
            if compiled.for_ is None:
                new_state = bucket[item] = RuleState(at, True, event)
                firings.append(self._fire(compiled, state, env, item, at, new_state))
            else:
                bucket[item] = RuleState(at, False, event)
                deadline = at + compiled.for_
                if self._pending_deadline is None or deadline < self._pending_deadline:
                    self._pending_deadline = deadline
            return
        if current.firing:
            if compiled.retarget and self._target_moved(compiled, state, env, current, at):
                current.event = event
                firings.append(self._fire(compiled, state, env, item, at, current))
            return
        current.event = event
        if compiled.for_ is not None and at >= current.since + compiled.for_:
            current.firing = True
            firings.append(self._fire(compiled, state, env, item, at, current))
            self._recompute_pending_deadline()

    def _recompute_pending_deadline(self) -> None:
        deadline: datetime | None = None
        for (index, _account), bucket in self._states.items():
            for_ = self._by_index[index].for_
            if for_ is None:
                continue
            for rule_state in bucket.values():
                if not rule_state.firing:
                    candidate = rule_state.since + for_
                    if deadline is None or candidate < deadline:
                        deadline = candidate
        self._pending_deadline = deadline

    def _run_deadlines(self, at: datetime, firings: list[Firing]) -> None:
        """Re-evaluate every pending state whose ``for:`` has elapsed, with the bindings of
        the event that last evaluated it (plus the current facts)."""
        due: list[tuple[CompiledRule, AccountState, str, RuleState]] = []
        for (index, account), bucket in self._states.items():
            compiled = self._by_index[index]
            if compiled.for_ is None:
                continue
            for item, rule_state in bucket.items():
                if not rule_state.firing and at >= rule_state.since + compiled.for_:
                    due.append((compiled, self.store.accounts[account], item, rule_state))
        due.sort(key=lambda d: (d[1].id, d[0].index, d[2]))
        for compiled, state, item, rule_state in due:
            env = self._env(state)
            if not self._rebind(env, state, compiled, item, rule_state.event):
                stale = self._states.get((compiled.index, state.id))
                if stale is not None:
                    stale.pop(item, None)
                continue
            self._step(compiled, state, env, item, rule_state.event, at, firings)
        self._recompute_pending_deadline()

    def _rebind(
        self,
        env: dict[str, object],
        state: AccountState,
        compiled: CompiledRule,
        item: str,
        event: Event,
    ) -> bool:
        """Bind the families of a stored state's event and item; False if the item is gone."""
        touched = Touched([state])
        if isinstance(event, OrderUpdate):
            touched.order = state.orders.get(event.order_id) or Order(
                state, event, self.store.market.contract(event.contract_id).root
            )
            touched.root = touched.order.symbol
        elif isinstance(event, PositionUpdate):
            touched.position = state.positions.get(event.contract_id)
            touched.root = self.store.market.contract(event.contract_id).root
        elif isinstance(event, TradeFill):
            contract = self.store.market.contract(event.contract_id)
            touched.trade = TradeFacts(event, contract.root, state.ledger)
            touched.root = contract.root
        elif isinstance(event, Quote):
            contract = self.store.market.contract(event.contract_id)
            touched.quote = QuoteFacts(event, contract.root)
            touched.root = contract.root
        self._bind_event(env, state, touched)
        kind, _, key = item.partition(":")
        if kind == "position":
            position = state.positions.get(key)
            if position is None:
                return False
            env["position"] = position
            env["symbol"] = state.symbol(position.symbol)
        elif kind == "order" and compiled.each == "order":
            order = state.orders.get(int(key))
            if order is None:
                return False
            env["order"] = order
            env["symbol"] = state.symbol(order.symbol)
        elif kind == "symbol":
            env["symbol"] = state.symbol(key)
        return True

    # -- firing ------------------------------------------------------------------------------

    def _target_moved(
        self,
        compiled: CompiledRule,
        state: AccountState,
        env: dict[str, object],
        rule_state: RuleState,
        at: datetime,
    ) -> bool:
        ctx = ActionContext(state, env, at, self.calendar, compiled.rule.id, "")
        try:
            for index, action in compiled.retarget:
                run_action(ctx, action, index)
        except Exception:
            return False
        targets = tuple(intent.key for intent in ctx.intents)
        return bool(targets) and targets != rule_state.targets

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
        values = _decisive_values(rule.when.names, env)
        message = render(rule.message, env) if rule.message is not None else rule.id
        ctx = ActionContext(state, env, at, self.calendar, rule.id, message)
        notices: list[LockNotice] = []
        targets: list[str] = []
        try:
            for index, action in enumerate(rule.then):
                issued = len(ctx.intents)
                run_action(ctx, action, index)
                if action.kind in _RETARGET_ACTIONS:
                    targets.extend(intent.key for intent in ctx.intents[issued:])
        except Exception as exc:
            ctx.intents.append(
                Alert(
                    "critical",
                    f"rule {rule.id}: action failed: {_describe(exc)}",
                    state.id,
                    rule.id,
                )
            )
        if ctx.locks:
            self._locked_now.add(state.id)
        for lock in ctx.locks:
            merged = state.locks.add(lock)
            if merged.ends_at is not None and (
                self._lock_end is None or merged.ends_at < self._lock_end
            ):
                self._lock_end = merged.ends_at
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
        message = f"rule {rule.id} ({rule.location}) failed: {_describe(exc)}"
        firings.append(
            Firing(
                rule_id=rule.id,
                account=state.id,
                item=item,
                at=at,
                severity="critical",
                message=message,
                values={},
                intents=(Alert("critical", message, state.id, rule.id),),
                kind="error",
            )
        )

    def _remember(self, account: int, intents: Iterable[Intent]) -> None:
        pending = self._intents.setdefault(account, {})
        for intent in intents:
            if not isinstance(intent, Alert):
                pending.setdefault(intent.key, intent)

    def _forget_met_intents(self, state: AccountState) -> None:
        pending = self._intents.get(state.id)
        if not pending:
            return
        for key in [k for k, intent in pending.items() if is_met(intent, state)]:
            del pending[key]

    # -- lockouts ----------------------------------------------------------------------------

    def _enforce(
        self,
        state: AccountState,
        touched: Touched,
        event: Event,
        firings: list[Firing],
        everything: bool,
    ) -> None:
        """While locked, exposure cannot grow: cancel adding orders, cut grown positions."""
        at = event.at
        if isinstance(event, PositionUpdate):
            held = state.positions.get(event.contract_id)
            state.locks.position_changed(
                event.contract_id,
                held.long if held is not None else True,
                held.size if held is not None else 0,
            )
        if everything:
            orders = list(state.orders.values())
            positions = list(state.positions.values())
        else:
            order = touched.order if isinstance(event, OrderUpdate) else None
            orders = [order] if order is not None and order.id in state.orders else []
            position = (
                state.positions.get(event.contract_id)
                if isinstance(event, PositionUpdate)
                else None
            )
            positions = [position] if position is not None else []
        pending = self._intents.get(state.id, {})
        for order in orders:
            lock = state.locks.order_must_be_cancelled(order)
            if lock is None:
                continue
            intent = CancelOrder(state.id, order.id)
            if intent.key in pending or _covered_by_pending(order, pending.values()):
                continue
            firings.append(
                self._enforcement(
                    lock,
                    state,
                    f"order:{order.id}",
                    at,
                    f"{lock.scope} lockout by {lock.rule} ({lock.reason}): "
                    f"order {order.id} ({order.side} {order.remaining} {order.symbol}) "
                    "would add exposure",
                    intent,
                )
            )
        for position in positions:
            limit = state.locks.position_limit(position)
            if limit is None:
                continue
            lock, allowed = limit
            intent_out: Intent
            if allowed == 0:
                intent_out = PositionClosed(state.id, position.contract_id)
                text = "is new"
            else:
                intent_out = ReduceTo(
                    state.id,
                    "contract",
                    max_contracts=allowed,
                    contract_id=position.contract_id,
                )
                text = f"grew beyond {allowed}"
            closed_key = PositionClosed(state.id, position.contract_id).key
            if intent_out.key in pending or closed_key in pending:
                continue
            firings.append(
                self._enforcement(
                    lock,
                    state,
                    "position:" + position.contract_id,
                    at,
                    f"{lock.scope} lockout by {lock.rule} ({lock.reason}): "
                    f"position {position.contract_id} ({position.side} {position.size}) {text}",
                    intent_out,
                )
            )

    def _enforcement(
        self,
        lock: Lock,
        state: AccountState,
        item: str,
        at: datetime,
        message: str,
        intent: Intent,
    ) -> Firing:
        self._remember(state.id, (intent,))
        return Firing(
            rule_id=lock.rule,
            account=state.id,
            item=item,
            at=at,
            severity="warning",
            message=message,
            values={"lock.scope": lock.scope, "lock.symbol": lock.symbol, "lock.kind": lock.kind},
            intents=(intent,),
            kind="lockout",
        )

    def _run_while_locks(self, state: AccountState, env: dict[str, object]) -> None:
        for lock in list(state.locks.locks.values()):
            if lock.while_expr is None or lock.ends_at is not None:
                continue
            for name in _ITEM_FAMILIES:
                env[name] = None
            env["lock"] = LockFacts(lock)
            try:
                holds = bool(evaluate(lock.while_expr, env))
            except Exception:  # fail safe: a lock whose condition cannot be read stays
                holds = True
            if not holds:
                state.locks.remove(lock)
        env["lock"] = None

    # -- the day -----------------------------------------------------------------------------

    def _new_day(self) -> None:
        """Episodes of rules about the day, and per-fill episodes, end at the daily reset."""
        for (index, _account), bucket in self._states.items():
            if self._by_index[index].day_scoped:
                bucket.clear()
                continue
            for item in [i for i in bucket if i.startswith("fill-order:")]:
                del bucket[item]
        self._recompute_pending_deadline()

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
    ) -> Engine:
        """An engine in the state ``snapshot()`` captured (same ruleset)."""
        from simple_risk.engine.snapshot import load_engine

        engine = cls(ruleset, accounts=accounts, starting_balances=starting_balances)
        load_engine(engine, snapshot)
        return engine


def _covered_by_pending(order: Order, pending: Iterable[Intent]) -> bool:
    for intent in pending:
        if isinstance(intent, NoWorkingOrders) and (
            (intent.symbol is None or intent.symbol == order.symbol)
            and (intent.side is None or intent.side == order.side)
            and (intent.contract_id is None or intent.contract_id == order.contract_id)
        ):
            return True
    return False


def _decisive_values(names: Iterable[str], env: MutableMapping[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in sorted(names):
        family, _, attr = name.partition(".")
        holder = env.get(family)
        if not attr:
            if holder is not None and not callable(holder):
                values[name] = holder  # a list name such as blocked_symbols
            continue
        if holder is None:
            continue
        try:
            value = getattr(holder, attr) if not isinstance(holder, Mapping) else holder.get(attr)
        except Exception as exc:
            value = f"<{_describe(exc)}>"
        if callable(value):
            continue
        values[name] = value
    return values


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = ["CompiledRule", "Engine", "Firing", "LockNotice", "RuleState", "base_env_for"]
