"""`admin lockout clear` against a real daemon: a rule still broken locks again — and is
enforced again — at its next firing (docs/admin.md); a reconcile alone does not undo the clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from simple_risk.daemon.changes import _record_clear
from simple_risk.engine.lockouts import Lock
from simple_risk.store import Store
from tests.store.samples import ACCOUNT as SAMPLE_ACCOUNT
from tests.store.samples import DAY_END, T0, daily_loss_firing, day_lockout

from .conftest import ACCOUNT, Running, Start
from .test_server import TINY_LOSS_LIMIT, day_locked


def firings_of(run: Running, rule: str) -> int:
    """How many times ``rule`` fired on its breach (not the lock's enforcement firings), as
    journaled: the store writer writes behind the engine, so everything queued is flushed first."""
    writer = run.daemon.persistence.writer
    assert writer is not None and writer.flush(timeout=10.0)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    items = run.daemon.store.history(since, rule=rule, kinds=["firing"], limit=100)
    return sum(1 for item in items if "Daily realized P&L" in item.summary)


def test_a_cleared_daily_loss_lock_comes_back_with_the_next_fill_and_is_enforced(
    start: Start,
) -> None:
    run = start(TINY_LOSS_LIMIT)
    day_locked(run)
    assert firings_of(run, "daily-realized-loss") == 1

    cleared = run.admin(
        "lockout_clear", {"account": ACCOUNT, "scope": "all", "reason": "one more try"}
    )["cleared"]
    assert [lock["rule"] for lock in cleared] == ["daily-realized-loss"]
    assert run.status()["lockouts"] == []

    # a reconcile re-reads the same losing day: the clear holds
    reconciles = run.daemon.reconciles
    run.daemon.request_reconcile(ACCOUNT, "test")
    run.wait(lambda: run.daemon.reconciles > reconciles, "a reconcile")
    assert not run.locked_by("daily-realized-loss")
    assert firings_of(run, "daily-realized-loss") == 1

    # the day is still below the limit: the trader's next fill locks and flattens again
    run.trader.buy(ACCOUNT, "MNQ")
    run.wait(lambda: run.locked_by("daily-realized-loss"), "the lockout to come back")
    run.wait(lambda: run.trader.size(ACCOUNT) == 0, "the new position to be closed")
    # the firing is told (and queued for the journal) just after its intents are worked
    run.wait(lambda: firings_of(run, "daily-realized-loss") == 2, "the second firing journaled")
    (lock,) = [lock for lock in run.status()["lockouts"] if lock["rule"] == "daily-realized-loss"]
    assert lock["kind"] == "lock"


def test_one_clear_of_a_lock_set_twice_is_audited_once(tmp_path: Path) -> None:
    """A lock its rule set twice (it fired again while locked) has two stored rows; the
    admin cleared one lock, once: the audit (and engine history) said it twice."""
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        for minutes in (0, 5):
            at = T0 + timedelta(minutes=minutes)
            store.record_firing(daily_loss_firing(at=at), [dict(day_lockout(), start=at)], [])
        lock = Lock(
            account=SAMPLE_ACCOUNT,
            scope="account",
            symbol=None,
            rule="daily-realized-loss",
            reason="daily loss limit",
            kind="lock",
            set_at=T0 + timedelta(minutes=5),
            ends_at=DAY_END,
        )
        assert len(store.active_lockouts(T0 + timedelta(minutes=6), SAMPLE_ACCOUNT)) == 2
        now = T0 + timedelta(minutes=7)
        _record_clear(store, SAMPLE_ACCOUNT, [lock], now, "desk-lead", "one more try")
        assert store.active_lockouts(now, SAMPLE_ACCOUNT) == []
        audits = [a for a in store.admin_actions() if a.action == "clear_lockout"]
        assert [(a.who, a.why, a.result) for a in audits] == [
            ("desk-lead", "one more try", "cleared")
        ]
        assert audits[0].args["lockout_ids"] == [1, 2]
    finally:
        store.close()
