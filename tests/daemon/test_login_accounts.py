"""The login's ``Account/search``, shared by the reconciles of its accounts.

An answer serves every reconcile requested before it was asked, and no reconcile requested
after: a reconcile after a hub gap never takes an answer from before the gap. One on its way is
waited for, not asked again; a failed one fails the reconciles that waited for it, and the next
request asks again.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from simple_risk.adapters.topstepx.errors import Endpoint, TransportError
from simple_risk.daemon.reconcile import AccountList, LoginAccounts
from simple_risk.engine.events import AccountUpdate

AT = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)


class Gateway:
    """Answers ``Account/search`` with the balance of the n-th call, or as told."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def search(self) -> AccountList:
        self.calls += 1
        self.release.wait(5.0)
        if self.fail:
            raise TransportError(Endpoint.ACCOUNT_SEARCH, "gave up", http_status=429, attempts=1)
        update = AccountUpdate(
            at=AT, account_id=20100001, name="A", balance=Decimal(self.calls), can_trade=True
        )
        return [update], []


def test_an_answer_serves_the_reconciles_requested_before_it_was_asked() -> None:
    now = [100.0]
    gateway = Gateway()
    login = LoginAccounts(gateway.search, monotonic=lambda: now[0])
    for requested in (99.0, 99.5, 100.0):  # a poll: every account requested at once
        accounts, _ = login.fresh(requested)
        assert accounts[0].balance == 1
    assert gateway.calls == 1
    now[0] = 103.0
    accounts, _ = login.fresh(101.0)  # requested after it was asked (a hub gap since)
    assert accounts[0].balance == 2 and gateway.calls == 2


def test_an_answer_on_its_way_is_waited_for_not_asked_again() -> None:
    gateway = Gateway()
    gateway.release.clear()
    login = LoginAccounts(gateway.search, monotonic=lambda: 100.0)
    got: list[Decimal] = []
    threads = [
        threading.Thread(target=lambda: got.append(login.fresh(100.0)[0][0].balance))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    gateway.release.set()
    for thread in threads:
        thread.join(5.0)
    assert got == [Decimal(1)] * 8 and gateway.calls == 1


def test_a_failed_answer_fails_its_reconciles_and_the_next_request_asks_again() -> None:
    now = [100.0]
    gateway = Gateway()
    gateway.fail = True
    login = LoginAccounts(gateway.search, monotonic=lambda: now[0])
    for _ in range(3):
        with pytest.raises(TransportError):
            login.fresh(100.0)
    assert gateway.calls == 1  # a refusing gateway is asked once for the poll
    gateway.fail = False
    now[0] = 102.0
    assert login.fresh(101.0)[0][0].balance == 2
