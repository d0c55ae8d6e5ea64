"""Enforcement that cannot be starved quietly: the per-account watch over refused calls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.errors import (
    ApiError,
    Endpoint,
    RateLimitTimeout,
    TransportError,
)
from simple_risk.daemon.starvation import (
    GATEWAY_ERRORS,
    NO_ANSWER,
    OWN_BUDGET,
    RATE_LIMITED,
    StarvationWatch,
    starving_cause,
)

CLOSE = Endpoint.POSITION_CLOSE


def test_each_cause_is_named() -> None:
    assert starving_cause(TransportError(CLOSE, "x", http_status=429, attempts=3)) == RATE_LIMITED
    assert starving_cause(TransportError(CLOSE, "x", http_status=503, attempts=3)) == (
        GATEWAY_ERRORS
    )
    assert starving_cause(TransportError(CLOSE, "x", http_status=None, attempts=1)) == NO_ANSWER
    assert starving_cause(RateLimitTimeout("no slot")) == OWN_BUDGET
    # held back by the limiter because the gateway asked it (a 429's Retry-After): the
    # gateway's rate limit, not the daemon's own budget
    held = RateLimitTimeout("no slot: the gateway asked to wait 20.0s more")
    held.held_for = 20.0
    assert starving_cause(held) == RATE_LIMITED
    # the gateway answered about the request itself: not starvation
    assert starving_cause(ApiError(Endpoint.ORDER_CANCEL, 3, "Order is not open")) is None
    assert starving_cause(TransportError(CLOSE, "bad", http_status=400, attempts=1)) is None


def test_the_alert_comes_once_the_failures_have_lasted_long_enough() -> None:
    watch = StarvationWatch(after=3.0)
    assert watch.failed(7, RATE_LIMITED, started=10.0, now=11.0) is None
    assert watch.failed(7, GATEWAY_ERRORS, started=11.0, now=12.5) is None
    alert = watch.failed(7, RATE_LIMITED, started=12.5, now=13.0)
    assert alert is not None
    assert "account 7" in alert and RATE_LIMITED in alert and GATEWAY_ERRORS in alert
    assert watch.failed(7, RATE_LIMITED, started=13.0, now=20.0) is None  # once per episode
    assert watch.succeeded(7, now=21.0) is not None
    assert watch.starving() == {}


def test_one_long_delayed_call_alerts_as_soon_as_it_comes_back() -> None:
    watch = StarvationWatch(after=3.0)
    assert watch.failed(7, NO_ANSWER, started=0.0, now=4.0) is not None


def test_accounts_are_watched_apart_and_a_quiet_recovery_says_nothing() -> None:
    watch = StarvationWatch(after=3.0)
    watch.failed(1, RATE_LIMITED, started=0.0, now=1.0)
    assert watch.failed(2, RATE_LIMITED, started=2.5, now=3.5) is None
    assert watch.succeeded(1, now=1.5) is None  # never alerted: no note
    assert watch.starving() == {2: 2.5}


@given(st.lists(st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 2.0)), min_size=1, max_size=30))
def test_failures_lasting_past_the_threshold_always_alert_exactly_once(
    calls: list[tuple[float, float]],
) -> None:
    watch = StarvationWatch(after=3.0)
    now = 0.0
    first = None
    alerts = 0
    for pause, duration in calls:
        started = now + pause
        now = started + duration
        first = started if first is None else first
        if watch.failed(5, RATE_LIMITED, started=started, now=now) is not None:
            alerts += 1
    assert first is not None
    assert alerts == (1 if now - first >= 3.0 else 0)
