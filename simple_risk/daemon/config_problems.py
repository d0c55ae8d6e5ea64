"""A configuration problem, located, in the configuration's words.

The configuration is checked by the rulesets' JSON Schema machinery, whose messages speak of
"the ruleset" and of types: :func:`config_wording` turns them into what an admin writes
(seconds for ``timing:``, an account's id rather than its name, a choice in small letters),
and :func:`located` places a problem of the daemon's own checks at the value it is about.
"""

from __future__ import annotations

import dataclasses
import re

from simple_risk.daemon.settings import Timing
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.yamlload import Document


def located(
    doc: Document,
    path: tuple[object, ...],
    message: str,
    hint: str | None = None,
    *,
    key: bool = False,
) -> Problem:
    """A problem at the value at ``path`` (or at its key, with ``key=True``)."""
    mark = doc.key_at(path) if key else doc.at(path)
    return Problem(doc.file, mark.line, mark.column, message, "config", hint=hint)


#: a value of ``timing:`` written as a ruleset's duration (30s, 5m, 1h30m, 500ms)
_TIMING_AS_DURATION = re.compile(
    r'"(?P<key>\w+)" must be a number, got a string'
    r' \("(?P<value>(?:\d+(?:\.\d+)?(?:ms|s|m|h))+)"\)'
)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def _timing_hint(problem: Problem) -> Problem:
    """``timing:`` takes seconds; one written as a ruleset's duration says what to write."""
    found = _TIMING_AS_DURATION.fullmatch(problem.message)
    seconds_keys = {f.name for f in dataclasses.fields(Timing)} - {"alert_after_attempts"}
    if found is None or found["key"] not in seconds_keys:
        return problem
    total = sum(
        float(amount) * _UNIT_SECONDS[unit]
        for amount, unit in _DURATION_PART.findall(found["value"])
    )
    seconds = f"{total:g}"
    hint = f"timing is in seconds: write {found['key']}: {seconds}"
    return dataclasses.replace(problem, hint=hint)


#: an account's name (as the platform shows it) where ``accounts:`` wants its id
_ACCOUNT_AS_NAME = re.compile(r'item \d+ of "accounts" must be .*, got "(?!\d+")[^"]*"')


def _account_hint(problem: Problem) -> Problem:
    if _ACCOUNT_AS_NAME.match(problem.message) is None:
        return problem
    hint = (
        "an account is given by its id, a number, not by its name; to find it, write any"
        " number and run engine run --check --online: it lists each account the login sees,"
        " id and name"
    )
    return dataclasses.replace(problem, hint=hint)


#: a choice the schema refuses: ``"KEY": "VALUE" is not one of: a, b, c``
_NOT_ONE_OF = re.compile(r'"\w+": "(?P<value>[^"]*)" is not one of: (?P<choices>.*)')


def _case_hint(problem: Problem) -> Problem:
    """``min_severity: WARNING`` (as the log prints levels): the choice, in small letters."""
    found = _NOT_ONE_OF.fullmatch(problem.message)
    if found is None or problem.hint:
        return problem
    meant = found["value"].strip().lower()
    if meant not in found["choices"].split(", "):
        return problem
    return dataclasses.replace(problem, hint=f"in small letters: {meant}")


def _retention_hint(problem: Problem) -> Problem:
    """A retention under two trading weeks: why it is refused, and what to write."""
    if not problem.message.startswith('"retention_days" must be at least'):
        return problem
    hint = (
        "a rebuild from the journal, when a snapshot cannot be read, needs the whole trading"
        " week a weekly limit counts: keep at least 10 trading days, or 0 for forever"
    )
    return dataclasses.replace(problem, hint=hint)


def config_wording(problem: Problem) -> Problem:
    """Schema messages name "the ruleset" at the top level; here it is the configuration."""
    problem = _retention_hint(_case_hint(_account_hint(_timing_hint(problem))))
    message = problem.message.replace("the ruleset", "the configuration")
    if problem.check == "unknown-key" and '"admin_password_hash"' in message:
        return dataclasses.replace(
            problem,
            message="admin_password_hash is no longer read: the hash lives in a file",
            hint="name it with admin_password_file (default admin-password.bcrypt next to this"
            " file) and set it with simple-risk admin set-password",
        )
    return dataclasses.replace(problem, message=message)


__all__ = ["config_wording", "located"]
