"""``--strict``: a rule switched off with ``enabled: false`` is probably a leftover.

A rule shipped off on purpose, for an account overlay to switch on (``enable: [ID]``), says
so with ``optional: true`` and is not reported: ``--strict`` then passes on a ruleset that
ships such rules (the trade-management rules of ``rulesets/topstep.yaml``).

FAIL (strict)::

    - id: trade-management
      enabled: false          # rule is disabled

PASS (strict)::

    - id: trade-management
      enabled: false
      optional: true          # off by default; an overlay enables it
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    # nothing enables an overlay's own rule later: optional excuses only a ruleset's rules
    excusable = compilation.base is None
    for rule_id, path in compilation.rule_ids:
        optional = excusable and doc.get((*path, "optional")) is True
        if doc.get((*path, "enabled")) is False and not optional:
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
                else "delete it, or add optional: true if it is off on purpose for an account "
                "overlay to enable",
            )


CHECK = CheckDef("disabled-rule", "No rule is disabled unless marked optional.", run, strict=True)
