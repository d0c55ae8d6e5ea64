"""How long ``simple-risk engine run`` takes to stop gracefully: SIGTERM → process exit.

    .venv/bin/python -m bench.stop [--runs 5]

Each run starts ``engine run`` as a subprocess against the in-process simulator, waits until
its account is live (``status.json``), sends SIGTERM and times the exit. A graceful stop
snapshots every account, closes both hubs in parallel (each close bounded by the hubs'
``stop_timeout``), drains the store writer and releases the leases. Target: ≤ 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from simple_risk.adapters.simulator import AccountSpec, Simulator
from simple_risk.daemon.sim import wait_until

ACCOUNT = 20100001
TARGET = 2.0


def _config(directory: Path, sim: Simulator) -> Path:
    config = directory / "config.yaml"
    config.write_text(
        f"gateway: {sim.base_url}\n"
        f"credentials: {{username: {sim.username}, api_key: '${{SR_BENCH_API_KEY}}'}}\n"
        f"accounts: [{ACCOUNT}]\n"
        "data_dir: data\n"
        "log_dir: log\n"
        "status_socket: status.sock\n",
        encoding="utf-8",
    )
    return config


def _live(status_path: Path, pid: int) -> bool:
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    account = status.get("accounts", {}).get(str(ACCOUNT), {})
    return bool(status.get("pid") == pid and account.get("live"))


def stop_time(directory: Path, sim: Simulator) -> float:
    """Seconds from SIGTERM to the exit of one live ``engine run``."""
    config = _config(directory, sim)
    env = {**os.environ, "SR_BENCH_API_KEY": sim.api_key}
    with (directory / "daemon.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "simple_risk", "engine", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        if not wait_until(lambda: _live(directory / "data" / "status.json", process.pid), 30.0):
            raise SystemExit(f"engine run did not go live; see {directory / 'daemon.log'}")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        return time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    times = []
    with Simulator(
        port=0,
        price_interval=None,
        accounts=[AccountSpec(ACCOUNT, "BENCH-50K", Decimal(50_000))],
    ) as sim:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix=f"simple-risk-stop-{run}-") as directory:
                times.append(stop_time(Path(directory), sim))
    median, worst = statistics.median(times), max(times)
    print(
        f"engine run, SIGTERM → exit over {len(times)} runs: median {median:.2f} s, "
        f"worst {worst:.2f} s (target <= {TARGET:.0f} s: {'met' if worst <= TARGET else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
