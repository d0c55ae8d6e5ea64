"""The oracle's own calendar arithmetic, checked against instants worked out by hand.

The oracle is only a judge if it is right; these are the instants the rule book turns on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from .model import CHICAGO, next_rth_start, rth_open, trading_day, trading_day_end


def _ct(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(CHICAGO)


def test_a_friday_evening_belongs_to_monday_and_ends_at_monday_17_00_after_the_dst_change() -> None:
    friday = _ct("2026-10-30T17:30:00-05:00")
    assert trading_day(friday) == date(2026, 11, 2)
    assert trading_day_end(friday) == datetime(2026, 11, 2, 23, 0, tzinfo=UTC)


def test_the_spring_forward_moves_the_17_00_close_to_22_00_utc() -> None:
    assert trading_day_end(_ct("2027-03-15T09:00:00-05:00")) == datetime(
        2027, 3, 15, 22, tzinfo=UTC
    )


def test_rth_is_start_inclusive_and_end_exclusive() -> None:
    assert not rth_open(_ct("2026-11-24T08:29:59-06:00"))
    assert rth_open(_ct("2026-11-24T08:30:00-06:00"))
    assert rth_open(_ct("2026-11-24T14:59:59-06:00"))
    assert not rth_open(_ct("2026-11-24T15:00:00-06:00"))


def test_holidays_and_early_closes_shape_the_session() -> None:
    assert not rth_open(_ct("2026-12-25T10:00:00-06:00"))
    assert rth_open(_ct("2026-11-27T12:14:59-06:00"))
    assert not rth_open(_ct("2026-11-27T12:15:00-06:00"))
    assert next_rth_start(_ct("2026-12-24T13:00:00-06:00")) == _ct("2026-12-28T08:30:00-06:00")
    assert next_rth_start(_ct("2026-11-25T15:00:00-06:00")) == _ct("2026-11-27T08:30:00-06:00")
