"""A cancel that finds its order already filled or cancelled met its target: it is counted
and shown as a success ("already gone"), never as a refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simple_risk.adapters.topstepx.errors import ApiError, Endpoint
from simple_risk.adapters.topstepx.outgoing import (
    cancel_order_request,
    close_position_request,
    modify_size_request,
    modify_stop_request,
)
from simple_risk.daemon.calls import call_succeeded, call_text, call_words, refusal_outcome

CANCEL = cancel_order_request(20100001, 9)


def test_cancelling_an_order_that_is_not_open_any_more_is_already_done() -> None:
    refused = ApiError(Endpoint.ORDER_CANCEL, 3, "Order is not open.")  # errorCode Rejected
    assert refusal_outcome(CANCEL, refused) == "already"


def test_cancelling_an_order_the_gateway_does_not_know_is_already_done() -> None:
    assert refusal_outcome(CANCEL, ApiError(Endpoint.ORDER_CANCEL, 2, "Order not found.")) == (
        "already"
    )


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        (3, "Follower accounts cannot cancel orders", "gave_up"),
        (3, None, "gave_up"),
        (4, "Order is pending", "retry"),
    ],
)
def test_other_refusals_of_a_cancel_stay_refusals(
    code: int, message: str | None, outcome: str
) -> None:
    assert refusal_outcome(CANCEL, ApiError(Endpoint.ORDER_CANCEL, code, message)) == outcome


def test_not_open_only_means_done_for_a_cancel() -> None:
    close = close_position_request(20100001, "CON.F.US.MNQ.Z26")
    refused = ApiError(Endpoint.POSITION_CLOSE, 5, "Order is not open.")
    assert refusal_outcome(close, refused) == "gave_up"


def test_call_outcomes_read_as_plain_words_and_count_as_they_should() -> None:
    assert call_words("already") == "already gone"
    assert call_words("ok") == "done"
    assert call_words("gave_up: Order/place failed") == "refused: Order/place failed"
    assert call_words("retry: timeout") == "will retry: timeout"
    assert call_succeeded("already") and call_succeeded("ok")
    assert not call_succeeded("gave_up: Order is not open") and not call_succeeded("retry")


def test_resizing_an_order_that_is_gone_is_already_done_but_moving_its_stop_is_not() -> None:
    not_open = ApiError(Endpoint.ORDER_MODIFY, 3, "Order is not open.")
    resize = modify_size_request(20100001, 9, size=2)
    move = modify_stop_request(20100001, 9, stop_price=Decimal("21000"), size=2)
    assert refusal_outcome(resize, not_open) == "already"
    assert refusal_outcome(move, not_open) == "gave_up"


def test_a_call_names_the_ticker_not_the_projectx_root() -> None:
    close = close_position_request(20100001, "CON.F.US.EP.Z26")
    assert call_text(close) == "Position/closeContract ES Z26"
    assert call_text(CANCEL) == "Order/cancel 9"
