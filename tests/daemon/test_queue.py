"""The engine's queue: ordered, never drops fact events, coalesces quotes per contract."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.bars import BarQuote
from simple_risk.daemon.queue import EventQueue
from simple_risk.engine.events import ClockTick, Event, OrderSide, Quote, TradeFill

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _fill(n: int) -> TradeFill:
    return TradeFill(
        at=T0 + timedelta(milliseconds=n),
        account_id=1,
        trade_id=n,
        order_id=n,
        contract_id="CON.F.US.MNQ.Z26",
        side=OrderSide.BUY,
        size=1,
        price=Decimal(100),
        pnl=None,
    )


def _quote(n: int, contract: str = "CON.F.US.MNQ.Z26") -> Quote:
    return Quote(at=T0 + timedelta(milliseconds=n), contract_id=contract, last=Decimal(n))


def _drain(q: EventQueue) -> list[Event]:
    out: list[Event] = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_fills_are_never_dropped_and_keep_their_order() -> None:
    q = EventQueue()
    fills = [_fill(n) for n in range(10_000)]
    for fill in fills:
        q.put_nowait(fill)
    assert _drain(q) == fills
    assert q.max_depth == 10_000


def test_a_waiting_quote_is_replaced_in_place_by_a_newer_one() -> None:
    q = EventQueue()
    q.put(_quote(1))
    q.put(_fill(2))
    q.put(_quote(3))
    q.put(_quote(4, "CON.F.US.EP.Z26"))
    assert _drain(q) == [_quote(3), _fill(2), _quote(4, "CON.F.US.EP.Z26")]
    assert q.coalesced == 1


def test_a_consumed_quote_is_not_replaced() -> None:
    q = EventQueue()
    q.put(_quote(1))
    assert q.get_nowait() == _quote(1)
    q.put(_quote(2))
    assert _drain(q) == [_quote(2)]


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=200))
def test_every_non_quote_event_arrives_once_in_order(script: list[tuple[bool, int]]) -> None:
    q = EventQueue()
    sent: list[Event] = []
    for n, (is_quote, contract) in enumerate(script):
        event: Event = _quote(n, f"C{contract}") if is_quote else ClockTick(at=T0)
        if not is_quote:
            event = _fill(n)
            sent.append(event)
        q.put(event)
    got = _drain(q)
    assert [e for e in got if not isinstance(e, Quote)] == sent
    quotes = [e for e in got if isinstance(e, Quote)]
    # nothing was consumed while putting: one slot per contract, holding its newest quote
    latest: dict[str, datetime] = {}
    for n, (is_quote, contract) in enumerate(script):
        if is_quote:
            latest[f"C{contract}"] = _quote(n).at
    assert {quote.contract_id: quote.at for quote in quotes} == latest
    assert len(quotes) == len(latest)


def test_producers_on_many_threads_never_block_or_lose() -> None:
    q = EventQueue()

    def produce(base: int) -> None:
        for n in range(2_000):
            q.put(_fill(base + n))

    threads = [threading.Thread(target=produce, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    got = _drain(q)
    assert len(got) == 8_000
    for k in range(4):
        mine = [e.trade_id for e in got if isinstance(e, TradeFill) and e.trade_id // 10_000 == k]
        assert mine == sorted(mine)


def test_a_price_from_rest_bars_never_replaces_a_waiting_quote_but_a_quote_replaces_it() -> None:
    """A bar's close is older word than the hub's quote waiting beside it: dropped. A quote
    arriving while a bar's price waits takes its place."""
    q = EventQueue()
    quote = _quote(1)
    q.put_nowait(quote)
    q.put_nowait(_bar(2))
    assert _drain(q) == [quote]
    q.put_nowait(_bar(3))
    newer = _quote(4)
    q.put_nowait(newer)
    assert _drain(q) == [newer]


def _bar(n: int, contract: str = "CON.F.US.MNQ.Z26") -> BarQuote:
    at = T0 + timedelta(milliseconds=n)
    return BarQuote(at=at, contract_id=contract, last=Decimal(n), bar_start=T0, asked_at=at)
