"""The price path and the in-process control handle (what tests and demos steer with)."""

from __future__ import annotations

import itertools
import time
from datetime import date
from decimal import Decimal

import pytest
import requests

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.simulator.contracts import catalogue
from simple_risk.adapters.simulator.prices import PricePath
from simple_risk.adapters.simulator.records import VenueError
from tests.simulator.conftest import ACCOUNT, contract_id, wait_for

CONTRACTS = catalogue(date(2026, 11, 24))


def walk(seed: int, steps: int) -> list[Decimal]:
    path = PricePath(CONTRACTS, seed)
    cid, price, prices = CONTRACTS[0].id, CONTRACTS[0].start_price, []
    for _ in range(steps):
        price = path.next_price(cid, price)
        prices.append(price)
    return prices


def test_the_seeded_walk_is_reproducible_and_stays_on_the_tick_grid() -> None:
    assert walk(3, 200) == walk(3, 200)
    assert walk(3, 200) != walk(4, 200)
    tick = CONTRACTS[0].tick_size
    prices = [CONTRACTS[0].start_price, *walk(3, 200)]
    assert all(p % tick == 0 for p in prices)
    assert all(abs(b - a) <= tick for a, b in itertools.pairwise(prices))


def test_scripted_prices_come_before_the_walk(sim: Simulator) -> None:
    mnq = contract_id(sim, "MNQ")
    sim.script_prices(mnq, ["21010", "21020.25"])
    sim.step_prices()
    assert sim.last_price(mnq) == Decimal("21010")
    sim.step_prices()
    assert sim.last_price(mnq) == Decimal("21020.25")
    sim.step_prices(5)
    assert abs(sim.last_price(mnq) - Decimal("21020.25")) <= 5 * Decimal("0.25")
    with pytest.raises(Exception, match="tick grid"):
        sim.script_prices(mnq, ["21010.1"])


def test_the_ticker_moves_prices_until_paused() -> None:
    with Simulator(port=0, price_interval=0.02, seed=5) as sim:
        ids = sim.venue.active_contract_ids()

        def prices() -> list[Decimal]:
            return [sim.last_price(c) for c in ids]

        start = prices()
        wait_for(lambda: prices() != start)
        sim.pause_prices()  # runs on the loop: no step can be half done when it returns
        frozen = prices()
        time.sleep(0.1)  # five ticker intervals
        assert prices() == frozen
        sim.resume_prices()
        wait_for(lambda: prices() != frozen)


def test_a_resting_order_fills_when_set_price_reaches_it(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "accountId": ACCOUNT,
        "contractId": mnq,
        "type": 1,
        "side": 1,
        "size": 1,
        "limitPrice": 21012.5,
    }
    order_id = requests.post(
        f"{sim.base_url}/api/Order/place", json=body, headers=headers, timeout=5
    ).json()["orderId"]
    sim.set_price(mnq, "21012.5")
    assert sim.venue.order(order_id).filled_price == Decimal("21012.5")


def test_void_fill_busts_the_trade_and_restores_the_balance(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    requests.post(
        f"{sim.base_url}/api/Order/place",
        json={"accountId": ACCOUNT, "contractId": mnq, "type": 2, "side": 0, "size": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    (trade,) = sim.venue.trades(ACCOUNT)
    sim.void_fill(trade.id)
    assert sim.venue.trades(ACCOUNT)[0].voided
    assert sim.venue.account(ACCOUNT).balance == Decimal("50000")
    assert sim.venue.open_positions(ACCOUNT) == []
    with pytest.raises(Exception, match="not found"):
        sim.void_fill(1)


def test_controls_refuse_unknown_accounts_and_bad_faults(sim: Simulator) -> None:
    with pytest.raises(Exception, match="not found"):
        sim.set_can_trade(1, False)
    with pytest.raises(Exception, match="status"):
        sim.fail_next(1, 404)  # type: ignore[arg-type]
    with pytest.raises(VenueError):
        sim.venue.account(1)


def test_raw_user_events_need_a_connection_to_reach(sim: Simulator) -> None:
    assert sim.emit_user_event("GatewayUserAccount", [{"action": 1, "data": {}}]) == 0
