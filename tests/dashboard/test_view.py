"""The page's arithmetic: what is left of the daily loss limit, and the day's P&L line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.dashboard.view import PnlLine, _loss_gauge

T0 = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)
DAY = date(2027, 1, 13)
money = st.decimals(min_value=-5000, max_value=5000, places=2, allow_nan=False)


def _limits(value: object, limit: object, fact: str = "day.realized_pnl") -> dict[str, object]:
    return {
        "limits": [{"rule": "daily-realized-loss", "fact": fact, "value": value, "limit": limit}]
    }


@given(pnl=money, loss_limit=st.integers(min_value=1, max_value=10000))
def test_what_is_left_is_the_pnl_above_the_floor_never_below_zero(
    pnl: Decimal, loss_limit: int
) -> None:
    gauge = _loss_gauge(_limits(pnl, -loss_limit))
    assert gauge is not None
    assert gauge["limit"] == loss_limit
    assert gauge["floor"] == -loss_limit
    assert gauge["left"] == max(pnl + loss_limit, Decimal(0))
    assert gauge["label"] == "Realized P&L today"


def test_a_452_dollar_loss_leaves_48_of_500() -> None:
    gauge = _loss_gauge(_limits(Decimal("-452"), Decimal("-500")))
    assert gauge is not None
    assert (gauge["left"], gauge["limit"]) == (Decimal(48), Decimal(500))


def test_limits_that_are_not_a_daily_loss_floor_make_no_gauge() -> None:
    assert _loss_gauge({"limits": []}) is None
    assert _loss_gauge(_limits(Decimal(0), 5, fact="account.open_contracts")) is None
    assert _loss_gauge(_limits(Decimal(0), Decimal(500))) is None  # a profit target


def test_an_unknown_pnl_counts_as_nothing_lost_yet() -> None:
    gauge = _loss_gauge(_limits(None, -500))
    assert gauge is not None
    assert gauge["left"] == 500


@given(values=st.lists(money, max_size=30))
def test_the_line_keeps_one_point_per_change(values: list[Decimal]) -> None:
    line = PnlLine()
    for second, value in enumerate(values):
        line.record(1, DAY, T0 + timedelta(seconds=second), value)
    kept = [value for _, value in line.points(1, DAY)]
    changes = [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]
    assert kept == changes


def test_the_line_starts_again_on_a_new_trading_day_and_stays_bounded() -> None:
    line = PnlLine(capacity=3)
    for value in range(5):
        line.record(1, DAY, T0 + timedelta(seconds=value), Decimal(value))
    assert [v for _, v in line.points(1, DAY)] == [2, 3, 4]
    line.record(1, DAY + timedelta(days=1), T0 + timedelta(days=1), Decimal(0))
    assert line.points(1, DAY) == []
    assert [v for _, v in line.points(1, DAY + timedelta(days=1))] == [0]
    assert line.points(2, DAY) == []
