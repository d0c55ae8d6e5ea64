"""The REST session with the ProjectX Gateway: who we are, and how one call travels.

It exists so the typed endpoint calls (:mod:`.rest`) read as the API they wrap, while what
every call shares lives here, once (reference §1–§4):

* **Auth** — ``Auth/loginKey`` with username + API key; the 24 h token is refreshed with
  ``Auth/validate`` well before it expires (and on any 401), falling back to a new login when
  the session is gone. Hubs draw their token from :meth:`RestSession.token`.
* **Rate limit** — every request first takes a slot from the shared priority
  :class:`~simple_risk.adapters.topstepx.ratelimit.RateLimiter`.
* **Retries** — 429, 5xx and connection errors are retried with exponential backoff and full
  jitter, a bounded number of times; a 429 also holds the limiter so every thread slows down.
  A 429 or 503 that carries ``Retry-After`` (seconds, or an HTTP date) holds the calls of its
  kind (its rate-limit bucket) exactly that long instead — at most ``retry_after_max``, a
  longer demand told to ``on_gateway_trouble`` — and the retry waits for it: nothing of that
  kind reaches the gateway before it said, enforcement included, and nothing waits longer.
  A caller whose request is not idempotent passes ``on_retry`` to look for its effect first.
* **Errors** — ``success: false`` becomes :class:`ApiError` carrying the endpoint's errorCode
  name and its DONE/RETRY/GIVE_UP outcome; transport failures become :class:`TransportError`.
* **Secrets** — the API key and tokens are registered with the log filter and never appear in a
  repr, a log line or a recording.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import requests

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.converters import DEFAULT_SYMBOLS
from simple_risk.adapters.topstepx.errors import (
    ApiError,
    AuthenticationError,
    Endpoint,
    MalformedResponse,
    Outcome,
    OutcomeUnknown,
    ProjectXError,
    RateLimitTimeout,
    TransportError,
    error_code_from_wire,
)
from simple_risk.adapters.topstepx.exactjson import dumps_exact, loads_exact
from simple_risk.adapters.topstepx.gateway_time import retry_after_seconds, token_lifetime
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.adapters.topstepx.ratelimit import Priority, RateLimiter, bucket_for
from simple_risk.adapters.topstepx.secrets import (
    install_log_filter,
    redact_text,
    register_secret,
)
from simple_risk.adapters.topstepx.transport import (
    DeadlinePassed,
    DirectTransport,
    ExchangeFailed,
    Sent,
    transport_for,
)
from simple_risk.adapters.topstepx.wirefields import WireFormatError, to_int
from simple_risk.engine.model import SymbolSpec

#: the REST client's logger, shared with :mod:`.rest`: the session's auth and retry lines keep
#: the logger name they have always carried (log output and level settings name it)
log = logging.getLogger("simple_risk.adapters.topstepx.rest")
install_log_filter(log.name, "SignalRCoreClient")

TOPSTEPX_API = "https://api.topstepx.com"
#: connections one client keeps alive to the gateway (executor lanes and reconcile workers of
#: every account, hubs' token refreshes); a call beyond them opens one that is closed after
#: it. A session given to the client gets this many HTTP threads instead (see transport.py).
HTTP_THREADS = 32

_AUTH_ENDPOINTS = frozenset({Endpoint.LOGIN_KEY, Endpoint.VALIDATE, Endpoint.LOGOUT})

#: requests that change the account by an amount, so that a second copy changes it again: once
#: one may have reached the gateway (its connection ended without an answer, a 5xx came back,
#: the deadline passed), it is never sent again here — :class:`OutcomeUnknown` tells the caller
#: to learn from REST what happened before planning again. (``Order/place`` has
#: its own guard: its retries look the order up by tag first.)
_SENT_ONCE = frozenset({Endpoint.POSITION_PARTIAL_CLOSE})


class RestRecorder(Protocol):
    """Receives every non-auth REST exchange (see :mod:`simple_risk.adapters.replay`)."""

    def record_rest(
        self,
        at: datetime,
        endpoint: str,
        request: Mapping[str, object],
        response: object,
        sent: datetime | None = None,
    ) -> None:
        """``at``: when the answer was received; ``sent``: when the request that it answers
        went out (a hub fact after it may be newer than the answer)."""
        ...


@dataclass(frozen=True, slots=True)
class Credentials:
    """ProjectX API-key credentials; the key never appears in a repr."""

    username: str
    api_key: str = field(repr=False)

    def __post_init__(self) -> None:
        register_secret(self.api_key)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, api_key=***)"


@dataclass(frozen=True, slots=True)
class RestConfig:
    """Every timeout, backoff and lifetime of the client; tests shrink them."""

    timeout: float = 10.0  # per HTTP request (connect and each read)
    #: the whole call — rate-limit wait, every attempt, every byte of the answer — ends by
    #: then: a gateway that trickles its answer cannot hold a caller for ever
    deadline: float = 30.0
    #: the whole of one enforcing call (close, cancel): short, so a call refused or delayed
    #: (429, 5xx, no answer) comes back to the daemon, which retries the same intent with its
    #: own backoff and alerts — instead of hiding for the full ``deadline`` in transport retries
    enforcement_deadline: float = 4.0
    max_attempts: int = 5  # transport-level attempts per call, first included
    backoff_base: float = 0.5  # first retry waits up to this (full jitter), doubling
    backoff_max: float = 8.0
    hold_on_429: float = 1.0  # every thread pauses this long (times the attempt) after a 429
    #: the longest a 429's or 503's ``Retry-After`` holds the calls of its kind (seconds): a
    #: gateway asking for more is alerted and taken at this
    retry_after_max: float = 60.0
    limiter_timeout: float | None = 60.0  # how long a call may wait for a rate-limit slot
    token_lifetime: float = 24 * 3600.0  # used when the token carries no readable JWT ``exp``
    refresh_before: float = 2 * 3600.0  # validate this long before the token expires
    #: after a failed refresh the still-valid token is kept; the refresh is tried again after
    #: this long (at most half the time the token has left) ...
    refresh_retry: float = 60.0
    #: ... and ``on_auth_trouble`` is told of each failure once less than this is left
    alert_before_expiry: float = 1800.0
    order_lookback: float = 24 * 3600.0  # how far back a customTag lookup searches
    live: bool = False  # data subscription for contract searches
    #: prefix of the customTag given to an order placed without one. Neutral: the daemon tags
    #: its own orders itself (``daemon/owntags.py``), and a prefix never makes an order its own.
    auto_tag_prefix: str = "px-"


def envelope_order_id(envelope: Mapping[str, Any]) -> int | None:
    """An answer's ``orderId``, read like every id of a payload (``2934939764``, ``"…"``,
    ``2934939764.0``); None when absent or unreadable."""
    value = envelope.get("orderId")
    if value is None:
        return None
    try:
        return to_int(value, "orderId")
    except WireFormatError:
        return None


def _session_for(base_url: str) -> requests.Session:
    """A session whose environment (proxies, CA bundle) is read once, here.

    ``requests`` otherwise re-reads the environment on every call — proxy variables, the
    proxy bypass list and ``~/.netrc`` (a file read) — which measured about 0.2 ms of a
    0.8 ms loopback call on the enforcement path. The gateway's address does not change,
    so what the environment says about it cannot change either while the daemon runs."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


class RestSession:
    """Authenticated, rate-limited, retrying exchange with the gateway's REST API (thread
    safe): what every typed call of :class:`~simple_risk.adapters.topstepx.rest.RestClient`
    goes through."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        config: RestConfig | None = None,
        limiter: RateLimiter | None = None,
        clock: ReceiveClock | None = None,
        symbols: SymbolSpec = DEFAULT_SYMBOLS,
        session: requests.Session | None = None,
        recorder: RestRecorder | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_auth_trouble: Callable[[str], None] | None = None,
        on_gateway_trouble: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._on_auth_trouble = on_auth_trouble
        #: told when the gateway asks for more than the client grants it (a Retry-After
        #: past ``retry_after_max``)
        self._on_gateway_trouble = on_gateway_trouble
        self._next_refresh = 0.0  # monotonic: no refresh attempt before (after a failure)
        self.credentials = credentials
        self.config = config or RestConfig()
        self.limiter = limiter or RateLimiter()
        self.clock = clock or ReceiveClock()
        self.symbols = symbols
        self.recorder = recorder
        self._session = session or _session_for(self.base_url)
        self._session.headers.update({"Content-Type": "application/json", "Accept": "*/*"})
        #: how every POST travels, bounded by its call's deadline (see the module it is from)
        self._transport = transport_for(
            session,
            self._session,
            timeout=self.config.timeout,
            threads=HTTP_THREADS,
            monotonic=monotonic,
        )
        self._monotonic = monotonic
        self._sleep = sleep
        self._wall = wall  # seconds since the epoch: only to read a JWT without ``iat``
        self._rng = rng or random.Random()
        self._auth_lock = threading.RLock()
        self._token: str | None = None
        self._token_expires_at = 0.0  # monotonic
        self._refresh_window = self.config.refresh_before
        self.token_generation = 0  # bumped on every new token: hubs rebuild on a change
        self.retries = 0  # transport-level retries taken, for status output and tests

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"username={self.credentials.username!r}, token={'***' if self._token else None})"
        )

    # -- auth -----------------------------------------------------------------------------------

    def _set_token(self, token: str) -> None:
        register_secret(token)
        lifetime, ahead = token_lifetime(token, self._wall(), self.config.token_lifetime)
        if ahead is not None:
            log.warning(
                "the gateway sent a token that expired %.0fs before this host's clock says it "
                "arrived: this host's clock is ahead of the gateway's (check its time "
                "synchronisation); the token is taken to live %.0fs",
                ahead,
                lifetime,
            )
        self._token = token
        self._token_expires_at = self._monotonic() + lifetime
        # a gateway issuing short tokens must not make every call a validate
        self._refresh_window = min(self.config.refresh_before, lifetime / 2)
        self.token_generation += 1

    def login(self) -> None:
        """``Auth/loginKey``: a new session token (raises AuthenticationError if refused)."""
        with self._auth_lock:
            body = {"userName": self.credentials.username, "apiKey": self.credentials.api_key}
            response = self._exchange(Endpoint.LOGIN_KEY, body, Priority.AUTH, auth=False)
            token = response.get("token")
            if not isinstance(token, str) or not token:
                raise MalformedResponse("Auth/loginKey succeeded without a token")
            self._set_token(token)
            log.info("logged in to %s as %s", self.base_url, self.credentials.username)

    def validate(self) -> None:
        """``Auth/validate``: extend the session; log in again if the session is gone."""
        with self._auth_lock:
            if self._token is None:
                self.login()
                return
            try:
                response = self._exchange(Endpoint.VALIDATE, {}, Priority.AUTH, auth=True)
            except (ApiError, TransportError) as error:
                if isinstance(error, TransportError) and error.outcome is Outcome.RETRY:
                    raise
                log.info("session could not be validated (%s); logging in again", error)
                self.login()
                return
            token = response.get("newToken") or response.get("token")
            if not isinstance(token, str) or not token:
                # the session was not extended: a new one is (raising instead left every
                # call after the token's expiry failing, for good)
                log.info("Auth/validate succeeded without a newToken; logging in again")
                self.login()
                return
            self._set_token(token)
            log.info("session token refreshed")

    def token(self, *, refresh: bool = True) -> str:
        """A token valid for a while yet: refreshed ``refresh_before`` (at most half its
        lifetime) before it expires. ``refresh=False`` (an enforcing call): a token that is
        still valid is used as it is, the refresh left to the next call that may wait for it.

        While the current token is still valid a refresh never holds a call up: a call made
        while another thread refreshes uses the current token, and a refresh that fails keeps
        it (retried after ``refresh_retry``; ``on_auth_trouble`` is told of a failure when the
        token has less than ``alert_before_expiry`` left). Only an expired token makes calls wait.
        """
        token = self._token
        left = self.token_expires_in()
        if token is not None and left > self._refresh_window:
            return token
        if token is not None and left > 0:
            if (
                not refresh
                or self._monotonic() < self._next_refresh
                or not self._auth_lock.acquire(False)
            ):
                return token
            try:
                self._refresh_keeping(token)
            finally:
                self._auth_lock.release()
            return self._token or token
        with self._auth_lock:
            if self._token is None:
                self.login()
            elif self.token_expires_in() <= 0:
                self.validate()
            assert self._token is not None
            return self._token

    def _refresh_keeping(self, token: str) -> None:
        """Refresh the still-valid ``token`` (auth lock held); on failure keep it."""
        if self._token is not token:
            return  # another thread refreshed it meanwhile
        try:
            self.validate()
        except ProjectXError as error:
            left = self.token_expires_in()
            self._next_refresh = self._monotonic() + min(self.config.refresh_retry, left / 2)
            log.warning(
                "session refresh failed (%s); the current token is valid %.0fs more", error, left
            )
            if left <= self.config.alert_before_expiry and self._on_auth_trouble is not None:
                self._on_auth_trouble(
                    f"the gateway session cannot be refreshed ({error}); it expires in {left:.0f}s"
                )
            if left <= 0:
                raise
        else:
            self._next_refresh = 0.0

    def token_expires_in(self) -> float:
        """Seconds until the current token expires (0 without a token)."""
        if self._token is None:
            return 0.0
        return max(self._token_expires_at - self._monotonic(), 0.0)

    def logout(self) -> None:
        with self._auth_lock:
            if self._token is not None:
                self._exchange(Endpoint.LOGOUT, {}, Priority.AUTH, auth=True)
                self._token = None

    # -- the exchange -----------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _exchange(
        self,
        endpoint: Endpoint,
        body: Mapping[str, object],
        priority: Priority,
        *,
        auth: bool = True,
        on_retry: Callable[[], dict[str, Any] | None] | None = None,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        """The success envelope of :meth:`_request`."""
        return self._request(
            endpoint,
            body,
            priority,
            auth=auth,
            on_retry=on_retry,
            deadline=deadline,
            on_wire=on_wire,
        )[0]

    def _request(
        self,
        endpoint: Endpoint,
        body: Mapping[str, object],
        priority: Priority,
        *,
        auth: bool = True,
        on_retry: Callable[[], dict[str, Any] | None] | None = None,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> tuple[dict[str, Any], datetime]:
        """POST ``body`` to ``endpoint``; return the envelope of a ``success: true`` answer.

        ``on_retry`` runs before each retry of a request that may have reached the server; if
        it returns an envelope, that is the answer (used to make ``Order/place`` idempotent).
        Also returns the receive stamp, which is the ``at`` of events built from the answer and
        of its recording, so a replay reproduces them exactly. ``deadline`` (seconds) replaces
        the configured total deadline of this one call. ``on_wire``: this very request, already
        sent by :meth:`presend` (its deadline runs from then): its answer is the first attempt.
        """
        url = f"{self.base_url}/api/{endpoint.value}"
        payload = dumps_exact(dict(body))
        attempt = 0
        reauthorized = False
        refused: int | None = None  # the HTTP status of the last refused attempt
        total = self.config.deadline if deadline is None else deadline
        deadline = self._monotonic() + total if on_wire is None else on_wire.deadline
        while True:
            attempt += 1
            if attempt > 1 and self._monotonic() >= deadline:
                raise TransportError(
                    endpoint,
                    f"no answer within the {total:g}s deadline",
                    http_status=None,
                    attempts=attempt - 1,
                )
            if attempt > 1 and on_retry is not None:
                found = on_retry()
                if found is not None:
                    return found, self.clock.now()
            sent, on_wire = on_wire, None
            if sent is None:
                headers = self._headers_for(endpoint, auth, priority)
                left = max(deadline - self._monotonic(), 0.0)
                wait = self.config.limiter_timeout
                try:
                    self.limiter.acquire(
                        bucket_for(endpoint.value),
                        priority,
                        timeout=left if wait is None else min(wait, left),
                    )
                except RateLimitTimeout as timeout:
                    if refused is None:
                        raise
                    # the slot was held back because the gateway refused the last attempt:
                    # that refusal is the cause the caller must see
                    gave_up = TransportError(
                        endpoint, "gave up", http_status=refused, attempts=attempt - 1
                    )
                    gave_up.held_for = timeout.held_for
                    raise gave_up from None
            sent_at = self.clock.now()
            try:
                if sent is not None:
                    status, content, retry_after = sent.answer()
                else:
                    status, content, retry_after = self._transport.exchange(
                        url, payload.encode(), headers, deadline
                    )
            except DeadlinePassed:
                late = OutcomeUnknown if endpoint in _SENT_ONCE else TransportError
                raise late(
                    endpoint,
                    f"the answer did not arrive within the {total:g}s deadline",
                    http_status=None,
                    attempts=attempt,
                ) from None
            except ExchangeFailed as error:
                detail = str(error)
                if endpoint in _SENT_ONCE:
                    raise OutcomeUnknown(
                        endpoint,
                        f"{detail}; not sent again: the gateway may have acted on it",
                        http_status=None,
                        attempts=attempt,
                    ) from None
                if attempt >= self.config.max_attempts or self._monotonic() >= deadline:
                    raise TransportError(
                        endpoint, detail, http_status=None, attempts=attempt
                    ) from None
                self._pause(attempt, endpoint, detail)
                continue
            if status == 401 and auth and endpoint not in _AUTH_ENDPOINTS and not reauthorized:
                reauthorized = True
                log.info("%s answered 401; refreshing the session", endpoint.value)
                self.validate()
                attempt -= 1
                continue
            asked = self._asked_wait(endpoint, retry_after) if status in (429, 503) else None
            if asked is not None:
                self.limiter.hold(asked, bucket_for(endpoint.value))
            elif status == 429:
                self.limiter.hold(self.config.hold_on_429 * attempt, bucket_for(endpoint.value))
            if status == 429 or status >= 500 or status == 408:
                refused = status
                if status != 429 and endpoint in _SENT_ONCE:
                    raise OutcomeUnknown(
                        endpoint,
                        "not sent again: the gateway may have acted on it",
                        http_status=status,
                        attempts=attempt,
                    )
                now = self._monotonic()
                if (
                    attempt >= self.config.max_attempts
                    or now >= deadline
                    or (asked is not None and now + asked > deadline)
                ):
                    refusal = TransportError(
                        endpoint,
                        "gave up" if asked is None else f"gave up: Retry-After {asked:g}s",
                        http_status=status,
                        attempts=attempt,
                    )
                    refusal.held_for = asked or 0.0
                    raise refusal
                if asked is None:
                    self._pause(attempt, endpoint, f"HTTP {status}")
                else:  # the limiter's hold is the pause: the retry's slot comes when it ends
                    self.retries += 1
                    log.warning(
                        "%s: HTTP %d, Retry-After %gs; retry %d then",
                        endpoint.value,
                        status,
                        asked,
                        attempt,
                    )
                continue
            if status >= 400:
                if status == 401:
                    raise AuthenticationError(endpoint, 1, "HTTP 401", http_status=401)
                text = content[:200].decode("utf-8", errors="replace")
                raise TransportError(
                    endpoint, redact_text(text), http_status=status, attempts=attempt
                )
            try:
                envelope = loads_exact(content)
            except ValueError:
                envelope = None
                unreadable = "response is not JSON"
            else:
                unreadable = "response is not the ProjectX envelope"
            if not isinstance(envelope, dict) or not isinstance(envelope.get("success"), bool):
                if endpoint in _SENT_ONCE:  # it reached the gateway, which may have acted
                    raise OutcomeUnknown(
                        endpoint,
                        f"HTTP {status}, {unreadable}; not sent again: the gateway may have "
                        "acted on it",
                        http_status=None,
                        attempts=attempt,
                    )
                retry_possible = attempt < self.config.max_attempts and self._monotonic() < deadline
                if on_retry is not None and retry_possible:
                    # it reached the gateway, which may have acted (a cut answer says it did):
                    # the retry first asks whether it did (an Order/place, by its tag)
                    self._pause(attempt, endpoint, f"HTTP {status}, {unreadable}")
                    continue
                raise MalformedResponse(f"{endpoint.value}: {unreadable}")
            received_at = self.clock.now()
            if self.recorder is not None and endpoint not in _AUTH_ENDPOINTS:
                self.recorder.record_rest(received_at, endpoint.value, body, envelope, sent=sent_at)
            if not envelope["success"]:
                code = error_code_from_wire(endpoint, envelope.get("errorCode"))
                message = envelope.get("errorMessage")
                message = message if isinstance(message, str) else None
                error_type = AuthenticationError if endpoint in _AUTH_ENDPOINTS else ApiError
                raise error_type(
                    endpoint,
                    code,
                    message,
                    http_status=status,
                    order_id=envelope_order_id(envelope),
                )
            return envelope, received_at

    def _headers_for(self, endpoint: Endpoint, auth: bool, priority: Priority) -> dict[str, str]:
        """The request's authorization (a refresh, a login, when the token needs one). An
        enforcing call never refreshes a token that is still valid: a slow ``Auth/validate``
        would hold the close or the cancel for as long."""
        if not auth:
            return {}
        if endpoint in _AUTH_ENDPOINTS:
            token = self._token
        else:
            token = self.token(refresh=priority is not Priority.ENFORCEMENT)
        if token is None:
            raise AuthenticationError(endpoint, 1, "no session token")
        return {"Authorization": f"Bearer {token}"}

    def presend(
        self, request: RestRequest, priority: Priority, *, deadline: float | None = None
    ) -> Sent | None:
        """Put ``request`` on the wire now, on the caller's thread, when that costs no wait:
        the session token is good without a refresh, the rate limiter grants a slot at once
        and a kept-alive connection is idle (:meth:`DirectTransport.send`). None otherwise
        (nothing sent, no slot used unless the send itself failed).

        The daemon's engine thread calls it for the first call of an enforcing intent whose
        lane is idle, and hands the result to :meth:`RestClient.execute` on the lane
        (``on_wire``): the request leaves without waiting for the lane's thread to wake.
        ``Order/place`` is never sent this way (its retries look the order up by tag first:
        :meth:`RestClient._place`)."""
        transport = self._transport
        endpoint = request.endpoint
        token = self._token
        if (
            not isinstance(transport, DirectTransport)
            or endpoint is Endpoint.ORDER_PLACE
            or token is None
            or self.token_expires_in() <= self._refresh_window
        ):
            return None

        bucket = bucket_for(endpoint.value)
        granted = False

        def permit() -> bool:
            nonlocal granted
            try:
                self.limiter.acquire(bucket, priority, timeout=0.0, ledger=False)
            except RateLimitTimeout:
                return False
            granted = True
            return True

        total = self.config.deadline if deadline is None else deadline
        sent = transport.send(
            f"{self.base_url}/api/{endpoint.value}",
            dumps_exact(dict(request.body)).encode(),
            {"Authorization": f"Bearer {token}"},
            self._monotonic() + total,
            permit,
        )
        if granted:
            self.limiter.note(bucket)  # the ledger's write waits until the request is out
        return sent

    def _asked_wait(self, endpoint: Endpoint, retry_after: str | None) -> float | None:
        """How long a 429's or 503's ``Retry-After`` holds the calls of its kind (seconds),
        at most ``retry_after_max`` (a longer demand is told to ``on_gateway_trouble``); None
        without a readable header (the backoff then decides)."""
        asked = retry_after_seconds(retry_after, self._wall())
        if not asked:  # none, or "now" (a date just past): the backoff still paces retries
            return None
        cap = self.config.retry_after_max
        if asked > cap:
            message = (
                f"the gateway asked the daemon to wait {asked:.0f}s before its next "
                f"{endpoint.value} call (Retry-After); it waits {cap:g}s, then tries again"
            )
            log.warning("%s", message)
            if self._on_gateway_trouble is not None:
                self._on_gateway_trouble(message)
            return cap
        return asked

    def _pause(self, attempt: int, endpoint: Endpoint, reason: str) -> None:
        delay = self._backoff(attempt)
        self.retries += 1
        log.warning("%s: %s; retry %d in %.2fs", endpoint.value, reason, attempt, delay)
        self._sleep(delay)

    def close(self) -> None:
        """Release the HTTP session (a request still waiting for a gateway is abandoned)."""
        self._transport.close()
        self._session.close()


__all__ = [
    "HTTP_THREADS",
    "TOPSTEPX_API",
    "Credentials",
    "RestConfig",
    "RestRecorder",
    "RestSession",
    "retry_after_seconds",
]
