"""Hub records nobody scripted, against the simulator and a live daemon.

An order of unknown type or status still reaches the engine as a working order; an order whose
side no gateway has is skipped. Either way the daemon says so (an alert, the status counts),
and where only REST can tell what the record means, it reconciles the account at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.simulator import wire
from simple_risk.adapters.simulator.records import Order
from simple_risk.daemon.messages import ReconcileData
from simple_risk.engine.events import WORKING_STATUSES, OrderSide

from .harness import ACCOUNT, Harness, Start

ODD_SIZE = 2  # the trader's working limit order of this size is described oddly


def _describe_oddly(monkeypatch: pytest.MonkeyPatch, field: str, value: int) -> None:
    """The simulator (hub and REST alike) describes the trader's working 2-lot limit order with
    a ``field`` value no gateway has."""
    original = wire.order_model

    def order_model(order: Order) -> dict[str, object]:
        model = original(order)
        working = order.status in WORKING_STATUSES
        if order.size == ODD_SIZE and order.limit_price is not None and working:
            model[field] = value
        return model

    monkeypatch.setattr(wire, "order_model", order_model)


@pytest.fixture
def reasons(start: Start) -> Iterator[tuple[Harness, list[str]]]:
    """A live daemon whose reconciles' reasons are recorded."""
    h = start()
    fetch = h.daemon.reconciler.fetch
    seen: list[str] = []

    def recording(account: int, reason: str) -> ReconcileData:
        seen.append(reason)
        return fetch(account, reason)

    h.daemon.reconciler.fetch = recording  # type: ignore[method-assign]
    yield h, seen


def _place(h: Harness) -> int:
    below = h.trader.price("MNQ") - Decimal(200)
    return h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, ODD_SIZE, below)


def _working(h: Harness, order_id: int) -> tuple[bool, str] | None:
    """The engine's reading of the order: (working, type), or None when it holds none."""

    def read() -> tuple[bool, str] | None:
        state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
        order = state.orders.get(order_id) if state is not None else None
        return None if order is None else (order.is_working, order.type)

    return h.daemon.on_engine(read, timeout=5.0)


def _alerts(h: Harness, words: str) -> list[dict[str, Any]]:
    return [a for a in h.daemon.alerter.recent if words in a["message"]]


def test_an_order_of_unknown_status_is_held_as_working_and_the_account_reconciled(
    reasons: tuple[Harness, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, seen = reasons
    _describe_oddly(monkeypatch, "status", 99)
    order_id = _place(h)
    h.wait(lambda: "doubted GatewayUserOrder" in seen, "the reconcile the doubt asked for")
    h.wait(lambda: _working(h, order_id) == (True, "limit"), "the order held as working")
    (alert,) = _alerts(h, "unknown order.status 99")
    assert alert["level"] == "warning" and "reconciling from REST" in alert["message"]
    assert h.daemon.status()["unknown_values"]["order.status=99"] >= 1  # type: ignore[index]


def test_an_order_of_unknown_type_is_held_as_a_working_order_and_alerted_once(
    reasons: tuple[Harness, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, seen = reasons
    _describe_oddly(monkeypatch, "type", 99)
    order_id = _place(h)
    h.wait(lambda: _working(h, order_id) == (True, "unknown"), "the order held as working")
    second = _place(h)  # the same trouble again: counted, not alerted again
    h.wait(lambda: _working(h, second) == (True, "unknown"), "the second order held")
    counted = h.daemon.status()["unknown_values"]["order.type=99"]  # type: ignore[index]
    h.daemon.request_reconcile(ACCOUNT, "again")  # REST describes them the same way
    h.wait(lambda: "again" in seen, "the next reconcile")
    h.wait(lambda: _working(h, order_id) == (True, "unknown"), "the order still held")
    h.wait(
        lambda: h.daemon.status()["unknown_values"]["order.type=99"] >= counted + 2,  # type: ignore[index]
        "the REST answer's two orders counted too",
    )
    (alert,) = _alerts(h, "unknown order.type 99")
    assert alert["level"] == "warning"
    assert "doubted GatewayUserOrder" not in seen  # fully read: nothing for REST to settle
    assert h.daemon.status()["unknown_values"]["order.type=99"] >= 2  # type: ignore[index]


def test_an_order_of_unknown_side_is_skipped_counted_alerted_and_reconciled(
    reasons: tuple[Harness, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, seen = reasons
    _describe_oddly(monkeypatch, "side", 7)
    order_id = _place(h)
    h.wait(lambda: "doubted GatewayUserOrder" in seen, "the reconcile the doubt asked for")
    h.wait(lambda: bool(_alerts(h, "unreadable GatewayUserOrder")), "the alert")
    (alert,) = _alerts(h, "unreadable GatewayUserOrder")
    assert alert["level"] == "critical" and str(order_id) in alert["message"]
    assert _working(h, order_id) is None
    skipped = h.daemon.status()["hub_records_skipped"]
    assert skipped["GatewayUserOrder"] >= 1  # type: ignore[index]
