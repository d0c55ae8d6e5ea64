"""What the enforcer does with each executor outcome, and why a call that may have acted is
planned again only from REST's facts.

A partial close whose connection ended without an answer may have been carried out. Planned
again after the usual short pause from the hub's facts, it would be sent a second time if
the hub is late too (the same network trouble), reducing the position twice. So an
``unsure`` outcome waits for a reconcile, as a refusal does, while a plain transient failure
(nothing reached the gateway) is retried after its pause.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from simple_risk.daemon.config import Timing
from simple_risk.daemon.enforcement import Enforcer, Tracked
from simple_risk.daemon.executor import IntentResult
from simple_risk.engine.intents import ReduceTo

ACCOUNT = 11
AT = datetime(2027, 1, 13, 15, 0, tzinfo=UTC)


class _Daemon:
    """The parts of the daemon the enforcer talks to, keeping what it asked for."""

    def __init__(self) -> None:
        self.reconciles: list[tuple[int, str]] = []
        self.alerts: list[tuple[Any, ...]] = []
        self.worked: list[str] = []
        self.shared = SimpleNamespace(
            config=SimpleNamespace(timing=Timing()),
            observer=SimpleNamespace(on_result=lambda result: None),
            alerter=SimpleNamespace(alert=lambda *args: self.alerts.append(args)),
        )

    def enforcer(self) -> Enforcer:
        enforcer = Enforcer(
            self.shared,  # type: ignore[arg-type]
            SimpleNamespace(revive=lambda: None),  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            SimpleNamespace(result=lambda *args, **kwargs: None),  # type: ignore[arg-type]
            request_reconcile=lambda account, why: self.reconciles.append((account, why)),
            reconcile_soon=lambda account, delay: None,
        )
        enforcer.work = self.worked.append  # type: ignore[method-assign]
        return enforcer


def _after(outcome: str) -> tuple[_Daemon, Tracked, Enforcer]:
    daemon = _Daemon()
    enforcer = daemon.enforcer()
    tracked = enforcer.book["reduce"] = Tracked(
        ReduceTo(ACCOUNT, "contract", max_contracts=5, contract_id="CON.F.US.MNQ.Z26"),
        ACCOUNT,
        state="in_flight",
    )
    enforcer.on_result(IntentResult(at=AT, account=ACCOUNT, key="reduce", outcome=outcome))
    return daemon, tracked, enforcer


def test_a_call_that_may_have_acted_waits_for_a_reconcile_before_it_is_planned_again() -> None:
    daemon, tracked, enforcer = _after("unsure")
    assert tracked.state == "awaiting"
    assert daemon.reconciles == [(ACCOUNT, "enforcement outcome unknown")]
    enforcer.work_due(math.inf)  # however long the pause: not planned from the hub's facts
    assert daemon.worked == []
    enforcer.after_reconcile(ACCOUNT)  # REST has said what the position is now
    assert daemon.worked == ["reduce"]


def test_a_transient_failure_is_retried_after_its_pause_without_a_reconcile() -> None:
    daemon, tracked, enforcer = _after("retry")
    assert tracked.state == "waiting"
    assert daemon.reconciles == []
    enforcer.work_due(math.inf)
    assert daemon.worked == ["reduce"]


def test_a_refusal_is_planned_again_after_a_reconcile() -> None:
    daemon, tracked, _enforcer = _after("gave_up")
    assert tracked.state == "awaiting"
    assert daemon.reconciles == [(ACCOUNT, "enforcement refused")]


def test_a_refusal_repeated_on_rests_facts_is_tried_again_after_a_pause_that_doubles() -> None:
    """The gateway that refuses a close again once REST has said what the account holds means
    it (an account it no longer lets trade, a market closed): sent again at once after each
    reconcile, the close and its full reconcile cost five calls every two seconds — 150 of
    the login's 200 a minute for one account, all day. It waits, ever longer, up to a cap."""
    daemon, tracked, enforcer = _after("gave_up")
    pauses = []
    for _ in range(8):
        enforcer.after_reconcile(ACCOUNT)
        assert daemon.worked.pop() == "reduce"  # planned again from REST's facts
        tracked.state = "in_flight"
        before = time.monotonic()
        enforcer.on_result(IntentResult(at=AT, account=ACCOUNT, key="reduce", outcome="gave_up"))
        assert tracked.state == "waiting"
        pauses.append(round(tracked.due - before))
        enforcer.after_reconcile(ACCOUNT)  # the reconcile after the call: not before the pause
        assert daemon.worked == []
        tracked.due = 0.0  # the pause is over
    assert daemon.reconciles == [(ACCOUNT, "enforcement refused")]  # only after the first
    assert pauses == [1, 2, 4, 8, 10, 10, 10, 10]  # retry_interval 1 s, doubling to 10 s


def test_a_lasting_failure_is_alerted_at_once_then_each_time_the_failures_double() -> None:
    daemon = _Daemon()
    enforcer = daemon.enforcer()
    enforcer.book["reduce"] = Tracked(
        ReduceTo(ACCOUNT, "contract", max_contracts=5, contract_id="CON.F.US.MNQ.Z26"), ACCOUNT
    )
    alerted_at: list[int] = []
    for attempt in range(1, 41):
        enforcer.on_result(IntentResult(at=AT, account=ACCOUNT, key="reduce", outcome="retry"))
        if len(daemon.alerts) > len(alerted_at):
            alerted_at.append(attempt)
    assert alerted_at == [3, 6, 12, 24]  # alert_after_attempts is 3
    assert all(alert[0] == "critical" for alert in daemon.alerts)
    assert "failed 24 time(s)" in daemon.alerts[-1][1]
