"""The ruleset ``engine run --sim`` and the demo guard with (daemon/sim.py): the shipped rules
with every session open around the clock, so a simulated account can trade at any hour of any
day, and with the daemon's graces shortened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.sim import scaled_ruleset
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.dsl import load_ruleset
from simple_risk.resources import default_ruleset_path

CHICAGO = ZoneInfo("America/Chicago")
CALENDAR = TradingCalendar(scaled_ruleset(load_ruleset(default_ruleset_path())).calendar)


def test_the_session_is_open_in_the_last_second_before_midnight() -> None:
    # a position held over midnight is not "outside the session" for a second, flattened and
    # locked until 00:00
    last_second = datetime(2027, 1, 13, 23, 59, 59, 500000, tzinfo=CHICAGO)
    assert CALENDAR.session_open("rth", last_second)
    assert CALENDAR.session_open("rth", last_second + timedelta(milliseconds=500))


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_every_session_is_open_at_every_instant(wall: datetime) -> None:
    at = wall.replace(tzinfo=UTC)  # Saturdays, holidays and both daylight-saving changes too
    assert CALENDAR.session_open("rth", at)


def test_a_for_shorter_than_the_grace_keeps_its_own_length() -> None:
    # the graces are shortened to the demo's 10 s, never lengthened: a resting order a close by
    # hand made too big is cancelled 2 s later under the simulator as against TopstepX, not 10
    ruleset = scaled_ruleset(load_ruleset(default_ruleset_path()), grace=timedelta(seconds=10))
    graces = {rule.id: rule.for_ for rule in ruleset.rules if rule.for_ is not None}
    assert graces == {
        "max-contracts-resting": timedelta(seconds=2),
        "max-contracts-per-instrument-resting": timedelta(seconds=2),
        "no-stop-loss-grace": timedelta(seconds=10),
    }
