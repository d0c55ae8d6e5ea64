"""Enforcement latency on loopback: breaching event out of the simulator → enforcing REST call in.

    .venv/bin/python -m bench.latency [--breaches 1000] [--wan-breaches 20] [--stages]

Loopback: the simulator emits a user-hub position event for one RTY contract (a blocked
symbol) to the daemon, which must close it. For each breach the latency runs from just before
the simulator is told to emit the event to the simulator receiving the daemon's
``Position/closeContract`` (stamped on arrival by the simulator's own request log, on the same
clock). Then a flat position event ends the episode, so the next breach is a new one. Prints
p50, p99 and the maximum; the targets are p50 ≤ 2 ms and p99 ≤ 5 ms.

WAN profile: the simulator holds every REST answer and hub frame back by 40 ± 10 ms
(:class:`~simple_risk.adapters.simulator.WanDelay`) and a trader buys RTY at market; the time
runs from the venue's fill to the venue going flat (the ``Position/closeContract`` arriving:
the venue acts on arrival). The aim is at most two round trips plus 10 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.latency_stages import report, stage_clock
from simple_risk.adapters.simulator import (
    AccountSpec,
    RateLimits,
    RecordedRequest,
    Simulator,
    WanDelay,
)
from simple_risk.adapters.topstepx.ratelimit import Budget
from simple_risk.daemon.logging import configure_logging, remove_handlers
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.daemon.sim import Trader, scaled_ruleset, sim_config, wait_until
from simple_risk.engine.dsl import load_ruleset
from simple_risk.resources import default_ruleset_path

ACCOUNT = 20100001
UNLIMITED = {"default": Budget(1_000_000, 60.0), "bars": Budget(50, 30.0)}


def _position(contract_id: str, size: int) -> list[object]:
    """A ``GatewayUserPosition`` invocation's arguments, exactly as on the live wire: a flat
    position is removed (action 2, type 0, size 0, the old average price)."""
    data = {
        "id": 7001,
        "accountId": ACCOUNT,
        "contractId": contract_id,
        "contractDisplayName": "RTYZ6",
        "creationTimestamp": datetime.now(UTC).isoformat(),
        "type": 1 if size else 0,
        "size": size,
        "averagePrice": 2300,
    }
    return [{"action": 1 if size else 2, "data": data}]


CLOSE = "/api/position/closecontract"


def _closed_after(sim: Simulator, start: int) -> Callable[[], bool]:
    """A poll: has a close been logged from index ``start`` on?"""
    return lambda: _first_close(sim, start) is not None


def _first_close(sim: Simulator, start: int) -> RecordedRequest | None:
    """The first ``Position/closeContract`` the simulator logged from index ``start`` on.

    Read from the simulator's log directly rather than through ``requests_log()``: that hops
    onto the simulator's event loop, and polling it every half millisecond would load the very
    loop that answers the daemon's call (measured: it added ~2 ms to p50)."""
    log = sim.requests
    return next((r for r in log[start:] if r.path.lower() == CLOSE), None)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


@contextmanager
def bench_daemon(
    directory: Path, *, serve: bool = False, wan: WanDelay | None = None, **config_changes: Any
) -> Iterator[tuple[Simulator, Daemon, Trader]]:
    """A simulator with one big account and a live daemon on the shipped ruleset guarding it
    (``serve``: with its status socket; ``wan``: the simulator's answers and frames delayed;
    ``config_changes`` applied to its configuration)."""
    sim = Simulator(
        port=0,
        ping_interval=1.0,
        price_interval=None,
        accounts=[AccountSpec(ACCOUNT, "BENCH-50K", Decimal(10_000_000))],
        rate_limits=RateLimits(general=(1_000_000, 60.0), bars=(50, 30.0)),
        wan=wan,
    ).start()
    trader = Trader(sim)
    config = sim_config(
        sim.base_url,
        sim.username,
        sim.api_key,
        [ACCOUNT],
        directory,
        ruleset_path=default_ruleset_path(),
    )
    if config_changes:
        config = dataclasses.replace(config, **config_changes)
    ruleset = scaled_ruleset(load_ruleset(default_ruleset_path()))
    daemon = Daemon(
        config,
        {ACCOUNT: ruleset},
        store=open_store(config),
        options=RuntimeOptions(budgets=UNLIMITED, serve=serve),
    )
    daemon.start()
    try:
        if not wait_until(daemon.ready.is_set, 30.0):
            raise SystemExit("the daemon did not become live")
        yield sim, daemon, trader
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def breach_latencies(sim: Simulator, daemon: Daemon, trader: Trader, breaches: int) -> list[float]:
    """Latencies in milliseconds, one per breach (see the module's docstring)."""
    latencies: list[float] = []
    contract = trader.contract("RTY")
    for n in range(breaches):
        sim.clear_requests()
        start = len(sim.requests)
        emitted = datetime.now(UTC)
        sim.emit_user_event("GatewayUserPosition", _position(contract, 1), ACCOUNT)
        if not wait_until(_closed_after(sim, start), 10.0, interval=0.0005):
            raise SystemExit(f"breach {n} was not enforced within 10 s")
        closed = _first_close(sim, start)
        assert closed is not None
        latencies.append((closed.time - emitted).total_seconds() * 1000)
        sim.emit_user_event("GatewayUserPosition", _position(contract, 0), ACCOUNT)
        if not wait_until(lambda: not daemon.book, 10.0, interval=0.0005):
            raise SystemExit(f"breach {n}: the close was never confirmed")
    return latencies


def wan_flat_times(sim: Simulator, daemon: Daemon, trader: Trader, breaches: int) -> list[float]:
    """Milliseconds from each breaching fill to flat at the venue (see the module's docstring)."""
    times: list[float] = []
    contract = trader.contract("RTY")
    for n in range(breaches):
        start = len(sim.requests)
        order_id = trader.buy(ACCOUNT, "RTY")
        if not wait_until(_closed_after(sim, start), 10.0, interval=0.001):
            raise SystemExit(f"WAN breach {n} was not enforced within 10 s")
        closed = _first_close(sim, start)
        assert closed is not None
        fill = next(
            t
            for t in sim.venue.trades(ACCOUNT)
            if t.order_id == order_id and t.contract_id == contract
        )
        times.append((closed.time - fill.creation_timestamp).total_seconds() * 1000)
        settled = wait_until(
            lambda: trader.size(ACCOUNT, "RTY") == 0 and not daemon.book, 10.0, interval=0.005
        )
        if not settled:
            raise SystemExit(f"WAN breach {n}: the account never went flat")
    return times


def measure_wan(breaches: int, wan: WanDelay) -> list[float]:
    """Fill → flat at the venue in milliseconds, one per breach, over a simulated WAN."""
    with (
        tempfile.TemporaryDirectory(prefix="simple-risk-latency-wan-") as directory,
        bench_daemon(Path(directory), wan=wan) as (sim, daemon, trader),
    ):
        return wan_flat_times(sim, daemon, trader, breaches)


def measure(breaches: int) -> list[float]:
    """Latencies in milliseconds, one per breach."""
    with (
        tempfile.TemporaryDirectory(prefix="simple-risk-latency-") as directory,
        bench_daemon(Path(directory)) as (sim, daemon, trader),
    ):
        return breach_latencies(sim, daemon, trader, breaches)


def summary(latencies: list[float]) -> str:
    """``p50 …, p99 …, max …, mean …`` in milliseconds."""
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return (
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms, "
        f"mean {statistics.fmean(latencies):.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--breaches", type=int, default=1000)
    parser.add_argument("--wan-breaches", type=int, default=20, help="0: no WAN profile")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also print where the loopback time goes (bench/latency_stages.py)",
    )
    args = parser.parse_args(argv)
    handlers = configure_logging(level="error")
    started = time.monotonic()
    stages: list[str] = []
    try:
        if args.stages:
            with stage_clock() as stamps:
                latencies = measure(args.breaches)
            stages = report(stamps)
        else:
            latencies = measure(args.breaches)
        wan = WanDelay(0.040, 0.010)
        flat = measure_wan(args.wan_breaches, wan) if args.wan_breaches else []
    finally:
        remove_handlers(handlers)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    met = p50 <= 2 and p99 <= 5
    print(
        f"enforcement latency over {len(latencies)} breaches "
        f"({time.monotonic() - started:.1f} s): {summary(latencies)} "
        f"(targets p50 <= 2 ms, p99 <= 5 ms: {'met' if met else 'NOT met'})"
    )
    for line in stages:
        print(line)
    if flat:
        aim = 2 * wan.mean * 1000 + 10
        print(
            f"WAN {wan.mean * 1000:.0f} ± {wan.jitter * 1000:.0f} ms, breaching fill → flat at "
            f"the venue over {len(flat)} breaches: {summary(flat)} (aim <= 2 round trips + "
            f"10 ms = {aim:.0f} ms: {'met' if percentile(flat, 0.99) <= aim else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
