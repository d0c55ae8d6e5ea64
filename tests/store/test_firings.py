"""A firing, its lockouts and its intents are committed together, before the executor acts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.store import Store, StoreError
from simple_risk.store import intents as intent_rows
from simple_risk.store import lockouts as lockout_rows

from .samples import (
    ACCOUNT,
    DAY_END,
    OTHER_ACCOUNT,
    T0,
    daily_loss_firing,
    day_lockout,
    flatten_intents,
)


def counts(store: Store) -> tuple[int, int, int]:
    firings = store.history(T0 - timedelta(days=1), kinds=["firing"])
    lockouts = store.history(T0 - timedelta(days=1), kinds=["lockout"])
    intents = store.history(T0 - timedelta(days=1), kinds=["intent"])
    return len(firings), len(lockouts), len(intents)


def test_a_firing_is_visible_to_another_store_as_soon_as_it_returns(
    open_store: Callable[[], Store],
) -> None:
    writer, reader = open_store(), open_store()
    recorded = writer.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    assert recorded.created
    assert len(recorded.lockout_ids) == 1
    (lock,) = reader.active_lockouts(T0)
    assert (lock.id, lock.rule, lock.end, lock.firing_id) == (
        recorded.lockout_ids[0],
        "daily-realized-loss",
        DAY_END,
        recorded.firing_id,
    )
    assert [i.key for i in reader.open_intents()] == [i["key"] for i in flatten_intents()]
    assert all(
        i.state == "pending" and i.rule == "daily-realized-loss" for i in reader.open_intents()
    )
    (firing,) = reader.history(T0, kinds=["firing"])
    assert firing.details["values"] == {
        "day.realized_pnl": "-501.74",
        "params.daily_loss_limit": 500,
    }
    assert firing.summary == (
        "critical daily-realized-loss: Daily realized P&L -501.74 reached the -500 limit"
    )


def test_a_failure_mid_transaction_leaves_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("executor thread died while the intents were being written")

    # The firing and its lockout have been flushed to the database when the intents fail.
    monkeypatch.setattr(intent_rows, "insert", crash)
    with pytest.raises(RuntimeError, match="died"):
        store.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    monkeypatch.undo()
    assert counts(store) == (0, 0, 0)
    assert store.active_lockouts(T0) == []
    # The same firing can then be recorded for real.
    assert store.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents()).created
    assert counts(store) == (1, 1, 2)


def test_a_database_error_mid_transaction_leaves_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second lockout names a firing that does not exist: the foreign key fails on flush,
    # after the firing and the first lockout were written.
    original = lockout_rows.insert

    def with_a_bad_row(s: Any, firing: Any, lockouts: Any) -> Any:
        ids = original(s, firing, lockouts)
        from simple_risk.store.models import LockoutRow

        s.add(
            LockoutRow(
                account=ACCOUNT,
                scope="account",
                rule_id="x",
                reason="x",
                firing_id=10**9,
                start_at=T0,
                end_at=DAY_END,
                bindings={},
            )
        )
        s.flush()
        return ids

    monkeypatch.setattr(lockout_rows, "insert", with_a_bad_row)
    with pytest.raises(StoreError):
        store.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    assert counts(store) == (0, 0, 0)


@pytest.mark.parametrize(
    ("lockout", "message"),
    [
        ({"scope": "account", "reason": "r", "start": T0}, "exactly one of end"),
        (
            {"scope": "account", "reason": "r", "start": T0, "end": DAY_END, "while": "x"},
            "exactly one of end",
        ),
        ({"scope": "symbol", "reason": "r", "start": T0, "end": DAY_END}, "needs its symbol"),
        ({"scope": "desk", "reason": "r", "start": T0, "end": DAY_END}, "scope must be"),
        ({"scope": "account", "reason": "r", "start": T0, "end": T0}, "is not after start"),
        (
            {"scope": "account", "reason": "r", "start": T0.replace(tzinfo=None), "end": DAY_END},
            "timezone-aware",
        ),
        ({"scope": "account", "reason": "r", "start": T0, "until": DAY_END}, "unknown keys until"),
    ],
)
def test_a_malformed_lockout_refuses_the_whole_firing(
    store: Store, lockout: dict[str, Any], message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        store.record_firing(daily_loss_firing(), [day_lockout(), lockout], flatten_intents())
    assert counts(store) == (0, 0, 0)


def test_a_malformed_firing_or_intent_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="firing is missing severity"):
        store.record_firing({k: v for k, v in daily_loss_firing().items() if k != "severity"})
    with pytest.raises(StoreError, match="needs a stable key"):
        store.record_firing(daily_loss_firing(), [], [{"kind": "flatten"}])
    twice = flatten_intents()[:1] * 2
    with pytest.raises(StoreError, match="intent keys repeat"):
        store.record_firing(daily_loss_firing(), [], twice)
    with pytest.raises(StoreError, match=r"firing values\.pnl: object cannot be stored"):
        store.record_firing(daily_loss_firing() | {"values": {"pnl": object()}})
    assert counts(store) == (0, 0, 0)


def test_replaying_a_firing_after_a_crash_records_nothing_twice(
    open_store: Callable[[], Store],
) -> None:
    first = open_store().record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    # Restart: the journal replay fires the same rule at the same engine time again.
    again = open_store()
    replayed = again.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    assert not replayed.created
    assert replayed.firing_id == first.firing_id
    assert replayed.lockout_ids == first.lockout_ids
    assert replayed.intent_keys == first.intent_keys
    assert counts(again) == (1, 1, 2)


def test_an_intent_goes_pending_in_flight_done_with_every_attempt_kept(store: Store) -> None:
    store.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    key = flatten_intents()[1]["key"]
    assert store.intent_started(key, T0 + timedelta(milliseconds=10)).state == "in_flight"
    store.intent_attempt(
        key,
        T0 + timedelta(milliseconds=20),
        "retry",
        request={"accountId": ACCOUNT, "contractId": "CON.F.US.MNQ.Z26"},
        response={"success": False, "errorCode": 429},
        error="429 Too Many Requests",
    )
    store.intent_attempt(
        key,
        T0 + timedelta(milliseconds=700),
        "ok",
        request={"accountId": ACCOUNT, "contractId": "CON.F.US.MNQ.Z26"},
        response={"success": True, "orderId": 9_000_000_003},
    )
    done = store.intent_finished(key, T0 + timedelta(seconds=1), "done")
    assert (done.state, done.attempts, done.finished_at) == ("done", 2, T0 + timedelta(seconds=1))
    assert [i.key for i in store.open_intents()] == [flatten_intents()[0]["key"]]
    attempts = store.intent_attempts(key)
    assert [(a.outcome, a.error) for a in attempts] == [
        ("retry", "429 Too Many Requests"),
        ("ok", None),
    ]
    assert attempts[1].response == {"success": True, "orderId": 9_000_000_003}
    with pytest.raises(StoreError, match="already done"):
        store.intent_started(key, T0 + timedelta(seconds=2))
    with pytest.raises(StoreError, match="no such intent"):
        store.intent_finished("nope", T0, "done")


def test_intents_in_flight_at_a_crash_come_back_open(open_store: Callable[[], Store]) -> None:
    before = open_store()
    before.record_firing(daily_loss_firing(), [day_lockout()], flatten_intents())
    cancel, flatten = (i["key"] for i in flatten_intents())
    before.intent_started(cancel, T0)
    before.intent_finished(cancel, T0 + timedelta(milliseconds=300), "done")
    before.intent_started(flatten, T0 + timedelta(milliseconds=300))
    # kill -9 here: the flatten call may or may not have reached the gateway.
    after = open_store()
    (open_intent,) = after.open_intents(ACCOUNT)
    assert (open_intent.key, open_intent.state) == (flatten, "in_flight")
    assert after.intent_started(flatten, T0 + timedelta(seconds=5)).state == "in_flight"
    assert after.open_intents(OTHER_ACCOUNT) == []


def test_a_target_wanted_again_reopens_its_finished_intent_but_not_an_open_one(
    store: Store,
) -> None:
    intent = {"key": f"{ACCOUNT}:flat", "kind": "flatten"}
    store.record_firing(daily_loss_firing(), [], [intent])
    store.intent_started(intent["key"], T0)
    later = T0 + timedelta(minutes=5)
    # Still open: a second firing wanting the same target adds no second intent.
    second = daily_loss_firing(at=later) | {"rule": "session-block-outside"}
    store.record_firing(second, [], [intent])
    (still,) = store.open_intents()
    assert (still.state, still.rule) == ("in_flight", "daily-realized-loss")
    store.intent_finished(intent["key"], later, "gave_up", error="AccountRejected")
    third = daily_loss_firing(at=later + timedelta(minutes=1)) | {"rule": "auth-loss-guard"}
    store.record_firing(third, [], [intent | {"why": "can_trade false"}])
    (reopened,) = store.open_intents()
    assert (reopened.state, reopened.rule, reopened.body["why"]) == (
        "pending",
        "auth-loss-guard",
        "can_trade false",
    )


def test_lockouts_survive_a_restart_with_the_same_end(open_store: Callable[[], Store]) -> None:
    first = open_store()
    first.record_firing(
        daily_loss_firing(),
        [
            day_lockout(),
            {
                "scope": "symbol",
                "symbol": "RTY",
                "rule": "symbol-blocks",
                "reason": "blocked root",
                "start": T0,
                "while": "lock.symbol in lists.blocked_symbols",
                "bindings": {"lock.symbol": "RTY"},
            },
            {
                "scope": "account",
                "reason": "cooldown after a 501.74 loss",
                "start": T0,
                "end": T0 + timedelta(minutes=30),
            },
        ],
    )
    before = first.active_lockouts(T0 + timedelta(minutes=1))
    first.close()
    second = open_store()
    after = second.active_lockouts(T0 + timedelta(minutes=1))
    assert after == before
    assert [(lock.end, lock.while_expr) for lock in after] == [
        (DAY_END, None),
        (None, "lock.symbol in lists.blocked_symbols"),
        (T0 + timedelta(minutes=30), None),
    ]
    assert after[1].bindings == {"lock.symbol": "RTY"}
    # The cooldown ends on time; the day lock and the while-lock stay.
    assert [lock.end for lock in second.active_lockouts(T0 + timedelta(minutes=30))] == [
        DAY_END,
        None,
    ]
    assert [lock.end for lock in second.active_lockouts(DAY_END, ACCOUNT)] == [None]
    assert second.active_lockouts(T0, OTHER_ACCOUNT) == []


def test_clearing_a_lockout_is_audited(store: Store) -> None:
    recorded = store.record_firing(daily_loss_firing(), [day_lockout()])
    (lock_id,) = recorded.lockout_ids
    cleared_at = T0 + timedelta(hours=1)
    cleared = store.clear_lockout(
        lock_id, now=cleared_at, by="risk-desk", why="fill was voided by the exchange"
    )
    assert (cleared.cleared_at, cleared.cleared_by, cleared.clear_reason) == (
        cleared_at,
        "risk-desk",
        "fill was voided by the exchange",
    )
    assert not cleared.active(cleared_at)
    assert store.active_lockouts(cleared_at) == []
    # lifted until the day ends, as a rebuild from the journal must know
    assert [lock.id for lock in store.lifted_lockouts(cleared_at, ACCOUNT)] == [lock_id]
    assert store.lifted_lockouts(DAY_END, ACCOUNT) == []
    assert store.lifted_lockouts(cleared_at, OTHER_ACCOUNT) == []
    (action,) = store.admin_actions()
    assert (action.who, action.action, action.account, action.why, action.result) == (
        "risk-desk",
        "clear_lockout",
        ACCOUNT,
        "fill was voided by the exchange",
        "cleared",
    )
    assert action.args == {"lockout_id": lock_id, "rule": "daily-realized-loss"}
    with pytest.raises(StoreError, match=f"lockout {lock_id} was already cleared"):
        store.clear_lockout(lock_id, now=cleared_at, by="risk-desk", why="again")
    with pytest.raises(StoreError, match="no lockout 999"):
        store.clear_lockout(999, now=cleared_at, by="risk-desk", why="x")


def test_the_engine_ending_a_while_lock_is_not_an_admin_action(store: Store) -> None:
    lock = {"scope": "account", "reason": "canTrade false", "start": T0, "while": "x"}
    (lock_id,) = store.record_firing(daily_loss_firing(), [lock]).lockout_ids
    store.clear_lockout(
        lock_id, now=T0 + timedelta(minutes=2), by="engine", why="condition false", admin=False
    )
    assert store.admin_actions() == []
    assert store.lockout(lock_id) is not None
    assert store.active_lockouts(T0 + timedelta(minutes=2)) == []


def test_decisive_values_keep_their_digits(store: Store) -> None:
    firing = daily_loss_firing() | {"values": {"trade.order_pnl": Decimal("-100.10")}}
    store.record_firing(firing)
    (item,) = store.history(T0, kinds=["firing"])
    assert item.details["values"] == {"trade.order_pnl": "-100.10"}


def test_open_intents_keep_the_declared_order_of_their_firing(store: Store) -> None:
    # Keys that sort the other way round: the order must come from the firing, not the key.
    declared = [
        {"key": "z-cancel-orders", "kind": "cancel_orders"},
        {"key": "m-close-position", "kind": "close_position"},
        {"key": "a-alert", "kind": "alert"},
    ]
    store.record_firing(daily_loss_firing(), [], declared)
    later = daily_loss_firing(at=T0 + timedelta(seconds=1)) | {"rule": "no-stop-loss-grace"}
    store.record_firing(later, [], [{"key": "0-close", "kind": "close_position"}])
    assert [i.key for i in store.open_intents()] == [
        "z-cancel-orders",
        "m-close-position",
        "a-alert",
        "0-close",
    ]
    assert [i.details["key"] for i in store.history(T0, kinds=["intent"])] == [
        "z-cancel-orders",
        "m-close-position",
        "a-alert",
        "0-close",
    ]
