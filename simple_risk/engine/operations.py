"""Operations on a running engine for the status/admin server: reload, explain, limits, clears.

Pure and deterministic like the engine itself (no I/O, no clock: ``now`` is an argument), and
meant to run on the daemon's engine thread *between two events*, because they read — and
``reload_engine`` / ``clear_locks`` change — the engine's state. Kept out of
:mod:`simple_risk.engine.engine` so the hot path stays small; they use its internals
(``_states``, ``_rules_by_id``, ``_env``, ``_rebind``) read-only, except where a docstring says
otherwise.

* :func:`reload_engine` swaps the ruleset of an engine, keeping the facts, the lockouts and
  the ``for:`` timers of rules whose definition did not change (a changed rule starts afresh);
* :func:`mandatory_violations` is what a reload must refuse;
* :func:`explain` re-evaluates one rule, comparison by comparison, on the current facts;
* :func:`limit_usage` and :func:`pending_rules` feed ``engine status``;
* the lockout changes made from outside the rules (an admin's clear, a rebuild's restore)
  are in :mod:`simple_risk.engine.lock_changes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from simple_risk.engine import episodes, namespace
from simple_risk.engine.derive.facts import DerivedFactError
from simple_risk.engine.engine import CompiledRule, Engine
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.model import (
    ActionSpec,
    CompiledExpression,
    LockoutSpec,
    MessageTemplate,
    Operand,
    Rule,
    Ruleset,
)

_GLOBALS: dict[str, object] = {"__builtins__": {}}
_ITEM_FAMILIES = ("position", "order", "symbol", "trade", "quote", "lock")
#: families bound for every evaluation (the others need an event or an ``each:`` item)
_ALWAYS_BOUND = frozenset(
    name
    for name, family in namespace.FAMILIES.items()
    if family.bound_by_triggers is None and not family.lock_only
)
_ORDERING = frozenset({"<", "<=", ">", ">="})


# -- reload ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RulesetChanges:
    """What a reload changes for one account (``changes`` of docs/status-protocol.md)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    #: param name → (old value, new value); None for a param that is new or gone
    params: Mapping[str, tuple[object, object]] = field(default_factory=dict)
    #: the calendar or the symbol table changed: every rule counts as changed
    calendar_or_symbols: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.changed
            or self.enabled
            or self.disabled
            or self.params
            or self.calendar_or_symbols
        )

    @property
    def reset(self) -> frozenset[str]:
        """Rules whose pending/firing states a reload drops."""
        return frozenset((*self.added, *self.removed, *self.changed, *self.enabled, *self.disabled))

    def as_json(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "enabled": list(self.enabled),
            "disabled": list(self.disabled),
            "params": {
                name: [_plain(old), _plain(new)] for name, (old, new) in self.params.items()
            },
        }


def ruleset_changes(old: Ruleset, new: Ruleset) -> RulesetChanges:
    """Compare two rulesets rule by rule on their canonical definitions.

    A rule is unchanged when its ``when`` (the compiled code, so an edited macro counts), its
    ``for:``, ``each:``, ``refire:``, triggers, actions and their arguments, message and
    severity are the same, and so are the values of the params and lists it reads. When the
    calendar or the symbol table changed, every rule is changed: their facts mean something
    else now.
    """
    old_rules = {rule.id: rule for rule in old.rules}
    new_rules = {rule.id: rule for rule in new.rules}
    everything = old.calendar != new.calendar or old.symbols != new.symbols
    changed: list[str] = []
    enabled: list[str] = []
    disabled: list[str] = []
    for rule_id, rule in new_rules.items():
        before = old_rules.get(rule_id)
        if before is None:
            continue
        if before.enabled != rule.enabled:
            (enabled if rule.enabled else disabled).append(rule_id)
        if everything or rule_definition(before, old) != rule_definition(rule, new):
            changed.append(rule_id)
    params: dict[str, tuple[object, object]] = {}
    for name in sorted(set(old.params) | set(new.params)):
        before_value, after_value = old.params.get(name), new.params.get(name)
        if before_value != after_value or (name in old.params) != (name in new.params):
            params[name] = (before_value, after_value)
    return RulesetChanges(
        added=tuple(r for r in new_rules if r not in old_rules),
        removed=tuple(r for r in old_rules if r not in new_rules),
        changed=tuple(changed),
        enabled=tuple(enabled),
        disabled=tuple(disabled),
        params=params,
        calendar_or_symbols=everything,
    )


def rule_definition(rule: Rule, ruleset: Ruleset) -> tuple[object, ...]:
    """A comparable form of everything that decides what the rule does (not ``enabled``,
    which :func:`ruleset_changes` reports on its own, nor descriptions and tags)."""
    expressions = list(_expressions_of(rule))
    params = sorted(
        {
            name.removeprefix("params.")
            for expr in expressions
            for name in expr.names
            if name.startswith("params.")
        }
    )
    lists = sorted(
        {name for expr in expressions for name in expr.code.co_names if name in ruleset.lists}
    )
    return (
        _expression_key(rule.when, ruleset),
        rule.for_,
        rule.each,
        rule.refire,
        tuple(sorted(rule.triggers)),
        tuple(_action_key(action, ruleset) for action in rule.then),
        _canon(rule.message, ruleset),
        rule.severity,
        tuple((name, _canon(ruleset.params.get(name), ruleset)) for name in params),
        tuple((name, _canon(ruleset.lists.get(name), ruleset)) for name in lists),
    )


def _expressions_of(rule: Rule) -> Iterable[CompiledExpression]:
    yield rule.when
    if rule.message is not None:
        yield from (expr for _, expr, _ in rule.message.parts if expr is not None)
    for action in rule.then:
        yield from _expressions_in(action.args)


def _expressions_in(value: object) -> Iterable[CompiledExpression]:
    if isinstance(value, CompiledExpression):
        yield value
    elif isinstance(value, MessageTemplate):
        yield from (expr for _, expr, _ in value.parts if expr is not None)
    elif isinstance(value, LockoutSpec):
        for item in _fields(value):
            yield from _expressions_in(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _expressions_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _expressions_in(item)


def _expression_key(expr: CompiledExpression, ruleset: Ruleset) -> tuple[object, ...]:
    """The compiled code with hidden constants resolved to their values, so that renumbered
    constants (another rule gained a literal) do not count as a change but an edited macro
    body does."""
    code = expr.code
    names = tuple(
        ("const", type(ruleset.constants[name]).__name__, str(ruleset.constants[name]))
        if name in ruleset.constants
        else name
        for name in code.co_names
    )
    return (code.co_code, tuple(repr(c) for c in code.co_consts), names)


def _action_key(action: ActionSpec, ruleset: Ruleset) -> tuple[object, ...]:
    return (action.kind, tuple(sorted((k, _canon(v, ruleset)) for k, v in action.args.items())))


def _canon(value: object, ruleset: Ruleset) -> object:
    if isinstance(value, CompiledExpression):
        return ("expr", _expression_key(value, ruleset))
    if isinstance(value, MessageTemplate):
        return (
            "template",
            tuple(
                (literal, _canon(expr, ruleset) if expr is not None else None, spec)
                for literal, expr, spec in value.parts
            ),
        )
    if isinstance(value, LockoutSpec):
        return ("lockout", tuple(_canon(v, ruleset) for v in _fields(value)))
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _canon(v, ruleset)) for k, v in value.items())))
    if isinstance(value, list | tuple | frozenset | set):
        items = [_canon(v, ruleset) for v in value]
        return (
            "seq",
            tuple(sorted(items, key=repr) if isinstance(value, set | frozenset) else items),
        )
    return ("value", type(value).__name__, repr(value))


def _fields(spec: LockoutSpec) -> list[object]:
    """The field values as they are (``dataclasses.astuple`` would turn the expressions
    inside into tuples)."""
    return [getattr(spec, f.name) for f in dataclasses.fields(spec)]


def mandatory_violations(old: Ruleset, new: Ruleset) -> list[str]:
    """Why swapping ``old`` for ``new`` must be refused: a ``mandatory`` rule that is enabled
    now would be removed or disabled (by the file or by an overlay)."""
    new_rules = {rule.id: rule for rule in new.rules}
    problems: list[str] = []
    for rule in old.rules:
        if not (rule.mandatory and rule.enabled):
            continue
        replacement = new_rules.get(rule.id)
        if replacement is None:
            problems.append(f'rule "{rule.id}" is mandatory and cannot be removed')
        elif not replacement.enabled:
            problems.append(f'rule "{rule.id}" is mandatory and cannot be disabled')
    return problems


def reload_engine(engine: Engine, new_ruleset: Ruleset) -> tuple[Engine, RulesetChanges]:
    """A new engine running ``new_ruleset`` with the old one's facts, lockouts and intents.

    Through a snapshot, like a restart: the pending and firing states (and remembered
    evaluation errors) of rules that are unchanged are kept — so a ``for:`` timer keeps
    running and a firing episode does not fire again — while those of added, removed, changed,
    enabled or disabled rules are dropped. A ``while:`` lockout whose rule is gone ends (its
    condition no longer exists). The caller applies ``Reconciled`` to the new engine next, so
    every rule is evaluated on the current facts at once.
    """
    changes = ruleset_changes(engine.ruleset, new_ruleset)
    reset = changes.reset
    data = engine.snapshot()
    data["states"] = [state for state in data["states"] if state["rule"] not in reset]
    data["errors"] = [error for error in data["errors"] if error[0] not in reset]
    fresh = Engine.restore(
        new_ruleset,
        data,
        accounts=engine._accounts_arg,
        starting_balances=engine._starting_balances,
    )
    return fresh, changes


# -- explain -----------------------------------------------------------------------------------


def explain(engine: Engine, rule_id: str, account: int, now: datetime) -> dict[str, Any]:
    """The rule, and a re-evaluation of its ``when`` on the current facts for every item it
    binds now (every comparison with the values it saw) plus its ``for:`` state.

    Raises :class:`KeyError` for a rule the ruleset does not have or an account the engine
    does not guard. A disabled rule is described with no evaluations.
    """
    try:
        rule = engine.ruleset.rule(rule_id)
    except KeyError:
        raise KeyError(f"no rule {rule_id!r} in ruleset {engine.ruleset.name!r}") from None
    state = engine.store.accounts.get(account)
    if state is None:
        raise KeyError(f"the engine does not guard account {account}")
    described: dict[str, Any] = {
        "rule": rule.id,
        "account": account,
        "enabled": rule.enabled,
        "mandatory": rule.mandatory,
        "severity": rule.severity,
        "description": rule.description,
        "when": rule.when.source,
        "location": str(rule.location),
        "for": rule.for_.total_seconds() if rule.for_ is not None else None,
        "triggers": sorted(rule.triggers),
        "each": rule.each,
        "refire": episodes.as_text(rule),
        "fires": episodes.describe(rule),
        "evaluations": [],
    }
    compiled = engine._rules_by_id.get(rule_id)
    if compiled is None:
        described["note"] = "the rule is disabled"
        return described
    bucket = engine._states.get((compiled.index, account), {})
    evaluations = []
    for item, env in _bound_items(engine, compiled, account):
        entry = _evaluate(compiled, env)
        entry["item"] = item
        entry.update(_timer(compiled, bucket.get(item), now))
        evaluations.append(entry)
    described["evaluations"] = evaluations
    if not evaluations:
        triggers = ", ".join(sorted(rule.triggers))
        described["note"] = f"nothing to evaluate now: the rule needs its event ({triggers})"
    return described


def _bound_items(
    engine: Engine, compiled: CompiledRule, account: int
) -> list[tuple[str, dict[str, object]]]:
    """(item, environment) for every item the rule binds now, each in its own copy of the
    account's environment (the engine's own is never touched)."""
    state = engine.store.accounts[account]
    base = dict(engine._env(state))
    for name in _ITEM_FAMILIES:
        base[name] = None
    each = compiled.each if compiled.each is not None else compiled.reconcile_each
    items: list[tuple[str, dict[str, object]]] = []
    if each == "position":
        for position in state.positions.values():
            env = dict(base, position=position, symbol=state.symbol(position.symbol))
            items.append(("position:" + position.contract_id, env))
    elif each == "order":
        for order in sorted(state.orders.values(), key=lambda o: o.id):
            env = dict(base, order=order, symbol=state.symbol(order.symbol))
            items.append((f"order:{order.id}", env))
    elif each == "symbol":
        for root in sorted(state.roots):
            items.append(("symbol:" + root, dict(base, symbol=state.symbol(root))))
    elif not compiled.reconcile_skip:
        items.append(("", base))
    # a pending or firing item the iteration does not reach (a fill's episode, a quote's):
    # re-bound with the event that last evaluated it, as the engine does at a deadline
    seen = {item for item, _ in items}
    for item, rule_state in engine._states.get((compiled.index, account), {}).items():
        if item in seen:
            continue
        env = dict(base)
        if engine._rebind(env, state, compiled, item, rule_state.event):
            items.append((item, env))
    for _item, env in items:
        env["derived"] = engine.derive.view(account, env)  # answers for this copy's item
    return items


def _evaluate(compiled: CompiledRule, env: dict[str, object]) -> dict[str, Any]:
    result: bool | None
    error: str | None = None
    try:
        result = bool(eval(compiled.code, _GLOBALS, env))
    except Exception as exc:
        result, error = None, _describe(exc)
    comparisons = []
    for comparison in compiled.rule.when.comparisons:
        left, left_error = _value(comparison.left, env)
        right, right_error = _value(comparison.right, env)
        outcome: bool | None = None
        if left_error is None and right_error is None:
            try:
                outcome = _compare(left, comparison.op, right)
            except Exception:
                outcome = None
        comparisons.append(
            {
                "text": comparison.text,
                "left": _side(comparison.left, left, left_error),
                "op": comparison.op,
                "right": _side(comparison.right, right, right_error),
                "result": outcome,
            }
        )
    return {
        "result": result,
        "error": error,
        "values": _values(compiled.rule.when.names, env),
        "comparisons": comparisons,
    }


def _values(names: Iterable[str], env: dict[str, object]) -> dict[str, object]:
    """Every fact (and param) the expression reads, with its value now; a method such as
    ``trades.count`` is shown in its comparison instead."""
    values: dict[str, object] = {}
    for name in sorted(names):
        family, _, attr = name.partition(".")
        holder = env.get(family)
        if holder is None or not attr:
            continue
        try:
            value = holder.get(attr) if isinstance(holder, Mapping) else getattr(holder, attr)
        except Exception as exc:
            values[name] = f"<{_describe(exc)}>"
            continue
        if not callable(value):
            values[name] = _plain(value)
    return values


def _side(operand: Operand, value: object, error: str | None) -> dict[str, Any]:
    side: dict[str, Any] = {"text": operand.text, "value": _plain(value)}
    if error is not None:
        side["error"] = error
    return side


def _value(operand: Operand, env: dict[str, object]) -> tuple[object, str | None]:
    try:
        return eval(operand.code, _GLOBALS, env), None
    except Exception as exc:
        return None, _describe(exc)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "in":
        return bool(left in right)
    return bool(left not in right)


def _timer(compiled: CompiledRule, rule_state: Any, now: datetime) -> dict[str, Any]:
    if rule_state is None:
        return {"state": "inactive", "since": None, "fires_at": None, "remaining_s": None}
    if rule_state.firing or compiled.for_ is None:
        return {"state": "firing", "since": rule_state.since, "fires_at": None, "remaining_s": None}
    fires_at = rule_state.since + compiled.for_
    return {
        "state": "pending",
        "since": rule_state.since,
        "fires_at": fires_at,
        "remaining_s": _remaining(fires_at, now),
    }


# -- status ------------------------------------------------------------------------------------


def _account_env(engine: Engine, account: int) -> tuple[AccountState, dict[str, object]]:
    """The account's state and a copy of its environment with no item bound (KeyError for
    an account the engine does not guard)."""
    state = engine.store.accounts.get(account)
    if state is None:
        raise KeyError(f"the engine does not guard account {account}")
    env = dict(engine._env(state))
    for name in _ITEM_FAMILIES:
        env[name] = None
    return state, env


def derived_values(engine: Engine, account: int) -> list[dict[str, Any]]:
    """Every derived fact of the account's ruleset as views show it: ``name``, its
    ``description``, the ``item`` it is for (None for an account-level fact; a position's
    contract id or a root for ``each:`` facts, one entry per open item) and its ``value``
    now (None when unknown; ``error`` says why when its last sample failed)."""
    state, base = _account_env(engine, account)
    entries: list[dict[str, Any]] = []
    for fact in engine.derive.facts:
        items: list[tuple[str | None, dict[str, object]]]
        if fact.each == "position":
            items = [
                (
                    position.contract_id,
                    dict(base, position=position, symbol=state.symbol(position.symbol)),
                )
                for position in sorted(state.positions.values(), key=lambda p: p.contract_id)
            ]
        elif fact.each == "symbol":
            items = [(root, dict(base, symbol=state.symbol(root))) for root in sorted(state.roots)]
        else:
            items = [(None, base)]
        for item, env in items:
            view = engine.derive.view(account, env)
            entry: dict[str, Any] = {
                "name": fact.name,
                "description": fact.description,
                "item": item,
                "value": None,
                "error": None,
            }
            try:
                entry["value"] = getattr(view, fact.name)
            except DerivedFactError as exc:
                entry["error"] = str(exc)
            entries.append(entry)
    return entries


def limit_usage(engine: Engine, account: int) -> list[dict[str, Any]]:
    """For each enabled rule without ``each:``, every ordering comparison between an
    account-level fact and a limit (an expression reading no fact): the fact's value now, the
    limit's, and the share of the limit used (``value / limit × 100``; None when unknown or
    the limit is 0). Comparisons of per-item facts (an order, a position) are not limits.

    Each entry also names the limit for a trader — ``label``, the rule's ``label:`` (else its
    id in words) — and the ``unit`` its value counts (:func:`fact_unit`), so views never
    need to show the rule expression (``fact`` and ``expression`` stay for ``--explain``)."""
    _state, env = _account_env(engine, account)
    env["derived"] = engine.derive.view(account, env)  # no item bound: account-level ones
    usage: list[dict[str, Any]] = []
    for compiled in engine.rules:
        if compiled.each is not None:
            continue
        for comparison in compiled.rule.when.comparisons:
            if comparison.op not in _ORDERING:
                continue
            if _account_fact(comparison.left) and not comparison.right.reads_facts:
                fact, limit = comparison.left, comparison.right
            elif _account_fact(comparison.right) and not comparison.left.reads_facts:
                fact, limit = comparison.right, comparison.left
            else:
                continue
            value, _ = _value(fact, env)
            bound, _ = _value(limit, env)
            if _plain(bound) == 0:
                continue  # "… > 0" is a condition (anything open), not a bound to come close to
            usage.append(
                {
                    "rule": compiled.rule.id,
                    "label": compiled.rule.title,
                    "unit": fact_unit(fact),
                    "expression": comparison.text,
                    "fact": fact.text,
                    "value": _plain(value),
                    "limit": _plain(bound),
                    "used_pct": _percent(value, bound),
                }
            )
    return usage


#: facts counted in weighted lots (a micro is 1/10) and in contracts
_LOT_FACTS = frozenset({"account.open_contracts"})
_CONTRACT_FACTS = frozenset({"account.open_contracts_raw"})


def fact_unit(operand: Operand) -> str | None:
    """What the fact an operand reads counts: ``usd`` (money), ``lots`` (weighted, a micro is
    1/10), ``contracts``, ``trades`` (a count of fills); None when it is none of these."""
    names = sorted(name for name in operand.names if not name.startswith("params."))
    if not names:
        return None
    name = names[0]
    if name in _LOT_FACTS:
        return "lots"
    if name in _CONTRACT_FACTS:
        return "contracts"
    fact = namespace.FACTS.get(name)
    method = namespace.METHODS.get(name)
    kind = fact.type if fact is not None else method.returns if method is not None else None
    if kind is namespace.FactType.MONEY:
        return "usd"
    if name.startswith("trades.") or name.endswith("trade_count"):
        return "trades"
    return None


def _account_fact(operand: Operand) -> bool:
    facts = [name for name in operand.names if not name.startswith("params.")]
    return bool(facts) and all(name.partition(".")[0] in _ALWAYS_BOUND for name in facts)


def _percent(value: object, limit: object) -> float | None:
    if isinstance(value, bool) or isinstance(limit, bool):
        return None
    if not isinstance(value, int | Decimal) or not isinstance(limit, int | Decimal) or not limit:
        return None
    return round(float(Decimal(value) / Decimal(limit) * 100), 1)


def pending_rules(engine: Engine, account: int, now: datetime) -> list[dict[str, Any]]:
    """Rules whose ``for:`` is running for the account: item, since, when it fires, time left."""
    pending: list[dict[str, Any]] = []
    for (index, owner), bucket in sorted(engine._states.items(), key=lambda kv: kv[0]):
        if owner != account:
            continue
        compiled = engine._by_index[index]
        if compiled.for_ is None:
            continue
        for item, rule_state in bucket.items():
            if rule_state.firing:
                continue
            fires_at = rule_state.since + compiled.for_
            pending.append(
                {
                    "rule": compiled.rule.id,
                    "item": item,
                    "since": rule_state.since,
                    "fires_at": fires_at,
                    "remaining_s": _remaining(fires_at, now),
                }
            )
    return pending


def lockouts(engine: Engine, account: int, now: datetime) -> list[dict[str, Any]]:
    """The account's lockouts in force, soonest end first (``while:`` ones last)."""
    locks = sorted(
        engine.locks(account),
        key=lambda lock: (lock.ends_at is None, lock.ends_at or now, lock.rule),
    )
    return [
        {
            "rule": lock.rule,
            "scope": lock.scope,
            "symbol": lock.symbol,
            "kind": lock.kind,
            "reason": lock.reason,
            "set_at": lock.set_at,
            "ends_at": lock.ends_at,
            "while": lock.while_expr.source if lock.while_expr is not None else None,
            "remaining_s": _remaining(lock.ends_at, now) if lock.ends_at is not None else None,
        }
        for lock in locks
    ]


def _remaining(at: datetime, now: datetime) -> float:
    return round(max((at - now).total_seconds(), 0.0), 3)


def _plain(value: object) -> object:
    """Values as the protocol carries them (Decimal and datetime stay exact for the encoder;
    objects a rule never compares, such as a fact family, become their text)."""
    if value is None or isinstance(value, bool | int | str | Decimal | datetime | date | time):
        return value
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple | frozenset | set):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


__all__ = [
    "RulesetChanges",
    "derived_values",
    "explain",
    "fact_unit",
    "limit_usage",
    "lockouts",
    "mandatory_violations",
    "pending_rules",
    "reload_engine",
    "rule_definition",
    "ruleset_changes",
]
