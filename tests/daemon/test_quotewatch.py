"""A held contract whose quotes stop is said, not guarded blind: its open P&L and the rules
about it would stay still without an error anywhere (daemon/quotewatch.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.quotewatch import QuoteWatch, trading
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.model import CalendarSpec

CHICAGO = ZoneInfo("America/Chicago")
CALENDAR = TradingCalendar(CalendarSpec(timezone="America/Chicago", trading_day_starts=time(17)))
ES = "CON.F.US.EP.Z26"


def chicago(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


# -- when quotes are expected --------------------------------------------------------------


def test_the_exchange_trades_on_a_weekday_morning() -> None:
    assert trading(CALENDAR, chicago(2027, 1, 13, 10))  # a Wednesday


def test_the_daily_break_before_the_boundary_is_quiet() -> None:
    assert not trading(CALENDAR, chicago(2027, 1, 13, 16, 30))
    assert trading(CALENDAR, chicago(2027, 1, 13, 15, 59))
    assert trading(CALENDAR, chicago(2027, 1, 13, 17, 0))  # the next trading day began


def test_the_week_runs_from_sunday_evening_to_friday_afternoon() -> None:
    assert not trading(CALENDAR, chicago(2027, 1, 15, 16, 0))  # Friday's close
    assert not trading(CALENDAR, chicago(2027, 1, 15, 20, 0))  # Friday evening
    assert not trading(CALENDAR, chicago(2027, 1, 16, 12, 0))  # Saturday
    assert not trading(CALENDAR, chicago(2027, 1, 17, 16, 59))  # Sunday before the open
    assert trading(CALENDAR, chicago(2027, 1, 17, 17, 0))  # the week opens


def test_a_holiday_is_quiet_from_the_evening_it_starts() -> None:
    calendar = TradingCalendar(
        CalendarSpec(
            timezone="America/Chicago",
            trading_day_starts=time(17),
            holidays=frozenset({date(2027, 1, 14)}),
        )
    )
    assert not trading(calendar, chicago(2027, 1, 13, 18))  # Thursday's trading day began
    assert not trading(calendar, chicago(2027, 1, 14, 10))
    assert trading(calendar, chicago(2027, 1, 14, 17))  # Friday's trading day


def test_an_early_close_ends_the_day_part_only() -> None:
    calendar = TradingCalendar(
        CalendarSpec(
            timezone="America/Chicago",
            trading_day_starts=time(17),
            early_closes={date(2027, 1, 13): time(12, 0)},
        )
    )
    assert trading(calendar, chicago(2027, 1, 13, 11, 59))
    assert not trading(calendar, chicago(2027, 1, 13, 12, 0))
    assert not trading(calendar, chicago(2027, 1, 13, 15, 0))
    assert trading(calendar, chicago(2027, 1, 13, 17, 30))  # the next trading day


TOKYO = ZoneInfo("Asia/Tokyo")


def test_a_calendar_in_tokyo_with_a_morning_boundary_follows_the_same_week() -> None:
    """A trader in Tokyo writes the 17:00 CST boundary as 08:00 JST: CME's week opens Monday
    08:00 JST (Sunday 17:00 CT) and closes Saturday 07:00 JST (Friday 16:00 CT), so Friday in
    Tokyo trades all day and Sunday does not."""
    calendar = TradingCalendar(CalendarSpec(timezone="Asia/Tokyo", trading_day_starts=time(8)))

    def tokyo(day: int, hour: int) -> datetime:
        return datetime(2027, 1, day, hour, tzinfo=TOKYO)

    assert trading(calendar, tokyo(15, 10))  # Friday 10:00 JST: Thursday 19:00 CT
    assert trading(calendar, tokyo(15, 20))  # Friday 20:00 JST: Friday 05:00 CT
    assert trading(calendar, tokyo(16, 3))  # Saturday 03:00 JST: Friday 12:00 CT
    assert not trading(calendar, tokyo(16, 7))  # Saturday 07:00 JST: Friday's close
    assert not trading(calendar, tokyo(17, 10))  # Sunday 10:00 JST: Saturday in Chicago
    assert not trading(calendar, tokyo(18, 7))  # Monday 07:00 JST: Sunday before the open
    assert trading(calendar, tokyo(18, 8))  # Monday 08:00 JST: the week opens
    assert not trading(calendar, tokyo(19, 7))  # the daily break, 07:00-08:00 JST
    assert trading(calendar, tokyo(19, 8))


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)))
def test_no_quote_is_expected_on_a_saturday_or_in_a_daily_break(wall: datetime) -> None:
    at = wall.replace(tzinfo=CHICAGO).astimezone(UTC)
    local = at.astimezone(CHICAGO)
    if local.weekday() == 5 or local.hour == 16:
        assert not trading(CALENDAR, at)


# -- the watch --------------------------------------------------------------------------------

T0 = chicago(2027, 1, 13, 10)


def test_a_held_contract_quiet_for_the_silence_is_alerted_once() -> None:
    watch = QuoteWatch(silence=120)
    heard = {ES: T0}
    assert watch.check(T0, {ES: [7]}, heard) == []  # held from T0 (checked every second)
    assert watch.check(T0 + timedelta(seconds=119), {ES: [7]}, heard) == []
    (alert,) = watch.check(T0 + timedelta(seconds=120), {ES: [7]}, heard)
    assert alert.level == "warning"
    assert ES in alert.message and "account 7" in alert.message and "120 s" in alert.message
    assert watch.check(T0 + timedelta(seconds=500), {ES: [7]}, heard) == []


def test_quotes_coming_back_are_said_and_a_later_silence_is_a_new_one() -> None:
    watch = QuoteWatch(silence=60)
    watch.check(T0, {ES: [7]}, {ES: T0})
    watch.check(T0 + timedelta(seconds=60), {ES: [7]}, {ES: T0})
    back = T0 + timedelta(seconds=90)
    (alert,) = watch.check(back, {ES: [7]}, {ES: back})
    assert alert.level == "info" and "arrive again" in alert.message
    (again,) = watch.check(back + timedelta(seconds=60), {ES: [7]}, {ES: back})
    assert again.level == "warning"


def test_the_silence_counts_only_while_the_exchange_trades() -> None:
    # an ES long held over the daily break: the last quote came just before 16:00 and the
    # next ones come a few seconds after the 17:00 reopen, as on any day
    watch = QuoteWatch(silence=120)
    heard = {ES: chicago(2027, 1, 13, 15, 59)}
    assert watch.check(chicago(2027, 1, 13, 15, 59) + timedelta(seconds=30), {ES: [7]}, heard) == []
    assert watch.check(chicago(2027, 1, 13, 16, 30), {}, heard) == []  # the break: not held
    reopen = chicago(2027, 1, 13, 17)
    assert watch.check(reopen, {ES: [7]}, heard) == []
    assert watch.check(reopen + timedelta(seconds=119), {ES: [7]}, heard) == []
    (alert,) = watch.check(reopen + timedelta(seconds=120), {ES: [7]}, heard)
    assert "for 120 s while the exchange trades" in alert.message


def test_a_position_held_over_the_weekend_is_not_alerted_at_the_sunday_open() -> None:
    watch = QuoteWatch(silence=120)
    heard = {ES: chicago(2027, 1, 15, 15, 59)}  # Friday's last quote
    assert watch.check(chicago(2027, 1, 16, 12), {}, heard) == []  # Saturday: not held
    sunday_open = chicago(2027, 1, 17, 17)
    assert watch.check(sunday_open + timedelta(seconds=5), {ES: [7]}, heard) == []
    assert len(watch.check(sunday_open + timedelta(seconds=125), {ES: [7]}, heard)) == 1


def test_a_daemon_started_on_saturday_judges_a_held_contract_from_the_sunday_open() -> None:
    watch = QuoteWatch(silence=120)
    heard = {ES: chicago(2027, 1, 16, 12)}  # watched since Saturday's start, never quoted
    sunday_open = chicago(2027, 1, 17, 17)
    assert watch.check(sunday_open, {ES: [7]}, heard) == []
    assert watch.check(sunday_open + timedelta(seconds=119), {ES: [7]}, heard) == []
    assert len(watch.check(sunday_open + timedelta(seconds=120), {ES: [7]}, heard)) == 1


def test_a_contract_no_longer_held_is_forgotten_quietly() -> None:
    watch = QuoteWatch(silence=60)
    watch.check(T0 + timedelta(seconds=60), {ES: [7]}, {ES: T0})
    assert watch.check(T0 + timedelta(seconds=61), {}, {ES: T0}) == []
    assert watch.quiet == set()


def test_a_contract_never_quoted_counts_from_when_it_was_watched() -> None:
    watch = QuoteWatch(silence=60)
    assert watch.check(T0, {ES: [7]}, {ES: T0}) == []
    assert watch.check(T0 + timedelta(seconds=30), {ES: [7]}, {ES: T0}) == []
    assert len(watch.check(T0 + timedelta(seconds=60), {ES: [7]}, {ES: T0})) == 1


def test_an_unwatched_contract_is_not_judged() -> None:
    assert QuoteWatch(silence=60).check(T0 + timedelta(days=1), {ES: [7]}, {}) == []
