"""Enforcement that cannot be starved quietly (issue #12 item 4), against the simulator.

A 429 storm from the gateway while a losing position must be closed: within a few seconds a
critical alert names the account and the cause; the close is retried under its one intent key
(each attempt bounded by the enforcement deadline, not hidden in transport retries); and when
the storm passes the position is closed and a note says the calls get through again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.daemon.starvation import RATE_LIMITED

from .harness import ACCOUNT, Start

STORM = 12  # refused calls in a row: about a dozen seconds of the gateway saying 429


def _alerts(h: Any, level: str, words: str) -> list[dict[str, str]]:
    return [a for a in h.daemon.alerter.recent if a["level"] == level and words in a["message"]]


def test_a_429_storm_raises_a_critical_alert_at_once_and_the_close_lands_after_it(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = start()
    keys: list[str] = []
    submit = h.daemon.executor.submit

    def recording(account: int, key: str, calls: Sequence[RestRequest], *args: Any) -> None:
        keys.append(key)
        submit(account, key, calls, *args)

    monkeypatch.setattr(h.daemon.executor, "submit", recording)
    h.trader.buy(ACCOUNT, "EP")
    h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
    h.sim.fail_next(STORM, 429)
    moved = time.monotonic()
    h.trader.move("EP", Decimal("-7"))  # past max_unrealized_loss: the position must close

    h.wait(lambda: _alerts(h, "critical", RATE_LIMITED), "the starvation alert", timeout=8.0)
    alerted_after = time.monotonic() - moved
    assert alerted_after <= 6.0, f"the alert came {alerted_after:.1f}s after the breach"
    alert = _alerts(h, "critical", RATE_LIMITED)[0]["message"]
    assert f"account {ACCOUNT}" in alert and "starved" in alert

    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close after the storm", timeout=40.0)
    print(
        f"\nstarvation: critical alert {alerted_after:.1f}s after the breach; "
        f"flat {time.monotonic() - moved:.1f}s after it ({STORM} refusals in a row)"
    )
    assert h.fired("daily-unrealized-loss")
    closes = {key for key in keys if key.startswith("position-closed:")}
    assert len(closes) == 1, f"the close was re-planned under new keys: {closes}"
    h.wait(lambda: _alerts(h, "warning", "get through again"), "the recovery note")
    assert len(_alerts(h, "critical", RATE_LIMITED)) == 1  # one alert per episode
