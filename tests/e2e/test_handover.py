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

    .venv/bin/pytest tests/e2e/test_handover.py -q -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import AccountSpec, RateLimits, Simulator
from simple_risk.daemon.context import RuntimeOptions
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import Wall, pinned_env, pinned_wall

from .test_crash import ACCOUNT, API_KEY, _fast_ruleset

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
        _fast_ruleset(self.dir / "ruleset.yaml")
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
