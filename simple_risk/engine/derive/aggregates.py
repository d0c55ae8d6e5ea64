"""The running aggregates of derived facts: over a period, or over a sliding window.

Used by :mod:`simple_risk.engine.derive.facts`, one object per (derived fact, account, item).
A period aggregate keeps one value (the period's reset replaces the object). A window
aggregate keeps only what its answer needs, so memory stays bounded by the samples of one
window, and far less for most kinds:

* ``max`` / ``min``: a monotonic deque — a sample that a later, larger (smaller) one
  outlives can never be the answer again and is dropped;
* ``sum`` / ``count``: the samples still in the window and a running total, each sample
  subtracted as it expires (counts keep only the samples whose condition held);
* ``first``: the samples still in the window (the oldest is the answer);
* ``last``: the newest sample only.

A sample at ``t`` is in the window at ``now`` while ``now - within <= t``: the same edge as
``trades.count(within=…)``. Values are exact (``Decimal``, ``int``) and samples arrive in
engine-time order. ``dump()`` / ``load()`` give the state as JSON for engine snapshots.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

#: JSON form of a sample value (see ``encode`` / ``decode``)
Json = Any


def encode(value: object) -> Json:
    """A fact value as JSON: Decimals and strings tagged, so they come back as they were."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return {"s": str(value)}


def decode(data: Json) -> object:
    if isinstance(data, dict):
        if "d" in data:
            return Decimal(data["d"])
        return str(data["s"])
    return data


class Aggregate(Protocol):
    """One running aggregate: samples in, the answer out."""

    def add(self, at: datetime, value: object) -> None: ...

    def take_back(self, at: datetime, value: object) -> None: ...

    def expire(self, now: datetime) -> None: ...

    def result(self) -> object: ...

    def __len__(self) -> int: ...

    def dump(self) -> Json: ...

    def load(self, data: Json) -> None: ...


def zero(fact_type: str) -> object:
    """What a sum or a count is before any sample: 0 of the fact's type."""
    return 0 if fact_type == "int" else Decimal(0)


class PeriodAggregate:
    """``max``/``min``/``sum``/``count``/``first``/``last`` over a period (or for ever), and
    the current value of a fact without an aggregate (``kind`` None): one value."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str | None, fact_type: str) -> None:
        self.kind = kind
        self.value: object = zero(fact_type) if kind in ("sum", "count") else None

    def add(self, at: datetime, value: object) -> None:
        kind, current = self.kind, self.value
        if kind is None or kind == "last":
            self.value = value
        elif kind == "count":
            if value:
                self.value = current + 1  # type: ignore[operator]
        elif kind == "sum":
            self.value = current + value  # type: ignore[operator]
        elif kind == "first":
            if current is None:
                self.value = value
        elif current is None:
            self.value = value
        elif kind == "max":
            if value > current:  # type: ignore[operator]
                self.value = value
        elif value < current:  # type: ignore[operator]
            self.value = value

    def take_back(self, at: datetime, value: object) -> None:
        """Undo a sample of a sum or a count (a voided fill's); any other kind keeps it."""
        if self.kind == "sum":
            self.value -= value  # type: ignore[operator]
        elif self.kind == "count" and value:
            self.value -= 1  # type: ignore[operator]

    def expire(self, now: datetime) -> None:
        """A period aggregate does not expire: its period's reset replaces it."""

    def result(self) -> object:
        return self.value

    def __len__(self) -> int:
        return 1

    def dump(self) -> Json:
        return encode(self.value)

    def load(self, data: Json) -> None:
        self.value = decode(data)


class _SampleWindow:
    """Timed samples in a sliding window, oldest first: the oldest answers (``first``, and
    the head of a monotonic deque for ``max``/``min``); a sample leaves once older than
    ``within``. Subclasses decide which samples to keep (:meth:`add`)."""

    __slots__ = ("_samples", "within")

    def __init__(self, within: timedelta) -> None:
        self.within = within
        self._samples: deque[tuple[datetime, Any]] = deque()

    def add(self, at: datetime, value: object) -> None:
        self._samples.append((at, value))

    def take_back(self, at: datetime, value: object) -> None:
        """Undo a sample: only a sum or a count can (:class:`TotalWindow`)."""

    def expire(self, now: datetime) -> None:
        edge = now - self.within
        samples = self._samples
        while samples and samples[0][0] < edge:
            self._left(samples.popleft()[1])

    def _left(self, value: Any) -> None:
        """A sample left the window (a running total takes it off)."""

    def result(self) -> object:
        return self._samples[0][1] if self._samples else None

    def __len__(self) -> int:
        return len(self._samples)

    def dump(self) -> Json:
        return [[at.isoformat(), encode(value)] for at, value in self._samples]

    def load(self, data: Json) -> None:
        self._samples = deque((datetime.fromisoformat(at), decode(v)) for at, v in data)


class ExtremeWindow(_SampleWindow):
    """``max`` or ``min`` within a sliding window: a monotonic deque of (time, value)."""

    __slots__ = ("largest",)

    def __init__(self, within: timedelta, largest: bool) -> None:
        super().__init__(within)
        self.largest = largest

    def add(self, at: datetime, value: object) -> None:
        samples = self._samples
        if self.largest:
            while samples and samples[-1][1] <= value:
                samples.pop()
        else:
            while samples and samples[-1][1] >= value:
                samples.pop()
        samples.append((at, value))


class TotalWindow(_SampleWindow):
    """``sum`` (or ``count`` of samples whose condition held) within a sliding window: the
    samples still in it and their running total."""

    __slots__ = ("counting", "total")

    def __init__(self, within: timedelta, counting: bool, fact_type: str) -> None:
        super().__init__(within)
        self.counting = counting
        self.total: Any = zero(fact_type)

    def add(self, at: datetime, value: object) -> None:
        if self.counting:
            if not value:
                return
            value = 1
        self._samples.append((at, value))
        self.total += value

    def take_back(self, at: datetime, value: object) -> None:
        if self.counting:
            if not value:
                return
            value = 1
        for index, sample in enumerate(self._samples):
            if sample == (at, value):
                del self._samples[index]
                self.total -= value
                return

    def _left(self, value: Any) -> None:
        self.total -= value

    def result(self) -> object:
        return self.total

    def load(self, data: Json) -> None:
        super().load(data)
        for _at, value in self._samples:
            self.total += value


class FirstWindow(_SampleWindow):
    """``first`` within a sliding window: the samples still in it (the oldest answers)."""

    __slots__ = ()


class LastWindow:
    """``last`` within a sliding window: the newest sample, until it leaves the window."""

    __slots__ = ("_sample", "within")

    def __init__(self, within: timedelta) -> None:
        self.within = within
        self._sample: tuple[datetime, object] | None = None

    def add(self, at: datetime, value: object) -> None:
        self._sample = (at, value)

    def take_back(self, at: datetime, value: object) -> None:
        """Only a sum or a count can undo a sample."""

    def expire(self, now: datetime) -> None:
        if self._sample is not None and self._sample[0] < now - self.within:
            self._sample = None

    def result(self) -> object:
        return self._sample[1] if self._sample is not None else None

    def __len__(self) -> int:
        return 0 if self._sample is None else 1

    def dump(self) -> Json:
        if self._sample is None:
            return []
        return [[self._sample[0].isoformat(), encode(self._sample[1])]]

    def load(self, data: Json) -> None:
        self._sample = None
        for at, value in data:
            self._sample = (datetime.fromisoformat(at), decode(value))


def new_aggregate(
    kind: str | None, fact_type: str, within: timedelta | None
) -> PeriodAggregate | ExtremeWindow | TotalWindow | FirstWindow | LastWindow:
    """The aggregate object of one (derived fact, account, item)."""
    if within is None or kind is None:
        return PeriodAggregate(kind, fact_type)
    if kind in ("max", "min"):
        return ExtremeWindow(within, kind == "max")
    if kind in ("sum", "count"):
        return TotalWindow(within, kind == "count", fact_type)
    if kind == "first":
        return FirstWindow(within)
    return LastWindow(within)


__all__ = [
    "Aggregate",
    "ExtremeWindow",
    "FirstWindow",
    "LastWindow",
    "PeriodAggregate",
    "TotalWindow",
    "decode",
    "encode",
    "new_aggregate",
    "zero",
]
