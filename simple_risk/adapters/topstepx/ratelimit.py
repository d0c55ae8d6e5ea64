"""Client-side rate limiter with priorities, shared by every thread that calls the gateway.

ProjectX allows 200 requests per 60 s (50 per 30 s for ``History/retrieveBars``) and answers
429 beyond that (reference §3.1; window type and scope unknown). The limiter keeps a sliding
log of grant times per bucket, so in *any* window of the configured length at most the budget
is granted — whatever the server's window type. A small ``margin`` widens the window to absorb
the jitter between the grant here and the request's arrival at the server.

When the budget is short, the highest priority waiter goes first (architecture.md §3): enforcement
calls (cancel, close) before reconciliation before stop management, FIFO within a priority.
After a 429 the REST client calls :meth:`RateLimiter.hold` on the bucket the refused call
drew from, so every thread slows down, not just the one that was told off — for as long as
the gateway's ``Retry-After`` asks, when it says. A hold of one bucket never holds the other
(a ``History/retrieveBars`` 429 does not hold a close).

Enforcement can never be starved by the daemon's own housekeeping: the last ``reserve`` slots
of the default bucket are granted only to enforcement (and auth), so however busy
reconciliation is, a close or a cancel always finds a slot.

The gateway's window does not restart when the daemon does. With a ``ledger`` file (in the data
directory) every grant's wall time is appended before the request goes out, and a new limiter
counts the grants of the last window from it — so a daemon killed with ``kill -9`` and started
again at once does not spend the budget its previous life already spent. Without a readable
ledger the limiter assumes ``assume_used`` grants were just made.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from simple_risk.adapters.topstepx.errors import RateLimitTimeout

log = logging.getLogger(__name__)

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


#: default-bucket slots only enforcement (and auth) may take: room for closes and cancels
#: however busy reconciliation is
DEFAULT_RESERVE = 20
#: a ledger longer than this is rewritten with only its last window — when a limiter opens
#: it, and while it runs (a daemon that runs for weeks must not fill the disk, nor make its
#: next start read millions of lines before it guards anything)
_LEDGER_COMPACT_AT = 20_000
#: a ledger that could not be written (a full disk) is tried again this often (seconds)
_LEDGER_RETRY = 10.0


def busiest_window(times: Iterable[float], window: float = 60.0) -> int:
    """The most of ``times`` (seconds) inside any half-open window ``[t, t + window)``.

    How the gateway would count a sliding window: the figure the benches and the chaos test
    print as "calls per 60 s".
    """
    ordered = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] + window <= moment:
            start += 1
        best = max(best, end - start + 1)
    return best


def read_ledger(path: Path) -> list[tuple[str, float]]:
    """The (bucket, wall time) grants a ledger holds; unreadable lines are skipped (a line
    cut short by a ``kill -9`` is the only damage a ledger can take)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    entries: list[tuple[str, float]] = []
    for line in text.splitlines():
        bucket, _, stamp = line.partition(" ")
        try:
            entries.append((bucket, float(stamp)))
        except ValueError:
            continue
    return entries


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
        reserve: int = 0,
        ledger: Path | None = None,
        assume_used: int = 0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._budgets = dict(DEFAULT_BUDGETS if budgets is None else budgets)
        if DEFAULT_BUCKET not in self._budgets:
            raise ValueError("the budgets must include the default bucket")
        if reserve < 0 or assume_used < 0:
            raise ValueError("reserve and assume_used must not be negative")
        self._margin = margin
        self._monotonic = monotonic
        self._wall = wall
        #: never more than half the default budget: housekeeping must still get through
        self._reserve = min(reserve, self._budgets[DEFAULT_BUCKET].requests // 2)
        self._cond = threading.Condition()
        self._grants: dict[str, deque[float]] = {name: deque() for name in self._budgets}
        self._waiters: dict[str, list[tuple[int, int]]] = {name: [] for name in self._budgets}
        self._seq = itertools.count()
        #: per bucket: nothing is granted before this monotonic time (the gateway said 429)
        self._hold_until: dict[str, float] = dict.fromkeys(self._budgets, 0.0)
        self.granted = 0
        #: grants counted at start that an earlier process made (or that were assumed)
        self.inherited = 0
        self._ledger_fd: int | None = None
        self._ledger: Path | None = None
        self._ledger_lines = 0  # lines in the ledger file (compacted past _LEDGER_COMPACT_AT)
        #: a ledger kept but not writable now (a full disk): when to write it whole again
        self._ledger_retry_at: float | None = None
        self._start_window(ledger, assume_used)

    def _start_window(self, ledger: Path | None, assume_used: int) -> None:
        """Count the grants an earlier process made in the window that is still open, from
        the ledger when there is one, else assume ``assume_used`` were just made."""
        now_mono, now_wall = self._monotonic(), self._wall()
        entries = read_ledger(ledger) if ledger is not None and ledger.exists() else None
        if entries is None:
            budget = self._budgets[DEFAULT_BUCKET].requests
            self._grants[DEFAULT_BUCKET].extend([now_mono] * min(assume_used, budget))
        else:
            for bucket, stamp in entries:
                span = self._budgets[bucket].window + self._margin if bucket in self._budgets else 0
                age = now_wall - stamp
                if bucket in self._budgets and 0 <= age < span:
                    self._grants[bucket].append(now_mono - age)
                elif bucket in self._budgets and age < 0:  # the wall clock stepped back
                    self._grants[bucket].append(now_mono)
            for grants in self._grants.values():
                ordered = sorted(grants)
                grants.clear()
                grants.extend(ordered)
        self.inherited = sum(len(g) for g in self._grants.values())
        if ledger is None:
            return
        try:
            self._ledger_lines = len(entries) if entries is not None else 0
            if entries is not None and len(entries) > _LEDGER_COMPACT_AT:
                kept = [
                    (bucket, stamp)
                    for bucket, stamp in entries
                    if now_wall - stamp < self._budgets.get(bucket, Budget(1, 1.0)).window * 2
                ]
                self._rewrite(ledger, kept)
            self._ledger_fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._ledger = ledger
        except OSError as exc:
            log.warning("cannot keep the REST call ledger %s: %s", ledger, exc)
            self._ledger, self._ledger_retry_at = ledger, now_mono + _LEDGER_RETRY

    def _rewrite(self, ledger: Path, kept: list[tuple[str, float]]) -> None:
        """Replace the ledger with ``kept`` (atomically: a kill leaves one or the other)."""
        scratch = ledger.with_name(ledger.name + ".tmp")
        scratch.write_text("".join(f"{b} {t:.3f}\n" for b, t in kept), encoding="ascii")
        os.replace(scratch, ledger)
        self._ledger_lines = len(kept)

    def _compact(self) -> None:
        """The running ledger, rewritten with the grants still in their window (condition
        held): what a restart needs, and nothing older."""
        ledger = self._ledger
        if ledger is None:
            return
        if self._keep(ledger):
            return
        log.warning("cannot keep the REST call ledger %s", ledger)

    def _keep(self, ledger: Path) -> bool:
        """Rewrite ``ledger`` with the window's grants and append to it from now on; when it
        cannot be written (a full disk), try again in :data:`_LEDGER_RETRY` seconds: a restart
        meanwhile counts fewer calls than were made, so the ledger must come back with them."""
        now_mono, now_wall = self._monotonic(), self._wall()
        kept = sorted(
            (now_wall - (now_mono - granted), bucket)
            for bucket, grants in self._grants.items()
            for granted in grants
            if now_mono - granted < self._budgets[bucket].window + self._margin
        )
        self.close()
        self._ledger = ledger
        try:
            self._rewrite(ledger, [(bucket, stamp) for stamp, bucket in kept])
            self._ledger_fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            self._ledger_retry_at = now_mono + _LEDGER_RETRY
            return False
        self._ledger_retry_at = None
        return True

    def note(self, bucket: str = DEFAULT_BUCKET) -> None:
        """Write a grant taken with ``acquire(..., ledger=False)`` to the ledger."""
        with self._cond:
            self._note(bucket if bucket in self._budgets else DEFAULT_BUCKET)

    def _note(self, bucket: str) -> None:
        """Append one grant to the ledger before its request goes out (one small write)."""
        if self._ledger_fd is None:
            retry_at, ledger = self._ledger_retry_at, self._ledger
            # written whole once it can be, this grant included (it is in the window already)
            due = retry_at is not None and ledger is not None and self._monotonic() >= retry_at
            if due and ledger is not None and self._keep(ledger):
                log.warning("the REST call ledger %s is written again", ledger)
            return
        try:
            os.write(self._ledger_fd, f"{bucket} {self._wall():.3f}\n".encode("ascii"))
        except OSError as exc:
            log.warning(
                "cannot append to the REST call ledger: %s (tried again every %.0f s: a restart "
                "meanwhile would count fewer REST calls than were made)",
                exc,
                _LEDGER_RETRY,
            )
            ledger = self._ledger
            self.close()
            self._ledger = ledger
            self._ledger_retry_at = self._monotonic() + _LEDGER_RETRY
            return
        self._ledger_lines += 1
        if self._ledger_lines > _LEDGER_COMPACT_AT:
            self._compact()

    def close(self) -> None:
        """Stop writing the ledger (the limiter still grants)."""
        self._ledger, self._ledger_retry_at = None, None
        fd, self._ledger_fd = self._ledger_fd, None
        if fd is not None:
            os.close(fd)

    @property
    def budgets(self) -> Mapping[str, Budget]:
        return dict(self._budgets)

    @property
    def reserve(self) -> int:
        return self._reserve

    def acquire(
        self,
        bucket: str = DEFAULT_BUCKET,
        priority: Priority = Priority.RECONCILIATION,
        timeout: float | None = None,
        *,
        ledger: bool = True,
    ) -> None:
        """Block until a request may be sent; raise :class:`RateLimitTimeout` past ``timeout``.

        ``ledger=False``: the grant is not written to the ledger here: the caller writes it
        with :meth:`note` once its request is out (a write that would otherwise delay it)."""
        if bucket not in self._budgets:
            bucket = DEFAULT_BUCKET
        budget = self._budgets[bucket]
        span = budget.window + self._margin
        reserved = bucket == DEFAULT_BUCKET and priority > Priority.ENFORCEMENT
        allowed = budget.requests - (self._reserve if reserved else 0)
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
                    held = self._hold_until[bucket]
                    if now < held and deadline is not None and held > deadline:
                        # the gateway asked for longer than the caller can wait: say so now
                        # (and for how long), waiting would only hide it
                        error = RateLimitTimeout(
                            f"no {bucket!r} slot within {timeout}s at priority "
                            f"{priority.name}: the gateway asked to wait {held - now:.1f}s more"
                        )
                        error.held_for = held - now
                        raise error
                    if now < held:
                        wait = held - now
                    elif waiters[0] != ticket:
                        wait = 0.5  # a higher-priority or older waiter goes first
                    elif len(grants) < allowed:
                        heapq.heappop(waiters)
                        grants.append(now)
                        self.granted += 1
                        granted = True
                        if ledger:
                            self._note(bucket)
                        self._cond.notify_all()
                        return
                    else:
                        # the oldest grant whose expiry brings the count under what is allowed
                        wait = grants[len(grants) - allowed] + span - now
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

    def hold(self, seconds: float, bucket: str = DEFAULT_BUCKET) -> None:
        """Grant nothing of ``bucket`` for ``seconds`` (the gateway said 429: everyone slows
        down); a longer hold already running is kept."""
        if bucket not in self._budgets:
            bucket = DEFAULT_BUCKET
        with self._cond:
            until = self._monotonic() + seconds
            self._hold_until[bucket] = max(self._hold_until[bucket], until)
            self._cond.notify_all()

    def held_for(self, bucket: str = DEFAULT_BUCKET) -> float:
        """Seconds the bucket is still held (0 when it is not)."""
        if bucket not in self._budgets:
            bucket = DEFAULT_BUCKET
        with self._cond:
            return max(self._hold_until[bucket] - self._monotonic(), 0.0)

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
    "DEFAULT_RESERVE",
    "Budget",
    "Priority",
    "RateLimiter",
    "bucket_for",
    "busiest_window",
    "read_ledger",
]
