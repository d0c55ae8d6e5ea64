"""Account overlays: ``params:``, ``enable:``, ``disable:`` and ``rules:`` over a base ruleset.

:func:`compile_overlay` compiles an account overlay against its base ruleset: the added rules
are compiled in the base's scope (its params after the overlay's overrides, lists, macros,
calendar, symbols) but located in the overlay file, so a mistake in an added rule is reported
exactly like one in a ruleset — never as a position in a spliced text that exists nowhere.
Kept apart from the ruleset compiler (:mod:`~simple_risk.engine.dsl.compiler`), which it runs
on the base, because an overlay has a schema and mistakes of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.compiler import compile_document, is_action_path, rule_id_for
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.rules import compile_rule
from simple_risk.engine.dsl.schema import (
    RULE_ID,
    build_schema,
    json_view,
    problems_from_errors,
    shipped_schema,
)
from simple_risk.engine.dsl.sections import (
    compile_param_ranges,
    mistyped_override,
    said_out_of_range,
    value_kind,
)
from simple_risk.engine.dsl.yamlload import Document, Path
from simple_risk.engine.model import Rule

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
        rule_id_for=rule_id_for(overlay),
        skip=is_action_path,
    )
    out.problems += [_about_overlay(p) for p in schema_problems]
    top: Mapping[object, object] = overlay.data if isinstance(overlay.data, dict) else {}
    base_top = base.data if isinstance(base.data, dict) else {}
    raw_declared = base_top.get("params")
    declared: Mapping[object, object] = raw_declared if isinstance(raw_declared, dict) else {}
    params: dict[str, object] = {}
    # the base's ranges, read quietly: their own mistakes are the base's problems, said there
    ranges = compile_param_ranges(
        Compilation(base), base_top.get("param_ranges"), {str(k): v for k, v in declared.items()}
    )
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
        elif value_kind(value) != value_kind(declared[name]):
            message, hint = mistyped_override(str(name), declared[name], value)
            out.error(("params", name), message, "wrong-type", hint)
        elif not said_out_of_range(out, str(name), value, ranges, "the ruleset's param_ranges:"):
            params[str(name)] = value
            _said_keys_left_out(out, str(name), value, declared[name])
    base_out = compile_document(base, {**(overrides or {}), **params})
    out.base = base_out
    out.params, out.lists, out.macros = base_out.params, base_out.lists, base_out.macros
    out.sessions, out.pool = base_out.sessions, base_out.pool
    out.derived = base_out.derived
    base_rules = {rule_id: path for rule_id, path in base_out.rule_ids}
    added: list[Rule] = []
    raw_rules = top.get("rules")
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule = compile_rule(out, ("rules", index), raw)
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


def _said_keys_left_out(out: Compilation, name: str, value: object, declared: object) -> None:
    """A map param the overlay gives replaces the ruleset's whole map: each key of the
    ruleset's that it leaves out is read through its ``lookup(...)``'s default from then on
    (looser, maybe, than the ruleset's value), which an overlay meant to change one key does
    not say; a warning names them, with the map that changes only the overlay's keys."""
    if not isinstance(value, dict) or not isinstance(declared, dict):
        return
    left_out = [key for key in declared if key not in value]
    if not left_out:
        return
    said = ", ".join(f"{key} ({declared[key]} in the ruleset)" for key in left_out)
    merged = ", ".join(
        f"{key}: {item}"
        for key, item in {**value, **{key: declared[key] for key in left_out}}.items()
    )
    out.error(
        ("params", name),
        f"param \"{name}\": the overlay's map replaces the ruleset's whole map, and leaves out"
        f" {said}: rules now read the default of their lookup(...) for it",
        "overlay-map-keys",
        f"to change only some keys, write the others too: {{{merged}}}",
        severity="warning",
    )


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
