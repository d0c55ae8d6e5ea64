"""The journal's retention never costs a restart anything: the daemon rebuilds the same state
after a prune as before it — also when it was killed between two of the prune's batches —
``engine history`` shows the retained days as before and says where the kept journal begins,
and the prune runs by itself once a trading day, logged with how many rows went."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.retention import retained_from
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, sim_config, wait_until
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.events import AccountUpdate
from simple_risk.engine.model import Ruleset
from simple_risk.resources import default_ruleset_path
from tests.e2e.harness import FAST_OPTIONS, QUIET_DAY_LIMITS, build_ruleset
from tests.pinned import PINNED_START, pinned_wall

from .conftest import ACCOUNT, Running, Start, quiet_simulator

CHICAGO = ZoneInfo("America/Chicago")


def _daemon(config: DaemonConfig, rulesets: dict[int, Ruleset], at: datetime) -> Daemon:
    """A daemon over ``config``'s data directory, not started, its wall fixed at ``at``,
    holding the account's lease (only the holder prunes, or restores)."""
    options = dataclasses.replace(FAST_OPTIONS, wall=lambda: at)
    daemon = Daemon(config, rulesets, store=open_store(config), options=options)
    daemon.ownership.acquire_all(at)
    return daemon


def _close(daemon: Daemon) -> None:
    """Give the lease back (as a clean stop does) and close the store."""
    daemon.store.release_lease(ACCOUNT, daemon.ownership.owner)
    daemon.store.close()


def _rebuilt(config: DaemonConfig, rulesets: dict[int, Ruleset], at: datetime) -> dict[str, Any]:
    """What a restart at ``at`` rebuilds of the account: its engine's whole state."""
    daemon = _daemon(config, rulesets, at)
    try:
        daemon.restore()
        return daemon.engines[ACCOUNT].snapshot()
    finally:
        _close(daemon)


def _copy(config: DaemonConfig, to: Path) -> DaemonConfig:
    """The same daemon over a copy of its data directory (a restart that changes nothing)."""
    shutil.copytree(config.data_dir, to)
    return dataclasses.replace(
        config, data_dir=to, database=f"sqlite:///{to / 'simple-risk.db'}", log_dir=to / "log"
    )


def _a_day_with_the_daemons_own_close(h: Running) -> None:
    """A position without a stop, closed by the daemon once its grace ran out (a firing and
    its intent, which are not pruned), and a round trip of the trader's."""
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 0, "the daemon's close", timeout=20)
    h.trader.buy(ACCOUNT, "MES")
    h.trader.sell(ACCOUNT, "MES")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the round trip")


def test_a_restart_after_pruning_rebuilds_the_same_state_even_killed_between_batches(
    start: Start, short_dir: Path
) -> None:
    h = start(grace=0.5, retention_days=None)  # nothing pruned while it runs: by hand below
    _a_day_with_the_daemons_own_close(h)
    h.daemon.stop()  # its last snapshot covers the whole journal
    config, rulesets, store = h.daemon.config, h.daemon.rulesets, h.daemon.store
    cut = h.sim.clock() + timedelta(seconds=1)
    # a kill after two more events were journaled and before the next snapshot: a restart
    # replays them after the snapshot, which the prune must leave alone
    balance = Decimal("49000")
    tail = [
        AccountUpdate(
            at=cut + timedelta(seconds=i),
            account_id=ACCOUNT,
            name="X",
            balance=balance - i,
            can_trade=True,
        )
        for i in range(2)
    ]
    store.append_events(ACCOUNT, tail)
    journaled = store.events_since(ACCOUNT, 0)
    since = journaled[0].at - timedelta(seconds=1)
    restart_at = cut + timedelta(minutes=5)
    unpruned = _copy(config, short_dir / "before")
    before = _rebuilt(unpruned, rulesets, restart_at)
    with open_store(unpruned) as copy:
        history = copy.history(since)  # with what the restart's replay recorded

    pruner = _daemon(config, rulesets, restart_at)  # not started: its writer is None, so
    retention = pruner.persistence.retention  # each prune() is one batch, as if killed after
    retention.batch = 3
    retention.prune(pruner.store, ACCOUNT, cut, frozenset())
    assert retention.pruned[ACCOUNT] == 3
    _close(pruner)
    killed = _copy(config, short_dir / "killed")
    assert _rebuilt(killed, rulesets, restart_at) == before

    pruner = _daemon(config, rulesets, restart_at)
    retention = pruner.persistence.retention
    retention.batch = 3
    while True:
        gone = retention.pruned.get(ACCOUNT, 0)
        retention.prune(pruner.store, ACCOUNT, cut, frozenset())
        if retention.pruned.get(ACCOUNT, 0) == gone:
            break
    left = pruner.store.events_since(ACCOUNT, 0)
    _close(pruner)
    assert [entry.event for entry in left[-2:]] == tail  # after the snapshot: all kept
    assert len(left) < len(journaled)
    assert _rebuilt(config, rulesets, restart_at) == before

    with open_store(config) as reopened:
        kept_since = reopened.journal_kept_since(ACCOUNT)[ACCOUNT]
        assert reopened.history(kept_since) == [item for item in history if item.at >= kept_since]
        # what is not fills is not pruned: the daemon's close is still told
        assert [i for i in reopened.history(since) if i.kind != "fill"] == [
            i for i in history if i.kind != "fill"
        ]


def test_the_retention_keeps_whole_trading_days_counted_back_from_today() -> None:
    calendar = TradingCalendar()  # 17:00 Chicago boundary, weekends off
    wednesday = PINNED_START.date()
    # today, Tuesday, Monday: Monday's day began on Sunday at 17:00 Chicago
    start_ = retained_from(calendar, wednesday, 3)
    assert start_ == calendar.trading_day_start(wednesday - timedelta(days=2))
    # five trading days back from Wednesday skip the weekend: from Thursday a week before
    assert retained_from(calendar, wednesday, 5) == calendar.trading_day_start(
        wednesday - timedelta(days=6)
    )
    assert retained_from(calendar, wednesday, 1) == calendar.trading_day_start(wednesday)


def test_the_daemon_prunes_by_itself_at_the_trading_day_reset_and_logs_it(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wall = pinned_wall()
    boundary = (wall().astimezone(CHICAGO) + timedelta(seconds=6)).replace(microsecond=0)

    def day_ends_soon(ruleset: Ruleset) -> Ruleset:
        calendar = dataclasses.replace(ruleset.calendar, trading_day_starts=boundary.time())
        return dataclasses.replace(ruleset, calendar=calendar)

    ruleset = build_ruleset(params=QUIET_DAY_LIMITS, transform=day_ends_soon)
    sim = quiet_simulator(clock=wall).start()
    config = dataclasses.replace(
        sim_config(
            sim.base_url,
            sim.username,
            sim.api_key,
            [ACCOUNT],
            short_dir,
            ruleset_path=default_ruleset_path(),
        ),
        retention_days=1,
    )
    options = dataclasses.replace(FAST_OPTIONS, wall=wall)
    daemon = Daemon(config, {ACCOUNT: ruleset}, store=open_store(config), options=options)
    trader = Trader(sim)
    caplog.set_level(logging.INFO, logger="simple_risk.daemon.retention")
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0)
        trader.buy(ACCOUNT, "MES")
        trader.sell(ACCOUNT, "MES")
        assert wait_until(lambda: trader.size(ACCOUNT) == 0, 5.0)
        retention = daemon.persistence.retention
        assert retention.pruned.get(ACCOUNT, 0) == 0  # the day's rows are all retained
        assert wall() < boundary, "the trades took longer than the day had left"
        assert wait_until(lambda: retention.pruned.get(ACCOUNT, 0) > 0, 20.0), "no prune"
        left = daemon.store.events_since(ACCOUNT, 0)
        newest = daemon.store.latest_snapshot(ACCOUNT)
        assert left and newest is not None and newest.journal_seq is not None
        # what stays: the new day's entries, those after the snapshot, and the newest one
        assert all(
            entry.at >= boundary or entry.seq > newest.journal_seq or entry is left[-1]
            for entry in left
        )
        assert wait_until(
            lambda: any("journal row(s) from before" in r.getMessage() for r in caplog.records),
            5.0,
        )
        daemon.store.append_events(ACCOUNT, [])  # the store still takes the day's journal
    finally:
        daemon.stop()
        daemon.store.close()
        trader.close()
        sim.stop()


def test_a_rebuild_over_a_pruned_journal_says_from_when_the_journal_is_kept(
    start: Start,
) -> None:
    """A snapshot this version cannot read (a downgrade) makes a start rebuild from the
    journal: once pruned, that is not the whole journal, and the alert says from when."""
    h = start(grace=0.5, retention_days=None)
    _a_day_with_the_daemons_own_close(h)
    h.daemon.stop()
    config, rulesets, store = h.daemon.config, h.daemon.rulesets, h.daemon.store
    restart_at = h.sim.clock() + timedelta(minutes=5)
    pruner = _daemon(config, rulesets, restart_at)
    pruner.persistence.retention.prune(pruner.store, ACCOUNT, restart_at, frozenset())
    assert pruner.persistence.retention.pruned[ACCOUNT] > 0
    _close(pruner)
    kept = store.events_since(ACCOUNT, 0)[0].at
    store.save_snapshot(ACCOUNT, restart_at, {"engine": {"version": -1}}, store.last_seq(ACCOUNT))
    daemon = _daemon(config, rulesets, restart_at)
    try:
        daemon.restore()
        said = [alert["message"] for alert in daemon.alerter.recent]
    finally:
        _close(daemon)
    assert any(
        f"rebuilt from the journal kept since {kept.isoformat(timespec='seconds')} (older "
        "entries were pruned: retention_days) instead" in message
        for message in said
    ), said
