"""The wire format of the status socket: one JSON object per line, both ways (UTF-8).

Kept apart from the server and the client so both — and third-party tools reading
docs/status-protocol.md — agree on one definition. Decimal money travels as strings, times as
ISO-8601 with an offset, so nothing is rounded through binary floats on the way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1

#: the longest line either side accepts (a ruleset sent by ``admin config edit`` fits easily)
MAX_LINE = 4 * 1024 * 1024
#: the longest line the daemon reads on a connection where no admin operation has succeeded
#: yet: every request fits, and a ruleset of ~60 kB. Parsing JSON holds the interpreter the
#: engine needs (4 MiB of ``[],`` takes 0.2 s), so a longer line is for the admin alone
MAX_OPEN_LINE = 64 * 1024

#: operations anyone who can reach the socket may call
READ_OPS = frozenset({"hello", "status", "explain", "history", "subscribe"})

#: operations that need ``auth.password`` (verified by the daemon against the bcrypt hash)
ADMIN_OPS = frozenset(
    {
        "auth_check",
        "reload",
        "config_get",
        "config_put",
        "lockout_list",
        "lockout_clear",
        "enforce",
        "logs",
        "set_password",
        "stop",
    }
)


class ErrorCode(StrEnum):
    """``error.code`` of a failed response (docs/status-protocol.md, "Errors")."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_OP = "unknown_op"
    AUTH_REQUIRED = "auth_required"
    AUTH_FAILED = "auth_failed"
    THROTTLED = "throttled"
    NO_PASSWORD_SET = "no_password_set"
    NOT_FOUND = "not_found"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"
    BUSY = "busy"
    INTERNAL = "internal"


@dataclass(eq=False)
class ProtocolError(Exception):
    """A failed response, raised by the client (and built by the server).

    Not frozen: Python sets ``__traceback__`` on an exception as it travels (through a
    ``with`` block, for one), which a frozen dataclass refuses."""

    code: str
    message: str
    #: located problems (``reload`` / ``config_put`` refused by lint), each
    #: ``{"file", "line", "column", "rule", "message", "hint", "check"}``
    problems: tuple[dict[str, Any], ...] = ()
    #: seconds until a throttled peer may try a password again
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.problems:
            error["problems"] = list(self.problems)
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return error

    @classmethod
    def from_json(cls, error: Any) -> ProtocolError:
        if not isinstance(error, dict):
            return cls(ErrorCode.INTERNAL.value, f"malformed error: {error!r}")
        retry = error.get("retry_after")
        return cls(
            str(error.get("code", ErrorCode.INTERNAL.value)),
            str(error.get("message", "")),
            tuple(p for p in error.get("problems", ()) if isinstance(p, dict)),
            float(retry) if isinstance(retry, int | float) else None,
        )


def decimal_text(value: Decimal) -> str:
    """The exact value without the trailing zeros exact division leaves (``21000.250000000`` →
    ``21000.25``) and never in exponent form (``1E+2`` → ``100``)."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: Decimal → str, datetime → ISO, tuples → lists."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of compact JSON (never containing a raw newline)."""
    return encode_value(message) + b"\n"


def encode_value(value: Any) -> bytes:
    """A value as compact JSON, without the line's newline (a result encoded once and sent in
    several answers: :func:`encode_answer`)."""
    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":")).encode()


def encode_answer(request_id: Any, result: bytes) -> bytes:
    """The success line for ``request_id`` around an already encoded ``result`` — the same
    bytes as ``encode({"id": request_id, "ok": True, "result": ...})``."""
    return b'{"id":' + encode_value(request_id) + b',"ok":true,"result":' + result + b"}\n"


#: an HTTP request line (``POST / HTTP/1.1``): what a browser sends when a web page points
#: a request at the loopback port
_HTTP_REQUEST_LINE = re.compile(rb"^[A-Z]+ \S+ HTTP/[0-9.]+\r?\n?$")


def is_http_request(line: bytes) -> bool:
    """Whether ``line`` opens an HTTP request — never a line of this protocol. Any web page
    in a browser on the machine may send one to a loopback port, with protocol lines in its
    body; a server that reads on would run them for the page (cross-protocol requests)."""
    return _HTTP_REQUEST_LINE.match(line) is not None


def decode(line: bytes) -> dict[str, Any]:
    """One received line as a message; a malformed line is a ``bad_request`` error."""
    if len(line) > MAX_LINE:
        raise ProtocolError(ErrorCode.BAD_REQUEST.value, f"line longer than {MAX_LINE} bytes")
    try:
        message = json.loads(line.decode("utf-8"))
    except RecursionError:  # the client's line, not a bug of the daemon
        raise ProtocolError(ErrorCode.BAD_REQUEST.value, "a JSON line nested too deep") from None
    except ValueError as exc:  # not UTF-8, not JSON, or a number too long to read
        raise ProtocolError(ErrorCode.BAD_REQUEST.value, f"not a JSON line: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST.value, "a message is a JSON object")
    return message


__all__ = [
    "ADMIN_OPS",
    "MAX_LINE",
    "MAX_OPEN_LINE",
    "PROTOCOL_VERSION",
    "READ_OPS",
    "ErrorCode",
    "ProtocolError",
    "decimal_text",
    "decode",
    "encode",
    "encode_answer",
    "encode_value",
    "is_http_request",
    "plain",
]
