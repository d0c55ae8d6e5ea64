"""Evaluation: triggers, every matching rule fires, episodes, for:, errors, intents."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine_builders import (
    ACCOUNT,
    ES,
    MNQ,
    account_update,
    action,
    at,
    expr,
    fill,
    loaded,
    order,
    position,
    quote,
    rule,
    ruleset,
    tick,
)

from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, Reconciled
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    StopAt,
)


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


LOSS = rule(
    "daily-loss",
    "day.realized_pnl <= -params.limit",
    ["trade", "reconcile"],
    [action("flatten")],
    message="Daily P&L {day.realized_pnl:.2f} reached -{params.limit}",
    severity="critical",
)


def test_every_matching_rule_fires_in_file_order() -> None:
    engine = Engine(
        ruleset(
            rule("b", "day.trade_count >= 1", ["trade"]),
            rule("a", "trade.size >= 1", ["trade"]),
            rule("c", "False", ["trade"]),
        )
    )
    assert [f.rule_id for f in feed(engine, fill(0, 1))] == ["b", "a"]


def test_a_rule_fires_once_per_breach_episode() -> None:
    engine = Engine(ruleset(LOSS, params={"limit": 500}))
    assert feed(engine, fill(0, 1, pnl="-500")) != []
    assert feed(engine, fill(1, 2, pnl="-10")) == []
    assert feed(engine, fill(2, 3, pnl="600")) == []  # resolved
    assert [f.rule_id for f in feed(engine, fill(3, 4, pnl="-700"))] == ["daily-loss"]


def test_the_limit_is_inclusive_and_exact() -> None:
    engine = Engine(ruleset(LOSS, params={"limit": 500}))
    feed(engine, fill(0, 1, pnl="-100.10"), fill(1, 2, pnl="-200.20"))
    firings = feed(engine, fill(2, 3, pnl="-199.70"))
    assert [f.rule_id for f in firings] == ["daily-loss"]
    firing = firings[0]
    assert firing.message == "Daily P&L -500.00 reached -500"
    assert firing.severity == "critical"
    assert firing.values == {"day.realized_pnl": Decimal("-500.00"), "params.limit": 500}
    assert firing.at == at(2)
    assert firing.account == ACCOUNT


def test_flatten_cancels_orders_before_closing_positions() -> None:
    engine = Engine(ruleset(LOSS, params={"limit": 500}))
    feed(engine, position(0, 1), position(1, 2, "6000", contract=ES), order(2, 9))
    firing = feed(engine, fill(3, 1, pnl="-600"))[0]
    assert firing.intents == (
        NoWorkingOrders(ACCOUNT),
        PositionClosed(ACCOUNT, MNQ),
        PositionClosed(ACCOUNT, ES),
    )


def test_reconcile_evaluates_every_rule() -> None:
    engine = Engine(
        ruleset(
            LOSS,
            rule("big", "account.open_contracts > 1", ["position"]),
            params={"limit": 500},
        )
    )
    feed(engine, fill(0, 1, pnl="-600"), position(1, 11))
    engine2 = Engine(engine.ruleset)
    engine2.apply(account_update(0))
    assert [f.rule_id for f in engine2.apply(Reconciled(at=at(1), account_id=ACCOUNT))] == []
    engine3 = Engine(engine.ruleset)
    engine3.store.account(ACCOUNT)
    state = engine3.account(ACCOUNT)
    assert state is not None
    # facts arrive without their triggers (as after a restart) and reconcile catches them
    feed(engine3, position(0, 11))
    names = [f.rule_id for f in engine3.apply(Reconciled(at=at(1)))]
    assert names == []  # "big" already fired on the position event, once per episode


def test_an_event_only_wakes_the_rules_of_its_trigger() -> None:
    engine = Engine(ruleset(rule("pos", "account.open_contracts_raw >= 1", ["position"])))
    assert feed(engine, order(0, 1)) == []
    assert [f.rule_id for f in feed(engine, position(1, 1))] == ["pos"]


def test_for_pending_then_firing_then_resolved() -> None:
    engine = Engine(
        ruleset(
            rule(
                "held",
                "account.open_contracts_raw >= 2",
                ["position"],
                [action("alert", level="warning")],
                for_=timedelta(seconds=10),
                message="held {account.open_contracts_raw}",
            )
        )
    )
    assert feed(engine, position(0, 2)) == []
    assert engine.state_of("held", ACCOUNT) == "pending"
    assert engine.next_deadline() == at(10)
    firings = feed(engine, tick(10))  # no clock trigger: the deadline still fires it
    assert [f.rule_id for f in firings] == ["held"]
    assert firings[0].intents == (Alert("warning", "held 2", ACCOUNT, "held"),)
    assert engine.state_of("held", ACCOUNT) == "firing"
    feed(engine, position(11, 1))
    assert engine.state_of("held", ACCOUNT) == "inactive"


def test_for_resets_when_the_condition_clears_before_the_deadline() -> None:
    engine = Engine(
        ruleset(
            rule(
                "held", "account.open_contracts_raw >= 2", ["position"], for_=timedelta(seconds=10)
            )
        )
    )
    feed(engine, position(0, 2), position(5, 1), position(6, 2))
    assert feed(engine, tick(10)) == []
    assert [f.rule_id for f in feed(engine, tick(16))] == ["held"]


def test_a_late_event_after_a_missed_deadline_still_fires() -> None:
    engine = Engine(
        ruleset(
            rule(
                "held", "account.open_contracts_raw >= 2", ["position"], for_=timedelta(seconds=10)
            )
        )
    )
    feed(engine, position(0, 2))
    assert [f.rule_id for f in feed(engine, account_update(12))] == ["held"]


def test_a_rule_that_raises_yields_an_error_firing_and_the_others_run() -> None:
    engine = Engine(
        ruleset(
            rule("broken", "trade.pnl < 0", ["trade"]),  # pnl unknown on an opening fill
            rule("fine", "trade.size >= 1", ["trade"]),
        )
    )
    firings = feed(engine, fill(0, 1, pnl=None))
    assert [(f.rule_id, f.kind) for f in firings] == [("broken", "error"), ("fine", "rule")]
    error = firings[0]
    assert error.severity == "critical"
    assert isinstance(error.intents[0], Alert) and error.intents[0].level == "critical"
    assert "TypeError" in error.message
    # a second fill of the same order is the same episode: no repeated error, no refiring
    assert feed(engine, fill(1, 2, pnl=None)) == []
    # a fill of another order is a new episode for trade-bound rules
    firings = feed(engine, fill(2, 3, order_id=2, pnl=None))
    assert [(f.rule_id, f.kind) for f in firings] == [("broken", "error"), ("fine", "rule")]


def test_each_position_binds_one_position_at_a_time() -> None:
    engine = Engine(
        ruleset(
            rule(
                "loser",
                "known(position.unrealized_pnl) and position.unrealized_pnl <= -params.limit",
                ["quote", "position"],
                [action("close_position")],
                each="position",
            ),
            params={"limit": 300},
        )
    )
    feed(engine, loaded(0), loaded(0, ES, "0.25", "12.5"), position(1, 1, "21000"))
    feed(engine, position(2, 1, "6000", contract=ES))
    firings = feed(engine, quote(3, "5970", contract=ES))  # -120 ticks * 12.5 = -1500
    assert [(f.rule_id, f.item) for f in firings] == [("loser", "position:" + ES)]
    assert firings[0].intents == (
        NoWorkingOrders(ACCOUNT, contract_id=ES),
        PositionClosed(ACCOUNT, ES),
    )
    assert feed(engine, quote(4, "5960", contract=ES)) == []  # one episode, not one per quote
    firings = feed(engine, quote(5, "20000"))  # MNQ: -4000 ticks * 0.5 = -2000
    assert [(f.rule_id, f.item) for f in firings] == [("loser", "position:" + MNQ)]


def test_each_position_states_resolve_when_the_position_closes() -> None:
    engine = Engine(ruleset(rule("any", "position.size >= 1", ["position"], each="position")))
    assert len(feed(engine, position(0, 1))) == 1
    feed(engine, position(1, 0))
    assert engine.state_of("any", ACCOUNT, "position:" + MNQ) == "inactive"
    assert len(feed(engine, position(2, 1))) == 1


def test_each_symbol_and_reduce_to() -> None:
    engine = Engine(
        ruleset(
            rule(
                "per-symbol",
                "symbol.if_filled_max > lookup(params.limits, symbol.root, 1)",
                ["position", "order"],
                [action("reduce_to", contracts=2, scope="symbol")],
                each="symbol",
            ),
            params={"limits": {"MNQ": 2}},
        )
    )
    firings = feed(engine, position(0, 2), order(1, 9, size=1))
    assert [(f.item, f.intents) for f in firings] == [
        ("symbol:MNQ", (ReduceTo(ACCOUNT, "root", max_contracts=2, symbol="MNQ"),))
    ]


def test_cancel_order_names_the_triggering_order() -> None:
    engine = Engine(
        ruleset(
            rule(
                "too-big",
                "order.if_filled_symbol_size > 2",
                ["order"],
                [action("cancel_order")],
            )
        )
    )
    firings = feed(engine, order(0, 9, size=3), order(1, 10, size=1))
    assert [f.intents for f in firings] == [(CancelOrder(ACCOUNT, 9),), (CancelOrder(ACCOUNT, 10),)]


def test_move_stop_intent() -> None:

    engine = Engine(
        ruleset(
            rule(
                "breakeven",
                "known(position.profit_ticks) and position.profit_ticks >= 10",
                ["quote"],
                [action("move_stop", to=expr("position.avg_price"), never_loosen=True)],
                each="position",
            )
        )
    )
    firings = feed(engine, loaded(0), position(0, 1, "21000"), quote(1, "21003"))
    assert firings[0].intents == (StopAt(ACCOUNT, MNQ, Decimal("21000"), True, 1, long=True),)


def test_unmet_intents_are_remembered_until_the_facts_show_them_met() -> None:
    engine = Engine(ruleset(LOSS, params={"limit": 500}))
    feed(engine, position(0, 1), order(1, 9), fill(2, 1, pnl="-600"))
    assert {type(i).__name__ for i in engine.unmet_intents(ACCOUNT)} == {
        "NoWorkingOrders",
        "PositionClosed",
    }
    feed(
        engine,
        order(
            3, 9, status=__import__("simple_risk.engine.events").engine.events.OrderStatus.CANCELLED
        ),
    )
    assert [type(i).__name__ for i in engine.unmet_intents(ACCOUNT)] == ["PositionClosed"]
    feed(engine, position(4, 0))
    assert engine.unmet_intents(ACCOUNT) == []


def test_intent_keys_are_stable() -> None:
    assert PositionClosed(7, MNQ).key == PositionClosed(7, MNQ).key
    assert hash(NoWorkingOrders(7)) == hash(NoWorkingOrders(7))
    assert CancelOrder(7, 1).key != CancelOrder(7, 2).key


def test_accounts_filter_ignores_other_accounts() -> None:
    engine = Engine(ruleset(rule("any", "True", ["trade"])), accounts=[99])
    assert feed(engine, fill(0, 1)) == []
    assert engine.account(ACCOUNT) is None


def test_a_rule_about_the_event_symbol_has_one_episode_per_root() -> None:
    rty = "CON.F.US.RTY.Z26"
    btc = "CON.F.US.BTC.Z26"
    engine = Engine(
        ruleset(
            rule(
                "blocked",
                "symbol.root in blocked and symbol.working_buy + symbol.working_sell > 0",
                ["order", "position"],
                [action("cancel_orders", symbol=expr("symbol.root"))],
            ),
            lists={"blocked": ("RTY", "BTC")},
        )
    )
    first = feed(engine, order(0, 1, contract=rty))
    second = feed(engine, order(1, 2, contract=btc))
    assert [(f.item, f.intents) for f in first + second] == [
        ("symbol:RTY", (NoWorkingOrders(ACCOUNT, symbol="RTY"),)),
        ("symbol:BTC", (NoWorkingOrders(ACCOUNT, symbol="BTC"),)),
    ]
    assert feed(engine, order(2, 3, contract=rty)) == []  # RTY's episode is still on
