"""How an enforcing REST call is named and judged: one line for the log and the replay, the
words the trader's views use, and whether a gateway's refusal means the target was already met.

Shared by the executor (which classifies each answer), the announcer, ``monitor``, the demo
console and the what-if replay, so every view says a call and its outcome the same way.
"""

from __future__ import annotations

from simple_risk.adapters.topstepx.errors import ApiError, Endpoint, Outcome
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.engine.dsl.catalogue import ticker_of


def describe_call(request: RestRequest) -> str:
    """``Position/closeContract CON.F.US.MNQ.Z26`` — one line for the log and the replay."""
    body = request.body
    target = body.get("contractId") or body.get("orderId") or ""
    size = f" size {body['size']}" if "size" in body else ""
    return f"{request.endpoint.value} {target}{size}".rstrip()


def call_text(request: RestRequest) -> str:
    """``Position/closeContract ES Z26``, ``Order/cancel 9001`` — a call as the trader's views
    show it (the demo console, ``monitor``, a result's text): the ticker traders know, never
    ProjectX's root (the journaled request keeps the contract id)."""
    body = request.body
    contract = body.get("contractId")
    if isinstance(contract, str) and contract:
        parts = contract.split(".")
        month = f" {parts[4]}" if len(parts) == 5 else ""
        target = f"{ticker_of(contract)}{month}"
    else:
        target = str(body.get("orderId") or "")
    size = f" size {body['size']}" if "size" in body else ""
    return f"{request.endpoint.value} {target}{size}".rstrip()


#: what the gateway says when a cancel meets an order that already filled or was cancelled
#: (a ``Rejected`` errorCode, so only the message tells it from a real refusal)
ORDER_NOT_OPEN = "order is not open"


def refusal_outcome(request: RestRequest, error: ApiError) -> str:
    """``already``, ``retry`` or ``gave_up`` for a call the gateway answered with an error.

    ``already``: the target was met before the call — a close of a flat position, a cancel
    of an order the gateway no longer knows, and a cancel the gateway refuses because the
    order "is not open" (it filled or was cancelled meanwhile): an order that is gone is
    exactly what a cancel wants, so this is a success, not a refusal to alert about. So is
    a resize (a modify of the size alone) of an order that is not open: an order no longer
    working cannot be too big. A modify that moves a price is not: the stop it wanted to
    move is missing, and the engine must re-plan."""
    if error.outcome is Outcome.DONE:
        return "already"
    if ORDER_NOT_OPEN in (error.error_message or "").lower() and (
        request.endpoint is Endpoint.ORDER_CANCEL
        or (request.endpoint is Endpoint.ORDER_MODIFY and _resize_only(request))
    ):
        return "already"
    return "retry" if error.outcome is Outcome.RETRY else "gave_up"


def _resize_only(request: RestRequest) -> bool:
    return "size" in request.body and not {"limitPrice", "stopPrice", "trailPrice"} & set(
        key for key, value in request.body.items() if value is not None
    )


#: a call's outcome as every view says it (monitor, history, the demo console)
_CALL_WORDS = {
    "ok": "done",
    "already": "already gone",
    "retry": "will retry",
    "unsure": "no answer, checking",
    "gave_up": "refused",
}
#: outcomes that count as a success
CALL_SUCCEEDED = frozenset({"ok", "already"})


def call_words(outcome: str) -> str:
    """``already`` → ``already gone``, ``gave_up: <error>`` → ``refused: <error>`` …"""
    head, sep, rest = outcome.partition(": ")
    return f"{_CALL_WORDS.get(head, head)}{sep}{rest}"


def call_succeeded(outcome: str) -> bool:
    """Whether a call outcome (as ``on_call`` reports it) met its target."""
    return outcome.partition(": ")[0] in CALL_SUCCEEDED


__all__ = [
    "CALL_SUCCEEDED",
    "ORDER_NOT_OPEN",
    "call_succeeded",
    "call_text",
    "call_words",
    "describe_call",
    "refusal_outcome",
]
