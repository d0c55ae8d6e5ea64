"""What the engine emits and keeps per breach episode: ``Firing``, ``LockNotice``, ``RuleState``.

These records are shared by the engine's parts (the hot path, ``for:`` deadlines, lockout
enforcement, unknown-fact episodes) and by everything downstream of it (the executor, the
journal, notifications, snapshots), so they live apart from the ``Engine`` that makes them;
``simple_risk.engine.engine`` re-exports them. ``utc`` is the one zone every deadline is kept
and compared in.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simple_risk.engine.events import Event
from simple_risk.engine.intents import Alert, Intent


@dataclass(frozen=True, slots=True)
class LockNotice:
    """A lockout a firing set (or extended): its scope, end and reason."""

    scope: str
    symbol: str | None
    kind: str
    ends_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule firing (or engine error, or lockout enforcement) with its intents.

    ``values`` maps every fact name the rule's ``when`` read to the value it had when the rule
    fired (built only on firing); ``intents`` keep the rule's declared action order.
    ``kind``: ``rule``, ``error`` (the rule's evaluation raised), ``lockout`` (an active
    lockout refused new exposure) or ``unknown`` (an awaited fact the rule needs stayed
    unknown past ``unknown_alert_after``; one alert per episode).
    """

    rule_id: str
    account: int
    item: str
    at: datetime
    severity: str
    message: str
    values: Mapping[str, object]
    intents: tuple[Intent, ...]
    kind: str = "rule"
    locks: tuple[LockNotice, ...] = field(default=())


class RuleState:
    """The state of one (rule, account, item) that is pending or firing."""

    __slots__ = ("cleared", "event", "fired", "firing", "since", "targets")

    def __init__(
        self,
        since: datetime,
        firing: bool,
        event: Event,
        targets: tuple[str, ...] = (),
        cleared: bool = False,
        fired: datetime | None = None,
    ) -> None:
        self.since = since
        self.firing = firing
        self.event = event
        #: keys of the stop targets of the last firing (stop-management rules re-fire when
        #: the target moves, e.g. a trailing stop following the best price)
        self.targets = targets
        #: an admin cleared the lockout this firing set (:meth:`Engine.rearm`): the next
        #: evaluation that is not a reconcile and finds the rule broken fires it again
        self.cleared = cleared
        #: when a ``refire: {every: …}`` rule last fired (None for every other rule)
        self.fired = fired


def utc(when: datetime) -> datetime:
    """The same instant in UTC: the zone every deadline is kept and compared in."""
    return when if when.tzinfo is UTC else when.astimezone(UTC)


def describe(exc: BaseException) -> str:
    """An exception as the one line a firing's message carries."""
    return f"{type(exc).__name__}: {exc}"


def error_firing(name: str, account: int, item: str, at: datetime, message: str) -> Firing:
    """An engine error (a rule or a derived fact that failed to evaluate): a critical alert
    under the failing rule's or fact's name."""
    return Firing(
        rule_id=name,
        account=account,
        item=item,
        at=at,
        severity="critical",
        message=message,
        values={},
        intents=(Alert("critical", message, account, name),),
        kind="error",
    )


#: holder type → whether it is a mapping (``isinstance(x, Mapping)`` is an ABC check, slow)
_IS_MAPPING: dict[type, bool] = {}


def values_of(
    names: tuple[tuple[str, str, str], ...], env: MutableMapping[str, object]
) -> dict[str, object]:
    """The value of every fact the rule's ``when`` read, as the firing's trace."""
    values: dict[str, object] = {}
    for name, family, attr in names:
        holder = env.get(family)
        if not attr:
            if holder is not None and not callable(holder):
                values[name] = holder  # a list name such as blocked_symbols
            continue
        if holder is None:
            continue
        kind = type(holder)
        mapping = _IS_MAPPING.get(kind)
        if mapping is None:
            mapping = _IS_MAPPING[kind] = isinstance(holder, Mapping)
        try:
            value = holder.get(attr) if mapping else getattr(holder, attr)  # type: ignore[attr-defined]
        except Exception as exc:
            value = f"<{describe(exc)}>"
        if callable(value):
            continue
        values[name] = value
    return values
