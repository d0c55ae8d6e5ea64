"""Durations and wall-clock times as rule authors write them: ``30s``, ``1h30m``, ``"08:30"``.

Used by ``for:``, ``refire: {every: …}``, ``lockout: {for: …}``, a derived fact's ``within:``,
window arguments such as ``trades.count(within="60s")`` and the calendar. Parsing is strict
(``30x`` and ``90`` are errors, not guesses) so lint can locate the mistake instead of the
engine waiting a surprising amount of time.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from decimal import Decimal

_UNITS: dict[str, timedelta] = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
#: One or more <integer><unit> parts, largest unit first: 1h30m, 500ms, 2d.
DURATION_PATTERN = r"^(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?$"
_DURATION = re.compile(DURATION_PATTERN)
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d)")
#: 24-hour HH:MM wall-clock time.
TIME_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
_TIME = re.compile(TIME_PATTERN)

DURATION_HINT = "durations are like 500ms, 30s, 5m, 1h30m, 2d"
#: The longest duration a rule may name: ten years. Anything longer is a typo (an extra digit)
#: and, added to an instant, can overflow the calendar, so that a lockout would fail when it
#: fires instead of locking; lint refuses it where it is written.
MAX_DURATION = timedelta(days=3650)
_MAX_MS = MAX_DURATION // timedelta(milliseconds=1)
_UNIT_MS = {unit: size // timedelta(milliseconds=1) for unit, size in _UNITS.items()}
TIME_HINT = 'times are 24-hour "HH:MM", quoted, e.g. "08:30"'


def parse_duration(text: object) -> timedelta:
    """``"1h30m"`` → ``timedelta(hours=1, minutes=30)``; ValueError on anything else."""
    if not isinstance(text, str) or not text or not _DURATION.match(text):
        raise ValueError(f'"{text}" is not a duration')
    if too_long(text):
        raise ValueError(f'"{text}" is longer than {format_duration(MAX_DURATION)}')
    return timedelta(milliseconds=sum(int(n) * _UNIT_MS[unit] for n, unit in _PART.findall(text)))


def invalid_duration(text: object) -> tuple[str, str]:
    """The message and hint for ``text`` that is not a duration: a negative one (``-5m``) is
    named as such, since time in a rule only runs forward (a window, a wait, a lockout)."""
    if isinstance(text, str) and text.startswith("-") and is_duration(text[1:]):
        return (
            f'"{text}" is a negative duration: a wait, a window or a lockout cannot be',
            f"write a positive duration, e.g. {text[1:]}",
        )
    if too_long(text):
        return (
            f'"{text}" is longer than ten years ({format_duration(MAX_DURATION)})',
            "a lockout, wait or window that long is a typo; for a lockout that lasts until "
            "an admin clears it, use until: or while:",
        )
    if isinstance(text, str) and text.startswith("params."):
        return (
            f'"{text}" names a param, but this duration is read as written',
            "write the duration itself, e.g. 15m (a param may time a rule's for: and refire:"
            " {every:}, a lockout's for:, a derived fact's within: and trades.count(within=…),"
            " not this)",
        )
    meant = rewritten(text)
    if meant is not None:
        return f'"{text}" is not a valid duration', f"write {meant}"
    if _is_bare_number(text):
        return (
            f'"{text}" is not a valid duration',
            f"a duration needs its unit: {text}s for seconds, {text}m for minutes",
        )
    return f'"{text}" is not a valid duration', DURATION_HINT


def unit_choices(name: str, seconds: int | Decimal) -> str:
    """How to write a number of seconds that a param ``name`` holds where a duration is read
    as such: with its unit, and since a bare number could mean seconds or minutes, both
    (``write it with its unit: pause: 15m for 900 seconds, 900m for 900 minutes``)."""
    written = format_duration(timedelta(seconds=float(seconds)))
    hint = f"write it with its unit: {name}: {written} for {seconds} seconds"
    if isinstance(seconds, int):
        hint += f", {seconds}m for {seconds} minutes"
    return hint


#: the unit words people write in a duration, each with the unit it means
_SPOKEN_UNITS: dict[str, str] = {
    **dict.fromkeys(("ms", "msec", "msecs", "millis", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
}
_SPOKEN_PART = r"([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\.?"
_SPOKEN = re.compile(rf"\s*{_SPOKEN_PART}(?:\s*(?:,|\band\b)?\s*{_SPOKEN_PART})*\s*")
_SPOKEN_PARTS = re.compile(_SPOKEN_PART)


def rewritten(text: object) -> str | None:
    """The duration ``text`` means, written as one (``"5 min"`` → ``5m``, ``"1h 30m"`` →
    ``1h30m``, ``"1.5h"`` → ``1h30m``); None when it is not recognisably a duration, or is
    already written as one."""
    if not isinstance(text, str) or _SPOKEN.fullmatch(text) is None:
        return None
    total = Decimal(0)
    for number, word in _SPOKEN_PARTS.findall(text):
        unit = _SPOKEN_UNITS.get(word.lower())
        if unit is None:
            return None
        total += Decimal(number) * _UNIT_MS[unit]
    if total <= 0 or total != total.to_integral_value() or total > _MAX_MS:
        return None
    meant = format_duration(timedelta(milliseconds=int(total)))
    return None if meant == text else meant


def _is_bare_number(text: object) -> bool:
    """A number (or a string of digits) where a duration, which needs its unit, is read."""
    if isinstance(text, bool):
        return False
    if isinstance(text, int):
        return text > 0
    return isinstance(text, str) and text.isdigit() and int(text) > 0


def is_duration(text: object) -> bool:
    """Whether ``text`` is written as a duration (however long: see :func:`too_long`)."""
    return isinstance(text, str) and bool(text) and bool(_DURATION.match(text))


def too_long(text: object) -> bool:
    """Written as a duration, but longer than :data:`MAX_DURATION`."""
    if not is_duration(text):
        return False
    assert isinstance(text, str)
    return sum(int(n) * _UNIT_MS[unit] for n, unit in _PART.findall(text)) > _MAX_MS


def parse_time(text: object) -> time:
    """``"08:30"`` → ``time(8, 30)``; ValueError on anything else."""
    if not isinstance(text, str) or not _TIME.match(text):
        raise ValueError(f'"{text}" is not a time')
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def format_duration(value: timedelta) -> str:
    """The shortest duration string for ``value`` (inverse of :func:`parse_duration`)."""
    total_ms = value // timedelta(milliseconds=1)
    if total_ms == 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNITS[unit] // timedelta(milliseconds=1)
        amount, total_ms = divmod(total_ms, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
