"""The executor: sends the REST calls that work each intent (a target state) towards its target.

Split in two so that the engine's facts are only ever read on the engine thread:

* :func:`~simple_risk.daemon.planning.plan` (pure, engine thread) turns an intent and the
  account's current reconciled facts into the REST calls that would reach the target *now* —
  none when it is already met (``daemon/planning.py``).
* :class:`Executor` (worker threads, here) sends the planned calls in order, at enforcement
  priority (stop management for trade-management stop moves:
  :func:`~simple_risk.daemon.planning.priority_of`) through the shared rate limiter,
  classifies each answer with the errorCode table (done / retry / give up:
  :func:`~simple_risk.daemon.calls.refusal_outcome`), journals every attempt in the store and
  hands an :class:`IntentResult` back to the engine's queue. Each account has two workers
  (lanes, :func:`lane_of`): one for the intents that close or reduce a position, one for those
  working orders (cancels, resizes, stops). The calls of one intent stay in order on one lane
  (a stop is resized only after its position was reduced; a bracket entry is cancelled before
  its children), the close that removes exposure never waits behind a slower cancel of the
  same firing, and a call stuck on one account never holds up another's.

An enforcing intent's first call can leave before its lane's thread is even awake: when the
lane is idle, :meth:`Executor.submit` (on the engine thread) has the client write it on an
idle kept-alive connection at once (:meth:`RestClient.presend`) and the lane only reads the
answer; whatever stands in the way (no idle connection, no rate-limit slot at once, a token
due for refresh, an ``Order/place``) leaves the call to the lane, as every other call.

The bookkeeping of which intent is in flight, awaiting confirmation or waiting to retry lives
in :class:`simple_risk.daemon.enforcement.Tracked` records on the engine thread.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_risk.adapters.topstepx.errors import (
    ApiError,
    Endpoint,
    Outcome,
    OutcomeUnknown,
    ProjectXError,
)
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.adapters.topstepx.secrets import scrub
from simple_risk.adapters.topstepx.transport import Sent, telling_when_sent
from simple_risk.daemon.calls import call_text, call_words, refusal_outcome
from simple_risk.daemon.starvation import StarvationWatch, starving_cause
from simple_risk.engine.events import Event, OwnOrder
from simple_risk.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentResult(Event):
    """What the executor achieved for one intent: back on the engine's queue.

    ``outcome``: ``done`` (every call succeeded or found the target already met),
    ``retry`` (a transient failure: try again later), ``unsure`` (a call that may have acted
    got no answer: plan again only from reconciled state, or a partial close reduces twice)
    or ``gave_up`` (a refusal that needs a human: alert, and keep trying from reconciled
    state).
    """

    account: int
    key: str
    outcome: str
    calls: tuple[str, ...] = ()
    error: str | None = None
    #: seconds the gateway still asked to be left alone when a call failed for that (its
    #: Retry-After, or the hold after a 429): the retry is due then, not later (0: not known)
    retry_in: float = 0.0


@dataclass(frozen=True, slots=True)
class Job:
    account: int
    key: str
    calls: tuple[RestRequest, ...]
    priority: Priority = Priority.ENFORCEMENT
    #: set once the job's first call is on the wire, or the job ended (see Executor.submit)
    sent: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    #: the first call, already sent by the submitting thread: the lane reads only its answer
    on_wire: Sent | None = field(default=None, compare=False, repr=False)


#: how long the engine thread gives its lane, at most, to put an enforcing call on the wire
HAND_OVER = 0.002


#: the calls that close or reduce a position: they remove exposure
POSITION_CALLS = frozenset({Endpoint.POSITION_CLOSE, Endpoint.POSITION_PARTIAL_CLOSE})

#: an account's lane for the intents that close or reduce a position
POSITIONS = "positions"
#: an account's lane for every other intent (cancels, resizes, stops)
ORDERS = "orders"


def lane_of(calls: Sequence[RestRequest]) -> str:
    """Which of its account's lanes an intent's calls run on.

    A close waiting behind a cancel on one lane waits for the cancel's answer: a whole
    round trip of exposure over a WAN (the venue acts on a request's arrival, the answer
    takes as long again). On lanes of their own, the closes and reductions go out the moment
    they are planned. A reduction's stop resizes are calls of the same intent: they stay on
    its lane, after the reduction they depend on.
    """
    return POSITIONS if any(call.endpoint in POSITION_CALLS for call in calls) else ORDERS


def worker_name(account: int, lane: str) -> str:
    """``executor-<account>`` (the orders lane), ``executor-<account>-positions``."""
    return f"executor-{account}" if lane == ORDERS else f"executor-{account}-{lane}"


@dataclass(slots=True)
class _Worker:
    """One lane of an account: the queue its jobs wait in and the thread that reads it."""

    account: int
    name: str
    work: queue.Queue[Job | None]
    thread: threading.Thread | None = None
    #: what ended the thread, when something did (it is replaced on the same queue)
    ended_by: BaseException | None = None
    #: jobs submitted and not finished (queued or running; under the executor's lock): a
    #: lane with none is idle, and only an idle lane's first call may be sent by the submitter
    pending: int = 0


class Executor:
    """Worker threads that send planned calls and report results to ``results``.

    Two workers (and queues) per account, one per lane (:func:`lane_of`), each started on
    its lane's first job: the jobs of one lane stay in order, a close never waits behind a
    cancel, and one account's stuck call never delays another's enforcement. Every call of
    every lane goes through the one client (its rate limiter and REST budget) and the one
    starvation watch.

    A worker never stops reading its queue while the executor runs: whatever a job raises,
    even an exit (``SystemExit``, ``KeyboardInterrupt``), comes back as a ``retry`` of that
    job's intent, and a worker thread that ended anyway is noticed by the next
    :meth:`submit` or :meth:`revive` (the engine thread calls it on every timer), replaced on
    the same queue — the jobs waiting there run, in order — and alerted (``on_alert``).

    Each call is bounded by the client's ``enforcement_deadline``: a call the gateway refuses
    or delays comes back as a ``retry`` of the same intent (same key), and once an account's
    enforcing calls have failed that way for ``starved_after`` seconds, ``on_starved`` is
    told at once (severity, text) with the cause.
    """

    def __init__(
        self,
        client: RestClient,
        results: queue.Queue[Event],
        store: Store | None,
        *,
        on_call: Callable[[int, str, str], None] | None = None,
        on_starved: Callable[[str, str], None] | None = None,
        on_alert: Callable[[str, str], None] | None = None,
        starved_after: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
        record: Callable[[Callable[[Store], object]], None] | None = None,
        spawn: Callable[[str, int, Callable[[], None]], threading.Thread] | None = None,
        hand_over: float = HAND_OVER,
    ) -> None:
        self._client = client
        #: how long :meth:`submit` waits, at most, for an enforcing call to be on the wire
        self._hand_over = hand_over
        self._results = results
        self._store = store
        #: where the record of each attempt goes (the daemon's store writer, so the next call
        #: of an intent never waits for the last one's commit); None: written here, on ``store``
        self._record = record
        self._on_call = on_call
        self._on_starved = on_starved
        #: a worker that failed in a way nobody else reports (severity, text)
        self._on_alert = on_alert
        #: starts a worker thread (its name, its account) running the given loop (the daemon's
        #: supervisor); None: a plain daemon thread
        self._spawn = spawn
        self._monotonic = monotonic
        self.starvation = StarvationWatch(starved_after)
        self._lock = threading.Lock()
        self._workers: dict[tuple[int, str], _Worker] = {}
        self._stopped = False
        self._counted = threading.Lock()
        self.calls_sent = 0

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopped = True
            workers = list(self._workers.values())
        for worker in workers:
            worker.work.put(None)
        for worker in workers:
            if worker.thread is not None and worker.thread.is_alive():
                worker.thread.join(timeout)

    def submit(
        self,
        account: int,
        key: str,
        calls: Sequence[RestRequest],
        priority: Priority = Priority.ENFORCEMENT,
    ) -> None:
        """Queue the calls of one intent; they run in order on the account's worker for their
        lane (:func:`lane_of`), at the intent's ``priority`` (:func:`priority_of`)."""
        lane = lane_of(calls)
        enforcing = priority is Priority.ENFORCEMENT
        with self._lock:
            if self._stopped:
                return
            worker = self._workers.get((account, lane))
            if worker is None:
                worker = self._workers[account, lane] = _Worker(
                    account, worker_name(account, lane), queue.Queue()
                )
                self._start(worker)
            on_wire = None
            if enforcing and calls and worker.pending == 0:
                on_wire = self._send_now(key, calls[0], priority)
            job = Job(account, key, tuple(calls), priority, on_wire=on_wire)
            if on_wire is not None:
                job.sent.set()
            worker.pending += 1
            worker.work.put(job)
            if not self._alive(worker):
                self._replace(worker)
        if enforcing and on_wire is None and self._hand_over > 0:
            # The caller (the engine thread) would otherwise go on with the firing's
            # bookkeeping holding the interpreter, and the lane, woken, would wait for it:
            # Python threads take turns on one lock, a waiting one for up to 5 ms. Waiting here
            # until the call is on the wire (0.2–0.5 ms; ``HAND_OVER`` at most, a busy lane)
            # puts the enforcing request first (bench/RESULTS.md: p50 and p99 both lower).
            job.sent.wait(self._hand_over)

    def _send_now(self, key: str, call: RestRequest, priority: Priority) -> Sent | None:
        """The first call of an idle lane's enforcing job, put on the wire by the submitting
        thread (the engine thread): the request leaves without waiting for the lane's thread
        to wake (p50 0.27 ms, p90 0.9 ms on an idle machine, more than the send itself), and
        the lane, once awake, reads the answer. Only when that costs no wait
        (:meth:`RestClient.presend`); the lane sends it otherwise, as every other call.

        Only an idle lane's: a busy lane's next job must not overtake the calls still ahead
        of it (a cancel of an entry before its children's). Whatever goes wrong here leaves
        the call to the lane."""
        try:
            return self._client.presend(
                call, priority, deadline=self._client.config.enforcement_deadline
            )
        except Exception:
            log.exception("could not send the first call of %s at once; its lane sends it", key)
            return None

    def revive(self) -> None:
        """Replace every worker thread that ended while the executor runs (see the class)."""
        with self._lock:
            if self._stopped:
                return
            for worker in self._workers.values():
                if not self._alive(worker):
                    self._replace(worker)

    @staticmethod
    def _alive(worker: _Worker) -> bool:
        return worker.thread is not None and worker.thread.is_alive()

    def _start(self, worker: _Worker) -> None:
        loop = functools.partial(self._run, worker)
        if self._spawn is not None:
            worker.thread = self._spawn(worker.name, worker.account, loop)
        else:
            worker.thread = threading.Thread(target=loop, name=worker.name, daemon=True)
            worker.thread.start()

    def _replace(self, worker: _Worker) -> None:
        """A new thread on the dead worker's queue (lock held), said loudly."""
        cause = worker.ended_by
        why = "" if cause is None else f" ({type(cause).__name__}: {cause})"
        waiting = worker.work.qsize()
        message = (
            f"account {worker.account}: its executor worker {worker.name} ended{why}; a new "
            f"one runs the {waiting} job(s) waiting"
        )
        log.critical(message)
        if self._on_alert is not None:
            self._on_alert("critical", message)
        worker.ended_by = None
        self._start(worker)

    def _run(self, worker: _Worker) -> None:
        try:
            while True:
                job = worker.work.get()
                if job is None:
                    return
                try:
                    with telling_when_sent(job.sent.set):
                        result = self._work(job)
                except BaseException as exc:  # a job never ends the worker
                    result = self._failed(job, exc)
                finally:
                    job.sent.set()  # never keep the submitter waiting past the job
                    with self._lock:
                        worker.pending -= 1
                self._results.put(result)
        except BaseException as exc:
            worker.ended_by = exc
            raise

    def _failed(self, job: Job, exc: BaseException) -> IntentResult:
        """What a job that raised reports: a ``retry`` of its intent. An exception that is
        not an error (an exit a call raised) would have ended the worker, and with it the
        account's enforcement: it is kept from doing so, and said loudly."""
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, Exception):
            log.exception("executor failed on intent %s", job.key)
        else:
            message = (
                f"account {job.account}: a call of {job.key} raised {error}; the executor "
                "worker goes on and the intent is retried"
            )
            log.critical(message, exc_info=exc)
            if self._on_alert is not None:
                self._on_alert("critical", message)
        return IntentResult(
            at=self._client.clock.now(),
            account=job.account,
            key=job.key,
            outcome="retry",
            error=error,
        )

    def _journal(
        self,
        key: str,
        outcome: str,
        request: RestRequest,
        *,
        response: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record one call and its answer with the intent (secrets scrubbed)."""
        store = self._store
        if store is None:
            return
        at = self._client.clock.now()
        body = {"endpoint": request.endpoint.value, "body": scrub(dict(request.body))}
        answer = scrub(response) if response is not None else None

        def write(target: Store) -> None:
            try:
                target.intent_attempt(key, at, outcome, request=body, response=answer, error=error)
            except StoreUnavailable:
                if self._record is None:
                    log.warning("could not journal an attempt of %s: the store is unavailable", key)
                    return
                raise  # the daemon's writer holds it until the store is back
            except StoreError as exc:
                log.warning("could not journal an attempt of %s: %s", key, exc)

        if self._record is not None:
            self._record(write)
        else:
            write(store)

    def _placed(self, account: int, request: RestRequest, envelope: dict[str, Any]) -> None:
        """An order the daemon placed: its tag and id go to the engine (``order.own``)."""
        if request.endpoint is not Endpoint.ORDER_PLACE:
            return
        tag = request.body.get("customTag")
        order_id = envelope.get("orderId")
        size = request.body.get("size")
        if isinstance(tag, str) and isinstance(order_id, int) and not isinstance(order_id, bool):
            self._results.put(
                OwnOrder(
                    at=self._client.clock.now(),
                    account_id=account,
                    custom_tag=tag,
                    order_id=order_id,
                    size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                )
            )

    def _got_through(self, account: int) -> None:
        note = self.starvation.succeeded(account, self._monotonic())
        if note is not None and self._on_starved is not None:
            self._on_starved("warning", note)

    def _starved(self, account: int, error: ProjectXError, started: float) -> None:
        cause = starving_cause(error)
        if cause is None:
            return
        alert = self.starvation.failed(account, cause, started, self._monotonic())
        if alert is not None and self._on_starved is not None:
            self._on_starved("critical", alert)

    def _work(self, job: Job) -> IntentResult:
        """Send every call of the job, in order. A failing call does not stop the others (each
        is a separate change toward the target: one order that cannot be cancelled must not
        keep the next one working); the result is the worst outcome, with the first error.

        Except what depends on it: a reduction's stop and limit resizes follow it (planning's
        ``_cut_and_resize``) and are sized for the position it leaves. When the reduction did
        not happen they are not sent — the stop keeps covering the whole position — and the
        intent's next attempt plans both again."""
        done: list[str] = []
        worst = "done"
        first_error: str | None = None
        retry_in = 0.0
        reduction_failed = False
        for index, request in enumerate(job.calls):
            if request.endpoint in POSITION_CALLS:
                reduction_failed = False
            elif reduction_failed and request.endpoint is Endpoint.ORDER_MODIFY:
                continue
            text = call_text(request)
            outcome = "ok"
            error: str | None = None
            started = self._monotonic()
            try:
                deadline = (
                    self._client.config.enforcement_deadline
                    if job.priority is Priority.ENFORCEMENT
                    else None
                )
                envelope = self._client.execute(
                    request,
                    job.priority,
                    deadline=deadline,
                    on_wire=job.on_wire if index == 0 else None,
                )
                self._got_through(job.account)
                self._journal(job.key, "ok", request, response=envelope)
                self._placed(job.account, request, envelope)
            except ApiError as exc:
                self._got_through(job.account)  # an answer about the request itself
                error = str(exc)
                outcome = refusal_outcome(request, exc)
                self._journal(job.key, outcome, request, error=error)
                if outcome == "already":
                    error = None  # the target is met: not a failure to report
            except ProjectXError as exc:
                self._starved(job.account, exc, started)
                error = str(exc)
                retry_in = max(retry_in, exc.held_for)
                if isinstance(exc, OutcomeUnknown):
                    outcome = "unsure"  # may have acted: re-planned only from REST's facts
                else:
                    outcome = "retry" if exc.outcome is Outcome.RETRY else "gave_up"
                self._journal(job.key, outcome, request, error=error)
            with self._counted:
                self.calls_sent += 1
            if self._on_call is not None:
                self._on_call(
                    job.account, text, outcome if error is None else f"{outcome}: {error}"
                )
            if outcome in ("retry", "unsure", "gave_up"):
                reduction_failed = request.endpoint in POSITION_CALLS
                first_error = first_error or error
                if _SEVERITY[outcome] > _SEVERITY[worst]:
                    worst = outcome
                continue
            done.append(f"{text} ({call_words(outcome)})")
        return IntentResult(
            at=self._client.clock.now(),
            account=job.account,
            key=job.key,
            outcome=worst,
            calls=tuple(done),
            error=first_error,
            retry_in=retry_in,
        )


#: which outcome a job reports when its calls ended differently: a refusal, or a call that may
#: have acted, needs a re-plan from fresh facts (which also retries what was transient), so
#: it wins over a retry
_SEVERITY = {"done": 0, "retry": 1, "unsure": 2, "gave_up": 3}


__all__ = [
    "HAND_OVER",
    "ORDERS",
    "POSITIONS",
    "POSITION_CALLS",
    "Executor",
    "IntentResult",
    "Job",
    "lane_of",
    "worker_name",
]
