"""Durations a param names: a rule's ``for: params.stop_loss_grace`` and a derived fact's
``within: params.loss_window``.

The param holds a duration (``"30s"``) or a number of seconds — the unit of the seconds facts
(``position.unprotected_for``), so one param can time a rule and be compared in a condition.
It is resolved when the ruleset is compiled, after the caller's and an overlay's overrides
(a param is a constant of the compiled ruleset): an override that changes it changes the wait
or the window. Every key that takes one says the same things of a param that does not fit,
with the key and what it times (a wait, a window) named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.durations import (
    MAX_DURATION,
    invalid_duration,
    parse_duration,
    rewritten,
)
from simple_risk.engine.dsl.problems import did_you_mean
from simple_risk.engine.dsl.sections import value_kind
from simple_risk.engine.dsl.yamlload import Path

PARAM_PREFIX = "params."


@dataclass(frozen=True, slots=True)
class Misfit:
    """Why a param cannot be the duration: a lint problem's message, check and hint."""

    message: str
    check: str
    hint: str | None


def resolve(
    params: Mapping[str, object], reference: str, key: str, what: str
) -> timedelta | Misfit:
    """The duration ``params.NAME`` holds, for ``key`` (``for:``, ``within:``) that times
    ``what`` (``a wait``, ``a window``); a :class:`Misfit` when it holds none."""
    name = reference[len(PARAM_PREFIX) :]
    if name not in params:
        return Misfit(f'unknown param "{name}"', "unknown-param", did_you_mean(name, params))
    value = params[name]
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            message, hint = invalid_duration(value)
            meant = rewritten(value)
            if meant is not None:
                hint = f"write {name}: {meant}"
            return Misfit(f"{message} (from {reference})", "bad-duration", hint)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        if value < 0:
            return Misfit(
                f'param "{name}" is {value} seconds: {what} cannot be negative',
                "bad-duration",
                "give the param a positive number of seconds, or a duration such as 30s",
            )
        try:
            duration = timedelta(seconds=float(value))
        except OverflowError:
            duration = MAX_DURATION + MAX_DURATION
        if duration > MAX_DURATION:
            return Misfit(
                f'param "{name}" is {value} seconds, longer than ten years',
                "bad-duration",
                f"{what} that long is a typo",
            )
        unit = _unit_in_name(name)
        if unit is not None:
            word, suffix = unit
            return Misfit(
                f'param "{name}" is {value}, read as {value} seconds, but its name says {word}',
                "bad-duration",
                f"write the unit: {name}: {value}{suffix} (or {value}s if seconds are meant)",
            )
        return duration
    return Misfit(
        f'param "{name}" is {value_kind(value)}; {key} needs a duration',
        "wrong-type",
        'give the param a duration such as "30s", or a number of seconds',
    )


#: the last word of a param's name that gives it a unit other than seconds → (the unit's
#: name, its duration suffix): ``window_minutes: 30`` is meant as 30 minutes, not seconds
_UNIT_WORDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("ms", "millis", "milliseconds"), ("milliseconds", "ms")),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), ("minutes", "m")),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("hours", "h")),
    **dict.fromkeys(("d", "day", "days"), ("days", "d")),
}


def _unit_in_name(name: str) -> tuple[str, str] | None:
    """The unit a param's name gives its number (its last word), if not seconds."""
    return _UNIT_WORDS.get(name.lower().rsplit("_", 1)[-1])


def param_duration(
    out: Compilation,
    path: Path,
    reference: str,
    key: str,
    what: str,
    rule_id: str | None = None,
) -> timedelta | None:
    """:func:`resolve`, the param counted as used and a misfit reported at ``path``."""
    out.used_names.add(reference)
    resolved = resolve(out.params, reference, key, what)
    if isinstance(resolved, Misfit):
        out.error(path, resolved.message, resolved.check, resolved.hint, rule_id)
        return None
    return resolved


__all__ = ["PARAM_PREFIX", "Misfit", "param_duration", "resolve"]
