"""Sample events, firings, lockouts and intents shaped like the ones the daemon will store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simple_risk.engine.events import (
    AccountUpdate,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    TradeFill,
)

ACCOUNT = 7_300_123
OTHER_ACCOUNT = 7_300_456
#: 15:00 UTC on a Tuesday: 09:00 in Chicago, inside the RTH session.
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
#: 17:00 America/Chicago, when the trading day ends (CST = UTC-6).
DAY_END = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def fills(account: int = ACCOUNT, start: datetime = T0) -> list[Any]:
    """A losing round trip on MNQ, as the adapter would emit it."""
    return [
        OrderUpdate(
            at=start,
            account_id=account,
            order_id=9_000_000_001,
            contract_id="CON.F.US.MNQ.Z26",
            status=OrderStatus.FILLED,
            type=OrderType.MARKET,
            side=OrderSide.BUY,
            size=2,
            fill_volume=2,
            filled_price=Decimal("21000.25"),
        ),
        PositionUpdate(
            at=start + timedelta(milliseconds=3),
            account_id=account,
            contract_id="CON.F.US.MNQ.Z26",
            type=PositionType.LONG,
            size=2,
            average_price=Decimal("21000.25"),
        ),
        TradeFill(
            at=start + timedelta(seconds=40),
            account_id=account,
            trade_id=8_000_000_002,
            order_id=9_000_000_002,
            contract_id="CON.F.US.MNQ.Z26",
            side=OrderSide.SELL,
            size=2,
            price=Decimal("20875.00"),
            pnl=Decimal("-501.00"),
            fees=Decimal("0.74"),
            commissions=Decimal("0.00"),
            created_at=start + timedelta(seconds=39, microseconds=250_000),
        ),
        AccountUpdate(
            at=start + timedelta(seconds=41),
            account_id=account,
            name="50KTC-V2-0001",
            balance=Decimal("49498.26"),
            can_trade=True,
        ),
    ]


def daily_loss_firing(account: int = ACCOUNT, at: datetime = T0) -> dict[str, Any]:
    return {
        "rule": "daily-realized-loss",
        "account": account,
        "at": at,
        "severity": "critical",
        "message": "Daily realized P&L -501.74 reached the -500 limit",
        "values": {"day.realized_pnl": Decimal("-501.74"), "params.daily_loss_limit": 500},
        "journal_seq": 3,
    }


def day_lockout(at: datetime = T0) -> dict[str, Any]:
    return {"scope": "account", "reason": "daily loss limit", "start": at, "end": DAY_END}


def flatten_intents(account: int = ACCOUNT, at: datetime = T0) -> list[dict[str, Any]]:
    stamp = at.isoformat()
    return [
        {"key": f"{account}:daily-realized-loss:{stamp}:cancel", "kind": "cancel_orders"},
        {
            "key": f"{account}:daily-realized-loss:{stamp}:flatten",
            "kind": "flatten",
            "target": {"positions": 0, "working_orders": 0},
        },
    ]
