"""The REST envelope as another gateway may write it: its numbers in other forms.

The rule book: ``errorCode`` and ``orderId`` are read like every other number of a payload —
``2``, ``2.0``, ``"2"`` are the same code, a code's Swagger name (``"PositionNotFound"``) is
that code — so a refusal keeps its meaning (a close answered PositionNotFound is done, an
OrderPending is retried) and a placed order keeps its id, whatever the spelling.
"""

from __future__ import annotations

import pytest

from simple_risk.adapters.topstepx.errors import ApiError, Outcome
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.engine.events import OrderSide, OrderType
from tests.stub_gateway import StubGateway, serving

ACCOUNT = 704
ORDER_ID = 2934939764
MNQ = "CON.F.US.MNQ.U26"


class _Spelled(StubGateway):
    """Answers every call with the envelope text the test set (raw JSON, its numbers as
    written)."""

    body = ""

    def on_call(self, path: str) -> None:
        data = _Spelled.body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _client(port: int) -> RestClient:
    client = RestClient(
        f"http://127.0.0.1:{port}",
        Credentials("user", "key-0123456789"),
        config=RestConfig(timeout=2.0, max_attempts=1, backoff_base=0.01),
    )
    client.login()
    return client


@pytest.mark.parametrize("code", ["2", "2.0", '"2"', '"PositionNotFound"', '"positionNotFound"'])
def test_a_close_refused_as_position_not_found_is_done_however_the_code_is_written(
    code: str,
) -> None:
    _Spelled.body = f'{{"success":false,"errorCode":{code},"errorMessage":null}}'
    with serving(_Spelled) as port, pytest.raises(ApiError) as refused:
        _client(port).close_position(ACCOUNT, MNQ)
    assert (refused.value.error_code, refused.value.code_name) == (2, "PositionNotFound")
    assert refused.value.outcome is Outcome.DONE


def _place(client: RestClient) -> int:
    return client.place_order(
        ACCOUNT, MNQ, order_type=OrderType.MARKET, side=OrderSide.SELL, size=1, custom_tag="t-1"
    )


@pytest.mark.parametrize("code", ["2", "2.0", '"2"', '"OrderRejected"'])
def test_a_rejected_place_keeps_its_code_and_the_id_the_rejected_order_still_got(
    code: str,
) -> None:
    # §3.2: "the rejected order still gets an id", and arrives on the hub by it
    _Spelled.body = (
        f'{{"success":false,"errorCode":{code},"errorMessage":"Brackets cannot be used",'
        f'"orderId":"{ORDER_ID}"}}'
    )
    with serving(_Spelled) as port, pytest.raises(ApiError) as refused:
        _place(_client(port))
    assert (refused.value.error_code, refused.value.code_name) == (2, "OrderRejected")
    assert refused.value.order_id == ORDER_ID


@pytest.mark.parametrize("order_id", [str(ORDER_ID), f"{ORDER_ID}.0", f'"{ORDER_ID}"'])
def test_a_placed_order_keeps_its_id_however_it_is_written(order_id: str) -> None:
    _Spelled.body = f'{{"success":true,"errorCode":0,"errorMessage":null,"orderId":{order_id}}}'
    with serving(_Spelled) as port:
        assert _place(_client(port)) == ORDER_ID
