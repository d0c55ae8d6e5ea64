"""The daily reset follows the calendar, also when the daemon was down across the boundary.

The trading day is configured to end a few seconds from now: a daily-loss lockout set before
the boundary must end at it, and a daemon started after it must begin the new day with no
realized P&L, no day lock, and let the trader trade. "Now" is the pinned clock of the harness
(a Wednesday morning in Chicago), shared by the simulator and the daemon: on a weekend a
boundary a few seconds away would not end a trading day at all, so the real date must not leak
in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, sim_config, wait_until
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.model import Ruleset
from simple_risk.resources import default_ruleset_path
from tests.pinned import pinned_wall

from .harness import ACCOUNT, FAST_OPTIONS, QUIET_DAY_LIMITS, build_ruleset

CHICAGO = ZoneInfo("America/Chicago")
REPO = Path(__file__).resolve().parents[2]


def _day_ends_soon(wall: Callable[[], datetime], seconds: float) -> tuple[Ruleset, datetime]:
    boundary = (wall().astimezone(CHICAGO) + timedelta(seconds=seconds)).replace(microsecond=0)

    def shift(ruleset: Ruleset) -> Ruleset:
        calendar = dataclasses.replace(ruleset.calendar, trading_day_starts=boundary.time())
        return dataclasses.replace(ruleset, calendar=calendar)

    limits = QUIET_DAY_LIMITS
    return build_ruleset(params=limits, transform=shift), boundary


def _daemon(
    sim: Simulator, ruleset: Ruleset, data_dir: Path, wall: Callable[[], datetime]
) -> Daemon:
    config = sim_config(
        sim.base_url,
        sim.username,
        sim.api_key,
        [ACCOUNT],
        data_dir,
        ruleset_path=default_ruleset_path(),
    )
    options = dataclasses.replace(FAST_OPTIONS, wall=wall)
    daemon = Daemon(config, {ACCOUNT: ruleset}, store=open_store(config), options=options)
    daemon.start()
    assert wait_until(daemon.ready.is_set, 10.0)
    return daemon


def _simulator(clock: Callable[[], datetime]) -> Simulator:
    """A started simulator on ``clock`` (the gateway's), prices still, no rate limit reached."""
    return Simulator(
        port=0,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        clock=clock,
    ).start()


def test_the_day_lock_ends_at_the_boundary_even_across_a_restart(tmp_path: Path) -> None:
    wall = pinned_wall()
    ruleset, boundary = _day_ends_soon(wall, 5.0)
    sim = _simulator(wall)
    trader = Trader(sim)
    daemon = _daemon(sim, ruleset, tmp_path, wall)
    try:
        trader.buy(ACCOUNT, "EP")
        assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
        trader.move("EP", Decimal("-10.5"))
        trader.sell(ACCOUNT, "EP")
        engine = daemon.engines[ACCOUNT]
        assert wait_until(
            lambda: any(lock.rule == "daily-realized-loss" for lock in engine.locks(ACCOUNT)), 5.0
        )
        lock = next(lk for lk in engine.locks(ACCOUNT) if lk.rule == "daily-realized-loss")
        assert lock.ends_at == boundary
        daemon.stop()  # down across the boundary
        assert wait_until(lambda: wall() > boundary + timedelta(seconds=0.5), 10.0)
        sim.clear_requests()
        daemon = _daemon(sim, ruleset, tmp_path, wall)
        engine = daemon.engines[ACCOUNT]
        assert not any(lk.rule == "daily-realized-loss" for lk in engine.locks(ACCOUNT))
        day = engine.facts(ACCOUNT)["day"]
        assert getattr(day, "realized_pnl", None) == 0
        trader.buy(ACCOUNT, "MNQ")  # allowed on the new day: nothing closes it
        assert wait_until(lambda: trader.size(ACCOUNT, "MNQ") == 1, 5.0)
        daemon.request_reconcile(ACCOUNT, "test")
        assert wait_until(lambda: daemon.reconciles >= 2 and not daemon.book, 5.0)
        enforcement = ("/api/position/closecontract", "/api/order/cancel")
        assert not [r for r in sim.requests_log() if r.path.lower() in enforcement]
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def test_a_first_start_mid_week_counts_the_weeks_earlier_fills(tmp_path: Path) -> None:
    """The daemon starts for the first time on a Wednesday; the trader lost 1000 on Monday.
    The weekly loss limit (1500) must see Monday's loss: a 600 loss on Wednesday reaches it."""
    wall = pinned_wall()  # Wednesday 10:00 Chicago
    earlier = [timedelta(days=-2)]  # the simulator's clock runs on Monday first
    sim = Simulator(
        port=0,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        clock=lambda: wall() + earlier[0],
    ).start()
    trader = Trader(sim)
    daemon: Daemon | None = None
    try:
        contract = trader.contract("EP")
        trader.buy(ACCOUNT, "EP")
        assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
        sim.set_price(contract, trader.price("EP") - 20)  # -1000 on Monday
        trader.sell(ACCOUNT, "EP")
        assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 0, 5.0)
        earlier[0] = timedelta(0)  # Wednesday: the daemon starts
        weekly = load_ruleset(REPO / "rulesets" / "examples" / "weekly-loss-limit.yaml")
        daemon = _daemon(sim, weekly, tmp_path, wall)
        week = daemon.engines[ACCOUNT].facts(ACCOUNT)["week"]
        assert getattr(week, "realized_pnl", 0) <= -1000
        trader.buy(ACCOUNT, "EP")
        assert wait_until(lambda: trader.size(ACCOUNT, "EP") == 1, 5.0)
        trader.move("EP", Decimal(-12))  # -600 on Wednesday: -1600 this week
        trader.sell(ACCOUNT, "EP")
        engine = daemon.engines[ACCOUNT]
        assert wait_until(
            lambda: any(lock.rule == "weekly-loss-limit" for lock in engine.locks(ACCOUNT)), 5.0
        )
    finally:
        if daemon is not None:
            daemon.stop()
        trader.close()
        sim.stop()


def test_a_daemon_restarted_on_a_clock_set_back_keeps_the_engine_time_it_had_reached(
    tmp_path: Path,
) -> None:
    """The machine's clock ran 20 s fast, so the daemon began the next trading day 20 s early;
    time synchronisation at the next start sets the clock back, before the boundary. Engine time
    never runs backwards (a clock stepped back while running is held at the last stamp), and a
    restart does not undo that: the restarted engine goes on from where it was, so a lock "until
    the day ends" is set against the day it had begun, not the boundary it already passed."""
    gateway = pinned_wall()
    ruleset, boundary = _day_ends_soon(gateway, 8.0)
    sim = _simulator(gateway)
    trader = Trader(sim)
    daemon = _daemon(sim, ruleset, tmp_path, lambda: gateway() + timedelta(seconds=20))
    try:
        engine = daemon.engines[ACCOUNT]
        assert wait_until(lambda: engine.now is not None and engine.now > boundary, 5.0)
        reached = engine.now
        daemon.stop()
        assert gateway() < boundary  # the clock set right: the boundary is still ahead
        daemon = _daemon(sim, ruleset, tmp_path, gateway)
        engine = daemon.engines[ACCOUNT]
        assert engine.now is not None and reached is not None and engine.now >= reached
        assert engine.calendar.trading_day_end(engine.now) > boundary
    finally:
        daemon.stop()
        trader.close()
        sim.stop()
