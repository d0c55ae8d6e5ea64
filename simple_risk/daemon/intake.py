"""Intake: what flows from the gateway into the engine thread's queue.

The two hubs (user: the accounts' orders, positions, fills; market: quotes) and the contract
cache put typed events on the queue from their own threads. This part starts and stops them,
subscribes the quotes of every contract an account touches (from a thread of its own: the
engine thread never waits on a socket), and routes quotes: a quote reaches only the engines
exposed to its contract, and an account's first order or position in a contract first gets
the latest quote it skipped. A user-hub record the converter doubts (unreadable, or an order
of unknown status read as working) goes on the queue too, after which the engine thread
alerts and reconciles the account.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from simple_risk.adapters.topstepx.bars import BarQuote
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.hubconverter import Converter, Doubt
from simple_risk.adapters.topstepx.hubs import MarketHubClient, UserHubClient
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.daemon.context import Shared
from simple_risk.daemon.messages import HubDoubt
from simple_risk.engine.events import Event, Quote
from simple_risk.engine.facts.account import AccountState

log = logging.getLogger(__name__)


class Intake:
    """The hubs, the contract cache and the quote subscriptions."""

    def __init__(self, shared: Shared, client: RestClient) -> None:
        self._shared = shared
        options = shared.options
        self.contracts = ContractCache(client, shared.config.data_dir, sink=shared.queue)
        self.user_hub = UserHubClient(
            shared.config.user_hub,
            client,
            shared.queue,
            clock=shared.clock,
            converter=Converter(shared.clock, on_doubt=self._doubted),
            config=options.hubs,
            recorder=options.recorder,
        )
        self.market_hub = MarketHubClient(
            shared.config.market_hub,
            client,
            shared.queue,
            clock=shared.clock,
            config=options.hubs,
            recorder=options.recorder,
        )
        #: sends hub subscriptions for the engine thread, which never waits on a socket
        self._subscriber = ThreadPoolExecutor(max_workers=1, thread_name_prefix="subscriber")
        self._latest_quote: dict[str, Quote] = {}
        #: each contract priced from REST bars since its last quote → the bar's quote: its
        #: latest price, which an account entering the contract meanwhile is first told
        self._latest_bar: dict[str, Quote] = {}
        #: each contract watched (its quotes subscribed), and since when: the quote watch's
        #: "heard" of a contract never quoted
        self._watched_at: dict[str, datetime] = {}
        self._stale_quotes: dict[int, set[str]] = {}

    def _doubted(self, doubt: Doubt) -> None:
        """The user hub's thread: a doubted record goes to the engine thread (which alone
        alerts and asks for reconciles), right before the message's events."""
        try:
            self._shared.queue.put_nowait(HubDoubt(at=doubt.at, doubt=doubt))
        except queue.Full:  # the queue is unbounded: only a bounded test queue gets here
            log.error("could not queue a doubted %s record: %s", doubt.target, doubt.what)

    def start(self) -> None:
        """Load the available contracts, subscribe the accounts and start both hubs (the
        contracts the accounts hold load from their startup reconciles' answers)."""
        accounts = self._shared.config.accounts
        self.contracts.load_catalogue()
        for account in accounts:
            self.user_hub.subscribe_account(account)
        self.user_hub.start()
        self.market_hub.start()

    def wait_connected(self) -> None:
        self.user_hub.wait_connected(self._shared.options.hub_ready_timeout)

    def begin_stop(self) -> list[threading.Thread]:
        """Stop subscribing and start closing both hubs; returns the threads closing them.

        The hubs close in parallel with the rest of the stop: each one's close is bounded by
        its ``stop_timeout``, and neither waits for the other."""
        self._subscriber.shutdown(wait=False, cancel_futures=True)
        closers = [
            threading.Thread(target=hub.stop, name=f"{hub.hub}-hub-close", daemon=True)
            for hub in (self.user_hub, self.market_hub)
        ]
        for thread in closers:
            thread.start()
        return closers

    def finish_stop(self, closers: list[threading.Thread]) -> None:
        self.contracts.close()
        deadline = time.monotonic() + self._shared.options.hubs.stop_timeout
        for thread in closers:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def watch_contract(self, event: Event) -> None:
        """Subscribe the quotes and load the contract of an event's contract, once."""
        contract_id = getattr(event, "contract_id", None)
        if isinstance(contract_id, str) and contract_id not in self._watched_at:
            self._watched_at[contract_id] = self._shared.clock.now()
            # a hub invoke writes to a socket: never on the engine thread
            try:
                self._subscriber.submit(self._subscribe_quotes, contract_id)
            except RuntimeError:  # stopping: the subscriber thread is gone, and so are the hubs
                log.debug("not subscribing to %s: the daemon is stopping", contract_id)
            self.contracts.request(contract_id)

    def _subscribe_quotes(self, contract_id: str) -> None:
        """The subscriber thread: ask the market hub for a contract's quotes and trades."""
        try:
            self.market_hub.subscribe_quotes(contract_id)
        except Exception:  # the hub re-sends every subscription when it reconnects
            log.exception("could not subscribe to the quotes of %s", contract_id)

    def quote_receivers(self, quote: Quote) -> list[int]:
        """The accounts a quote is applied to: those exposed to its contract (measured:
        applying every quote to every account's engine was most of the engine thread's time
        with 20 accounts). The others are told of it before their first exposure."""
        self._latest_quote[quote.contract_id] = quote
        self._latest_bar.pop(quote.contract_id, None)  # a quote is newer than any bar before it
        return self._exposed_to(quote.contract_id)

    def bar_applied(self, bar: BarQuote) -> None:
        """A price from REST bars was applied (engine thread): the market hub's quote book
        takes it, so the quotes that come back merge into it, not into those of before."""
        if bar.last is not None:
            self.market_hub.converter.quotes.take_bar(bar.contract_id, bar.last, bar.asked_at)

    def bar_receivers(self, quote: Quote) -> list[int]:
        """The accounts a price from REST bars is applied to: those exposed to its contract.
        It is not a quote heard (not the latest quote), but it is the contract's latest price:
        an account not exposed now is told of it before its first exposure, instead of the
        quote heard before the silence."""
        self._latest_bar[quote.contract_id] = quote
        return self._exposed_to(quote.contract_id)

    def _exposed_to(self, contract_id: str) -> list[int]:
        """The accounts exposed to a contract; each other account is marked to be told of the
        contract's latest price before its first exposure."""
        receivers = []
        for account, engine in self._shared.engines.items():
            if _exposed(engine.account(account), contract_id):
                receivers.append(account)
            else:
                self._stale_quotes.setdefault(account, set()).add(contract_id)
        return receivers

    def skipped_quote(self, account: int, event: Event) -> Quote | None:
        """Before an account's first order or position in a contract: the latest quote of it
        the account's engine skipped (so unrealized P&L is known at once), if any — or the
        price from REST bars that came after it (a quote heard before a silence may be far
        from the market the account enters at)."""
        contract_id = getattr(event, "contract_id", None)
        stale = self._stale_quotes.get(account)
        if not stale or not isinstance(contract_id, str) or contract_id not in stale:
            return None
        stale.discard(contract_id)
        return self._latest_bar.get(contract_id) or self._latest_quote.get(contract_id)

    def quoted(self) -> dict[str, datetime]:
        """Each contract quoted since the start → when its last quote arrived (a price from REST
        bars is no quote). Engine thread."""
        return {contract_id: quote.at for contract_id, quote in list(self._latest_quote.items())}

    def heard(self) -> dict[str, datetime]:
        """Each watched contract → when its last quote arrived (or, never quoted, when the
        daemon began to watch it): the quote watch's input. Engine thread."""
        heard = dict(self._watched_at)
        for contract_id, quote in list(self._latest_quote.items()):
            heard[contract_id] = quote.at
        return heard


def _exposed(state: AccountState | None, contract_id: str) -> bool:
    """The account holds a position or a working order in the contract."""
    return state is not None and (
        contract_id in state.positions or bool(state.orders_by_contract.get(contract_id))
    )


__all__ = ["Intake"]
