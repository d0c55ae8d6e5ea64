"""Enforcement latency on loopback: breaching event out of the simulator → enforcing REST call in.

    .venv/bin/python -m bench.latency [--breaches 1000] [--wan-breaches 20] [--in-process]
                                      [--stages] [--gap 0.02] [--log-level info]
                                      [--market-breaches 100] [--quote-rate 20]
                                      [--cpu-latency-us N]

Loopback: the simulator emits a user-hub position event for one RTY contract (a blocked
symbol) to the daemon, which must close it. For each breach the latency runs from the moment
the simulator sends the event to the simulator receiving the daemon's
``Position/closeContract``, both stamped by the simulator on its own clock. Then a flat
position event ends the episode, so the next breach is a new one; it comes ``--gap`` seconds
(20 ms) after the episode is confirmed, so it finds the daemon at rest as a real breach does
(a daemon never meets breaches 5 ms apart; its store writer is still writing the last one's
records then: ``--gap 0`` measures that too). Prints p50, p99 and the maximum; the targets are
p50 ≤ 2 ms and p99 ≤ 5 ms.

Market profile (``--market-breaches``, simulator in its own process): the breach a loss limit
meets, made by a quote. A one-lot ES position is opened at the last price, ES quotes stream at
``--quote-rate`` a second for 0.3 s, then one quote takes the position's open loss past the
book's ``max_unrealized_loss``; the latency runs from that quote leaving the simulator to the
close arriving. This daemon runs the deployed intervals (``Timing()``), not the simulated ones.

By default the simulator runs in a process of its own (``bench/simprocess.py``), as a gateway
does: the daemon's interpreter is its own. ``--in-process`` starts it inside the bench's
process instead, where its event loop and the daemon's threads share one GIL (the
configuration of the figures recorded before 2026-12-06 15:00); ``--stages`` (in-process only)
also prints where the time goes. The daemon logs at its default level (info) to a file and a
console, as deployed (figures before 2026-12-06 15:00 were taken at level error).

WAN profile: the simulator holds every REST answer and hub frame back by 40 ± 10 ms
(:class:`~simple_risk.adapters.simulator.WanDelay`) and a trader buys RTY at market; the time
runs from the venue's fill to the venue going flat (the ``Position/closeContract`` arriving:
the venue acts on arrival). The aim is at most two round trips plus 10 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from bench import simprocess
from bench.latency_stages import report, stage_clock
from simple_risk.adapters.simulator import (
    RecordedRequest,
    Simulator,
    WanDelay,
)
from simple_risk.adapters.topstepx.ratelimit import Budget
from simple_risk.daemon.config import Timing
from simple_risk.daemon.cpuwake import CpuLatencyHold
from simple_risk.daemon.heap import settle_startup_heap
from simple_risk.daemon.logging import configure_logging, remove_handlers
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.daemon.sim import Trader, scaled_ruleset, sim_config, wait_until
from simple_risk.engine.dsl import load_ruleset
from simple_risk.resources import default_ruleset_path

ACCOUNT = simprocess.ACCOUNT
UNLIMITED = {"default": Budget(1_000_000, 60.0), "bars": Budget(50, 30.0)}


def _position(
    contract_id: str,
    size: int,
    *,
    short: bool = False,
    price: Decimal = Decimal(2300),
    name: str = "RTYZ6",
) -> list[object]:
    """A ``GatewayUserPosition`` invocation's arguments, exactly as on the live wire: a flat
    position is removed (action 2, type 0, size 0, the old average price)."""
    data = {
        "id": 7001,
        "accountId": ACCOUNT,
        "contractId": contract_id,
        "contractDisplayName": name,
        "creationTimestamp": datetime.now(UTC).isoformat(),
        "type": (2 if short else 1) if size else 0,
        "size": size,
        "averagePrice": float(price),
    }
    return [{"action": 1 if size else 2, "data": data}]


def _quote(contract_id: str, price: Decimal) -> list[object]:
    """A ``GatewayQuote`` invocation's arguments (a delta, as live: no snapshot fields)."""
    now = datetime.now(UTC).isoformat()
    value = float(price)
    return [
        contract_id,
        {
            "symbol": "F.US.EP",
            "symbolName": "/ES",
            "lastPrice": value,
            "bestBid": value,
            "bestAsk": value,
            "lastUpdated": now,
            "timestamp": now,
        },
    ]


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
    sim = simprocess.simulator(wan).start()
    trader = Trader(sim)
    try:
        with guarding_daemon(
            directory, sim.base_url, sim.username, sim.api_key, serve=serve, **config_changes
        ) as daemon:
            yield sim, daemon, trader
    finally:
        trader.close()
        sim.stop()


@contextmanager
def guarding_daemon(
    directory: Path,
    base_url: str,
    username: str,
    api_key: str,
    *,
    serve: bool = False,
    **config_changes: Any,
) -> Iterator[Daemon]:
    """A live daemon on the shipped ruleset guarding the bench's account at ``base_url``."""
    config = sim_config(
        base_url, username, api_key, [ACCOUNT], directory, ruleset_path=default_ruleset_path()
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
        settle_startup_heap()  # as ``engine run`` does once it guards its accounts
        yield daemon
    finally:
        daemon.stop()


class SeparateSimulator:
    """The simulator of ``bench/simprocess.py``, driven over its ``/sim/`` control routes."""

    def __init__(self, details: dict[str, str]) -> None:
        self.base_url = details["url"]
        self.username = details["username"]
        self.api_key = details["api_key"]
        self.rty = details["rty"]
        self.es = details["es"]
        self._http = requests.Session()
        self._http.trust_env = False

    def _call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        answer = self._http.request(method, f"{self.base_url}{path}", json=body, timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def emit_position(self, size: int) -> datetime:
        """Send a position event for RTY; when the simulator sent it."""
        body = {"target": "GatewayUserPosition", "arguments": _position(self.rty, size)}
        answer = self._call("POST", "/sim/emit/user", {**body, "accountId": ACCOUNT})
        if answer["sent"] != 1:
            raise SystemExit(f"the position event reached {answer['sent']} connections, not 1")
        return datetime.fromisoformat(answer["at"])

    def emit_es_position(self, size: int, *, short: bool, price: Decimal) -> None:
        """Send a position event for ES opened at ``price`` (flat: ``size`` 0)."""
        arguments = _position(self.es, size, short=short, price=price, name="ESZ6")
        body = {"target": "GatewayUserPosition", "arguments": arguments, "accountId": ACCOUNT}
        if self._call("POST", "/sim/emit/user", body)["sent"] != 1:
            raise SystemExit("the ES position event reached no connection")

    def emit_quote(self, price: Decimal) -> tuple[int, datetime]:
        """Send an ES quote to the connections watching ES: how many got it, and when it left."""
        arguments = _quote(self.es, price)
        body = {"target": "GatewayQuote", "arguments": arguments, "contractId": self.es}
        answer = self._call("POST", "/sim/emit/market", body)
        return int(answer["sent"]), datetime.fromisoformat(answer["at"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/sim/requests")

    def first_close(self) -> datetime | None:
        """When the first ``Position/closeContract`` since the last clear arrived."""
        for request in self._call("GET", "/sim/requests")["requests"]:
            if request["path"].lower() == CLOSE:
                return datetime.fromisoformat(request["time"])
        return None


@contextmanager
def separate_simulator() -> Iterator[SeparateSimulator]:
    """``bench/simprocess.py`` started for the block, stopped after it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.simprocess"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the simulator process did not start")
        yield SeparateSimulator(json.loads(line))
    finally:
        process.stdin.close()
        try:
            process.wait(10.0)
        except subprocess.TimeoutExpired:
            process.kill()


def separate_latencies(
    sim: SeparateSimulator, daemon: Daemon, breaches: int, gap: float = 0.0
) -> list[float]:
    """Latencies in milliseconds, one per breach, against the simulator's own process.

    The bench waits for the daemon to count the close's answer (polled in this process, so
    the simulator is asked only once per breach), then reads the close's arrival."""
    latencies: list[float] = []
    executor = daemon.executor
    for n in range(breaches):
        time.sleep(gap)
        sim.clear_requests()
        answered = executor.calls_sent
        sent = sim.emit_position(1)
        if not wait_until(lambda a=answered: executor.calls_sent > a, 10.0, interval=0.0005):
            raise SystemExit(f"breach {n} was not enforced within 10 s")
        closed = sim.first_close()
        if closed is None:
            raise SystemExit(f"breach {n}: the daemon's call was not a close")
        latencies.append((closed - sent).total_seconds() * 1000)
        sim.emit_position(0)
        if not wait_until(lambda: not daemon.book, 10.0, interval=0.0005):
            raise SystemExit(f"breach {n}: the close was never confirmed")
    return latencies


#: seconds of quotes before each market breach
MARKET_WARM = 0.3

#: one ES lot's loss past the shipped book's ``max_unrealized_loss`` ($300 = 6 points)
ES_BREACH = Decimal(7)


def _holds(daemon: Daemon, contract_id: str) -> bool:
    """Does the daemon's engine hold a position in ``contract_id``?"""
    state = daemon.engines[ACCOUNT].account(ACCOUNT)
    return state is not None and contract_id in state.positions


def market_latencies(
    sim: SeparateSimulator, daemon: Daemon, breaches: int, rate: float, warm: float
) -> tuple[list[float], int]:
    """Latencies in milliseconds of breaches made by a quote while quotes stream (the market
    profile: see the module's docstring), and how many breaches were made again.

    Each breach: a one-lot ES position opened at the last quoted price (long and short in
    turn), ES quotes at that price ``rate`` a second for ``warm`` seconds (and until the
    daemon, which watches the contract once it holds it, gets them), then the quote that takes
    the position's open loss past the limit; the latency runs from that quote leaving the
    simulator to the ``Position/closeContract`` arriving. A flat position event ends it.

    The position is one the venue never held (the venue's own would fill, and its fills would
    trip the book's trade-count and loss rules), so a reconcile the daemon makes meanwhile (it
    reconciles two seconds after enforcing) removes it; a breach whose position went that way
    before its quote counts as made again, and is."""
    latencies: list[float] = []
    redone = 0
    executor = daemon.executor
    price = Decimal(6000)
    interval = 1.0 / rate
    attempt = 0
    while len(latencies) < breaches:
        if redone > breaches:
            raise SystemExit("market profile: reconciles removed more positions than it kept")
        long = attempt % 2 == 0
        attempt += 1
        sim.emit_quote(price)  # the daemon's last price is the position's (when it watches)
        sim.emit_es_position(1, short=not long, price=price)
        started = time.monotonic()
        delivered = 0
        while time.monotonic() - started < warm or not delivered:
            if time.monotonic() - started > 10.0:
                raise SystemExit("market profile: the daemon never watched ES")
            delivered += sim.emit_quote(price)[0]
            time.sleep(interval)
        sim.clear_requests()
        answered = executor.calls_sent
        enforced = False
        if _holds(daemon, sim.es):
            price = price - ES_BREACH if long else price + ES_BREACH
            reached, sent = sim.emit_quote(price)
            if reached != 1:
                raise SystemExit(f"market profile: the breaching quote reached {reached} hubs")
            enforced = wait_until(lambda a=answered: executor.calls_sent > a, 2.0, interval=0.0005)
            if enforced:
                closed = sim.first_close()
                if closed is None:
                    raise SystemExit("market profile: the daemon's call was not a close")
                latencies.append((closed - sent).total_seconds() * 1000)
            elif _holds(daemon, sim.es):
                raise SystemExit("market profile: a breach was not enforced within 2 s")
        if not enforced:
            redone += 1  # a reconcile removed the position: the same breach again
        sim.emit_es_position(0, short=not long, price=price)
        if not wait_until(lambda: not daemon.book, 10.0, interval=0.0005):
            raise SystemExit("market profile: the close was never confirmed")
    return latencies, redone


def measure_separate(
    breaches: int, gap: float = 0.0, market: tuple[int, float, float] | None = None
) -> tuple[list[float], tuple[list[float], int]]:
    """Latencies in milliseconds, one per breach, with the simulator in its own process: the
    position breaches at rest, then (``market``: breaches, quotes a second, warm-up seconds)
    the market profile's, with how many of those were made again."""
    with (
        tempfile.TemporaryDirectory(prefix="simple-risk-latency-") as directory,
        separate_simulator() as sim,
    ):
        login = (sim.base_url, sim.username, sim.api_key)
        for part in ("at-rest", "market"):
            (Path(directory) / part).mkdir()
        at_rest: list[float] = []
        if breaches:
            with guarding_daemon(Path(directory) / "at-rest", *login) as daemon:
                at_rest = separate_latencies(sim, daemon, breaches, gap)
        quoted: tuple[list[float], int] = ([], 0)
        if market and market[0]:
            # the deployed intervals: the simulated ones reconcile every 0.5 s after enforcing,
            # which would remove nearly every venue-less test position
            with guarding_daemon(Path(directory) / "market", *login, timing=Timing()) as daemon:
                quoted = market_latencies(sim, daemon, *market)
        return at_rest, quoted


def breach_latencies(
    sim: Simulator, daemon: Daemon, trader: Trader, breaches: int, gap: float = 0.0
) -> list[float]:
    """Latencies in milliseconds, one per breach (see the module's docstring)."""
    latencies: list[float] = []
    contract = trader.contract("RTY")
    for n in range(breaches):
        time.sleep(gap)
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


def measure(breaches: int, gap: float = 0.0) -> list[float]:
    """Latencies in milliseconds, one per breach."""
    with (
        tempfile.TemporaryDirectory(prefix="simple-risk-latency-") as directory,
        bench_daemon(Path(directory)) as (sim, daemon, trader),
    ):
        return breach_latencies(sim, daemon, trader, breaches, gap)


def summary(latencies: list[float]) -> str:
    """``p50 …, p99 …, max …, mean …`` in milliseconds."""
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return (
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms, "
        f"mean {statistics.fmean(latencies):.1f} ms"
    )


def verdict(latencies: list[float]) -> str:
    """The targets, and whether ``latencies`` (milliseconds) meet them."""
    met = percentile(latencies, 0.50) <= 2 and percentile(latencies, 0.99) <= 5
    return f"targets p50 <= 2 ms, p99 <= 5 ms: {'met' if met else 'NOT met'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--breaches", type=int, default=1000, help="position breaches at rest (0: none)"
    )
    parser.add_argument("--wan-breaches", type=int, default=20, help="0: no WAN profile")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="start the simulator inside this process (sharing the daemon's GIL)",
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also print where the loopback time goes (bench/latency_stages.py; in-process)",
    )
    parser.add_argument(
        "--gap",
        type=float,
        default=0.02,
        help="seconds between one breach's episode ending and the next breach (default 0.02: "
        "the daemon at rest, as a breach finds it; 0: back to back)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the daemon's log level (default: info, the daemon's default)",
    )
    parser.add_argument(
        "--market-breaches",
        type=int,
        default=100,
        metavar="N",
        help="the market profile: N breaches made by a quote while quotes stream (default "
        "100; 0: none; with the simulator in its own process only)",
    )
    parser.add_argument(
        "--quote-rate",
        type=float,
        default=20.0,
        metavar="R",
        help="the market profile's quotes a second before each breach (default 20)",
    )
    parser.add_argument(
        "--cpu-latency-us",
        type=int,
        default=None,
        metavar="N",
        help="hold the CPUs' wake-up latency at N µs during the run, as the daemon's "
        "cpu_latency_us does (simple_risk/daemon/cpuwake.py; needs /dev/cpu_dma_latency)",
    )
    args = parser.parse_args(argv)
    hold: CpuLatencyHold | None = None
    if args.cpu_latency_us is not None:
        hold = CpuLatencyHold(args.cpu_latency_us)
        why = hold.acquire()
        if why is not None:
            parser.error(f"--cpu-latency-us: {why}")
    if args.stages:
        args.in_process = True
    # the daemon logs as it does deployed: its level to a rotating file and to the console
    # (journald under systemd; /dev/null here, so the figures are not the terminal's)
    log_dir = Path(tempfile.mkdtemp(prefix="simple-risk-latency-log-"))
    console = open(os.devnull, "w")  # noqa: SIM115 - closed below, after the handlers
    handlers = configure_logging(level=args.log_level, log_dir=log_dir, stream=console)
    started = time.monotonic()
    stages: list[str] = []
    quoted: list[float] = []
    redone = 0
    try:
        if args.stages:
            with stage_clock() as stamps:
                latencies = measure(args.breaches, args.gap)
            stages = report(stamps)
        elif args.in_process:
            latencies = measure(args.breaches, args.gap)
        else:
            market = (args.market_breaches, args.quote_rate, MARKET_WARM)
            latencies, (quoted, redone) = measure_separate(args.breaches, args.gap, market)
        wan = WanDelay(0.040, 0.010)
        flat = measure_wan(args.wan_breaches, wan) if args.wan_breaches else []
    finally:
        if hold is not None:
            hold.release()
        remove_handlers(handlers)
        console.close()
        shutil.rmtree(log_dir, ignore_errors=True)
    where = "simulator in this process" if args.in_process else "simulator in its own process"
    if hold is not None:
        where += f", CPU wake-up latency held at {args.cpu_latency_us} µs"
    if latencies:
        print(
            f"enforcement latency ({where}, {args.gap * 1000:g} ms apart) over "
            f"{len(latencies)} breaches ({time.monotonic() - started:.1f} s): "
            f"{summary(latencies)} ({verdict(latencies)})"
        )
    for line in stages:
        print(line)
    if quoted:
        print(
            f"market profile (ES quotes {args.quote_rate:g} a second, then the quote that takes "
            f"a position's open loss past its limit) over {len(quoted)} breaches: "
            f"{summary(quoted)} ({verdict(quoted)}; {redone} made again: a reconcile had "
            "removed the position)"
        )
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
