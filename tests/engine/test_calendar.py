"""The trading calendar: trading days, the 17:00 boundary, sessions, holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.model import CalendarSpec, SessionSpec

CHICAGO = ZoneInfo("America/Chicago")
WEEKDAYS = frozenset(range(5))
SPEC = CalendarSpec(
    sessions={"rth": SessionSpec("rth", time(8, 30), time(15, 0), WEEKDAYS)},
    holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
    early_closes={date(2026, 11, 27): time(12, 15)},
)
CAL = TradingCalendar(SPEC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)  # type: ignore[misc]


def test_sunday_evening_belongs_to_mondays_trading_day() -> None:
    assert CAL.trading_day(local(2026, 11, 22, 17, 0)) == date(2026, 11, 23)
    assert CAL.trading_day(local(2026, 11, 22, 16, 59)) == date(2026, 11, 23)


def test_friday_after_the_boundary_belongs_to_next_monday() -> None:
    assert CAL.trading_day(local(2026, 11, 20, 16, 59, 59)) == date(2026, 11, 20)
    assert CAL.trading_day(local(2026, 11, 20, 17, 0)) == date(2026, 11, 23)
    assert CAL.trading_day(local(2026, 11, 21, 12, 0)) == date(2026, 11, 23)


def test_trading_day_end_is_the_exact_next_boundary() -> None:
    assert CAL.trading_day_end(local(2026, 11, 24, 9, 0)) == local(2026, 11, 24, 17, 0)
    assert CAL.trading_day_end(local(2026, 11, 24, 17, 0)) == local(2026, 11, 25, 17, 0)
    # Friday evening: Monday's day ends Monday 17:00
    assert CAL.trading_day_end(local(2026, 11, 20, 18, 0)) == local(2026, 11, 23, 17, 0)


def test_week_starts_on_mondays_trading_day() -> None:
    assert CAL.week_start(local(2026, 11, 26, 10, 0)) == date(2026, 11, 23)
    assert CAL.week_start(local(2026, 11, 20, 18, 0)) == date(2026, 11, 23)


def test_spring_forward_2026_day_is_23_hours() -> None:
    # DST starts Sunday 2026-03-08 02:00 CST; Monday's trading day runs Fri 17:00 → Mon 17:00
    end_monday = CAL.trading_day_end(local(2026, 3, 9, 9, 0))
    assert end_monday == local(2026, 3, 9, 17, 0)
    assert end_monday.astimezone(UTC) == datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
    start_monday = CAL.trading_day_start(date(2026, 3, 9))
    assert start_monday == datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    assert CAL.trading_day_start(date(2026, 3, 10)) == datetime(2026, 3, 9, 22, 0, tzinfo=UTC)


def test_fall_back_2026_boundaries_shift_by_an_hour() -> None:
    # DST ends Sunday 2026-11-01 02:00 CDT
    assert CAL.trading_day_end(local(2026, 10, 30, 10, 0)).astimezone(UTC) == datetime(
        2026, 10, 30, 22, 0, tzinfo=UTC
    )
    assert CAL.trading_day_end(local(2026, 11, 2, 10, 0)).astimezone(UTC) == datetime(
        2026, 11, 2, 23, 0, tzinfo=UTC
    )
    # the repeated 01:30 hour belongs to Monday's trading day either way
    first = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    second = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert CAL.local(first).hour == CAL.local(second).hour == 1
    assert CAL.trading_day(first) == CAL.trading_day(second) == date(2026, 11, 2)


def test_session_open_respects_dst_offsets() -> None:
    assert CAL.session_open("rth", datetime(2026, 3, 9, 13, 30, tzinfo=UTC))  # 08:30 CDT
    assert not CAL.session_open("rth", datetime(2026, 3, 6, 14, 0, tzinfo=UTC))  # 08:00 CST
    assert CAL.session_open("rth", datetime(2026, 3, 6, 14, 30, tzinfo=UTC))  # 08:30 CST


def test_session_is_closed_on_holidays_and_weekends() -> None:
    assert not CAL.session_open("rth", local(2026, 12, 25, 10, 0))
    assert not CAL.session_open("rth", local(2026, 11, 28, 10, 0))
    assert CAL.session_open("rth", local(2026, 12, 24, 10, 0))


def test_early_close_cuts_the_session() -> None:
    assert CAL.session_open("rth", local(2026, 11, 27, 12, 14))
    assert not CAL.session_open("rth", local(2026, 11, 27, 12, 15))
    assert CAL.minutes_to_close("rth", local(2026, 11, 27, 12, 0)) == 15


def test_next_session_start_skips_weekends_and_holidays() -> None:
    assert CAL.next_session_start("rth", local(2026, 12, 24, 15, 0)) == local(2026, 12, 28, 8, 30)
    assert CAL.next_session_start("rth", local(2026, 12, 31, 16, 0)) == local(2027, 1, 4, 8, 30)
    assert CAL.next_session_start("rth", local(2026, 11, 24, 7, 0)) == local(2026, 11, 24, 8, 30)
    assert CAL.next_session_start("rth", local(2026, 11, 24, 8, 30)) == local(2026, 11, 25, 8, 30)


def test_minutes_to_open_and_close() -> None:
    assert CAL.minutes_to_open("rth", local(2026, 11, 24, 8, 0)) == 30
    assert CAL.minutes_to_open("rth", local(2026, 11, 24, 9, 0)) == 0
    assert CAL.minutes_to_close("rth", local(2026, 11, 24, 14, 0)) == 60
    assert CAL.minutes_to_close("rth", local(2026, 11, 24, 16, 0)) is None


def test_overnight_session_belongs_to_the_day_it_ends() -> None:
    cal = TradingCalendar(
        CalendarSpec(sessions={"globex": SessionSpec("globex", time(17), time(16), WEEKDAYS)})
    )
    assert cal.session_open("globex", local(2026, 11, 22, 18, 0))  # Sunday evening → Monday
    assert not cal.session_open("globex", local(2026, 11, 20, 18, 0))  # Friday evening
    assert not cal.session_open("globex", local(2026, 11, 24, 16, 30))


TOKYO = ZoneInfo("Asia/Tokyo")


def test_a_holiday_stops_the_sessions_of_its_trading_day_in_any_zone() -> None:
    """A ruleset in Tokyo writes CME's 17:00 boundary as 08:00 and RTH (08:30-15:00 CT) as
    23:30-06:00 JST, ending on the next date. The exchange's holidays are trading days: CME's
    Christmas Eve session (Thursday 10:00 CT, Friday 01:00 JST) runs though its JST end date
    is Christmas, and nothing runs on New Year's Day (Saturday 01:00 JST)."""
    cal = TradingCalendar(
        CalendarSpec(
            timezone="Asia/Tokyo",
            trading_day_starts=time(8),
            sessions={"rth": SessionSpec("rth", time(23, 30), time(6), frozenset(range(1, 6)))},
            holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
        )
    )
    assert cal.session_open("rth", datetime(2026, 12, 25, 1, 0, tzinfo=TOKYO))  # Thu 24, CT
    assert not cal.session_open("rth", datetime(2026, 12, 26, 1, 0, tzinfo=TOKYO))  # Fri 25
    assert cal.session_open("rth", datetime(2027, 1, 1, 1, 0, tzinfo=TOKYO))  # Thu 31 Dec
    assert not cal.session_open("rth", datetime(2027, 1, 2, 1, 0, tzinfo=TOKYO))  # Fri 1 Jan


def test_an_evening_session_belongs_to_the_trading_day_it_runs_in() -> None:
    """Christmas (a Friday) is closed from the evening before: an evening session on Christmas
    Eve runs in Christmas's trading day and does not run; the morning's RTH does."""
    cal = TradingCalendar(
        CalendarSpec(
            sessions={
                "rth": SessionSpec("rth", time(8, 30), time(15, 0), WEEKDAYS),
                "evening": SessionSpec("evening", time(18), time(22), WEEKDAYS),
            },
            holidays=frozenset({date(2026, 12, 25)}),
        )
    )
    assert cal.session_open("rth", local(2026, 12, 24, 10, 0))
    assert not cal.session_open("evening", local(2026, 12, 24, 19, 0))
    assert cal.session_open("evening", local(2026, 12, 23, 19, 0))


def test_morning_boundary_names_the_day_it_starts_on() -> None:
    cal = TradingCalendar(CalendarSpec(trading_day_starts=time(6, 0)))
    assert cal.trading_day(local(2026, 11, 24, 5, 59)) == date(2026, 11, 23)
    assert cal.trading_day(local(2026, 11, 24, 6, 0)) == date(2026, 11, 24)
    assert cal.trading_day_end(local(2026, 11, 24, 7, 0)) == local(2026, 11, 25, 6, 0)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@given(instants)
def test_an_instant_lies_inside_its_trading_day(at: datetime) -> None:
    day = CAL.trading_day(at)
    assert day.weekday() < 5
    assert CAL.trading_day_start(day) <= at < CAL.trading_day_end(at)
    end = CAL.trading_day_end(at)
    assert CAL.trading_day(end) != day
    assert CAL.trading_day(end - timedelta(microseconds=1)) == day
    assert timedelta(hours=23) <= end - CAL.trading_day_start(day) <= timedelta(hours=73)


@given(instants)
def test_boundary_is_always_1700_chicago(at: datetime) -> None:
    end = CAL.trading_day_end(at).astimezone(CHICAGO)
    assert (end.hour, end.minute, end.second) == (17, 0, 0)


@given(instants)
def test_next_session_start_is_a_future_open_session(at: datetime) -> None:
    start = CAL.next_session_start("rth", at)
    assert start > at
    assert CAL.session_open("rth", start)
    assert not CAL.session_open("rth", start - timedelta(microseconds=1))
    local_start = start.astimezone(CHICAGO)
    assert (local_start.hour, local_start.minute) == (8, 30)
    assert CAL.is_trading_day(local_start.date())
