"""`engine history` shows the journaled fills with their P&L next to firings and lockouts."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from simple_risk.engine.events import TradeFill
from simple_risk.store import Store

from .samples import ACCOUNT, OTHER_ACCOUNT, T0, daily_loss_firing, fills


def test_a_journaled_fill_is_a_history_item_with_its_net_pnl(store: Store) -> None:
    store.append_events(ACCOUNT, fills())
    (item,) = store.history(T0 - timedelta(minutes=1), kinds=["fill"])
    assert item.kind == "fill"
    assert item.account == ACCOUNT
    assert item.rule is None
    assert item.at == T0 + timedelta(seconds=40)
    assert item.summary == "sell 2 MNQ @ 20875.00, net P&L $-501.74"
    assert item.details["fees"] == "0.74"
    assert item.details["pnl"] == "-501.00"
    assert item.details["net_pnl"] == "-501.74"
    assert item.details["trade_id"] == 8_000_000_002


def test_fills_come_in_time_order_with_the_firings_they_caused(store: Store) -> None:
    store.append_events(ACCOUNT, fills())
    store.record_firing(daily_loss_firing(at=T0 + timedelta(seconds=41)))
    items = store.history(T0)
    assert [item.kind for item in items] == ["fill", "firing"]


def test_a_corrected_fill_is_shown_once_as_last_seen(store: Store) -> None:
    events = fills()
    fill = next(e for e in events if isinstance(e, TradeFill))
    voided = dataclasses.replace(fill, at=fill.at + timedelta(minutes=2), voided=True)
    store.append_events(ACCOUNT, [*events, voided])
    (item,) = store.history(T0, kinds=["fill"])
    assert item.at == fill.at
    assert item.summary.endswith("(voided)")
    assert item.details["voided"] is True


def test_fills_filter_by_account_and_window_and_belong_to_no_rule(store: Store) -> None:
    store.append_events(ACCOUNT, fills())
    store.append_events(OTHER_ACCOUNT, fills(OTHER_ACCOUNT, T0 + timedelta(hours=1)))
    assert [i.account for i in store.history(T0, kinds=["fill"])] == [ACCOUNT, OTHER_ACCOUNT]
    assert [i.account for i in store.history(T0, account=OTHER_ACCOUNT, kinds=["fill"])] == [
        OTHER_ACCOUNT
    ]
    assert store.history(T0, until=T0 + timedelta(seconds=40), kinds=["fill"]) == []
    assert store.history(T0, rule="daily-realized-loss") == []


def test_an_opening_fill_has_no_pnl(store: Store) -> None:
    opening = TradeFill(
        at=T0,
        account_id=ACCOUNT,
        trade_id=1,
        order_id=2,
        contract_id="CON.F.US.EP.Z26",
        side=fills()[0].side,
        size=1,
        price=Decimal("6000.25"),
        pnl=None,
        commissions=Decimal("1.40"),
    )
    store.append_events(ACCOUNT, [opening])
    (item,) = store.history(T0, kinds=["fill"])
    assert item.summary == "buy 1 ES @ 6000.25, opening, costs $1.40"  # the ticker, not EP
    assert item.details["net_pnl"] is None


def test_a_firings_item_names_the_ticker_not_the_contract() -> None:
    from simple_risk.store.rows import item_words

    assert item_words("position:CON.F.US.EP.Z26") == "ES position"
    assert item_words("order:9001") == "order 9001"
    assert item_words("fill-order:9000") == "fill-order 9000"
