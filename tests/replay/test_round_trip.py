"""Record, then replay: what a daemon records replays to what that daemon did.

In-process, on the pinned clock of :mod:`tests.pinned` (simulator and daemon share it): a
daemon guarding a simulator account records while a rule fires and it enforces; replaying the
recording through the same ruleset gives the same firings, because a replay is made of the
same converted events at the same receive times. Then the command itself: ``engine run --sim
--record DIR`` for a few seconds leaves owner-only files that ``replay`` reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.adapters.replay import RecordingDir
from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers every command)
)
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, scaled_ruleset, sim_config, wait_until
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.events import OrderSide
from simple_risk.resources import default_ruleset_path
from simple_risk.whatif.runner import replay_files
from tests.e2e.harness import ACCOUNT, FAST_OPTIONS
from tests.pinned import pinned_wall

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(90)


def test_a_daemon_recording_replays_to_the_daemon_s_own_firings(tmp_path: Path) -> None:
    wall = pinned_wall()
    sim = Simulator(
        port=0,
        seed=11,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        clock=wall,
    ).start()
    limits = {"ES": 5, "NQ": 5, "CL": 3, "GC": 3, "MES": 50, "MNQ": 2}
    ruleset = scaled_ruleset(
        load_ruleset(default_ruleset_path(), params={"per_symbol_limits": limits}),
        grace=timedelta(seconds=30),
    )
    config = sim_config(
        sim.base_url,
        sim.username,
        sim.api_key,
        (ACCOUNT,),
        tmp_path / "daemon",
        ruleset_path=default_ruleset_path(),
    )
    recording = RecordingDir(tmp_path / "recorded", started_at=wall())
    daemon = Daemon(
        config,
        {ACCOUNT: ruleset},
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall, recorder=recording),
    )
    trader = Trader(sim)
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the daemon did not become live"
        far_below = trader.price("MNQ") - Decimal(100)
        order_id = trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 3, far_below)
        assert wait_until(
            lambda: any(
                o.order_id == order_id and o.status == 3
                for o in trader.client.search_orders(ACCOUNT, wall() - timedelta(hours=1))
            ),
            10.0,
        ), "the daemon did not cancel the order over the MNQ limit"
        assert wait_until(lambda: _cancel_recorded(recording, order_id), 5.0)
    finally:
        daemon.stop()
        trader.close()
        sim.stop()
        recording.close()
    lived = [(f.rule_id, f.kind, f.item) for f in daemon.firings]
    assert ("max-contracts-per-instrument-order", "rule", f"order:{order_id}") in lived
    report = replay_files(recording.paths, ruleset)
    replayed = [(o.firing.rule_id, o.firing.kind, o.firing.item) for o in report.outcomes]
    assert replayed == lived
    assert [o.firing.at for o in report.outcomes] == [f.at for f in daemon.firings]
    text = "".join(path.read_text() for path in recording.paths)
    assert sim.api_key not in text and "eyJ" not in text


def _cancel_recorded(recording: RecordingDir, order_id: int) -> bool:
    """The hub's announcement of the cancelled order is in the recording."""
    for path in list(recording.paths):
        for line in path.read_text().splitlines():
            if "GatewayUserOrder" in line and f'"id":{order_id},' in line and '"status":3' in line:
                return True
    return False


def test_engine_run_sim_record_writes_files_that_replay(tmp_path: Path) -> None:
    directory = tmp_path / "rec"
    env = dict(
        os.environ,
        XDG_RUNTIME_DIR=str(tmp_path / "run"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        SIMPLE_RISK_SOCKET=str(tmp_path / "status.sock"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "simple_risk", "engine", "run", "--sim", "--record", str(directory)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # the startup reconcile ends with the day's fills: the recording then holds a full one
        assert wait_until(lambda: "Trade/search" in _text(directory), 30.0), _text(directory)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"recording to {directory}" in output and "Traceback" not in output
    files = sorted(directory.glob("*.jsonl"))
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    result = CliRunner().invoke(
        cli,
        ["replay", str(directory), "--ruleset", str(ROOT / "rulesets" / "topstep.yaml"), "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["records"] >= 5 and document["events"] >= 5
    assert document["accounts"] and document["skipped_lines"] == []


def _text(directory: Path) -> str:
    return "".join(path.read_text() for path in sorted(directory.glob("*.jsonl")))


def test_engine_run_refuses_a_record_dir_it_cannot_use(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["engine", "run", "--sim", "--record", str(blocker / "rec")])
    assert result.exit_code == 1
    assert f"simple-risk: cannot record to {blocker / 'rec'}" in result.output
    assert "Traceback" not in result.output
