"""The executor: works each intent (a target state) towards its target with REST calls.

Split in two so that the engine's facts are only ever read on the engine thread:

* :func:`plan` (pure, engine thread) turns an intent and the account's current reconciled facts
  into the REST calls that would reach the target *now* — none when it is already met. Because
  the calls are derived from the state each time, re-planning an intent after a crash, a
  retry or a re-firing never closes or reduces twice: a position already closed yields no
  close, a position already reduced yields a smaller (or no) partial close.
* :class:`Executor` (worker threads) sends the planned calls in order, at enforcement priority
  (stop management for trade-management stop moves: :func:`priority_of`) through the shared
  rate limiter, classifies each answer with the errorCode table (done /
  retry / give up), journals every attempt in the store and hands an :class:`IntentResult`
  back to the engine's queue. Each account has two workers (lanes, :func:`lane_of`): one for
  the intents that close or reduce a position, one for those working orders (cancels,
  resizes, stops). The calls of one intent stay in order on one lane (a stop is resized only
  after its position was reduced; a bracket entry is cancelled before its children), the
  close that removes exposure never waits behind a slower cancel of the same firing, and a
  call stuck on one account never holds up another's.

The bookkeeping of which intent is in flight, awaiting confirmation or waiting to retry lives
in :class:`simple_risk.daemon.enforcement.Tracked` records on the engine thread.
"""

from __future__ import annotations

import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_risk.adapters.topstepx.converters import (
    RestRequest,
    cancel_order_request,
    close_position_request,
    modify_size_request,
    modify_stop_request,
    partial_close_request,
    place_stop_request,
)
from simple_risk.adapters.topstepx.errors import ApiError, Endpoint, Outcome, ProjectXError
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.adapters.topstepx.secrets import scrub
from simple_risk.adapters.topstepx.transport import telling_when_sent
from simple_risk.daemon.starvation import StarvationWatch, starving_cause
from simple_risk.engine.dsl.catalogue import ticker_of
from simple_risk.engine.events import (
    STOP_TYPES,
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OwnOrder,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    ResizeOrder,
    StopAt,
    orphans,
)
from simple_risk.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)


def plan(intent: Intent, state: AccountState | None) -> list[RestRequest]:
    """The REST calls that take the account from its current facts to the intent's target.

    An empty list means the target is met (or there is nothing the gateway could do).
    """
    if state is None or isinstance(intent, Alert):
        return []
    account = state.id
    if isinstance(intent, NoWorkingOrders):
        return [
            cancel_order_request(account, order.id)
            for order in sorted(state.orders.values(), key=lambda o: o.id)
            if (intent.symbol is None or order.symbol == intent.symbol)
            and (intent.side is None or order.side == intent.side)
            and (intent.contract_id is None or order.contract_id == intent.contract_id)
        ]
    if isinstance(intent, CancelOrder):
        # A bracket entry's children go with it, but only once the entry is known to have
        # ended unfilled: cancelling them alongside an entry that fills meanwhile would leave
        # its position without its stop. (The gateway's one-cancels-other usually takes them.)
        calls = [cancel_order_request(account, child) for child in orphans(state, intent.order_id)]
        if intent.order_id in state.orders:
            calls.insert(0, cancel_order_request(account, intent.order_id))
        return calls
    if isinstance(intent, ResizeOrder):
        order = state.orders.get(intent.order_id)
        if order is None or order.remaining <= intent.size or intent.size <= 0:
            return []
        filled = order.size - order.remaining
        return [modify_size_request(account, order.id, size=intent.size + filled)]
    if isinstance(intent, PositionClosed):
        if intent.contract_id in state.positions:
            return [close_position_request(account, intent.contract_id)]
        return []
    if isinstance(intent, ReduceTo):
        return _plan_reduce(intent, state)
    if isinstance(intent, StopAt):
        return _plan_stop(intent, state)
    return []


def priority_of(intent: Intent) -> Priority:
    """Who goes first when the REST budget is short: what removes exposure (cancels, closes,
    reductions, resizes) is enforcement; moving or placing a stop for trade management
    (:class:`StopAt`) is stop management, behind enforcement and reconciliation."""
    if isinstance(intent, StopAt):
        return Priority.STOP_MANAGEMENT
    return Priority.ENFORCEMENT


def _cut(account: int, contract_id: str, size: int, by: int) -> RestRequest:
    """Close ``by`` of a ``size`` position: a full close when that is all of it."""
    if by >= size:
        return close_position_request(account, contract_id)
    return partial_close_request(account, contract_id, by)


def _plan_reduce(intent: ReduceTo, state: AccountState) -> list[RestRequest]:
    positions = list(state.positions.values())
    if intent.scope == "contract":
        positions = [p for p in positions if p.contract_id == intent.contract_id]
    elif intent.scope == "root":
        positions = [p for p in positions if p.symbol == intent.symbol]
    if intent.order == "largest_first":
        positions.sort(key=lambda p: (-p.size, p.contract_id))
    else:
        positions.sort(key=lambda p: (p.opened_at, p.contract_id), reverse=True)
    calls: list[RestRequest] = []
    if intent.scope == "account":
        if intent.max_units is None:
            return []
        excess = sum(p.units for p in positions) - intent.max_units
        for position in positions:
            if excess <= 0:
                break
            per_contract = position.units // position.size if position.size else 0
            if per_contract <= 0:
                continue
            by = min(position.size, math.ceil(excess / per_contract))
            calls.extend(_cut_and_resize(state, position, by))
            excess -= by * per_contract
        return calls
    if intent.max_contracts is None:
        return []
    excess = sum(p.size for p in positions) - intent.max_contracts
    for position in positions:
        if excess <= 0:
            break
        by = min(position.size, excess)
        calls.extend(_cut_and_resize(state, position, by))
        excess -= by
    return calls


def _cut_and_resize(state: AccountState, position: Position, by: int) -> list[RestRequest]:
    """Close ``by`` contracts of a position, then shrink its closing orders to what is left.

    A stop that covered the whole position would otherwise be larger than the position once
    it is reduced: as such it could reverse the position, and a lock would cancel it and
    leave the rest unprotected. Resized (never cancelled), it keeps protecting what stays.
    """
    calls = [_cut(state.id, position.contract_id, position.size, by)]
    left = position.size - by
    if left <= 0:
        return calls  # a full close: the position's orders are the closing rule's to cancel
    for order, size in _resized_closing_orders(state, position, left):
        filled = order.size - order.remaining
        calls.append(modify_size_request(state.id, order.id, size=size + filled))
    return calls


def _resized_closing_orders(
    state: AccountState, position: Position, left: int
) -> list[tuple[Order, int]]:
    """The stops and limits closing ``position`` that together would close more than
    ``left`` contracts on their side of the market, each with the size it keeps.

    Per side (stops fill on a move against the position, limits on a move for it), orders
    are honoured in precedence — simple-risk's own, bracket children, then the others, oldest
    (lowest id) first — and the first that no longer fits takes the room left; one with no
    room is left alone (the side is already covered: other enforcement decides about it).
    A suspended bracket child cannot be modified and closes nothing until it opens: skipped.
    """
    closing = [
        order
        for order in state.orders_by_contract.get(position.contract_id, {}).values()
        if order.buy != position.long
        and order.update.type in _RESIZABLE
        and order.update.status is not OrderStatus.SUSPENDED
    ]
    closing.sort(key=lambda o: (not o.own, not o.is_child, o.id))
    out: list[tuple[Order, int]] = []
    for stops in (True, False):
        room = left
        for order in closing:
            if order.is_stop != stops:
                continue
            if order.remaining > room > 0:
                out.append((order, room))
            room -= min(order.remaining, max(room, 0))
    return out


def _plan_stop(intent: StopAt, state: AccountState) -> list[RestRequest]:
    """Stops at the price (or tighter, when never loosening) covering the whole position.

    A stop already there that covers less than the position (the trader scaled in) is
    resized; a looser one is moved (and resized if needed); with none, one is placed. The
    target is the position's size now, so a position that shrank since the firing is not
    over-covered.
    """
    position = state.positions.get(intent.contract_id)
    if position is None:
        return []
    stops = [
        order
        for order in state.orders_by_contract.get(intent.contract_id, {}).values()
        if order.is_stop and order.buy != position.long and order.stop_price is not None
    ]

    def good(order: Order) -> bool:
        price = order.stop_price
        assert price is not None
        tighter = price > intent.price if position.long else price < intent.price
        return price == intent.price or (intent.never_loosen and tighter)

    covering = [order for order in stops if good(order)]
    need = position.size
    if covering and sum(order.remaining for order in covering) >= need:
        return []
    if stops:
        first = covering[0] if covering else stops[0]
        others = sum(order.remaining for order in covering if order is not first)
        price = first.stop_price if good(first) else intent.price
        assert price is not None
        size = max(need - others, 1)
        return [
            modify_stop_request(
                state.id,
                first.id,
                stop_price=price,
                size=size if size != first.remaining else None,
            )
        ]
    side = OrderSide.SELL if position.long else OrderSide.BUY
    return [
        place_stop_request(
            state.id, intent.contract_id, side=side, size=position.size, stop_price=intent.price
        )
    ]


#: closing orders a reduction resizes: stops (of every kind) and limits
_RESIZABLE = STOP_TYPES | {OrderType.LIMIT}


def describe_call(request: RestRequest) -> str:
    """``Position/closeContract CON.F.US.MNQ.Z26`` — one line for the log and the replay."""
    body = request.body
    target = body.get("contractId") or body.get("orderId") or ""
    size = f" size {body['size']}" if "size" in body else ""
    return f"{request.endpoint.value} {target}{size}".rstrip()


def call_text(request: RestRequest) -> str:
    """``Position/closeContract ES Z26``, ``Order/cancel 9001`` — a call as the trader's views
    show it (the demo console, ``monitor``, a result's text): the ticker traders know, never
    ProjectX's root (the journaled request keeps the contract id)."""
    body = request.body
    contract = body.get("contractId")
    if isinstance(contract, str) and contract:
        parts = contract.split(".")
        month = f" {parts[4]}" if len(parts) == 5 else ""
        target = f"{ticker_of(contract)}{month}"
    else:
        target = str(body.get("orderId") or "")
    size = f" size {body['size']}" if "size" in body else ""
    return f"{request.endpoint.value} {target}{size}".rstrip()


#: what the gateway says when a cancel meets an order that already filled or was cancelled
#: (a ``Rejected`` errorCode, so only the message tells it from a real refusal)
ORDER_NOT_OPEN = "order is not open"


def refusal_outcome(request: RestRequest, error: ApiError) -> str:
    """``already``, ``retry`` or ``gave_up`` for a call the gateway answered with an error.

    ``already``: the target was met before the call — a close of a flat position, a cancel
    of an order the gateway no longer knows, and a cancel the gateway refuses because the
    order "is not open" (it filled or was cancelled meanwhile): an order that is gone is
    exactly what a cancel wants, so this is a success, not a refusal to alert about. So is
    a resize (a modify of the size alone) of an order that is not open: an order no longer
    working cannot be too big. A modify that moves a price is not: the stop it wanted to
    move is missing, and the engine must re-plan."""
    if error.outcome is Outcome.DONE:
        return "already"
    if ORDER_NOT_OPEN in (error.error_message or "").lower() and (
        request.endpoint is Endpoint.ORDER_CANCEL
        or (request.endpoint is Endpoint.ORDER_MODIFY and _resize_only(request))
    ):
        return "already"
    return "retry" if error.outcome is Outcome.RETRY else "gave_up"


def _resize_only(request: RestRequest) -> bool:
    return "size" in request.body and not {"limitPrice", "stopPrice", "trailPrice"} & set(
        key for key, value in request.body.items() if value is not None
    )


#: a call's outcome as every view says it (monitor, history, the demo console)
_CALL_WORDS = {"ok": "done", "already": "already gone", "retry": "will retry", "gave_up": "refused"}
#: outcomes that count as a success
CALL_SUCCEEDED = frozenset({"ok", "already"})


def call_words(outcome: str) -> str:
    """``already`` → ``already gone``, ``gave_up: <error>`` → ``refused: <error>`` …"""
    head, sep, rest = outcome.partition(": ")
    return f"{_CALL_WORDS.get(head, head)}{sep}{rest}"


def call_succeeded(outcome: str) -> bool:
    """Whether a call outcome (as ``on_call`` reports it) met its target."""
    return outcome.partition(": ")[0] in CALL_SUCCEEDED


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentResult(Event):
    """What the executor achieved for one intent: back on the engine's queue.

    ``outcome``: ``done`` (every call succeeded or found the target already met),
    ``retry`` (a transient failure: try again later) or ``gave_up`` (a refusal that needs a
    human: alert, and keep trying from reconciled state).
    """

    account: int
    key: str
    outcome: str
    calls: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    account: int
    key: str
    calls: tuple[RestRequest, ...]
    priority: Priority = Priority.ENFORCEMENT
    #: set once the job's first call is on the wire, or the job ended (see Executor.submit)
    sent: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)


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
        job = Job(account, key, tuple(calls), priority)
        with self._lock:
            if self._stopped:
                return
            worker = self._workers.get((account, lane))
            if worker is None:
                worker = self._workers[account, lane] = _Worker(
                    account, worker_name(account, lane), queue.Queue()
                )
                self._start(worker)
            worker.work.put(job)
            if not self._alive(worker):
                self._replace(worker)
        if priority is Priority.ENFORCEMENT and self._hand_over > 0:
            # The caller (the engine thread) would otherwise go on with the firing's
            # bookkeeping holding the interpreter, and the lane, woken, would wait for it:
            # Python threads take turns on one lock, a waiting one for up to 5 ms. Waiting here
            # until the call is on the wire (0.2–0.5 ms; ``HAND_OVER`` at most, a busy lane)
            # puts the enforcing request first (bench/RESULTS.md: p50 and p99 both lower).
            job.sent.wait(self._hand_over)

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
        keep the next one working); the result is the worst outcome, with the first error."""
        done: list[str] = []
        worst = "done"
        first_error: str | None = None
        for request in job.calls:
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
                envelope = self._client.execute(request, job.priority, deadline=deadline)
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
                outcome = "retry" if exc.outcome is Outcome.RETRY else "gave_up"
                self._journal(job.key, outcome, request, error=error)
            with self._counted:
                self.calls_sent += 1
            if self._on_call is not None:
                self._on_call(
                    job.account, text, outcome if error is None else f"{outcome}: {error}"
                )
            if outcome in ("retry", "gave_up"):
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
        )


#: which outcome a job reports when its calls ended differently: a refusal needs a re-plan
#: from fresh facts (which also retries what was transient), so it wins over a retry
_SEVERITY = {"done": 0, "retry": 1, "gave_up": 2}


__all__ = [
    "CALL_SUCCEEDED",
    "HAND_OVER",
    "ORDERS",
    "POSITIONS",
    "POSITION_CALLS",
    "Executor",
    "IntentResult",
    "Job",
    "call_succeeded",
    "call_text",
    "call_words",
    "describe_call",
    "lane_of",
    "plan",
    "refusal_outcome",
    "worker_name",
]
