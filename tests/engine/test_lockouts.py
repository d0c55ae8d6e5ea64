"""Lockouts: while locked, exposure cannot grow; cooldowns only block new exposure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine_builders import (
    ACCOUNT,
    ES,
    MNQ,
    account_update,
    action,
    at,
    expr,
    fill,
    lockout,
    order,
    position,
    rule,
    ruleset,
    tick,
)

from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, OrderType
from simple_risk.engine.intents import CancelOrder, PositionClosed, ReduceTo
from simple_risk.engine.lockouts import Lock, LockSet


def locking_engine(*then: object, kind: str = "lock", scope: str = "account") -> Engine:
    spec = lockout(scope, duration=timedelta(minutes=15), kind=kind)
    return Engine(
        ruleset(rule("loss", "trade.pnl is not None and trade.pnl < -100", ["trade"], [spec]))
    )


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def lockout_intents(firings: list[Firing]) -> list[object]:
    return [i for f in firings if f.kind == "lockout" for i in f.intents]


def test_an_order_that_adds_exposure_is_cancelled_while_locked() -> None:
    engine = locking_engine()
    firings = feed(engine, fill(0, 1, pnl="-200"), order(1, 10, side="buy", size=1))
    assert firings[0].rule_id == "loss"
    assert lockout_intents(firings) == [CancelOrder(ACCOUNT, 10)]
    assert firings[-1].rule_id == "loss" and firings[-1].kind == "lockout"


def test_an_order_that_only_reduces_passes() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10, side="sell", size=2))) == []
    assert (
        lockout_intents(
            feed(engine, order(3, 11, side="sell", size=2, kind=OrderType.STOP, stop="20000"))
        )
        == []
    )


def test_a_reducing_order_larger_than_the_position_is_cancelled() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10, side="sell", size=3))) == [
        CancelOrder(ACCOUNT, 10)
    ]


def test_the_daemons_own_orders_pass() -> None:
    engine = locking_engine()
    feed(engine, fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10, side="buy", tag="sr-close-1"))) == []


def test_a_position_that_grew_is_reduced_back_to_its_size_at_lock_time() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, position(2, 3))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=2, contract_id=MNQ)
    ]


def test_a_position_that_shrank_may_not_grow_back() -> None:
    engine = locking_engine()
    feed(engine, position(0, 3), fill(1, 1, pnl="-200"), position(2, 1))
    assert lockout_intents(feed(engine, position(3, 2))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=1, contract_id=MNQ)
    ]


def test_a_new_position_is_closed() -> None:
    engine = locking_engine()
    feed(engine, fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, position(2, 1, contract=ES))) == [
        PositionClosed(ACCOUNT, ES)
    ]


def test_a_symbol_lock_only_covers_its_root() -> None:
    engine = locking_engine(scope="symbol")
    feed(engine, fill(1, 1, pnl="-200"))
    assert [lock.symbol for lock in engine.locks(ACCOUNT)] == ["MNQ"]
    assert lockout_intents(feed(engine, order(2, 10, contract=ES))) == []
    assert lockout_intents(feed(engine, order(3, 11))) == [CancelOrder(ACCOUNT, 11)]


def test_a_cooldown_blocks_new_orders_but_leaves_positions_alone() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, position(2, 3))) == []
    assert lockout_intents(feed(engine, position(3, 1, contract=ES))) == []
    assert lockout_intents(feed(engine, order(4, 10))) == [CancelOrder(ACCOUNT, 10)]


def test_a_lock_ends_exactly_at_its_end() -> None:
    engine = locking_engine()
    feed(engine, fill(0, 1, pnl="-200"))
    end = at(15 * 60)
    assert engine.next_deadline() == end
    feed(engine, tick(15 * 60 - 1))
    assert engine.locks(ACCOUNT)
    feed(engine, tick(15 * 60))
    assert engine.locks(ACCOUNT) == []
    assert lockout_intents(feed(engine, order(15 * 60 + 1, 10))) == []


def test_a_shorter_lock_never_shortens_a_longer_one() -> None:
    day_lock = lockout(until_trading_day_end=True)
    short = lockout(duration=timedelta(minutes=5))
    engine = Engine(
        ruleset(
            rule("loss", "trade.pnl is not None and trade.pnl < -100", ["trade"], [day_lock]),
            rule("small", "trade.pnl is not None and trade.pnl < 0", ["trade"], [short]),
        )
    )
    feed(engine, fill(0, 1, pnl="-200"))
    ends = sorted(lock.ends_at for lock in engine.locks(ACCOUNT) if lock.ends_at)
    assert ends == [at(300), at(8 * 3600)]
    feed(engine, tick(301))
    assert [lock.rule for lock in engine.locks(ACCOUNT)] == ["loss"]


def test_re_adding_a_lock_keeps_the_later_end() -> None:
    locks = LockSet(ACCOUNT)
    base = {"account": ACCOUNT, "scope": "account", "symbol": None, "rule": "r", "reason": ""}
    locks.add(Lock(**base, kind="cooldown", set_at=at(0), ends_at=at(600)))  # type: ignore[arg-type]
    merged = locks.add(Lock(**base, kind="cooldown", set_at=at(1), ends_at=at(60)))  # type: ignore[arg-type]
    assert merged.ends_at == at(600)
    merged = locks.add(Lock(**base, kind="cooldown", set_at=at(2), ends_at=at(900)))  # type: ignore[arg-type]
    assert merged.ends_at == at(900)


def test_a_while_lock_holds_while_its_condition_does() -> None:
    engine = Engine(
        ruleset(
            rule(
                "auth",
                "not account.can_trade",
                ["account"],
                [action("flatten"), lockout(while_expr=expr("not account.can_trade"))],
            )
        )
    )
    firings = feed(engine, account_update(0, can_trade=False))
    assert [f.rule_id for f in firings] == ["auth"]
    assert firings[0].locks[0].ends_at is None
    feed(engine, tick(10))
    assert engine.locks(ACCOUNT)
    feed(engine, account_update(20, can_trade=True))
    assert engine.locks(ACCOUNT) == []


def test_a_symbol_while_lock_sees_lock_symbol() -> None:
    engine = Engine(
        ruleset(
            rule(
                "blocked",
                "symbol.root in blocked",
                ["position", "order"],
                [lockout("symbol", while_expr=expr("lock.symbol in blocked"))],
            ),
            lists={"blocked": ("MNQ",)},
        )
    )
    feed(engine, order(0, 10))
    assert [(lock.scope, lock.symbol) for lock in engine.locks(ACCOUNT)] == [("symbol", "MNQ")]


def test_until_session_start_ends_at_the_next_rth_open() -> None:
    engine = Engine(
        ruleset(rule("outside", "True", ["trade"], [lockout(until_session_start="rth")]))
    )
    firings = feed(engine, fill(0, 1))
    chicago = ZoneInfo("America/Chicago")
    expected = datetime(2026, 11, 25, 8, 30, tzinfo=chicago).astimezone(UTC)
    assert firings[0].locks[0].ends_at == expected


def test_lock_facts_are_visible_to_rules() -> None:
    engine = locking_engine()
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    facts = engine.facts(ACCOUNT)
    assert facts["account"].locked
    state = engine.account(ACCOUNT)
    assert state is not None
    assert state.positions[MNQ].locked
    assert state.symbol("ES").locked
