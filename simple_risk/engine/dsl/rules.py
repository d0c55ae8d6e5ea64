"""The ``rules:`` section: one rule's trigger, ``each:``, ``when:``, message, ``for:``,
``refire:`` and actions.

:func:`compile_rule` compiles one rule into ``model.Rule``; :class:`RuleContext` is the
``ActionContext`` the action registry (:mod:`simple_risk.engine.dsl.actions`) compiles its
arguments with, so an action argument is checked like a ``when:`` (same names, binding and
guards). Used for a ruleset's rules and for the rules an account overlay adds
(:mod:`~simple_risk.engine.dsl.overlay`); kept apart from the sections rules read.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

from simple_risk.engine import namespace
from simple_risk.engine.dsl.actions import ACTIONS
from simple_risk.engine.dsl.actions.base import SIDES
from simple_risk.engine.dsl.compilation import Compilation, base_scope
from simple_risk.engine.dsl.durations import (
    invalid_duration,
    is_duration,
    parse_duration,
)
from simple_risk.engine.dsl.expressions import compile_expression, guards_of
from simple_risk.engine.dsl.knowns import asserted_known
from simple_risk.engine.dsl.param_durations import param_duration
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.schema import (
    PARAM_REFERENCE_PATTERN,
    ROOT,
    args_validator,
    json_view,
    problems_from_errors,
)
from simple_risk.engine.dsl.scope import CheckedExpression, Locator, Scope
from simple_risk.engine.dsl.templates import compile_template
from simple_risk.engine.dsl.yamlload import Path
from simple_risk.engine.model import (
    REFIRE_KINDS,
    REFIRE_TRIGGERS,
    ActionSpec,
    CompiledExpression,
    MessageTemplate,
    Refire,
    Rule,
    SourceLocation,
)

_ROOT = re.compile(ROOT)
#: ``for: params.NAME``, ``refire: {every: params.NAME}``: a rule's wait or period named by a
#: param (the schema allows exactly this form)
PARAM_REFERENCE = re.compile(PARAM_REFERENCE_PATTERN)


def _as_source(value: object) -> str | None:
    """Expression text of a YAML value: strings as written, numbers and booleans as literals."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return value
    return None


class RuleContext:
    """The compiler services one rule's actions use (``ActionContext``)."""

    def __init__(self, out: Compilation, path: Path, scope: Scope) -> None:
        self.out = out
        self.path = path
        self.scope = scope

    @property
    def sessions(self) -> frozenset[str]:
        return self.out.sessions

    def binds(self, family: str) -> bool:
        return namespace.family_is_bound(family, self.scope.triggers, self.scope.each)

    def compile_at(self, path: Path, role: str, scope: Scope) -> CheckedExpression | None:
        value = self.out.doc.get(path)
        source = _as_source(value)
        if source is None:
            return None
        locator = Locator(self.out.doc.file, self.out.doc.at(path), self.out.doc.span(path))
        if (role == "symbol" and _ROOT.match(source)) or (role == "side" and source in SIDES):
            source = repr(source)  # a literal root or side, not a name
            locator.span = None
        checked, problems = compile_expression(source, locator, scope, role)
        self.out.problems += problems
        if checked is None:
            self.out.attempted(source)
        else:
            self.out.expressions.append(checked)
            self.out.used_names |= checked.names_used
        return checked

    def guards_at(self, path: Path, scope: Scope) -> frozenset[str]:
        """What the expression at ``path`` guards, though it did not compile."""
        source = _as_source(self.out.doc.get(path))
        if source is None:
            return frozenset()
        locator = Locator(self.out.doc.file, self.out.doc.at(path), self.out.doc.span(path))
        return guards_of(source, locator, scope)

    def expression(self, path: Path, role: str) -> CompiledExpression | None:
        checked = self.compile_at(path, role, self.scope)
        return checked.compiled if checked is not None else None

    def lock_expression(self, path: Path, symbol: bool) -> CompiledExpression | None:
        lock_scope = Scope(
            file=self.scope.file,
            rule_id=self.scope.rule_id,
            params=self.scope.params,
            lists=self.scope.lists,
            macros=self.scope.macros,
            sessions=self.scope.sessions,
            pool=self.scope.pool,
            triggers=self.scope.triggers,
            each=self.scope.each,
            in_lock=True,
            lock_only=True,
            lock_symbol=symbol,
            derived=self.scope.derived,
            broken_derived=self.scope.broken_derived,
        )
        checked = self.compile_at(path, "when", lock_scope)
        return checked.compiled if checked is not None else None

    def template(self, path: Path, role: str) -> MessageTemplate | None:
        value = self.out.doc.get(path)
        if not isinstance(value, str):
            return None
        locator = Locator(self.out.doc.file, self.out.doc.at(path), self.out.doc.span(path))
        template, checked, problems = compile_template(value, locator, self.scope, role)
        self.out.problems += problems
        if problems:
            self.out.attempted(value)
        self.out.expressions += checked
        for item in checked:
            self.out.used_names |= item.names_used
        return template

    def duration(self, path: Path) -> timedelta | None:
        value = self.out.doc.get(path)
        try:
            return parse_duration(value)
        except ValueError:
            message, hint = invalid_duration(value)
            self.error(path, message, "bad-duration", hint)
            return None

    def param_duration(self, path: Path, reference: str, key: str, what: str) -> timedelta | None:
        """A duration that names a param (``for: params.stop_loss_grace``): its duration
        (``"30s"``) or its number as seconds, resolved after the overrides
        (:mod:`~simple_risk.engine.dsl.param_durations`)."""
        return param_duration(self.out, path, reference, key, what, self.scope.rule_id)

    def error(self, path: Path, message: str, check: str, hint: str | None = None) -> None:
        self.out.error(path, message, check, hint, self.scope.rule_id)


def compile_rule(out: Compilation, path: Path, raw: object) -> Rule | None:
    """One rule of ``rules:`` (of a ruleset or an overlay); None when it cannot be compiled,
    its problems in ``out``."""
    if not isinstance(raw, dict):
        return None
    rule_id = raw.get("id")
    if not isinstance(rule_id, str):
        rule_id = f"rules[{path[1]}]"
    else:
        out.rule_ids.append((rule_id, path))
    triggers_raw = raw.get("trigger")
    triggers = frozenset(
        t
        for t in (triggers_raw if isinstance(triggers_raw, list) else [])
        if t in namespace.TRIGGERS
    )
    raw_each = raw.get("each")
    each = raw_each if isinstance(raw_each, str) and raw_each in namespace.EACH_KINDS else None
    scope = base_scope(out, rule_id)
    scope.triggers = triggers
    scope.each = each
    context = RuleContext(out, path, scope)
    when = context.compile_at((*path, "when"), "when", scope)
    if when is not None:
        scope.guarded = asserted_known(when.tree, scope.optional_derived)
    else:  # its own problem is reported; what it guards still holds for the actions
        scope.guarded = context.guards_at((*path, "when"), scope)
    message = context.template((*path, "message"), "message") if "message" in raw else None
    for_: timedelta | None = None
    raw_for = raw.get("for")
    if isinstance(raw_for, str) and PARAM_REFERENCE.match(raw_for):
        for_ = context.param_duration((*path, "for"), raw_for, "for:", "a wait")
    elif is_duration(raw_for):
        for_ = context.duration((*path, "for"))
    refire = _refire(context, (*path, "refire"), raw.get("refire"), each, triggers)
    actions: list[ActionSpec] = []
    then = raw.get("then")
    if isinstance(then, list):
        for index, item in enumerate(then):
            action = _action(out, context, (*path, "then", index), item)
            if action is not None:
                actions.append(action)
    if when is None:
        return None
    mark = out.doc.at(path)
    tags = raw.get("tags")
    description = raw.get("description")
    label = raw.get("label")
    severity = raw.get("severity", "warning")
    return Rule(
        id=rule_id,
        triggers=triggers,
        when=when.compiled,
        then=tuple(actions),
        location=SourceLocation(out.doc.file, mark.line, mark.column),
        each=each,
        for_=for_,
        message=message,
        description=description if isinstance(description, str) else "",
        severity=severity if isinstance(severity, str) else "warning",
        enabled=raw.get("enabled", True) is not False,
        mandatory=raw.get("mandatory", False) is True,
        optional=raw.get("optional", False) is True,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        label=label if isinstance(label, str) else "",
        refire=refire,
    )


def _refire(
    context: RuleContext,
    path: Path,
    raw: object,
    each: str | None,
    triggers: frozenset[str],
) -> Refire:
    """The rule's ``refire:`` (the schema has checked its shape); a per-fill or per-order
    episode needs the event that carries the fill or order, and no ``each:`` item."""
    raw_every = raw.get("every") if isinstance(raw, dict) else None
    named = isinstance(raw_every, str) and PARAM_REFERENCE.match(raw_every) is not None
    if named or is_duration(raw_every):
        every = (
            context.param_duration((*path, "every"), str(raw_every), "refire: {every:}", "a period")
            if named
            else context.duration((*path, "every"))
        )
        if every is not None and every <= timedelta(0):
            context.error(
                (*path, "every"),
                "refire every 0s would fire on every event"
                + (f" (from {raw_every})" if named else ""),
                "bad-duration",
                "give a positive duration, e.g. 15m",
            )
            return Refire()
        return Refire("every", every) if every is not None else Refire()
    if not isinstance(raw, str) or raw not in REFIRE_KINDS:
        return Refire()
    needs = REFIRE_TRIGGERS.get(raw)
    if needs is not None:
        if each is not None:
            context.error(
                path,
                f"refire: {raw} makes each {raw} its own episode, "
                f"but each: {each} makes each {each} one",
                "refire-conflict",
                f"remove each: or refire: {raw}",
            )
            return Refire()
        extra = sorted(triggers - needs)
        if extra:
            woken = " or ".join(sorted(needs))
            context.error(
                path,
                f"refire: {raw} needs the event that carries the {raw}, "
                f"but the rule is also woken by {', '.join(extra)}",
                "refire-trigger",
                f"trigger the rule on {woken} only",
            )
            return Refire()
    return Refire(raw)


def _action(out: Compilation, context: RuleContext, path: Path, item: object) -> ActionSpec | None:
    action = _action_spec(out, context, path, item)
    if action is None:
        out.attempted(item)  # its arguments may be the only use of a param
    return action


def _action_spec(
    out: Compilation, context: RuleContext, path: Path, item: object
) -> ActionSpec | None:
    rule_id = context.scope.rule_id
    names = sorted(ACTIONS)
    args: Mapping[object, object]
    if isinstance(item, str):
        name, args, args_path = item, {}, path
    elif isinstance(item, dict) and len(item) == 1:
        key, value = next(iter(item.items()))
        name, args_path = str(key), (*path, key)
        if value is None:
            args = {}
        elif isinstance(value, dict):
            args = value
        else:
            out.error(
                args_path,
                f"the arguments of {name} must be a mapping",
                "action-argument",
                ACTIONS[name].example if name in ACTIONS else None,
                rule_id,
            )
            return None
    elif isinstance(item, dict):
        keys = [str(k) for k in item]
        actions_named = [k for k in keys if k in ACTIONS]
        out.error(
            path,
            f"an action is one key with its arguments, got {', '.join(keys) or 'nothing'}",
            "action-argument",
            f"indent the arguments under {actions_named[0]}:" if actions_named else None,
            rule_id,
        )
        return None
    else:
        out.error(
            path,
            "an action is a name or {name: {arguments}}",
            "unknown-action",
            "e.g. - flatten",
            rule_id,
        )
        return None
    action = ACTIONS.get(name)
    if action is None:
        out.error(
            path if isinstance(item, str) else args_path,
            f'unknown action "{name}"',
            "unknown-action",
            did_you_mean(name, names) or "actions: " + ", ".join(names),
            rule_id,
            key=not isinstance(item, str),
        )
        return None
    if isinstance(item, str) and not action.bare:
        out.error(path, f"{name} needs arguments", "action-argument", action.example, rule_id)
        return None
    errors = list(args_validator(action.args_schema).iter_errors(_json_args(args)))
    if errors:
        problems = problems_from_errors(out.doc, iter(errors), args_path, lambda _p: rule_id)
        out.problems += [_retarget(p, name) for p in problems]
        return None
    compiled_args = action.compile(context, {str(k): v for k, v in args.items()}, args_path)
    mark = out.doc.at(path)
    return ActionSpec(
        name, MappingProxyType(compiled_args), SourceLocation(out.doc.file, mark.line, mark.column)
    )


def _json_args(args: Mapping[object, object]) -> object:
    return json_view(dict(args))


#: schema checks whose wording names the action's arguments: (check, pattern, wording)
_ARGUMENT_WORDING = {
    "unknown-key": (r'^unknown key "([^"]*)" in .*$', 'unknown argument "\\1" of {action}'),
    "missing-key": (r'^missing required key "([^"]*)" in .*$', '{action} needs argument "\\1"'),
}


def _retarget(problem: Problem, action: str) -> Problem:
    """Schema wording for action arguments: 'unknown argument "x" of lockout'."""
    wording = _ARGUMENT_WORDING.get(problem.check)
    if wording is None:
        return problem
    pattern, replacement = wording
    message = re.sub(pattern, replacement.format(action=action), problem.message)
    return dataclasses.replace(problem, message=message, check="action-argument")
