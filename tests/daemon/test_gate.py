"""The engine gate: concurrent identical reads share one build, reads are paced through one
lane, admin work goes one at a time — so a flood of requests cannot crowd the engine."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from simple_risk.daemon.control.gate import EngineGate
from simple_risk.daemon.control.protocol import ProtocolError, encode, encode_answer


class FakeEngine:
    """Runs submitted work on one thread of its own, one item at a time, like the engine."""

    def __init__(self) -> None:
        self.ran: list[float] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], Any], timeout: float) -> Any:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.ran.append(time.monotonic())
            return fn()
        finally:
            with self._lock:
                self.running -= 1


def in_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def one(index: int) -> None:
        start.wait()
        try:
            results[index] = work()
        except ProtocolError as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_identical_reads_share_one_build() -> None:
    engine = FakeEngine()
    gate = EngineGate(engine.run, spacing=0.0)
    release = threading.Event()

    def build() -> dict[str, Any]:
        release.wait(2.0)
        return {"open": 3}

    threading.Timer(0.2, release.set).start()
    results = in_threads(20, lambda: gate.read("status", build, 5.0))
    assert {r.data for r in results} == {b'{"open":3}'}
    assert gate.reads_built + gate.reads_shared == 20
    assert gate.reads_built <= 2  # the first one, and perhaps one that came after it ended


def test_reads_go_one_at_a_time_with_spacing_between_them() -> None:
    engine = FakeEngine()
    gate = EngineGate(engine.run, spacing=0.05)
    keys = iter(range(5))
    lock = threading.Lock()

    def read() -> Any:
        with lock:
            key = next(keys)
        return gate.read(key, lambda: {"k": key}, 5.0)

    in_threads(5, read)
    assert engine.most_at_once == 1
    gaps = [later - earlier for earlier, later in zip(engine.ran, engine.ran[1:], strict=False)]
    assert len(engine.ran) == 5
    assert all(gap >= 0.045 for gap in gaps), gaps


def test_a_read_that_cannot_get_its_turn_in_time_is_unavailable() -> None:
    engine = FakeEngine()
    gate = EngineGate(engine.run, spacing=10.0)
    gate.read("first", lambda: {}, 1.0)
    with pytest.raises(ProtocolError) as refused:
        gate.read("second", lambda: {}, 0.1)
    assert refused.value.code == "unavailable"


def test_every_waiter_of_a_failed_read_gets_the_error() -> None:
    engine = FakeEngine()
    gate = EngineGate(engine.run, spacing=0.0)

    def build() -> dict[str, Any]:
        time.sleep(0.1)
        raise ProtocolError("not_found", "no such rule")

    results = in_threads(5, lambda: gate.read("explain", build, 5.0))
    assert {(r.code, r.message) for r in results} == {("not_found", "no such rule")}
    assert len({id(r) for r in results}) == 5  # each its own copy


def test_admin_work_goes_one_at_a_time() -> None:
    engine = FakeEngine()
    gate = EngineGate(engine.run, spacing=0.0)
    results = in_threads(4, lambda: gate.admin(lambda: time.sleep(0.02) or "done", 5.0))
    assert results == ["done"] * 4
    assert engine.most_at_once == 1


def test_a_shared_answer_is_the_same_line_as_one_encoded_whole() -> None:
    result = {"now": "2026-11-24T15:00:00+00:00", "accounts": [{"id": 7, "name": "Ä"}]}
    data = json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()
    for request_id in (1, "abc", None):
        whole = encode({"id": request_id, "ok": True, "result": result})
        assert encode_answer(request_id, data) == whole
