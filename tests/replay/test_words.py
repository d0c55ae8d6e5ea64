"""The plain words of a replay: each planned gateway call says what it touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from simple_risk.adapters.topstepx.outgoing import (
    cancel_order_request,
    close_position_request,
    modify_stop_request,
    partial_close_request,
    place_stop_request,
)
from simple_risk.engine import Engine
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import LockNotice
from simple_risk.engine.events import (
    ContractInfo,
    ContractLoaded,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.resources import default_ruleset_path
from simple_risk.whatif.words import call_words, lock_words, moment

AT = datetime(2026, 8, 19, 14, 0, tzinfo=UTC)
MNQ = "CON.F.US.MNQ.U26"
CHICAGO = ZoneInfo("America/Chicago")


def account_with_a_position_and_a_stop() -> AccountState:
    engine = Engine(load_ruleset(default_ruleset_path()), accounts=[7])
    contract = ContractInfo(MNQ, "F.US.MNQ", "MNQ", "MNQU6", Decimal("0.25"), Decimal("0.5"), 1)
    engine.apply(ContractLoaded(at=AT, contract=contract))
    engine.apply(
        PositionUpdate(
            at=AT,
            account_id=7,
            contract_id=MNQ,
            type=PositionType.SHORT,
            size=4,
            average_price=Decimal("23410.25"),
        )
    )
    engine.apply(
        OrderUpdate(
            at=AT,
            account_id=7,
            order_id=55,
            contract_id=MNQ,
            status=OrderStatus.OPEN,
            type=OrderType.STOP,
            side=OrderSide.BUY,
            size=4,
            stop_price=Decimal("23420.25"),
        )
    )
    state = engine.account(7)
    assert state is not None
    return state


def test_every_call_names_the_symbol_size_or_order_it_touches() -> None:
    state = account_with_a_position_and_a_stop()
    assert call_words(close_position_request(7, MNQ), state) == "close MNQ 4 (short)"
    assert call_words(partial_close_request(7, MNQ, 1), state) == "reduce MNQ by 1 of 4"
    assert (
        call_words(cancel_order_request(7, 55), state)
        == "cancel order #55 (stop buy 4 MNQ @ 23420.25)"
    )
    assert call_words(cancel_order_request(7, 56), state) == "cancel order #56"
    stop = place_stop_request(7, MNQ, side=OrderSide.BUY, size=4, stop_price=Decimal("23415"))
    assert call_words(stop, state) == "place a stop buy 4 MNQ at 23415"
    move = modify_stop_request(7, 55, stop_price=Decimal("23415"), size=3)
    assert call_words(move, state) == "move stop #55 to 23415 for 3"


def test_a_call_for_a_contract_the_facts_do_not_hold_still_names_its_root() -> None:
    assert call_words(close_position_request(7, "CON.F.US.EP.U26"), None) == "close EP"


def test_lockouts_say_until_when_in_the_zone_shown() -> None:
    until = AT + timedelta(hours=8)
    lock = LockNotice("account", None, "lock", until, "daily loss limit")
    assert lock_words(lock, AT, CHICAGO) == "lock the account until 2026-08-19 17:00:00.000 CDT"
    cooldown = LockNotice("symbol", "ES", "cooldown", AT + timedelta(minutes=5), "")
    assert lock_words(cooldown, AT, CHICAGO) == "cool ES down for 5 min (until 09:05:00.000 CDT)"
    holding = LockNotice("symbol", "RTY", "lock", None, "")
    assert lock_words(holding, AT, CHICAGO) == "lock RTY while the condition holds"
    assert moment(AT, ZoneInfo("UTC"), day=False) == "14:00:00.000 UTC"
