"""Where a loopback breach's time goes: ``python -m bench.latency --stages``.

Stamps three moments of every breach with one monotonic clock, by wrapping three methods for
the duration of a run (a benchmark-only instrument, never the daemon's code path):

- the simulator is told to emit the breaching position (``Simulator.emit_user_event``);
- the daemon's hub thread puts the converted event on the engine's queue (``HubClient._put``);
- an executor lane starts the enforcing ``Position/closeContract`` call (``RestClient.execute``)
  and gets its answer.

Printed per stage: p50 and p99 in milliseconds. The gap from the emit to the hub thread is the
simulator's event loop and the websocket; hub thread → call is the engine thread and the
executor lane (the engine's own work is microseconds of it); call → answer is the HTTP round
trip, including the REST client's HTTP thread and the simulator's server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.hubs import HubClient
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.engine.events import Event, PositionUpdate

#: stamp name → one perf_counter value per breach, in breach order
Stamps = dict[str, list[float]]


@contextmanager
def stage_clock() -> Iterator[Stamps]:
    """Wrap the three methods while the block runs; yields the stamps as they are taken."""
    stamps: Stamps = {"emit": [], "queued": [], "call": [], "answer": []}
    clock = time.perf_counter
    put, execute, emit = HubClient._put, RestClient.execute, Simulator.emit_user_event

    def timed_put(self: HubClient, event: Event) -> None:
        if isinstance(event, PositionUpdate) and event.size:
            stamps["queued"].append(clock())
        put(self, event)

    def timed_execute(self: RestClient, request: Any, *args: Any, **kwargs: Any) -> Any:
        closes = request.endpoint is Endpoint.POSITION_CLOSE
        if closes:
            stamps["call"].append(clock())
        try:
            return execute(self, request, *args, **kwargs)
        finally:
            if closes:
                stamps["answer"].append(clock())

    def timed_emit(
        self: Simulator, target: str, arguments: list[Any], account_id: int | None = None
    ) -> int:
        data = arguments[0].get("data", {}) if arguments and isinstance(arguments[0], dict) else {}
        if target == "GatewayUserPosition" and data.get("size"):
            stamps["emit"].append(clock())
        return emit(self, target, arguments, account_id)

    HubClient._put = timed_put  # type: ignore[method-assign]
    RestClient.execute = timed_execute  # type: ignore[method-assign]
    Simulator.emit_user_event = timed_emit  # type: ignore[method-assign]
    try:
        yield stamps
    finally:
        HubClient._put = put  # type: ignore[method-assign]
        RestClient.execute = execute  # type: ignore[method-assign]
        Simulator.emit_user_event = emit  # type: ignore[method-assign]


def _p(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def report(stamps: Stamps) -> list[str]:
    """One line per stage: ``name: p50 … ms, p99 … ms``."""
    count = min(len(values) for values in stamps.values())
    if count == 0:
        return ["stages: no breach was stamped"]
    stages = (
        ("emit → hub thread queued it", "emit", "queued"),
        ("queued → enforcing call starts", "queued", "call"),
        ("call → its answer", "call", "answer"),
    )
    lines = [f"stages over {count} breaches (ms):"]
    for label, start, end in stages:
        gaps = [(stamps[end][i] - stamps[start][i]) * 1000 for i in range(count)]
        lines.append(f"  {label:<32} p50 {_p(gaps, 0.5):.2f}  p99 {_p(gaps, 0.99):.2f}")
    return lines


__all__ = ["Stamps", "report", "stage_clock"]
