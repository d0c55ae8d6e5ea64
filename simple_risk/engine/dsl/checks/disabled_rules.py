"""``--strict``: a rule switched off with ``enabled: false`` is probably a leftover.

FAIL (strict)::

    - id: trade-management
      enabled: false          # rule is disabled
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compiler import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    for rule_id, path in compilation.rule_ids:
        if doc.get((*path, "enabled")) is False:
            mark = doc.at((*path, "enabled"))
            yield Problem(
                doc.file,
                mark.line,
                mark.column,
                "rule is disabled",
                "disabled-rule",
                rule_id,
                # an overlay's own rule is for that account only: adding it disabled is noise
                "delete it"
                if compilation.base is not None
                else "delete it, or enable it in an account overlay",
            )


CHECK = CheckDef("disabled-rule", "No rule is disabled.", run, strict=True)
