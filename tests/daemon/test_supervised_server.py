"""Supervised parts through the status socket (docs/architecture.md §6): ``status`` says which
parts serving an account keep failing, and the socket's own accept loop is restarted when it
fails."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from simple_risk.daemon.control.admission import Slot
from simple_risk.daemon.control.auth import Peer
from tests.faults import reconcile_broken

from .conftest import ACCOUNT, Running, Start


def _critical(running: Running, words: str) -> bool:
    return any(
        alert["level"] == "critical" and words in alert["message"]
        for alert in running.daemon.alerter.recent
    )


def _restarts(running: Running, name: str) -> int:
    parts: list[dict[str, Any]] = running.daemon.status()["parts"]  # type: ignore[assignment]
    return int(next(part for part in parts if part["name"] == name)["restarts"])


def test_status_names_the_parts_that_keep_failing_for_the_account(start: Start) -> None:
    running = start()
    assert running.status()["connection"]["degraded"] == []
    with reconcile_broken(running.daemon, ACCOUNT):
        running.daemon.request_reconcile(ACCOUNT, "test")  # fails, and again when re-asked
        running.wait(lambda: _restarts(running, f"reconcile-{ACCOUNT}") >= 3, "three failures")
        connection = running.status()["connection"]
        assert connection["degraded"] == [f"reconcile-{ACCOUNT}"]
        assert connection["live"] is True  # it was live before; the state is not hidden


def test_the_sockets_accept_loop_failing_is_alerted_and_restarted(start: Start) -> None:
    running = start()
    server = running.daemon.server
    assert server is not None
    admit = server.admission.admit
    failed = threading.Event()

    def broken(peer: Peer) -> Slot:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("injected into the accept loop")
        return admit(peer)

    server.admission.admit = broken  # type: ignore[method-assign]
    with contextlib.suppress(Exception), running.connect(timeout=2.0) as connection:
        connection.request("hello")  # the connection the failing loop accepted is dropped
    running.wait(lambda: _critical(running, "status-accept failed (RuntimeError"), "the alert")
    running.wait(lambda: _restarts(running, "status-accept") == 1, "the restart")
    assert running.request("hello")["accounts"] == [ACCOUNT]
    assert running.status()["connection"]["degraded"] == []  # no account depends on it
