"""A whole year of the CME Globex calendar, hour by hour, against a simple independent oracle.

The oracle below writes the rule book out longhand for 2027 — every daily boundary (17:00
America/Chicago ends the trading day named by its date; a Friday's boundary is followed by
Monday's, so the weekend belongs to Monday), every session window (``globex`` opens at 17:00
the evening before and closes at 16:00, ``rth`` runs 08:30–15:00, neither runs on a holiday,
an early close cuts the end), with Chicago's UTC offset worked out from the US daylight-saving
rule rather than from the time-zone database — and the :class:`TradingCalendar` must agree
with it at any instant hypothesis draws: uniformly over the year, right around every boundary
and window edge, and across both DST changes. Holidays and early closes are CME Globex
Equity's, as the shipped ruleset loads them.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from simple_risk.calendars import exchange_days
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.model import CalendarSpec, SessionSpec

EXCHANGE = exchange_days("cme_globex_equity", "America/Chicago")
MON_TO_FRI = frozenset(range(5))
SPEC = CalendarSpec(
    timezone="America/Chicago",
    trading_day_starts=time(17, 0),
    sessions={
        "globex": SessionSpec("globex", time(17, 0), time(16, 0), MON_TO_FRI),
        "rth": SessionSpec("rth", time(8, 30), time(15, 0), MON_TO_FRI),
    },
    holidays=EXCHANGE.holidays,
    early_closes=EXCHANGE.early_closes,
)
CAL = TradingCalendar(SPEC)
MIDNIGHT = TradingCalendar(dataclasses.replace(SPEC, trading_day_starts=time(0, 0)))


# -- the oracle ----------------------------------------------------------------------------


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def chicago(day: date, wall: time) -> datetime:
    """The UTC instant of a Chicago wall-clock time, by the US rule (since 2007): daylight time
    (UTC−5) from the second Sunday of March 02:00 to the first Sunday of November 02:00,
    standard time (UTC−6) otherwise. Only for times outside 01:00–03:00 on a change day."""
    spring, autumn = _nth_sunday(day.year, 3, 2), _nth_sunday(day.year, 11, 1)
    if day in (spring, autumn):
        assert not time(1, 0) <= wall < time(3, 0), "ambiguous wall time in the oracle"
    summer = (spring < day < autumn) or (day == spring and wall >= time(3, 0))
    summer = summer or (day == autumn and wall < time(1, 0))
    offset = timedelta(hours=5 if summer else 6)
    return datetime.combine(day, wall, tzinfo=UTC) + offset


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


ORACLE_DAYS = _days(date(2026, 12, 20), date(2028, 1, 20))
HOLIDAYS = EXCHANGE.holidays
EARLY = EXCHANGE.early_closes


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def _windows(start: time, end: time) -> list[Window]:
    overnight = end <= start
    windows = []
    for day in ORACLE_DAYS:
        if day.weekday() >= 5 or day in HOLIDAYS:
            continue
        close = min(end, EARLY.get(day, end))
        window = Window(
            chicago(day - timedelta(days=1) if overnight else day, start), chicago(day, close)
        )
        if window.end > window.start:
            windows.append(window)
    return windows


WINDOWS = {"globex": _windows(time(17, 0), time(16, 0)), "rth": _windows(time(8, 30), time(15, 0))}
#: (instant, trading day it ends): 17:00 of every weekday, holidays included (a holiday is a
#: trading day without sessions; only Saturday and Sunday roll forward to Monday)
BOUNDARIES = [(chicago(day, time(17, 0)), day) for day in ORACLE_DAYS if day.weekday() < 5]
BOUNDARY_INSTANTS = [instant for instant, _ in BOUNDARIES]


#: the same with a midnight boundary: the day named D runs from D 00:00 to D+1 00:00
MIDNIGHT_BOUNDARIES = [
    (chicago(day + timedelta(days=1), time(0, 0)), day) for day in ORACLE_DAYS if day.weekday() < 5
]


def oracle_trading_day(
    at: datetime, boundaries: list[tuple[datetime, date]] = BOUNDARIES
) -> tuple[date, datetime, datetime]:
    """(trading day, its start, its end): the day whose boundary is the first after ``at``."""
    instants = [instant for instant, _ in boundaries]
    index = bisect.bisect_right(instants, at)
    return boundaries[index][1], instants[index - 1], instants[index]


def oracle_window(name: str, at: datetime) -> Window | None:
    return next((w for w in WINDOWS[name] if w.start <= at < w.end), None)


def oracle_next_start(name: str, at: datetime) -> datetime:
    return next(w.start for w in WINDOWS[name] if w.start > at)


def minutes(delta: timedelta) -> Decimal:
    return Decimal(delta // timedelta(microseconds=1)) / Decimal(60_000_000)


# -- the instants drawn --------------------------------------------------------------------

YEAR_START, YEAR_END = datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
SPRING_FORWARD = datetime(2027, 3, 14, 8, 0, tzinfo=UTC)  # 02:00 CST → 03:00 CDT
FALL_BACK = datetime(2027, 11, 7, 7, 0, tzinfo=UTC)  # 02:00 CDT → 01:00 CST
EDGES = sorted(
    {i for i in BOUNDARY_INSTANTS if YEAR_START <= i < YEAR_END}
    | {
        edge
        for window in WINDOWS["globex"] + WINDOWS["rth"]
        for edge in (window.start, window.end)
        if YEAR_START <= edge < YEAR_END
    }
)


def _naive_utc(first: datetime, last: datetime) -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=first.replace(tzinfo=None),
        max_value=last.replace(tzinfo=None),
        timezones=st.just(UTC),
    )


instants = st.one_of(
    _naive_utc(YEAR_START, YEAR_END - timedelta(microseconds=1)),
    st.builds(
        lambda edge, offset: edge + timedelta(microseconds=offset),
        st.integers(0, len(EDGES) - 1).map(EDGES.__getitem__),
        st.integers(-120_000_000, 120_000_000) | st.sampled_from([-1, 0, 1]),
    ),
    _naive_utc(SPRING_FORWARD - timedelta(hours=72), SPRING_FORWARD + timedelta(hours=72)),
    _naive_utc(FALL_BACK - timedelta(hours=72), FALL_BACK + timedelta(hours=72)),
)
sessions = st.sampled_from(sorted(WINDOWS))

DST_NIGHTS = [
    SPRING_FORWARD - timedelta(minutes=1),
    SPRING_FORWARD,
    FALL_BACK - timedelta(minutes=1),
    FALL_BACK,
    FALL_BACK + timedelta(minutes=30),
]


# -- the properties ------------------------------------------------------------------------


@settings(max_examples=600)
@given(instants)
@example(SPRING_FORWARD)
@example(FALL_BACK)
@example(FALL_BACK + timedelta(minutes=30))
def test_trading_day_and_its_end_agree_with_the_oracle(at: datetime) -> None:
    day, start, end = oracle_trading_day(at)
    assert CAL.trading_day(at) == day
    assert CAL.trading_day_end(at) == end
    assert CAL.trading_day_start(day) == start


@settings(max_examples=600)
@given(sessions, instants)
def test_sessions_agree_with_the_oracle(name: str, at: datetime) -> None:
    window = oracle_window(name, at)
    assert CAL.session_open(name, at) is (window is not None)
    assert CAL.next_session_start(name, at) == oracle_next_start(name, at)
    if window is None:
        assert CAL.minutes_to_close(name, at) is None
        assert CAL.minutes_to_open(name, at) == minutes(oracle_next_start(name, at) - at)
    else:
        assert CAL.minutes_to_close(name, at) == minutes(window.end - at)
        assert CAL.minutes_to_open(name, at) == 0


@settings(max_examples=300)
@given(instants)
def test_a_midnight_boundary_agrees_with_the_oracle(at: datetime) -> None:
    day, start, end = oracle_trading_day(at, MIDNIGHT_BOUNDARIES)
    assert MIDNIGHT.trading_day(at) == day
    assert MIDNIGHT.trading_day_end(at) == end
    assert MIDNIGHT.trading_day_start(day) == start


def test_the_oracle_itself_sees_both_dst_changes() -> None:
    # the hand-written offsets: Sunday 17:00 opens at 22:00 UTC in summer, 23:00 in winter
    assert chicago(date(2027, 3, 14), time(17, 0)) == datetime(2027, 3, 14, 22, 0, tzinfo=UTC)
    assert chicago(date(2027, 3, 12), time(16, 0)) == datetime(2027, 3, 12, 22, 0, tzinfo=UTC)
    assert chicago(date(2027, 11, 5), time(16, 0)) == datetime(2027, 11, 5, 21, 0, tzinfo=UTC)
    assert chicago(date(2027, 11, 7), time(17, 0)) == datetime(2027, 11, 7, 23, 0, tzinfo=UTC)
    for at in DST_NIGHTS:
        assert CAL.trading_day(at) == oracle_trading_day(at)[0]


# -- the rule book, by example ---------------------------------------------------------------


def ct(day: date, wall: time) -> datetime:
    return chicago(day, wall)


def test_globex_opens_sunday_at_1700_for_mondays_trading_day() -> None:
    sunday = date(2027, 1, 10)
    assert not CAL.session_open("globex", ct(sunday, time(16, 59, 59)))
    assert CAL.session_open("globex", ct(sunday, time(17, 0)))
    assert CAL.trading_day(ct(sunday, time(17, 0))) == date(2027, 1, 11)
    assert CAL.trading_day_end(ct(sunday, time(17, 0))) == ct(date(2027, 1, 11), time(17, 0))


def test_friday_closes_at_1600_and_the_next_open_is_sunday_1700() -> None:
    friday = date(2027, 1, 15)
    assert CAL.minutes_to_close("globex", ct(friday, time(15, 0))) == 60
    assert not CAL.session_open("globex", ct(friday, time(16, 0)))
    assert CAL.next_session_start("globex", ct(friday, time(16, 0))) == ct(
        date(2027, 1, 17), time(17, 0)
    )
    # Friday's trading day still runs to 17:00; after it, the day is Monday's
    assert CAL.trading_day(ct(friday, time(16, 59))) == friday
    assert CAL.trading_day(ct(friday, time(17, 0))) == date(2027, 1, 18)


def test_saturday_night_belongs_to_monday_and_nothing_is_open() -> None:
    saturday_night = ct(date(2027, 6, 12), time(22, 0))
    assert CAL.trading_day(saturday_night) == date(2027, 6, 14)
    assert CAL.trading_day_end(saturday_night) == ct(date(2027, 6, 14), time(17, 0))
    assert not CAL.session_open("globex", saturday_night)
    assert not CAL.session_open("rth", saturday_night)
    assert CAL.next_session_start("globex", saturday_night) == ct(date(2027, 6, 13), time(17, 0))
    assert CAL.minutes_to_open("globex", saturday_night) == 19 * 60


def test_christmas_on_a_saturday_closes_the_friday_before() -> None:
    # CME Globex Equity: 2027-12-24 is a holiday; Thursday 23rd closes at 16:00 as usual
    thursday, friday = date(2027, 12, 23), date(2027, 12, 24)
    assert CAL.is_holiday(friday)
    assert CAL.session_open("globex", ct(thursday, time(15, 59)))
    assert not CAL.session_open("globex", ct(thursday, time(18, 0)))
    assert not CAL.session_open("rth", ct(friday, time(10, 0)))
    assert CAL.next_session_start("globex", ct(thursday, time(16, 0))) == ct(
        date(2027, 12, 26), time(17, 0)
    )
    assert CAL.next_session_start("rth", ct(thursday, time(15, 0))) == ct(
        date(2027, 12, 27), time(8, 30)
    )


def test_new_years_day_is_a_holiday() -> None:
    new_year = date(2027, 1, 1)
    assert CAL.is_holiday(new_year)
    assert not CAL.is_trading_day(new_year)
    assert not CAL.session_open("globex", ct(new_year, time(9, 0)))


def test_thanksgiving_halts_at_noon_and_the_friday_after_closes_at_1215() -> None:
    thanksgiving, friday = date(2027, 11, 25), date(2027, 11, 26)
    assert CAL.minutes_to_close("globex", ct(thanksgiving, time(11, 0))) == 60
    assert CAL.minutes_to_close("rth", ct(thanksgiving, time(11, 0))) == 60
    assert not CAL.session_open("rth", ct(thanksgiving, time(12, 0)))
    assert not CAL.session_open("globex", ct(thanksgiving, time(12, 0)))
    # reopens Thursday 17:00 for Friday, which closes early too
    assert CAL.session_open("globex", ct(thanksgiving, time(17, 0)))
    assert CAL.session_open("rth", ct(friday, time(12, 14)))
    assert not CAL.session_open("rth", ct(friday, time(12, 15)))
    assert CAL.next_session_start("rth", ct(friday, time(12, 15))) == ct(
        date(2027, 11, 29), time(8, 30)
    )


def test_good_friday_closes_before_the_regular_session_opens() -> None:
    good_friday = date(2027, 3, 26)  # the equity calendar: globex halts at 08:15
    assert CAL.session_open("globex", ct(good_friday, time(8, 0)))
    assert not CAL.session_open("globex", ct(good_friday, time(8, 15)))
    assert not CAL.session_open("rth", ct(good_friday, time(8, 30)))
    assert CAL.next_session_start("rth", ct(good_friday, time(7, 0))) == ct(
        date(2027, 3, 29), time(8, 30)
    )


def test_spring_forward_weekend_opens_sunday_1700_cdt() -> None:
    friday_close = datetime(2027, 3, 12, 22, 0, tzinfo=UTC)  # 16:00 CST
    sunday_open = datetime(2027, 3, 14, 22, 0, tzinfo=UTC)  # 17:00 CDT
    assert CAL.next_session_start("globex", friday_close) == sunday_open
    assert CAL.minutes_to_open("globex", friday_close) == 48 * 60
    # Monday's trading day runs Friday 17:00 CST → Monday 17:00 CDT: 71 hours
    monday = date(2027, 3, 15)
    assert CAL.trading_day_start(monday) == datetime(2027, 3, 12, 23, 0, tzinfo=UTC)
    assert CAL.trading_day_end(SPRING_FORWARD) == datetime(2027, 3, 15, 22, 0, tzinfo=UTC)
    assert CAL.session_open("rth", datetime(2027, 3, 15, 13, 30, tzinfo=UTC))  # 08:30 CDT


def test_fall_back_weekend_opens_sunday_1700_cst() -> None:
    friday_close = datetime(2027, 11, 5, 21, 0, tzinfo=UTC)  # 16:00 CDT
    sunday_open = datetime(2027, 11, 7, 23, 0, tzinfo=UTC)  # 17:00 CST
    assert CAL.next_session_start("globex", friday_close) == sunday_open
    assert CAL.minutes_to_open("globex", friday_close) == 50 * 60
    # both 01:30s of the repeated hour belong to Monday's trading day
    first, second = (
        datetime(2027, 11, 7, 6, 30, tzinfo=UTC),
        datetime(2027, 11, 7, 7, 30, tzinfo=UTC),
    )
    assert CAL.local(first).hour == CAL.local(second).hour == 1
    assert CAL.trading_day(first) == CAL.trading_day(second) == date(2027, 11, 8)
    assert CAL.trading_day_end(first) == datetime(2027, 11, 8, 23, 0, tzinfo=UTC)


def test_wall_times_inside_the_dst_changes_follow_the_documented_choice() -> None:
    every_day = frozenset(range(7))
    cal = TradingCalendar(
        CalendarSpec(
            sessions={
                "gap": SessionSpec("gap", time(2, 30), time(4, 0), every_day),
                "twice": SessionSpec("twice", time(0, 0), time(1, 30), every_day),
            }
        )
    )
    # 02:30 does not exist on 2027-03-14: the session starts at 03:30 CDT, one hour later
    assert cal.session_window("gap", date(2027, 3, 14)) == (
        datetime(2027, 3, 14, 8, 30, tzinfo=UTC),
        datetime(2027, 3, 14, 9, 0, tzinfo=UTC),
    )
    # 01:30 happens twice on 2027-11-07: the session ends at the first, still CDT
    assert cal.session_window("twice", date(2027, 11, 7)) == (
        datetime(2027, 11, 7, 5, 0, tzinfo=UTC),
        datetime(2027, 11, 7, 6, 30, tzinfo=UTC),
    )
