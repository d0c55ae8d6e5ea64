"""A store outage never stops enforcement (issue #13 item 3).

The database is made really unavailable — another connection holds SQLite's write lock past
the daemon's busy timeout — while the trader breaks a rule. The daemon enforces from memory,
says loudly that nothing is being saved, and once the lock is released writes everything it
held, in order: the journal, the firing, the intents' states.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simple_risk.daemon.config import DaemonConfig
from simple_risk.engine.events import PositionUpdate
from simple_risk.store import Store

from . import harness
from .harness import ACCOUNT, FAST_OPTIONS, Harness, Restart, Start


def _quick_store(config: DaemonConfig) -> Store:
    """The daemon's store, giving up on a locked database after 0.2 s instead of 30 s."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return Store.open(config.database, busy_timeout=timedelta(seconds=0.2))


@pytest.fixture(autouse=True)
def quick_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "open_store", _quick_store)


def _database(h: Harness) -> Path:
    return Path(h.daemon.config.database.removeprefix("sqlite:///"))


@contextmanager
def _locked(h: Harness) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock: every write of the daemon fails as unavailable."""
    blocker = sqlite3.connect(_database(h), isolation_level=None, timeout=10.0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield blocker
    finally:
        blocker.rollback()
        blocker.close()


def _alerted(h: Harness, level: str, words: str) -> bool:
    return any(
        alert["level"] == level and words in alert["message"] for alert in h.daemon.alerter.recent
    )


def _store_state(h: Harness) -> Any:
    return h.daemon.status()["store"]["state"]  # type: ignore[index]


FIRINGS = "SELECT count(*) FROM firings WHERE rule_id = 'symbol-blocks'"


def test_the_daemon_enforces_through_a_store_outage_and_saves_what_it_held(start: Start) -> None:
    h = start()
    with _locked(h) as blocker:
        h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: close it and lock the symbol
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close while the store is locked")
        assert h.locked_by("symbol-blocks")
        h.wait(lambda: _store_state(h) == "unavailable", "the outage in the status")
        assert _alerted(h, "critical", "the store is unavailable")
        assert ACCOUNT in h.daemon.live_accounts(), "an outage is no reason to stop enforcing"
        assert blocker.execute(FIRINGS).fetchall() == [(0,)], "nothing could be saved yet"
    h.wait(lambda: _store_state(h) == "ok", "the store back in the status")
    # raised by the store's writer right after the status flips: waited for, not raced
    h.wait(lambda: _alerted(h, "warning", "the store is back"), "the store-is-back alert")
    with closing(sqlite3.connect(_database(h))) as reader:
        # an order and its fill may each fire (the order's cancel, then the close): every
        # firing the daemon made while the store was locked is saved once it is back
        fired = sum(1 for firing in h.daemon.firings if firing.rule_id == "symbol-blocks")
        assert fired >= 1
        h.wait(lambda: reader.execute(FIRINGS).fetchall() == [(fired,)], "the held firings saved")
        h.wait(
            lambda: (
                reader.execute(
                    "SELECT i.kind, i.state FROM intents i JOIN firings f ON f.id = i.firing_id"
                    " WHERE f.rule_id = 'symbol-blocks' AND i.kind = 'PositionClosed'"
                ).fetchall()
                == [("PositionClosed", "done")]
            ),
            "the close's outcome saved after its firing",
        )
    journaled = [
        entry.event
        for entry in h.daemon.store.events_since(ACCOUNT, 0)
        if isinstance(entry.event, PositionUpdate) and "RTY" in entry.event.contract_id
    ]
    assert [event.size for event in journaled][-2:] == [1, 0], "the opening and the close"
    assert h.daemon.status()["store"]["dropped"] == 0  # type: ignore[index]


def test_a_lease_that_cannot_be_renewed_through_an_outage_stops_enforcing_before_it_ends(
    start: Start, restart: Restart
) -> None:
    """Past the lease's own end another daemon could take the account: the daemon stops
    enforcing it shortly before, and takes it back once the store answers."""
    h = restart(start(), dataclasses.replace(FAST_OPTIONS, lease_ttl=1.5))
    with _locked(h):
        h.wait(lambda: ACCOUNT not in h.daemon.live_accounts(), "enforcement stopped", 5.0)
        assert _alerted(h, "critical", "could not be renewed before it runs out")
        assert h.daemon.status()["accounts"][str(ACCOUNT)]["lease"] == "lost"  # type: ignore[index]
    h.wait(lambda: ACCOUNT in h.daemon.live_accounts(), "the lease taken back and reconciled")
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement once the lease is back")


def test_a_store_writer_held_up_does_not_cost_the_lease(
    start: Start, restart: Restart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal write held up — a lock another session holds on the journal table, a
    backlog — is no store outage: the lease's own table answers. Renewals queued behind the
    writer waited with it, and the holder stopped enforcing the account (and a standby could
    take it) though it was alive and its store answered. Renewals no longer wait in the
    writer's queue: the account stays guarded for as long as the writer is held up."""
    h = restart(start(), dataclasses.replace(FAST_OPTIONS, lease_ttl=1.5))
    released = threading.Event()
    journal = h.daemon.store.append_events

    def held_up(*args: Any, **kwargs: Any) -> Any:
        released.wait(10.0)
        return journal(*args, **kwargs)

    monkeypatch.setattr(h.daemon.store, "append_events", held_up)
    try:
        h.trader.buy(ACCOUNT, "MNQ")  # journaled: the writer waits from here on
        watched = time.monotonic() + 2 * 1.5  # twice the lease's time to live
        while time.monotonic() < watched:
            assert ACCOUNT in h.daemon.live_accounts(), "enforcement stopped: lease lost"
            time.sleep(0.05)
        h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: enforced, the writer still held up
        h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the blocked symbol closed")
        assert h.daemon.status()["accounts"][str(ACCOUNT)]["lease"] == "held"  # type: ignore[index]
    finally:
        released.set()


def test_an_engine_thread_held_up_does_not_cost_the_lease(start: Start, restart: Restart) -> None:
    """Renewals were asked for by the engine thread's timer: an engine thread held up — a
    long reload, a startup whose login the gateway keeps waiting — asked for none, and the
    daemon dropped the account as unrenewable once it got back (a critical alert; a standby
    could take it meanwhile). The lease thread renews on its own when nobody asks in time."""
    h = restart(start(), dataclasses.replace(FAST_OPTIONS, lease_ttl=1.5))
    h.daemon.on_engine(lambda: time.sleep(2 * 1.5), 10.0)  # twice the lease's time to live
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: enforced at once
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the blocked symbol closed")
    assert ACCOUNT in h.daemon.live_accounts()
    assert not _alerted(h, "critical", "lost the lease")


def test_an_engine_thread_stuck_for_good_leaves_its_leases_to_run_out(
    start: Start, restart: Restart
) -> None:
    """The lease thread renewed the leases whenever the engine thread asked for none, so an
    engine thread stuck for good (a deadlock, a call that never returns) kept every account's
    lease for as long as the process lived — nobody enforced them, and no standby could take
    them; under systemd the watchdog, pinged by the main thread, never fired either. Past four
    leases' time to live without a turn the thread counts as stuck: its leases are left to
    run out, a critical alert says so, and the watchdog is no longer pinged."""
    ttl = 0.75
    h = restart(start(), dataclasses.replace(FAST_OPTIONS, lease_ttl=ttl))
    held = threading.Event()

    def stuck() -> None:
        held.set()
        time.sleep(4 * ttl + 2.5)  # past the stuck limit, and the lease's end after it

    threading.Thread(target=lambda: h.daemon.on_engine(stuck, 10.0), daemon=True).start()
    assert held.wait(5.0)
    h.wait(lambda: _alerted(h, "critical", "the engine thread has not turned"), "the alert", 8.0)
    assert h.daemon.engine_stuck_for() is not None  # engine run stops pinging the watchdog

    def lapsed() -> bool:
        lease = h.daemon.store.lease(ACCOUNT)
        return lease is not None and lease.expires_at <= h.daemon.clock.now()

    h.wait(lapsed, "the lease left to run out", 5.0)
    h.wait(lambda: h.daemon.engine_stuck_for() is None, "the engine thread turning again", 8.0)
    h.wait(lambda: ACCOUNT in h.daemon.live_accounts(), "the account guarded again", 10.0)
