"""`engine history` reads firings, lockouts, intents, admin actions and alerts in time order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simple_risk.store import Store, StoreError

from .samples import (
    ACCOUNT,
    DAY_END,
    OTHER_ACCOUNT,
    T0,
    daily_loss_firing,
    day_lockout,
    flatten_intents,
)


@pytest.fixture
def busy_day(store: Store) -> Store:
    store.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    for key in (i["key"] for i in flatten_intents()):
        store.intent_started(key, T0 + timedelta(milliseconds=5))
        store.intent_finished(key, T0 + timedelta(milliseconds=800), "done")
    cooldown_at = T0 + timedelta(minutes=10)
    cooldown = {
        "rule": "cooldown-after-loss",
        "account": OTHER_ACCOUNT,
        "at": cooldown_at,
        "severity": "warning",
        "message": "Order P&L -212.50 ≤ -200: 15 minute cooldown",
        "item": "9000000077",
    }
    lock = {
        "scope": "account",
        "reason": "cooldown",
        "start": cooldown_at,
        "end": cooldown_at + timedelta(minutes=15),
    }
    (cooldown_lock,) = store.record_firing(cooldown, [lock]).lockout_ids
    store.clear_lockout(
        cooldown_lock, now=T0 + timedelta(minutes=12), by="desk-lead", why="test order"
    )
    store.record_admin_action(
        at=T0 + timedelta(minutes=20),
        who="desk-lead",
        action="reload",
        why="raise daily limit for the funded account",
        result="ok: 12 rules",
        args={"ruleset": "rulesets/topstep.yaml"},
    )
    return store


def test_everything_since_a_time_comes_in_order(busy_day: Store) -> None:
    items = busy_day.history(T0 - timedelta(hours=1))
    assert [(item.kind, item.rule) for item in items] == [
        ("firing", "daily-realized-loss"),
        ("lockout", "daily-realized-loss"),
        ("intent", "daily-realized-loss"),
        ("intent", "daily-realized-loss"),
        ("firing", "cooldown-after-loss"),
        ("lockout", "cooldown-after-loss"),
        ("lockout_cleared", "cooldown-after-loss"),
        ("admin", None),  # the clear, audited in the same transaction
        ("admin", None),
    ]
    assert [item.at for item in items] == sorted(item.at for item in items)
    assert items[1].summary == f"account locked until {DAY_END.isoformat()}: daily loss limit"
    assert items[2].summary == "cancel orders: done"
    assert items[4].summary.startswith("warning cooldown-after-loss [9000000077]: ")
    assert items[6].summary.endswith("cleared by desk-lead: test order")
    assert items[7].summary == "desk-lead clear_lockout: cleared (test order)"
    assert items[8].details["args"] == {"ruleset": "rulesets/topstep.yaml"}


def test_filters_by_rule_account_kind_and_window(busy_day: Store) -> None:
    since = T0 - timedelta(hours=1)
    by_rule = busy_day.history(since, rule="cooldown-after-loss")
    assert [item.kind for item in by_rule] == ["firing", "lockout", "lockout_cleared"]
    by_account = busy_day.history(since, account=ACCOUNT)
    assert {item.account for item in by_account} == {ACCOUNT}
    assert len(by_account) == 4
    assert [i.kind for i in busy_day.history(since, kinds=["admin", "lockout_cleared"])] == [
        "lockout_cleared",
        "admin",
        "admin",
    ]
    window = busy_day.history(T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=12))
    assert [item.kind for item in window] == ["firing", "lockout"]
    assert busy_day.history(T0 + timedelta(hours=1)) == []
    newest = busy_day.history(since, limit=2)
    assert [item.summary for item in newest] == [
        item.summary for item in busy_day.history(since)[-2:]
    ]
    assert [item.kind for item in newest] == ["admin", "admin"]
    with pytest.raises(StoreError, match="unknown history kinds quotes"):
        busy_day.history(since, kinds=["quotes"])  # type: ignore[list-item]


def test_an_open_intent_shows_at_its_creation(store: Store) -> None:
    store.record_firing(daily_loss_firing(), [], flatten_intents()[:1])
    (item,) = store.history(T0, kinds=["intent"])
    assert (item.at, item.summary) == (T0, "cancel orders: waiting")


def test_the_daemons_alerts_are_kept_for_history_by_account_and_as_the_daemons_own(
    store: Store,
) -> None:
    store.record_alert(at=T0, level="critical", message="user hub down for 45s", account=None)
    store.record_alert(
        at=T0 + timedelta(minutes=1),
        level="warning",
        message="canTrade is false on 150KTC",
        account=OTHER_ACCOUNT,
    )
    store.record_alert(
        at=T0 + timedelta(minutes=2),
        level="critical",
        message="the close keeps failing",
        account=ACCOUNT,
    )
    every = store.history(T0 - timedelta(hours=1), kinds=["alert"])
    assert [(item.account, item.summary) for item in every] == [
        (None, "critical: user hub down for 45s"),
        (OTHER_ACCOUNT, "warning: canTrade is false on 150KTC"),
        (ACCOUNT, "critical: the close keeps failing"),
    ]
    assert every[0].details["level"] == "critical"
    # one account's: its own and the daemon's, never another account's (as status shows them)
    mine = store.history(T0 - timedelta(hours=1), account=ACCOUNT, kinds=["alert"])
    assert [item.summary for item in mine] == [
        "critical: user hub down for 45s",
        "critical: the close keeps failing",
    ]
    # an alert belongs to no rule
    assert store.history(T0 - timedelta(hours=1), rule="daily-realized-loss") == []


def test_an_observed_intent_that_had_nothing_to_do_says_so_in_words(store: Store) -> None:
    """Observe mode records what enforcing would have sent; with nothing to send, history
    read "would nothing to send"."""
    intent = {**flatten_intents()[0], "would": []}
    store.record_firing(daily_loss_firing(), [], [intent])
    (item,) = store.history(T0, kinds=["intent"])
    assert item.summary.startswith("OBSERVED, not enforced: nothing to send (")


def test_one_clear_of_a_lock_set_twice_is_one_history_item(store: Store) -> None:
    """The daily loss rule fired again while its lock held (a second losing fill): two stored
    rows of one lock. The admin cleared it once; history listed the clear once per row, as if
    two locks had been lifted, each by its row number."""
    for minutes in (0, 5):
        at = T0 + timedelta(minutes=minutes)
        store.record_firing(daily_loss_firing(at=at), [dict(day_lockout(), start=at)], [])
    rows = [lock.id for lock in store.active_lockouts(T0 + timedelta(minutes=6), ACCOUNT)]
    store.clear_lockouts(rows, now=T0 + timedelta(minutes=7), by="desk-lead", why="one more try")
    (item,) = store.history(T0, kinds=["lockout_cleared"])
    assert item.summary == "account lock cleared by desk-lead: one more try"
    assert item.details["lockout_ids"] == rows
    assert len(store.history(T0, kinds=["lockout"])) == 2  # set twice: two items, as it was


def test_the_days_alerts_are_read_back_newest_kept_and_a_nul_byte_is_stored(
    store: Store,
) -> None:
    for minute in range(5):
        store.record_alert(
            at=T0 + timedelta(minutes=minute), level="warning", message=f"m{minute}", account=None
        )
    # an exception's words may hold NUL, which PostgreSQL's text refuses
    store.record_alert(
        at=T0 + timedelta(minutes=6), level="critical", message="a\x00b", account=ACCOUNT
    )
    back = store.alerts_since(T0 + timedelta(minutes=2), limit=3)
    assert [(message, account) for _, _, message, account in back] == [
        ("m3", None),
        ("m4", None),
        ("a\\0b", ACCOUNT),
    ]
