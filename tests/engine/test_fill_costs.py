"""One fill, one cost: the hub's copy of a fill carries commissions, the REST copy does not.

The same fill id arrives from the user hub (``fees`` and ``commissions``) and from REST
``Trade/search`` (``fees`` only). Whatever the order they arrive in — hub then REST, REST then
hub, re-sent, voided — the day counts the fill once, with the most complete cost it has been
seen with: a copy without commissions never erases known commissions. A fill known only from
REST is charged the contract's commissions per contract seen on its other fills (a missed hub
copy must not make the loss limits trigger late).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine_builders import ACCOUNT, fill, ruleset
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import TradeFill
from simple_risk.engine.facts.ledger import TradeFacts, adds_nothing


def run(*events: TradeFill) -> Engine:
    engine = Engine(ruleset())
    for event in events:
        engine.apply(event)
    return engine


def day(engine: Engine) -> Any:
    return engine.facts(ACCOUNT)["day"]


def hub(t: float, trade_id: int = 1, **kw: Any) -> TradeFill:
    """The hub's copy of an MNQ closing half-turn (reference §14.2): fees and commissions."""
    return fill(t, trade_id, pnl="-49", fees="0.36", commissions="0.25", **kw)


def rest(t: float, trade_id: int = 1, **kw: Any) -> TradeFill:
    """The REST copy of the same fill: fees, no commissions field (unknown)."""
    return fill(t, trade_id, pnl="-49", fees="0.36", commissions=None, **kw)


def test_a_rest_copy_after_the_hub_keeps_the_hub_commissions() -> None:
    engine = run(hub(0), rest(5))
    assert day(engine).fees == Decimal("0.61")
    assert day(engine).realized_pnl == Decimal("-49.61")
    assert day(engine).trade_count == 1


def test_the_hub_copy_after_rest_adds_the_commissions_once() -> None:
    engine = run(rest(0))
    assert day(engine).fees == Decimal("0.36")  # what is known so far
    engine.apply(hub(5))
    assert day(engine).fees == Decimal("0.61")
    engine.apply(rest(9))
    assert day(engine).fees == Decimal("0.61")
    assert day(engine).trade_count == 1


def test_a_re_sent_fill_is_not_counted_twice() -> None:
    engine = run(hub(0), hub(1), rest(2), hub(3))
    assert day(engine).realized_pnl == Decimal("-49.61")
    assert day(engine).trade_count == 1


def test_a_voided_rest_copy_removes_the_fill_whatever_it_lacks() -> None:
    engine = run(hub(0), rest(5, voided=True))
    assert day(engine).fees == 0
    assert day(engine).realized_pnl == 0
    assert day(engine).trade_count == 0


def test_the_trade_fact_of_a_rest_copy_shows_the_commissions_the_fill_was_seen_with() -> None:
    engine = run(hub(0), rest(5))
    state = engine.account(ACCOUNT)
    assert state is not None
    trade = TradeFacts(rest(6), "MNQ", state.ledger)
    assert trade.commissions == Decimal("0.25")
    assert trade.net_pnl == Decimal("-49.61")


def test_a_fill_only_ever_seen_from_rest_has_unknown_commissions() -> None:
    engine = run(rest(0))
    state = engine.account(ACCOUNT)
    assert state is not None
    assert TradeFacts(rest(1), "MNQ", state.ledger).commissions is None


def test_a_rest_copy_of_a_known_fill_adds_nothing_but_a_changed_one_does() -> None:
    assert adds_nothing(rest(5), hub(0))
    assert not adds_nothing(hub(5), rest(0))  # the commissions are news
    assert not adds_nothing(rest(5, voided=True), hub(0))


#: one copy of a fill: where it came from, and whether it says the fill was voided
_copies = st.tuples(st.sampled_from(["hub", "rest"]), st.booleans())


@settings(max_examples=150, deadline=None)
@given(
    fills=st.lists(
        st.lists(_copies, min_size=1, max_size=5),
        min_size=1,
        max_size=4,
    ),
    data=st.data(),
)
def test_any_arrival_order_counts_each_fill_once_with_its_most_complete_cost(
    fills: list[list[tuple[str, bool]]], data: st.DataObject
) -> None:
    # every copy of every fill, interleaved in an order hypothesis chooses
    pending = [[(trade_id, copy) for copy in copies] for trade_id, copies in enumerate(fills, 1)]
    events: list[TradeFill] = []
    t = 0
    while any(pending):
        queue = data.draw(st.sampled_from([q for q in pending if q]))
        trade_id, (source, voided) = queue.pop(0)
        maker = hub if source == "hub" else rest
        events.append(maker(t, trade_id, voided=voided, order_id=trade_id))
        t += 1
    engine = run(*events)

    # the model: a fill's commissions are the hub's once any hub copy came; a fill seen only
    # from REST is charged the contract's rate when, at one of its copies, another fill of the
    # contract that is not voided already carries commissions (real or charged so)
    state: dict[int, tuple[Decimal | None, bool]] = {}  # trade id → (commissions, voided)
    for event in events:
        known, _ = state.get(event.trade_id, (None, False))
        commissions = event.commissions if event.commissions is not None else known
        if commissions is None and any(
            c is not None and not v for t, (c, v) in state.items() if t != event.trade_id
        ):
            commissions = Decimal("0.25")
        state[event.trade_id] = (commissions, event.voided)
    expected_fees = Decimal(0)
    expected_count = 0
    for commissions, voided in state.values():
        if voided:
            continue  # the last word on a fill is that it was voided
        expected_count += 1
        expected_fees += Decimal("0.36") + (commissions or Decimal(0))
    assert day(engine).trade_count == expected_count
    assert day(engine).fees == expected_fees
    assert day(engine).realized_pnl == expected_count * Decimal("-49") - expected_fees


def test_a_fill_known_only_from_rest_is_charged_the_contracts_rate() -> None:
    engine = run(hub(0, trade_id=1, order_id=1), rest(5, trade_id=2, order_id=2))
    assert day(engine).fees == Decimal("0.36") * 2 + Decimal("0.25") * 2
    engine.apply(hub(9, trade_id=2, order_id=2))  # the real copy replaces the charge
    assert day(engine).fees == Decimal("0.36") * 2 + Decimal("0.25") * 2
    assert day(engine).trade_count == 2


def test_without_any_known_rate_a_rest_fill_costs_its_fees_only() -> None:
    engine = run(rest(0, trade_id=1, order_id=1))
    assert day(engine).fees == Decimal("0.36")
