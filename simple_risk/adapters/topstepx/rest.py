"""REST client for the ProjectX Gateway (TopstepX or ``simple-risk sim``): its typed calls.

Each call builds an endpoint's request and turns its answer into typed domain events; how a
call travels (auth, rate limit, retries, errors, secrets) is the session's job
(:mod:`.session`), which :class:`RestClient` extends. What the calls add (reference §1–§4):

* **Idempotent placing** — ``Order/place`` is not idempotent: it always carries a
  ``customTag`` (generated if the caller gave none) and, before any retry or on a
  duplicate-tag rejection, the order is looked up by that tag — a place that reached the
  gateway is never sent twice.
* **Lenient searches** — a reconciliation search given ``on_malformed`` skips and reports an
  unreadable record instead of failing the whole answer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from simple_risk.adapters.topstepx.converters import (
    account_from_wire,
    accounts_from_rest,
    bracket_children_last,
    contracts_from_rest,
    order_from_wire,
    orders_from_rest,
    position_from_wire,
    positions_from_rest,
    trade_from_wire,
    trades_from_rest,
)
from simple_risk.adapters.topstepx.errors import (
    ApiError,
    Endpoint,
    MalformedResponse,
    PlaceOrderErrorCode,
    SearchContractByIdErrorCode,
)
from simple_risk.adapters.topstepx.outgoing import (
    RestRequest,
    cancel_order_request,
    close_position_request,
    modify_stop_request,
    partial_close_request,
    place_order_request,
)
from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.secrets import install_log_filter, redact_text
from simple_risk.adapters.topstepx.session import (
    HTTP_THREADS,
    TOPSTEPX_API,
    Credentials,
    RestConfig,
    RestRecorder,
    RestSession,
    envelope_order_id,
)
from simple_risk.adapters.topstepx.transport import Sent
from simple_risk.adapters.topstepx.wirefields import WireFormatError, to_decimal
from simple_risk.engine.events import (
    AccountUpdate,
    ContractInfo,
    OrderSide,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    TradeFill,
)

log = logging.getLogger(__name__)
install_log_filter(__name__, "SignalRCoreClient")


@dataclass(frozen=True, slots=True)
class Bar:
    """One ``History/retrieveBars`` bar (exact prices)."""

    t: datetime
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the wire name
    c: Decimal
    v: int


#: Told of each record a lenient search skipped: (what, why) — e.g. ("order", "size: ...").
OnMalformed = Callable[[str, str], None]

_R = TypeVar("_R")


def _records(
    body: Mapping[str, Any],
    key: str,
    convert: Callable[[object, datetime], _R],
    at: datetime,
    strict: Callable[[object, datetime], list[_R]],
    on_malformed: OnMalformed | None,
) -> list[_R]:
    """The records of a search answer. Strict (``on_malformed`` None): one malformed record
    fails the whole answer with :class:`MalformedResponse`. Lenient: each malformed record is
    skipped and reported, so one bad record never hides the good ones."""
    if on_malformed is None:
        try:
            return strict(body, at)
        except WireFormatError as error:
            raise MalformedResponse(f"{key}: {error}") from None
    items = body.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise MalformedResponse(f"{key}: expected a list")
    kept: list[_R] = []
    for item in items:
        try:
            kept.append(convert(item, at))
        except (WireFormatError, ValueError, TypeError, ArithmeticError) as error:
            on_malformed(key.rstrip("s"), redact_text(str(error)))
    return kept


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps sent to the gateway must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


def _time_range(account_id: int, since: datetime, until: datetime | None) -> dict[str, object]:
    """The body of ``Order/search`` and ``Trade/search``: an account and a time range."""
    request: dict[str, object] = {"accountId": account_id, "startTimestamp": _iso(since)}
    if until is not None:
        request["endTimestamp"] = _iso(until)
    return request


class RestClient(RestSession):
    """Typed, rate-limited, retrying client of the gateway's REST API (thread safe).

    :meth:`execute` is here rather than on the session because its ``Order/place`` branch
    needs :meth:`_place` (the customTag lookup); every other request goes straight to the
    session's exchange."""

    def execute(
        self,
        request: RestRequest,
        priority: Priority = Priority.ENFORCEMENT,
        *,
        deadline: float | None = None,
        on_wire: Sent | None = None,
    ) -> dict[str, Any]:
        """Send a request built by :mod:`.outgoing`; returns the success envelope.

        ``Order/place`` requests go through :meth:`place_order` semantics (customTag lookup).
        ``deadline`` (seconds) bounds the whole call instead of the configured one.
        ``on_wire``: the request as :meth:`presend` already sent it; only its answer is read.
        """
        if request.endpoint is Endpoint.ORDER_PLACE:
            order_id = self._place(dict(request.body), priority, deadline)
            return {"success": True, "errorCode": 0, "errorMessage": None, "orderId": order_id}
        return self._exchange(
            request.endpoint, request.body, priority, deadline=deadline, on_wire=on_wire
        )

    # -- accounts and contracts -----------------------------------------------------------------

    def search_accounts(
        self,
        only_active: bool = True,
        priority: Priority = Priority.RECONCILIATION,
        on_malformed: OnMalformed | None = None,
    ) -> list[AccountUpdate]:
        """``Account/search``. The answer lists every account of the login, guarded or not: with
        ``on_malformed``, one unreadable account is reported and skipped, never the others."""
        body, at = self._request(
            Endpoint.ACCOUNT_SEARCH, {"onlyActiveAccounts": only_active}, priority
        )
        return _records(body, "accounts", account_from_wire, at, accounts_from_rest, on_malformed)

    def search_contracts(
        self, text: str, live: bool | None = None, priority: Priority = Priority.BACKGROUND
    ) -> list[ContractInfo]:
        live_flag = self.config.live if live is None else live
        body = self._exchange(
            Endpoint.CONTRACT_SEARCH, {"searchText": text, "live": live_flag}, priority
        )
        return self._contracts(body)

    def contract_by_id(
        self, contract_id: str, priority: Priority = Priority.BACKGROUND
    ) -> ContractInfo | None:
        """``Contract/searchById``; None when the gateway does not know the contract."""
        try:
            body = self._exchange(
                Endpoint.CONTRACT_SEARCH_BY_ID, {"contractId": contract_id}, priority
            )
        except ApiError as error:
            if error.error_code == SearchContractByIdErrorCode.CONTRACT_NOT_FOUND:
                return None
            raise
        if body.get("contract") is None and not isinstance(body.get("contracts"), list):
            # only ContractNotFound says the gateway does not know it: an answer without its
            # contract says nothing, a failed call (the contract is asked for again later)
            raise MalformedResponse(f"{Endpoint.CONTRACT_SEARCH_BY_ID.value}: no contract")
        contracts = self._contracts(body)
        return contracts[0] if contracts else None

    def available_contracts(
        self, live: bool | None = None, priority: Priority = Priority.BACKGROUND
    ) -> list[ContractInfo]:
        live_flag = self.config.live if live is None else live
        body = self._exchange(Endpoint.CONTRACT_AVAILABLE, {"live": live_flag}, priority)
        return self._contracts(body)

    def _contracts(self, body: Mapping[str, Any]) -> list[ContractInfo]:
        """A contract answer read; one that cannot be read is a :class:`MalformedResponse`,
        a failure of the call like any other (the contract cache loads it later)."""
        try:
            return contracts_from_rest(body, self.symbols)
        except WireFormatError as error:
            raise MalformedResponse(f"contract: {error}") from None

    def retrieve_bars(
        self,
        contract_id: str,
        *,
        start: datetime,
        end: datetime,
        unit: int,
        unit_number: int,
        limit: int,
        include_partial_bar: bool = False,
        live: bool | None = None,
        priority: Priority = Priority.BACKGROUND,
        deadline: float | None = None,
    ) -> list[Bar]:
        """``History/retrieveBars`` (its own 50/30 s budget); newest first, as the gateway sends.
        ``deadline`` (seconds) bounds the whole call, retries and waits for a slot included,
        instead of the configured one."""
        body = self._exchange(
            Endpoint.RETRIEVE_BARS,
            {
                "contractId": contract_id,
                "live": self.config.live if live is None else live,
                "startTime": _iso(start),
                "endTime": _iso(end),
                "unit": unit,
                "unitNumber": unit_number,
                "limit": limit,
                "includePartialBar": include_partial_bar,
            },
            priority,
            deadline=deadline,
        )
        bars: list[Bar] = []
        for raw in body.get("bars") or []:
            if not isinstance(raw, dict):
                raise MalformedResponse("bars: expected objects")
            try:
                stamp = datetime.fromisoformat(str(raw["t"]))
                bars.append(
                    Bar(
                        t=stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC),
                        o=to_decimal(raw["o"]),
                        h=to_decimal(raw["h"]),
                        l=to_decimal(raw["l"]),
                        c=to_decimal(raw["c"]),
                        v=int(raw["v"]),
                    )
                )
            except (KeyError, ValueError, TypeError, WireFormatError) as error:
                raise MalformedResponse(f"bars: {error}") from None
        return bars

    # -- reconciliation -------------------------------------------------------------------------

    def open_orders(
        self,
        account_id: int,
        priority: Priority = Priority.RECONCILIATION,
        on_malformed: OnMalformed | None = None,
    ) -> list[OrderUpdate]:
        body, at = self._request(Endpoint.ORDER_SEARCH_OPEN, {"accountId": account_id}, priority)
        orders = _records(body, "orders", order_from_wire, at, orders_from_rest, on_malformed)
        return bracket_children_last(orders)

    def search_orders(
        self,
        account_id: int,
        since: datetime,
        until: datetime | None = None,
        priority: Priority = Priority.RECONCILIATION,
        on_malformed: OnMalformed | None = None,
    ) -> list[OrderUpdate]:
        request = _time_range(account_id, since, until)
        body, at = self._request(Endpoint.ORDER_SEARCH, request, priority)
        orders = _records(body, "orders", order_from_wire, at, orders_from_rest, on_malformed)
        return bracket_children_last(orders)

    def open_positions(
        self,
        account_id: int,
        priority: Priority = Priority.RECONCILIATION,
        on_malformed: OnMalformed | None = None,
    ) -> list[PositionUpdate]:
        body, at = self._request(Endpoint.POSITION_SEARCH_OPEN, {"accountId": account_id}, priority)
        return _records(
            body, "positions", position_from_wire, at, positions_from_rest, on_malformed
        )

    def search_trades(
        self,
        account_id: int,
        since: datetime,
        until: datetime | None = None,
        priority: Priority = Priority.RECONCILIATION,
        on_malformed: OnMalformed | None = None,
    ) -> list[TradeFill]:
        request = _time_range(account_id, since, until)
        body, at = self._request(Endpoint.TRADE_SEARCH, request, priority)
        return _records(body, "trades", trade_from_wire, at, trades_from_rest, on_malformed)

    # -- orders and positions -------------------------------------------------------------------

    def _find_by_tag(self, account_id: int, tag: str) -> int | None:
        since = self.clock.now() - timedelta(seconds=self.config.order_lookback)

        def unreadable(kind: str, why: str) -> None:  # some other order: not the one sought
            log.warning("Order/search: skipped an %s it could not read (%s)", kind, why)

        orders = self.search_orders(
            account_id, since, priority=Priority.ENFORCEMENT, on_malformed=unreadable
        )
        for order in orders:
            if order.custom_tag == tag:
                return order.order_id
        return None

    def _place(
        self, body: dict[str, object], priority: Priority, deadline: float | None = None
    ) -> int:
        tag = body.get("customTag")
        if not isinstance(tag, str) or not tag:
            tag = f"{self.config.auto_tag_prefix}{uuid.uuid4().hex[:16]}"
            body["customTag"] = tag
        account_id = body.get("accountId")
        if not isinstance(account_id, int):
            raise ValueError("Order/place needs an integer accountId")

        def already_placed() -> dict[str, Any] | None:
            order_id = self._find_by_tag(account_id, tag)
            if order_id is None:
                return None
            log.info("Order/place retry: order %d with tag %s already exists", order_id, tag)
            return {"success": True, "errorCode": 0, "errorMessage": None, "orderId": order_id}

        try:
            envelope = self._exchange(
                Endpoint.ORDER_PLACE, body, priority, on_retry=already_placed, deadline=deadline
            )
        except ApiError as error:
            duplicate = error.error_code == PlaceOrderErrorCode.ORDER_REJECTED and (
                "tag" in (error.error_message or "").lower()
            )
            if duplicate:
                found = self._find_by_tag(account_id, tag)
                if found is not None:
                    return found
            raise
        order_id = envelope_order_id(envelope)
        if order_id is None:
            raise MalformedResponse("Order/place succeeded without an orderId")
        return order_id

    def place_order(
        self,
        account_id: int,
        contract_id: str,
        *,
        order_type: OrderType,
        side: OrderSide,
        size: int,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        custom_tag: str | None = None,
        priority: Priority = Priority.STOP_MANAGEMENT,
    ) -> int:
        """``Order/place`` made idempotent by its customTag; returns the order id."""
        request = place_order_request(
            account_id,
            contract_id,
            order_type=order_type,
            side=side,
            size=size,
            limit_price=limit_price,
            stop_price=stop_price,
            custom_tag=custom_tag,
        )
        return self._place(dict(request.body), priority)

    def cancel_order(
        self, account_id: int, order_id: int, priority: Priority = Priority.ENFORCEMENT
    ) -> None:
        self.execute(cancel_order_request(account_id, order_id), priority)

    def modify_stop(
        self,
        account_id: int,
        order_id: int,
        *,
        stop_price: Decimal,
        size: int | None = None,
        priority: Priority = Priority.STOP_MANAGEMENT,
    ) -> None:
        self.execute(
            modify_stop_request(account_id, order_id, stop_price=stop_price, size=size), priority
        )

    def close_position(
        self, account_id: int, contract_id: str, priority: Priority = Priority.ENFORCEMENT
    ) -> None:
        self.execute(close_position_request(account_id, contract_id), priority)

    def partial_close_position(
        self,
        account_id: int,
        contract_id: str,
        size: int,
        priority: Priority = Priority.ENFORCEMENT,
    ) -> None:
        self.execute(partial_close_request(account_id, contract_id, size), priority)


__all__ = [
    "HTTP_THREADS",
    "TOPSTEPX_API",
    "Bar",
    "Credentials",
    "OnMalformed",
    "RestClient",
    "RestConfig",
    "RestRecorder",
    "RestSession",
]
