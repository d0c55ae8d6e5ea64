"""The supervisor: a part that raises is logged, alerted and restarted; one that keeps failing
is DEGRADED for its accounts (every account, for a shared part) until it runs a whole window
without failing. The daemon-level tests (a real simulator) are in tests/e2e/test_supervised.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from simple_risk.daemon.sim import wait_until
from simple_risk.daemon.supervisor import Supervisor, SupervisorOptions

FAST = SupervisorOptions(backoff=0.001, max_backoff=0.01, intensity=3, window=60.0)


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, str]] = []

    def __call__(self, level: str, message: str) -> None:
        self.raised.append((level, message))


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failing(times: int, then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A loop that raises ``times`` times, then runs ``then`` and returns."""
    calls = [0]

    def loop() -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise RuntimeError(f"failure {calls[0]}")
        if then is not None:
            then()

    return loop


def test_a_part_that_raises_once_is_logged_alerted_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alerts = Alerts()
    finished = threading.Event()
    supervisor = Supervisor(alerts, FAST)
    with caplog.at_level(logging.CRITICAL, logger="simple_risk.daemon.supervisor"):
        thread = supervisor.spawn("engine", failing(1, finished.set))
        thread.join(5.0)
    assert finished.is_set()  # restarted, and ran to its end
    assert alerts.raised == [("critical", "engine failed (RuntimeError: failure 1); restarting it")]
    assert "Traceback" in caplog.text and "RuntimeError: failure 1" in caplog.text
    (part,) = supervisor.parts()
    assert part["restarts"] == 1 and part["degraded"] is False
    assert supervisor.degraded([1, 2]) == {}


def test_an_account_part_that_keeps_failing_degrades_only_its_account() -> None:
    alerts = Alerts()
    supervisor = Supervisor(alerts, FAST)
    supervisor.spawn("reconcile-1", failing(3), accounts=[1]).join(5.0)
    assert supervisor.degraded([1, 2]) == {1: ["reconcile-1"]}
    assert "DEGRADED: account(s) 1" in alerts.raised[-1][1]
    assert all(level == "critical" for level, _ in alerts.raised)
    assert len(alerts.raised) == 3  # every failure alerted


def test_a_shared_part_that_keeps_failing_degrades_every_account() -> None:
    alerts = Alerts()
    supervisor = Supervisor(alerts, FAST)
    supervisor.spawn("engine", failing(3)).join(5.0)
    assert supervisor.degraded([1, 2]) == {1: ["engine"], 2: ["engine"]}
    assert "DEGRADED: every account" in alerts.raised[-1][1]


def test_failures_spread_wider_than_the_window_do_not_degrade() -> None:
    clock = Clock()
    alerts = Alerts()
    supervisor = Supervisor(alerts, FAST, monotonic=clock)
    calls = [0]

    def loop() -> None:
        calls[0] += 1
        clock.now += 31.0  # each failure half a window and more after the last
        if calls[0] <= 5:
            raise RuntimeError("now and then")

    supervisor.spawn("engine", loop).join(5.0)
    assert calls[0] == 6
    assert supervisor.degraded([1]) == {}


def test_a_degraded_part_is_healthy_again_after_a_window_without_failing() -> None:
    clock = Clock()
    supervisor = Supervisor(Alerts(), FAST, monotonic=clock)
    supervisor.spawn("engine", failing(3)).join(5.0)
    assert supervisor.degraded([1]) == {1: ["engine"]}
    clock.now += 59.0
    assert supervisor.degraded([1]) == {1: ["engine"]}
    clock.now += 2.0
    assert supervisor.degraded([1]) == {}


def test_the_backoff_doubles_up_to_its_cap() -> None:
    waits: list[float] = []
    options = SupervisorOptions(backoff=0.001, max_backoff=0.004, intensity=100, window=60.0)
    supervisor = Supervisor(Alerts(), options)

    class Recording(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            return False

    supervisor._stopping = Recording()  # the pause between restarts is a wait on it
    supervisor.spawn("engine", failing(5)).join(5.0)
    assert waits == [0.001, 0.002, 0.004, 0.004, 0.004]


def test_a_part_failing_while_the_daemon_stops_is_not_restarted() -> None:
    alerts = Alerts()
    supervisor = Supervisor(alerts, FAST)
    supervisor.stop()
    calls = [0]

    def loop() -> None:
        calls[0] += 1
        raise RuntimeError("the socket closed under it")

    supervisor.spawn("engine", loop).join(5.0)
    assert calls[0] == 1
    assert alerts.raised == []


def test_an_exit_that_is_not_an_error_ends_the_part_and_is_reported() -> None:
    fatal: list[BaseException] = []
    supervisor = Supervisor(Alerts(), FAST, on_fatal=fatal.append)
    calls = [0]

    def loop() -> None:
        calls[0] += 1
        raise SystemExit(3)

    thread = supervisor.spawn("engine", loop)
    assert wait_until(lambda: not thread.is_alive(), 5.0)
    assert calls[0] == 1
    assert len(fatal) == 1 and isinstance(fatal[0], SystemExit)
