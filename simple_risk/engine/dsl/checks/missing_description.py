"""``--strict``: every rule says what it is for, because firings and docs show it.

FAIL (strict)::

    - id: daily-loss          # rule has no description
      trigger: [trade]
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    for rule_id, path in compilation.rule_ids:
        description = doc.get((*path, "description"))
        if not isinstance(description, str) or not description.strip():
            mark = doc.at((*path, "id"))
            yield Problem(
                doc.file,
                mark.line,
                mark.column,
                "rule has no description",
                "missing-description",
                rule_id,
                "add description: saying what the rule protects against",
            )


CHECK = CheckDef("missing-description", "Every rule has a description.", run, strict=True)
