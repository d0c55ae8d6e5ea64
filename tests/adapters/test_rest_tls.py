"""The client's own transport verifies the gateway's certificate like ``requests`` does: the
CA bundle the environment names (``REQUESTS_CA_BUNDLE``), else the bundled one, and the host
name — an unknown certificate never gets a request, let alone the API key."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from simple_risk.adapters.topstepx.errors import TransportError
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.transport import DirectTransport


class _Gateway(http.server.BaseHTTPRequestHandler):
    """Logs in and answers every search with no records; counts the requests it read."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Gateway.seen.append(self.path)
        answer: dict[str, object] = {"success": True, "errorCode": 0, "errorMessage": None}
        if self.path.endswith("/Auth/loginKey"):
            answer["token"] = "t.t.t"
        else:
            answer["orders"] = []
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


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
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.seen = []
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
