"""``refire: {every: …}`` on a rule the clock does not wake fires again only when an event comes.

A rule is evaluated only on its triggers, so a repeat "every 15m" is at the first of its events
15 minutes or more after the last firing: on a quiet account (no balance update for an hour)
the reminder waits for that event. With ``clock`` among the triggers it comes on time (the
daemon ticks every second). A warning: the author may mean "at most every 15m, on events".

WARN::

    - id: below-floor-reminder
      trigger: [account]
      refire: {every: 15m}      # fires again only on an account update

PASS::

    - id: below-floor-reminder
      trigger: [account, clock]
      refire: {every: 15m}
"""

from __future__ import annotations

from collections.abc import Iterator

from simple_risk.engine.dsl.checks.base import CheckDef
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem


def run(compilation: Compilation) -> Iterator[Problem]:
    doc = compilation.doc
    for rule_id, path in compilation.rule_ids:
        refire = doc.get((*path, "refire"))
        triggers = doc.get((*path, "trigger"))
        if not isinstance(refire, dict) or "every" not in refire or not isinstance(triggers, list):
            continue
        if "clock" in triggers:
            continue
        mark = doc.at((*path, "refire", "every"))
        listed = ", ".join(str(t) for t in [*triggers, "clock"])
        yield Problem(
            doc.file,
            mark.line,
            mark.column,
            f"refire every {refire['every']} fires again only when one of the rule's triggers "
            "comes, not on time",
            "refire-clock",
            rule_id,
            f"add clock: trigger: [{listed}]",
            "warning",
        )


CHECK = CheckDef("refire-clock", "A repeating rule is woken by the clock.", run)
