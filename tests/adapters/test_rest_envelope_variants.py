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


# -- Order/place answered with something that is no envelope ------------------------------------


class _PlaceBehindAProxy(StubGateway):
    """``Order/place`` answered first with ``garbled`` (a proxy's page, nothing, a cut body),
    then properly; ``Order/search`` lists the placed order once the gateway took one."""

    garbled = b""
    calls: list[str] = []  # noqa: RUF012 - one test's log, reset by it
    placed = False  # whether the gateway took the first place (it answered 200 for it)

    def on_call(self, path: str) -> None:
        cls = _PlaceBehindAProxy
        cls.calls.append(path.rsplit("/", 1)[-1])
        if path.endswith("/Order/place"):
            if cls.calls.count("place") == 1:
                self.send_response(200)
                self.send_header("Content-Length", str(len(cls.garbled)))
                self.end_headers()
                self.wfile.write(cls.garbled)
            else:
                self.answer({"orderId": 1001})
        elif path.endswith("/Order/search"):
            order = {
                "id": ORDER_ID, "accountId": ACCOUNT, "contractId": MNQ, "status": 1,
                "type": 4, "side": 1, "size": 1, "stopPrice": 29380.5, "customTag": "t-1",
            }  # fmt: skip
            self.answer({"orders": [order] if cls.placed else []})
        else:
            self.answer({})


GARBLED = [
    b"<html><body>502 Bad Gateway</body></html>",
    b"",
    b'{"success":true,"errorCode":0,"errorMessage":null,"orde',
]


@pytest.mark.parametrize("garbled", GARBLED, ids=["html", "empty", "cut"])
def test_a_place_answered_with_no_envelope_is_looked_up_by_its_tag_not_lost(
    garbled: bytes,
) -> None:
    # the gateway took it: the order is found by its tag, and never placed twice
    _PlaceBehindAProxy.garbled, _PlaceBehindAProxy.calls, _PlaceBehindAProxy.placed = (
        garbled,
        [],
        True,
    )
    with serving(_PlaceBehindAProxy) as port:
        client = RestClient(
            f"http://127.0.0.1:{port}",
            Credentials("user", "key-0123456789"),
            config=RestConfig(timeout=2.0, max_attempts=3, backoff_base=0.01),
        )
        client.login()
        assert _place(client) == ORDER_ID
    assert _PlaceBehindAProxy.calls == ["place", "search"]


@pytest.mark.parametrize("garbled", GARBLED, ids=["html", "empty", "cut"])
def test_a_place_answered_with_no_envelope_that_did_not_land_is_sent_again(
    garbled: bytes,
) -> None:
    _PlaceBehindAProxy.garbled, _PlaceBehindAProxy.calls, _PlaceBehindAProxy.placed = (
        garbled,
        [],
        False,
    )
    with serving(_PlaceBehindAProxy) as port:
        client = RestClient(
            f"http://127.0.0.1:{port}",
            Credentials("user", "key-0123456789"),
            config=RestConfig(timeout=2.0, max_attempts=3, backoff_base=0.01),
        )
        client.login()
        assert _place(client) == 1001
    assert _PlaceBehindAProxy.calls == ["place", "search", "place"]
