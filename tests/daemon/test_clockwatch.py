"""A machine clock that disagrees with the gateway's is said: the day's boundary, lockout ends
and windows are instants on it (daemon/clockwatch.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.clockwatch import ClockWatch

T0 = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)


def feed(watch: ClockWatch, gaps: list[float]) -> None:
    """Quotes arriving ``gap`` seconds after the gateway stamped them, a second apart."""
    for n, gap in enumerate(gaps):
        stamped = T0 + timedelta(seconds=n)
        watch.sample(stamped + timedelta(seconds=gap), stamped)


def test_clocks_in_step_raise_nothing() -> None:
    watch = ClockWatch()
    feed(watch, [0.05] * 40)
    assert watch.check() is None


def test_a_clock_ahead_of_the_gateways_is_said_once() -> None:
    watch = ClockWatch()
    feed(watch, [30.05] * 20)
    alert = watch.check()
    assert alert is not None
    level, message = alert
    assert level == "warning" and "30 s ahead of the gateway's" in message and "NTP" in message
    feed(watch, [30.04] * 5)
    assert watch.check() is None


def test_a_clock_behind_the_gateways_is_said() -> None:
    watch = ClockWatch()
    feed(watch, [-12.0] * 20)
    alert = watch.check()
    assert alert is not None and "12 s behind the gateway's" in alert[1]


def test_clocks_agreeing_again_are_said() -> None:
    watch = ClockWatch()
    feed(watch, [30.0] * 20)
    watch.check()
    feed(watch, [0.05] * 20)
    assert watch.check() == ("info", "this machine's clock agrees with the gateway's again")


def test_nothing_is_judged_on_too_few_quotes() -> None:
    watch = ClockWatch()
    feed(watch, [60.0] * 19)
    assert watch.check() is None


def test_quotes_without_a_stamp_are_not_samples() -> None:
    watch = ClockWatch()
    for _ in range(30):
        watch.sample(T0, None)
    assert watch.check() is None


@given(
    st.lists(st.floats(0.0, 0.5), min_size=20, max_size=20),
    st.lists(st.integers(0, 19), max_size=5),
)
def test_a_few_quotes_stamped_long_ago_never_raise_an_alert(
    gaps: list[float], stale: list[int]
) -> None:
    for index in stale:
        gaps[index] = 3600.0  # an illiquid contract's last change, an hour old
    watch = ClockWatch()
    feed(watch, gaps)
    assert watch.check() is None
