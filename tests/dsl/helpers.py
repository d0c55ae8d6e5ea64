"""Small builders shared by the DSL tests: a one-rule ruleset text and fact environments."""

from __future__ import annotations

from collections.abc import Mapping

from simple_risk.engine import namespace
from simple_risk.engine.dsl import base_env, load_ruleset_text
from simple_risk.engine.dsl.reference import family_object
from simple_risk.engine.model import Ruleset


def one_rule(
    when: str,
    trigger: str = "[trade]",
    then: str = "[flatten]",
    extra: str = "",
    head: str = "",
) -> str:
    """A ruleset text with a single rule ``r`` (``extra`` is appended inside the rule)."""
    return (
        "ruleset: t\n"
        f"{head}"
        "rules:\n"
        "  - id: r\n"
        f"    trigger: {trigger}\n"
        f"    when: {when!r}\n"
        f"    then: {then}\n"
        f"{extra}"
    )


def load_one(when: str, **kwargs: str) -> Ruleset:
    return load_ruleset_text(one_rule(when, **kwargs), "t.yaml")


def env_for(ruleset: Ruleset, **families: Mapping[str, object]) -> dict[str, object]:
    """base_env plus every family bound to samples, overridden by ``families`` values."""
    env = base_env(ruleset)
    for name in namespace.FAMILIES:
        env[name] = family_object(name, families.get(name))
    return env
