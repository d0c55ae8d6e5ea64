"""Properties that hold for all inputs (hypothesis; the CI profile caps the example counts).

(a) the strict loader round-trips any generated ruleset-shaped document, with a location for
    every value; (b) on random facts the compiled code object and the simpleeval reference
    evaluator agree on every expression of the shipped rulesets and on generated expressions;
(c) lint never raises on random bytes, random YAML or random mutations of a valid ruleset.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_risk import resources
from simple_risk.engine import namespace
from simple_risk.engine.dsl import analyse_text, lint_paths
from simple_risk.engine.dsl.reference import FactObject, family_object, reference_evaluate
from simple_risk.engine.dsl.scope import CheckedExpression
from simple_risk.engine.dsl.yamlload import load_document
from simple_risk.engine.functions import EXACT_DIVIDE, FUNCTIONS, Params, exact_divide

TOPSTEP_TEXT = resources.default_ruleset_path().read_text(encoding="utf-8")

# ---------------------------------------------------------------- (a) loader round trip

IDENT = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z")
TEXT = st.text(
    st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)),
    max_size=20,
)
DECIMALS = st.decimals(
    allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
)
SCALARS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    DECIMALS,
    st.booleans(),
    st.none(),
    TEXT,
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(IDENT, inner, max_size=4)),
    max_leaves=12,
)
RULESET_DOCS = st.fixed_dictionaries(
    {
        "ruleset": TEXT,
        "params": st.dictionaries(IDENT, VALUES, max_size=5),
        "lists": st.dictionaries(IDENT, st.lists(SCALARS, max_size=4), max_size=3),
        "rules": st.lists(
            st.fixed_dictionaries(
                {
                    "id": IDENT,
                    "trigger": st.lists(st.sampled_from(namespace.TRIGGERS), max_size=3),
                    "when": TEXT,
                    "then": st.lists(VALUES, max_size=3),
                }
            ),
            max_size=3,
        ),
    }
)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = str(value)
        return text if ("." in text or "E" in text) else text + ".0"
    if isinstance(value, int | dt.date):
        return str(value)
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def emit(value: object, indent: int = 0) -> str:
    """Block-style YAML for ``value`` (so the loader's block parsing and marks are exercised)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{emit(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {emit(item, indent + 2).strip()}")
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = []
        for item in value:
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}-\n{emit(item, indent + 2)}")
            else:
                lines.append(f"{pad}- {emit(item, indent + 2).strip()}")
        return "\n".join(lines)
    return _scalar(value)


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@given(RULESET_DOCS)
def test_the_strict_loader_round_trips_any_generated_ruleset(data: dict[str, Any]) -> None:
    doc, problems = load_document(emit(data) + "\n", "gen.yaml")
    assert problems == []
    assert doc is not None
    assert doc.data == data
    for path in _paths(data):
        assert path in doc.values


# ------------------------------------------------- (b) compiled and reference agree

MONEY = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-5000, max_value=5000
)
FACT_VALUES: dict[namespace.FactType, st.SearchStrategy[Any]] = {
    namespace.FactType.MONEY: MONEY,
    namespace.FactType.PRICE: st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=30000
    ),
    namespace.FactType.DECIMAL: st.decimals(
        allow_nan=False, allow_infinity=False, places=1, min_value=-100, max_value=100
    ),
    namespace.FactType.SECONDS: st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=0, max_value=10**5
    ),
    namespace.FactType.INT: st.integers(min_value=-5, max_value=60),
    namespace.FactType.BOOL: st.booleans(),
    namespace.FactType.STR: st.sampled_from(["MNQ", "ES", "RTY", "long", "short", "buy", "08:30"]),
}


def _fact_strategy(fact: namespace.Fact) -> st.SearchStrategy[Any]:
    base = FACT_VALUES[fact.type]
    return st.one_of(st.none(), base) if fact.optional else base


@st.composite
def environments(draw: st.DrawFn) -> dict[str, object]:
    env: dict[str, object] = {}
    for family in namespace.FAMILIES:
        values = {f.attr: draw(_fact_strategy(f)) for f in namespace.family_facts(family)}
        methods = {
            m.attr: draw(FACT_VALUES[m.returns])
            for m in namespace.METHODS.values()
            if m.family == family
        }
        env[family] = family_object(family, values, methods)
    # the derived facts of the shipped rulesets, drawn like any fact of their type
    derived = {
        name: draw(st.one_of(st.none(), FACT_VALUES[kind]) if optional else FACT_VALUES[kind])
        for name, (kind, optional) in SHIPPED_DERIVED.items()
    }
    env["derived"] = FactObject("derived", derived)
    return env


def _outcome(run: Callable[[], object]) -> tuple[str, object]:
    try:
        return "value", run()
    except Exception as exc:  # both evaluators must fail the same way
        return "error", type(exc).__name__


def _agree(checked: CheckedExpression, env: dict[str, object]) -> None:
    compiled = _outcome(lambda: checked.compiled.evaluate(env))
    reference = _outcome(lambda: reference_evaluate(checked.tree, env))
    assert compiled == reference, checked.compiled.source


def _shipped() -> list[tuple[CheckedExpression, dict[str, object]]]:
    """Every checked expression of every shipped ruleset, with its ruleset's constant env."""
    pairs: list[tuple[CheckedExpression, dict[str, object]]] = []
    for path in sorted(resources.data_dir("rulesets").rglob("*.yaml")):
        compilation = analyse_text(path.read_text(encoding="utf-8"), path.name)
        env: dict[str, object] = {
            **FUNCTIONS,
            EXACT_DIVIDE: exact_divide,
            **compilation.pool.values,
            "params": Params(compilation.params),
            **{name: tuple(values) for name, values in compilation.lists.items()},
        }
        pairs += [(checked, env) for checked in compilation.expressions]
        for name, info in compilation.derived.items():
            SHIPPED_DERIVED[name] = (info.type, info.optional)
    return pairs


#: name → (type, optional) of every derived fact of the shipped rulesets
SHIPPED_DERIVED: dict[str, tuple[namespace.FactType, bool]] = {}


SHIPPED = _shipped()


def test_the_shipped_rulesets_have_expressions_to_compare() -> None:
    assert len(SHIPPED) > 30


@given(environments())
def test_compiled_and_simpleeval_agree_on_every_shipped_expression(
    facts: dict[str, object],
) -> None:
    for checked, constants in SHIPPED:
        _agree(checked, {**constants, **facts})


NUMERIC_FACTS = sorted(
    f.name
    for f in namespace.FACTS.values()
    if not f.optional
    and FACT_VALUES[f.type] is not None
    and f.type in (namespace.FactType.MONEY, namespace.FactType.INT, namespace.FactType.DECIMAL)
    and namespace.FAMILIES[f.family].bound_by_triggers is None
    and not namespace.FAMILIES[f.family].lock_only
)
LITERALS = st.one_of(
    st.integers(min_value=0, max_value=1000).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=1000).map(
        str
    ),
)
TERMS = st.recursive(
    st.one_of(st.sampled_from(NUMERIC_FACTS), LITERALS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "//"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda t: f"-{t}"),
        inner.map(lambda t: f"abs({t})"),
        st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
    ),
    max_leaves=6,
)
CONDITIONS = st.recursive(
    st.tuples(TERMS, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), TERMS).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    ),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda t: f"not ({t})"),
    ),
    max_leaves=4,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(CONDITIONS, environments())
def test_compiled_and_simpleeval_agree_on_generated_expressions(
    when: str, facts: dict[str, object]
) -> None:
    text = (
        "ruleset: g\nrules:\n  - id: g\n    trigger: [account]\n"
        f"    when: {json.dumps(when)}\n    then: [flatten]\n"
    )
    compilation = analyse_text(text, "g.yaml")
    checked = [c for c in compilation.expressions if c.role == "when"]
    assert len(checked) == 1, [p.format() for p in compilation.problems]
    env = {
        **FUNCTIONS,
        EXACT_DIVIDE: exact_divide,
        **compilation.pool.values,
        "params": Params({}),
        **facts,
    }
    _agree(checked[0], env)


# ------------------------------------------------------- (c) lint never raises


def _assert_problems_are_located(text: str) -> None:
    compilation = analyse_text(text, "fuzz.yaml")
    for problem in compilation.problems:
        assert problem.file == "fuzz.yaml"
        assert problem.line >= 1 and problem.column >= 1
        assert problem.format().startswith("fuzz.yaml:")
        assert problem.check != "internal-error", problem.message


@given(st.binary(max_size=300))
def test_lint_never_raises_on_random_bytes(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.yaml"
    path.write_bytes(raw)
    result = lint_paths([path])
    assert result.ok or result.problems
    assert all(p.check != "internal-error" for p in result.problems)


YAMLISH = st.text(
    st.sampled_from(list("abcdefghijklmnopqrstuvwxyz_.:-[]{},&*!|>'\"#%@`?~ \n0123456789=<()")),
    max_size=200,
)


@given(YAMLISH)
def test_lint_never_raises_on_random_yaml(text: str) -> None:
    _assert_problems_are_located(text)


@given(RULESET_DOCS)
def test_lint_never_raises_on_random_ruleset_shaped_documents(data: dict[str, Any]) -> None:
    _assert_problems_are_located(emit(data) + "\n")


TOKENS = st.sampled_from(
    [
        "",
        " ",
        "\n",
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "'",
        '"',
        "#",
        "&a",
        "*a",
        "!!str ",
        "known(",
        ")",
        "position.",
        "quote.last",
        " and ",
        " = ",
        ";",
        "30x",
        "lockout",
        "each: position",
        "trigger: [clock]",
        "  ",
        "\t",
        "params.",
        "1e5",
        "0.5",
        "rth",
    ]
)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    text = TOPSTEP_TEXT
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(st.integers(min_value=0, max_value=len(text)))
        length = draw(st.integers(min_value=0, max_value=40))
        text = text[:start] + draw(TOKENS) + text[start + length :]
    return text


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_lint_never_raises_on_random_mutations_of_the_default_ruleset(text: str) -> None:
    _assert_problems_are_located(text)
