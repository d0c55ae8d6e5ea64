"""What stands in front of the simulator's REST endpoints: tokens, rate limits, faults, a log.

Each piece is configurable so tests can shrink real durations (a 2 s token, 20 requests per
2 s) instead of sleeping through them (architecture.md §5). They are plain objects used only
from the server's event loop thread, so they need no locks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Fault = Literal[429, 500, 503, "timeout"]


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per sliding window: ``bars`` for History/retrieveBars, ``general`` for
    every other endpoint (reference §3.1: 50 / 30 s and 200 / 60 s)."""

    general: tuple[int, float] = (200, 60.0)
    bars: tuple[int, float] = (50, 30.0)


@dataclass
class Session:
    """One issued token: who it belongs to and when it stops being accepted."""

    username: str
    expires_at: float


class TokenStore:
    """Issues JWT-shaped tokens (header.payload.signature) and checks them.

    Logging in again issues a new token without invalidating older ones (reference §2.1);
    ``logout`` revokes only the token it was called with.
    """

    def __init__(self, lifetime: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}

    @staticmethod
    def _b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def issue(self, username: str) -> str:
        expires = self._clock() + self.lifetime
        header = self._b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = self._b64(
            json.dumps({"sub": username, "exp": int(expires), "jti": secrets.token_hex(8)}).encode()
        )
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        token = f"{header}.{payload}.{self._b64(signature)}"
        self._sessions[token] = Session(username, expires)
        return token

    def check(self, token: str | None) -> Session | None:
        """The live session of ``token``, or None when it is unknown, revoked or expired."""
        if token is None:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[token]
            return None
        return session

    def revoke(self, token: str) -> None:
        self._sessions.pop(token, None)

    def revoke_all(self) -> int:
        """Every token issued so far stops being accepted (a session the gateway ended:
        REST answers 401, hubs refuse the connect); how many were live."""
        live = len(self._sessions)
        self._sessions.clear()
        return live


class RateLimiter:
    """Sliding-window counters, one per bucket, shared by every caller of the simulator."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._hits: dict[str, deque[float]] = {"general": deque(), "bars": deque()}

    def allow(self, bucket: Literal["general", "bars"]) -> bool:
        """Count one request; False when the bucket's window is already full."""
        count, window = self.limits.bars if bucket == "bars" else self.limits.general
        now = self._clock()
        hits = self._hits[bucket]
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= count:
            return False
        hits.append(now)
        return True


@dataclass
class FaultQueue:
    """Failures to inject into the next ProjectX REST calls (control API ``fail_next``)."""

    #: each fault with the ``Retry-After`` header its answer carries (None: no header)
    pending: deque[tuple[Fault, str | None]] = field(default_factory=deque)
    #: how long a "timeout" fault holds the request before answering 504
    timeout_seconds: float = 30.0

    def add(self, count: int, fault: Fault, retry_after: str | None = None) -> None:
        self.pending.extend([(fault, retry_after)] * count)

    def take(self) -> tuple[Fault, str | None] | None:
        return self.pending.popleft() if self.pending else None

    #: endpoint (lower case, e.g. ``position/closecontract``) -> delays of its next calls
    late: dict[str, deque[float]] = field(default_factory=dict)

    def add_late(self, endpoint: str, count: int, seconds: float) -> None:
        self.late.setdefault(endpoint.lower(), deque()).extend([seconds] * count)

    def take_late(self, endpoint: str) -> float:
        """How long the answer of this call of ``endpoint`` is held after the venue acted."""
        delays = self.late.get(endpoint.lower())
        return delays.popleft() if delays else 0.0


#: the request log keeps the newest entries only, so a long ``simple-risk sim`` run stays small
MAX_RECORDED = 100_000


def remember(log: list[RecordedRequest], entry: RecordedRequest) -> None:
    """Append ``entry`` to the request log, dropping the oldest beyond :data:`MAX_RECORDED`."""
    log.append(entry)
    if len(log) > MAX_RECORDED:
        del log[: len(log) - MAX_RECORDED]


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request as the simulator received it, for tests to assert on."""

    time: datetime
    method: str
    path: str
    query: str
    body: object
    status: int

    def as_json(self) -> dict[str, object]:
        return {
            "time": self.time.isoformat(),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "status": self.status,
        }
