"""Failure paths of the daemon, by fault injection against the simulator (issue #13 item 3).

A failure in one part never stops enforcement silently: it is skipped or retried, and a
critical alert says what happened.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.simulator import wire
from simple_risk.adapters.simulator.venue import Order
from simple_risk.daemon.runtime import ReconcileData
from simple_risk.daemon.sim import Trader
from simple_risk.engine.events import OrderSide

from .harness import ACCOUNT, Start

MALFORMED_SIZE = 3  # the trader's limit order of this size is sent with an unknown status


@pytest.fixture
def malformed_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator describes the trader's 3-lot limit order with a status no gateway has."""
    original = wire.order_model

    def order_model(order: Order) -> dict[str, object]:
        model = original(order)
        if order.size == MALFORMED_SIZE and order.limit_price is not None:
            model["status"] = 99
        return model

    monkeypatch.setattr(wire, "order_model", order_model)


def _critical(h: Any, words: str) -> bool:
    return any(
        alert["level"] == "critical" and words in alert["message"]
        for alert in h.daemon.alerter.recent
    )


@pytest.mark.usefixtures("malformed_order")
def test_a_malformed_record_is_skipped_counted_and_alerted_and_the_rest_enforced(
    start: Start,
) -> None:
    def before(trader: Trader) -> None:
        trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed by the startup reconcile
        below = trader.price("MNQ") - Decimal(200)
        trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, MALFORMED_SIZE, below)

    h = start(before=before)  # live at all: the reconcile survived the bad record
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the blocked position closed")
    assert h.daemon.malformed_records >= 1
    assert _critical(h, "malformed REST record")
    assert h.daemon.status()["malformed_records"] == h.daemon.malformed_records


def test_the_reconcile_worker_survives_an_unexpected_error_and_retries(start: Start) -> None:
    h = start()
    fetch = h.daemon._fetch
    failures = []

    def broken(account: int, reason: str) -> ReconcileData:
        if not failures:
            failures.append(reason)
            raise RuntimeError("boom")
        return fetch(account, reason)

    h.daemon._fetch = broken  # type: ignore[method-assign]
    before = h.daemon.reconciles
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.wait(lambda: _critical(h, "reconcile failed unexpectedly"), "the alert")
    h.daemon.request_reconcile(ACCOUNT, "test again")
    h.wait(lambda: h.daemon.reconciles > before, "a later reconcile applied")
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "enforcement goes on")
