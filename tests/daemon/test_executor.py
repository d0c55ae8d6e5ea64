"""The executor's workers: one per account, and every call of an intent is tried."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.errors import (
    ApiError,
    Endpoint,
    OutcomeUnknown,
    TransportError,
)
from simple_risk.adapters.topstepx.outgoing import (
    RestRequest,
    cancel_order_request,
    close_position_request,
    modify_size_request,
    modify_stop_request,
    partial_close_request,
    place_stop_request,
)
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import RestConfig
from simple_risk.adapters.topstepx.transport import Sent
from simple_risk.daemon.executor import ORDERS, POSITIONS, Executor, IntentResult, lane_of
from simple_risk.daemon.planning import priority_of
from simple_risk.daemon.sim import wait_until
from simple_risk.engine.events import Event, OrderSide, OwnOrder
from simple_risk.engine.intents import PositionClosed, StopAt

STUCK = 1
OTHER = 3  # the same worker as STUCK when workers were picked by account % 2
MNQ = "CON.F.US.MNQ.Z26"


class FakeGateway:
    """Answers like the gateway; calls of the STUCK account hang until released."""

    def __init__(self, refuse: frozenset[int] = frozenset()) -> None:
        self.clock = ReceiveClock()
        self.config = RestConfig()
        self.deadlines: list[float | None] = []
        self.release = threading.Event()
        self.refuse = refuse
        self.sent: list[RestRequest] = []
        self.priorities: list[Priority] = []

    def presend(
        self, request: RestRequest, priority: Priority, *, deadline: float | None = None
    ) -> None:
        """Nothing is ever sent ahead here: every call goes through :meth:`execute`."""
        return None

    def execute(
        self,
        request: RestRequest,
        priority: Priority,
        *,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        self.sent.append(request)
        self.deadlines.append(deadline)
        self.priorities.append(priority)
        if request.body.get("accountId") == STUCK:
            self.release.wait(10.0)
            raise TransportError(request.endpoint, "timed out", http_status=None, attempts=5)
        if request.body.get("orderId") in self.refuse:
            raise ApiError(Endpoint.ORDER_CANCEL, 6, "Account is rejected")
        if request.endpoint is Endpoint.ORDER_PLACE:
            return {"success": True, "errorCode": 0, "orderId": 777}
        return {"success": True, "errorCode": 0}


def _next(results: queue.Queue[Event], kind: type, timeout: float = 2.0) -> Any:
    while True:
        event = results.get(timeout=timeout)
        if isinstance(event, kind):
            return event


def test_a_stuck_call_of_one_account_never_delays_another_account() -> None:
    gateway = FakeGateway()
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    try:
        executor.submit(STUCK, "stuck", [close_position_request(STUCK, MNQ)])
        executor.submit(OTHER, "other", [close_position_request(OTHER, MNQ)])
        result: IntentResult = _next(results, IntentResult)
        assert (result.key, result.outcome) == ("other", "done")
    finally:
        gateway.release.set()
        executor.stop()


def test_a_refused_call_does_not_stop_the_intents_other_calls() -> None:
    gateway = FakeGateway(refuse=frozenset({10}))
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    calls = [cancel_order_request(OTHER, 10), cancel_order_request(OTHER, 11)]
    try:
        executor.submit(OTHER, "cancel-both", calls)
        result: IntentResult = _next(results, IntentResult)
    finally:
        executor.stop()
    assert [r.body["orderId"] for r in gateway.sent] == [10, 11]
    assert result.outcome == "gave_up"
    assert result.calls == ("Order/cancel 11 (done)",)
    assert result.error is not None and "rejected" in result.error


def test_an_order_the_daemon_placed_is_reported_with_its_tag_and_id() -> None:
    gateway = FakeGateway()
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    stop = place_stop_request(OTHER, MNQ, side=OrderSide.SELL, size=1, stop_price=Decimal(20000))
    tagged = RestRequest(stop.endpoint, {**stop.body, "customTag": "sr-mine"})
    try:
        executor.submit(OTHER, "stop", [tagged])
        own: OwnOrder = _next(results, OwnOrder)
    finally:
        executor.stop()
    assert (own.account_id, own.custom_tag, own.order_id, own.size) == (OTHER, "sr-mine", 777, 1)
    assert own.at <= datetime.now(UTC)


def test_every_enforcing_call_is_bounded_by_the_enforcement_deadline() -> None:
    gateway = FakeGateway()
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    try:
        executor.submit(OTHER, "close", [close_position_request(OTHER, MNQ)])
        _next(results, IntentResult)
    finally:
        executor.stop()
    assert gateway.deadlines == [RestConfig().enforcement_deadline]


class StarvingGateway(FakeGateway):
    """Refuses every call with the given HTTP status until told to let them through."""

    def __init__(self, status: int | None) -> None:
        super().__init__()
        self.status = status
        self.through = False

    def execute(
        self,
        request: RestRequest,
        priority: Priority,
        *,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        self.sent.append(request)
        if not self.through:
            raise TransportError(request.endpoint, "gave up", http_status=self.status, attempts=4)
        return {"success": True, "errorCode": 0}


def test_a_starved_account_raises_one_critical_alert_naming_the_cause_then_a_recovery() -> None:
    gateway = StarvingGateway(429)
    results: queue.Queue[Event] = queue.Queue()
    now = [100.0]
    alerts: list[tuple[str, str]] = []
    executor = Executor(
        gateway,  # type: ignore[arg-type]
        results,
        None,
        on_starved=lambda level, text: alerts.append((level, text)),
        starved_after=3.0,
        monotonic=lambda: now[0],
    )
    close = [close_position_request(OTHER, MNQ)]
    try:
        for _ in range(4):  # four refused attempts of one intent, 1.5 s apart
            executor.submit(OTHER, "close-mnq", close)
            result: IntentResult = _next(results, IntentResult)
            assert (result.key, result.outcome) == ("close-mnq", "retry")
            now[0] += 1.5
        gateway.through = True
        executor.submit(OTHER, "close-mnq", close)
        assert _next(results, IntentResult).outcome == "done"
    finally:
        executor.stop()
    assert [level for level, _ in alerts] == ["critical", "warning"]
    assert "rate limited" in alerts[0][1] and f"account {OTHER}" in alerts[0][1]
    assert "get through again" in alerts[1][1]


def test_a_trade_management_stop_move_is_sent_at_stop_management_priority() -> None:
    move = StopAt(account=OTHER, contract_id=MNQ, price=Decimal(20010))
    close = PositionClosed(account=OTHER, contract_id=MNQ)
    assert priority_of(move) is Priority.STOP_MANAGEMENT
    assert priority_of(close) is Priority.ENFORCEMENT
    gateway = FakeGateway()
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    try:
        executor.submit(OTHER, "close", [close_position_request(OTHER, MNQ)], priority_of(close))
        _next(results, IntentResult)
        stop = modify_stop_request(OTHER, 10, stop_price=Decimal(20010))
        executor.submit(OTHER, "move", [stop], priority_of(move))
        _next(results, IntentResult)
    finally:
        executor.stop()
    assert gateway.priorities == [Priority.ENFORCEMENT, Priority.STOP_MANAGEMENT]


class ExitingGateway(FakeGateway):
    """A call that cancels order 13 raises an exit (as a library calling ``sys.exit`` would)."""

    def execute(
        self,
        request: RestRequest,
        priority: Priority,
        *,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        if request.body.get("orderId") == 13:
            self.sent.append(request)
            raise SystemExit(3)
        return super().execute(request, priority, deadline=deadline)


def test_a_call_that_raises_an_exit_is_retried_alerted_and_the_worker_goes_on() -> None:
    gateway = ExitingGateway()
    results: queue.Queue[Event] = queue.Queue()
    alerts: list[tuple[str, str]] = []
    executor = Executor(
        gateway,  # type: ignore[arg-type]
        results,
        None,
        on_alert=lambda level, text: alerts.append((level, text)),
    )
    try:
        executor.submit(OTHER, "cancel-13", [cancel_order_request(OTHER, 13)])
        executor.submit(OTHER, "cancel-14", [cancel_order_request(OTHER, 14)])  # same worker
        first: IntentResult = _next(results, IntentResult)
        second: IntentResult = _next(results, IntentResult)
    finally:
        executor.stop()
    assert (first.key, first.outcome, first.error) == ("cancel-13", "retry", "SystemExit: 3")
    assert (second.key, second.outcome) == ("cancel-14", "done")
    assert [level for level, _ in alerts] == ["critical"]
    assert f"account {OTHER}" in alerts[0][1] and "SystemExit" in alerts[0][1]


class DeadFirst:
    """Spawns worker threads; the first one ends at once without reading its queue (a
    supervised worker that exited), the others run the executor's loop."""

    def __init__(self) -> None:
        self.spawned: list[threading.Thread] = []

    def __call__(self, name: str, account: int, loop: Any) -> threading.Thread:
        target = loop if self.spawned else (lambda: None)
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.spawned.append(thread)
        return thread


def _dead_worker_executor() -> tuple[Executor, queue.Queue[Event], list[str], DeadFirst]:
    results: queue.Queue[Event] = queue.Queue()
    alerts: list[str] = []
    spawn = DeadFirst()
    executor = Executor(
        FakeGateway(),  # type: ignore[arg-type]
        results,
        None,
        on_alert=lambda level, text: alerts.append(f"{level}: {text}"),
        spawn=spawn,
    )
    return executor, results, alerts, spawn


def test_the_next_job_of_an_account_whose_worker_ended_starts_a_new_one_on_the_same_queue() -> None:
    executor, results, alerts, spawn = _dead_worker_executor()
    try:
        executor.submit(OTHER, "first", [cancel_order_request(OTHER, 10)])
        spawn.spawned[0].join(2.0)  # the worker is gone; "first" waits in its queue
        executor.submit(OTHER, "second", [cancel_order_request(OTHER, 11)])
        keys = [_next(results, IntentResult).key, _next(results, IntentResult).key]
    finally:
        executor.stop()
    assert keys == ["first", "second"]  # the waiting job first: one queue, in order
    assert len(spawn.spawned) == 2
    assert len(alerts) == 1 and alerts[0].startswith(f"critical: account {OTHER}")
    assert f"executor worker executor-{OTHER} ended" in alerts[0]


def test_revive_starts_a_new_worker_for_jobs_left_in_a_dead_workers_queue() -> None:
    executor, results, alerts, spawn = _dead_worker_executor()
    try:
        executor.submit(OTHER, "stranded", [close_position_request(OTHER, MNQ)])
        spawn.spawned[0].join(2.0)
        executor.revive()  # the engine thread's timer: no further job needed
        result: IntentResult = _next(results, IntentResult)
        executor.revive()  # a live worker is left alone
    finally:
        executor.stop()
    assert (result.key, result.outcome) == ("stranded", "done")
    assert len(spawn.spawned) == 2 and len(alerts) == 1
    assert not any(thread.is_alive() for thread in spawn.spawned)  # stop() joined it


class HoldingGateway(FakeGateway):
    """Calls to ``held`` endpoints wait until released, as a slow WAN answer would."""

    def __init__(self, *held: Endpoint) -> None:
        super().__init__()
        self.held = frozenset(held)
        self.arrived: list[str] = []  # each call's endpoint, as it reaches the gateway
        self._sent_lock = threading.Lock()

    def execute(
        self,
        request: RestRequest,
        priority: Priority,
        *,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        with self._sent_lock:
            self.arrived.append(request.endpoint.value)
        if request.endpoint in self.held:
            self.release.wait(10.0)
        return super().execute(request, priority, deadline=deadline)


def test_a_close_is_never_queued_behind_a_slow_cancel_of_the_same_account() -> None:
    """A market order in a blocked symbol: the open order is cancelled, then the fill's
    position closed. The close must go out while the cancel waits for its answer."""
    gateway = HoldingGateway(Endpoint.ORDER_CANCEL)
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    try:
        executor.submit(OTHER, "cancel", [cancel_order_request(OTHER, 10)])
        executor.submit(OTHER, "close", [close_position_request(OTHER, MNQ)])
        first: IntentResult = _next(results, IntentResult)
        assert (first.key, first.outcome) == ("close", "done")
        gateway.release.set()
        assert _next(results, IntentResult).key == "cancel"
    finally:
        gateway.release.set()
        executor.stop()


def test_a_reductions_stop_resize_is_sent_only_after_the_reduction() -> None:
    gateway = HoldingGateway(Endpoint.POSITION_PARTIAL_CLOSE)
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    reduce = [partial_close_request(OTHER, MNQ, 1), modify_size_request(OTHER, 10, size=3)]
    try:
        executor.submit(OTHER, "reduce", reduce)
        executor.submit(OTHER, "cancel", [cancel_order_request(OTHER, 11)])
        assert _next(results, IntentResult).key == "cancel"  # the other lane goes on
        assert gateway.arrived.count("Order/modify") == 0  # the resize waits for the reduce
        gateway.release.set()
        assert _next(results, IntentResult).outcome == "done"
    finally:
        gateway.release.set()
        executor.stop()
    assert [call.endpoint for call in gateway.sent if call.body.get("orderId") != 11] == [
        Endpoint.POSITION_PARTIAL_CLOSE,
        Endpoint.ORDER_MODIFY,
    ]


class RefusingReductions(FakeGateway):
    """Refuses every reduction of one contract (the gateway's rate limit, or its refusal)."""

    def __init__(self, contract: str, error: Exception) -> None:
        super().__init__()
        self.contract = contract
        self.error = error

    def execute(
        self,
        request: RestRequest,
        priority: Priority,
        *,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        if request.body.get("contractId") == self.contract:
            self.sent.append(request)
            raise self.error
        return super().execute(request, priority, deadline=deadline)


@pytest.mark.parametrize(
    "error",
    [
        TransportError(Endpoint.POSITION_PARTIAL_CLOSE, "gave up", http_status=429, attempts=4),
        ApiError(Endpoint.POSITION_PARTIAL_CLOSE, 6, None),  # OrderRejected: no price
    ],
    ids=["rate-limited", "refused"],
)
def test_a_stop_is_not_resized_for_a_reduction_that_did_not_happen(error: Exception) -> None:
    """A reduction resizes the position's stop to what it leaves; when the reduction fails,
    the stop must keep covering the whole position (the next attempt resizes it after its
    reduction). Another position's reduction in the same intent still goes, with its resize."""
    es = "CON.F.US.EP.Z26"
    gateway = RefusingReductions(MNQ, error)
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    reduce = [
        partial_close_request(OTHER, MNQ, 2),
        modify_size_request(OTHER, 10, size=5),  # MNQ's stop: 7 -> 5
        partial_close_request(OTHER, es, 1),
        modify_size_request(OTHER, 20, size=1),  # ES's stop: 2 -> 1
    ]
    try:
        executor.submit(OTHER, "reduce", reduce)
        result: IntentResult = _next(results, IntentResult)
    finally:
        executor.stop()
    assert [(c.endpoint, c.body.get("orderId")) for c in gateway.sent] == [
        (Endpoint.POSITION_PARTIAL_CLOSE, None),
        (Endpoint.POSITION_PARTIAL_CLOSE, None),
        (Endpoint.ORDER_MODIFY, 20),
    ]
    assert result.outcome in ("retry", "gave_up")


def test_a_reduction_that_may_have_acted_is_reported_unsure_not_retried_blindly() -> None:
    """No answer to a partial close the gateway may have carried out: the intent is reported
    ``unsure`` (planned again only from REST's facts), and the stop is not resized for it."""
    unknown = OutcomeUnknown(
        Endpoint.POSITION_PARTIAL_CLOSE, "connection ended", http_status=None, attempts=1
    )
    gateway = RefusingReductions(MNQ, unknown)
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    try:
        executor.submit(
            OTHER,
            "reduce",
            [partial_close_request(OTHER, MNQ, 2), modify_size_request(OTHER, 10, size=5)],
        )
        result: IntentResult = _next(results, IntentResult)
    finally:
        executor.stop()
    assert result.outcome == "unsure"
    assert [c.endpoint for c in gateway.sent] == [Endpoint.POSITION_PARTIAL_CLOSE]


def test_the_closes_of_one_account_stay_in_order_on_their_lane() -> None:
    gateway = HoldingGateway(Endpoint.POSITION_CLOSE)
    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(gateway, results, None)  # type: ignore[arg-type]
    try:
        executor.submit(OTHER, "close-mnq", [close_position_request(OTHER, MNQ)])
        executor.submit(OTHER, "close-es", [close_position_request(OTHER, "CON.F.US.EP.Z26")])
        assert wait_until(lambda: gateway.arrived == ["Position/closeContract"], 2.0)
        assert gateway.arrived == ["Position/closeContract"]  # the second waits its turn
        gateway.release.set()
        keys = [_next(results, IntentResult).key, _next(results, IntentResult).key]
    finally:
        gateway.release.set()
        executor.stop()
    assert keys == ["close-mnq", "close-es"]


@pytest.mark.parametrize(
    ("calls", "lane"),
    [
        ([close_position_request(OTHER, MNQ)], POSITIONS),
        ([partial_close_request(OTHER, MNQ, 1), modify_size_request(OTHER, 10, size=1)], POSITIONS),
        ([cancel_order_request(OTHER, 10), cancel_order_request(OTHER, 11)], ORDERS),
        ([modify_stop_request(OTHER, 10, stop_price=Decimal(20010))], ORDERS),
        ([modify_size_request(OTHER, 10, size=1)], ORDERS),
    ],
)
def test_what_removes_exposure_has_its_own_lane(calls: list[RestRequest], lane: str) -> None:
    assert lane_of(calls) == lane


def test_stop_joins_the_workers_of_every_lane() -> None:
    spawned: list[threading.Thread] = []

    def spawn(name: str, account: int, loop: Any) -> threading.Thread:
        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        spawned.append(thread)
        return thread

    results: queue.Queue[Event] = queue.Queue()
    executor = Executor(FakeGateway(), results, None, spawn=spawn)  # type: ignore[arg-type]
    executor.submit(OTHER, "cancel", [cancel_order_request(OTHER, 10)])
    executor.submit(OTHER, "close", [close_position_request(OTHER, MNQ)])
    executor.stop()
    assert sorted(t.name for t in spawned) == [
        f"executor-{OTHER}",
        f"executor-{OTHER}-positions",
    ]
    assert not any(thread.is_alive() for thread in spawned)
    assert executor.calls_sent == 2
