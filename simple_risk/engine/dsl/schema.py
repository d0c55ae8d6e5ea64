"""The ruleset JSON Schema (2020-12): built here from the declarations, validated with jsonschema.

``build_schema()`` assembles the whole DSL of docs/architecture.md §3 from the same declarations the
compiler uses (the action registry's argument schemas, the trigger and ``each`` lists of the
namespace, the duration and time patterns), so ``schemas/ruleset.schema.json`` — which ships in
the wheel and is what ``simple-risk rules schema`` prints — cannot drift from the compiler (a
test compares the file with this function). ``validate()`` turns jsonschema's errors into
located problems with did-you-mean hints for misspelled keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from simple_risk import resources
from simple_risk.calendars import EXCHANGES, NO_EXCHANGE
from simple_risk.engine import namespace
from simple_risk.engine.dsl.actions import ACTIONS
from simple_risk.engine.dsl.durations import (
    DURATION_HINT,
    DURATION_PATTERN,
    TIME_HINT,
    TIME_PATTERN,
    invalid_duration,
)
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.yamlload import Document, Path
from simple_risk.engine.model import AGGREGATES, DERIVE_EACH, PERIODS, REFIRE_KINDS, SEVERITIES

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
RULE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ROOT = r"^[A-Z0-9][A-Z0-9]*$"
#: ``params.NAME``: where a constant is expected (a rule's ``for:``), the value of a param
PARAM_REFERENCE_PATTERN = r"^params\.[a-z][a-z0-9_]*$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEMA_ID = "https://simple-risk.invalid/schemas/ruleset.schema.json"


def _map_of(values: Mapping[str, Any], keys: Mapping[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": dict(values)}
    if keys is not None:
        schema["propertyNames"] = dict(keys)
    return schema


def _object(
    properties: Mapping[str, Any], required: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": dict(properties),
    }
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def build_schema() -> dict[str, Any]:
    """The complete ruleset schema, deterministic (the shipped file is this, pretty-printed)."""
    scalar = {"type": ["string", "number", "boolean"]}
    action_names = sorted(ACTIONS)
    bare = sorted(name for name, action in ACTIONS.items() if action.bare)
    action_object = _object(
        {
            name: {
                "anyOf": [{"type": "null"}, {"$ref": f"#/$defs/action_{name}"}],
                "description": ACTIONS[name].summary,
            }
            for name in action_names
        },
        minProperties=1,
        maxProperties=1,
    )
    defs: dict[str, Any] = {
        "identifier": {
            "type": "string",
            "pattern": IDENTIFIER,
            "title": "name",
            "description": "lower case letters, digits and _, starting with a letter",
        },
        "root": {
            "type": "string",
            "pattern": ROOT,
            "title": "symbol root",
            "description": "an upper-case root such as MNQ",
        },
        "duration": {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "title": "duration",
            "description": DURATION_HINT,
        },
        "param_duration": {
            "type": "string",
            "pattern": PARAM_REFERENCE_PATTERN,
            "title": "param",
            "description": "params.NAME: a param holding a duration, or a number of seconds",
        },
        "time": {
            "type": "string",
            "pattern": TIME_PATTERN,
            "title": "time",
            "description": TIME_HINT,
        },
        "date": {
            "type": "string",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "title": "date",
            "description": "dates are YYYY-MM-DD",
        },
        "expression": {
            "type": "string",
            "minLength": 1,
            "description": "a rule expression over the fact namespace (simple-risk rules facts)",
        },
        "template": {
            "type": "string",
            "description": "text with {expression:format} fields, e.g. {day.realized_pnl:.2f}",
        },
        "weekday": {"enum": list(WEEKDAYS)},
        "session": _object(
            {
                "start": {"$ref": "#/$defs/time"},
                "end": {"$ref": "#/$defs/time"},
                "days": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/weekday"},
                    "uniqueItems": True,
                },
            },
            ("start", "end"),
        ),
        "param_value": {
            "anyOf": [
                scalar,
                {"type": "array", "items": scalar},
                _map_of(scalar),
            ],
            "description": "a number, string, duration string, list or map",
        },
        "param_range": _object(
            {
                "min": {"type": "number", "description": "the smallest value allowed"},
                "max": {"type": "number", "description": "the largest value allowed"},
            },
            minProperties=1,
            description=(
                "the values a number param (or every number of a list or map param) may take,"
                " both ends included: checked in the ruleset, an overlay and every override"
            ),
        ),
        "derived": _object(
            {
                "description": {"type": "string"},
                "type": {
                    "enum": [t.value for t in namespace.FactType],
                    "description": "what the fact holds (count: int, its default)",
                },
                "value": {
                    "anyOf": [{"$ref": "#/$defs/expression"}, {"type": "boolean"}],
                    "description": "the expression's value now (no aggregate)",
                },
                **{
                    aggregate: {
                        "anyOf": [{"$ref": "#/$defs/expression"}, {"type": "boolean"}],
                        "description": f"the {aggregate} of the expression's samples"
                        if aggregate != "count"
                        else "how many samples the condition held for",
                    }
                    for aggregate in AGGREGATES
                },
                "over": {
                    "enum": list(PERIODS),
                    "description": "the period the aggregate restarts with (default: never)",
                },
                "session": {
                    "$ref": "#/$defs/identifier",
                    "description": "the calendar session of over: session",
                },
                "within": {
                    "anyOf": [{"$ref": "#/$defs/duration"}, {"$ref": "#/$defs/param_duration"}],
                    "description": "a sliding window instead of a period: a duration (10m), "
                    "or params.NAME",
                },
                "each": {
                    "enum": list(DERIVE_EACH),
                    "description": "kept per item; rules read the bound item's",
                },
                "trigger": {
                    "type": "array",
                    "items": {"enum": list(namespace.TRIGGERS)},
                    "minItems": 1,
                    "uniqueItems": True,
                    "description": "the events that take a sample (default: every event)",
                },
            }
        ),
        "action": {
            "anyOf": [{"enum": bare}, action_object],
            "description": "one action of the closed vocabulary",
        },
        "rule": _object(
            {
                "id": {
                    "type": "string",
                    "pattern": RULE_ID,
                    "title": "rule id",
                    "description": "letters, digits, -, _ and .",
                },
                "description": {"type": "string"},
                "label": {
                    "type": "string",
                    "minLength": 1,
                    "description": "what the rule protects, as views name it "
                    '(e.g. "Daily loss"); default: the id in words',
                },
                "severity": {"enum": list(SEVERITIES), "default": "warning"},
                "enabled": {"type": "boolean", "default": True},
                "mandatory": {"type": "boolean", "default": False},
                "optional": {
                    "type": "boolean",
                    "default": False,
                    "description": "with enabled: false, the rule is shipped off on purpose for "
                    "an account overlay to enable; rules lint --strict does not report it",
                },
                "trigger": {
                    "type": "array",
                    "items": {"enum": list(namespace.TRIGGERS)},
                    "minItems": 1,
                    "uniqueItems": True,
                },
                "each": {"enum": list(namespace.EACH_KINDS)},
                "when": {"anyOf": [{"$ref": "#/$defs/expression"}, {"type": "boolean"}]},
                "for": {
                    "anyOf": [{"$ref": "#/$defs/duration"}, {"$ref": "#/$defs/param_duration"}],
                    "description": "how long the condition must hold before the rule fires: "
                    "a duration (30s), or params.NAME",
                },
                "refire": {
                    "anyOf": [
                        {"enum": list(REFIRE_KINDS)},
                        _object(
                            {
                                "every": {
                                    "anyOf": [
                                        {"$ref": "#/$defs/duration"},
                                        {"$ref": "#/$defs/param_duration"},
                                    ],
                                    "description": "a duration (15m), or params.NAME",
                                }
                            },
                            ("every",),
                        ),
                    ],
                    "default": "episode",
                    "description": "when a rule that stays broken fires again: episode (the "
                    "default: once per breach episode), day (once per trading day), "
                    "{every: DURATION} (again while still true), fill or order (each its own)",
                },
                "then": {"type": "array", "items": {"$ref": "#/$defs/action"}},
                "message": {"$ref": "#/$defs/template"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            ("id", "trigger", "when", "then"),
        ),
    }
    for name in action_names:
        defs[f"action_{name}"] = dict(ACTIONS[name].args_schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "simple-risk ruleset",
        "description": "A set of risk rules for TopstepX accounts (docs/architecture.md §3).",
        "type": "object",
        "additionalProperties": False,
        "required": ["ruleset", "rules"],
        "properties": {
            "ruleset": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "requires": {
                "type": "string",
                "pattern": r"^simple-risk\s*>=\s*[0-9]+(\.[0-9]+)*$",
                "title": "requirement",
                "description": 'e.g. "simple-risk >= 0.1"',
            },
            "calendar": _object(
                {
                    "timezone": {"type": "string", "default": "America/Chicago"},
                    "trading_day_starts": {"$ref": "#/$defs/time"},
                    "sessions": _map_of(
                        {"$ref": "#/$defs/session"}, {"$ref": "#/$defs/identifier"}
                    ),
                    "exchange": {
                        "enum": [*EXCHANGES, NO_EXCHANGE],
                        "default": NO_EXCHANGE,
                        "description": "the exchange calendar whose holidays and early closes "
                        "apply (pandas-market-calendars); none: only the lists below",
                    },
                    "holidays": {"type": "array", "items": {"$ref": "#/$defs/date"}},
                    "early_closes": _map_of({"$ref": "#/$defs/time"}, {"$ref": "#/$defs/date"}),
                    "regular_days": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/date"},
                        "description": "dates the exchange calendar closes or closes early "
                        "that this ruleset treats as regular days",
                    },
                }
            ),
            "symbols": _object(
                {
                    "aliases": _map_of({"$ref": "#/$defs/root"}, {"$ref": "#/$defs/root"}),
                    "weights": _map_of({"type": "integer", "minimum": 1}, {"$ref": "#/$defs/root"}),
                    "units_per_lot": {"type": "integer", "minimum": 1, "default": 10},
                    "products": _map_of({"$ref": "#/$defs/root"}, {"$ref": "#/$defs/root"}),
                }
            ),
            "params": _map_of({"$ref": "#/$defs/param_value"}, {"$ref": "#/$defs/identifier"}),
            "param_ranges": _map_of(
                {"$ref": "#/$defs/param_range"}, {"$ref": "#/$defs/identifier"}
            ),
            "lists": _map_of(
                {"type": "array", "items": {"type": ["string", "number"]}},
                {"$ref": "#/$defs/identifier"},
            ),
            "macros": _map_of({"$ref": "#/$defs/expression"}, {"$ref": "#/$defs/identifier"}),
            "derive": _map_of({"$ref": "#/$defs/derived"}, {"$ref": "#/$defs/identifier"}),
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
        },
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema file's exact text."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def shipped_schema() -> dict[str, Any]:
    """The schema as shipped (file in a checkout, ``_data`` in a wheel); built if missing."""
    try:
        loaded = json.loads(resources.schema_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return build_schema()
    return loaded if isinstance(loaded, dict) else build_schema()


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(shipped_schema())


def json_view(value: object) -> object:
    """The document as JSON Schema sees it: dates as ISO strings, every key a string."""
    if isinstance(value, dict):
        return {_json_key(k): json_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_view(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _json_key(key: object) -> str:
    if isinstance(key, dt.date):
        return key.isoformat()
    if key is None:
        return ""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _doc_path(doc: Document, json_path: Path) -> Path:
    """Translate a JSON path (string keys) back to the document's keys."""
    node: object = doc.data
    result: list[object] = []
    for step in json_path:
        if isinstance(node, dict):
            match = next((k for k in node if _json_key(k) == step), step)
            result.append(match)
            node = node.get(match)
        else:
            result.append(step)
            node = (
                node[step]
                if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
                else None
            )
    return tuple(result)


def _describe(path: Path) -> str:
    names = [p for p in path if isinstance(p, str)]
    if not path:
        return "the ruleset"
    if isinstance(path[-1], int):
        return f'item {path[-1] + 1} of "{names[-1]}"' if names else "item"
    return f'"{names[-1]}"'


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "empty",
}


def _type_of(instance: object) -> str:
    if isinstance(instance, bool):
        return "true/false"
    if isinstance(instance, int):
        return "a whole number"
    if isinstance(instance, Decimal | float):
        return "a number"
    if isinstance(instance, str):
        return "a string"
    if isinstance(instance, list):
        return "a list"
    if isinstance(instance, dict):
        return "a mapping"
    return "empty"


#: how much of a wrong value a problem quotes (a whole file read as one string is no help)
_SHOWN = 60


def _show(instance: object) -> str:
    if isinstance(instance, str):
        one_line = " ".join(instance.split())
        if len(one_line) > _SHOWN:
            one_line = one_line[: _SHOWN - 1] + "…"
        return f'"{one_line}"'
    if isinstance(instance, bool):
        return "true" if instance else "false"
    if instance is None:
        return "null"
    if isinstance(instance, dict | list):
        return _type_of(instance)
    return str(instance)


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For anyOf/oneOf, the sub-errors of the branch that got furthest; else the error."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # a branch whose own type fit (its error is inside the value, or a bound such as a
        # minimum on it) is the one the author meant: -5 is an id below 1, not "a mapping"
        non_type = [
            e
            for e in error.context
            if len(e.relative_path) > 0 or e.validator not in ("type", "enum", "const")
        ]
        if non_type:
            deepest = max(len(e.relative_path) for e in non_type)
            best = [e for e in non_type if len(e.relative_path) == deepest]
            branch = min(e.relative_schema_path[0] for e in best)
            for sub in best:
                if sub.relative_schema_path[0] == branch:
                    yield from _leaf_errors(sub)
            return
    yield error


#: keys whose value is a duration (``for:``, ``refire: {every:}``, a derived fact's ``within:``)
_DURATION_KEYS = frozenset({"for", "every", "within"})


def _shape_mistake(path: Path, instance: object) -> tuple[str, str] | None:
    """The usual slips of shape, said with the form to write: a duration without its unit
    (``for: 30``), ``refire: every 15m`` without its braces, rules written as a mapping."""
    last = path[-1] if path else None
    number = isinstance(instance, int | float | Decimal) and not isinstance(instance, bool)
    if last in _DURATION_KEYS and number:
        return (
            f'"{last}" must be a duration, got the number {_show(instance)}',
            f"a duration has its unit: {_show(instance)}s, {_show(instance)}m",
        )
    if last == "refire" and isinstance(instance, str) and instance.startswith("every"):
        every = instance[len("every") :].strip(" :") or "15m"
        return (
            f'"refire" must be episode, day, fill, order or {{every: DURATION}}, got "{instance}"',
            f"write refire: {{every: {every}}}",
        )
    if last == "then" and instance is None:
        return (
            '"then" has no value: it is the list of the rule\'s actions',
            "list them (then: [flatten]), or write then: [] for a rule whose firing is all it does",
        )
    if path == ("rules",) and isinstance(instance, dict):
        return (
            '"rules" must be a list, got a mapping',
            "each rule is an item of the list: - id: NAME, then its keys indented under it",
        )
    return None


def _one_of_words(error: ValidationError) -> str | None:
    """Human words for a failed anyOf of simple alternatives: "a number or a string"."""
    words: list[str] = []
    for sub in error.context or ():
        schema = sub.schema if isinstance(sub.schema, dict) else {}
        if "title" in schema:
            words.append(str(schema["title"]))
        elif "$ref" in schema:
            words.append(str(schema["$ref"]).rsplit("/", 1)[-1].replace("_", " "))
        elif sub.validator == "type":
            kinds = (
                sub.validator_value
                if isinstance(sub.validator_value, list)
                else [sub.validator_value]
            )
            words += [_TYPE_WORDS.get(str(k), str(k)) for k in kinds]
        elif sub.validator in ("enum", "const"):
            values = sub.validator_value if sub.validator == "enum" else [sub.validator_value]
            words += [str(v) for v in values]
    unique = list(dict.fromkeys(words))
    return " or ".join(unique) if unique else None


def problems_from_errors(
    doc: Document,
    errors: Iterator[ValidationError],
    base: Path = (),
    rule_id_for: Callable[[Path], str | None] | None = None,
    skip: Callable[[Path], bool] | None = None,
) -> list[Problem]:
    """Located problems for jsonschema errors on the value at ``base`` of ``doc``."""
    ranked: list[tuple[int, Problem]] = []
    for top in errors:
        for error in _leaf_errors(top):
            path = (*base, *_doc_path_from(doc, base, tuple(error.absolute_path)))
            if skip is not None and skip(path):
                continue
            rule_id = rule_id_for(path) if rule_id_for is not None else None
            rank = _RANK.get(str(error.validator), len(_RANK))
            ranked += [(rank, p) for p in _one_problem(doc, error, top, path, rule_id)]
    # one message per place: a wrong type explains a failed minimum at the same spot
    best_rank: dict[tuple[int, int], int] = {}
    for rank, problem in ranked:
        place = (problem.line, problem.column)
        best_rank[place] = min(rank, best_rank.get(place, rank))
    kept: list[Problem] = []
    seen: set[tuple[int, int, str]] = set()
    for rank, problem in ranked:
        key = (problem.line, problem.column, problem.message)
        if rank == best_rank[(problem.line, problem.column)] and key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


_RANK = {
    v: i
    for i, v in enumerate(
        ["type", "anyOf", "oneOf", "enum", "const", "pattern", "required", "additionalProperties"]
    )
}


def _doc_path_from(doc: Document, base: Path, json_path: Path) -> Path:
    full = _doc_path(
        doc, (*(_json_key(b) if not isinstance(b, int) else b for b in base), *json_path)
    )
    return full[len(base) :]


def _one_problem(
    doc: Document, error: ValidationError, top: ValidationError, path: Path, rule_id: str | None
) -> list[Problem]:
    def at(
        where: Path, message: str, check: str, hint: str | None = None, key: bool = False
    ) -> Problem:
        mark = doc.key_at(where) if key else doc.at(where)
        return Problem(doc.file, mark.line, mark.column, message, check, rule_id, hint)

    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    validator = error.validator
    shape = _shape_mistake(path, instance)
    if shape is not None and validator in ("type", "anyOf", "oneOf", "enum"):
        return [at(path, shape[0], "wrong-type", shape[1])]
    if "propertyNames" in error.absolute_schema_path:
        key = instance
        parent = doc.get(path)
        doc_key = (
            next((k for k in parent if _json_key(k) == key), key)
            if isinstance(parent, dict)
            else key
        )
        title = str(schema.get("title", "key"))
        check = {"date": "bad-date", "symbol root": "bad-symbol"}.get(title, "bad-key")
        return [
            at(
                (*path, doc_key),
                f"key {_show(key)} is not a valid {title}",
                check,
                schema.get("description"),
                key=True,
            )
        ]
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        out = []
        for key in instance:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                if hint is None and allowed:
                    hint = "allowed: " + ", ".join(allowed)
                parent = doc.get(path)
                keys = list(parent) if isinstance(parent, dict) else []
                doc_key = next((k for k in keys if _json_key(k) == key), key)
                out.append(
                    at(
                        (*path, doc_key),
                        f'unknown key "{key}" in {_describe(path)}',
                        "unknown-key",
                        hint,
                        key=True,
                    )
                )
        return out
    if validator == "required":
        present = [str(k) for k in instance] if isinstance(instance, dict) else []
        allowed = list(schema.get("properties", {}))
        # a misspelled key is reported once, as unknown with a did-you-mean
        misspelt = {did_you_mean(k, allowed) for k in present if k not in allowed}
        missing = [
            k
            for k in error.validator_value
            if isinstance(instance, dict)
            and k not in instance
            and f'did you mean "{k}"?' not in misspelt
        ]
        return [
            at(path, f'missing required key "{k}" in {_describe(path)}', "missing-key", key=True)
            for k in missing
        ]
    if validator == "type":
        expected = (
            error.validator_value
            if isinstance(error.validator_value, list)
            else [error.validator_value]
        )
        words = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in expected)
        got = _type_of(instance)
        if not isinstance(instance, dict | list) and instance is not None:
            got = f"{got} ({_show(instance)})"
        return [at(path, f"{_describe(path)} must be {words}, got {got}", "wrong-type")]
    if validator in ("enum", "const"):
        values = error.validator_value if validator == "enum" else [error.validator_value]
        shown = ", ".join(str(v) for v in values)
        hint = (
            did_you_mean(str(instance), [str(v) for v in values])
            if isinstance(instance, str)
            else None
        )
        return [
            at(
                path,
                f"{_describe(path)}: {_show(instance)} is not one of: {shown}",
                "bad-value",
                hint,
            )
        ]
    if validator == "pattern":
        title = str(schema.get("title", "value"))
        check = {"duration": "bad-duration", "time": "bad-time", "date": "bad-date"}.get(
            title, "bad-value"
        )
        hint = schema.get("description")
        if title == "duration":
            message, hint = invalid_duration(instance)  # a negative one is named as such
            return [at(path, message, check, hint)]
        return [
            at(
                path,
                f"{_show(instance)} is not a valid {title}",
                check,
                hint if isinstance(hint, str) else None,
            )
        ]
    if validator in ("anyOf", "oneOf"):
        alternatives = _one_of_words(error)
        message = (
            f"{_describe(path)} must be {alternatives}"
            if alternatives
            else f"{_describe(path)} is not valid"
        )
        return [at(path, f"{message}, got {_show(instance)}", "wrong-type")]
    if validator == "minimum":
        return [
            at(
                path,
                f"{_describe(path)} must be at least {error.validator_value},"
                f" got {_show(instance)}",
                "bad-value",
            )
        ]
    if validator in (
        "minItems",
        "minLength",
        "maxProperties",
        "minProperties",
        "uniqueItems",
    ):
        return [at(path, f"{_describe(path)}: {error.message}", "bad-value")]
    return [at(path, f"{_describe(path)}: {error.message}", "schema")]


def validate(
    doc: Document,
    skip: Callable[[Path], bool] | None = None,
    rule_id_for: Callable[[Path], str | None] | None = None,
) -> list[Problem]:
    """Every schema problem of the document, located; ``skip(path)`` drops some (actions)."""
    errors = _validator().iter_errors(json_view(doc.data))
    return problems_from_errors(doc, errors, (), rule_id_for, skip)


def args_validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A validator for one action's arguments, resolving ``#/$defs/...`` against the schema."""
    return Draft202012Validator({**schema, "$defs": shipped_schema().get("$defs", {})})
