"""Stale rules: which rules an incremental evaluation must run in full.

The engine runs, per event, only the rules whose facts the event changed (the dependency
index of ``simple_risk.engine.plans``). A rule whose facts changed on an event that did not
wake it is *stale* and runs in full the next time it is woken: every rule of an account seen
for the first time, after a restore and after the daily reset; the readers of a derived fact
that moved; the readers of ``session.open`` at a session edge; a rule whose firing state an
admin cleared (until that state fires again or ends). The plan that runs some woken rules in
full is built here and kept per account.

The hot path marks and settles staleness inline; this mixin of ``Engine`` holds the parts
that run rarely. The attributes it shares with the engine are declared here for the type
checker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mypy_extensions import trait

from simple_risk.engine import dependencies
from simple_risk.engine.facts.store import FactStore
from simple_risk.engine.plans import AccountPlan, CompiledRule, bind_group, plan_of
from simple_risk.engine.records import RuleState

#: how many plans with stale rules forced one account keeps (``Staleness._forced_plan``)
_FORCED_PLANS = 256


@trait
class Staleness:
    """Mark rules stale and build the plans that run stale rules in full (a mixin of
    ``Engine``)."""

    store: FactStore
    #: account → the rules whose facts changed since their last full evaluation
    _stale: dict[int, set[int]]
    #: (rule index, account) of rules with a state an admin cleared
    _rearmed: set[tuple[int, int]]
    #: (rule index, account) → item → state
    _states: dict[tuple[int, int], dict[str, RuleState]]
    #: the rules reading ``session.open``
    _session_readers: frozenset[int]
    #: trigger → the rules it wakes
    _by_trigger: dict[str, tuple[CompiledRule, ...]]
    #: account → rule index → the rule's condition bound to the account's env
    _checks: dict[int, dict[int, Callable[[], object]]]
    #: account → (trigger, change id, forced rules) → plan
    _forced_plans: dict[int, dict[tuple[str, int, frozenset[int]], AccountPlan]]

    def _session_edge(self, now: datetime) -> None:
        """A session started or ended: the rules reading ``session.open`` run in full the
        next time they are woken, on every account (an account not seen yet has every rule
        stale already)."""
        self.store.session.passed(now)
        readers = self._session_readers
        if readers:
            for stale in self._stale.values():
                stale |= readers

    def _forced_plan(
        self, account: int, trigger: str, change: int, forced: frozenset[int]
    ) -> AccountPlan:
        """The plan of ``change`` with the ``forced`` rules run in full, bound to the
        account's environment; kept per account (a few combinations recur, and at most
        ``_FORCED_PLANS`` are kept)."""
        plans = self._forced_plans.setdefault(account, {})
        key = (trigger, change, forced)
        plan = plans.get(key)
        if plan is None:
            if len(plans) >= _FORCED_PLANS:
                plans.clear()
            checks = self._checks[account]
            change_plan = plan_of(
                self._by_trigger[trigger], trigger, dependencies.CHANGES[change], forced
            )
            plan = plans[key] = tuple(
                bind_group(mode, rules, checks) for mode, rules in change_plan
            )
        return plan

    def _still_rearmed(self, account: int, stale: set[int]) -> None:
        """Rules of ``account`` with a cleared state stay stale (they fire again on their next
        evaluation that finds them broken); those without one any more are forgotten."""
        for key in [key for key in self._rearmed if key[1] == account]:
            bucket = self._states.get(key)
            if bucket and any(rule_state.cleared for rule_state in bucket.values()):
                stale.add(key[0])
            else:
                self._rearmed.discard(key)
