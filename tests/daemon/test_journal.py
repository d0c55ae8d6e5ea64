"""The store writer: journal appends in order, calls after the events queued before them."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.daemon.journal import StoreWriter
from simple_risk.daemon.sim import wait_until
from simple_risk.engine.events import AccountUpdate
from simple_risk.store import Store, StoreError, StoreUnavailable

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _update(n: int, account: int = 1) -> AccountUpdate:
    return AccountUpdate(
        at=T0 + timedelta(seconds=n),
        account_id=account,
        name="A",
        balance=Decimal(n),
        can_trade=True,
    )


def test_events_are_journaled_in_order_and_flush_waits_for_them(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    writer = StoreWriter(store, {})
    writer.start()
    seen_by_call: list[int] = []
    for n in range(200):
        writer.journal(1 + n % 2, _update(n, 1 + n % 2))
        if n == 99:
            writer.call(lambda s: seen_by_call.append(s.last_seq(1)))
    assert writer.flush(10.0)
    assert seen_by_call == [50]  # the call ran after the 50 events of account 1 before it
    assert writer.last_seq == {1: 100, 2: 100}
    journaled = [entry.event for entry in store.events_since(1, 0)]
    assert journaled == [_update(n) for n in range(0, 200, 2)]
    writer.stop()
    store.close()


class FlakyStore:
    """A real store whose writes fail as an unavailable database while ``down`` is set
    (what a locked SQLite past its busy timeout or an unreachable PostgreSQL raise)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = threading.Event()
        self.attempts = 0

    def _gate(self) -> None:
        self.attempts += 1
        if self.down.is_set():
            raise StoreUnavailable("store sqlite:///j.db: database is locked")

    def append_events(self, account: int, events: list[AccountUpdate]) -> list[int]:
        self._gate()
        return self.store.append_events(account, events)

    def last_seq(self, account: int) -> int:
        self._gate()
        return self.store.last_seq(account)


class Told:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, level: str, message: str) -> None:
        self.lines.append((level, message))

    def said(self, level: str, words: str) -> int:
        return sum(1 for lv, text in self.lines if lv == level and words in text)


def _writer(tmp_path: Path, **kwargs: object) -> tuple[StoreWriter, FlakyStore, Told]:
    flaky = FlakyStore(Store.open(f"sqlite:///{tmp_path / 'j.db'}"))
    told = Told()
    writer = StoreWriter(flaky, {}, retry=0.02, on_trouble=told, **kwargs)  # type: ignore[arg-type]
    writer.start()
    return writer, flaky, told


def test_an_unavailable_store_holds_every_write_in_order_and_writes_it_when_back(
    tmp_path: Path,
) -> None:
    writer, flaky, told = _writer(tmp_path)
    flaky.down.set()
    seen_by_call: list[int] = []
    for n in range(30):
        writer.journal(1, _update(n))
        if n == 9:
            writer.call(lambda s: seen_by_call.append(s.last_seq(1)))
    assert wait_until(lambda: writer.health()["state"] == "unavailable", 5.0)
    assert not writer.flush(5.0), "flush waits for nothing while the store is down"
    assert writer.health()["held"] == 31
    assert told.said("critical", "the store is unavailable") == 1
    flaky.down.clear()
    assert wait_until(lambda: writer.flush(1.0), 10.0)
    assert seen_by_call == [10], "the call ran after the ten events before it, not earlier"
    assert [e.event for e in flaky.store.events_since(1, 0)] == [_update(n) for n in range(30)]
    assert writer.health() | {"for_seconds": 0.0} == {
        "state": "ok",
        "why": None,
        "for_seconds": 0.0,
        "held": 0,
        "journal_held": 0,
        "dropped": 0,
        "failures": 0,
        "restarts": 0,
    }
    assert told.said("warning", "the store is back") == 1
    assert told.said("critical", "unavailable") == 1, "one alert per outage, not per retry"
    writer.stop()


def test_what_is_held_is_bounded_the_oldest_events_go_first_and_it_is_said_once(
    tmp_path: Path,
) -> None:
    writer, flaky, told = _writer(tmp_path, capacity=10)
    flaky.down.set()
    for n in range(25):
        writer.journal(1, _update(n))
    assert writer.health()["journal_held"] == 10
    assert writer.dropped == 15
    assert told.said("critical", "the oldest are being dropped") == 1
    assert wait_until(lambda: writer.health()["state"] == "unavailable", 5.0)
    flaky.down.clear()
    assert wait_until(lambda: writer.flush(1.0), 10.0)
    assert [e.event for e in flaky.store.events_since(1, 0)] == [_update(n) for n in range(15, 25)]
    assert told.said("warning", "15 journal event(s) were dropped") == 1
    writer.stop()


def test_a_newer_snapshot_replaces_one_still_waiting_behind_an_outage(tmp_path: Path) -> None:
    writer, flaky, _ = _writer(tmp_path)
    flaky.down.set()
    writer.journal(1, _update(0))  # the head of the queue: it waits for the store
    assert wait_until(lambda: writer.health()["state"] == "unavailable", 5.0)
    saved: list[str] = []
    for name, key in (("first", 1), ("other account", 2), ("second", 1), ("third", 1)):
        # a later snapshot of an account takes the place of the one waiting, at the back
        writer.call(lambda s, name=name: saved.append(name), key=f"snapshot:{key}")  # type: ignore[misc]
    flaky.down.clear()
    assert wait_until(lambda: writer.flush(1.0), 10.0)
    assert saved == ["other account", "third"]
    writer.stop()


def test_a_write_that_raises_unexpectedly_is_reported_and_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    writer, flaky, told = _writer(tmp_path)

    def broken(store: object) -> None:
        raise RuntimeError("a bug in a bookkeeping write")

    writer.call(broken)
    writer.journal(1, _update(1))
    assert writer.flush(10.0)
    assert [e.event for e in flaky.store.events_since(1, 0)] == [_update(1)]
    assert writer.failures == 1
    assert told.said("critical", "RuntimeError: a bug in a bookkeeping write") == 1
    writer.stop()


class RefusingStore(FlakyStore):
    """A store that refuses one account's journal writes outright (not an outage): what a
    write that can never succeed raises."""

    def append_events(self, account: int, events: list[AccountUpdate]) -> list[int]:
        if account == 2:
            raise StoreError("store sqlite:///j.db: account must be an integer")
        return super().append_events(account, events)


def test_a_refused_write_is_said_as_a_critical_alert_never_only_logged(tmp_path: Path) -> None:
    """A dropped journal event, firing or lockout is one a restart will not know of: the
    trader and the admin must see it, not only the log."""
    told = Told()
    refusing = RefusingStore(Store.open(f"sqlite:///{tmp_path / 'j.db'}"))
    writer = StoreWriter(refusing, {}, retry=0.02, on_trouble=told)  # type: ignore[arg-type]
    writer.start()

    def refused(store: object) -> None:
        raise StoreError("store sqlite:///j.db: firing message must be a string, got None")

    writer.journal(2, _update(1, account=2))
    writer.journal(1, _update(2))
    writer.call(refused)
    assert writer.flush(10.0)
    assert [e.event for e in refusing.store.events_since(1, 0)] == [_update(2)]
    assert writer.failures == 2
    assert told.said("critical", "1 journal event(s) of account 2 were refused") == 1
    assert told.said("critical", "a store write was refused") == 1
    writer.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_thread_that_died_is_started_again_by_the_next_write(tmp_path: Path) -> None:
    writer, flaky, told = _writer(tmp_path)

    def fatal(store: object) -> None:
        raise SystemExit("the thread ends here")

    writer.call(fatal)
    assert wait_until(lambda: not writer._thread.is_alive(), 5.0)
    writer.journal(1, _update(2))
    assert writer.flush(10.0)
    assert writer.restarts == 1
    assert told.said("critical", "started again") == 1
    assert [e.event for e in flaky.store.events_since(1, 0)] == [_update(2)]
    writer.stop()


def test_a_hung_store_call_shows_as_stuck_and_is_reported_once(tmp_path: Path) -> None:
    writer, _, told = _writer(tmp_path, stuck_after=0.1)
    release = threading.Event()
    writer.call(lambda s: release.wait(10.0))
    assert wait_until(lambda: writer.health()["state"] == "stuck", 5.0)
    writer.watch()
    writer.watch()
    assert told.said("critical", "has not returned") == 1
    release.set()
    assert writer.flush(10.0)
    assert writer.health()["state"] == "ok"
    assert told.said("warning", "has returned") == 1
    writer.stop()


def test_a_locked_sqlite_database_is_unavailable_not_broken(tmp_path: Path) -> None:
    """The store says "unavailable" for a database locked past its busy timeout, so the
    daemon holds the write rather than dropping it as unwritable."""
    path = tmp_path / "locked.db"
    store = Store.open(f"sqlite:///{path}", busy_timeout=timedelta(milliseconds=50))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.append_events(1, [_update(1)])
    finally:
        blocker.rollback()
        blocker.close()
    assert store.append_events(1, [_update(1)]) == [1]
    store.close()


def test_the_first_write_after_an_idle_spell_waits_the_linger_and_a_backlog_does_not(
    tmp_path: Path,
) -> None:
    """The write an event wakes the writer for waits a little (the act goes first); what is
    queued meanwhile goes out after it without waiting again, batch after batch."""
    store = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    naps: list[float] = []
    busy = threading.Event()
    go_on = threading.Event()

    def nap(seconds: float) -> None:
        naps.append(seconds)
        busy.set()
        go_on.wait(5.0)

    writer = StoreWriter(store, {}, linger=0.005, sleep=nap)
    writer.start()
    writer.journal(1, _update(0))
    assert busy.wait(5.0)  # it lingers before writing the event that woke it ...
    assert writer.last_seq == {}
    ran: list[int] = []
    writer.call(lambda s: ran.append(s.last_seq(1)))  # queued meanwhile, after the event ...
    for n in range(1, 4):
        writer.journal(1, _update(n))  # ... and a backlog behind the call (a second batch)
    go_on.set()
    assert writer.flush(10.0)
    assert ran == [1]
    assert naps == [0.005]
    assert writer.last_seq == {1: 4}
    writer.journal(1, _update(4))  # idle again: this one waits the linger once more
    assert writer.flush(10.0)
    assert naps == [0.005, 0.005]
    writer.stop()
    store.close()
