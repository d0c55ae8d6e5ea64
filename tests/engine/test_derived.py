"""Derived facts in the engine: sampled before the rules, reset with their period, per item,
restored exactly by a snapshot, and with windows that keep only what they need.

Each rule-book sentence below is one ``derive:`` behaviour read the way a rule reads it
(``derived.NAME`` through the engine's bound families) after the events that move it.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine_builders import (
    ACCOUNT,
    ES,
    MNQ,
    account_update,
    at,
    fill,
    loaded,
    order,
    position,
    quote,
    tick,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine import operations
from simple_risk.engine.derive.aggregates import new_aggregate
from simple_risk.engine.dsl import load_ruleset_text
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event, OrderStatus, OrderType
from simple_risk.engine.model import Ruleset

BOUNDARY = 8 * 3600  # T0 is 09:00 Chicago; the trading day ends at 17:00

RULESET = """
ruleset: derived-test
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
  sessions: {rth: {start: "08:30", end: "15:00"}}
params: {excursion: 20, lots: 3, big_loss: 10, balance_drop: 100, sum_window: 5m}
derive:
  doubled_worst:
    type: money
    each: position
    value: derived.worst * 2 if known(derived.worst) else None
  worst:
    type: money
    each: position
    min: position.unrealized_pnl
    over: position
  most_lots:
    type: int
    trigger: [position, reconcile]
    max: account.open_contracts_raw
    over: day
  lowest_balance:
    type: money
    trigger: [account]
    min: account.balance
    over: week
  rth_fills:
    trigger: [trade]
    count: "True"
    over: session
    session: rth
  big_losses:
    trigger: [trade]
    count: known(trade.net_pnl) and trade.net_pnl < -params.big_loss
    within: 10m
  loss_sum:
    type: money
    trigger: [trade]
    sum: trade.net_pnl if known(trade.net_pnl) else 0
    within: params.sum_window
  symbol_peak:
    type: int
    each: symbol
    trigger: [position]
    max: symbol.size
    over: day
rules:
  - id: excursion
    trigger: [quote, position]
    each: position
    when: known(derived.worst) and derived.worst <= -params.excursion
    then: [close_position]
    message: "worst {derived.worst}"
  - id: lots
    trigger: [position]
    when: known(derived.most_lots) and derived.most_lots >= params.lots
    then: [{alert: {level: warning, message: "derived"}}]
  - id: balance
    trigger: [account]
    when: >-
      known(derived.lowest_balance)
      and derived.lowest_balance <= 50000 - params.balance_drop
    then: [{alert: {level: warning, message: "derived"}}]
  - id: big-losses
    trigger: [trade]
    when: derived.big_losses >= 2
    then: [{alert: {level: warning, message: "derived"}}]
    message: "{derived.big_losses} big losses, {derived.loss_sum} in 5m"
"""


def derived_ruleset() -> Ruleset:
    return load_ruleset_text(RULESET, "derived-test.yaml")


def with_fact(definition: str) -> Ruleset:
    """The test ruleset with one more derived fact (its YAML under ``derive:``)."""
    return load_ruleset_text(
        RULESET.replace("  symbol_peak:", definition + "  symbol_peak:"), "derived-test.yaml"
    )


def run(*events: Event) -> tuple[Engine, list[Firing]]:
    engine = Engine(derived_ruleset(), accounts=[ACCOUNT])
    firings: list[Firing] = []
    for event in events:
        firings += engine.apply(event)
    return engine, firings


def derived(engine: Engine, **bound: object) -> dict[str, object]:
    """``derived.*`` as a rule with these item families bound reads it."""
    view = engine.facts(ACCOUNT)["derived"]
    return view.bound_to(bound).as_dict()  # type: ignore[attr-defined,no-any-return]


def held(engine: Engine, contract: str = MNQ) -> object:
    state = engine.account(ACCOUNT)
    assert state is not None
    return state.positions[contract]


def test_a_position_remembers_its_worst_open_pnl_and_a_new_one_starts_clean() -> None:
    engine, _ = run(
        loaded(0),
        position(0, 1),
        quote(1, "20995"),  # MNQ: 0.25 = $0.50, so -5 points = -$10
        quote(2, "21010"),
    )
    assert derived(engine, position=held(engine))["worst"] == Decimal("-10")
    engine.apply(position(3, 0))
    engine.apply(position(4, 1, "21010"))
    engine.apply(quote(5, "21008"))
    assert derived(engine, position=held(engine))["worst"] == Decimal("-4")


def test_a_derived_fact_reads_the_value_another_took_on_the_same_event() -> None:
    engine, _ = run(loaded(0), position(0, 1), quote(1, "20990"))
    values = derived(engine, position=held(engine))
    assert (values["worst"], values["doubled_worst"]) == (Decimal("-20"), Decimal("-40"))


def test_a_rule_reads_the_derived_fact_of_the_position_it_has_bound() -> None:
    _, firings = run(
        loaded(0),
        loaded(0, ES, tick_value="12.5"),
        position(0, 1),
        position(0, 1, "6000", contract=ES),
        quote(1, "5999.5", contract=ES),  # ES -$25
        quote(2, "20995"),  # MNQ -$10
    )
    fired = [(f.rule_id, f.item, f.message) for f in firings if f.rule_id == "excursion"]
    assert fired == [("excursion", "position:" + ES, "worst -25")]


def test_the_most_lots_today_is_a_high_water_mark_that_resets_with_the_trading_day() -> None:
    engine, firings = run(position(0, 2), position(1, 3), position(2, 1))
    assert derived(engine)["most_lots"] == 3
    assert [f.rule_id for f in firings] == ["lots"]
    engine.apply(tick(BOUNDARY))
    assert derived(engine)["most_lots"] is None  # nothing sampled yet on the new day
    engine.apply(position(BOUNDARY + 1, 2))
    assert derived(engine)["most_lots"] == 2


def test_the_lowest_balance_of_the_week_survives_the_daily_reset_but_not_the_week() -> None:
    engine, firings = run(account_update(0, "50000"), account_update(1, "49900"))
    assert [f.rule_id for f in firings] == ["balance"]
    engine.apply(account_update(BOUNDARY + 1, "50500"))  # Wednesday's trading day
    assert derived(engine)["lowest_balance"] == Decimal("49900")
    friday_close = BOUNDARY + 3 * 86400  # Friday 17:00: Monday's trading day, a new week
    engine.apply(account_update(friday_close + 1, "50500"))
    assert derived(engine)["lowest_balance"] == Decimal("50500")


def test_a_session_count_takes_samples_only_while_the_session_is_open() -> None:
    engine, _ = run(fill(0, 1), fill(60, 2))
    assert derived(engine)["rth_fills"] == 2
    after_close = 6 * 3600 + 60  # 15:01: the session closed, its count stays
    engine.apply(fill(after_close, 3))
    assert derived(engine)["rth_fills"] == 2
    next_open = 23 * 3600 + 30 * 60 + 1  # 08:30:01 the next day
    engine.apply(fill(next_open, 4))
    assert derived(engine)["rth_fills"] == 1


def test_a_session_count_restarts_exactly_at_the_next_open_without_an_event() -> None:
    engine, _ = run(fill(0, 1), fill(60, 2))
    next_open = 23 * 3600 + 30 * 60  # 08:30 the next day
    for moment in (6 * 3600, 8 * 3600, next_open - 1):  # the close, the daily reset, 08:29:59
        engine.apply(tick(moment))
    assert derived(engine)["rth_fills"] == 2  # kept while the session is closed
    assert engine.next_deadline() == at(next_open)
    engine.apply(tick(next_open))
    assert derived(engine)["rth_fills"] == 0


FRAGILE = """
ruleset: fragile-derived
derive:
  leverage:
    type: decimal
    trigger: [account]
    value: 100 / (account.balance - 50000)
rules:
  - id: quiet
    trigger: [account]
    when: account.balance < 0
    then: [{alert: {level: info, message: "negative"}}]
"""


def test_a_failing_sample_no_rule_reads_is_reported_once() -> None:
    engine = Engine(load_ruleset_text(FRAGILE, "fragile.yaml"), accounts=[ACCOUNT])
    assert engine.apply(account_update(0, "50100")) == []
    fired = engine.apply(account_update(1, "50000"))  # 100 / 0
    assert [(f.rule_id, f.kind, f.severity) for f in fired] == [
        ("derived.leverage", "error", "critical")
    ]
    assert "derived.leverage (fragile.yaml:" in fired[0].message
    assert "DivisionByZero" in fired[0].message
    assert engine.apply(account_update(2, "50000")) == []  # the same failure: said once
    assert engine.apply(account_update(3, "50200")) == []  # it recovers silently


def test_a_window_count_forgets_samples_older_than_its_window() -> None:
    engine, firings = run(fill(0, 1, pnl="-20"), fill(300, 2, pnl="-5"), fill(600, 3, pnl="-15"))
    assert derived(engine)["big_losses"] == 2  # the first is exactly 10 minutes old
    assert [f.message for f in firings] == ["2 big losses, -20 in 5m"]
    engine.apply(tick(601))
    assert derived(engine)["big_losses"] == 1


def test_a_window_a_param_names_is_the_params_length_and_keeps_nothing_older() -> None:
    ruleset = load_ruleset_text(RULESET, "derived-test.yaml", params={"sum_window": "1m"})
    engine = Engine(ruleset, accounts=[ACCOUNT])
    for second, trade in ((0, 1), (30, 2), (61, 3)):
        engine.apply(fill(second, trade, pnl="-5"))
    assert derived(engine)["loss_sum"] == Decimal("-10")  # the first fill is 61 s old
    items = engine.derive.states[ACCOUNT]["loss_sum"].values()
    assert [len(item.aggregate) for item in items] == [2]  # and is no longer kept


def test_a_reload_whose_param_shortens_a_window_keeps_what_the_shorter_window_holds() -> None:
    engine, _ = run(
        position(0, 2), fill(0, 1, pnl="-20"), fill(100, 2, pnl="-7"), fill(200, 3, pnl="-5")
    )
    assert derived(engine)["loss_sum"] == Decimal("-32")
    reloaded, _changes = operations.reload_engine(
        engine, load_ruleset_text(RULESET, "derived-test.yaml", params={"sum_window": "2m"})
    )
    values = derived(reloaded)
    assert values["most_lots"] == 2  # unchanged: carried over
    assert values["loss_sum"] == Decimal("-12")  # the fills of the last 2 minutes, not 0
    reloaded.apply(fill(230, 4, pnl="-1"))
    assert derived(reloaded)["loss_sum"] == Decimal("-6")  # the fill at 100 s has left


def test_a_reload_whose_param_lengthens_a_window_keeps_the_samples_it_had() -> None:
    engine, _ = run(fill(0, 1, pnl="-20"), fill(200, 2, pnl="-7"))
    reloaded, _changes = operations.reload_engine(
        engine, load_ruleset_text(RULESET, "derived-test.yaml", params={"sum_window": "30m"})
    )
    assert derived(reloaded)["loss_sum"] == Decimal("-27")
    reloaded.apply(fill(900, 3, pnl="-5"))  # 15 minutes on: all three are in 30 minutes
    assert derived(reloaded)["loss_sum"] == Decimal("-32")
    reloaded.apply(tick(1801))
    assert derived(reloaded)["loss_sum"] == Decimal("-12")  # the first has left the window


def test_a_fill_the_gateway_sends_again_is_one_sample() -> None:
    # the hub re-sends a half-turn and the reconciliation reads its REST copy (without
    # commissions): the same fill each time, not another loss of 20 in the window
    engine, firings = run(
        fill(0, 1, pnl="-20"),
        fill(1, 1, pnl="-20"),
        fill(2, 1, pnl="-20", commissions=None),
    )
    assert derived(engine)["big_losses"] == 1
    assert derived(engine)["loss_sum"] == Decimal("-20")
    assert firings == []  # two big losses in ten minutes would alert


def test_an_order_the_reconciliation_reads_again_is_not_a_new_sample() -> None:
    # a limit on order changes per minute: every reconciliation (each 45 s, each 10 s while
    # the hub is down) applies every working order again as REST lists it, unchanged; only
    # a real change (a new price, a new status) is another sample
    changes = with_fact(
        "  order_changes:\n    type: int\n    trigger: [order]\n"
        "    count: order.is_working\n    within: 1m\n"
    )
    engine = Engine(changes, accounts=[ACCOUNT])
    engine.apply(order(0, 1, limit="20990"))
    engine.apply(order(10, 1, limit="20990"))
    engine.apply(order(20, 1, limit="20990"))
    assert derived(engine)["order_changes"] == 1
    engine.apply(order(30, 1, limit="20991"))  # moved: a change
    engine.apply(order(40, 1, limit="20991", kind=OrderType.LIMIT))
    assert derived(engine)["order_changes"] == 2


def test_a_position_the_reconciliation_reads_again_is_not_a_new_sample() -> None:
    # every reconciliation applies every open position again as REST lists it: a count of
    # a position's changes (opened, added to, reduced) counts the changes only
    changes = with_fact(
        "  size_changes:\n    type: int\n    each: position\n    trigger: [position]\n"
        "    count: position.size > 0\n    over: position\n"
    )
    engine = Engine(changes, accounts=[ACCOUNT])
    engine.apply(loaded(0))
    for t in (0, 45, 90):
        engine.apply(position(t, 1))
    assert derived(engine, position=held(engine))["size_changes"] == 1
    engine.apply(position(100, 2, "21010"))  # added to: a change
    engine.apply(position(145, 2, "21010"))
    assert derived(engine, position=held(engine))["size_changes"] == 2


def test_a_fill_the_exchange_voids_is_taken_back_from_sums_and_counts() -> None:
    # a busted trade: day.realized_pnl no longer counts it, and neither may a derived sum or
    # count of fills (a derived day-loss limit would flatten the account on a loss it no
    # longer has); a period and a window alike, and after a restart between fill and void
    day_sum = with_fact(
        "  day_loss:\n    type: money\n    trigger: [trade]\n"
        "    sum: trade.net_pnl if known(trade.net_pnl) else 0\n    over: day\n"
    )
    engine = Engine(day_sum, accounts=[ACCOUNT])
    engine.apply(fill(0, 1, pnl="-20"))
    engine.apply(fill(10, 2, pnl="-8"))
    engine = Engine.restore(day_sum, json.loads(json.dumps(engine.snapshot())), accounts=[ACCOUNT])
    engine.apply(fill(20, 1, pnl="-20", voided=True))
    assert derived(engine)["day_loss"] == Decimal("-8")
    assert derived(engine)["loss_sum"] == Decimal("-8")
    assert derived(engine)["big_losses"] == 0
    engine.apply(fill(30, 1, pnl="-20", voided=True))  # the void heard again: taken back once
    assert derived(engine)["day_loss"] == Decimal("-8")
    assert derived(engine)["big_losses"] == 0
    firings = engine.apply(fill(40, 3, pnl="-15"))
    assert firings == []  # one big loss in ten minutes, not two: no alert


def test_a_fill_first_heard_of_already_voided_is_no_sample() -> None:
    # a reconciliation after a reconnect reads a fill the exchange busted meanwhile: never
    # counted in day.*, nor in a derived sum or count
    engine, firings = run(fill(0, 1, pnl="-20", voided=True), fill(10, 2, pnl="-30"))
    assert derived(engine)["loss_sum"] == Decimal("-30")
    assert derived(engine)["big_losses"] == 1
    assert derived(engine)["rth_fills"] == 1
    assert firings == []  # two big losses in ten minutes would alert


def test_a_fill_reconciled_late_counts_where_it_was_filled() -> None:
    # the daemon reconnects at 17:00:30 and reads a loss filled at 16:59, yesterday's
    day_sum = with_fact(
        "  day_loss:\n    type: money\n    trigger: [trade]\n"
        "    sum: trade.net_pnl if known(trade.net_pnl) else 0\n    over: day\n"
    )
    engine = Engine(day_sum, accounts=[ACCOUNT])
    engine.apply(fill(BOUNDARY - 60, 1, pnl="-20"))
    engine.apply(fill(BOUNDARY + 30, 2, pnl="-30", created_at=at(BOUNDARY - 50)))
    assert derived(engine)["day_loss"] == 0  # both fills are yesterday's
    engine.apply(fill(BOUNDARY + 40, 3, pnl="-5"))
    assert derived(engine)["day_loss"] == Decimal("-5")
    # filled 11 minutes before the reconciliation: already out of the 10-minute window
    engine.apply(fill(BOUNDARY + 700, 4, pnl="-50", created_at=at(BOUNDARY + 40)))
    assert derived(engine)["big_losses"] == 0


def test_a_position_counts_the_fill_that_opened_it() -> None:
    # the gateway sends the opening fill before the position it opens (and the order's
    # filled status between them): the position's count of entries starts with that fill
    entries = with_fact(
        "  entries:\n    type: int\n    each: position\n    trigger: [trade]\n"
        "    count: not trade.is_closing\n    over: position\n"
    )
    engine = Engine(entries, accounts=[ACCOUNT])
    engine.apply(loaded(0))
    engine.apply(fill(1, 1, side="buy", commissions=None))
    engine.apply(order(1, 1, status=OrderStatus.FILLED))
    engine.apply(position(1, 1))
    assert derived(engine, position=held(engine))["entries"] == 1
    engine.apply(fill(2, 2, side="buy", order_id=2))
    engine.apply(position(2, 2))
    assert derived(engine, position=held(engine))["entries"] == 2
    engine.apply(fill(3, 3, pnl="5", order_id=3))  # closes: not an entry
    engine.apply(position(3, 0))
    engine.apply(fill(4, 4, side="buy", order_id=4))
    engine.apply(position(4, 1))
    assert derived(engine, position=held(engine))["entries"] == 1  # a new position


def test_a_fill_that_reverses_a_position_counts_for_the_position_it_opens() -> None:
    # long 1, then a sell of 3: the fill closes the long and opens a short of 2, which the
    # gateway sends after the fill; the short's count of fills starts with that fill (it
    # started at 0, so a limit on a position's fills fired one fill late after a reversal),
    # also across a restart between the fill and the new position
    fills = with_fact(
        "  fills_here:\n    type: int\n    each: position\n    trigger: [trade]\n"
        '    count: "True"\n    over: position\n'
    )
    engine = Engine(fills, accounts=[ACCOUNT])
    engine.apply(loaded(0))
    engine.apply(fill(1, 1, side="buy"))
    engine.apply(position(1, 1))
    engine.apply(fill(2, 2, size=3, pnl="5", order_id=2))
    assert derived(engine, position=held(engine))["fills_here"] == 2  # the long's life
    engine = Engine.restore(fills, json.loads(json.dumps(engine.snapshot())), accounts=[ACCOUNT])
    engine.apply(position(2, 2, long=False))
    assert derived(engine, position=held(engine))["fills_here"] == 1
    engine.apply(fill(3, 3, order_id=3))
    engine.apply(position(3, 3, long=False))
    assert derived(engine, position=held(engine))["fills_here"] == 2
    # the gateway may say flat between the two: the new position still starts with the fill
    engine.apply(fill(4, 4, side="buy", size=5, pnl="-5", order_id=4))
    engine.apply(position(4, 0))
    engine.apply(position(4, 2))
    assert derived(engine, position=held(engine))["fills_here"] == 1


def test_each_symbol_facts_answer_for_the_bound_root() -> None:
    engine, _ = run(position(0, 2), position(1, 3, "6000", contract=ES), position(2, 1))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert derived(engine, symbol=state.symbol("MNQ"))["symbol_peak"] == 2
    assert derived(engine, symbol=state.symbol("ES"))["symbol_peak"] == 3
    assert derived(engine)["symbol_peak"] is None  # no root bound: nothing to answer for


def test_the_engine_says_which_derived_facts_an_event_changed() -> None:
    engine, _ = run(loaded(0), position(0, 1))
    engine.apply(quote(1, "20995"))
    assert engine.derive.changed == {"worst", "doubled_worst"}
    engine.apply(quote(2, "21000"))
    assert engine.derive.changed == set()  # the minimum did not move
    engine.apply(fill(3, 1, pnl="-50"))
    assert engine.derive.changed == {"big_losses", "loss_sum", "rth_fills"}


def test_the_state_of_a_position_is_dropped_when_it_goes_flat() -> None:
    engine, _ = run(loaded(0), position(0, 1), quote(1, "20995"))
    assert set(engine.derive.states[ACCOUNT]["worst"]) == {MNQ}
    engine.apply(position(2, 0))
    assert engine.derive.states[ACCOUNT]["worst"] == {}
    assert engine.derive.states[ACCOUNT]["doubled_worst"] == {}


def test_explain_shows_each_position_its_own_derived_value() -> None:
    engine, _ = run(
        loaded(0),
        loaded(0, ES, tick_value="12.5"),
        position(0, 1),
        position(0, 1, "6000", contract=ES),
        quote(1, "5999.75", contract=ES),
        quote(2, "20998"),
    )
    explained = operations.explain(engine, "excursion", ACCOUNT, datetime(2026, 11, 24, tzinfo=UTC))
    seen = {e["item"]: e["values"]["derived.worst"] for e in explained["evaluations"]}
    assert seen == {"position:" + MNQ: Decimal("-4"), "position:" + ES: Decimal("-12.5")}


def _stream(seed: int) -> list[Event]:
    """A day and a half of positions, quotes, fills and balances, the same for a seed."""
    chance = random.Random(seed)
    events: list[Event] = [loaded(0), loaded(0, ES, tick_value="12.5")]
    now, trade_id = 0.0, 0
    while now < BOUNDARY + 4 * 3600:
        now += chance.choice((1, 5, 30, 120, 600))
        contract = chance.choice((MNQ, ES))
        base = 21000 if contract == MNQ else 6000
        kind = chance.random()
        if kind < 0.2:
            events.append(position(now, chance.randint(0, 3), str(base), contract=contract))
        elif kind < 0.6:
            price = Decimal(base) + Decimal(chance.randint(-80, 80)) / 4
            events.append(quote(now, str(price), contract=contract))
        elif kind < 0.85:
            trade_id += 1
            events.append(fill(now, trade_id, pnl=str(chance.randint(-30, 10)), contract=contract))
        elif kind < 0.95:
            events.append(account_update(now, str(50000 + chance.randint(-300, 200))))
        else:
            events.append(tick(now))
    return events


def _firings(engine: Engine, events: list[Event]) -> list[tuple[object, ...]]:
    return [
        (f.rule_id, f.item, f.at, f.message, tuple(sorted(map(str, f.values.items()))))
        for event in events
        for f in engine.apply(event)
    ]


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0.05, max_value=0.95))
def test_snapshot_restore_and_continue_fires_exactly_as_without_a_snapshot(
    seed: int, share: float
) -> None:
    events = _stream(seed)
    ruleset = derived_ruleset()
    whole = _firings(Engine(ruleset, accounts=[ACCOUNT]), events)
    cut = int(len(events) * share)
    first = Engine(ruleset, accounts=[ACCOUNT])
    before = _firings(first, events[:cut])
    snapshot = json.loads(json.dumps(first.snapshot()))
    restored = Engine.restore(ruleset, snapshot, accounts=[ACCOUNT])
    assert before + _firings(restored, events[cut:]) == whole


# -- windows: what they keep, and that it is enough ------------------------------------------

KINDS = ("max", "min", "sum", "count", "first", "last")
_T = datetime(2026, 11, 24, 15, tzinfo=UTC)


def _brute(kind: str, samples: list[tuple[datetime, int]], now: datetime, within: timedelta):  # type: ignore[no-untyped-def]
    inside = [v for t, v in samples if now - within <= t <= now]
    if kind == "count":
        return sum(1 for v in inside if v)
    if kind == "sum":
        return sum(inside, Decimal(0))
    if not inside:
        return None
    return {"max": max, "min": min, "first": lambda v: v[0], "last": lambda v: v[-1]}[kind](inside)


@settings(max_examples=200)
@given(
    st.sampled_from(KINDS),
    st.integers(min_value=1, max_value=600),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(-50, 50), st.booleans()),
        max_size=60,
    ),
)
def test_a_window_aggregate_equals_a_recomputation_over_the_samples_in_the_window(
    kind: str, within_s: int, steps: list[tuple[int, int, bool]]
) -> None:
    """For any timed samples (and reads between them): the same answer as recomputing from
    every sample, while keeping no more samples than are in the window."""
    within = timedelta(seconds=within_s)
    window = new_aggregate(kind, "money", within)
    samples: list[tuple[datetime, int]] = []
    now = _T
    for gap, value, sample in steps:
        now += timedelta(seconds=gap)
        if sample:
            window.add(now, Decimal(value))
            samples.append((now, value))
        window.expire(now)
        expected = _brute(kind, samples, now, within)
        assert window.result() == expected
        assert len(window) <= sum(1 for t, _ in samples if now - within <= t)


def test_a_window_maximum_keeps_only_samples_that_can_still_be_the_answer() -> None:
    window = new_aggregate("max", "int", timedelta(minutes=10))
    for second, value in enumerate((1, 2, 3, 4, 5)):
        window.add(_T + timedelta(seconds=second), value)
    assert len(window) == 1  # each larger sample outlives every smaller one before it
    assert window.result() == 5


def test_a_reload_keeps_derived_facts_it_does_not_change_and_restarts_those_it_does() -> None:
    engine, _ = run(position(0, 2), position(1, 3), fill(2, 1, pnl="-20"), fill(3, 2, pnl="-30"))
    changed = RULESET.replace("within: 10m", "within: 15m").replace(
        "min: account.balance", "max: account.balance"
    )
    reloaded, _changes = operations.reload_engine(
        engine, load_ruleset_text(changed, "derived-test.yaml")
    )
    values = derived(reloaded)
    assert values["most_lots"] == 3  # unchanged: carried over
    assert values["big_losses"] == 2  # only its window is longer: its samples are kept
    engine.apply(account_update(4, "49000"))
    reloaded.apply(account_update(4, "49000"))
    assert derived(engine)["lowest_balance"] == Decimal("49000")
    reloaded.apply(account_update(5, "49500"))
    assert derived(reloaded)["lowest_balance"] == Decimal("49500")  # now a maximum: anew


def test_a_window_whose_length_changes_keeps_its_samples_across_a_restart() -> None:
    engine, _ = run(fill(0, 1, pnl="-20"), fill(300, 2, pnl="-15"))
    snapshot = json.loads(json.dumps(engine.snapshot()))
    longer = load_ruleset_text(RULESET.replace("within: 10m", "within: 30m"), "derived-test.yaml")
    restored = Engine.restore(longer, snapshot, accounts=[ACCOUNT])
    restored.apply(fill(1200, 3, pnl="-11"))  # 20 minutes after the first
    assert derived(restored)["big_losses"] == 3
    shorter = load_ruleset_text(RULESET.replace("within: 10m", "within: 4m"), "derived-test.yaml")
    restored = Engine.restore(shorter, snapshot, accounts=[ACCOUNT])
    restored.apply(tick(301))
    assert derived(restored)["big_losses"] == 1  # the sample at 0 s is older than 4 minutes


def test_a_limit_on_an_account_level_derived_fact_shows_its_value_and_usage() -> None:
    engine, _ = run(account_update(0, "50000"), account_update(1, "49950"))
    usage = {entry["rule"]: entry for entry in operations.limit_usage(engine, ACCOUNT)}
    assert (usage["balance"]["fact"], usage["balance"]["value"]) == (
        "derived.lowest_balance",
        Decimal("49950"),
    )
    assert usage["balance"]["limit"] == 49900


def test_a_rule_reading_a_per_position_fact_has_one_episode_per_position() -> None:
    text = RULESET + (
        "  - id: any-excursion\n"
        "    trigger: [position]\n"
        "    when: known(derived.worst) and derived.worst <= -params.excursion\n"
        '    then: [{alert: {level: warning, message: "excursion"}}]\n'
    )
    engine = Engine(load_ruleset_text(text, "derived-test.yaml"), accounts=[ACCOUNT])
    for event in (loaded(0), loaded(0, ES, tick_value="12.5"), quote(0, "20990")):
        engine.apply(event)
    engine.apply(quote(0, "5999", contract=ES))
    fired = [f.item for f in engine.apply(position(1, 1)) if f.rule_id == "any-excursion"]
    fired += [
        f.item
        for f in engine.apply(position(2, 1, "6000", contract=ES))
        if f.rule_id == "any-excursion"
    ]
    assert fired == ["position:" + MNQ, "position:" + ES]


def test_a_per_symbol_window_counts_its_roots_fills_and_is_dropped_once_flat_and_expired() -> None:
    text = RULESET.replace(
        "rules:\n",
        "  symbol_fills:\n"
        "    each: symbol\n"
        "    trigger: [trade]\n"
        "    count: 'True'\n"
        "    within: 1m\n"
        "rules:\n"
        "  - id: busy-symbol\n"
        "    trigger: [trade]\n"
        "    when: derived.symbol_fills > 5\n"
        '    then: [{alert: {level: warning, message: "busy"}}]\n',
        1,
    )
    engine = Engine(load_ruleset_text(text, "derived-test.yaml"), accounts=[ACCOUNT])
    engine.apply(position(0, 1))  # MNQ held while an ES order fills
    engine.apply(fill(0, 1))
    engine.apply(fill(1, 2, contract=ES))
    engine.apply(position(2, 0))
    state = engine.account(ACCOUNT)
    assert state is not None
    counts = {
        root: derived(engine, symbol=state.symbol(root))["symbol_fills"] for root in ("MNQ", "ES")
    }
    assert counts == {"MNQ": 1, "ES": 1}  # a fill is a sample of its own root only
    engine.apply(position(30, 1, "6000", contract=ES))  # ES is held, MNQ no longer
    engine.apply(tick(62))
    assert set(engine.derive.states[ACCOUNT]["symbol_fills"]) == {"ES"}


def test_a_derived_fact_whose_sample_fails_fails_the_rules_that_read_it_until_one_succeeds() -> (
    None
):
    text = RULESET.replace(
        "rules:\n",
        "  share_of_first:\n"
        "    type: decimal\n"
        "    trigger: [position]\n"
        "    value: account.open_contracts_raw / (account.open_contracts_raw - 1)\n"
        "rules:\n"
        "  - id: concentrated\n"
        "    trigger: [position]\n"
        "    when: known(derived.share_of_first) and derived.share_of_first > 10\n"
        '    then: [{alert: {level: warning, message: "concentrated"}}]\n',
        1,
    )
    engine = Engine(load_ruleset_text(text, "derived-test.yaml"), accounts=[ACCOUNT])
    failed = engine.apply(position(0, 1))  # 1 / 0
    # the sample's own failure, then the rule that read it
    assert [(f.rule_id, f.kind) for f in failed] == [
        ("derived.share_of_first", "error"),
        ("concentrated", "error"),
    ]
    assert "derived.share_of_first failed" in failed[1].message
    assert str(derived(engine)["share_of_first"]).startswith("<derived.share_of_first failed")
    assert not [f for f in engine.apply(position(1, 2)) if f.kind == "error"]
    assert derived(engine)["share_of_first"] == Decimal(2)


def test_views_list_every_derived_fact_once_per_item_it_is_kept_for() -> None:
    engine, _ = run(
        loaded(0),
        loaded(0, ES, tick_value="12.5"),
        account_update(0, "50000"),
        position(0, 1),
        position(0, 1, "6000", contract=ES),
        quote(1, "5999.75", contract=ES),
        quote(2, "20998"),
    )
    values = {
        (entry["name"], entry["item"]): entry["value"]
        for entry in operations.derived_values(engine, ACCOUNT)
    }
    assert values[("worst", MNQ)] == Decimal("-4")
    assert values[("worst", ES)] == Decimal("-12.5")
    assert values[("doubled_worst", ES)] == Decimal("-25")
    assert values[("lowest_balance", None)] == Decimal("50000")
    assert {name for name, _ in values} == {fact.name for fact in engine.derive.facts}
