"""How long a command takes to start: what a trader feels typing ``simple-risk engine status``.

    .venv/bin/python -m bench.startup [--runs 15]

Runs each command as a fresh process (the installed console script) and prints the median and
the worst wall time. ``engine status`` is measured twice: against a running daemon (the
in-process simulator and a daemon serving a status socket) and with no daemon (the command's
own start-up plus its "no daemon is running" answer). Targets: ``--version`` and ``--help``
under 300 ms, ``engine status`` under 500 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--version": 0.300, "--help": 0.300, "engine status": 0.500}


def _script() -> str:
    found = Path(sys.executable).with_name("simple-risk")
    return str(found) if found.exists() else "simple-risk"


def _time(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def _line(name: str, times: list[float], target: float | None) -> str:
    median, worst = statistics.median(times), max(times)
    verdict = ""
    if target is not None:
        verdict = f"  target {target * 1000:.0f} ms: {'met' if median <= target else 'MISSED'}"
    return f"{name:<28} median {median * 1000:6.0f} ms   worst {worst * 1000:6.0f} ms{verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    script = _script()
    env = dict(os.environ)
    print(f"simple-risk start-up, {runs} runs each, {os.cpu_count()} cores")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    missed = 0
    for args in ("--version", "--help"):
        times = _time([script, args], env, runs)
        missed += statistics.median(times) > TARGETS[args]
        print(_line(args, times, TARGETS[args]))
    with tempfile.TemporaryDirectory(prefix="sr-bench-") as directory:
        nowhere = {**env, "SIMPLE_RISK_SOCKET": str(Path(directory) / "none.sock")}
        times = _time([script, "engine", "status"], nowhere, runs)
        print(_line("engine status (no daemon)", times, None))
        with _running_daemon(Path(directory)) as socket_path:
            there = {**env, "SIMPLE_RISK_SOCKET": socket_path}
            times = _time([script, "engine", "status"], there, runs)
            missed += statistics.median(times) > TARGETS["engine status"]
            print(_line("engine status (daemon)", times, TARGETS["engine status"]))
    print("targets: met" if not missed else f"targets: {missed} missed")
    return 0


class _running_daemon:
    """The simulator and a daemon serving its status socket, in this process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> str:
        from simple_risk.adapters.simulator import Simulator
        from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
        from simple_risk.daemon.sim import scaled_ruleset, sim_config, wait_until
        from simple_risk.engine.dsl import load_ruleset
        from simple_risk.resources import default_ruleset_path

        self.sim = Simulator(port=0, price_interval=None).start()
        accounts = [a.id for a in self.sim.venue.accounts()][:1]
        socket_path = self.directory / "s.sock"
        config = sim_config(
            self.sim.base_url,
            self.sim.username,
            self.sim.api_key,
            accounts,
            self.directory,
            ruleset_path=default_ruleset_path(),
            status_socket=socket_path,
        )
        ruleset = scaled_ruleset(load_ruleset(default_ruleset_path()))
        self.daemon = Daemon(
            config,
            dict.fromkeys(accounts, ruleset),
            store=open_store(config),
            options=RuntimeOptions(serve=True),
        ).start()
        wait_until(self.daemon.ready.is_set, 15.0)
        return str(socket_path)

    def __exit__(self, *exc: object) -> None:
        self.daemon.stop()
        self.sim.stop()


if __name__ == "__main__":
    sys.exit(main())
