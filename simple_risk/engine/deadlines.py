"""``for:`` deadlines: a pending state whose ``for:`` elapses is re-evaluated at its deadline.

A rule with ``for:`` goes pending when its condition turns true and fires only if it is still
true ``for:`` later. Time alone can end the wait, so the engine keeps the earliest deadline of
any pending state (``next_deadline`` names it; the daemon schedules an exact tick there) and,
once time reaches it, re-evaluates every due state with the bindings of the event that last
evaluated it (``_rebind``) on the current facts — even for a rule without a ``clock`` trigger.

The search for the earliest deadline visits only the states of rules that have a ``for:``
and runs only when the earliest deadline may have moved; it is kept apart from the hot path,
which calls ``_pending_ended`` when a pending state stops pending. ``Deadlines`` is a mixin
of ``Engine``; the attributes and methods it shares with it are declared here for the type
checker.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime, timedelta

from mypy_extensions import trait

from simple_risk.engine.events import Event, OrderUpdate, PositionUpdate, Quote, TradeFill
from simple_risk.engine.facts.account import AccountState, SymbolFacts
from simple_risk.engine.facts.ledger import TradeFacts
from simple_risk.engine.facts.market import QuoteFacts
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.store import FactStore, Touched
from simple_risk.engine.plans import CompiledRule
from simple_risk.engine.records import Firing, RuleState, utc


@trait
class Deadlines:
    """Keep and run the ``for:`` deadlines of pending states (a mixin of ``Engine``)."""

    store: FactStore
    #: (rule index, account) → item → state
    _states: dict[tuple[int, int], dict[str, RuleState]]
    _by_index: dict[int, CompiledRule]
    #: rule index → ``for:`` of the rules that have one
    _timed: dict[int, timedelta]
    #: the keys of ``_states`` that belong to those rules, and how many keys it had then
    _timed_keys: list[tuple[int, int]]
    _timed_listed: int
    #: the earliest ``for:`` deadline of any pending state
    _pending_deadline: datetime | None

    @abstractmethod
    def _env(self, state: AccountState) -> dict[str, object]:
        """The account's reusable environment (``AccountBindings._env``)."""

    @abstractmethod
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
        """Evaluate one (rule, account, item) and move its state (``Engine._step``)."""

    def _pending_ended(self, compiled: CompiledRule, rule_state: RuleState) -> None:
        """A pending state stopped pending (resolved, fired or dropped). The earliest
        deadline can only move when it was that state's, so only then is it searched again
        (a search visits every state; a rule like RULE-008 ends a pending state whenever a
        stop is placed)."""
        deadline = self._pending_deadline
        if (
            compiled.for_ is None
            or deadline is None
            or utc(rule_state.since + compiled.for_) <= deadline
        ):
            self._recompute_pending_deadline()

    def _timed_buckets(self) -> list[tuple[tuple[int, int], dict[str, RuleState]]]:
        """The non-empty state buckets of the rules with a ``for:``, in ``_states`` order.

        Their (rule, account) keys are listed again whenever ``_states`` has a new key (keys
        are added, never removed), so a deadline search does not visit the buckets of other
        rules — RULE-007 alone keeps one firing state per losing order all day.
        """
        states = self._states
        if len(states) != self._timed_listed:
            self._timed_keys = [key for key in states if key[0] in self._timed]
            self._timed_listed = len(states)
        return [(key, bucket) for key in self._timed_keys if (bucket := states.get(key))]

    def _recompute_pending_deadline(self) -> None:
        """The earliest ``for:`` deadline of any pending state."""
        deadline: datetime | None = None
        timed = self._timed
        for key, bucket in self._timed_buckets():
            for_ = timed[key[0]]
            for rule_state in bucket.values():
                if not rule_state.firing:
                    candidate = utc(rule_state.since + for_)
                    if deadline is None or candidate < deadline:
                        deadline = candidate
        self._pending_deadline = deadline

    def _run_deadlines(self, at: datetime, firings: list[Firing]) -> None:
        """Re-evaluate every pending state whose ``for:`` has elapsed, with the bindings of
        the event that last evaluated it (plus the current facts)."""
        now = utc(at)
        due: list[tuple[CompiledRule, AccountState, str, RuleState]] = []
        for (index, account), bucket in self._timed_buckets():
            compiled = self._by_index[index]
            if compiled.for_ is None:
                continue
            for item, rule_state in bucket.items():
                if not rule_state.firing and now >= utc(rule_state.since + compiled.for_):
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
