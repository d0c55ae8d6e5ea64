"""A fingerprint of what the engine does on a seeded trading day: every firing and the snapshot.

    python -m bench.digest                # the quick day (123k events), one line
    python -m bench.digest --events 1000000

Run in two builds of the engine — the checkout (pure Python) and ``build/compiled`` (mypyc) —
the two lines must be equal: the same events and clock give the same firings, whichever build
evaluates them (``make test-compiled`` compares them). The day is ``bench/workload.py``'s, with
every rule of ``rulesets/topstep.yaml`` on, as ``bench/engine.py`` runs it, deadline ticks
included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.engine import every_rule_on  # noqa: E402
from bench.workload import Profile, trading_day  # noqa: E402
from simple_risk.engine.engine import Engine  # noqa: E402
from simple_risk.engine.events import ClockTick  # noqa: E402


def digest(events_wanted: int, seed: int) -> tuple[str, int]:
    """SHA-256 over every firing's repr, in order, then the final snapshot; and the count."""
    full = Profile()
    profile = Profile(events=events_wanted, duration=full.duration * (events_wanted / full.events))
    engine = Engine(every_rule_on())
    events = list(trading_day(profile, seed=seed))
    hasher = hashlib.sha256()
    firings = 0
    for index, event in enumerate(events):
        batch = engine.apply(event)
        deadline = engine.next_deadline()
        while deadline is not None and index + 1 < len(events) and deadline <= events[index + 1].at:
            batch += engine.apply(ClockTick(at=max(deadline, event.at)))
            following = engine.next_deadline()
            if following == deadline:
                break
            deadline = following
        for firing in batch:
            hasher.update(repr(firing).encode())
        firings += len(batch)
    hasher.update(json.dumps(engine.snapshot(), sort_keys=True, default=str).encode())
    return hasher.hexdigest(), firings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    value, firings = digest(args.events, args.seed)
    print(f"{value} {firings} firings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
