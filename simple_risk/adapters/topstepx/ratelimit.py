"""Client-side rate limiter with priorities, shared by every thread that calls the gateway.

ProjectX allows 200 requests per 60 s (50 per 30 s for ``History/retrieveBars``) and answers
429 beyond that (reference §3.1; window type and scope unknown). The limiter keeps a sliding
log of grant times per bucket, so in *any* window of the configured length at most the budget
is granted — whatever the server's window type. A small ``margin`` widens the window to absorb
the jitter between the grant here and the request's arrival at the server.

When the budget is short, the highest priority waiter goes first (DESIGN.md §3): enforcement
calls (cancel, close) before reconciliation before stop management, FIFO within a priority.
After a 429 the REST client calls :meth:`RateLimiter.hold` so every thread slows down, not
just the one that was told off.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from simple_risk.adapters.topstepx.errors import RateLimitTimeout

DEFAULT_BUCKET = "default"
BARS_BUCKET = "bars"


class Priority(enum.IntEnum):
    """Who goes first when the budget is short (lower value first)."""

    AUTH = 0  # login/validate: nothing else works without a token
    ENFORCEMENT = 1  # cancel, close, flatten
    RECONCILIATION = 2  # open orders/positions, trades since
    STOP_MANAGEMENT = 3  # place/move protective stops
    BACKGROUND = 4  # contract metadata, bars


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``requests`` grants in any ``window`` seconds."""

    requests: int
    window: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.window <= 0:
            raise ValueError(f"invalid budget {self.requests}/{self.window}s")


#: ~5 % under the documented limits (200/60 s, 50/30 s): the gateway's window type and scope
#: are unknown and a login from another tool may share the budget, so stay *under* it.
DEFAULT_BUDGETS: Mapping[str, Budget] = {
    DEFAULT_BUCKET: Budget(190, 60.0),
    BARS_BUCKET: Budget(47, 30.0),
}


def bucket_for(path: str) -> str:
    """The budget an endpoint path draws from."""
    return BARS_BUCKET if path.lower().endswith("history/retrievebars") else DEFAULT_BUCKET


class RateLimiter:
    """Sliding-window, priority-ordered limiter; thread safe."""

    def __init__(
        self,
        budgets: Mapping[str, Budget] | None = None,
        *,
        margin: float = 0.25,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budgets = dict(DEFAULT_BUDGETS if budgets is None else budgets)
        if DEFAULT_BUCKET not in self._budgets:
            raise ValueError("the budgets must include the default bucket")
        self._margin = margin
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._grants: dict[str, deque[float]] = {name: deque() for name in self._budgets}
        self._waiters: dict[str, list[tuple[int, int]]] = {name: [] for name in self._budgets}
        self._seq = itertools.count()
        self._hold_until = 0.0
        self.granted = 0

    @property
    def budgets(self) -> Mapping[str, Budget]:
        return dict(self._budgets)

    def acquire(
        self,
        bucket: str = DEFAULT_BUCKET,
        priority: Priority = Priority.RECONCILIATION,
        timeout: float | None = None,
    ) -> None:
        """Block until a request may be sent; raise :class:`RateLimitTimeout` past ``timeout``."""
        if bucket not in self._budgets:
            bucket = DEFAULT_BUCKET
        budget = self._budgets[bucket]
        span = budget.window + self._margin
        ticket = (int(priority), next(self._seq))
        with self._cond:
            deadline = None if timeout is None else self._monotonic() + timeout
            waiters = self._waiters[bucket]
            heapq.heappush(waiters, ticket)
            granted = False
            try:
                while True:
                    now = self._monotonic()
                    grants = self._grants[bucket]
                    while grants and grants[0] <= now - span:
                        grants.popleft()
                    wait: float | None
                    if now < self._hold_until:
                        wait = self._hold_until - now
                    elif waiters[0] != ticket:
                        wait = 0.5  # a higher-priority or older waiter goes first
                    elif len(grants) < budget.requests:
                        heapq.heappop(waiters)
                        grants.append(now)
                        self.granted += 1
                        granted = True
                        self._cond.notify_all()
                        return
                    else:
                        wait = grants[0] + span - now
                    if deadline is not None:
                        remaining = deadline - now
                        if remaining <= 0:
                            raise RateLimitTimeout(
                                f"no {bucket!r} slot within {timeout}s at priority {priority.name}"
                            )
                        wait = min(wait, remaining)
                    self._cond.wait(max(wait, 0.001))
            finally:
                if not granted and ticket in waiters:
                    waiters.remove(ticket)
                    heapq.heapify(waiters)
                    self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (the gateway said 429: everyone slows down)."""
        with self._cond:
            self._hold_until = max(self._hold_until, self._monotonic() + seconds)
            self._cond.notify_all()

    def in_window(self, bucket: str = DEFAULT_BUCKET) -> int:
        """Grants currently inside the bucket's window (for status output and tests)."""
        with self._cond:
            span = self._budgets[bucket].window + self._margin
            now = self._monotonic()
            return sum(1 for t in self._grants[bucket] if t > now - span)

    def __repr__(self) -> str:
        budgets = ", ".join(f"{k}={b.requests}/{b.window}s" for k, b in self._budgets.items())
        return f"RateLimiter({budgets})"


__all__ = [
    "BARS_BUCKET",
    "DEFAULT_BUCKET",
    "DEFAULT_BUDGETS",
    "Budget",
    "Priority",
    "RateLimiter",
    "bucket_for",
]
