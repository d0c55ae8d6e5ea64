"""Writes the engine thread does not need to wait for, done in order on one writer thread.

The event journal and intent bookkeeping are written here, batched, so the engine thread
spends its time evaluating rules rather than waiting for SQLite's single writer (measured:
~3 ms per journal transaction under contention, against ~0.1 ms for ``Engine.apply``).

Nothing is written before the executor acts: the daemon acts first and journals in
parallel. After an idle spell the writer even lets its first write wait ``linger`` (5 ms)
before it starts: the event that woke it may be a breach, and writing through SQLAlchemy is
Python the enforcing call would otherwise wait for (threads take turns on one interpreter
lock) — measured, this wait halved the loopback breach → close latency's p50 and p99
(bench/RESULTS.md). A backlog is written without it, so the writer never falls behind.

Firings with their lockouts and intents (``Store.record_firing``), snapshots and the
executor's attempt records are queued here too (lease renewals are not: they run on the
lease thread, :mod:`~simple_risk.daemon.ownership`, never behind a backlog), in the order they
happened, so a firing's record always follows the event that caused it and precedes its
intents' states. Losing the tail of the queue in a crash loses nothing that matters: the
engine is deterministic, every restart replays the journal it has and reconciles positions,
orders and the day's fills from REST, which derives the same firings, lockouts and intents
again (planned from the reconciled facts, so nothing is done twice); replaying an event twice
is harmless (fills have identity; positions and orders are states). A snapshot queued here
reads :attr:`StoreWriter.last_seq` when it runs, so it records the exact journal position it
covers; :meth:`StoreWriter.flush` waits for everything queued (admin commands use it).

**When the store is unavailable** (the database locked past its busy timeout, PostgreSQL
unreachable: :class:`~simple_risk.store.StoreUnavailable`) the daemon goes on enforcing from
memory and this writer holds everything in order: the job that failed stays at the head of
the queue and is tried again every ``retry`` seconds, and nothing behind it overtakes it, so
the journal, firing records and intent states reach the store in the order they happened
once it answers again. What is held is bounded: past ``capacity`` journal events the oldest
are dropped (and counted) — the journal is a shortcut for restarts, the REST reconcile the
truth — and a snapshot queued while an older snapshot of its account still waits replaces
it. The outage, an overflow and the recovery are reported once each through ``on_trouble``
(the daemon's alerter), and :meth:`StoreWriter.health` shows them in ``engine status``.

The writer never dies and never wedges its callers: a job that raises anything else is
logged with its traceback, reported and dropped; a thread that died anyway is started again
by the next job; :meth:`flush` returns at once while the store is unavailable (an admin
command then says its change is not saved yet, instead of waiting on a dead database); and a
call that hangs in the database shows as ``stuck`` in :meth:`health` and is reported by
:meth:`watch`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simple_risk.engine.events import Event
from simple_risk.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

#: (level, message): how the writer tells the daemon about an outage, an overflow, a recovery
Trouble = Callable[[str, str], None]

#: how a supervisor starts a part: ``spawn(name, loop)`` → the thread running it
Spawn = Callable[[str, Callable[[], None]], threading.Thread]

#: journal events held while the store is unavailable (about 1 KiB each in memory)
DEFAULT_CAPACITY = 50_000
#: how long the first write after an idle spell waits: longer than the act takes (the
#: breach → enforcing call p99 on this 2-core machine is about 5 ms)
LINGER = 0.005


@dataclass(slots=True)
class _Journal:
    account: int
    event: Event


@dataclass(slots=True)
class _Call:
    operation: Callable[[Store], object]
    #: calls with the same key replace each other while still queued (an account's snapshot)
    key: str | None = None


_Job = _Journal | _Call


class StoreWriter:
    """One thread that appends journal events (grouped per account) and runs store calls."""

    def __init__(
        self,
        store: Store,
        last_seqs: dict[int, int],
        *,
        capacity: int = DEFAULT_CAPACITY,
        retry: float = 0.5,
        stuck_after: float = 10.0,
        on_trouble: Trouble | None = None,
        linger: float = LINGER,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        #: how long a first write after an idle spell waits (see the module's docstring)
        self.linger = linger
        self._sleep = sleep
        self._jobs: deque[_Job] = deque()
        self._cv = threading.Condition()
        self._running = 0  # jobs taken off the queue and not finished yet
        self._stopping = False
        self._started = False
        self._supervised = False
        self._journal_held = 0
        self.capacity = capacity
        self.retry = retry
        self.stuck_after = stuck_after
        self._on_trouble = on_trouble
        self.last_seq = dict(last_seqs)
        self.batches = 0
        #: journal events dropped because the store stayed unavailable past ``capacity``
        self.dropped = 0
        #: jobs that raised something unexpected (logged with traceback, reported, dropped)
        self.failures = 0
        #: times the thread had to be started again
        self.restarts = 0
        self._outage: str | None = None  # why the store is unavailable, while it is
        self._outage_since: float | None = None
        self._overflow_told = False
        self._busy_since: float | None = None  # when the running database call started
        self._progress = 0  # jobs of the running batch done (the journal before its call)
        self._stuck_told = False
        self._thread = self._new_thread()

    # -- lifecycle ------------------------------------------------------------------------------

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self.run, name="store-writer", daemon=True)

    def start(self, spawn: Spawn | None = None) -> None:
        """Start the writer thread. With ``spawn`` (the daemon's supervisor) the thread is
        the supervisor's, which restarts :meth:`run` after a failure; without it the writer
        starts a dead thread again itself, on the next write or :meth:`watch`."""
        self._started = True
        if spawn is not None:
            self._supervised = True
            self._thread = spawn("store-writer", self.run)
        else:
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what can be written within ``timeout`` and stop. While the store is
        unavailable nothing more is waited for: what is still held is counted in the log
        (the next start replays the journal it has and reconciles the rest from REST)."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cv:
            left = len(self._jobs) + self._running
        if left:
            log.warning("the store writer stopped with %d write(s) not done", left)

    # -- queueing (any thread; never blocks on the store) -----------------------------------------

    def journal(self, account: int, event: Event) -> None:
        with self._cv:
            self._jobs.append(_Journal(account, event))
            self._journal_held += 1
            if self._journal_held > self.capacity:
                self._drop_oldest_event()
            self._wake()

    def call(self, operation: Callable[[Store], object], *, key: str | None = None) -> None:
        """Run ``operation(store)`` on the writer thread, after everything queued before it.
        A queued call with the same ``key`` is replaced (it is superseded by this one)."""
        with self._cv:
            if key is not None:
                for index, job in enumerate(self._jobs):
                    if isinstance(job, _Call) and job.key == key:
                        del self._jobs[index]
                        break
            self._jobs.append(_Call(operation, key))
            self._wake()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written; False at once while the store is
        unavailable (the writes stay queued and go through when it is back)."""
        with self._cv:
            self._wake()
            return self._cv.wait_for(
                lambda: (not self._jobs and not self._running) or self._outage is not None,
                timeout,
            ) and not (self._jobs or self._running)

    def _wake(self) -> None:
        """Under the lock: tell the thread there is work; start it again if it died."""
        self._cv.notify_all()
        alive = self._thread.is_alive()
        if self._started and not self._supervised and not self._stopping and not alive:
            self.restarts += 1
            self._thread = self._new_thread()
            self._thread.start()
            self._tell("critical", "the store writer thread had died and was started again")

    def _drop_oldest_event(self) -> None:
        for index, job in enumerate(self._jobs):
            if isinstance(job, _Journal):
                del self._jobs[index]
                self._journal_held -= 1
                self.dropped += 1
                break
        if not self._overflow_told:
            self._overflow_told = True
            self._tell(
                "critical",
                f"the store is still unavailable and {self.capacity} journal events are held: "
                "the oldest are being dropped (a restart now relies on the REST reconcile)",
            )

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What ``engine status`` shows of the store: ``ok``, ``unavailable`` or ``stuck``."""
        with self._cv:
            now = time.monotonic()
            busy = self._busy_since
            stuck = busy is not None and now - busy >= self.stuck_after
            state = "unavailable" if self._outage is not None else "stuck" if stuck else "ok"
            return {
                "state": state,
                "why": self._outage,
                "for_seconds": round(now - self._outage_since, 1)
                if self._outage_since is not None
                else round(now - busy, 1)
                if stuck and busy is not None
                else 0.0,
                "held": len(self._jobs) + self._running,
                "journal_held": self._journal_held,
                "dropped": self.dropped,
                "failures": self.failures,
                "restarts": self.restarts,
            }

    def watch(self) -> None:
        """Report once a database call that has run longer than ``stuck_after`` (a hung
        connection): the engine keeps enforcing, but nothing is saved while it hangs."""
        with self._cv:
            if self._jobs:
                self._wake()  # a thread that died with work waiting is started again
            busy = self._busy_since
            if busy is None or self._stuck_told:
                return
            if time.monotonic() - busy < self.stuck_after:
                return
            self._stuck_told = True
        self._tell(
            "critical",
            f"a store call has not returned for {self.stuck_after:.0f} s: nothing is saved "
            "until it does (enforcement goes on from memory)",
        )

    # -- the thread ------------------------------------------------------------------------------

    def run(self) -> None:
        """The writer thread's loop; returns once stopped. What raises out of it ends the
        thread (the job that raised is dropped first); everything else is handled here."""
        while True:
            with self._cv:
                idle = not self._jobs
                while not self._jobs and not self._stopping:
                    self._cv.wait()
                if not self._jobs:
                    return
                lingering = idle and self.linger > 0 and not self._stopping
            if lingering:
                self._sleep(self.linger)  # outside the lock: a put never waits for it
            with self._cv:
                batch = self._take()
            self._progress = 0
            try:
                done = self._write(batch)
            except BaseException:
                # the thread ends (it is started again by the next write or watch): the job
                # that ended it is dropped, so it cannot end the next thread too
                self.failures += 1
                log.exception("the store writer thread ended on a write (it is started again)")
                with self._cv:
                    self._give_back(batch[self._progress + 1 :])
                raise
            with self._cv:
                self._give_back(batch[done:])
                if done < len(batch):
                    # the store is unavailable: wait, then try the same job again (or stop)
                    if self._stopping:
                        return
                    self._cv.wait(self.retry)
                self._cv.notify_all()

    def _take(self) -> list[_Job]:
        """Under the lock: the leading journal events (all of them, any account) up to and
        including the first call."""
        batch: list[_Job] = []
        while self._jobs:
            job = self._jobs.popleft()
            batch.append(job)
            if isinstance(job, _Call):
                break
        self._running = len(batch)
        return batch

    def _give_back(self, jobs: list[_Job]) -> None:
        """Under the lock: jobs not done go back to the head of the queue, in order."""
        self._jobs.extendleft(reversed(jobs))
        self._running = 0

    def _write(self, batch: list[_Job]) -> int:
        """Write the batch in order; returns how many of its jobs are done (fewer than all
        when the store became unavailable: the rest is tried again)."""
        events: dict[int, list[Event]] = {}
        for job in batch:
            if isinstance(job, _Journal):
                events.setdefault(job.account, []).append(job.event)
        journal_count = sum(len(e) for e in events.values())
        for account, pending in events.items():
            try:
                seqs = self._timed(self._store.append_events, account, pending)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                # the accounts written before this one are done: keep only what is not
                self._forget_written(batch, events, account)
                return 0
            except StoreError as exc:  # refused, not an outage: these events cannot be written
                self.failures += 1
                log.error("journal write failed for account %s: %s", account, exc)
                self._tell(
                    "critical",
                    f"{len(pending)} journal event(s) of account {account} were refused by the "
                    f"store ({exc}); they were dropped",
                )
            except Exception as exc:  # a bug: these events can never be written; go on
                self.failures += 1
                log.exception("journal write of account %s raised unexpectedly", account)
                self._tell(
                    "critical",
                    f"{len(pending)} journal event(s) of account {account} could not be "
                    f"written ({type(exc).__name__}: {exc}); they were dropped",
                )
            else:
                assert isinstance(seqs, list)
                if seqs:
                    self.last_seq[account] = seqs[-1]
                self.batches += 1
        with self._cv:
            self._journal_held -= journal_count
        self._progress = len(batch) - 1
        last = batch[-1]
        if isinstance(last, _Call):
            try:
                self._timed(last.operation, self._store)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                return len(batch) - 1
            except StoreError as exc:  # not an outage: this write cannot succeed; go on
                # (a firing, a lockout, a snapshot the store refused: a restart would not
                # know it, so it is said, never only logged)
                self.failures += 1
                log.error("store write failed: %s", exc)
                self._tell(
                    "critical",
                    f"a store write was refused ({exc}); it was dropped and the writer goes on",
                )
            except Exception as exc:
                self.failures += 1
                log.exception("a store write raised unexpectedly (dropped; the writer goes on)")
                self._tell(
                    "critical",
                    f"a store write failed unexpectedly ({type(exc).__name__}: {exc}); "
                    "it was dropped and the writer goes on",
                )
        self._available()
        return len(batch)

    def _forget_written(
        self, batch: list[_Job], events: dict[int, list[Event]], failed: int
    ) -> None:
        """Drop from ``batch`` (in place) the events of the accounts written before
        ``failed`` in this batch: only the rest is given back and written again."""
        written: set[int] = set()
        for account in events:
            if account == failed:
                break
            written.add(account)
        if not written:
            return
        kept = [job for job in batch if not (isinstance(job, _Journal) and job.account in written)]
        with self._cv:
            self._journal_held -= len(batch) - len(kept)
        batch[:] = kept

    def _timed(self, operation: Callable[..., object], *args: Any) -> object:
        """Run one database call, marking it busy for :meth:`health` and :meth:`watch`."""
        with self._cv:
            self._busy_since = time.monotonic()
        try:
            return operation(*args)
        finally:
            with self._cv:
                self._busy_since = None
                if self._stuck_told:
                    self._stuck_told = False
                    stuck_end = True
                else:
                    stuck_end = False
            if stuck_end:
                self._tell("warning", "the store call that hung has returned")

    def _unavailable(self, exc: StoreUnavailable) -> None:
        with self._cv:
            first = self._outage is None
            self._outage = str(exc)
            if first:
                self._outage_since = time.monotonic()
            self._cv.notify_all()
        if first:
            log.error("store unavailable: %s (enforcing from memory; writes held)", exc)
            self._tell(
                "critical",
                f"the store is unavailable ({exc}): enforcement goes on from memory and "
                "the journal is held until it is back",
            )

    def _available(self) -> None:
        with self._cv:
            if self._outage is None:
                return
            since = self._outage_since
            self._outage = None
            self._outage_since = None
            self._overflow_told = False
            dropped = self.dropped
        lasted = time.monotonic() - since if since is not None else 0.0
        lost = f"; {dropped} journal event(s) were dropped in all" if dropped else ""
        log.warning("the store is back after %.1f s; held writes are being saved", lasted)
        self._tell(
            "warning", f"the store is back after {lasted:.0f} s; the held writes are saved{lost}"
        )

    def _tell(self, level: str, message: str) -> None:
        if self._on_trouble is None:
            return
        try:
            self._on_trouble(level, message)
        except Exception:
            log.exception("could not report store trouble: %s", message)


__all__ = ["DEFAULT_CAPACITY", "LINGER", "Spawn", "StoreWriter", "Trouble"]
