"""ProjectX errorCodes per endpoint, what each means for a caller, and the typed errors.

The same integer means different things on different endpoints (reference §3.2): 2 is
``PositionNotFound`` on a close — the target state "flat" is already met — but
``OrderRejected`` on a place. The executor therefore never looks at a bare number; it asks
:func:`classify` with the endpoint, and gets one of three outcomes (docs/architecture.md §3):

* ``DONE`` — the call achieved its target (or the target was already met);
* ``RETRY`` — transient: try again later within the rate limit (pending orders, unknown server
  errors, HTTP 429/5xx and connection failures);
* ``GIVE_UP`` — retrying cannot help (account rejected, contract not active …): alert a human.

Unknown codes (a newer gateway) are ``GIVE_UP``: blindly retrying an unknown business refusal
would hammer the gateway, and an alert brings a human in.
"""

from __future__ import annotations

import enum

from simple_risk.adapters.topstepx.wirefields import WireFormatError, to_int


class Outcome(enum.Enum):
    """What a caller should do with a response."""

    DONE = "done"
    RETRY = "retry"
    GIVE_UP = "give_up"


class Endpoint(enum.StrEnum):
    """Every REST endpoint the adapter calls; the value is the path after ``/api/``."""

    LOGIN_KEY = "Auth/loginKey"
    VALIDATE = "Auth/validate"
    LOGOUT = "Auth/logout"
    ACCOUNT_SEARCH = "Account/search"
    CONTRACT_SEARCH = "Contract/search"
    CONTRACT_SEARCH_BY_ID = "Contract/searchById"
    CONTRACT_AVAILABLE = "Contract/available"
    RETRIEVE_BARS = "History/retrieveBars"
    ORDER_SEARCH = "Order/search"
    ORDER_SEARCH_OPEN = "Order/searchOpen"
    ORDER_SEARCH_BY_ID = "Order/searchById"
    ORDER_PLACE = "Order/place"
    ORDER_CANCEL = "Order/cancel"
    ORDER_MODIFY = "Order/modify"
    POSITION_SEARCH_OPEN = "Position/searchOpen"
    POSITION_CLOSE = "Position/closeContract"
    POSITION_PARTIAL_CLOSE = "Position/partialCloseContract"
    TRADE_SEARCH = "Trade/search"


class LoginErrorCode(enum.IntEnum):
    SUCCESS = 0
    USER_NOT_FOUND = 1
    PASSWORD_VERIFICATION_FAILED = 2
    INVALID_CREDENTIALS = 3
    APP_NOT_FOUND = 4
    APP_VERIFICATION_FAILED = 5
    INVALID_DEVICE = 6
    AGREEMENTS_NOT_SIGNED = 7
    UNKNOWN_ERROR = 8
    API_SUBSCRIPTION_NOT_FOUND = 9
    API_KEY_AUTHENTICATION_DISABLED = 10


class ValidateErrorCode(enum.IntEnum):
    SUCCESS = 0
    INVALID_SESSION = 1
    SESSION_NOT_FOUND = 2
    EXPIRED_TOKEN = 3
    UNKNOWN_ERROR = 4


class LogoutErrorCode(enum.IntEnum):
    SUCCESS = 0
    INVALID_SESSION = 1
    UNKNOWN_ERROR = 2


class SuccessOnlyErrorCode(enum.IntEnum):
    """Account/search, Contract/search and Contract/available only ever report success."""

    SUCCESS = 0


class SearchContractByIdErrorCode(enum.IntEnum):
    SUCCESS = 0
    CONTRACT_NOT_FOUND = 1


class RetrieveBarErrorCode(enum.IntEnum):
    SUCCESS = 0
    CONTRACT_NOT_FOUND = 1
    UNIT_INVALID = 2
    UNIT_NUMBER_INVALID = 3
    LIMIT_INVALID = 4


class AccountSearchErrorCode(enum.IntEnum):
    """Order/search, Order/searchOpen, Position/searchOpen and Trade/search."""

    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1


class SearchOrderByIdErrorCode(enum.IntEnum):
    SUCCESS = 0
    ORDER_NOT_FOUND = 1


class PlaceOrderErrorCode(enum.IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_REJECTED = 2
    INSUFFICIENT_FUNDS = 3
    ACCOUNT_VIOLATION = 4
    OUTSIDE_TRADING_HOURS = 5
    ORDER_PENDING = 6
    UNKNOWN_ERROR = 7
    CONTRACT_NOT_FOUND = 8
    CONTRACT_NOT_ACTIVE = 9
    ACCOUNT_REJECTED = 10


class CancelOrderErrorCode(enum.IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_NOT_FOUND = 2
    REJECTED = 3
    PENDING = 4
    UNKNOWN_ERROR = 5
    ACCOUNT_REJECTED = 6


class ModifyOrderErrorCode(enum.IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_NOT_FOUND = 2
    REJECTED = 3
    PENDING = 4
    UNKNOWN_ERROR = 5
    ACCOUNT_REJECTED = 6
    CONTRACT_NOT_FOUND = 7


class ClosePositionErrorCode(enum.IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    POSITION_NOT_FOUND = 2
    CONTRACT_NOT_FOUND = 3
    CONTRACT_NOT_ACTIVE = 4
    ORDER_REJECTED = 5
    ORDER_PENDING = 6
    UNKNOWN_ERROR = 7
    ACCOUNT_REJECTED = 8


class PartialClosePositionErrorCode(enum.IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    POSITION_NOT_FOUND = 2
    CONTRACT_NOT_FOUND = 3
    CONTRACT_NOT_ACTIVE = 4
    INVALID_CLOSE_SIZE = 5
    ORDER_REJECTED = 6
    ORDER_PENDING = 7
    UNKNOWN_ERROR = 8
    ACCOUNT_REJECTED = 9


_D, _R, _G = Outcome.DONE, Outcome.RETRY, Outcome.GIVE_UP

#: endpoint -> (its errorCode enum, code -> outcome). Every code of every enum is listed, so a
#: test can prove the table total.
ERROR_TABLE: dict[Endpoint, tuple[type[enum.IntEnum], dict[int, Outcome]]] = {
    Endpoint.LOGIN_KEY: (
        LoginErrorCode,
        # Only UnknownError is transient; every other refusal is about the credentials or the
        # subscription and needs a human.
        {0: _D, 1: _G, 2: _G, 3: _G, 4: _G, 5: _G, 6: _G, 7: _G, 8: _R, 9: _G, 10: _G},
    ),
    Endpoint.VALIDATE: (
        ValidateErrorCode,
        # A dead session cannot be validated; the client logs in again instead.
        {0: _D, 1: _G, 2: _G, 3: _G, 4: _R},
    ),
    Endpoint.LOGOUT: (LogoutErrorCode, {0: _D, 1: _D, 2: _R}),
    Endpoint.ACCOUNT_SEARCH: (SuccessOnlyErrorCode, {0: _D}),
    Endpoint.CONTRACT_SEARCH: (SuccessOnlyErrorCode, {0: _D}),
    Endpoint.CONTRACT_AVAILABLE: (SuccessOnlyErrorCode, {0: _D}),
    Endpoint.CONTRACT_SEARCH_BY_ID: (SearchContractByIdErrorCode, {0: _D, 1: _G}),
    Endpoint.RETRIEVE_BARS: (RetrieveBarErrorCode, {0: _D, 1: _G, 2: _G, 3: _G, 4: _G}),
    Endpoint.ORDER_SEARCH: (AccountSearchErrorCode, {0: _D, 1: _G}),
    Endpoint.ORDER_SEARCH_OPEN: (AccountSearchErrorCode, {0: _D, 1: _G}),
    Endpoint.POSITION_SEARCH_OPEN: (AccountSearchErrorCode, {0: _D, 1: _G}),
    Endpoint.TRADE_SEARCH: (AccountSearchErrorCode, {0: _D, 1: _G}),
    Endpoint.ORDER_SEARCH_BY_ID: (SearchOrderByIdErrorCode, {0: _D, 1: _G}),
    Endpoint.ORDER_PLACE: (
        PlaceOrderErrorCode,
        # OrderPending: the account has an order in flight — try again. A rejection is final
        # for this request (the executor re-plans from reconciled state).
        {0: _D, 1: _G, 2: _G, 3: _G, 4: _G, 5: _G, 6: _R, 7: _R, 8: _G, 9: _G, 10: _G},
    ),
    Endpoint.ORDER_CANCEL: (
        CancelOrderErrorCode,
        # OrderNotFound: the order is gone (filled or cancelled) — "no working order" is met.
        {0: _D, 1: _G, 2: _D, 3: _G, 4: _R, 5: _R, 6: _G},
    ),
    Endpoint.ORDER_MODIFY: (
        ModifyOrderErrorCode,
        # OrderNotFound on a modify is not "done": the stop we wanted to move does not exist,
        # so the caller must re-plan (place a new one) rather than believe it moved.
        {0: _D, 1: _G, 2: _G, 3: _G, 4: _R, 5: _R, 6: _G, 7: _G},
    ),
    Endpoint.POSITION_CLOSE: (
        ClosePositionErrorCode,
        # PositionNotFound: already flat — the target state is met.
        {0: _D, 1: _G, 2: _D, 3: _G, 4: _G, 5: _G, 6: _R, 7: _R, 8: _G},
    ),
    Endpoint.POSITION_PARTIAL_CLOSE: (
        PartialClosePositionErrorCode,
        {0: _D, 1: _G, 2: _D, 3: _G, 4: _G, 5: _G, 6: _G, 7: _R, 8: _R, 9: _G},
    ),
}


def _endpoint(endpoint: Endpoint | str) -> Endpoint | None:
    try:
        return Endpoint(endpoint)
    except ValueError:
        lowered = str(endpoint).strip("/").removeprefix("api/").lower()
        for candidate in Endpoint:
            if candidate.value.lower() == lowered:
                return candidate
        return None


def classify(endpoint: Endpoint | str, error_code: int) -> Outcome:
    """What to do after ``endpoint`` answered ``errorCode == error_code`` (see module doc)."""
    known = _endpoint(endpoint)
    if known is None:
        return Outcome.DONE if error_code == 0 else Outcome.GIVE_UP
    return ERROR_TABLE[known][1].get(error_code, Outcome.GIVE_UP)


def classify_http(status: int) -> Outcome:
    """Outcome of a transport-level HTTP status (the body carried no usable errorCode)."""
    if status == 429 or status >= 500 or status == 408:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.DONE
    return Outcome.GIVE_UP


def error_code_from_wire(endpoint: Endpoint | str, value: object) -> int:
    """A ``success: false`` answer's errorCode as a number, read like every number of a
    payload (``2``, ``2.0``, ``"2"``) or by the endpoint's Swagger name in any case
    (``"PositionNotFound"``); -1 when absent or unreadable (no code: no meaning)."""
    try:
        return to_int(value, "errorCode")
    except WireFormatError:
        pass
    known = _endpoint(endpoint)
    if known is None or not isinstance(value, str):
        return -1
    name = value.strip().lower()
    for member in ERROR_TABLE[known][0]:
        if member.name.replace("_", "").lower() == name:
            return int(member)
    return -1


def code_name(endpoint: Endpoint | str, error_code: int) -> str:
    """The errorCode's name on that endpoint (``PositionNotFound``), or ``code N``."""
    known = _endpoint(endpoint)
    if known is not None:
        enum_type = ERROR_TABLE[known][0]
        try:
            member = enum_type(error_code)
        except ValueError:
            return f"code {error_code}"
        return "".join(part.capitalize() for part in member.name.split("_"))
    return f"code {error_code}"


class ProjectXError(Exception):
    """Base of every error the TopstepX adapter raises."""

    outcome: Outcome = Outcome.GIVE_UP
    #: seconds the gateway still asks to be left alone (its ``Retry-After``) when the call
    #: failed for that: a retry before then is refused, one later is late (0: not known)
    held_for: float = 0.0


class ApiError(ProjectXError):
    """The gateway answered ``success: false``: a business refusal with its meaning."""

    def __init__(
        self,
        endpoint: Endpoint | str,
        error_code: int,
        message: str | None,
        *,
        http_status: int = 200,
        order_id: int | None = None,
    ) -> None:
        self.endpoint = str(endpoint)
        self.error_code = error_code
        self.code_name = code_name(endpoint, error_code)
        self.error_message = message
        self.http_status = http_status
        self.order_id = order_id
        # a failure naming code 0 (Success) says no more than one without a code: never DONE
        self.outcome = classify(endpoint, error_code) if error_code != 0 else Outcome.GIVE_UP
        detail = f": {message}" if message else ""
        super().__init__(
            f"{self.endpoint} failed with errorCode {error_code} ({self.code_name}){detail}"
            f" -> {self.outcome.value}"
        )


class AuthenticationError(ApiError):
    """Login or validation was refused; the credentials or the session are not usable."""


class TransportError(ProjectXError):
    """No usable answer: connection failure, timeout, HTTP 429/5xx or 4xx, after retries."""

    def __init__(
        self, endpoint: Endpoint | str, detail: str, *, http_status: int | None, attempts: int
    ) -> None:
        self.endpoint = str(endpoint)
        self.http_status = http_status
        self.attempts = attempts
        self.outcome = Outcome.RETRY if http_status is None else classify_http(http_status)
        status = f"HTTP {http_status}" if http_status is not None else "no response"
        super().__init__(f"{self.endpoint}: {status} after {attempts} attempt(s): {detail}")


class OutcomeUnknown(TransportError):
    """A request that may have reached the gateway and acted, with no answer to say so (its
    connection ended after it was sent, a 5xx, the deadline passed while waiting): a change by
    an amount (a partial close) is then never sent again blindly — the caller learns what
    happened from REST first, or it would reduce twice."""


class RateLimitTimeout(ProjectXError):
    """The limiter could not grant a slot within the caller's deadline."""

    outcome = Outcome.RETRY


class MalformedResponse(ProjectXError):
    """The gateway answered something that is not the documented envelope."""

    outcome = Outcome.RETRY


__all__ = [
    "ERROR_TABLE",
    "AccountSearchErrorCode",
    "ApiError",
    "AuthenticationError",
    "CancelOrderErrorCode",
    "ClosePositionErrorCode",
    "Endpoint",
    "LoginErrorCode",
    "LogoutErrorCode",
    "MalformedResponse",
    "ModifyOrderErrorCode",
    "Outcome",
    "OutcomeUnknown",
    "PartialClosePositionErrorCode",
    "PlaceOrderErrorCode",
    "ProjectXError",
    "RateLimitTimeout",
    "RetrieveBarErrorCode",
    "SearchContractByIdErrorCode",
    "SearchOrderByIdErrorCode",
    "SuccessOnlyErrorCode",
    "TransportError",
    "ValidateErrorCode",
    "classify",
    "classify_http",
    "code_name",
]
