"""The store writer: journal appends in order, calls after the events queued before them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from simple_risk.daemon.journal import StoreWriter
from simple_risk.engine.events import AccountUpdate
from simple_risk.store import Store

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _update(n: int, account: int = 1) -> AccountUpdate:
    return AccountUpdate(
        at=T0 + timedelta(seconds=n),
        account_id=account,
        name="A",
        balance=Decimal(n),
        can_trade=True,
    )


def test_events_are_journaled_in_order_and_flush_waits_for_them(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    writer = StoreWriter(store, {})
    writer.start()
    seen_by_call: list[int] = []
    for n in range(200):
        writer.journal(1 + n % 2, _update(n, 1 + n % 2))
        if n == 99:
            writer.call(lambda s: seen_by_call.append(s.last_seq(1)))
    assert writer.flush(10.0)
    assert seen_by_call == [50]  # the call ran after the 50 events of account 1 before it
    assert writer.last_seq == {1: 100, 2: 100}
    journaled = [entry.event for entry in store.events_since(1, 0)]
    assert journaled == [_update(n) for n in range(0, 200, 2)]
    writer.stop()
    store.close()
