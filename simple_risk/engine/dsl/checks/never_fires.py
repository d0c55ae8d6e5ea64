"""A warning for a rule whose ``when:`` is false whatever the facts: it can never fire.

A ``when:`` that reads no fact, param, list or derived fact (``false``, ``1 > 2``, a macro
that is ``False``) has one value; when that value is false the rule loads, is evaluated on
each of its triggers and never does anything, while lint would say SUCCESS. The way to ship a
rule switched off is ``enabled: false`` (which ``--strict`` and overlays know about).

WARN::

    - id: off-for-now
      when: false             # never fires: write enabled: false instead

PASS::

    - id: every-account-update
      when: true              # fires on each of its triggers
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef, rule_whens
from simple_risk.engine.dsl.checks.sample_evaluation import sample_env, sample_of
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    if any(problem.severity == "error" for problem in compilation.problems):
        return  # a broken part (a cyclic macro) stands in as False: judge once it is fixed
    doc = compilation.doc
    env: dict[str, object] | None = None
    for rule_id, mark, checked in rule_whens(compilation):
        if any(not n.startswith("macro:") for n in checked.names_used):
            continue
        env = sample_env(compilation) if env is None else env
        if sample_of(checked.tree.body, env) is not False:
            continue
        yield Problem(
            doc.file,
            mark.line,
            mark.column,
            '"when" is false whatever the facts, so the rule never fires',
            "never-fires",
            rule_id,
            "to switch a rule off, write enabled: false; else compare a fact, "
            "e.g. day.realized_pnl <= -500",
            "warning",
        )


CHECK = CheckDef("never-fires", "A rule's when: can be true (a warning).", run)
