"""Load run: the daemon keeps up with thousands of gateway events per second across 20 accounts.

    .venv/bin/python -m bench.load [--rate 5000] [--seconds 60] [--accounts 20]

The simulator (in this process) pushes wire events at ``--rate`` per second for ``--seconds``:
four in five are market events spread over the simulator's contracts, in the live shapes:
quote deltas (best bid/ask, no last price) and market-trade arrays, alternately; one in five is
a user-hub account update for one of ``--accounts`` accounts (journaled by the daemon). The
daemon runs as a real ``simple-risk engine run`` subprocess guarding all of them. Once a
second the run samples the daemon's ``status.json`` (events applied, queue depth, quotes
coalesced) and its resident memory from ``/proc/<pid>/status``; it prints the achieved send
rate, the daemon's apply rate, the largest queue depth seen and the peak RSS (target ≤ 150 MB),
and the daemon's REST calls per 60 s as the simulator received them — the most in any sliding
60 s window, startup included (target ≤ 190: the gateway allows 200, the rest is the
trader's platform's).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from simple_risk.adapters.simulator import AccountSpec, RateLimits, Simulator
from simple_risk.adapters.topstepx.ratelimit import busiest_window
from simple_risk.daemon.sim import wait_until

FIRST_ACCOUNT = 20200001
OWN_CALLS_LIMIT = 190  # the daemon's own REST calls in any 60 s (the gateway allows 200)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _status(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _calls_per_minute(sim: Simulator) -> str:
    """The daemon's REST calls per 60 s: it is the only REST client of this simulator."""
    times = [r.time.timestamp() for r in sim.requests_log() if r.path.lower().startswith("/api/")]
    busiest = busiest_window(times, 60.0)
    verdict = "met" if busiest <= OWN_CALLS_LIMIT else "NOT met"
    return (
        f"daemon REST calls: {len(times)} in all; per 60 s (max over any sliding window) "
        f"{busiest} (target <= {OWN_CALLS_LIMIT}: {verdict})"
    )


class Producer:
    """Threads that emit wire events into the simulator's hubs at a target rate."""

    def __init__(self, sim: Simulator, accounts: list[int], rate: float, threads: int = 2) -> None:
        self.sim = sim
        self.accounts = accounts
        self.rate = rate
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._contracts = sim.venue.active_contract_ids()
        self._threads = [
            threading.Thread(target=self._run, args=(k, threads), daemon=True)
            for k in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def _run(self, index: int, threads: int) -> None:
        per_thread = self.rate / threads
        started = time.monotonic()
        for n in itertools.count(index, threads):
            if self._stop.is_set():
                return
            due = started + (n // threads) / per_thread
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if n % 5 == 4:
                account = self.accounts[(n // 5) % len(self.accounts)]
                payload = {
                    "id": account,
                    "name": f"LOAD-{account}",
                    "balance": 50000 + n % 1000,
                    "canTrade": True,
                    "isVisible": True,
                    "simulated": True,
                }
                self.sim.emit_user_event(
                    "GatewayUserAccount", [{"action": 1, "data": payload}], account
                )
            else:
                contract = self._contracts[n % len(self._contracts)]
                price = 1000 + (n % 200) / 4
                if n % 2:
                    quote = {
                        "symbol": contract,
                        "contract": contract,
                        "bestBid": price,
                        "bestAsk": price + 0.25,
                    }
                    self.sim.emit_market_event("GatewayQuote", [contract, quote])
                else:
                    trade = {"contractId": contract, "price": price, "type": 0, "volume": 1}
                    self.sim.emit_market_event("GatewayTrade", [contract, [trade]])
            with self._lock:
                self.sent += 1


def run(rate: float, seconds: float, account_count: int) -> int:
    accounts = [FIRST_ACCOUNT + k for k in range(account_count)]
    sim = Simulator(
        port=0,
        ping_interval=1.0,
        price_interval=None,
        accounts=[AccountSpec(a, f"LOAD-{a}", Decimal(50000)) for a in accounts],
        rate_limits=RateLimits(general=(1_000_000, 60.0), bars=(50, 30.0)),
    ).start()
    with tempfile.TemporaryDirectory(prefix="simple-risk-load-") as directory:
        base = Path(directory)
        config = base / "config.yaml"
        config.write_text(
            f"gateway: {sim.base_url}\n"
            f"credentials: {{username: {sim.username}, api_key: {sim.api_key}}}\n"
            f"accounts: {accounts}\n"
            "data_dir: data\nlog_dir: log\nstatus_socket: status.sock\n"
            "log: {level: warning}\n"
            "timing: {snapshot_interval: 1, reconcile_interval: 30}\n",
            encoding="utf-8",
        )
        status_path = base / "data" / "status.json"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "simple_risk", "engine", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not wait_until(
                lambda: (
                    all(v.get("live") for v in _status(status_path).get("accounts", {}).values())
                    and bool(_status(status_path).get("accounts"))
                ),
                60.0,
            ):
                print("the daemon did not become live", file=sys.stderr)
                return 1
            producer = Producer(sim, accounts, rate)
            first = _status(status_path).get("events_dispatched", 0)
            started = time.monotonic()
            producer.start()
            peak_rss = 0.0
            peak_depth = 0
            while time.monotonic() - started < seconds:
                time.sleep(1.0)
                status = _status(status_path)
                rss = _rss_mb(daemon.pid)
                peak_rss = max(peak_rss, rss)
                peak_depth = max(peak_depth, int(status.get("queue_depth", 0)))
                elapsed = time.monotonic() - started
                print(
                    f"{elapsed:5.1f}s sent {producer.sent / elapsed:7.0f}/s  "
                    f"handled {(status.get('events_dispatched', 0) - first) / elapsed:7.0f}/s  "
                    f"queue {status.get('queue_depth', '?'):>5} "
                    f"(max {status.get('queue_max_depth', '?')})  "
                    f"coalesced {status.get('quotes_coalesced', '?')}  rss {rss:.0f} MB",
                    flush=True,
                )
            producer.stop()
            elapsed = time.monotonic() - started
            time.sleep(2.0)
            status = _status(status_path)
            print(
                f"load run: {producer.sent} events in {elapsed:.0f} s "
                f"({producer.sent / elapsed:.0f}/s sent) across {account_count} accounts; "
                f"daemon queue max depth {status.get('queue_max_depth')}, "
                f"largest sampled depth {peak_depth}, {status.get('quotes_coalesced')} quotes "
                f"coalesced, peak RSS {peak_rss:.0f} MB (target <= 150 MB: "
                f"{'met' if peak_rss <= 150 else 'NOT met'})"
            )
            print(_calls_per_minute(sim))
            return 0
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
            sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--accounts", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return run(args.rate, args.seconds, args.accounts)


if __name__ == "__main__":
    sys.exit(main())
