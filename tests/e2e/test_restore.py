"""Restarts rebuild state from the latest snapshot and the journal after it (issue #13 item 4).

A snapshot always records the journal position it covers, a replay never records a firing
again, and a restart costs the events journaled since the last snapshot — checked over two
consecutive restarts after a run whose snapshots all failed (so the first restart has the
whole journal to replay, and locks change while it replays). A restart over a big journal
goes live in seconds, with REST's word over the journal's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.topstepx.outgoing import modify_stop_request
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import wait_until
from simple_risk.engine import Engine
from simple_risk.engine.events import OrderSide
from simple_risk.engine.model import ActionSpec, LockoutSpec, Ruleset
from simple_risk.store import Store, StoreError

from .harness import ACCOUNT, FAST_OPTIONS, OTHER, Harness, Start, build_ruleset

RULE = "daily-realized-loss"
ISOLATED_LIMITS = {"max_unrealized_loss": 100000, "max_unrealized_profit": 100000}


def _firings(store: Store) -> int:
    since = datetime.now(UTC) - timedelta(days=2)
    return len(store.history(since, rule=RULE, account=ACCOUNT, kinds=["firing"]))


def _restart(h: Harness) -> Daemon:
    """A new daemon over the same data directory, as far as its restore (a kill -9 after)."""
    daemon = Daemon(
        h.daemon.config,
        h.daemon.rulesets,
        store=open_store(h.daemon.config),
        options=FAST_OPTIONS,
    )
    daemon.ownership.acquire_all(daemon.clock.now())  # as start does: restore holds the leases
    daemon.restore()
    return daemon


def _started_again(h: Harness, wall: Callable[[], datetime] | None) -> Daemon:
    """A new daemon over the stopped one's data directory, started on the same wall clock."""
    daemon = Daemon(
        h.daemon.config,
        h.daemon.rulesets,
        store=open_store(h.daemon.config),
        options=dataclasses.replace(FAST_OPTIONS, wall=wall),
    )
    daemon.start()
    return daemon


def _locked(daemon: Daemon) -> bool:
    return any(lock.rule == RULE for lock in daemon.engines[ACCOUNT].locks(ACCOUNT))


def _broken(*args: object, **kwargs: object) -> None:
    raise StoreError("disk full")


def _lose_the_day(h: Harness) -> None:
    h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, h.trader.price("MNQ") - 500)
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.trader.move("EP", Decimal("-10.5"))
    h.trader.sell(ACCOUNT, "EP")
    h.wait(lambda: h.locked_by(RULE), "the lockout")


@pytest.fixture
def locked_without_snapshots(start: Start, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """A day that hit the daily loss limit while no snapshot could be saved."""
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    monkeypatch.setattr(h.daemon.store, "save_snapshot", _broken)
    _lose_the_day(h)
    h.daemon.stop()
    return h


def test_a_failing_snapshot_raises_a_critical_alert(locked_without_snapshots: Harness) -> None:
    alerts = locked_without_snapshots.daemon.alerter.recent
    assert any(
        a["level"] == "critical" and "snapshot could not be saved" in a["message"] for a in alerts
    )


def test_two_restarts_replay_each_event_once_and_record_no_firing_again(
    locked_without_snapshots: Harness,
) -> None:
    h = locked_without_snapshots
    recorded = _firings(h.daemon.store)
    assert recorded >= 1

    first = _restart(h)
    assert first.replayed[ACCOUNT] > 0  # no snapshot: the whole journal
    assert _locked(first)
    snapshot = first.store.latest_snapshot(ACCOUNT)
    assert snapshot is not None
    assert snapshot.journal_seq == first.store.last_seq(ACCOUNT)
    assert _firings(first.store) == recorded

    second = _restart(h)
    assert second.replayed[ACCOUNT] == 0  # nothing journaled since the first restart's snapshot
    assert _locked(second)
    assert _firings(second.store) == recorded
    assert not any(f.rule_id == RULE for f in [*first.firings, *second.firings])


def test_a_firing_the_store_missed_is_recorded_once_by_the_next_restart(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as if the daemon died between journaling the losing fill and recording its firing
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    monkeypatch.setattr(h.daemon.store, "save_snapshot", _broken)
    monkeypatch.setattr(h.daemon.store, "record_firing", _broken)
    _lose_the_day(h)
    h.daemon.stop()
    monkeypatch.undo()
    assert _firings(h.daemon.store) == 0

    first = _restart(h)
    assert _firings(first.store) == 1
    assert [f.rule_id for f in first.firings].count(RULE) == 1
    second = _restart(h)
    assert _firings(second.store) == 1
    assert _locked(second)


def _snapshots_of_another_version(h: Harness) -> None:
    """Every stored snapshot as a simple-risk with another snapshot format wrote it (a
    downgrade, or a format this version cannot read): the restart cannot use it."""
    database = h.daemon.config.data_dir / "simple-risk.db"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE engine_snapshots SET state = json_set(state, '$.engine.version', 99)")


def test_a_restart_says_it_restored_the_snapshot(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    _lose_the_day(h)
    h.daemon.stop()  # snapshots every account
    said = _restart_says(h, caplog, "restored")
    assert len(said) == 1 and "from its snapshot of" in said[0], said


def test_a_restart_without_a_snapshot_says_it_rebuilt_from_the_journal(
    locked_without_snapshots: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    said = _restart_says(locked_without_snapshots, caplog, "rebuilt")
    assert len(said) == 1 and "from the journal (no snapshot)" in said[0], said


def _restart_says(h: Harness, caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    """Restart over ``h``'s data (the lock must come back); the restore's log lines with
    ``word``."""
    with caplog.at_level(logging.INFO, logger="simple_risk.daemon.persistence"):
        again = _restart(h)
    assert _locked(again)
    return [r.getMessage() for r in caplog.records if word in r.getMessage()]


def test_a_snapshot_this_version_cannot_read_is_rebuilt_from_the_journal_and_alerted(
    start: Start,
) -> None:
    """After an upgrade (or a downgrade) whose snapshot format differs, the restart used to
    log "snapshot not usable; starting fresh" — a warning in the log alone, and in words
    that said the day was gone. The day is rebuilt from the whole journal (the lock comes
    back), and the trader is told so where alerts go, with what the journal cannot hold."""
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    _lose_the_day(h)
    h.daemon.stop()
    _snapshots_of_another_version(h)

    again = _restart(h)
    assert _locked(again)
    assert again.replayed[ACCOUNT] == again.store.last_seq(ACCOUNT)  # the whole journal
    alerts = [a for a in again.alerter.recent if "snapshot" in a["message"]]
    assert len(alerts) == 1, alerts
    assert alerts[0]["level"] == "warning"
    message = alerts[0]["message"]
    assert "cannot be read by this simple-risk" in message
    assert "snapshot version 99" in message
    assert "rebuilt from the whole journal" in message
    assert "starting fresh" not in message


def test_a_journal_entry_this_version_cannot_read_is_left_out_not_a_reason_not_to_start(
    start: Start,
) -> None:
    """A journal row a newer simple-risk wrote (a downgrade), or a damaged one, stopped the
    daemon from starting ("cannot run: journal entry … cannot be read"): a daemon that does
    not start guards nothing. It is left out of the replay, said, and read no more."""
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    _lose_the_day(h)
    h.daemon.stop()
    _snapshots_of_another_version(h)  # the whole journal is replayed
    database = h.daemon.config.data_dir / "simple-risk.db"
    with sqlite3.connect(database) as db:
        (seq,) = db.execute(
            "SELECT max(seq) FROM journal WHERE kind = 'AccountUpdate' AND account = ?",
            (ACCOUNT,),
        ).fetchone()
        db.execute(
            "UPDATE journal SET payload = json_set(payload, '$.margin_used', 12) "
            "WHERE kind = 'AccountUpdate' AND account = ? AND seq = ?",
            (ACCOUNT, seq),
        )

    again = _restart(h)
    assert _locked(again)  # the fills that lost the day are read
    alerts = [a for a in again.alerter.recent if "journaled event" in a["message"]]
    assert len(alerts) == 1, again.alerter.recent
    message = alerts[0]["message"]
    said = f"1 journaled event(s) cannot be read by this simple-risk (the first, {ACCOUNT}/{seq}:"
    assert said in message, message
    assert "margin_used" in message and "reconciled with the gateway" in message
    again.store.close()

    third = _restart(h)  # the snapshot the restore wrote covers the unreadable entry
    assert _locked(third)
    assert not [a for a in third.alerter.recent if "journaled event" in a["message"]]
    third.store.close()


#: What the engine snapshot gained after its format (version 1) was first written, by where
#: it sits; a restore reads a snapshot without them (an earlier simple-risk's) as before them.
LATER_KEYS = {
    "engine": ("unknowns", "derived"),
    "account": ("own_tags", "own_sizes"),
    "position": (
        "stop_ticks",
        "stop_risk",
        "segment_at",
        "unprotected_banked",
        "protected_by_risk",
    ),
    "ledger": ("low_water_pnl",),
    "lock": ("opening_fill", "opening_order"),
    "state": ("cleared", "fired"),
}


def _as_first_written(state: dict[str, Any]) -> dict[str, Any]:
    def strip(part: dict[str, Any], where: str) -> None:
        for key in LATER_KEYS[where]:
            part.pop(key, None)

    strip(state, "engine")
    for account in state["accounts"]:
        strip(account, "account")
        strip(account["ledger"], "ledger")
        for position in account["positions"]:
            strip(position, "position")
        for lock in account["locks"]:
            strip(lock, "lock")
    for rule_state in state["states"]:
        strip(rule_state, "state")
    return state


def _snapshots_of_the_first_format(h: Harness) -> None:
    database = h.daemon.config.data_dir / "simple-risk.db"
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, state FROM engine_snapshots").fetchall()
        assert rows
        for row_id, text in rows:
            state = json.loads(text)
            state["engine"] = _as_first_written(state["engine"])
            db.execute(
                "UPDATE engine_snapshots SET state = ? WHERE id = ?", (json.dumps(state), row_id)
            )


def test_a_snapshot_an_earlier_version_wrote_restores_the_lock_and_the_day(start: Start) -> None:
    """An upgrade mid-day: the snapshot the earlier version left lacks what the format gained
    since; the restart restores it all the same — the lock, the day's P&L — rather than
    falling back to the journal."""
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    _lose_the_day(h)
    day_pnl = h.daemon.engines[ACCOUNT].account(ACCOUNT).ledger.day_realized
    h.daemon.stop()
    _snapshots_of_the_first_format(h)

    again = _restart(h)
    assert _locked(again)
    assert again.replayed[ACCOUNT] == 0  # the snapshot was used, not the whole journal
    assert again.engines[ACCOUNT].account(ACCOUNT).ledger.day_realized == day_pnl
    assert not [a for a in again.alerter.recent if "snapshot" in a["message"]]


def test_a_position_an_earlier_version_snapshotted_comes_back_with_its_stop(
    start: Start,
) -> None:
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    h.trader.buy(ACCOUNT, "MNQ")
    h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, h.trader.price("MNQ") - 20)

    def protected(engine: Engine) -> bool:
        state = engine.account(ACCOUNT)
        return state is not None and any(p.protected for p in state.positions.values())

    h.wait(
        lambda: h.daemon.on_engine(lambda: protected(h.daemon.engines[ACCOUNT])),
        "the stop protecting the position",
    )
    h.daemon.stop()
    _snapshots_of_the_first_format(h)

    again = _restart(h)  # restored, its engine thread not started: read it directly
    assert again.replayed[ACCOUNT] == 0  # the snapshot was used
    assert protected(again.engines[ACCOUNT])
    assert not [a for a in again.alerter.recent if "snapshot" in a["message"]]


GRACE = "no-stop-loss-grace"


def _recorded(daemon: Daemon) -> list[tuple[str, str, str]]:
    """Every firing of the store as recorded: rule, item and stamp, in recording order."""
    database = daemon.config.data_dir / "simple-risk.db"
    with sqlite3.connect(database) as db:
        return [
            (str(rule), str(item), str(at))
            for rule, item, at in db.execute(
                "SELECT rule_id, item_key, fired_at FROM firings ORDER BY id"
            )
        ]


def test_a_firing_a_clock_tick_set_off_is_not_recorded_again_by_replay(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The long chaos run once reported a firing recorded out of order. The cause: the
    journal has no clock ticks, so replaying it re-derives a ``for:`` rule a tick fired at
    the next journaled event — a second record of the same firing, stamped later than the
    first but earlier than firings recorded after it. Two unprotected positions, one after
    the other, each closed by the no-stop grace a tick set off; no snapshot, so the restart
    replays the whole day."""
    h = start(build_ruleset(grace=1.0))
    monkeypatch.setattr(h.daemon.store, "save_snapshot", _broken)
    for ticker in ("MNQ", "MES"):
        h.trader.buy(ACCOUNT, ticker)
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, f"the grace's close of {ticker}")
    h.wait(lambda: not h.daemon.book, "the closes confirmed")
    h.daemon.stop()
    monkeypatch.undo()
    recorded = _recorded(h.daemon)
    assert [rule for rule, _, _ in recorded].count(GRACE) == 2

    first = _restart(h)
    assert first.replayed[ACCOUNT] > 0  # the whole day replayed
    assert _recorded(first) == recorded  # nothing twice, nothing out of order
    assert not first.firings  # nothing told or worked again
    assert not first.store.open_intents(ACCOUNT)


def test_a_position_opened_while_the_daemon_was_down_is_not_marked_at_old_prices(
    start: Start,
) -> None:
    """The restored engine's prices are those of its last snapshot — last night's, after a
    night down. A position the trader opened meanwhile, at today's price, must not be marked
    at them: a long bought 500 points above the old MNQ price showed a 1,000 open loss and
    daily-unrealized-loss closed it. Its open P&L is unknown until a quote of this run comes;
    from then on it is enforced as ever."""
    h = start(build_ruleset(params={"max_trades_per_minute": 100}))
    contract = h.trader.contract("MNQ")
    engine = h.daemon.engines[ACCOUNT]

    def marked(daemon: Daemon, engine: Engine) -> bool:
        state = daemon.on_engine(lambda: engine.account(ACCOUNT))
        position = state.positions.get(contract) if state is not None else None
        return position is not None and position.unrealized_pnl is not None

    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 1, "the fill")
    h.trader.move("MNQ", Decimal("0.25"))
    h.wait(lambda: marked(h.daemon, engine), "a quote marking the position")
    h.trader.sell(ACCOUNT, "MNQ")

    def flat() -> bool:
        state = h.daemon.on_engine(lambda: engine.account(ACCOUNT))
        return state is not None and contract not in state.positions

    h.wait(flat, "the daemon seeing the account flat")
    wall = h.daemon.options.wall
    h.daemon.stop()  # snapshots the engine, with the MNQ price it knew
    h.sim.set_price(contract, h.trader.price("MNQ") + 500)  # the market moves meanwhile …
    h.trader.buy(ACCOUNT, "MNQ")  # … and the trader buys there
    daemon = _started_again(h, wall)
    try:
        assert wait_until(daemon.ready.is_set, 10.0)
        restored = daemon.engines[ACCOUNT]
        assert not marked(daemon, restored), "marked at a price of the last run"
        assert not any(f.rule_id == "daily-unrealized-loss" for f in daemon.firings)
        assert h.trader.size(ACCOUNT, "MNQ") == 1
        h.trader.move("MNQ", Decimal("-200"))  # a real loss of 400: enforced
        assert wait_until(lambda: h.trader.size(ACCOUNT, "MNQ") == 0, 5.0)
        assert [f.rule_id for f in daemon.firings if f.rule_id.startswith("daily")] == [
            "daily-unrealized-loss"
        ]
    finally:
        daemon.stop()


def test_a_position_held_across_a_restart_keeps_its_marks_and_its_protection(
    start: Start,
) -> None:
    """A long whose stop locks in profit (above its entry, below the market) is protected only
    at a mark above the stop. Held across a restart with no quote yet, it keeps the marks in
    force when the last run stopped, so the no-stop rule does not close it."""
    h = start(build_ruleset(grace=1.0, params={"max_trades_per_minute": 100}))
    contract = h.trader.contract("MNQ")
    engine = h.daemon.engines[ACCOUNT]
    entry = h.trader.price("MNQ")
    h.trader.buy(ACCOUNT, "MNQ")
    stop = h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, entry - 5)
    h.wait(lambda: h.trader.size(ACCOUNT, "MNQ") == 1, "the fill")
    h.trader.move("MNQ", Decimal(10))
    h.trader.client.execute(modify_stop_request(ACCOUNT, stop, stop_price=entry + 5))

    def protected(daemon: Daemon, engine: Engine) -> bool:
        state = daemon.on_engine(lambda: engine.account(ACCOUNT))
        position = state.positions.get(contract) if state is not None else None
        return position is not None and position.protected

    h.wait(lambda: protected(h.daemon, engine), "the stop protecting the position")
    wall = h.daemon.options.wall
    h.daemon.stop()
    daemon = _started_again(h, wall)
    try:
        assert wait_until(daemon.ready.is_set, 10.0)
        assert protected(daemon, daemon.engines[ACCOUNT])
        assert not wait_until(lambda: h.trader.size(ACCOUNT, "MNQ") == 0, 2.0)
        assert not any(f.rule_id == "no-stop-loss-grace" for f in daemon.firings)
    finally:
        daemon.stop()


LOCKED_FOR = timedelta(minutes=10)


def _grace_locks_instead(ruleset: Ruleset) -> Ruleset:
    """The no-stop grace locks the account for 10 minutes instead of closing: a lockout that
    only a clock tick sets (the grace ends between two events), never re-derived by a replay
    once the trader protects the position (the next journaled event finds the rule kept)."""
    grace = ruleset.rule(GRACE)
    lock = ActionSpec(
        "lockout", {"lockout": LockoutSpec(scope="account", duration=LOCKED_FOR)}, grace.location
    )
    rules = tuple(
        dataclasses.replace(rule, then=(lock,)) if rule.id == GRACE else rule
        for rule in ruleset.rules
    )
    return dataclasses.replace(ruleset, rules=rules)


def test_a_lockout_a_clock_tick_set_survives_a_rebuild_from_the_journal(start: Start) -> None:
    """A snapshot this version cannot read (an upgrade, a downgrade, a damaged row) rebuilds
    the day from the journal, which has no clock ticks: a lockout a tick alone set was gone
    after the restart — only an alert said to check — and the trader traded while locked.
    The store's lockouts table holds it: the rebuild puts back every lockout still in force
    there, with its own end, and says so."""
    h = start(build_ruleset(grace=1.0, transform=_grace_locks_instead))
    price = h.trader.price("MNQ")
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.locked_by(GRACE), "the grace's lockout", timeout=10.0)
    engine = h.daemon.engines[ACCOUNT]
    (lock,) = h.daemon.on_engine(lambda: [lk for lk in engine.locks(ACCOUNT) if lk.rule == GRACE])
    assert lock.ends_at is not None
    h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, price - 20)  # allowed: it only reduces

    def protected() -> bool:
        state = engine.account(ACCOUNT)
        return state is not None and all(p.protected for p in state.positions.values())

    h.wait(lambda: h.daemon.on_engine(protected), "the stop journaled, the position protected")
    wall = h.daemon.options.wall
    h.daemon.stop()
    _snapshots_of_another_version(h)

    daemon = _started_again(h, wall)
    try:
        assert wait_until(daemon.ready.is_set, 10.0)
        restored = daemon.on_engine(
            lambda: [
                (lk.scope, lk.ends_at)
                for lk in daemon.engines[ACCOUNT].locks(ACCOUNT)
                if lk.rule == GRACE
            ]
        )
        assert restored == [("account", lock.ends_at)]
        alerts = [a["message"] for a in daemon.alerter.recent if "snapshot" in a["message"]]
        assert len(alerts) == 1, alerts
        assert f"1 lockout still in force restored from the store ({GRACE}" in alerts[0]
        order = h.trader.limit(ACCOUNT, "MES", OrderSide.BUY, 1, h.trader.price("MES") - 50)
        h.wait(
            lambda: order in [b["orderId"] for b in h.sent("Order/cancel")],
            "the trader's order refused",
        )
        assert h.trader.size(ACCOUNT, "MNQ") == 1  # a lockout closes nothing it began with
    finally:
        daemon.stop()


def test_a_lockout_the_admin_lifted_stays_lifted_after_a_rebuild(start: Start) -> None:
    h = start(build_ruleset(grace=1.0, transform=_grace_locks_instead))
    price = h.trader.price("MNQ")
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.locked_by(GRACE), "the grace's lockout", timeout=10.0)
    h.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, price - 20)
    cleared = h.daemon.on_engine(
        lambda: h.daemon.clear_lockouts(ACCOUNT, "all", None, "admin", "desk approved")
    )
    assert [lock.rule for lock in cleared] == [GRACE]
    h.daemon.stop()
    _snapshots_of_another_version(h)

    again = _restart(h)
    assert again.engines[ACCOUNT].locks(ACCOUNT) == []
    (alert,) = [a["message"] for a in again.alerter.recent if "snapshot" in a["message"]]
    assert "no lockout in force that the journal did not give back" in alert


def test_a_journaled_lockout_the_admin_lifted_stays_lifted_after_a_rebuild(start: Start) -> None:
    """The daily loss lock, set by a journaled fill, cleared by the admin: a rebuild from the
    whole journal derived it again from that fill, and the trader was locked out for the rest
    of the day though the admin had lifted it (the clear is in the store, not the journal)."""
    h = start(build_ruleset(params=ISOLATED_LIMITS))
    _lose_the_day(h)
    cleared = h.daemon.on_engine(
        lambda: h.daemon.clear_lockouts(ACCOUNT, "all", None, "admin", "desk approved")
    )
    lifted = sorted(lock.rule for lock in cleared)
    assert RULE in lifted  # and the loss tiers' cooldowns
    h.daemon.stop()
    _snapshots_of_another_version(h)

    again = _restart(h)
    assert again.engines[ACCOUNT].locks(ACCOUNT) == []
    (alert,) = [a["message"] for a in again.alerter.recent if "snapshot" in a["message"]]
    assert f"the admin's clear of {len(lifted)} lockouts kept" in alert


BIG_JOURNAL = 10_000  # order updates journaled after the last snapshot (snapshots failing)


def test_a_restart_over_a_big_journal_goes_live_in_seconds_with_rests_word(start: Start) -> None:
    h = start()
    below = h.trader.price("MNQ") - 200
    order_id = h.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, below)

    def known() -> Any:
        state = h.daemon.on_engine(lambda: h.daemon.engines[ACCOUNT].account(ACCOUNT))
        return state.orders.get(order_id) if state is not None else None

    h.wait(lambda: known() is not None, "the order in the facts")
    update = known().update
    wall = h.daemon.options.wall
    h.daemon.stop()
    at = h.daemon.clock.now()
    moved = [  # the trader chased it all day; the journal has every move
        dataclasses.replace(
            update,
            at=at + timedelta(milliseconds=n + 1),
            limit_price=below - Decimal("0.25") * (n % 40 + 1),
        )
        for n in range(BIG_JOURNAL)
    ]
    with open_store(h.daemon.config) as store:
        for first in range(0, BIG_JOURNAL, 2000):
            store.append_events(ACCOUNT, moved[first : first + 2000])
    began = time.monotonic()
    daemon = _started_again(h, wall)
    try:
        assert wait_until(daemon.ready.is_set, 30.0), "the restarted daemon never went live"
        took = time.monotonic() - began
        assert daemon.persistence.replayed[ACCOUNT] == BIG_JOURNAL
        assert took < 10.0, f"{BIG_JOURNAL} journaled events took {took:.1f}s to go live"
        state = daemon.on_engine(lambda: daemon.engines[ACCOUNT].account(ACCOUNT))
        assert state is not None
        assert state.orders[order_id].update.limit_price == below  # REST's word, not the journal's
    finally:
        daemon.stop()


def test_the_old_snapshots_of_every_account_are_pruned_when_accounts_snapshot_in_turn(
    start: Start,
) -> None:
    """The daemon keeps the newest snapshots of each account and deletes the older ones as it
    goes, every 20th save. Two accounts that both change between two snapshot passes save in
    turn — A, B, A, B … — and every 20th save counted over both was the same account's: the
    other's snapshots, one per snapshot_interval while it trades (30 s, tens of KB each),
    were never deleted for as long as the daemon ran."""
    h = start(accounts=(ACCOUNT, OTHER))
    persistence = h.daemon.persistence

    for _ in range(30):
        for account in (ACCOUNT, OTHER):
            h.daemon.on_engine(lambda account=account: persistence.snapshot(account), 10.0)
            assert h.daemon.saved(10.0)  # saved, not replaced by the next
    with sqlite3.connect(h.daemon.config.data_dir / "simple-risk.db") as db:
        query = "SELECT account, count(*) FROM engine_snapshots GROUP BY account"
        kept = dict(db.execute(query).fetchall())
    assert set(kept) == {ACCOUNT, OTHER}
    assert all(count <= 3 + 19 for count in kept.values()), kept
