"""Which hub fills people are told about (``monitor``, the demo console): each once, and again
only when the gateway voids or un-voids it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from simple_risk.daemon.announce import FillNews
from simple_risk.engine.events import OrderSide, TradeFill

AT = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)

BUY = TradeFill(
    at=AT,
    account_id=20100001,
    trade_id=7,
    order_id=3,
    contract_id="CON.F.US.MNQ.Z26",
    side=OrderSide.BUY,
    size=1,
    price=Decimal("21000.25"),
    pnl=None,
    fees=Decimal("0.37"),
)


def test_a_fill_is_news_once() -> None:
    news = FillNews()
    assert news.is_news(BUY)
    assert not news.is_news(BUY)  # sent again when its position closed
    assert not news.is_news(dataclasses.replace(BUY, at=AT.replace(minute=5)))


def test_a_voided_fill_is_news_and_so_is_its_return() -> None:
    news = FillNews()
    assert news.is_news(BUY)
    assert news.is_news(dataclasses.replace(BUY, voided=True))
    assert not news.is_news(dataclasses.replace(BUY, voided=True))
    assert news.is_news(BUY)


def test_the_same_trade_id_on_another_account_is_its_own_fill() -> None:
    news = FillNews()
    assert news.is_news(BUY)
    assert news.is_news(dataclasses.replace(BUY, account_id=20100002))


def test_it_remembers_a_bounded_number_of_fills() -> None:
    news = FillNews()
    for trade_id in range(FillNews.KEPT + 1):
        news.is_news(dataclasses.replace(BUY, trade_id=trade_id))
    assert news.is_news(dataclasses.replace(BUY, trade_id=0))  # the oldest was let go
    assert not news.is_news(dataclasses.replace(BUY, trade_id=FillNews.KEPT))
