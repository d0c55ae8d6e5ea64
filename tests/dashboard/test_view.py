"""The page's arithmetic: what is left of the daily loss limit, and the day's P&L line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.daemon.dashboard.view import _loss_gauge, _mode, realized_line

T0 = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)
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


@given(nets=st.lists(st.tuples(st.integers(min_value=-3600, max_value=36000), money), max_size=30))
def test_the_line_starts_at_zero_and_ends_at_the_sum_of_the_fills(
    nets: list[tuple[int, Decimal]],
) -> None:
    fills = [(T0 + timedelta(seconds=offset), net) for offset, net in nets]
    line = realized_line(fills, T0)
    assert line[0] == (T0, 0)
    assert len(line) == len(fills) + 1
    assert line[-1][1] == sum((net for _, net in fills), Decimal(0))
    times = [at for at, _ in line]
    assert times == sorted(times)
    assert all(at >= T0 for at in times)  # a fill stamped before the day starts counts at 0


def test_each_point_is_the_running_total_in_time_order() -> None:
    fills = [
        (T0 + timedelta(minutes=30), Decimal("-139.40")),
        (T0 + timedelta(minutes=5), Decimal("-0.62")),
        (T0 + timedelta(minutes=50), Decimal("60.00")),
    ]
    assert [value for _, value in realized_line(fills, T0)] == [
        Decimal(0),
        Decimal("-0.62"),
        Decimal("-140.02"),
        Decimal("-80.02"),
    ]


def test_the_mode_is_enforce_unless_the_status_says_observe() -> None:
    assert _mode({}) == "enforce"
    assert _mode({"mode": "OBSERVE"}) == "observe"
    assert _mode({"observe": True}) == "observe"
    assert _mode({"observe": False}) == "enforce"
