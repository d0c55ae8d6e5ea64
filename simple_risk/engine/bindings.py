"""An account's environment and the evaluation plans bound to it (a mixin of ``Engine``).

A rule's condition runs as a function whose globals are its account's environment (the fact
families, params, lists and functions), so each account gets its conditions and every plan of
the ruleset bound once, on its first event. An event about one root then walks the bound plan
narrowed to that root and the tickers the account holds (``plans.for_root``), kept per
account. Apart from ``engine.py``, which evaluates what these hand it on every event.

The attributes it shares with the engine are declared here for the type checker.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType

from mypy_extensions import trait

from simple_risk.engine.derive import Derivations
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.store import FactStore
from simple_risk.engine.plans import (
    ITEM_FAMILIES,
    ORDER,
    POSITION,
    SYMBOL,
    AccountPlan,
    CompiledRule,
    Plan,
    bind_group,
    for_root,
)
from simple_risk.engine.unknowns import UnknownFacts

#: how many plans narrowed to a root one account keeps (``AccountBindings._rooted_plan``)
_ROOTED_PLANS = 512
#: the tickers of a family a plan does not narrow (they do not tell its narrowed plans apart)
_NO_TICKERS: frozenset[str] = frozenset()


@trait
class AccountBindings:
    """Build each account's environment and bound plans; narrow a plan to an event's root."""

    store: FactStore
    derive: Derivations
    unknown: UnknownFacts
    rules: tuple[CompiledRule, ...]
    _base_env: dict[str, object]
    _envs: dict[int, dict[str, object]]
    _plans: dict[str, Plan]
    _change_plans: dict[tuple[str, int], Plan]
    _checks: dict[int, dict[int, Callable[[], object]]]
    _account_plans: dict[int, dict[object, AccountPlan]]
    _rooted: dict[int, dict[tuple[object, ...], AccountPlan]]
    _narrowed_families: dict[object, frozenset[int]]

    def _env(self, state: AccountState) -> dict[str, object]:
        """The account's environment, built on its first event with its conditions and
        plans bound to it."""
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
            env["derived"] = self.derive.view(state.id, env)
            for name in ITEM_FAMILIES:
                env[name] = None
            if self.unknown.after is not None:
                env["known"] = self.unknown.known
            # the conditions become functions whose globals are this environment: a call
            # reads names exactly as ``eval(code, {"__builtins__": {}}, env)`` does (a code
            # object that is not a function body looks names up in its globals), at about
            # two thirds of the cost of ``eval``
            env["__builtins__"] = {}
            checks = self._checks[state.id] = {
                c.index: FunctionType(c.code, env) for c in self.rules
            }
            plans: list[tuple[object, Plan]] = [
                *self._plans.items(),
                *self._change_plans.items(),
            ]
            self._account_plans[state.id] = {
                key: tuple(bind_group(mode, rules, checks) for mode, rules in plan)
                for key, plan in plans
            }
            self._envs[state.id] = env
        return env

    def _rooted_plan(
        self, state: AccountState, key: object, plan: AccountPlan, root: str
    ) -> AccountPlan:
        """``plan`` (the account's plan ``key``) for an event about ``root``, given the
        tickers of the account's items in the families the plan narrows (``plans.for_root``);
        kept per account (at most ``_ROOTED_PLANS``: the forced plans' keys and the tickers
        held vary)."""
        families = self._narrowed_families.get(key)
        if families is None:
            if len(self._narrowed_families) >= _ROOTED_PLANS:
                self._narrowed_families.clear()  # forced plans' keys are many
            families = self._narrowed_families[key] = frozenset(
                mode for mode, _entries, by_ticker in plan if by_ticker is not None
            )
        positions = (
            frozenset([root, *(p.symbol for p in state.positions.values())])
            if POSITION in families
            else _NO_TICKERS
        )
        orders = (
            frozenset([root, *(o.symbol for o in state.orders.values())])
            if ORDER in families
            else _NO_TICKERS
        )
        roots = frozenset([root, *state.roots]) if SYMBOL in families else _NO_TICKERS
        kept = self._rooted.get(state.id)
        if kept is None:
            kept = self._rooted[state.id] = {}
        rooted_key = (key, root, positions, orders, roots)
        rooted = kept.get(rooted_key)
        if rooted is None:
            if len(kept) >= _ROOTED_PLANS:
                kept.clear()
            rooted = kept[rooted_key] = for_root(plan, root, positions, orders, roots)
        return rooted


__all__ = ["AccountBindings"]
