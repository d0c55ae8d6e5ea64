"""The ruleset compiler: a strictly loaded ``Document`` → ``simple_risk.engine.model.Ruleset``.

Runs the schema, then compiles every section defensively: a section the schema already
rejected is skipped silently rather than reported twice, so a file with many mistakes yields
one located problem per mistake. Each section has its own module: the calendar
(:mod:`~simple_risk.engine.dsl.calendar_spec`), ``requires:``, ``symbols:``, ``params:`` and
the macros (:mod:`~simple_risk.engine.dsl.sections`), ``derive:``
(:mod:`~simple_risk.engine.dsl.derive`) and the rules with their actions
(:mod:`~simple_risk.engine.dsl.rules`); expressions go through
:mod:`simple_risk.engine.dsl.expressions`. The result, a
:class:`~simple_risk.engine.dsl.compilation.Compilation`, keeps every checked expression so the
lint checks in :mod:`simple_risk.engine.dsl.checks` can evaluate them on sample facts. Account
overlays are compiled by :mod:`simple_risk.engine.dsl.overlay`, which runs this on the base.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from simple_risk.engine.dsl.calendar_spec import compile_calendar
from simple_risk.engine.dsl.compilation import Compilation, base_scope
from simple_risk.engine.dsl.derive import compile_derived, declare
from simple_risk.engine.dsl.rules import compile_rule
from simple_risk.engine.dsl.schema import validate
from simple_risk.engine.dsl.sections import (
    check_definition_names,
    check_requires,
    compile_macros,
    compile_params,
    compile_symbols,
)
from simple_risk.engine.dsl.yamlload import Document, Path
from simple_risk.engine.model import Rule, Ruleset, SourceLocation


def _freeze(value: object) -> object:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def rule_id_for(doc: Document) -> Callable[[Path], str | None]:
    """A function from a path in ``doc`` to the id of the rule it is in (a problem's rule id)."""

    def rule_id(path: Path) -> str | None:
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            value = doc.get(("rules", path[1], "id"))
            return value if isinstance(value, str) else None
        return None

    return rule_id


def is_action_path(path: Path) -> bool:
    """Whether a path is inside a rule's ``then:`` (action arguments are checked by each
    action's own schema, with action wording, so the ruleset schema skips them)."""
    return len(path) > 3 and path[0] == "rules" and path[2] == "then"


def compile_document(doc: Document, overrides: Mapping[str, object] | None = None) -> Compilation:
    """Validate and compile ``doc``; every problem found is in the result, nothing raises."""
    out = Compilation(doc)
    out.problems += validate(doc, skip=is_action_path, rule_id_for=rule_id_for(doc))
    top = doc.data
    if not isinstance(top, dict):
        return out
    check_requires(out, top)
    calendar = compile_calendar(out, top.get("calendar"))
    out.sessions = frozenset(calendar.sessions)
    symbols = compile_symbols(top.get("symbols"))
    compile_params(out, top.get("params"), overrides or {}, top.get("param_ranges"))
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
            rule = compile_rule(out, ("rules", index), raw)
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
