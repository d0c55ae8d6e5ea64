"""Supervised parts against the simulator (issue #13 item 2): an unexpected exception in a
part of a real daemon is logged with its traceback, raised as a critical alert and the part
restarted, and enforcement goes on; a part that keeps failing shows its account(s) DEGRADED
in the status, ``engine status``'s view and the dashboard's.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from simple_risk.daemon.control import views
from simple_risk.engine.events import ClockTick, Event

from .harness import ACCOUNT, OTHER, Harness, Start


def _critical(h: Harness, words: str) -> bool:
    return any(
        alert["level"] == "critical" and words in alert["message"]
        for alert in h.daemon.alerter.recent
    )


def _part(h: Harness, name: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = h.daemon.status()["parts"]  # type: ignore[assignment]
    return next(part for part in parts if part["name"] == name)


def _degraded(h: Harness, account: int) -> list[str]:
    accounts: dict[str, Any] = h.daemon.status()["accounts"]  # type: ignore[assignment]
    return list(accounts[str(account)]["degraded"])


def test_the_engine_loop_failing_once_is_logged_alerted_restarted_and_enforcement_goes_on(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    h = start()
    loop = h.daemon.loop
    dispatch = loop.dispatch
    failed = threading.Event()

    def broken(event: Event) -> None:
        if isinstance(event, ClockTick) and not failed.is_set():
            failed.set()
            raise RuntimeError("injected into the engine loop")
        dispatch(event)

    with caplog.at_level(logging.CRITICAL, logger="simple_risk.daemon.supervisor"):
        loop.dispatch = broken  # type: ignore[method-assign]
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
        h.wait(lambda: _degraded(h, ACCOUNT) == ["engine"], "DEGRADED")
        assert _degraded(h, OTHER) == ["engine"]
        assert _critical(h, "DEGRADED: every account")
        status = views.account_status(h.daemon, ACCOUNT, h.daemon.clock.now())
        assert status["connection"]["degraded"] == ["engine"]
    finally:
        del loop.dispatch  # mended: the daemon can stop


def test_a_reconcile_worker_that_keeps_failing_degrades_its_account_only(start: Start) -> None:
    h = start(accounts=(ACCOUNT, OTHER))
    reconciler = h.daemon.reconciler
    gap = reconciler.gap

    def broken() -> float:
        if threading.current_thread().name == f"reconcile-{ACCOUNT}":
            raise RuntimeError("the reconcile worker is broken")
        return gap()

    reconciler.gap = broken  # type: ignore[method-assign]
    try:
        h.daemon.request_reconcile(ACCOUNT, "test")  # fails, and fails again when re-asked
        h.wait(lambda: _part(h, f"reconcile-{ACCOUNT}")["restarts"] >= 3, "three failures")
        assert _degraded(h, ACCOUNT) == [f"reconcile-{ACCOUNT}"]
        assert _degraded(h, OTHER) == []
        assert _critical(h, f"DEGRADED: account(s) {ACCOUNT}")
        h.trader.buy(OTHER, "RTY")  # the other account is enforced as ever
        h.wait(lambda: h.trader.size(OTHER) == 0, "the other account's enforcement")
    finally:
        del reconciler.gap


def test_every_worker_thread_runs_under_the_supervisor(start: Start) -> None:
    h = start()
    h.trader.buy(ACCOUNT, "RTY")  # the account's executor worker starts with its first job
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close")
    names = {str(part["name"]) for part in h.daemon.status()["parts"]}  # type: ignore[attr-defined]
    assert {"engine", "store-writer", f"reconcile-{ACCOUNT}", f"executor-{ACCOUNT}"} <= names
    assert not any(part["restarts"] for part in h.daemon.status()["parts"])  # type: ignore[attr-defined]


def test_the_store_writer_failing_is_restarted_and_enforcement_goes_on(start: Start) -> None:
    """The writer's own loop raising (a bug in it, not a store error: those the writer
    handles itself) is alerted and the loop restarted; nothing queued is lost."""
    h = start()
    writer = h.daemon.persistence.writer
    assert writer is not None
    take = writer._take
    failed = threading.Event()

    def broken() -> Any:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("injected into the store writer")
        return take()

    writer._take = broken  # type: ignore[method-assign]
    store = h.daemon.store
    before = store.last_seq(ACCOUNT)
    try:
        h.trader.buy(ACCOUNT, "RTY")  # journaled first: the writer's loop fails on it
        h.wait(lambda: _critical(h, "store-writer failed (RuntimeError: injected"), "the alert")
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement from memory")
        h.wait(lambda: _part(h, "store-writer")["restarts"] == 1, "the restart")
        h.wait(lambda: store.last_seq(ACCOUNT) > before, "what was queued, written after all")
        before = store.last_seq(ACCOUNT)
        h.trader.buy(ACCOUNT, "RTY")  # the restarted writer journals again
        h.wait(lambda: store.last_seq(ACCOUNT) > before, "the journal written again")
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the second close")
    finally:
        del writer._take


def test_a_journal_write_that_raises_a_bug_drops_those_events_and_says_so(start: Start) -> None:
    """A store call raising something that is not a store error cannot succeed later: its
    events are dropped with a critical alert, and the writer goes on with the rest."""
    h = start()
    store = h.daemon.store
    append_events = store.append_events
    failed = threading.Event()

    def broken(account: int, events: Any) -> Any:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("injected into a journal write")
        return append_events(account, events)

    store.append_events = broken  # type: ignore[method-assign]
    try:
        h.trader.buy(ACCOUNT, "RTY")
        h.wait(lambda: _critical(h, "could not be written (RuntimeError: injected"), "the alert")
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement from memory")
        before = store.last_seq(ACCOUNT)
        h.trader.buy(ACCOUNT, "RTY")
        h.wait(lambda: store.last_seq(ACCOUNT) > before, "the journal written again")
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the second close")
        assert _part(h, "store-writer")["restarts"] == 0, "handled inside, not a restart"
    finally:
        del store.append_events


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
    start: Start,
) -> None:
    h = start()
    fetched = _fetched(h)
    reconciler = h.daemon.reconciler
    gap = reconciler.gap
    failed = threading.Event()

    def broken() -> float:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("the reconcile worker failed once")
        return gap()

    reconciler.gap = broken  # type: ignore[method-assign]
    h.daemon.request_reconcile(ACCOUNT, "test")  # the request the failure loses
    h.wait(lambda: (ACCOUNT, "reconcile worker restarted") in fetched, "the reconcile again")
    assert (ACCOUNT, "test") not in fetched
    assert _part(h, f"reconcile-{ACCOUNT}")["restarts"] == 1


def test_a_restarted_engine_loop_reconciles_every_account(start: Start) -> None:
    h = start(accounts=(ACCOUNT, OTHER))
    fetched = _fetched(h)
    loop = h.daemon.loop
    dispatch = loop.dispatch
    failed = threading.Event()

    def broken(event: Event) -> None:
        if isinstance(event, ClockTick) and not failed.is_set():
            failed.set()
            raise RuntimeError("injected into the engine loop")
        dispatch(event)

    loop.dispatch = broken  # type: ignore[method-assign]
    h.wait(lambda: loop.runs == 2, "the restart")
    h.wait(
        lambda: {(a, "engine loop restarted") for a in (ACCOUNT, OTHER)} <= set(fetched),
        "both accounts reconciled",
    )
