"""A held contract whose quotes stop is alerted while its exchange trades, and said again when
they come back: the daemon never guards an open position blind without saying so."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import pinned_wall

from .harness import ACCOUNT, FAST_OPTIONS, build_ruleset, guarding_config, pinned_simulator

SILENCE = 1.0


@pytest.fixture
def quiet_market(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    """A daemon guarding an account on a Wednesday morning, against a simulator whose prices
    (and so its quotes) move only when told, with a one-second quote silence."""
    wall = pinned_wall()
    sim = pinned_simulator(wall)
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
