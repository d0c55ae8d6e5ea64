"""Benchmark: events/s as the rule book grows — the shipped ruleset alone, 50 rules, 200 rules.

    python bench/scaling.py            # the quick day (123k events), median of 3 runs each
    python bench/scaling.py --runs 5 --events 250000

The bigger books are generated variants of ``rulesets/topstep.yaml`` (every rule switched on,
as in ``bench/engine.py``): rule N is a copy of shipped rule N mod the shipped count (22)
under a new id. A copy of a rule about a position, an order or a root is narrowed to one ticker
(``position.symbol == "NQ" and (…)``), each round of copies on the next of the workload's
ten tickers and ten it never trades (a per-ticker rule book: a loss limit per root, a size
limit per root …). A copy
of an account-level rule keeps its condition with every param moved by up to ±20 %
(``params.daily_loss_limit`` → ``params.daily_loss_limit_v7``), so it fires at other levels.
Such a copy reads the same facts as its original, so an event that changes them must run
every copy; ``200i`` (in the default sizes) is a 200-rule book of per-ticker copies only,
where an event about one root changes the facts of that root's copies alone.

Each book runs through the incremental engine and through a full re-evaluation of every
woken rule (``Engine(incremental=False)``), on the same seeded day, the configurations
interleaved so that the machine's load hits them alike; the medians are printed with the
ratio of each book's rate to the shipped book's. The aim: the 200-rule book at 0.7× the
shipped book's rate or better — the cost of an event follows what it changes, not how many
rules exist.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.workload import Profile, trading_day  # noqa: E402
from simple_risk.engine.dsl import load_ruleset_text  # noqa: E402
from simple_risk.engine.engine import Engine  # noqa: E402
from simple_risk.engine.events import ClockTick, Event  # noqa: E402
from simple_risk.engine.model import Ruleset  # noqa: E402

RULESET = ROOT / "rulesets" / "topstep.yaml"
#: the tickers the workload trades (after alias mapping) and ten it never does
TRADED = ("ES", "MES", "NQ", "MNQ", "MCL", "MYM", "CL", "MGC", "RTY", "MBT")
TICKERS = (*TRADED, "ZN", "ZB", "6E", "6J", "GC", "SI", "HG", "NG", "ZC", "ZS")
#: the attribute that names the ticker of each item family
_TICKER_OF = {"position": "position.symbol", "order": "order.symbol", "symbol": "symbol.root"}
_PARAM = re.compile(r"params\.([a-z_0-9]+)")


def _family_of(rule: dict[str, Any]) -> str | None:
    """The item family a rule is about: its ``each:``, else the one its condition reads."""
    each = rule.get("each")
    if isinstance(each, str):
        return each
    when = str(rule["when"])
    for family in ("order", "position", "symbol"):
        if f"{family}." in when:
            return family
    return None


def _scaled(value: object, factor: Decimal) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # durations, maps and lists stay
    moved = Decimal(str(value)) * factor
    return int(moved) if isinstance(value, int) else float(moved)


def book(size: int, items_only: bool = False) -> Ruleset:
    """The shipped rules, every one switched on, then generated variants up to ``size``
    (``items_only``: copies of the rules about a position, an order or a root only, each
    narrowed to one ticker)."""
    document = yaml.safe_load(RULESET.read_text(encoding="utf-8"))
    shipped: list[dict[str, Any]] = document["rules"]
    for rule in shipped:
        rule["enabled"] = True
    params: dict[str, object] = document["params"]
    rules = list(shipped)
    bases = [r for r in shipped if _family_of(r) is not None] if items_only else shipped
    for number in range(size - len(shipped)):
        base = bases[number % len(bases)]
        variant = dict(base, id=f"{base['id']}-v{number}")
        variant.pop("mandatory", None)
        family = _family_of(base)
        if family is not None:
            ticker = TICKERS[(number // len(bases)) % len(TICKERS)]
            variant["when"] = f'{_TICKER_OF[family]} == "{ticker}" and ({base["when"]})'
        else:
            factor = Decimal(80 + (number * 7) % 41) / 100
            renamed: dict[str, str] = {}
            for name in _PARAM.findall(yaml.safe_dump(base)):
                renamed[name] = f"{name}_v{number}"
                params[renamed[name]] = _scaled(params[name], factor)
            text = yaml.safe_dump(variant)
            for name, new in renamed.items():
                text = re.sub(rf"params\.{name}\b", f"params.{new}", text)
            variant = yaml.safe_load(text)
        rules.append(variant)
    document["rules"] = rules
    return load_ruleset_text(yaml.safe_dump(document, sort_keys=False), f"topstep-{size}.yaml")


def run(events: list[Event], ruleset: Ruleset, incremental: bool) -> tuple[float, int]:
    """Events/s and firings of one pass, driven as the daemon drives the engine."""
    engine = Engine(ruleset, incremental=incremental)
    apply = engine.apply
    next_deadline = engine.next_deadline
    count = len(events)
    firings = 0
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for index, event in enumerate(events):
            firings += len(apply(event))
            deadline = next_deadline()
            while deadline is not None and index + 1 < count and deadline <= events[index + 1].at:
                firings += len(apply(ClockTick(at=max(deadline, event.at))))
                following = next_deadline()
                if following == deadline:
                    break
                deadline = following
        seconds = time.perf_counter() - started
    finally:
        gc.enable()
    return count / seconds, firings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--sizes",
        default="0,50,200,200i",
        help="book sizes; 0: the shipped book; a trailing i: copies of item rules only",
    )
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    full = Profile()
    profile = Profile(
        accounts=10, events=args.events, duration=full.duration * (args.events / full.events)
    )
    events = list(trading_day(profile, seed=args.seed))
    shipped_size = len(yaml.safe_load(RULESET.read_text(encoding="utf-8"))["rules"])
    sizes = [
        (int(s.rstrip("i")) or shipped_size, s.endswith("i"))
        for s in args.sizes.replace(" ", "").split(",")
    ]
    books = {size: book(*size) for size in sizes}
    shipped_key = (shipped_size, False)
    print(f"workload: {len(events):,} events, 10 accounts; load average {os.getloadavg()}")
    rates: dict[tuple[tuple[int, bool], bool], list[float]] = {}
    fired: dict[tuple[tuple[int, bool], bool], int] = {}
    for _run in range(args.runs):
        for size in sizes:
            for incremental in (True, False):
                rate, firings = run(events, books[size], incremental)
                rates.setdefault((size, incremental), []).append(rate)
                fired[size, incremental] = firings
    base = statistics.median(rates[shipped_key, True])
    base_full = statistics.median(rates[shipped_key, False])
    for size in sizes:
        incremental = statistics.median(rates[size, True])
        reference = statistics.median(rates[size, False])
        label = f"{size[0]:4d} rules{' (item copies)' if size[1] else ''}:"
        print(
            f"{label:<24} {incremental:9,.0f} events/s ({incremental / base:.2f}× the "
            f"shipped book), full re-evaluation {reference:9,.0f} events/s "
            f"({reference / base_full:.2f}×); {fired[size, True]:,} firings"
        )
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
