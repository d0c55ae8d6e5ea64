"""Market facts shared by every account: contract metadata and the latest quote per contract.

The fact store keeps one :class:`ContractState` per contract id it has seen (in a position,
an order, a fill, a quote or a ``ContractLoaded``). Positions read their mark price and tick
size/value from it, so a quote updates every account's position in that contract at once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from simple_risk.engine.events import ContractInfo, Quote
from simple_risk.engine.facts.symbols import SymbolBook, projectx_root
from simple_risk.engine.model import SymbolSpec

if TYPE_CHECKING:
    from simple_risk.engine.facts.account import AccountState
    from simple_risk.engine.facts.positions import Position


def raw_root(contract_id: str) -> str:
    """The ProjectX root of a contract id: ``CON.F.US.EP.Z26`` → ``EP``."""
    return projectx_root(contract_id)


class ContractState:
    """One contract: metadata (unknown until loaded) and the last full quote."""

    __slots__ = (
        "affected",
        "ask",
        "bid",
        "contract_id",
        "info",
        "last",
        "positions",
        "quote_at",
        "root",
        "tick_size",
        "tick_value",
        "working_accounts",
    )

    def __init__(self, contract_id: str, root: str) -> None:
        self.contract_id = contract_id
        self.root = root
        self.info: ContractInfo | None = None
        self.tick_size: Decimal | None = None
        self.tick_value: Decimal | None = None
        self.last: Decimal | None = None
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        self.quote_at: datetime | None = None
        #: account id → that account's open position in this contract
        self.positions: dict[int, Position] = {}
        #: account id → number of its working orders in this contract
        self.working_accounts: dict[int, int] = {}
        #: the accounts a quote of this contract touches (a position or a working order in it),
        #: by id: computed by the fact store on a quote, forgotten (None) whenever an account's
        #: position or working orders here change, so most quotes skip sorting them
        self.affected: list[AccountState] | None = None

    def mark(self, long: bool) -> Decimal | None:
        """Mark price: the last trade, unless the quote has moved away from it; then (or with
        no trade yet) the bid for a long and the ask for a short.

        Live quote updates carry no last price (only market trades do), so a quiet market can
        leave the last trade behind a falling bid. A last trade outside the current bid/ask is
        stale, and marking at it would hide a loss the position could only close at.
        """
        last, bid, ask = self.last, self.bid, self.ask
        if last is not None and (bid is None or last >= bid) and (ask is None or last <= ask):
            return last
        if long:
            return bid if bid is not None else last
        return ask if ask is not None else last

    def load(self, info: ContractInfo) -> None:
        self.info = info
        self.tick_size = info.tick_size if info.tick_size > 0 else None
        self.tick_value = info.tick_value


class Market:
    """Every contract seen, by id, with the ticker its :class:`SymbolBook` gives it."""

    __slots__ = ("book", "contracts", "symbols")

    def __init__(self, symbols: SymbolSpec) -> None:
        self.symbols = symbols
        self.book = SymbolBook(symbols)
        self.contracts: dict[str, ContractState] = {}

    def contract(self, contract_id: str) -> ContractState:
        state = self.contracts.get(contract_id)
        if state is None:
            state = ContractState(contract_id, self.book.root(raw_root(contract_id)))
            self.contracts[contract_id] = state
        return state

    def load(self, info: ContractInfo) -> ContractState:
        """Take in a contract's metadata: its name names its ticker (re-rooting the contract
        only while nothing is open or working in it, see :mod:`.symbols`)."""
        self.book.learn(info)
        state = self.contract(info.contract_id)
        if not state.positions and not state.working_accounts:
            state.root = self.book.root(raw_root(info.contract_id))
        state.load(info)
        return state


class QuoteFacts:
    """The ``quote`` family: the quote that triggered the rule."""

    __slots__ = ("ask", "bid", "contract_id", "last", "symbol")

    def __init__(self, quote: Quote, root: str) -> None:
        self.contract_id = quote.contract_id
        self.symbol = root
        self.last = quote.last
        self.bid = quote.bid
        self.ask = quote.ask


__all__ = ["ContractState", "Market", "QuoteFacts", "raw_root"]
