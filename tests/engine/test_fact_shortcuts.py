"""The fact store's shortcuts give what recomputing from scratch gives.

The store keeps a few answers between events instead of recomputing them on every event (the
accounts a quote touches); each property here drives random streams or operations and compares
the kept answer with the one computed afresh.
"""

from __future__ import annotations

from decimal import Decimal

from engine_builders import T0
from hypothesis import given, settings
from test_properties import RULES, event_streams

from simple_risk.engine.engine import Engine
from simple_risk.engine.events import Event, Quote


@settings(max_examples=80)
@given(event_streams(max_size=60))
def test_a_quote_touches_exactly_the_accounts_holding_or_working_its_contract(
    events: list[Event],
) -> None:
    engine = Engine(RULES)
    for event in events:
        engine.apply(event)
        for contract in engine.store.market.contracts.values():
            kept = contract.affected
            fresh = sorted(contract.positions.keys() | contract.working_accounts.keys())
            assert kept is None or [state.id for state in kept] == fresh
        if isinstance(event, Quote):
            contract = engine.store.market.contracts[event.contract_id]
            touched = engine.store.apply(event)  # the same prices again: nothing moves
            holders = contract.positions.keys() | contract.working_accounts.keys()
            assert [state.id for state in touched.accounts] == sorted(holders)


def test_a_quote_of_a_contract_nobody_holds_touches_no_account() -> None:
    engine = Engine(RULES)
    touched = engine.store.apply(
        Quote(at=T0, contract_id="CON.F.US.MNQ.Z26", last=Decimal(1), bid=None, ask=None)
    )
    assert touched.accounts == []
