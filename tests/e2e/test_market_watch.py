"""What the daemon tells from the market hub's quotes: a held contract whose quotes stop is
alerted while its exchange trades, and said again when they come back; a machine clock that
disagrees with the gateway's is alerted. The daemon never guards blind without saying so."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import pinned_wall

from .harness import ACCOUNT, FAST_OPTIONS, build_ruleset, guarding_config, pinned_simulator

SILENCE = 1.0


def guarded(tmp_path: Path, gateway_ahead: float = 0.0) -> Iterator[tuple[Daemon, Trader]]:
    """A daemon guarding an account on a Wednesday morning, against a simulator whose prices
    (and so its quotes) move only when told and whose clock is ``gateway_ahead`` seconds
    ahead of the daemon's, with a one-second quote silence."""
    wall = pinned_wall()
    sim = pinned_simulator(lambda: wall() + timedelta(seconds=gateway_ahead))
    config = guarding_config(sim, (ACCOUNT,), tmp_path)
    config = dataclasses.replace(
        config, timing=dataclasses.replace(config.timing, quote_silence=SILENCE)
    )
    daemon = Daemon(
        config,
        {ACCOUNT: build_ruleset(grace=60)},
        store=open_store(config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall),
    )
    trader = Trader(sim)
    daemon.start()
    try:
        assert wait_until(daemon.ready.is_set, 10.0)
        yield daemon, trader
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


@pytest.fixture
def quiet_market(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    yield from guarded(tmp_path)


@pytest.fixture
def gateway_ahead(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    yield from guarded(tmp_path, gateway_ahead=30.0)


def _alerts(daemon: Daemon, words: str) -> list[dict[str, str]]:
    return [a for a in daemon.alerter.recent if words in a["message"]]


def test_a_held_contract_without_quotes_is_alerted_then_its_quotes_coming_back(
    quiet_market: tuple[Daemon, Trader],
) -> None:
    daemon, trader = quiet_market
    trader.buy(ACCOUNT, "EP")
    contract = trader.contract("EP")
    assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
    assert wait_until(lambda: bool(_alerts(daemon, f"no quote for {contract}")), 8.0)
    (alert,) = _alerts(daemon, f"no quote for {contract}")
    assert alert["level"] == "warning" and f"account {ACCOUNT}" in alert["message"]
    trader.sim.set_price(contract, trader.price("EP") + 1)  # a quote
    assert wait_until(lambda: bool(_alerts(daemon, f"quotes of {contract} arrive again")), 5.0)
    assert len(_alerts(daemon, f"no quote for {contract}")) == 1  # said once per silence


def test_a_machine_clock_behind_the_gateways_is_alerted(
    gateway_ahead: tuple[Daemon, Trader],
) -> None:
    daemon, trader = gateway_ahead
    trader.buy(ACCOUNT, "EP")  # the daemon watches ES, and hears its quotes
    contract = trader.contract("EP")
    assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
    price = trader.price("EP")
    # quotes a little apart (quotes of one contract waiting in the engine's queue are merged
    # into one), until the last 20 the daemon applied were all stamped 30 s in its future
    for step in range(200):
        trader.sim.set_price(contract, price + step % 2)
        if _alerts(daemon, "clock reads at least"):
            break
        time.sleep(0.02)
    (alert,) = _alerts(daemon, "clock reads at least")
    assert alert["level"] == "warning" and "s behind the gateway's" in alert["message"]
