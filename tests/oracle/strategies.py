"""Hypothesis strategies: short trading days that break the rules often.

Built on the benchmark's generator (``bench/workload.py``) with a hypothesis-controlled
``random.Random``, so the streams have the real ProjectX shape (order pending → fill → order
filled → position → account; stops resting and hit; partial quotes never) while the knobs make
traders misbehave: oversized orders, missing stops, blocked roots, canTrade flapping, big
moves — and the day starts near the instants where time matters (the RTH close, the 17:00
reset, an early close, the Friday before the DST change).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from bench.workload import Profile, TradingDay
from simple_risk.engine.events import Event

CHICAGO = ZoneInfo("America/Chicago")

#: Where a generated day starts (America/Chicago wall clock).
STARTS: tuple[datetime, ...] = (
    datetime(2026, 11, 24, 9, 0, tzinfo=CHICAGO),  # mid-session, Tuesday
    datetime(2026, 11, 24, 14, 50, tzinfo=CHICAGO),  # the RTH close
    datetime(2026, 11, 24, 16, 50, tzinfo=CHICAGO),  # the 17:00 daily reset
    datetime(2026, 11, 27, 12, 5, tzinfo=CHICAGO),  # the early close after Thanksgiving
    datetime(2026, 10, 30, 14, 55, tzinfo=CHICAGO),  # Friday close before the DST change
    datetime(2026, 11, 2, 8, 20, tzinfo=CHICAGO),  # Monday open after the DST change
)

ROOTS: tuple[str, ...] = ("EP", "MES", "ENQ", "MNQ", "YM", "MYM", "CLE", "MGC")


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    return Profile(
        accounts=draw(st.integers(1, 2)),
        events=draw(st.integers(30, 260)),
        quote_share=draw(st.sampled_from((0.5, 0.65, 0.8))),
        start=draw(st.sampled_from(STARTS)),
        duration=timedelta(minutes=draw(st.integers(2, 30))),
        roots=tuple(draw(st.lists(st.sampled_from(ROOTS), min_size=1, max_size=4, unique=True))),
        clock_every=timedelta(seconds=draw(st.sampled_from((5, 15)))),
        reconcile_every=draw(st.sampled_from((None, timedelta(seconds=50)))),
        max_lots=draw(st.integers(1, 3)),
        p_no_stop=draw(st.sampled_from((0.0, 0.3, 0.7))),
        p_oversize=draw(st.sampled_from((0.0, 0.2))),
        p_blocked=draw(st.sampled_from((0.0, 0.15))),
        p_auth_loss=draw(st.sampled_from((0.0, 0.08))),
        p_resting_limit=draw(st.sampled_from((0.0, 0.2))),
        p_scale_in=draw(st.sampled_from((0.1, 0.4))),
        stop_ticks=(4, draw(st.integers(8, 60))),
        volatility=draw(st.sampled_from((1, 4, 12, 30))),
    )


@st.composite
def trading_days(draw: st.DrawFn) -> tuple[Profile, list[Event]]:
    """A profile and the events of its day (the profile is shown when a case fails)."""
    profile = draw(profiles())
    rng = draw(st.randoms(use_true_random=False))
    return profile, list(TradingDay(profile, rng).events())


def fixed_day(profile: Profile, seed: int) -> list[Event]:
    return list(TradingDay(profile, random.Random(seed)).events())
