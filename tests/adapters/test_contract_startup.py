"""Startup loads the contracts the accounts hold or work (from the startup reconciles'
answers); one the gateway cannot describe right now (a 5xx, a timeout on its
``Contract/searchById``) must not stop the daemon from starting — no enforcement at all would
follow — but load in the background instead."""

from __future__ import annotations

import queue
import threading
from decimal import Decimal
from typing import Any

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.errors import Endpoint, TransportError
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.adapters.topstepx.session import Credentials
from simple_risk.engine.events import ContractInfo, ContractLoaded, Event
from tests.adapters.conftest import wait_until

MNQ = "CON.F.US.MNQ.Z26"
ES = "CON.F.US.EP.Z26"


def _info(contract_id: str, name: str) -> ContractInfo:
    return ContractInfo(
        contract_id=contract_id,
        symbol_id="F.US." + name[:-2],
        name=name,
        root=name[:-2],
        tick_size=Decimal("0.25"),
        tick_value=Decimal("0.5"),
        units=1,
    )


class _Gateway:
    """The startup calls; the first ``Contract/searchById`` of ES fails (a 503)."""

    def __init__(self) -> None:
        self.clock = ReceiveClock()
        self.asked: list[str] = []

    def available_contracts(self) -> list[ContractInfo]:
        return []

    def contract_by_id(self, contract_id: str) -> ContractInfo | None:
        self.asked.append(contract_id)
        if contract_id == ES and self.asked.count(ES) == 1:
            raise TransportError(
                Endpoint.CONTRACT_SEARCH_BY_ID, "gave up", http_status=503, attempts=4
            )
        return _info(contract_id, "ESZ6" if contract_id == ES else "MNQZ6")


def test_a_contract_that_cannot_be_loaded_at_startup_loads_in_the_background() -> None:
    gateway = _Gateway()
    cache = ContractCache(gateway)  # type: ignore[arg-type]
    try:
        cache.load_catalogue()
        cache.load({MNQ, ES})  # does not raise: the daemon starts and guards the account
        assert MNQ in cache.known()
        wait_until(lambda: ES in cache.known(), timeout=10.0)
        assert gateway.asked.count(ES) == 2
    finally:
        cache.close()


class _NoCatalogue(_Gateway):
    """``Contract/available`` fails for as long as the retries last (a 503)."""

    def available_contracts(self) -> list[ContractInfo]:
        raise TransportError(Endpoint.CONTRACT_AVAILABLE, "gave up", http_status=503, attempts=4)


def test_a_catalogue_that_cannot_be_listed_at_startup_does_not_stop_the_daemon() -> None:
    # the list of available contracts only warms the cache: the contracts the accounts hold
    # are loaded one by one, and any other as it is seen; a failing list used to stop the
    # start, and the accounts went unguarded until the gateway answered it again
    gateway = _NoCatalogue()
    cache = ContractCache(gateway)  # type: ignore[arg-type]
    try:
        cache.load_catalogue()
        cache.load({MNQ, ES})
        wait_until(lambda: {MNQ, ES} <= set(cache.known()), timeout=10.0)
    finally:
        cache.close()


class _UnreadableES(_Gateway):
    """ES's ``Contract/searchById`` answers a contract that cannot be read (tick size 0)."""

    def __init__(self) -> None:
        super().__init__()

    def contract_by_id(self, contract_id: str) -> ContractInfo | None:
        self.asked.append(contract_id)
        if contract_id == ES:
            body = {"contract": {"id": ES, "name": "ESZ6", "tickSize": 0, "tickValue": 12.5}}
            return _read_by_id(body)
        return _info(contract_id, "MNQZ6")


class _Answering(RestClient):
    """The REST client, its transport replaced by one canned answer."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("http://127.0.0.1:9", Credentials("trader", "key"))
        self._body = body

    def _exchange(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {"success": True, "errorCode": 0, **self._body}


def _read_by_id(body: dict[str, Any]) -> ContractInfo | None:
    """The REST client's reading of a ``searchById`` answer."""
    return _Answering(body).contract_by_id(ES)


def test_a_contract_the_gateway_describes_unreadably_does_not_stop_the_daemon() -> None:
    # an unreadable answer is the gateway's fault like a 5xx: the others load and the
    # daemon guards the accounts (its positions' P&L stays unknown, as for any contract
    # not loaded); it used to stop the start
    gateway = _UnreadableES()
    cache = ContractCache(gateway)  # type: ignore[arg-type]
    try:
        cache.load_catalogue()
        cache.load({MNQ, ES})
        assert MNQ in cache.known() and ES not in cache.known()
        assert cache.wait_idle(10.0)
    finally:
        cache.close()


class _LackingES(_Gateway):
    """ES's first ``Contract/searchById`` answers success without its ``contract`` field."""

    def contract_by_id(self, contract_id: str) -> ContractInfo | None:
        self.asked.append(contract_id)
        if contract_id == ES and self.asked.count(ES) == 1:
            return _read_by_id({"contract": None})
        return _info(contract_id, "ESZ6" if contract_id == ES else "MNQZ6")


def test_a_contract_answer_that_lacks_its_contract_is_a_failed_call_not_an_unknown_contract() -> (
    None
):
    # only ContractNotFound says the gateway does not know it; an answer that says nothing
    # is a call that failed, and the contract loads later. Taken as unknown, it was never
    # asked for again: the position's P&L stayed unknown, no loss limit fired on it
    gateway = _LackingES()
    cache = ContractCache(gateway)  # type: ignore[arg-type]
    try:
        cache.load_catalogue()
        cache.load({MNQ, ES})
        assert MNQ in cache.known()
        wait_until(lambda: ES in cache.known(), timeout=10.0)
        assert gateway.asked.count(ES) == 2
    finally:
        cache.close()


def test_the_startup_reconciles_contracts_load_at_once_announced_and_each_asked_once() -> None:
    # the daemon reads each account's positions and orders once, in its startup reconcile,
    # and loads the contracts of those answers before the answer is applied: announced on
    # the sink by then, so the engine knows their P&L at once. Two accounts' reconciles
    # holding one contract ask for it once; one that cannot be loaded now (ES's first 503)
    # loads in the background
    gateway = _Gateway()
    sink: queue.Queue[Event] = queue.Queue()
    cache = ContractCache(gateway, sink=sink)  # type: ignore[arg-type]
    try:
        cache.load_catalogue()
        assert gateway.asked == [] and sink.empty()  # nothing available, nothing read
        loads = [threading.Thread(target=cache.load, args=({MNQ, ES},)) for _ in range(2)]
        for load in loads:
            load.start()
        for load in loads:
            load.join(10.0)
        announced = [e.contract.contract_id for e in _drain(sink)]
        assert MNQ in announced and MNQ in cache.known()
        assert gateway.asked.count(MNQ) == 1
        wait_until(lambda: ES in cache.known(), timeout=10.0)
        assert gateway.asked.count(ES) == 2  # the failed one and the background one
        cache.load({MNQ, ES})  # known: nothing asked
        assert gateway.asked.count(MNQ) == 1 and gateway.asked.count(ES) == 2
    finally:
        cache.close()


def _drain(sink: queue.Queue[Event]) -> list[ContractLoaded]:
    events: list[ContractLoaded] = []
    while not sink.empty():
        event = sink.get_nowait()
        assert isinstance(event, ContractLoaded)
        events.append(event)
    return events
