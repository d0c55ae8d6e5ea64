"""The ruleset compiler: a strictly loaded ``Document`` → ``simple_risk.engine.model.Ruleset``.

Runs the schema, then compiles every section defensively: a section the schema already
rejected is skipped silently rather than reported twice, so a file with many mistakes yields
one located problem per mistake. Expressions go through
:mod:`simple_risk.engine.dsl.expressions`, actions through the registry in
:mod:`simple_risk.engine.dsl.actions`. The result keeps every checked expression so the lint
checks in :mod:`simple_risk.engine.dsl.checks` can evaluate them on sample facts.

:func:`compile_overlay` compiles an account overlay (``params:``, ``enable:``, ``disable:``,
``rules:``)
against its base ruleset: the added rules are compiled in the base's scope (its params after
the overlay's overrides, lists, macros, calendar, symbols) but located in the overlay file, so
a mistake in an added rule is reported exactly like one in a ruleset — never as a position in
a spliced text that exists nowhere.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from simple_risk.engine import namespace
from simple_risk.engine.dsl.actions import ACTIONS
from simple_risk.engine.dsl.actions.base import SIDES
from simple_risk.engine.dsl.calendar_spec import compile_calendar
from simple_risk.engine.dsl.compilation import Compilation, base_scope
from simple_risk.engine.dsl.derive import compile_derived, declare
from simple_risk.engine.dsl.durations import (
    DURATION_HINT,
    is_duration,
    parse_duration,
)
from simple_risk.engine.dsl.expressions import compile_expression
from simple_risk.engine.dsl.knowns import asserted_known
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.schema import (
    ROOT,
    RULE_ID,
    args_validator,
    build_schema,
    json_view,
    problems_from_errors,
    shipped_schema,
    validate,
)
from simple_risk.engine.dsl.scope import (
    CheckedExpression,
    Locator,
    Scope,
)
from simple_risk.engine.dsl.sections import (
    check_definition_names,
    check_requires,
    compile_macros,
    compile_params,
    compile_symbols,
)
from simple_risk.engine.dsl.templates import compile_template
from simple_risk.engine.dsl.yamlload import Document, Path
from simple_risk.engine.model import (
    REFIRE_KINDS,
    REFIRE_TRIGGERS,
    ActionSpec,
    CompiledExpression,
    MessageTemplate,
    Refire,
    Rule,
    Ruleset,
    SourceLocation,
)

_ROOT = re.compile(ROOT)


def _as_source(value: object) -> str | None:
    """Expression text of a YAML value: strings as written, numbers and booleans as literals."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _freeze(value: object) -> object:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def _rule_id_for(doc: Document) -> Callable[[Path], str | None]:
    def rule_id(path: Path) -> str | None:
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            value = doc.get(("rules", path[1], "id"))
            return value if isinstance(value, str) else None
        return None

    return rule_id


def _is_action_path(path: Path) -> bool:
    return len(path) > 3 and path[0] == "rules" and path[2] == "then"


def compile_document(doc: Document, overrides: Mapping[str, object] | None = None) -> Compilation:
    """Validate and compile ``doc``; every problem found is in the result, nothing raises."""
    out = Compilation(doc)
    out.problems += validate(doc, skip=_is_action_path, rule_id_for=_rule_id_for(doc))
    top = doc.data
    if not isinstance(top, dict):
        return out
    check_requires(out, top)
    calendar = compile_calendar(out, top.get("calendar"))
    out.sessions = frozenset(calendar.sessions)
    symbols = compile_symbols(top.get("symbols"))
    compile_params(out, top.get("params"), overrides or {})
    raw_lists = top.get("lists")
    if isinstance(raw_lists, dict):
        out.lists = {str(k): tuple(v) for k, v in raw_lists.items() if isinstance(v, list)}
    check_definition_names(out, top)
    out.derived = declare(out, top.get("derive"))
    compile_macros(out, top.get("macros"))
    derived = compile_derived(out, top.get("derive"), lambda _: base_scope(out))
    rules: list[Rule] = []
    raw_rules = top.get("rules")
    if isinstance(raw_rules, list):
        for index, raw in enumerate(raw_rules):
            rule = _rule(out, ("rules", index), raw)
            if rule is not None:
                rules.append(rule)
    name = top.get("ruleset")
    if not any(p.severity == "error" for p in out.problems):
        out.ruleset = Ruleset(
            name=name if isinstance(name, str) else "",
            rules=tuple(rules),
            location=SourceLocation(doc.file, 1, 1),
            calendar=calendar,
            symbols=symbols,
            params=MappingProxyType({k: _freeze(v) for k, v in out.params.items()}),
            lists=MappingProxyType(dict(out.lists)),
            requires=top.get("requires") if isinstance(top.get("requires"), str) else None,
            constants=MappingProxyType(dict(out.pool.values)),
            derived=derived,
        )
    return out


class _RuleContext:
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

    def expression(self, path: Path, role: str) -> CompiledExpression | None:
        checked = self.compile_at(path, role, self.scope)
        return checked.compiled if checked is not None else None

    def lock_expression(self, path: Path) -> CompiledExpression | None:
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
            derived=self.scope.derived,
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
            self.error(path, f'"{value}" is not a valid duration', "bad-duration", DURATION_HINT)
            return None

    def error(self, path: Path, message: str, check: str, hint: str | None = None) -> None:
        self.out.error(path, message, check, hint, self.scope.rule_id)


def _rule(out: Compilation, path: Path, raw: object) -> Rule | None:
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
    context = _RuleContext(out, path, scope)
    when = context.compile_at((*path, "when"), "when", scope)
    if when is not None:
        scope.guarded = asserted_known(when.tree, scope.optional_derived)
    message = context.template((*path, "message"), "message") if "message" in raw else None
    for_: timedelta | None = None
    if is_duration(raw.get("for")):
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
    context: _RuleContext,
    path: Path,
    raw: object,
    each: str | None,
    triggers: frozenset[str],
) -> Refire:
    """The rule's ``refire:`` (the schema has checked its shape); a per-fill or per-order
    episode needs the event that carries the fill or order, and no ``each:`` item."""
    if isinstance(raw, dict) and is_duration(raw.get("every")):
        every = context.duration((*path, "every"))
        if every is not None and every <= timedelta(0):
            context.error(
                (*path, "every"),
                "refire every 0s would fire on every event",
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


def _action(out: Compilation, context: _RuleContext, path: Path, item: object) -> ActionSpec | None:
    action = _action_spec(out, context, path, item)
    if action is None:
        out.attempted(item)  # its arguments may be the only use of a param
    return action


def _action_spec(
    out: Compilation, context: _RuleContext, path: Path, item: object
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


def _retarget(problem: Problem, action: str) -> Problem:
    """Schema wording for action arguments: 'unknown argument "x" of lockout'."""
    message = problem.message
    if problem.check == "unknown-key":
        message = re.sub(
            r'^unknown key "([^"]*)" in .*$', rf'unknown argument "\1" of {action}', message
        )
        return Problem(
            problem.file,
            problem.line,
            problem.column,
            message,
            "action-argument",
            problem.rule_id,
            problem.hint,
            problem.severity,
        )
    if problem.check == "missing-key":
        message = re.sub(
            r'^missing required key "([^"]*)" in .*$', rf'{action} needs argument "\1"', message
        )
        return Problem(
            problem.file,
            problem.line,
            problem.column,
            message,
            "action-argument",
            problem.rule_id,
            problem.hint,
            problem.severity,
        )
    return problem


#: what an overlay file is, for messages about one that is not
OVERLAY_HINT = "an overlay is a mapping with params:, enable:, disable: and/or rules:"


def _rule_id_list() -> dict[str, Any]:
    return {
        "type": "array",
        "uniqueItems": True,
        "items": {
            "type": "string",
            "pattern": RULE_ID,
            "title": "rule id",
            "description": "letters, digits, -, _ and .",
        },
    }


@lru_cache(maxsize=1)
def overlay_schema() -> dict[str, Any]:
    """The overlay's JSON Schema: ``params`` and ``rules`` exactly as in a ruleset."""
    ruleset = shipped_schema()
    properties = ruleset.get("properties")
    if not isinstance(properties, dict) or "rules" not in properties:
        ruleset = build_schema()
        properties = ruleset["properties"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "simple-risk account overlay",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "params": properties["params"],
            "enable": _rule_id_list(),
            "disable": _rule_id_list(),
            "rules": properties["rules"],
        },
        "$defs": ruleset.get("$defs", {}),
    }


@lru_cache(maxsize=1)
def _overlay_validator() -> Draft202012Validator:
    return Draft202012Validator(overlay_schema())


def _value_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty"


def compile_overlay(
    base: Document, overlay: Document, overrides: Mapping[str, object] | None = None
) -> Compilation:
    """Compile an account overlay against its base ruleset document.

    Returns the overlay's compilation: ``problems`` are located in the overlay file (the base
    compiled with the overlay's params is in ``base``, with its own problems), ``ruleset`` is
    the base ruleset with the overrides applied, the ``disable:`` rules switched off and the
    added rules appended after the base rules (None when anything is wrong). ``overrides``
    are further params applied before the overlay's own. Nothing raises.
    """
    out = Compilation(overlay)
    schema_problems = problems_from_errors(
        overlay,
        _overlay_validator().iter_errors(json_view(overlay.data)),
        rule_id_for=_rule_id_for(overlay),
        skip=_is_action_path,
    )
    out.problems += [_about_overlay(p) for p in schema_problems]
    top: Mapping[object, object] = overlay.data if isinstance(overlay.data, dict) else {}
    base_top = base.data if isinstance(base.data, dict) else {}
    raw_declared = base_top.get("params")
    declared: Mapping[object, object] = raw_declared if isinstance(raw_declared, dict) else {}
    params: dict[str, object] = {}
    raw_params = top.get("params")
    for name, value in raw_params.items() if isinstance(raw_params, dict) else ():
        if name not in declared:
            names = [str(n) for n in declared]
            out.error(
                ("params", name),
                f'the ruleset has no param "{name}"',
                "unknown-param",
                did_you_mean(str(name), names)
                or ("declared: " + ", ".join(sorted(names)) if names else None),
                key=True,
            )
        elif _value_kind(value) != _value_kind(declared[name]):
            out.error(
                ("params", name),
                f'param "{name}" is {_value_kind(declared[name])} in the ruleset,'
                f" but the override is {_value_kind(value)}",
                "wrong-type",
            )
        else:
            params[str(name)] = value
    base_out = compile_document(base, {**(overrides or {}), **params})
    out.base = base_out
    out.params, out.lists, out.macros = base_out.params, base_out.lists, base_out.macros
    out.sessions, out.pool = base_out.sessions, base_out.pool
    out.derived = base_out.derived
    base_rules = {rule_id: path for rule_id, path in base_out.rule_ids}
    added: list[Rule] = []
    raw_rules = top.get("rules")
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule = _rule(out, ("rules", index), raw)
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rule_id, str) and rule_id in base_rules:
            where = base.at((*base_rules[rule_id], "id"))
            mandatory = base.get((*base_rules[rule_id], "mandatory")) is True
            out.error(
                ("rules", index, "id"),
                f'the ruleset already has a rule "{rule_id}" ({base.file}:{where.line})',
                "duplicate-rule-id",
                "it is mandatory: an overlay may change its params, not replace it"
                if mandatory
                else f"to change it, list {rule_id} under disable: and add your version"
                " with another id",
                rule_id,
            )
        if rule is not None:
            added.append(rule)
    off = _disabled(out, base, top.get("disable"), base_rules)
    on = _enabled(out, base, top.get("enable"), base_rules, off)
    if base_out.ruleset is not None and not any(p.severity == "error" for p in out.problems):
        out.ruleset = dataclasses.replace(
            base_out.ruleset,
            rules=tuple(
                dataclasses.replace(rule, enabled=False)
                if rule.id in off
                else dataclasses.replace(rule, enabled=True)
                if rule.id in on
                else rule
                for rule in base_out.ruleset.rules
            )
            + tuple(added),
            # the added rules' hidden constants joined the shared pool
            constants=MappingProxyType(dict(out.pool.values)),
        )
    return out


def _disabled(
    out: Compilation, base: Document, raw: object, base_rules: Mapping[str, Path]
) -> set[str]:
    """The ids under ``disable:``; each must name a base rule that is not ``mandatory``."""
    added = {rule_id for rule_id, _ in out.rule_ids}
    off: set[str] = set()
    for index, rule_id in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(rule_id, str):
            continue  # the schema reported it
        path = base_rules.get(rule_id)
        if path is None:
            hint = (
                "this overlay adds it: remove it, or give it enabled: false"
                if rule_id in added
                else did_you_mean(rule_id, base_rules)
            )
            out.error(
                ("disable", index), f'the ruleset has no rule "{rule_id}"', "unknown-rule", hint
            )
        elif base.get((*path, "mandatory")) is True:
            out.error(
                ("disable", index),
                f'rule "{rule_id}" is mandatory and cannot be disabled',
                "mandatory-rule",
                "an overlay may still change the params it uses",
            )
        else:
            off.add(rule_id)
    return off


def _enabled(
    out: Compilation,
    base: Document,
    raw: object,
    base_rules: Mapping[str, Path],
    off: set[str],
) -> set[str]:
    """The ids under ``enable:``: base rules shipped with ``enabled: false`` that this account
    switches on (e.g. the trade-management rules of topstep.yaml)."""
    on: set[str] = set()
    for index, rule_id in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(rule_id, str):
            continue  # the schema reported it
        path = base_rules.get(rule_id)
        if path is None:
            out.error(
                ("enable", index),
                f'the ruleset has no rule "{rule_id}"',
                "unknown-rule",
                did_you_mean(rule_id, base_rules),
            )
        elif rule_id in off:
            out.error(
                ("enable", index),
                f'rule "{rule_id}" is both enabled and disabled',
                "enable-and-disable",
                "keep it in one of enable: and disable:",
            )
        elif base.get((*path, "enabled")) is not False:
            out.error(
                ("enable", index),
                f'rule "{rule_id}" is already enabled in the ruleset',
                "already-enabled",
                "remove it from enable:",
                severity="warning",
            )
        else:
            on.add(rule_id)
    return on


def _about_overlay(problem: Problem) -> Problem:
    """Schema wording names "the ruleset" for the top level; here that is the overlay."""
    if "the ruleset" not in problem.message and problem.check != "unknown-key":
        return problem
    hint = problem.hint
    if problem.check == "unknown-key" and problem.message.endswith(" in the ruleset"):
        hint = hint if hint and hint.startswith("did you mean") else OVERLAY_HINT
    return dataclasses.replace(
        problem, message=problem.message.replace("the ruleset", "the overlay"), hint=hint
    )
