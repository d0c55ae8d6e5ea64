"""The daemon on a PostgreSQL store shared, held up or half granted.

Each test gets a private schema on the server of ``SIMPLE_RISK_TEST_PG_URL`` (skipped without
it, failing under ``CI=true``, like tests/store). Another session holds a lock on one of the
store's tables — a migration, a ``VACUUM FULL``, a desk tool's open transaction — while an
admin clears a lockout or reloads and the trader breaks a rule: enforcement never waits on the
store. A role that may not write what the daemon writes is refused at start. Two daemons on
two machines share the store and one account: one guards it, the other says until when it
cannot, and takes it (with its lockouts) once a killed one's lease runs out.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.runtime import Daemon
from simple_risk.daemon.sim import wait_until
from simple_risk.store import Store, StoreError
from tests.store.conftest import postgres_base_url

from . import harness
from .harness import ACCOUNT, FAST_OPTIONS, Harness, Restart, Start, guarding_config


@pytest.fixture
def server() -> Iterator[Engine]:
    engine = create_engine(make_url(postgres_base_url()).set(drivername="postgresql+psycopg"))
    yield engine
    engine.dispose()


@pytest.fixture
def schema(server: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private schema the daemons of the test keep their store in."""
    name = f"sr_e2e_{uuid.uuid4().hex[:16]}"
    with server.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    private = server.url.update_query_dict({"options": f"-csearch_path={name}"})

    def _open(config: DaemonConfig) -> Store:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        return Store.open(private.render_as_string(hide_password=False))

    monkeypatch.setattr(harness, "open_store", _open)
    yield name
    with server.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def _saved(h: Harness) -> None:
    writer = h.daemon.persistence.writer
    assert writer is not None and writer.flush(timeout=10.0), "the store writer caught up"


def test_a_lockout_clear_while_another_session_locks_the_lockouts_table_never_holds_up_enforcement(
    schema: str, server: Engine, start: Start
) -> None:
    h = start()
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed, the symbol locked
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked symbol closed")
    h.wait(lambda: h.locked_by("symbol-blocks"), "the symbol lock")
    _saved(h)
    with server.connect() as reader:
        before = reader.execute(text(f'SELECT count(*) FROM "{schema}".lockouts')).scalar_one()
    cleared = threading.Event()

    def clear() -> None:
        h.daemon.on_engine(
            lambda: h.daemon.clear_lockouts(ACCOUNT, "all", None, "desk", "wrong symbol list"),
            30.0,
        )
        cleared.set()

    with server.connect() as blocker, blocker.begin():
        # reads go on, every write of the table waits for this session to end
        blocker.execute(text(f'LOCK TABLE "{schema}".lockouts IN EXCLUSIVE MODE'))
        clearing = threading.Thread(target=clear, daemon=True)
        clearing.start()
        h.wait(cleared.is_set, "the clear answered while the table is locked")
        assert not h.locked_by("symbol-blocks")
        h.trader.buy(ACCOUNT, "RTY")  # still a blocked symbol: enforced from memory
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked symbol closed again")
    clearing.join(10.0)
    _saved(h)
    with server.connect() as reader:
        rows = reader.execute(text(f'SELECT cleared_by FROM "{schema}".lockouts ORDER BY id'))
        by = [row.cleared_by for row in rows]
    # once the table is free: the cleared lock's rows say who cleared them, the new lock's not
    assert by[:before] == ["desk"] * before
    assert by[before:] and set(by[before:]) == {None}


def test_a_reload_while_the_store_writer_waits_on_a_locked_table_never_holds_up_enforcement(
    schema: str, server: Engine, start: Start
) -> None:
    h = start()
    reloaded = threading.Event()

    def reload() -> None:
        rulesets = dict(h.daemon.rulesets)
        h.daemon.on_engine(lambda: h.daemon.swap_rulesets(rulesets), 30.0)
        reloaded.set()

    with server.connect() as blocker, blocker.begin():
        blocker.execute(text(f'LOCK TABLE "{schema}".lockouts IN EXCLUSIVE MODE'))
        h.trader.buy(ACCOUNT, "RTY")  # its firing's lockout row waits for the table
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked symbol closed")
        reloading = threading.Thread(target=reload, daemon=True)
        reloading.start()
        h.wait(reloaded.is_set, "the reload applied while the writer waits")
        h.trader.buy(ACCOUNT, "RTY")
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked symbol closed again")
        assert h.daemon.saved(0.2) is False, "the writer still waits on the locked table"
    reloading.join(10.0)
    assert h.daemon.saved(10.0), "everything held is saved once the table is free"


def test_a_role_that_may_not_write_every_table_the_daemon_writes_is_refused_at_start(
    schema: str, server: Engine, start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grant a DBA writes most often — every table, but not the sequences that number
    their rows — let the daemon start and go live; the first journal write was then refused,
    every write held behind it, the lease renewals too, and the account went unguarded for the
    rest of the day once the lease ran short. Now the daemon refuses to start and says what
    the role lacks."""
    role = f"sr_role_{uuid.uuid4().hex[:8]}"
    owner = server.url.update_query_dict({"options": f"-csearch_path={schema}"})
    Store.open(owner.render_as_string(hide_password=False)).close()  # the tables, as the owner
    with server.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        tables = f'ALL TABLES IN SCHEMA "{schema}"'
        conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO "{role}"'))
    private = owner.set(username=role)

    def _open(config: DaemonConfig) -> Store:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        return Store.open(private.render_as_string(hide_password=False))

    monkeypatch.setattr(harness, "open_store", _open)
    try:
        with pytest.raises(
            StoreError, match=r"may not USAGE on sequence \S*journal_id_seq"
        ) as refused:
            start()
        assert "INSERT on" not in str(refused.value), "the tables themselves were granted"
    finally:
        with server.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_a_daemon_on_another_machine_is_told_when_the_lease_it_waits_for_runs_out_and_then_guards(
    schema: str, server: Engine, start: Start, tmp_path: Path
) -> None:
    """Two daemons, two data directories, one store and one account: the second refuses to
    start while the first holds the lease. Killed -9, the first leaves its lease behind until
    it runs out; the refusal said only "guarded by another daemon", so an admin read the
    account as guarded while nobody guarded it. It now says until when the lease runs, and a
    start after that takes the account with the first one's lock."""
    h = start()
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed, the symbol locked
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked symbol closed")
    h.wait(lambda: h.locked_by("symbol-blocks"), "the symbol lock")
    _saved(h)
    wall = h.daemon.options.wall
    assert wall is not None
    config = guarding_config(h.sim, (ACCOUNT,), tmp_path / "machine-b")

    def second() -> Daemon:
        options = dataclasses.replace(FAST_OPTIONS, wall=wall)
        return Daemon(config, h.daemon.rulesets, store=harness.open_store(config), options=options)

    before = h.daemon.store.lease(ACCOUNT)
    refused = second()
    with pytest.raises(StoreError) as told:
        refused.start()
    refused.stop()
    after = h.daemon.store.lease(ACCOUNT)  # the first may renew it meanwhile
    assert before is not None and after is not None
    assert before.owner in str(told.value)
    said = {f"until {lease.expires_at.isoformat(timespec='seconds')}" for lease in (before, after)}
    assert any(until in str(told.value) for until in said), told.value

    # kill -9: nothing released, the lease runs out a few seconds after its last renewal
    owner = h.daemon.ownership.owner
    h.daemon.stop()
    h.daemon.store.acquire_lease(ACCOUNT, owner, timedelta(seconds=2), wall())
    taken: list[Daemon] = []

    def take() -> bool:
        daemon = second()
        try:
            daemon.start()
        except StoreError:
            daemon.stop()
            return False
        taken.append(daemon)
        return True

    try:
        assert wait_until(take, 8.0, interval=0.5), "the account taken once the lease ran out"
        (b,) = taken
        assert wait_until(b.ready.is_set, 10.0), "the second daemon live"
        assert any(lock.rule == "symbol-blocks" for lock in b.engines[ACCOUNT].locks(ACCOUNT))
        h.trader.buy(ACCOUNT, "RTY")
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the second daemon enforces")
    finally:
        for daemon in taken:
            daemon.stop()


def test_two_machines_with_one_hostname_and_the_default_data_directory_never_both_guard(
    schema: str, start: Start
) -> None:
    """The lease's owner was the hostname and the data directory: two machines cloned from one
    image (same hostname) with the data directory every install uses were one owner, and the
    second took the lease the first held — both enforced the account, each closing and
    cancelling on its own. The owner now also names the installation (from its own-order
    secret, made at its first start)."""
    h = start()
    data_dir = h.daemon.config.data_dir
    # the other machine: same hostname, same path, its own disk
    data_dir.rename(data_dir.with_name(f"{data_dir.name}-first-machine"))
    other = Daemon(
        h.daemon.config,
        h.daemon.rulesets,
        store=harness.open_store(h.daemon.config),
        options=dataclasses.replace(FAST_OPTIONS, wall=h.daemon.options.wall),
    )
    try:
        with pytest.raises(StoreError, match="guarded by another daemon"):
            other.start()
    finally:
        other.stop()
    lease = h.daemon.store.lease(ACCOUNT)
    assert lease is not None and lease.owner == h.daemon.ownership.owner


def test_a_daemon_that_lost_the_lease_never_overwrites_the_new_holders_state(
    schema: str, server: Engine, start: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first daemon's store access fails (its role's grants revoked: a partition from
    the database as far as it can tell) until its lease runs out; a second daemon takes the
    account and the admin clears its lockout there. Back in the store, the first one — still
    running, its lease not its own — saved its snapshots of the account on: the newest
    snapshot, the one the holder's next restart restores, held the lockout the admin had
    cleared, and the holder's restart locked the trader out again. A daemon without the lease
    now saves no snapshot of the account."""
    role = f"sr_role_{uuid.uuid4().hex[:8]}"
    owner = server.url.update_query_dict({"options": f"-csearch_path={schema}"})
    Store.open(owner.render_as_string(hide_password=False)).close()
    grant = f'ALL TABLES IN SCHEMA "{schema}" TO "{role}"'
    with server.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {grant}"))
        conn.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
    as_owner = harness.open_store

    def _as_role(config: DaemonConfig) -> Store:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        return Store.open(owner.set(username=role).render_as_string(hide_password=False))

    monkeypatch.setattr(harness, "open_store", _as_role)
    monkeypatch.setattr(harness, "FAST_OPTIONS", dataclasses.replace(FAST_OPTIONS, lease_ttl=3.0))
    second: list[Daemon] = []
    try:
        h = start()
        h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed, the symbol locked
        h.wait(lambda: h.locked_by("symbol-blocks"), "the symbol lock")
        _saved(h)
        with server.begin() as conn:
            conn.execute(text(f"REVOKE ALL ON {grant.replace(' TO ', ' FROM ')}"))
        h.wait(lambda: ACCOUNT not in h.daemon.live_accounts(), "the first stops enforcing")
        wall = h.daemon.options.wall
        assert wall is not None
        config = guarding_config(h.sim, (ACCOUNT,), tmp_path / "machine-b")
        options = dataclasses.replace(FAST_OPTIONS, lease_ttl=3.0, wall=wall)

        def take() -> bool:
            daemon = Daemon(config, h.daemon.rulesets, store=as_owner(config), options=options)
            try:
                daemon.start()
            except StoreError:
                daemon.stop()
                return False
            second.append(daemon)
            return True

        assert wait_until(take, 8.0, interval=0.5), "the second takes the account"
        b = second[0]
        assert wait_until(b.ready.is_set, 10.0)
        b.on_engine(lambda: b.clear_lockouts(ACCOUNT, "all", None, "desk", "wrong list"), 10.0)
        assert b.saved(10.0)
        with server.begin() as conn:
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {grant}"))
        h.trader.buy(ACCOUNT, "MNQ")  # news for both daemons: each engine changes
        h.wait(lambda: h.daemon.status()["store"]["held"] == 0, "the first's held writes")  # type: ignore[index]
        h.wait(lambda: not h.daemon.persistence.dirty, "the first's next snapshot pass")
        assert h.daemon.saved(10.0)
        h.daemon.stop()
        # the holder killed -9 and restarted (its own lease, taken back at once): no stop
        # snapshot of its own covers the first one's
        restarted = Daemon(config, h.daemon.rulesets, store=as_owner(config), options=options)
        second.append(restarted)
        restarted.start()
        assert wait_until(restarted.ready.is_set, 10.0), "the holder back after a restart"
        locks = restarted.engines[ACCOUNT].locks(ACCOUNT)
        assert not any(lock.rule == "symbol-blocks" for lock in locks), "the clear was undone"
    finally:
        for daemon in second:
            daemon.stop()
        with server.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def _clock_alerts(h: Harness) -> list[dict[str, object]]:
    return [a for a in h.daemon.alerter.recent if "store server's" in str(a["message"])]


def test_a_machine_clock_off_the_store_servers_is_alerted_and_its_return_said(
    schema: str, start: Start, restart: Restart
) -> None:
    """Each daemon judges an account lease's end by its own machine's clock: the holder stops
    enforcing a sixth of the lease's life before the end, the standby takes the account at
    the end. A machine whose clock ran 10 s behind the others' (no time synchronisation, a
    virtual machine resumed) could enforce an account beside the standby that took it, and
    nothing said so. The lease thread compares its clock with the PostgreSQL server's: a
    critical alert past the margin, and a word when the clocks agree again."""
    off = [timedelta(seconds=-10)]

    def behind() -> datetime:  # this machine's clock, 10 s behind the server's (then not)
        return datetime.now(UTC) + off[0]

    h = restart(start(), dataclasses.replace(FAST_OPTIONS, wall=behind, store_clock_check=0.2))
    h.wait(lambda: bool(_clock_alerts(h)), "the clock alert")
    (alert,) = _clock_alerts(h)
    assert alert["level"] == "critical"
    message = str(alert["message"])
    assert "s behind the store server's" in message, message
    assert f"accounts {ACCOUNT}" in message and "Synchronise the clocks" in message
    off[0] = timedelta(0)
    h.wait(lambda: len(_clock_alerts(h)) == 2, "the clocks agree again")
    assert "agrees with the store server's again" in str(_clock_alerts(h)[1]["message"])


def test_a_machine_clock_that_agrees_with_the_store_servers_raises_nothing(
    schema: str, start: Start, restart: Restart
) -> None:
    checked = dataclasses.replace(
        FAST_OPTIONS, wall=lambda: datetime.now(UTC), store_clock_check=0.2
    )
    h = restart(start(), checked)
    time.sleep(1.0)  # five checks, as the test above makes them
    assert not _clock_alerts(h)
