"""Days of trading in seconds: one daemon, never restarted, and the simulator on one wall
clock that the test moves on in large steps — to each trading day's morning, to a second
before its 17:00 Chicago boundary (crossed in real time), over Friday's close, the weekend
and Sunday's open.

Each day a scripted trader loses down to the daily loss limit, is locked out (and cooled
down a minute for the fill rate), tries a new trade while locked (closed), and after the
boundary opens a position without a stop (closed by the no-stop grace, on time). Across the
days: the daily lock ends at its day's boundary and not before; the day's P&L and trade count
start from zero each day; the week's P&L adds up the week's days and starts again at Friday
17:00 only; the history lists each day's lock on its day; and what the daemon keeps in memory
(its RSS, the engine's state, the alerts and firings it shows, the intents it tracks) and on
disk (snapshots, the journal) stays bounded.

CI crosses Friday, the weekend and Monday; ``--runslow`` runs two full weeks.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.engine.engine import Engine
from tests.pinned import SteppedWall

from .harness import (
    ACCOUNT,
    FAST_OPTIONS,
    QUIET_DAY_LIMITS,
    build_ruleset,
    guarding_config,
    pinned_simulator,
)

CHICAGO = ZoneInfo("America/Chicago")
GRACE = 3.0  # the no-stop grace (for:), scaled down from 30 s
SHORT = [date(2027, 1, 15), date(2027, 1, 18)]  # Fri, (the weekend), Mon
LONG = [date(2027, 1, 11) + timedelta(days=d) for d in range(12) if (11 + d) % 7 not in (2, 3)]


def _at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=CHICAGO)


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Week:
    """The daemon, the simulator and the trader on one stepped wall."""

    def __init__(self, tmp_path: Path, start: datetime) -> None:
        self.wall = SteppedWall(start)
        self.sim = pinned_simulator(self.wall)
        self.config = guarding_config(self.sim, (ACCOUNT,), tmp_path)
        limits = QUIET_DAY_LIMITS
        ruleset = build_ruleset(params=limits, grace=GRACE)
        options = dataclasses.replace(FAST_OPTIONS, wall=self.wall)
        self.daemon = Daemon(
            self.config, {ACCOUNT: ruleset}, store=open_store(self.config), options=options
        )
        self.trader = Trader(self.sim)
        self.daemon.start()
        assert wait_until(self.daemon.ready.is_set, 10.0), "the daemon did not go live"

    @property
    def engine(self) -> Engine:
        return self.daemon.engines[ACCOUNT]

    def close(self) -> None:
        self.daemon.stop()
        self.trader.close()
        self.sim.stop()

    def step_to(self, moment: datetime, *, settle: bool = True) -> int:
        """Move the wall on and (``settle``) wait until the daemon has read the account again:
        a clock moved on this far is a sleep to it, and it reconciles before trusting its order
        facts (``settle_after`` waits later). Returns the reconcile count before the step."""
        before = self.daemon.reconciles
        self.wall.step_to(moment)
        if settle:
            self.settle_after(before)
        return before

    def settle_after(self, reconciles: int) -> None:
        assert wait_until(lambda: self.daemon.reconciles > reconciles, 10.0), "no reconcile"

    def day(self, name: str) -> object:
        return getattr(self.engine.facts(ACCOUNT)["day"], name, None)

    def week_pnl(self) -> object:
        return getattr(self.engine.facts(ACCOUNT)["week"], "realized_pnl", None)

    def locked(self, rule: str) -> bool:
        return any(lock.rule == rule for lock in self.engine.locks(ACCOUNT))

    def round_trip(self, root: str, move: Decimal) -> None:
        self.trader.buy(ACCOUNT, root)
        assert wait_until(lambda: self.trader.size(ACCOUNT, root) == 1, 5.0)
        self.trader.move(root, move)
        self.trader.sell(ACCOUNT, root)
        assert wait_until(lambda: self.trader.size(ACCOUNT, root) == 0, 5.0)

    def journal_rows(self) -> int:
        with sqlite3.connect(self.config.data_dir / "simple-risk.db") as db:
            return int(db.execute("SELECT count(*) FROM journal").fetchone()[0])

    def snapshot_rows(self) -> int:
        with sqlite3.connect(self.config.data_dir / "simple-risk.db") as db:
            query = "SELECT count(*) FROM engine_snapshots WHERE account = ?"
            return int(db.execute(query, (ACCOUNT,)).fetchone()[0])


def _no_stop_grace_on_time(week: Week) -> float:
    """A position opened without a stop on the new day is allowed (no lock closes it) and
    closed by the no-stop grace after GRACE seconds: returns how long it stood."""
    fired = week.daemon.firings_total
    week.trader.buy(ACCOUNT, "MNQ")
    assert wait_until(lambda: week.trader.size(ACCOUNT, "MNQ") == 1, 5.0)
    opened = time.monotonic()
    assert wait_until(lambda: week.trader.size(ACCOUNT, "MNQ") == 0, GRACE + 5.0)
    stood = time.monotonic() - opened
    rules = {f.rule_id for f in list(week.daemon.firings)[-(week.daemon.firings_total - fired) :]}
    assert "daily-realized-loss" not in rules, "a lock of yesterday closed today's position"
    assert "no-stop-loss-grace" in rules
    return stood


@pytest.mark.slow  # full size (two weeks) only with --runslow
@pytest.mark.timeout(900)
def test_days_of_trading_reset_each_day_and_stay_bounded(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    days = LONG if request.config.getoption("--runslow") else SHORT
    week = Week(tmp_path, _at(days[0], 8, 30))
    week_pnl = Decimal(0)
    carried, carried_fills = Decimal(0), 0  # the no-stop trade after yesterday's boundary
    sizes: list[dict[str, int]] = []
    fills_per_day = 0
    try:
        for day in days:
            week.step_to(_at(day, 9))
            assert week.engine.store.day == day
            assert week.day("realized_pnl") == carried, day
            assert week.day("trade_count") == carried_fills, day
            assert week.week_pnl() == week_pnl, f"{day}: the week's P&L went astray"
            assert not week.locked("daily-realized-loss")

            before = week.trader.day_pnl(ACCOUNT)
            week.round_trip("EP", Decimal(2))
            week.round_trip("EP", Decimal(-22))  # past the daily loss limit
            assert wait_until(lambda: week.locked("daily-realized-loss"), 5.0), day
            lock = next(lk for lk in week.engine.locks(ACCOUNT) if lk.rule == "daily-realized-loss")
            assert lock.ends_at == _at(day, 17), f"{day}: the lock ends at {lock.ends_at}"
            cooldown = next(lk for lk in week.engine.locks(ACCOUNT) if lk.kind == "cooldown")
            assert cooldown.ends_at == cooldown.set_at + timedelta(minutes=1), day  # for: 1m
            week.trader.buy(ACCOUNT, "MNQ")  # while locked: closed
            assert wait_until(lambda: week.trader.size(ACCOUNT, "MNQ") == 0, 5.0), day
            today = week.trader.day_pnl(ACCOUNT) - before  # since 09:00; the day began 17:00
            assert wait_until(lambda t=carried + today: week.day("realized_pnl") == t, 5.0), day
            fills_per_day = max(fills_per_day, int(str(week.day("trade_count"))))
            week_pnl += today
            assert week.week_pnl() == week_pnl

            reconciles = week.step_to(_at(day, 16, 59, 58), settle=False)
            assert week.locked("daily-realized-loss"), f"{day}: the lock ended before 17:00"
            assert wait_until(lambda: not week.locked("daily-realized-loss"), 5.0), day
            assert week.wall() >= _at(day, 17)
            week.settle_after(reconciles)
            next_day = day + timedelta(days=3 if day.weekday() == 4 else 1)
            assert wait_until(lambda d=next_day: week.engine.store.day == d, 2.0)
            assert (week.day("realized_pnl"), week.day("trade_count")) == (0, 0), day
            assert week.day("low_water_pnl") == 0 and week.day("consecutive_losses") == 0
            if day.weekday() == 4:  # Friday 17:00 starts Monday's trading day and week
                week_pnl = Decimal(0)
            assert week.week_pnl() == week_pnl, f"{day} 17:00: the week's P&L"
            before = week.trader.day_pnl(ACCOUNT)
            stood = _no_stop_grace_on_time(week)
            assert GRACE - 0.5 <= stood <= GRACE + 2.5, f"{day}: the for: fired after {stood}s"
            carried = week.trader.day_pnl(ACCOUNT) - before
            assert wait_until(lambda c=carried: week.day("realized_pnl") == c, 5.0), day
            carried_fills = int(str(week.day("trade_count")))
            week_pnl += carried
            assert week.week_pnl() == week_pnl

            if day.weekday() == 4:  # the weekend and Sunday's open: Monday's day goes on
                sunday_open = _at(day + timedelta(days=2), 17)
                week.step_to(sunday_open - timedelta(seconds=2))
                assert wait_until(lambda s=sunday_open: week.wall() > s, 5.0)
                time.sleep(0.5)
                assert week.engine.store.day == next_day
                assert week.week_pnl() == week_pnl

            assert wait_until(lambda: not week.daemon.book, 5.0), "an intent stayed open"
            snapshot = json.dumps(week.engine.snapshot(), default=str)
            sizes.append(
                {
                    "rss_kb": _rss_kb(),
                    "snapshot_chars": len(snapshot),
                    "fills_kept": len(week.engine.store.accounts[ACCOUNT].ledger.fills),
                    "alerts": len(week.daemon.alerter.recent),
                    "firings": len(week.daemon.firings),
                    "snapshot_rows": week.snapshot_rows(),
                    "journal_rows": week.journal_rows(),
                }
            )
            print(day, sizes[-1])  # the measure per day, shown with -s

        # each day's lock is in the history, on its day
        since = _at(days[0], 0)
        locks = week.daemon.store.history(since, kinds=["lockout"], rule="daily-realized-loss")
        assert sorted({item.at.astimezone(CHICAGO).date() for item in locks}) == days
    finally:
        week.close()

    first, last = sizes[0], sizes[-1]
    # the ledger keeps the week's fills and the windows' 8 days, never more
    assert last["fills_kept"] <= 7 * (fills_per_day + 1)
    assert last["snapshot_chars"] <= 8 * first["snapshot_chars"]
    assert last["alerts"] <= 50 and last["firings"] <= FAST_OPTIONS.firings_kept
    assert last["snapshot_rows"] <= 3 + 20  # pruned to the newest 3 every 20 snapshots
    journal_per_day = [b["journal_rows"] - a["journal_rows"] for a, b in itertools.pairwise(sizes)]
    assert all(rows <= 400 for rows in journal_per_day), journal_per_day
    assert last["rss_kb"] - first["rss_kb"] <= 30 * 1024, (first, last)
