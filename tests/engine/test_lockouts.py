"""Lockouts: while locked, exposure cannot grow; cooldowns only block new exposure."""

from __future__ import annotations

import json
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
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, OrderStatus, OrderType, OwnOrder
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.intents import CancelOrder, PositionClosed, ReduceTo, ResizeOrder
from simple_risk.engine.lockouts import Lock, LockSet
from simple_risk.engine.model import Ruleset


def locking_ruleset(kind: str = "lock", scope: str = "account") -> Ruleset:
    spec = lockout(scope, duration=timedelta(minutes=15), kind=kind)
    return ruleset(rule("loss", "trade.pnl is not None and trade.pnl < -100", ["trade"], [spec]))


def locking_engine(*then: object, kind: str = "lock", scope: str = "account") -> Engine:
    return Engine(locking_ruleset(kind, scope))


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
    assert lockout_intents(feed(engine, order(2, 10, side="sell", size=1))) == []
    assert (
        lockout_intents(
            feed(engine, order(3, 11, side="sell", size=1, kind=OrderType.STOP, stop="20000"))
        )
        == []
    )


def test_reducing_orders_together_larger_than_the_position_lose_the_newest() -> None:
    engine = locking_engine()
    feed(engine, position(0, 3), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10, side="sell", size=2))) == []
    # 2 + 2 against a long 3: both filling would leave a short 1
    assert lockout_intents(feed(engine, order(3, 11, side="sell", size=2))) == [
        CancelOrder(ACCOUNT, 11)
    ]


def test_an_older_reducing_order_that_grows_cancels_the_newest_one() -> None:
    engine = locking_engine()
    feed(engine, position(0, 3), fill(1, 1, pnl="-200"))
    feed(engine, order(2, 10, side="sell", size=1), order(3, 11, side="sell", size=1))
    # the older order is modified to 2: 2 + 1 fits, 3 + 1 does not; the newest goes
    assert lockout_intents(feed(engine, order(4, 10, side="sell", size=3))) == [
        CancelOrder(ACCOUNT, 11)
    ]


def test_a_bracket_survives_a_lock_because_its_legs_fill_on_opposite_moves() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    feed(engine, order(2, 10, side="sell", size=2))  # the take-profit limit
    stop = order(3, 11, side="sell", size=2, kind=OrderType.STOP, stop="20000")
    assert lockout_intents(feed(engine, stop)) == []
    # the stop fills: the position is flat and the take-profit would now open a short
    filled = order(
        4,
        11,
        side="sell",
        size=2,
        kind=OrderType.STOP,
        stop="20000",
        status=OrderStatus.FILLED,
        filled=2,
    )
    assert lockout_intents(feed(engine, filled, position(4.1, 0))) == [CancelOrder(ACCOUNT, 10)]


def test_a_market_order_counts_against_both_sides_and_the_stop_is_kept() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    feed(engine, order(2, 10, side="sell", size=2, kind=OrderType.STOP, stop="20000"))
    market = order(3, 11, side="sell", size=1, kind=OrderType.MARKET)
    assert lockout_intents(feed(engine, market)) == [CancelOrder(ACCOUNT, 11)]


def test_a_position_that_shrinks_lowers_what_its_reducing_orders_may_add_up_to() -> None:
    engine = locking_engine()
    feed(engine, position(0, 3), fill(1, 1, pnl="-200"))
    feed(engine, order(2, 10, side="sell", size=1), order(3, 11, side="sell", size=2))
    assert lockout_intents(feed(engine, position(4, 2))) == [CancelOrder(ACCOUNT, 11)]


def own(t: float, tag: str, order_id: int | None = None) -> OwnOrder:
    """The daemon places (``order_id`` None) or placed an order with this tag."""
    return OwnOrder(at=at(t), account_id=ACCOUNT, custom_tag=tag, order_id=order_id)


def test_the_daemons_own_closing_order_counts_first_and_is_never_cancelled() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    feed(engine, order(2, 10, side="sell", size=1), own(2.5, "sr-close-1", 11))
    closing = order(3, 11, side="sell", size=2, tag="sr-close-1")
    assert lockout_intents(feed(engine, closing)) == [CancelOrder(ACCOUNT, 10)]


def test_a_reducing_order_larger_than_the_position_is_cancelled() -> None:
    engine = locking_engine()
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10, side="sell", size=3))) == [
        CancelOrder(ACCOUNT, 10)
    ]


def test_the_daemons_own_orders_pass() -> None:
    engine = locking_engine()
    feed(engine, fill(1, 1, pnl="-200"), own(1.5, "sr-close-1"))  # placing: no id yet
    assert lockout_intents(feed(engine, order(2, 10, side="buy", tag="sr-close-1"))) == []


def test_the_daemons_stop_left_behind_by_a_close_by_hand_is_cancelled() -> None:
    """The daemon's protective stop of a position the trader closed by hand closes nothing:
    it would open a short, and a lock cancels it like any other order that adds exposure."""
    engine = locking_engine()
    feed(engine, position(0, 1), own(0.5, "sr-stop-1", 10))
    feed(engine, order(1, 10, side="sell", kind=OrderType.STOP, stop="20900", tag="sr-stop-1"))
    assert lockout_intents(feed(engine, fill(2, 1, pnl="-200"))) == []  # it still protects
    assert lockout_intents(feed(engine, position(3, 0))) == [CancelOrder(ACCOUNT, 10)]


def test_the_daemons_stop_left_behind_without_a_lock_is_cancelled_once() -> None:
    """No lock: the daemon's stop of a position closed by hand is still cancelled — the daemon
    placed it to protect that position, and it would open one — and asked for once."""
    engine = locking_engine()
    feed(engine, position(0, 1), own(0.5, "sr-stop-1", 10))
    feed(engine, order(1, 10, side="sell", kind=OrderType.STOP, stop="20900", tag="sr-stop-1"))
    firings = feed(engine, position(2, 0))
    assert [(f.kind, f.rule_id, f.intents) for f in firings] == [
        ("own", "own-stop-left-behind", (CancelOrder(ACCOUNT, 10),))
    ]
    assert feed(engine, position(3, 0)) == []
    feed(engine, position(4, 2), order(5, 20, side="sell", kind=OrderType.STOP, stop="20900"))
    assert feed(engine, position(6, 1)) == []  # a trader's stop is the trader's


def test_the_daemons_stop_placed_as_its_position_closed_is_cancelled() -> None:
    """The daemon's place of a stop crossed the trader's close by hand: the stop is heard of
    after the position is gone, and cancelled on its own event."""
    engine = locking_engine()
    feed(engine, position(0, 1), own(0.5, "sr-stop-1"), position(1, 0))
    stop = order(2, 10, side="sell", kind=OrderType.STOP, stop="20900", tag="sr-stop-1")
    assert [f.intents for f in feed(engine, stop)] == [(CancelOrder(ACCOUNT, 10),)]


def test_a_tag_that_only_looks_like_the_daemons_grants_nothing() -> None:
    engine = locking_engine()
    feed(engine, fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10, side="buy", tag="sr-close-1"))) == [
        CancelOrder(ACCOUNT, 10)
    ]


def test_the_daemons_order_resized_beyond_what_it_placed_is_no_longer_its_own() -> None:
    engine = locking_engine()
    placed = OwnOrder(at=at(1.5), account_id=ACCOUNT, custom_tag="sr-close-1", order_id=10, size=1)
    feed(engine, fill(1, 1, pnl="-200"), placed)
    assert lockout_intents(feed(engine, order(2, 10, side="buy", tag="sr-close-1"))) == []
    resized = order(3, 10, side="buy", size=12, tag="sr-close-1")  # the trader's modify
    assert lockout_intents(feed(engine, resized)) == [CancelOrder(ACCOUNT, 10)]


def test_a_tag_names_one_order_once_its_id_is_known() -> None:
    engine = locking_engine()
    feed(engine, fill(1, 1, pnl="-200"), own(1.5, "sr-close-1", 10), own(1.6, "sr-close-1", 12))
    copy = order(2, 12, side="buy", tag="sr-close-1")  # the daemon's tag on another order
    assert lockout_intents(feed(engine, copy)) == [CancelOrder(ACCOUNT, 12)]


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


def test_a_cooldown_blocks_new_orders_and_leaves_the_exposure_it_began_with_alone() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 2), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, order(2, 10))) == [CancelOrder(ACCOUNT, 10)]
    # the trader closes part of what the cooldown began with: nothing to do
    assert lockout_intents(feed(engine, position(3, 1))) == []


def test_a_market_order_filled_during_a_cooldown_is_reduced_back() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    # the market buy of 2 filled before its cancel landed: long 3 from long 1
    assert lockout_intents(feed(engine, position(2, 3))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=1, contract_id=MNQ)
    ]


def test_a_position_opened_during_an_account_cooldown_is_closed() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, position(2, 1, contract=ES))) == [
        PositionClosed(ACCOUNT, ES)
    ]


def test_a_flip_during_a_cooldown_is_closed_never_reopened() -> None:
    # long 1 → short 5 by a sell of 6: the reversed exposure is new; the daemon closes it and
    # never buys the long back (a risk manager only ever takes exposure away)
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    assert lockout_intents(feed(engine, position(2, 5, long=False))) == [
        PositionClosed(ACCOUNT, MNQ)
    ]


def test_a_symbol_cooldown_reverses_new_exposure_in_its_root_only() -> None:
    engine = locking_engine(kind="cooldown", scope="symbol")
    feed(engine, position(0, 1), position(0, 1, contract=ES), fill(1, 1, pnl="-200"))
    assert [lock.symbol for lock in engine.locks(ACCOUNT)] == ["MNQ"]
    assert lockout_intents(feed(engine, position(2, 4, contract=ES))) == []
    assert lockout_intents(feed(engine, position(3, 2))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=1, contract_id=MNQ)
    ]


def test_a_cooldown_set_again_keeps_the_baseline_of_its_start() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"), position(2, 3))
    # a second losing fill re-sets the cooldown while the grown position is still open
    feed(engine, fill(3, 2, pnl="-200"))
    (lock,) = engine.locks(ACCOUNT)
    assert lock.baseline == {MNQ: (True, 1)}


def test_the_protective_stop_of_a_position_a_cooldown_reduces_is_resized_not_cancelled() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    feed(engine, position(2, 3))
    stop = order(3, 11, side="sell", size=3, kind=OrderType.STOP, stop="20000")
    intents = lockout_intents(feed(engine, stop))
    assert not any(isinstance(i, CancelOrder) for i in intents)
    assert lockout_intents(feed(engine, position(4, 1))) == [ResizeOrder(ACCOUNT, 11, 1)]


def test_the_fill_that_set_a_cooldown_is_part_of_what_it_began_with() -> None:
    # the gateway sends a fill's trade before its position: the position the fill made is
    # the cooldown's baseline, and only growth after it is new exposure
    engine = Engine(
        ruleset(rule("busy", "trade.pnl is None", ["trade"], [lockout(kind="cooldown")]))
    )
    feed(engine, position(0, 1), fill(1, 1, side="buy", size=1))
    assert lockout_intents(feed(engine, position(1.1, 2))) == []
    assert lockout_intents(feed(engine, position(2, 3))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=2, contract_id=MNQ)
    ]


def test_the_fills_of_the_order_that_set_a_cooldown_are_part_of_its_start() -> None:
    # an order rule cancels an order and cools down; the market order fills before the cancel
    # lands: its fill is the order rule's business (a reduction to the limit), not new
    # exposure of the cooldown — but a second order's fill is
    too_big = rule("too-big", "order.size > 2", ["order"], [lockout(kind="cooldown")])
    engine = Engine(ruleset(too_big))
    feed(engine, order(0, 10, size=3, kind=OrderType.MARKET, status=OrderStatus.PENDING))
    feed(engine, fill(0.01, 1, order_id=10, side="buy", size=3))
    feed(engine, fill(0.01, 1, order_id=10, side="buy", size=3))  # re-sent: counts once
    assert lockout_intents(feed(engine, position(0.02, 3))) == []
    feed(engine, fill(1, 2, order_id=11, side="buy", size=1))
    assert lockout_intents(feed(engine, position(1.01, 4))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=3, contract_id=MNQ)
    ]


def test_a_losing_fill_that_reversed_the_position_keeps_what_it_made() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 2), fill(1, 1, size=3, pnl="-200"))
    assert lockout_intents(feed(engine, position(1.1, 1, long=False))) == []
    assert lockout_intents(feed(engine, position(2, 2, long=False))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=1, contract_id=MNQ)
    ]


def test_a_restart_mid_cooldown_keeps_its_baseline() -> None:
    engine = locking_engine(kind="cooldown")
    feed(engine, position(0, 1), fill(1, 1, pnl="-200"))
    snapshot = json.loads(json.dumps(engine.snapshot()))
    restored = Engine.restore(locking_ruleset(kind="cooldown"), snapshot)
    (lock,) = restored.locks(ACCOUNT)
    assert lock.kind == "cooldown" and lock.baseline == {MNQ: (True, 1)}
    assert lockout_intents(feed(restored, position(2, 3))) == [
        ReduceTo(ACCOUNT, "contract", max_contracts=1, contract_id=MNQ)
    ]


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


def open_root_ruleset() -> Ruleset:
    """A position above 2 contracts locks its root while a position in the root is open."""
    spec = lockout("symbol", while_expr=expr("symbol.size > 0"), kind="cooldown")
    return ruleset(rule("big", "position.size > 2", ["position"], [spec], each="position"))


def test_a_symbol_while_lock_reads_the_locked_symbols_facts_until_it_is_flat() -> None:
    engine = Engine(open_root_ruleset())
    feed(engine, position(0, 1, contract=ES), position(1, 3))
    assert [(lock.scope, lock.symbol) for lock in engine.locks(ACCOUNT)] == [("symbol", "MNQ")]
    feed(engine, position(2, 0, contract=ES), position(3, 1))  # another root flat; MNQ open
    assert [lock.symbol for lock in engine.locks(ACCOUNT)] == ["MNQ"]
    feed(engine, position(4, 0))
    assert engine.locks(ACCOUNT) == []


def test_a_symbol_while_lock_restored_from_a_snapshot_reads_its_symbol_again() -> None:
    engine = Engine(open_root_ruleset())
    feed(engine, position(0, 3))
    snapshot = json.loads(json.dumps(engine.snapshot()))
    restored = Engine.restore(open_root_ruleset(), snapshot)
    feed(restored, position(1, 1))
    assert [lock.symbol for lock in restored.locks(ACCOUNT)] == ["MNQ"]
    feed(restored, position(2, 0))
    assert restored.locks(ACCOUNT) == []


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


@settings(max_examples=200)
@given(
    long=st.booleans(),
    size=st.integers(min_value=0, max_value=6),
    specs=st.lists(
        st.tuples(
            st.booleans(),  # on the closing side
            st.integers(min_value=1, max_value=4),  # remaining
            st.booleans(),  # a stop
            st.booleans(),  # placed by simple-risk
        ),
        max_size=6,
    ),
)
def test_reducing_orders_left_working_while_locked_never_exceed_the_position(
    long: bool, size: int, specs: list[tuple[bool, int, bool, bool]]
) -> None:
    """Whatever orders a locked contract has, those left working can at most close the
    position on either move of the price: trader orders that would open, grow or reverse it
    go, and of the closing side the ones that would take the total of their side of the market
    (stops, or limits) beyond the position's size; simple-risk's own orders always stay (but
    for its stop with no position left to close: it would open one), and no order goes that
    would still fit. A trader's stop that does not fit is resized to the
    room its side has left, and cancelled only when the stops kept already cover the whole
    position."""
    engine = locking_engine()
    events: list[Event] = [position(0, size, long=long)] if size else []
    feed(engine, *events, fill(1, 1, pnl="-200"))
    state = engine.account(ACCOUNT)
    assert state is not None
    for index, (closing, remaining, stop, is_own) in enumerate(specs):
        sell = closing == long
        kind = OrderType.STOP if stop else OrderType.LIMIT
        update = order(
            2,
            100 + index,
            side="sell" if sell else "buy",
            size=remaining,
            kind=kind,
            stop="20000" if stop else None,
            tag=f"sr-close-{index}" if is_own else None,
        )
        if is_own:
            state.apply_own(own(2, f"sr-close-{index}", 100 + index))
        state.apply_order(update, engine.store.market.contract(MNQ))
    held = state.positions.get(MNQ)
    orders = list(state.orders.values())
    verdicts = state.locks.orders_to_cancel(orders, held)
    cancel = {i: v for i, v in verdicts.items() if v.resize_to is None}
    resized = {i: v.resize_to for i, v in verdicts.items() if v.resize_to is not None}

    def left(o: Order) -> int:
        return resized.get(o.id, o.remaining)

    kept = [o for o in orders if o.id not in cancel]

    def closes(o: Order) -> bool:
        return held is not None and o.buy != held.long

    # simple-risk's own orders stay, but for a stop of its own with nothing left to close
    assert not any(o.own and (closes(o) or not o.is_stop) for o in orders if o.id in verdicts)
    assert all(o.id in cancel for o in orders if o.own and o.is_stop and not closes(o))
    # only a trader's protective stop is resized, and only ever made smaller
    assert all(o.is_stop and 0 < left(o) < o.remaining for o in orders if o.id in resized)
    reducing = [o for o in kept if held is not None and o.buy != held.long]
    adding = [o for o in kept if o not in reducing]
    assert all(o.own for o in adding)

    def side_total(stops: bool) -> int:
        return sum(left(o) for o in reducing if o.is_stop == stops)

    for stops in (True, False):
        trader_left = [o for o in reducing if not o.own and o.is_stop == stops]
        assert held is None or side_total(stops) <= held.size or not trader_left
    # and no more than needed: putting back any order cancelled for its side's total overflows
    cumulative = [o for o in orders if o.id in cancel and cancel[o.id].total is not None]
    if cumulative and held is not None:
        assert all(side_total(o.is_stop) + o.remaining > held.size for o in cumulative)
        # a stop goes only when the stops left already cover the whole position
        assert all(side_total(True) >= held.size for o in cumulative if o.is_stop)


def test_an_order_the_hub_announced_before_the_daemon_noted_its_tag_is_the_daemons() -> None:
    """The hub can announce the daemon's order before the place call returns: once the
    daemon notes the tag, that order is its own — the same answer a restore gives, which
    computes ownership from the tags it restores first (hypothesis found the two differing)."""
    engine = locking_engine()
    feed(engine, order(1, 10, side="buy", tag="sr-close-1"), own(1.5, "sr-close-1"))
    state = engine.account(ACCOUNT)
    assert state is not None and state.orders[10].own
    assert lockout_intents(feed(engine, fill(2, 1, pnl="-200"))) == []
