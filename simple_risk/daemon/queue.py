"""The engine's one ordered input queue (issue #6 item 2, docs/architecture.md §5).

Hub callbacks, the clock ticker, reconciliation and the executor's results all put events
here; the engine thread is the only consumer. Two promises:

* account, order, position and fill events (and every daemon-internal event) are never dropped
  and ``put`` never blocks — the queue is unbounded for them, because losing a fill would make
  the day's P&L wrong and blocking a hub callback would stall signalrcore's receive thread;
* quotes are coalesced per contract: while a quote for a contract is still waiting, a newer one
  replaces it in place (only the latest price matters; a price from REST bars never replaces a
  hub's quote), so a burst of quotes when the engine falls behind costs one slot per contract
  instead of growing without bound.

It is a :class:`queue.Queue` (the hub clients and the contract cache take one as their sink)
whose storage hooks implement the coalescing; ``max_depth`` and ``coalesced`` are the figures
``engine status`` and the load benchmark print.
"""

from __future__ import annotations

import queue
from collections import deque

from simple_risk.adapters.topstepx.bars import BarQuote
from simple_risk.engine.events import Event, Quote


class _QuoteSlot:
    """A place in the order held by the newest quote of one contract."""

    __slots__ = ("quote",)

    def __init__(self, quote: Quote) -> None:
        self.quote = quote


class EventQueue(queue.Queue[Event]):
    """Unbounded, ordered, never dropping; quotes coalesced per contract while they wait."""

    def _init(self, maxsize: int) -> None:
        self._items: deque[Event | _QuoteSlot] = deque()
        self._waiting_quotes: dict[str, _QuoteSlot] = {}
        self.max_depth = 0
        self.coalesced = 0
        self.received = 0

    def _qsize(self) -> int:
        return len(self._items)

    def _put(self, item: Event) -> None:
        self.received += 1
        if isinstance(item, Quote):
            slot = self._waiting_quotes.get(item.contract_id)
            if slot is not None:
                # a price from REST bars never replaces a hub's quote still waiting: the
                # quote is the newer word (a quote replaces a waiting bar's price)
                if not isinstance(item, BarQuote) or isinstance(slot.quote, BarQuote):
                    slot.quote = item
                self.coalesced += 1
                return
            slot = _QuoteSlot(item)
            self._waiting_quotes[item.contract_id] = slot
            self._items.append(slot)
        else:
            self._items.append(item)
        if len(self._items) > self.max_depth:
            self.max_depth = len(self._items)

    def _get(self) -> Event:
        item = self._items.popleft()
        if isinstance(item, _QuoteSlot):
            del self._waiting_quotes[item.quote.contract_id]
            return item.quote
        return item

    def depth(self) -> int:
        """Events waiting now (a coalesced quote counts once)."""
        with self.mutex:
            return len(self._items)


__all__ = ["EventQueue"]
