"""The client's own transport verifies the gateway's certificate like ``requests`` does: the
CA bundle the environment names (``REQUESTS_CA_BUNDLE``), else the bundled one, and the host
name — an unknown certificate never gets a request, let alone the API key."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from simple_risk.adapters.topstepx.errors import TransportError
from simple_risk.adapters.topstepx.outgoing import cancel_order_request
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.transport import DirectTransport
from tests.stub_gateway import StubGateway, serving


class _Gateway(StubGateway):
    """Answers every search with no records; counts the requests it read."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        _Gateway.seen.append(self.path)  # the login too: a refused handshake reaches none
        super().do_POST()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (valid from now for a day) and its key, made
    by the ``openssl`` command (Debian's ``ca-certificates`` depends on it)."""
    cert, key = tmp_path / "gateway.pem", tmp_path / "gateway.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def gateway(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    _Gateway.seen = []
    with serving(_Gateway, lambda sock: context.wrap_socket(sock, server_side=True)) as port:
        yield f"https://127.0.0.1:{port}"


def test_a_gateway_the_named_bundle_vouches_for_is_reached(
    gateway: str, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    client = RestClient(gateway, Credentials("user", "key-0123456789"))
    assert isinstance(client._transport, DirectTransport)
    client.login()
    assert client.open_orders(7) == []
    assert _Gateway.seen == ["/api/Auth/loginKey", "/api/Order/searchOpen"]
    client.close()


def test_a_gateway_with_a_certificate_nobody_vouches_for_gets_no_request(
    gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = RestClient(
        gateway, Credentials("user", "key-0123456789"), config=RestConfig(max_attempts=1)
    )
    with pytest.raises(TransportError):
        client.login()
    assert _Gateway.seen == []  # the handshake failed: the API key never left
    client.close()


class _KeptAliveGateway(_Gateway):
    protocol_version = "HTTP/1.1"  # the connection stays open between calls


def test_an_enforcing_request_sent_ahead_goes_over_the_verified_connection(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending ahead (the engine thread's write, the lane's read) uses the kept-alive TLS
    connection the ordinary calls opened and verified: the request arrives whole."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    _Gateway.seen = []
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    wrap = lambda sock: context.wrap_socket(sock, server_side=True)  # noqa: E731
    with serving(_KeptAliveGateway, wrap) as port:
        client = RestClient(f"https://127.0.0.1:{port}", Credentials("user", "key-0123456789"))
        try:
            client.login()
            request = cancel_order_request(7, 99)
            sent = client.presend(request, Priority.ENFORCEMENT)
            assert sent is not None
            assert client.execute(request, on_wire=sent)["success"] is True
            assert _Gateway.seen == ["/api/Auth/loginKey", "/api/Order/cancel"]
        finally:
            client.close()
