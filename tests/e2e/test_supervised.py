"""Supervised parts against the simulator (issue #13 item 2): an unexpected exception in a
part of a real daemon is logged with its traceback, raised as a critical alert and the part
restarted, and enforcement goes on; a part that keeps failing shows its account(s) DEGRADED
in the status, ``engine status``'s view and the dashboard's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.daemon.control import views
from simple_risk.daemon.sim import wait_until
from simple_risk.engine.events import ClockTick, Event
from tests.faults import reconcile_broken

from .harness import ACCOUNT, OTHER, Harness, Start


def _critical(h: Harness, words: str) -> bool:
    return any(
        alert["level"] == "critical" and words in alert["message"]
        for alert in h.daemon.alerter.recent
    )


def _part(h: Harness, name: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = h.daemon.status()["parts"]  # type: ignore[assignment]
    return next(part for part in parts if part["name"] == name)


def _fail_once(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    message: str,
    when: Callable[..., bool] | None = None,
    error: Callable[[str], BaseException] = RuntimeError,
) -> None:
    """``owner.name`` raises ``error(message)`` (a ``RuntimeError``) the first time it is
    called (with arguments ``when`` accepts), then works as before; undone when the test
    ends."""
    original = getattr(owner, name)
    failed = threading.Event()

    def broken(*args: Any, **kwargs: Any) -> Any:
        if not failed.is_set() and (when is None or when(*args)):
            failed.set()
            raise error(message)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, broken)


def _on_a_tick(event: Event) -> bool:
    return isinstance(event, ClockTick)


def _degraded(h: Harness, account: int) -> list[str]:
    accounts: dict[str, Any] = h.daemon.status()["accounts"]  # type: ignore[assignment]
    return list(accounts[str(account)]["degraded"])


def test_the_engine_loop_failing_once_is_logged_alerted_restarted_and_enforcement_goes_on(
    start: Start, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start()
    with caplog.at_level(logging.CRITICAL, logger="simple_risk.daemon.supervisor"):
        _fail_once(
            monkeypatch, h.daemon.loop, "dispatch", "injected into the engine loop", _on_a_tick
        )
        h.wait(lambda: _critical(h, "engine failed (RuntimeError: injected"), "the alert")
    assert "Traceback" in caplog.text and "injected into the engine loop" in caplog.text
    h.wait(lambda: _part(h, "engine")["restarts"] == 1, "the restart")
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: the restarted loop enforces it
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement after the restart")
    assert _degraded(h, ACCOUNT) == []


def test_an_always_failing_engine_loop_shows_every_account_degraded(start: Start) -> None:
    h = start(accounts=(ACCOUNT, OTHER))
    loop = h.daemon.loop

    def broken(event: Event) -> None:
        raise RuntimeError("the engine loop cannot dispatch")

    loop.dispatch = broken  # type: ignore[method-assign]
    try:
        assert wait_until(lambda: _degraded(h, ACCOUNT) == ["engine"], 8.0), h.daemon.status()
        assert _degraded(h, OTHER) == ["engine"], h.daemon.status()
        # the supervisor records the failure (the status says DEGRADED at once), then logs
        # the traceback, then alerts: the alert follows within the log's own time
        assert wait_until(lambda: _critical(h, "DEGRADED: every account"), 2.0), (
            h.daemon.alerter.recent
        )
        status = views.account_status(h.daemon, ACCOUNT, h.daemon.clock.now())
        assert status["connection"]["degraded"] == ["engine"]
    finally:
        del loop.dispatch  # mended: the daemon can stop


def test_a_reconcile_worker_that_keeps_failing_degrades_its_account_only(start: Start) -> None:
    h = start(accounts=(ACCOUNT, OTHER))
    with reconcile_broken(h.daemon, ACCOUNT):
        h.daemon.request_reconcile(ACCOUNT, "test")  # fails, and fails again when re-asked
        h.wait(lambda: _part(h, f"reconcile-{ACCOUNT}")["restarts"] >= 3, "three failures")
        assert _degraded(h, ACCOUNT) == [f"reconcile-{ACCOUNT}"]
        assert _degraded(h, OTHER) == []
        h.wait(lambda: _critical(h, f"DEGRADED: account(s) {ACCOUNT}"), "the alert")  # follows
        h.trader.buy(OTHER, "RTY")  # the other account is enforced as ever
        h.wait(lambda: h.trader.size(OTHER) == 0, "the other account's enforcement")


def test_every_worker_thread_runs_under_the_supervisor(start: Start) -> None:
    h = start()
    h.trader.buy(ACCOUNT, "RTY")  # the account's executor worker starts with its first job
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close")
    names = {str(part["name"]) for part in h.daemon.status()["parts"]}  # type: ignore[attr-defined]
    assert {"engine", "store-writer", f"reconcile-{ACCOUNT}", f"executor-{ACCOUNT}"} <= names
    assert not any(part["restarts"] for part in h.daemon.status()["parts"])  # type: ignore[attr-defined]


def test_the_store_writer_failing_is_restarted_and_enforcement_goes_on(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer's own loop raising (a bug in it, not a store error: those the writer
    handles itself) is alerted and the loop restarted; nothing queued is lost."""
    h = start()
    writer = h.daemon.persistence.writer
    assert writer is not None
    _fail_once(monkeypatch, writer, "_take", "injected into the store writer")
    store = h.daemon.store
    before = store.last_seq(ACCOUNT)
    h.trader.buy(ACCOUNT, "RTY")  # journaled first: the writer's loop fails on it
    h.wait(lambda: _critical(h, "store-writer failed (RuntimeError: injected"), "the alert")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement from memory")
    h.wait(lambda: _part(h, "store-writer")["restarts"] == 1, "the restart")
    h.wait(lambda: store.last_seq(ACCOUNT) > before, "what was queued, written after all")
    before = store.last_seq(ACCOUNT)
    h.trader.buy(ACCOUNT, "RTY")  # the restarted writer journals again
    h.wait(lambda: store.last_seq(ACCOUNT) > before, "the journal written again")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the second close")


def test_a_journal_write_that_raises_a_bug_drops_those_events_and_says_so(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store call raising something that is not a store error cannot succeed later: its
    events are dropped with a critical alert, and the writer goes on with the rest."""
    h = start()
    store = h.daemon.store
    _fail_once(monkeypatch, store, "append_events", "injected into a journal write")
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: _critical(h, "could not be written (RuntimeError: injected"), "the alert")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement from memory")
    before = store.last_seq(ACCOUNT)
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: store.last_seq(ACCOUNT) > before, "the journal written again")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the second close")
    assert _part(h, "store-writer")["restarts"] == 0, "handled inside, not a restart"


def _fetched(h: Harness) -> list[tuple[int, str]]:
    """Records (account, reason) of every reconcile fetched from now on."""
    reconciler = h.daemon.reconciler
    fetch = reconciler.fetch
    fetched: list[tuple[int, str]] = []

    def recording(account: int, reason: str) -> Any:
        fetched.append((account, reason))
        return fetch(account, reason)

    reconciler.fetch = recording  # type: ignore[method-assign]
    return fetched


def test_a_restarted_reconcile_worker_asks_again_so_the_account_is_reconciled(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start()
    fetched = _fetched(h)
    _fail_once(monkeypatch, h.daemon.reconciler, "gap", "the reconcile worker failed once")
    h.daemon.request_reconcile(ACCOUNT, "test")  # the request the failure loses
    h.wait(lambda: (ACCOUNT, "reconcile worker restarted") in fetched, "the reconcile again")
    assert (ACCOUNT, "test") not in fetched
    assert _part(h, f"reconcile-{ACCOUNT}")["restarts"] == 1


def test_a_restarted_engine_loop_reconciles_every_account(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start(accounts=(ACCOUNT, OTHER))
    fetched = _fetched(h)
    loop = h.daemon.loop
    _fail_once(monkeypatch, loop, "dispatch", "injected into the engine loop", _on_a_tick)
    h.wait(lambda: loop.runs == 2, "the restart")
    h.wait(
        lambda: {(a, "engine loop restarted") for a in (ACCOUNT, OTHER)} <= set(fetched),
        "both accounts reconciled",
    )


def _a_close(request: RestRequest, *args: object, **kwargs: object) -> bool:
    return request.endpoint is Endpoint.POSITION_CLOSE


def test_a_close_that_raises_an_exit_is_alerted_and_retried_and_the_account_still_enforced(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exit raised inside a call (a library calling ``sys.exit``) once ended the account's
    executor worker: every later job of the account sat in a queue nobody read."""
    h = start()
    _fail_once(monkeypatch, h.daemon.client, "execute", "a call exited", _a_close, error=SystemExit)
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed, the first close exits
    h.wait(lambda: _critical(h, "raised SystemExit: a call exited"), "the alert")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the retried close")
    h.trader.buy(ACCOUNT, "RTY")  # the same worker still enforces the account
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the next breach's close")
    assert h.daemon.error is None  # not an exit of the daemon
    assert not any(part["restarts"] for part in h.daemon.status()["parts"])  # type: ignore[attr-defined]
