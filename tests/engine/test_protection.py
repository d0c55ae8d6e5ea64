"""A protective stop (docs/architecture.md §4): each case of the definition on its own."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine_builders import (
    ACCOUNT,
    ES,
    MNQ,
    action,
    loaded,
    order,
    position,
    quote,
    rule,
    ruleset,
    tick,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import Event, OrderStatus, OrderType
from simple_risk.engine.facts.positions import protection, stop_exposure
from simple_risk.engine.intents import PositionClosed

STOP = OrderType.STOP


def protected(*events: Event) -> bool:
    engine = Engine(ruleset())
    for event in events:
        engine.apply(event)
    state = engine.account(ACCOUNT)
    assert state is not None
    return state.positions[MNQ].protected


def test_a_sell_stop_below_the_market_protects_a_long() -> None:
    assert protected(
        quote(0, "21010"), position(1, 2), order(2, 9, side="sell", size=2, kind=STOP, stop="20990")
    )


def test_a_stop_on_the_same_side_does_not_protect() -> None:
    assert not protected(
        quote(0, "21010"), position(1, 2), order(2, 9, side="buy", size=2, kind=STOP, stop="20990")
    )


def test_a_stop_above_the_market_does_not_protect_a_long() -> None:
    assert not protected(
        quote(0, "21010"), position(1, 1), order(2, 9, side="sell", kind=STOP, stop="21020")
    )


def test_a_buy_stop_above_the_market_protects_a_short() -> None:
    assert protected(
        quote(0, "21010"),
        position(1, 1, long=False),
        order(2, 9, side="buy", kind=STOP, stop="21020"),
    )


def test_a_limit_order_is_not_a_stop() -> None:
    assert not protected(quote(0, "21010"), position(1, 1), order(2, 9, side="sell", limit="20990"))


def test_stop_limit_counts() -> None:
    assert protected(
        quote(0, "21010"),
        position(1, 1),
        order(2, 9, side="sell", kind=OrderType.STOP_LIMIT, stop="20990"),
    )


def test_trailing_stop_counts_at_any_distance() -> None:
    assert protected(
        quote(0, "21010"), position(1, 1), order(2, 9, side="sell", kind=OrderType.TRAILING_STOP)
    )


def test_pending_cancellation_does_not_count_but_suspended_does() -> None:
    base = (quote(0, "21010"), position(1, 1))
    assert not protected(
        *base,
        order(2, 9, side="sell", kind=STOP, stop="20990", status=OrderStatus.PENDING_CANCELLATION),
    )
    assert protected(
        *base, order(2, 9, side="sell", kind=STOP, stop="20990", status=OrderStatus.SUSPENDED)
    )
    assert protected(
        *base, order(2, 9, side="sell", kind=STOP, stop="20990", status=OrderStatus.PENDING)
    )


def test_stops_must_cover_the_whole_position_together() -> None:
    base = (quote(0, "21010"), position(1, 3))
    assert not protected(*base, order(2, 9, side="sell", size=2, kind=STOP, stop="20990"))
    assert protected(
        *base,
        order(2, 9, side="sell", size=2, kind=STOP, stop="20990"),
        order(3, 10, side="sell", size=1, kind=STOP, stop="20980"),
    )


def test_before_the_first_quote_the_entry_price_is_the_reference() -> None:
    assert protected(position(1, 1, "21000"), order(2, 9, side="sell", kind=STOP, stop="20990"))
    assert not protected(position(1, 1, "21000"), order(2, 9, side="sell", kind=STOP, stop="21010"))


def test_a_quote_through_the_stop_unprotects() -> None:
    assert not protected(
        position(1, 1, "21000"),
        order(2, 9, side="sell", kind=STOP, stop="20990"),
        quote(3, "20980"),
    )


def test_a_stop_in_another_contract_does_not_protect() -> None:
    assert not protected(
        quote(0, "21010"),
        position(1, 1),
        order(2, 9, side="sell", kind=STOP, stop="20990", contract=ES),
    )


def test_unprotected_for_counts_from_when_protection_was_lost() -> None:
    engine = Engine(ruleset())
    for event in (
        position(0, 1),
        order(1, 9, side="sell", kind=STOP, stop="20990"),
        order(10, 9, side="sell", kind=STOP, stop="20990", status=OrderStatus.CANCELLED),
        tick(25),
    ):
        engine.apply(event)
    state = engine.account(ACCOUNT)
    assert state is not None
    pos = state.positions[MNQ]
    assert pos.unprotected_for == 15
    assert pos.stop_price is None


def test_stop_price_is_the_tightest_protective_stop() -> None:
    engine = Engine(ruleset())
    for event in (
        loaded(0),
        position(0, 2),
        order(1, 9, side="sell", kind=STOP, stop="20990"),
        order(2, 10, side="sell", kind=STOP, stop="20995"),
    ):
        engine.apply(event)
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.positions[MNQ].stop_price == Decimal("20995")


def test_unprotected_position_is_closed_after_the_grace_period() -> None:
    engine = Engine(
        ruleset(
            rule(
                "no-stop",
                "not position.protected",
                ["position", "order", "clock"],
                [action("close_position")],
                each="position",
                for_=timedelta(seconds=30),
            )
        )
    )
    assert engine.apply(position(0, 1)) == []
    assert engine.next_deadline() == position(30, 1).at
    assert engine.apply(tick(29)) == []
    firings = engine.apply(tick(30))
    assert [f.rule_id for f in firings] == ["no-stop"]
    assert PositionClosed(ACCOUNT, MNQ) in firings[0].intents
    assert engine.apply(tick(31)) == []  # once per episode


def test_a_stop_placed_in_the_grace_period_cancels_the_timer() -> None:
    engine = Engine(
        ruleset(
            rule(
                "no-stop",
                "not position.protected",
                ["position", "order", "clock"],
                [action("close_position")],
                each="position",
                for_=timedelta(seconds=30),
            )
        )
    )
    engine.apply(position(0, 1))
    engine.apply(order(10, 9, side="sell", kind=STOP, stop="20990"))
    assert engine.state_of("no-stop", ACCOUNT, "position:" + MNQ) == "inactive"
    assert engine.apply(tick(30)) == []


@settings(max_examples=150, deadline=None)
@given(
    long=st.booleans(),
    stops=st.lists(st.integers(-12, 12), min_size=0, max_size=4),
    marks=st.lists(st.integers(-15, 15), min_size=1, max_size=25),
)
def test_a_quote_keeps_protection_exactly_as_a_full_recount_would(
    long: bool, stops: list[int], marks: list[int]
) -> None:
    """Quotes recount the stops only when the mark crosses one (``Position.requote``): after
    every quote, protection, the tightest stop and the stops' risk are what counting every
    order again gives."""
    engine = Engine(ruleset())
    engine.apply(loaded(0))
    engine.apply(position(1, 2, "21000", long=long))
    for number, offset in enumerate(stops):
        side = "sell" if long else "buy"
        engine.apply(order(2, 10 + number, side=side, kind=STOP, stop=str(21000 + offset)))
    state = engine.account(ACCOUNT)
    assert state is not None
    for step, offset in enumerate(marks):
        engine.apply(quote(3 + step, str(21000 + offset)))
        held = state.positions[MNQ]
        counted, tightest, stops_counted, _band = protection(
            held, state.contract_orders(MNQ), held.last_price
        )
        assert (held.protected, held.stop_price) == (counted, tightest)
        assert (held.stop_ticks, held.stop_risk) == stop_exposure(held, stops_counted)
