"""The trader's vocabulary: every view says money, quantities, limits and moments alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk import words
from simple_risk.engine.dsl.catalogue import ticker_of

CHICAGO = ZoneInfo("America/Chicago")


def test_money_reads_in_dollars_with_cents() -> None:
    assert words.usd("-48.4") == "$-48.40"
    assert words.usd(Decimal("1250")) == "$1,250.00"
    assert words.usd("-0.004") == "$0.00"  # never a negative zero
    assert words.usd("-0.005") == "$-0.01"  # half away from zero, as the dashboard rounds
    assert words.usd(None) == words.usd("n/a") == words.usd(True) == "—"


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2))
def test_money_round_trips_to_the_cent(amount: Decimal) -> None:
    shown = words.usd(amount)
    assert shown.startswith("$")
    assert Decimal(shown[1:].replace(",", "")) == amount


def test_quantities_carry_their_unit() -> None:
    assert words.quantity("0.1", "lots") == "0.1 lots"
    assert words.quantity(1, "lots") == "1 lot"
    assert words.quantity("5.0", "lots") == "5 lots"
    assert words.contracts(2) == "2 contracts" and words.contracts(1) == "1 contract"
    assert words.quantity(4, "trades") == "4 trades"
    assert words.quantity("-500", "usd") == "$-500.00"
    assert words.quantity(7, None) == "7"


def test_a_limit_is_named_by_its_label_else_its_id_in_words() -> None:
    assert words.rule_title("daily-realized-loss", "Daily loss") == "Daily loss"
    assert words.rule_title("daily-realized-loss") == "Daily realized loss"
    assert words.rule_title("max_trades.per-hour", "  ") == "Max trades per hour"


def test_moments_show_in_one_named_zone() -> None:
    now = datetime(2026, 11, 23, 23, 15, tzinfo=UTC).astimezone(CHICAGO)  # Mon 17:15 CST
    assert words.zone_name(now) == "CST"
    assert words.zone_name(datetime(2026, 7, 1, tzinfo=CHICAGO)) == "CDT"
    assert words.zone_name(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-6)))) == (
        "UTC-06:00"
    )
    assert words.zone_name(datetime(2026, 1, 1, tzinfo=UTC)) == "UTC"
    later_today = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 22:00 CST, still Monday
    assert words.at_words(later_today, now) == "22:00 CST"
    tomorrow = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert words.at_words(tomorrow, now) == "Tue 08:30 CST"


@pytest.mark.parametrize(
    ("kind", "body", "said"),
    [
        ("PositionClosed", {"contract_id": "CON.F.US.MNQ.Z26"}, "close the MNQ position"),
        (
            "NoWorkingOrders",
            {"side": "sell", "symbol": "ES"},
            "cancel the working sell orders in ES",
        ),
        ("NoWorkingOrders", {}, "cancel the working orders"),
        ("CancelOrder", {"order_id": 42}, "cancel order #42"),
        ("ResizeOrder", {"order_id": 42, "size": 3}, "resize order #42 to 3 contracts"),
        ("ReduceTo", {"max_contracts": 2, "symbol": "CL"}, "reduce to 2 contracts in CL"),
        (
            "StopAt",
            {"contract_id": "CON.F.US.CLE.F27", "price": "71.250"},
            "move the CL stop to 71.25",
        ),
        ("cancel_orders", {}, "cancel orders"),
    ],
)
def test_an_intent_reads_as_what_it_does(kind: str, body: dict[str, object], said: str) -> None:
    assert words.intent_words(kind, body, ticker_of) == said


def test_an_intent_summary_says_its_outcome_and_its_calls() -> None:
    close = {"contract_id": "CON.F.US.MNQ.Z26"}
    assert words.intent_summary("PositionClosed", close, "done", 1, None, ticker_of) == (
        "close the MNQ position: done (1 call)"
    )
    assert words.intent_summary("PositionClosed", close, "gave_up", 4, "HTTP 500", ticker_of) == (
        "close the MNQ position: GAVE UP after 4 calls (HTTP 500)"
    )
    assert words.intent_summary("PositionClosed", close, "pending", 0, None, ticker_of) == (
        "close the MNQ position: waiting"
    )
