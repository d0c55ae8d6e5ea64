"""Enforcement that cannot be starved quietly (issue #12 item 4), against the simulator.

A 429 storm from the gateway while a losing position must be closed: within a few seconds a
critical alert names the account and the cause; the close is retried under its one intent key
(each attempt bounded by the enforcement deadline, not hidden in transport retries); and when
the storm passes the position is closed and a note says the calls get through again.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from simple_risk.daemon.starvation import RATE_LIMITED
from tests.pinned import pinned_wall

from .harness import (
    ACCOUNT,
    FAST_OPTIONS,
    Harness,
    Start,
    build_ruleset,
    guarding_config,
    pinned_simulator,
)

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


def test_a_close_held_by_a_reconciles_retry_after_goes_the_moment_the_gateway_allows(
    tmp_path: Path,
) -> None:
    """The gateway answers a reconcile 429 with ``Retry-After: 4``, and a position must be
    closed meanwhile. Nothing reaches the gateway before it said (a call then only earns
    another 429), and the close goes the moment it allows — not a backoff later: each
    enforcing attempt gives up at once when the wait is longer than it may last (here 0.5 s),
    and its retry is due when the gateway's wait ends, whatever the retry interval says (1 s,
    doubling: the fourth attempt would have come 3 s late)."""
    wall = pinned_wall()
    sim = pinned_simulator(wall)
    config = guarding_config(sim, (ACCOUNT,), tmp_path / "daemon")
    config = config.with_timing(dataclasses.replace(config.timing, retry_interval=1.0))
    options = dataclasses.replace(
        FAST_OPTIONS,
        wall=wall,
        rest=dataclasses.replace(FAST_OPTIONS.rest, enforcement_deadline=0.5),
    )
    daemon = Daemon(config, {ACCOUNT: build_ruleset()}, store=open_store(config), options=options)
    trader = Trader(sim)
    try:
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the daemon did not become live"
        h = Harness(sim, daemon, trader)
        h.trader.buy(ACCOUNT, "EP")
        h.wait(lambda: h.trader.size(ACCOUNT, "EP") == 1, "the fill")
        h.wait(lambda: bool(_held(h)), "the daemon seeing the position")
        sim.clear_requests()
        sim.fail_next(1, 429, retry_after="4")
        daemon.request_reconcile(ACCOUNT, "test")
        h.wait(lambda: any(r.status == 429 for r in sim.requests_log()), "the 429")
        h.trader.move("EP", Decimal("-7"))  # past max_unrealized_loss: the position must close
        h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the close", timeout=10.0)
        log = sim.requests_log()
        refused = next(r for r in log if r.status == 429).time
        after = [(r.time - refused).total_seconds() for r in log if r.time > refused]
        assert min(after) >= 3.95, f"a call reached the gateway {min(after):.2f}s after the 429"
        close = next(r for r in log if r.path.endswith("closeContract"))
        waited = (close.time - refused).total_seconds()
        print(f"\nRetry-After 4 s: the close reached the gateway {waited:.2f}s after the 429")
        assert waited <= 4.5, f"the close went {waited:.2f}s after a Retry-After of 4 s"
    finally:
        daemon.stop()
        trader.close()
        sim.stop()


def _held(h: Harness) -> dict[str, object]:
    state = h.daemon.engines[ACCOUNT].account(ACCOUNT)
    return {} if state is None else dict(state.positions)
