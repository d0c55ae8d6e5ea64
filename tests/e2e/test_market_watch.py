"""What the daemon tells from the market hub's quotes: a held contract whose quotes stop is
alerted while its exchange trades, and said again when they come back; a machine clock that
disagrees with the gateway's is alerted. The daemon never guards blind without saying so."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.daemon.control import views
from simple_risk.daemon.dashboard.view import account_page
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import pinned_wall

from .harness import ACCOUNT, FAST_OPTIONS, OTHER, build_ruleset, guarding_config, pinned_simulator

SILENCE = 1.0


def guarded(
    tmp_path: Path,
    gateway_ahead: float = 0.0,
    bars: tuple[int, float] = (50, 30.0),
    accounts: tuple[int, ...] = (ACCOUNT,),
    **timing: float,
) -> Iterator[tuple[Daemon, Trader]]:
    """A daemon guarding an account on a Wednesday morning, against a simulator whose prices
    (and so its quotes) move only when told and whose clock is ``gateway_ahead`` seconds
    ahead of the daemon's, with a one-second quote silence (``timing`` changes it and the
    others); ``bars``: the simulator's limit of ``History/retrieveBars`` calls."""
    wall = pinned_wall()
    sim = pinned_simulator(lambda: wall() + timedelta(seconds=gateway_ahead), bars)
    config = guarding_config(sim, accounts, tmp_path)
    changes: dict[str, float] = {"quote_silence": SILENCE, **timing}
    config = dataclasses.replace(config, timing=dataclasses.replace(config.timing, **changes))
    daemon = Daemon(
        config,
        dict.fromkeys(accounts, build_ruleset(grace=60)),
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


#: bars_after and bars_every: a held contract quiet this long is priced from REST bars, this often
BARS = 0.5


@pytest.fixture
def muted_market(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    """The market hub goes quiet after 0.5 s of a held contract's silence the daemon prices it
    from REST bars every 0.5 s; the silence is alerted after 2 s."""
    yield from guarded(tmp_path, quote_silence=2.0, bars_after=BARS, bars_every=BARS)


@pytest.fixture
def muted_two_accounts(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    """As ``muted_market``, guarding a second account (``OTHER``) beside ``ACCOUNT``."""
    yield from guarded(
        tmp_path, accounts=(ACCOUNT, OTHER), quote_silence=2.0, bars_after=BARS, bars_every=BARS
    )


@pytest.fixture
def quotes_resume(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    """As ``muted_market``, but a contract is priced from bars after 1.5 s without a quote:
    a machine busy for a moment between two quotes does not look like a silence."""
    yield from guarded(tmp_path, quote_silence=3.0, bars_after=1.5, bars_every=BARS)


@pytest.fixture
def bars_refused(tmp_path: Path) -> Iterator[tuple[Daemon, Trader]]:
    """As ``muted_market``, against a gateway that answers one bars call in 30 s, and 429 to
    the others."""
    yield from guarded(
        tmp_path, bars=(1, 30.0), quote_silence=2.0, bars_after=BARS, bars_every=BARS
    )


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


# -- a held contract priced from REST bars while its quotes are missing ----------------------


def _bars_calls(trader: Trader, contract: str, status: int | None = None) -> int:
    """The ``History/retrieveBars`` calls the gateway received for ``contract``."""
    return sum(
        1
        for request in trader.sim.requests_log()
        if request.path.lower().endswith("history/retrievebars")
        and isinstance(request.body, dict)
        and request.body.get("contractId") == contract
        and (status is None or request.status == status)
    )


def _closes(trader: Trader) -> list[datetime]:
    return [r.time for r in trader.sim.requests_log() if r.path.endswith("Position/closeContract")]


def _long_at(trader: Trader, contract: str, loss: Decimal) -> Decimal:
    """The price at which the account's long position in ``contract`` is ``loss`` dollars down
    (a long is marked at a bar's close, as at a last trade)."""
    (position,) = trader.sim.venue.open_positions(ACCOUNT)
    spec = trader.sim.venue.contract(contract)
    ticks = loss / spec.tick_value
    return position.average_price - ticks * spec.tick_size


def _open_pnl(daemon: Daemon, contract: str, account: int = ACCOUNT) -> Decimal | None:
    state = daemon.engines[account].account(account)
    position = state.positions.get(contract) if state is not None else None
    return position.unrealized_pnl if position is not None else None


def _priced_from(daemon: Daemon) -> str:
    """Where the account's one position's price comes from, as ``engine status`` and the
    dashboard's page show it."""

    def read() -> tuple[str, str]:
        now = daemon.clock.now()
        (status,) = views.account_status(daemon, ACCOUNT, now)["positions"]
        (shown,) = account_page(daemon, ACCOUNT, now)["positions"]
        return status["priced_from"], shown["priced_from"]

    status, page = daemon.on_engine(read)
    assert status == page
    return status


def _holding(daemon: Daemon, trader: Trader, root: str) -> str:
    """Buy one ``root`` and wait until the daemon holds it and hears its quotes; then the
    market hub goes quiet (connected, pinged, sending nothing)."""
    contract = trader.contract(root)
    trader.buy(ACCOUNT, root)
    assert wait_until(lambda: trader.size(ACCOUNT, root) == 1, 5.0)
    trader.move(root, Decimal(0))  # a quote the daemon hears: its quotes did flow
    assert wait_until(lambda: contract in daemon.intake.heard(), 5.0)
    trader.sim.mute_market()
    return contract


def test_a_position_whose_quotes_stop_is_closed_on_the_price_from_rest_bars(
    muted_market: tuple[Daemon, Trader],
) -> None:
    """The market hub says nothing while the market falls past the open-loss limit: REST's
    bars price the position, and it is closed within seconds. The silence alert said where
    the price came from."""
    daemon, trader = muted_market
    contract = _holding(daemon, trader, "EP")
    trader.sim.set_price(contract, _long_at(trader, contract, Decimal(50)))  # no quote sent
    assert wait_until(lambda: _open_pnl(daemon, contract) == Decimal(-50), 5.0)
    assert wait_until(lambda: bool(_alerts(daemon, f"no quote for {contract}")), 5.0)
    (alert,) = _alerts(daemon, f"no quote for {contract}")
    assert f"its price now comes from REST bars every {BARS:g} s" in alert["message"]
    assert "the last trade, not the bid or ask" in alert["message"]
    assert _priced_from(daemon) == "bars"  # engine status and the dashboard say so
    moved = time.monotonic()
    trader.sim.set_price(contract, _long_at(trader, contract, Decimal(350)))
    assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 0, 5.0)
    assert time.monotonic() - moved < 3.0  # a period, a bars call, and the close
    assert len(_closes(trader)) == 1
    # the rule's state, fired on a bar's price, is saved like any other (a crash loses nothing)
    daemon.on_engine(daemon.loop.snapshot_all)
    assert not _alerts(daemon, "engine failed")


def test_with_the_hubs_down_the_price_from_bars_still_closes_the_position(
    muted_market: tuple[Daemon, Trader],
) -> None:
    """Not a quiet hub this time: both hubs' connections dropped and refused, as a live
    outage does. Quotes stop, bars price the position, and REST closes it."""
    daemon, trader = muted_market
    contract = _holding(daemon, trader, "EP")
    trader.sim.mute_market(False)
    trader.sim.refuse_hub_connections(30.0)
    trader.sim.drop_connections()
    assert wait_until(lambda: daemon.hub_states.get("market") not in ("connected", None), 5.0)
    trader.sim.set_price(contract, _long_at(trader, contract, Decimal(350)))  # nobody hears it
    assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 0, 8.0)
    assert len(_closes(trader)) == 1
    daemon.on_engine(daemon.loop.snapshot_all)
    assert not _alerts(daemon, "engine failed")


def test_just_below_the_open_loss_limit_nothing_is_closed(
    muted_market: tuple[Daemon, Trader],
) -> None:
    daemon, trader = muted_market
    contract = _holding(daemon, trader, "EP")
    below = _long_at(trader, contract, Decimal("287.50"))  # a tick above the $300 limit
    trader.sim.set_price(contract, below)
    assert wait_until(lambda: _open_pnl(daemon, contract) == Decimal("-287.50"), 5.0)
    calls = _bars_calls(trader, contract)
    assert wait_until(lambda: _bars_calls(trader, contract) >= calls + 3, 5.0)  # priced again
    assert trader.size(ACCOUNT, "EP") == 1
    assert _closes(trader) == []


def test_the_polling_stops_when_quotes_come_back(quotes_resume: tuple[Daemon, Trader]) -> None:
    daemon, trader = quotes_resume
    contract = _holding(daemon, trader, "EP")
    trader.sim.set_price(contract, _long_at(trader, contract, Decimal(50)))
    assert wait_until(lambda: _open_pnl(daemon, contract) == Decimal(-50), 5.0)
    trader.sim.mute_market(False)
    prices = [_long_at(trader, contract, Decimal(25)), _long_at(trader, contract, Decimal(0))]

    def quoting(seconds: float) -> None:
        """Quotes every 0.1 s, as a live market sends them (well under bars_after)."""
        end = time.monotonic() + seconds
        step = 0
        while time.monotonic() < end:
            trader.sim.set_price(contract, prices[step % 2])
            step += 1
            time.sleep(0.1)

    quoting(BARS * 2)  # a question asked just before the quotes came back may be answered
    assert not daemon.loop.bar_prices.quiet
    assert _priced_from(daemon) == "quotes"
    calls = _bars_calls(trader, contract)
    quoting(BARS * 6)
    assert _bars_calls(trader, contract) == calls
    assert _open_pnl(daemon, contract) in (Decimal(-25), Decimal(0))  # the quotes' prices


def test_a_contract_no_longer_held_is_not_polled(muted_market: tuple[Daemon, Trader]) -> None:
    daemon, trader = muted_market
    contract = _holding(daemon, trader, "EP")
    assert wait_until(lambda: _bars_calls(trader, contract) >= 2, 5.0)
    trader.sell(ACCOUNT, "EP")  # flat: the user hub still speaks
    assert wait_until(lambda: _open_pnl(daemon, contract) is None, 5.0)
    assert wait_until(lambda: not daemon.loop.bar_prices.quiet, 5.0)
    time.sleep(BARS * 2)
    calls = _bars_calls(trader, contract)
    time.sleep(BARS * 4)
    assert _bars_calls(trader, contract) == calls


def test_bars_refused_with_429_never_delay_a_close(bars_refused: tuple[Daemon, Trader]) -> None:
    """The bars budget is spent and the gateway refuses every bars call: the close the next
    quote calls for leaves at once, and the bars are asked at their period, not in a loop."""
    daemon, trader = bars_refused
    contract = _holding(daemon, trader, "EP")
    assert wait_until(lambda: _bars_calls(trader, contract, status=429) >= 2, 8.0)
    trader.sim.mute_market(False)
    before = time.monotonic()
    trader.sim.set_price(contract, _long_at(trader, contract, Decimal(350)))  # a quote
    assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 0, 5.0)
    assert time.monotonic() - before < 1.0
    asked = sorted(
        r.time for r in trader.sim.requests_log() if r.path.lower().endswith("retrievebars")
    )
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(asked)]
    assert min(gaps) >= BARS * 0.8  # asked again at the next period (or later), never at once


def test_a_second_account_entering_a_contract_priced_from_bars_is_marked_at_the_bar(
    muted_two_accounts: tuple[Daemon, Trader],
) -> None:
    """One account holds a short while the market hub is quiet and the market falls 7 points:
    REST's bars price it. A second account sells one at the market meanwhile: its position is
    marked at the bar's close, as the first one's is — never at the quote heard before the
    silence, 7 points away (a $350 open loss that is not there, past the $300 limit: the
    second account's new short flattened at once)."""
    daemon, trader = muted_two_accounts
    contract = trader.contract("EP")
    trader.sell(ACCOUNT, "EP")
    assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
    trader.move("EP", Decimal(0))  # a quote the daemon hears: its quotes did flow
    assert wait_until(lambda: contract in daemon.intake.heard(), 5.0)
    trader.sim.mute_market()
    spec = trader.sim.venue.contract(contract)
    fallen = trader.sim.last_price(contract) - 28 * spec.tick_size  # 7 points
    trader.sim.set_price(contract, fallen)  # no quote sent
    assert wait_until(lambda: _open_pnl(daemon, contract) == Decimal(350), 5.0)
    trader.sell(OTHER, "EP")  # at the market: 7 points under the last quote heard
    assert wait_until(lambda: trader.size(OTHER, "EP") == 1, 5.0)
    assert wait_until(lambda: _open_pnl(daemon, contract, OTHER) == Decimal(0), 5.0)
    time.sleep(BARS * 3)  # a bar or two more
    assert trader.size(OTHER, "EP") == 1
    assert _closes(trader) == []
    assert not [f for f in daemon.firings if f.rule_id == "daily-unrealized-loss"]


def test_quotes_coming_back_one_side_at_a_time_never_bring_back_the_prices_of_before_the_gap(
    muted_market: tuple[Daemon, Trader],
) -> None:
    """Quotes are partial updates (only what changed). The market rises 10 points while the
    hub is quiet: bars price the long, and the trader buys a second one up there (average 5
    points under the market: $500 open profit). The first quote back carries only the ask: the
    position stays marked at the bar's close — never at the last trade heard before the gap,
    under the new average, a $500 open loss that is not there and a flatten on it."""
    daemon, trader = muted_market
    contract = _holding(daemon, trader, "EP")
    spec = trader.sim.venue.contract(contract)
    risen = _long_at(trader, contract, Decimal(-500))  # 10 points over the average
    trader.sim.set_price(contract, risen)  # no quote sent
    assert wait_until(lambda: _open_pnl(daemon, contract) == Decimal(500), 5.0)
    trader.buy(ACCOUNT, "EP")  # at the market
    assert wait_until(lambda: _size(daemon) == 2, 5.0)
    time.sleep(BARS * 2)  # priced from a bar again
    before = _open_pnl(daemon, contract)
    assert before is not None and before >= Decimal(400)
    trader.sim.mute_market(False)
    ask = risen + spec.tick_size
    trader.sim.emit_market_event(
        "GatewayQuote",
        [contract, {"symbol": spec.symbol_id, "contract": contract, "bestAsk": str(ask)}],
        contract,
    )
    assert wait_until(lambda: not daemon.loop.bar_prices.quiet, 5.0)  # the quote was heard
    time.sleep(BARS)
    assert _open_pnl(daemon, contract) == before
    assert trader.size(ACCOUNT, "EP") == 2
    assert _closes(trader) == []


def _size(daemon: Daemon, account: int = ACCOUNT) -> int:
    state = daemon.engines[account].account(account)
    return sum(p.size for p in state.positions.values()) if state is not None else 0
