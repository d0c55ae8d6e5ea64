"""The last trade from ``History/retrieveBars`` as another gateway may answer it.

The rule book: a held contract whose quotes stop is priced at the close of the newest one-minute
bar that printed a trade. A bar that printed none — the partial bar of a quiet minute, sent with
volume 0, or a close of 0 or below — is no price, and never marks a position; the newest bar
is chosen by its time whichever order the bars come in.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from simple_risk.adapters.topstepx.bars import last_trade
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from tests.stub_gateway import StubGateway, serving

MNQ = "CON.F.US.MNQ.H27"
#: the moment of the question (a pinned wall, never the real date)
NOW = datetime(2027, 1, 13, 16, 0, 30, tzinfo=UTC)


class _Bars(StubGateway):
    """Answers ``History/retrieveBars`` with the bars the test set."""

    bars: ClassVar[list[dict[str, object]]] = []

    def on_call(self, path: str) -> None:
        self.answer({"bars": _Bars.bars})


def _bar(ago: int, close: object, volume: int = 12) -> dict[str, object]:
    """The bar that started ``ago`` minutes before the current minute's (0: the partial bar)."""
    start = NOW.replace(second=0) - timedelta(minutes=ago)
    return {"t": start.isoformat(), "o": close, "h": close, "l": close, "c": close, "v": volume}


def _last(bars: list[dict[str, object]]) -> Decimal | None:
    _Bars.bars = json.loads(json.dumps(bars))
    with serving(_Bars) as port:
        client = RestClient(
            f"http://127.0.0.1:{port}",
            Credentials("user", "key-0123456789"),
            config=RestConfig(timeout=2.0, max_attempts=1, backoff_base=0.01),
        )
        client.login()
        bar = last_trade(client, MNQ, now=NOW, deadline=2.0)
    return None if bar is None else bar.last


def test_the_newest_bar_is_taken_whichever_order_the_bars_come_in() -> None:
    assert _last([_bar(0, 21003.25), _bar(1, 21001.0)]) == Decimal("21003.25")
    assert _last([_bar(1, 21001.0), _bar(0, 21003.25)]) == Decimal("21003.25")


def test_a_partial_bar_without_volume_is_no_price_the_bar_before_it_is() -> None:
    assert _last([_bar(0, 0, volume=0), _bar(1, 21001.0)]) == Decimal("21001.0")
    assert _last([_bar(0, 21003.25, volume=0), _bar(1, 21001.0)]) == Decimal("21001.0")


def test_a_close_of_zero_or_below_never_prices_a_position() -> None:
    assert _last([_bar(0, 0), _bar(1, 21001.0)]) == Decimal("21001.0")
    assert _last([_bar(0, -5)]) is None
    assert _last([_bar(0, 0, volume=0)]) is None


def test_a_bar_dated_after_the_window_asked_for_is_not_taken_for_the_newest() -> None:
    # taken, its start a day ahead would have made every real bar after it 'older than the bar
    # already applied': the position frozen at its close for a day
    assert _last([_bar(-1440, 19000.0), _bar(0, 21003.25)]) == Decimal("21003.25")
    assert _last([_bar(-2, 19000.0)]) is None
    # the partial bar of a gateway whose clock runs a little ahead of this one is still news
    assert _last([_bar(-1, 21004.0), _bar(0, 21003.25)]) == Decimal("21004.0")
