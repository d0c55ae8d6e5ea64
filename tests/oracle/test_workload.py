"""The generated trading day: seeded, monotonic in engine time, ProjectX-shaped, 80 % quotes."""

from __future__ import annotations

import itertools
from collections import Counter

from bench.workload import Profile, trading_day
from simple_risk.engine.events import (
    ClockTick,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    profile = Profile(events=3000)
    assert list(trading_day(profile, seed=7)) == list(trading_day(profile, seed=7))
    assert list(trading_day(profile, seed=7)) != list(trading_day(profile, seed=8))


def test_engine_time_never_goes_backwards() -> None:
    events = list(trading_day(Profile(events=20_000)))
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))


def test_about_80_percent_of_market_and_account_events_are_quotes() -> None:
    """Clock ticks and the periodic reconciliations come on top of the counted events."""
    kinds = Counter(type(e) for e in trading_day(Profile(events=20_000)))
    counted = sum(n for kind, n in kinds.items() if kind not in (ClockTick, Reconciled))
    assert 0.78 <= kinds[Quote] / counted <= 0.82
    assert kinds[TradeFill] > 0 and kinds[PositionUpdate] > 0


def test_every_fill_follows_its_working_order_and_precedes_the_filled_status() -> None:
    """ProjectX's order: order pending (or a resting stop open) → fill → order filled."""
    seen: dict[int, list[OrderStatus]] = {}
    for event in trading_day(Profile(events=20_000)):
        if isinstance(event, OrderUpdate):
            seen.setdefault(event.order_id, []).append(event.status)
        elif isinstance(event, TradeFill):
            statuses = seen.get(event.order_id, [])
            assert statuses and statuses[-1] in (OrderStatus.PENDING, OrderStatus.OPEN)
            assert OrderStatus.FILLED not in statuses
