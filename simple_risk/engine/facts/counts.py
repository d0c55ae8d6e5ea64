"""Counts and sets over an account's items: how many positions are open, working orders per
side, which roots were traded today, and what an order would do to its contract's position.

Rules used to approximate these (``account.open_contracts_raw > 0`` for "a position is open",
one rule per side); here each is one fact, computed on read from the state the account already
keeps (positions, working orders, the ledger's fills), so nothing new needs resetting or
snapshotting: the daily reset and ``restore`` of that state carry them exactly. The fact
families (``views.AccountFacts``, ``SymbolFacts``, ``Order``) expose them by delegating here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simple_risk.engine.facts.symbols import projectx_root

if TYPE_CHECKING:
    from simple_risk.engine.facts.account import AccountState
    from simple_risk.engine.facts.orders import Order


def open_positions(state: AccountState) -> int:
    """Contracts with an open position (the account keeps only open ones)."""
    return len(state.positions)


def working_orders_on(state: AccountState, buy: bool) -> int:
    """Working orders (not contracts) on one side; the account keeps only working ones."""
    return sum(1 for order in state.orders.values() if order.buy is buy)


def roots_traded_today(state: AccountState) -> frozenset[str]:
    """The roots (after alias mapping) of today's non-voided fills."""
    ledger = state.ledger
    return frozenset(
        state.symbols.root(projectx_root(record.fill.contract_id))
        for record in ledger.fills.values()
        if record.day == ledger.day and not record.fill.voided
    )


def position_effect(order: Order, state: AccountState) -> str:
    """What filling ``order`` does to its contract's position: ``opens`` (there is none),
    ``adds`` (one on the order's side) or ``reduces`` (one on the other side; a larger order
    reverses it). A bracket child only ever closes what its entry opened: ``reduces``."""
    if order.is_child:
        return "reduces"
    position = state.positions.get(order.contract_id)
    if position is None or position.size <= 0:
        return "opens"
    return "adds" if position.long == order.buy else "reduces"
