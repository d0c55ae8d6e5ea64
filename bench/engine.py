"""Benchmark: a realistic trading day through the full engine, and through durable-rules.

    python bench/engine.py            # 10 accounts, ~1M events (about 80 % quotes)
    python bench/engine.py --quick    # a smaller day, under 30 s
    python bench/engine.py --check    # exit 1 when a floor (100k events/s, p99 50 µs) is missed
    python bench/engine.py --quick --full-evaluation   # every woken rule, as before the index
    python bench/engine.py --quick --per-kind --no-peer  # mean/p50/p99 µs per event kind
    python bench/engine.py --quick --facts-only --no-peer  # the fact store alone (no rules)

The day comes from ``bench/workload.py`` (seeded: every run measures the same events) and is
generated before timing starts. Engine time is stamped in UTC, as the adapters stamp it
(``datetime.now(UTC)``); ``--local-time`` stamps the same instants in America/Chicago instead,
which makes every comparison with the calendar's UTC instants (the day's end, lock ends)
convert time zones. The engine runs ``rulesets/topstep.yaml`` with its
off-by-default rules (trade management, RULE-012) switched on, so all twelve rules are live,
exactly as the daemon drives it: every event through ``Engine.apply`` (fact store, rule
evaluation, intents, lockouts, traces on firing), and after every event a ``next_deadline()``
look-up with an exact clock tick fed at each deadline that falls before the next event.
Printed: events/s, p50/p99/p99.9 per-event latency, firings, peak memory of the engine's own
state (tracemalloc, on a separate pass) and the process's peak RSS.

With the ``bench`` extra installed the same stream's rule matching then runs through
durable-rules (``bench/durable_peer.py``: facts flattened beforehand, only matching timed) and
the ratio of the two rates is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import platform
import resource
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.workload import CHICAGO, Profile, trading_day  # noqa: E402
from simple_risk.engine.dsl import load_ruleset  # noqa: E402
from simple_risk.engine.engine import Engine  # noqa: E402
from simple_risk.engine.events import ClockTick, Event, Quote  # noqa: E402
from simple_risk.engine.model import Ruleset  # noqa: E402

RULESET = ROOT / "rulesets" / "topstep.yaml"
FLOOR_RATE = 100_000
FLOOR_P99_US = 50.0


@dataclass
class EngineResult:
    events: int
    deadline_ticks: int
    seconds: float
    firings: int
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float
    #: event kind → its latencies in ns (the time of an event includes the deadline ticks fed
    #: after it), in stream order; a quote is ``Quote (held)`` when an account holds a position
    #: in its contract — those reprice and evaluate, the others cost the fact store only
    by_kind: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _percentile(sorted_ns: list[int], fraction: float) -> float:
    index = min(len(sorted_ns) - 1, int(fraction * len(sorted_ns)))
    return sorted_ns[index] / 1000


def run_engine(
    events: list[Event],
    ruleset: Ruleset,
    incremental: bool = True,
    kinds: list[str] | None = None,
) -> EngineResult:
    """Drive the engine as the daemon does; time every event (with its deadline look-up).
    Given ``kinds`` (one name per event), the latencies are also grouped by kind."""
    engine = Engine(ruleset, incremental=incremental)
    latencies = [0] * len(events)
    firings = 0
    ticks = 0
    clock = time.perf_counter_ns
    apply = engine.apply
    next_deadline = engine.next_deadline
    count = len(events)
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for index, event in enumerate(events):
            t0 = clock()
            firings += len(apply(event))
            deadline = next_deadline()
            if deadline is not None and index + 1 < count and deadline <= events[index + 1].at:
                while deadline is not None and deadline <= events[index + 1].at:
                    firings += len(apply(ClockTick(at=max(deadline, event.at))))
                    ticks += 1
                    following = next_deadline()
                    if following == deadline:
                        break
                    deadline = following
            latencies[index] = clock() - t0
        seconds = time.perf_counter() - started
    finally:
        gc.enable()
    by_kind: dict[str, list[int]] = {}
    if kinds is not None:
        for name, spent in zip(kinds, latencies, strict=True):
            by_kind.setdefault(name, []).append(spent)
    latencies.sort()
    return EngineResult(
        events=count,
        deadline_ticks=ticks,
        seconds=seconds,
        firings=firings,
        p50_us=_percentile(latencies, 0.50),
        p99_us=_percentile(latencies, 0.99),
        p999_us=_percentile(latencies, 0.999),
        max_us=latencies[-1] / 1000,
        by_kind=by_kind,
    )


def _kinds_of(events: list[Event], ruleset: Ruleset) -> list[str]:
    """The kind of each event for ``--per-kind``: its class, quotes split by whether an
    account holds the quoted contract (found by a separate, untimed pass)."""
    engine = Engine(ruleset)
    kinds: list[str] = []
    for event in events:
        name = type(event).__name__
        if isinstance(event, Quote):
            held = any(
                event.contract_id in state.positions for state in engine.store.accounts.values()
            )
            name = "Quote (held)" if held else "Quote (not held)"
        kinds.append(name)
        engine.apply(event)
    return kinds


def per_kind_table(result: EngineResult) -> str:
    """mean/p50/p99 µs per event kind, the most frequent first."""
    lines = [f"{'kind':<18} {'events':>8} {'share':>6} {'mean':>8} {'p50':>8} {'p99':>8}"]
    total = sum(len(v) for v in result.by_kind.values())
    for name, spent in sorted(result.by_kind.items(), key=lambda kv: -len(kv[1])):
        ordered = sorted(spent)
        lines.append(
            f"{name:<18} {len(spent):>8,} {len(spent) / total:>6.1%} "
            f"{sum(spent) / len(spent) / 1000:>6.1f}µs {_percentile(ordered, 0.5):>6.1f}µs "
            f"{_percentile(ordered, 0.99):>6.1f}µs"
        )
    return "\n".join(lines)


#: the shipped book's rules that are off by default (trade management)
OFF_BY_DEFAULT = frozenset({"trade-management-breakeven", "trade-management-trail"})


def every_rule_on(path: Path = RULESET) -> Ruleset:
    """The ruleset with its off-by-default rules switched on: every rule of the book live."""
    loaded = load_ruleset(path)
    return dataclasses.replace(
        loaded,
        rules=tuple(
            dataclasses.replace(rule, enabled=True) if rule.id in OFF_BY_DEFAULT else rule
            for rule in loaded.rules
        ),
    )


def engine_peak_memory(events: list[Event], ruleset: Ruleset) -> int:
    """Peak bytes the engine allocates while consuming the stream (tracemalloc; slow)."""
    engine = Engine(ruleset)
    tracemalloc.start()
    try:
        for event in events:
            engine.apply(event)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller day (under 30 s)")
    parser.add_argument("--events", type=int, help="market and account events (default 1M)")
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--no-peer", action="store_true", help="skip durable-rules")
    parser.add_argument("--check", action="store_true", help="exit 1 when a floor is missed")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--ruleset", type=Path, default=RULESET, help="default: topstep.yaml")
    parser.add_argument(
        "--full-evaluation",
        action="store_true",
        help="evaluate every woken rule (Engine(incremental=False)), not only what changed",
    )
    parser.add_argument(
        "--per-kind",
        action="store_true",
        help="also print mean/p50/p99 µs per event kind (quotes split by held or not)",
    )
    parser.add_argument(
        "--facts-only",
        action="store_true",
        help="drop every rule (the fact store, dispatch and harness alone): the floor the "
        "rules' cost adds to",
    )
    parser.add_argument(
        "--local-time",
        action="store_true",
        help="stamp engine time in America/Chicago (the adapters stamp UTC)",
    )
    args = parser.parse_args(argv)
    events_wanted = args.events or (120_000 if args.quick else 1_000_000)
    # a smaller day keeps the full day's density: the same events per second of engine time
    full = Profile()
    duration = full.duration * (events_wanted / full.events)
    start = full.start.astimezone(CHICAGO) if args.local_time else full.start
    profile = Profile(accounts=args.accounts, events=events_wanted, duration=duration, start=start)

    import simple_risk.engine.engine as engine_module

    build = "compiled (mypyc)" if engine_module.__file__.endswith(".so") else "pure Python"
    print(
        f"python {platform.python_version()} on {platform.machine()}, {platform.processor()}; "
        f"engine: {build}"
    )
    started = time.perf_counter()
    events = list(trading_day(profile, seed=args.seed))
    kinds: dict[str, int] = {}
    for event in events:
        kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    mix = ", ".join(
        f"{k} {v / len(events):.1%}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])
    )
    print(
        f"workload: {len(events):,} events, {args.accounts} accounts, generated in "
        f"{time.perf_counter() - started:.1f} s ({mix})"
    )

    ruleset = every_rule_on(args.ruleset)
    if args.facts_only:
        ruleset = dataclasses.replace(ruleset, rules=())
    kinds = _kinds_of(events, ruleset) if args.per_kind else None
    result = run_engine(events, ruleset, incremental=not args.full_evaluation, kinds=kinds)
    if args.facts_only:
        print("(--facts-only: the rules are dropped; what follows is the fact store alone)")
    print(
        f"engine:   {result.events_per_second:,.0f} events/s  "
        f"({result.events:,} events + {result.deadline_ticks:,} deadline ticks in "
        f"{result.seconds:.2f} s; {result.firings:,} firings)"
    )
    print(
        f"latency:  p50 {result.p50_us:.1f} µs  p99 {result.p99_us:.1f} µs  "
        f"p99.9 {result.p999_us:.1f} µs  max {result.max_us:.0f} µs"
    )
    if args.per_kind:
        print(per_kind_table(result))
    memory_sample = events[: min(len(events), 150_000)]
    peak = engine_peak_memory(memory_sample, ruleset)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"memory:   engine peak {peak / 2**20:.1f} MiB over {len(memory_sample):,} events "
        f"(tracemalloc); process peak RSS {rss_kib / 1024:.0f} MiB (incl. the event list)"
    )
    figures: dict[str, object] = {
        "engine": {k: v for k, v in asdict(result).items() if k != "by_kind"},
        "events_per_second": result.events_per_second,
    }
    figures["engine_peak_bytes"] = peak
    figures["process_peak_rss_kib"] = rss_kib

    if not args.no_peer:
        try:
            from bench import durable_peer

            peer = durable_peer.run(events)
        except ImportError as exc:
            print(f"durable-rules: not installed ({exc}); pip install 'simple-risk[bench]'")
        else:
            ratio = result.events_per_second / peer.events_per_second
            print(
                f"durable:  {peer.events_per_second:,.0f} events/s ({peer.posts:,} posts in "
                f"{peer.seconds:.2f} s, matching only)  →  engine/durable = {ratio:.2f}×"
            )
            print(
                f"          {peer.with_facts_per_second:,.0f} events/s with its plain fact "
                f"tracker ({peer.facts_seconds:.2f} s more)"
            )
            figures["durable_events_per_second"] = peer.events_per_second
            figures["durable_with_facts_events_per_second"] = peer.with_facts_per_second
            figures["ratio"] = ratio

    floors_met = result.events_per_second >= FLOOR_RATE and result.p99_us <= FLOOR_P99_US
    verdict = "met" if floors_met else "MISSED"
    print(f"floors:   ≥ {FLOOR_RATE:,} events/s and p99 ≤ {FLOOR_P99_US:.0f} µs: {verdict}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 1 if args.check and not floors_met else 0


if __name__ == "__main__":
    sys.exit(main())
