"""A warning for ``optional: true`` on a rule that is not shipped disabled.

``optional`` says "off on purpose, an account overlay switches it on"; on a rule without
``enabled: false`` it means nothing, and most likely the ``enabled: false`` was lost.

WARN::

    - id: trade-management
      optional: true          # optional: true only applies to a rule with enabled: false
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    for rule_id, path in compilation.rule_ids:
        if doc.get((*path, "optional")) is True and doc.get((*path, "enabled")) is not False:
            mark = doc.at((*path, "optional"))
            yield Problem(
                doc.file,
                mark.line,
                mark.column,
                "optional: true only applies to a rule shipped with enabled: false",
                "optional-enabled",
                rule_id,
                "add enabled: false if the rule is meant to be off by default, "
                "else remove optional",
                "warning",
            )


CHECK = CheckDef("optional-enabled", "optional: true goes with enabled: false (a warning).", run)
