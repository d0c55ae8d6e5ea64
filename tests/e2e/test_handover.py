"""The hand-over to a standby daemon: two machines share the store and guard one account.

The holder is ``kill -9``-ed (a machine that dies, a daemon the kernel's OOM killer ends); the
standby is the same ``engine run`` on another machine, restarted as systemd's
``Restart=always`` / ``RestartSec=2`` (examples/deploy/simple-risk.service) restarts a daemon
that refused to start because another one held the account's lease. Both are real
subprocesses with the shipped defaults (the lease's time to live, its renewals); "another
machine" is another data directory (its own installation: another lease owner) on one SQLite
store. What is measured is what the trader sees: from the kill to the breach the trader made
just after it being enforced by the standby — the time the account is unguarded.

Measure it with (it prints the figure):

    .venv/bin/pytest tests/e2e/test_handover.py -q -s -k standby

A daemon killed and then upgraded meets its own lease under the owner's earlier name: the
last tests here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import AccountSpec, RateLimits, Simulator
from simple_risk.daemon.context import RuntimeOptions
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.store import StoreError
from tests.pinned import Wall, pinned_env, pinned_wall

from .harness import FAST_OPTIONS, Harness, Start, fast_ruleset
from .test_crash import ACCOUNT, API_KEY

#: systemd's RestartSec in the shipped unit: the pause before a refused standby starts again
RESTART_SEC = 2.0
#: the most the account may stay unguarded after its holder dies: what is left of the lease
#: (``lease_ttl``, 15 s), then a restart of the standby — its pause, its start, its reconcile
HANDOVER_BOUND = 25.0


class Machine:
    """One machine's ``engine run``: its own data directory and status file, the shared store."""

    def __init__(self, root: Path, name: str, gateway: str, store: Path, wall: Wall) -> None:
        self.dir = root / name
        self.dir.mkdir()
        fast_ruleset(self.dir / "ruleset.yaml")
        self.config = self.dir / "config.yaml"
        self.config.write_text(
            f"gateway: {gateway}\n"
            "credentials: {username: demo, api_key: '${SR_CRASH_API_KEY}'}\n"
            f"accounts: [{ACCOUNT}]\n"
            "ruleset: ruleset.yaml\n"
            "data_dir: data\n"
            "log_dir: log\n"
            "status_socket: status.sock\n"
            f"database: sqlite:///{store}\n"
            "timing: {tick_interval: 0.2, reconcile_interval: 3, retry_interval: 0.2}\n",
            encoding="utf-8",
        )
        self.wall = wall
        self.log = self.dir / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = pinned_env(self.wall, {**os.environ, "SR_CRASH_API_KEY": API_KEY})
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "simple_risk",
                    "engine",
                    "run",
                    "--config",
                    str(self.config),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.starts += 1

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def live(self) -> bool:
        try:
            status: dict[str, Any] = json.loads((self.dir / "data" / "status.json").read_text())
        except (OSError, ValueError):
            return False
        account = status.get("accounts", {}).get(str(ACCOUNT), {})
        running = self.process is not None and status.get("pid") == self.process.pid
        return running and bool(account.get("live"))

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no stop, no lease released
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(
        port=0,
        seed=5,
        ping_interval=0.3,
        price_interval=None,
        api_key=API_KEY,
        accounts=[AccountSpec(ACCOUNT, "HANDOVER-50K", Decimal(50000))],
        rate_limits=RateLimits(general=(100000, 60.0), bars=(50, 30.0)),
        clock=pinned_wall(),
    ).start()
    yield simulator
    simulator.stop()


def test_a_standby_enforces_soon_after_the_holder_is_killed(sim: Simulator, tmp_path: Path) -> None:
    """The holder killed, the account stayed unguarded until its lease ran out on its own —
    60 s after its last renewal, renewed every 20 s: 40–60 s, and the standby's restart on
    top — while the trader traded freely. Measured here end to end."""
    store = tmp_path / "shared.db"
    holder = Machine(tmp_path, "machine-a", sim.base_url, store, sim.clock)
    standby = Machine(tmp_path, "machine-b", sim.base_url, store, sim.clock)
    trader = Trader(sim)
    try:
        holder.start()
        assert wait_until(holder.live, 30.0), holder.log.read_text()[-3000:]
        standby.start()
        assert wait_until(standby.exited, 30.0), "the standby started beside the holder"
        assert "guarded by another daemon" in standby.log.read_text()

        holder.kill()
        killed = time.monotonic()
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol, bought the moment nobody guards it
        closed: float | None = None
        while time.monotonic() - killed < 90.0:
            if trader.size(ACCOUNT, "RTY") == 0:
                closed = time.monotonic()
                break
            if standby.exited():  # refused: systemd starts it again after RestartSec
                time.sleep(RESTART_SEC)
                standby.start()
            time.sleep(0.1)
        assert closed is not None, "the standby never enforced"
        unguarded = closed - killed
        print(
            f"\nhand-over: the breach made at the kill was enforced by the standby after "
            f"{unguarded:.1f} s (lease_ttl {RuntimeOptions().lease_ttl:g} s, "
            f"{standby.starts} starts of the standby)"
        )
        assert standby.live()
        assert unguarded <= HANDOVER_BOUND, f"the account was unguarded for {unguarded:.1f} s"
    finally:
        trader.close()
        standby.stop()
        holder.stop()


#: the lease's time to live in the versions whose lease owner was ``hostname:data_dir``
EARLIER_LEASE_TTL = timedelta(seconds=60)


def _left_by_an_earlier_version(h: Harness, pid: int) -> str:
    """The account's lease and the data directory's status as a daemon of the version before
    the owner named its installation left them when killed -9: the lease held in the earlier
    owner format (``hostname:data_dir``), renewed a moment ago; ``status.json`` saying it held
    the lease, written by process ``pid``."""
    config = h.daemon.config
    h.daemon.stop()
    earlier = f"{socket.gethostname()}:{config.data_dir}"
    now = h.daemon.clock.now()
    assert h.daemon.store.acquire_lease(ACCOUNT, earlier, EARLIER_LEASE_TTL, now)
    status_path = config.data_dir / "status.json"
    status = json.loads(status_path.read_text(encoding="utf-8"))
    assert status["accounts"][str(ACCOUNT)]["lease"] == "held"
    status["pid"] = pid
    status_path.write_text(json.dumps(status), encoding="utf-8")
    return earlier


def _gone_pid() -> int:
    """The id of a process that has ended (a daemon killed -9)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(10)
    return process.pid


def _upgraded(h: Harness) -> Daemon:
    """The same data directory's daemon started again (the new version)."""
    return Daemon(
        h.daemon.config,
        h.daemon.rulesets,
        store=open_store(h.daemon.config),
        options=dataclasses.replace(FAST_OPTIONS, wall=h.daemon.options.wall),
    )


def test_a_daemon_killed_then_upgraded_takes_its_own_lease_of_the_earlier_format_at_once(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    """The lease owner gained the installation's name (hostname:data_dir:installation). A
    daemon killed -9 and then upgraded met its own lease under the earlier name, took it for
    another daemon's, refused to start and left the account unguarded until that lease ran
    out (up to 60 s, and systemd's restarts). It knows its own lease by its data directory's
    word — the status it wrote says it held the lease, after its last renewal, and that
    process is gone — and takes it at once."""
    h = start()
    earlier = _left_by_an_earlier_version(h, _gone_pid())
    daemon = _upgraded(h)
    try:
        with caplog.at_level(logging.WARNING, logger="simple_risk.daemon.ownership"):
            daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0)
        lease = daemon.store.lease(ACCOUNT)
        assert lease is not None and lease.owner == daemon.ownership.owner != earlier
        said = [r.getMessage() for r in caplog.records if earlier in r.getMessage()]
        assert len(said) == 1 and "earlier format" in said[0], said
        h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: enforced by the upgraded daemon
        h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the blocked symbol closed")
    finally:
        daemon.stop()


def test_a_lease_of_the_earlier_format_whose_daemon_runs_is_not_taken(start: Start) -> None:
    """The earlier name says only the host and the data directory: a machine cloned from this
    one's image has the same, and so does a daemon of this data directory still running. Without
    the data directory's word that its daemon held the lease and is gone, it is another's."""
    h = start()
    earlier = _left_by_an_earlier_version(h, os.getpid())  # that process still runs
    daemon = _upgraded(h)
    try:
        with pytest.raises(StoreError, match="guarded by another daemon"):
            daemon.start()
    finally:
        daemon.stop()
    (h.daemon.config.data_dir / "status.json").unlink()  # a clone: nothing says it held it
    other = _upgraded(h)
    try:
        with pytest.raises(StoreError, match="guarded by another daemon"):
            other.start()
    finally:
        other.stop()
    lease = h.daemon.store.lease(ACCOUNT)
    assert lease is not None and lease.owner == earlier
