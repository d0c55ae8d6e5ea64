"""A request the gateway may already have acted on is sent again by the client only when
sending it twice changes nothing: a close of a whole position, a cancel, a search. A partial
close reduces by a size, so a second one reduces twice; after a connection that ended without
an answer, a 5xx, or a 200 whose body is no ProjectX envelope, it comes back to the caller
(a transient failure, re-planned from the facts) instead of going out again."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from simple_risk.adapters.topstepx.errors import Outcome, OutcomeUnknown
from simple_risk.adapters.topstepx.outgoing import close_position_request, partial_close_request
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from tests.stub_gateway import StubGateway, serving

ACCOUNT = 5
MNQ = "CON.F.US.MNQ.Z26"


class _ActsThenFails(StubGateway):
    """A gateway that acts on every call (notes it) but fails to answer the first one: it
    either ends the connection without a word or answers a bare 502 (a proxy in front of a
    backend that did the work)."""

    protocol_version = "HTTP/1.1"
    acted: queue.Queue[str]
    failure: str = "drop"
    failed = False

    def on_call(self, path: str) -> None:
        _ActsThenFails.acted.put(path)
        if not _ActsThenFails.failed:
            _ActsThenFails.failed = True
            if _ActsThenFails.failure == "drop":
                self.close_connection = True
                return
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.answer({})


@pytest.fixture(params=["drop", "502"])
def gateway(request: pytest.FixtureRequest) -> Iterator[int]:
    _ActsThenFails.acted = queue.Queue()
    _ActsThenFails.failure = request.param
    _ActsThenFails.failed = False
    with serving(_ActsThenFails) as port:
        yield port


def _client(port: int) -> RestClient:
    client = RestClient(
        f"http://127.0.0.1:{port}",
        Credentials("user", "key-0123456789"),
        config=RestConfig(backoff_base=0.01, backoff_max=0.02),
    )
    client.login()
    return client


def test_a_partial_close_that_may_have_acted_is_never_sent_twice(gateway: int) -> None:
    client = _client(gateway)
    try:
        with pytest.raises(OutcomeUnknown) as raised:
            client.execute(partial_close_request(ACCOUNT, MNQ, 2))
        # a transient failure for a generic caller; the executor learns from REST first
        assert raised.value.outcome is Outcome.RETRY
        assert _ActsThenFails.acted.qsize() == 1
    finally:
        client.close()


def test_a_whole_close_is_sent_again_since_twice_changes_nothing(gateway: int) -> None:
    client = _client(gateway)
    try:
        assert client.execute(close_position_request(ACCOUNT, MNQ))["success"] is True
        assert _ActsThenFails.acted.qsize() == 2
    finally:
        client.close()


class _ActsThenGarbles(StubGateway):
    """A gateway that acts on the call and answers 200 with a body that is no ProjectX
    envelope: a proxy's HTML page, a JSON array, an object without ``success``."""

    protocol_version = "HTTP/1.1"
    acted: queue.Queue[str]
    body = b""

    def on_call(self, path: str) -> None:
        _ActsThenGarbles.acted.put(path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(_ActsThenGarbles.body)))
        self.end_headers()
        self.wfile.write(_ActsThenGarbles.body)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Request processed</body></html>",
        b"[]",
        b'{"errorCode": 0}',
    ],
    ids=["html", "array", "no-success"],
)
def test_a_partial_close_answered_with_an_unreadable_200_may_have_acted(body: bytes) -> None:
    # the answer came back, so the request reached the gateway, but it does not say whether
    # the reduction happened: a caller that sends it again reduces twice
    _ActsThenGarbles.acted = queue.Queue()
    _ActsThenGarbles.body = body
    with serving(_ActsThenGarbles) as port:
        client = _client(port)
        try:
            with pytest.raises(OutcomeUnknown) as raised:
                client.execute(partial_close_request(ACCOUNT, MNQ, 2))
            assert raised.value.outcome is Outcome.RETRY
            assert _ActsThenGarbles.acted.qsize() == 1
        finally:
            client.close()
