"""The runtime around the rules: startup reconcile, hub gaps, failing enforcement."""

from __future__ import annotations

from simple_risk.daemon.sim import Trader

from .harness import ACCOUNT, Start, build_ruleset


def test_a_breach_present_at_startup_is_enforced_at_once(start: Start) -> None:
    def before(trader: Trader) -> None:
        trader.buy(ACCOUNT, "RTY")

    h = start(before=before)
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the startup enforcement")
    assert h.fired("symbol-blocks")
    assert len(h.sent("Position/closeContract")) == 1


def test_a_hub_gap_reconciles_and_nothing_is_missed(start: Start) -> None:
    h = start()
    before = h.daemon.reconciles
    assert h.sim.drop_connections() >= 1
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.daemon.reconciles > before, "the reconcile after the gap")
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the enforcement")


def test_failing_enforcement_alerts_and_keeps_trying(start: Start) -> None:
    h = start(build_ruleset(grace=1.0))
    h.trader.buy(ACCOUNT, "MNQ")
    h.wait(lambda: h.trader.size(ACCOUNT) == 1, "the fill")
    h.sim.fail_next(40, 500)  # before the grace ends: several attempts of four tries each
    h.wait(lambda: h.trader.size(ACCOUNT) == 0, "the enforcement in the end", timeout=20.0)
    assert any("still trying" in alert["message"] for alert in h.daemon.alerter.recent)
