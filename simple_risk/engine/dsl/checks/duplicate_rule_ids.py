"""Two rules with the same id: overlays, traces and the firing journal name rules by id.

FAIL::

    rules:
      - id: daily-loss
        ...
      - id: daily-loss      # duplicate rule id "daily-loss" (first at line 3)
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    first: dict[str, int] = {}
    doc = compilation.doc
    for rule_id, path in compilation.rule_ids:
        mark = doc.at((*path, "id"))
        if rule_id in first:
            yield Problem(
                doc.file,
                mark.line,
                mark.column,
                f'duplicate rule id "{rule_id}" (first at line {first[rule_id]})',
                "duplicate-rule-id",
                rule_id,
                "every rule needs its own id",
            )
        else:
            first[rule_id] = mark.line


CHECK = CheckDef("duplicate-rule-id", "Every rule id is unique in its file.", run)
