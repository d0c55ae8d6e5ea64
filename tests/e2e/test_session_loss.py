"""The gateway ends the daemon's session mid-day: every token revoked (REST answers 401, hub
connects are refused), and later the API key itself refused.

* a breach while the token is revoked is still enforced: the close's 401 logs in again;
* hubs that lose their connection while the token is revoked come back on a new token, and
  what happened meanwhile is enforced;
* a login that starts failing is said to the user, not only logged.
"""

from __future__ import annotations

from typing import Any

from .harness import ACCOUNT, Start


def _alerted(h: Any, level: str, *words: str) -> bool:
    return any(
        alert["level"] == level and all(w in alert["message"] for w in words)
        for alert in h.daemon.alerter.recent
    )


def test_a_breach_after_the_session_was_revoked_is_enforced(start: Start) -> None:
    h = start()
    assert h.sim.revoke_tokens() >= 1
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed and locked
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the close on a new session")
    assert h.sent("Auth/loginKey")[1:] or h.sent("Auth/validate")


def test_hubs_dropped_while_the_session_is_revoked_come_back_and_enforce(start: Start) -> None:
    h = start()
    h.sim.revoke_tokens()
    h.sim.drop_connections()
    h.trader.buy(ACCOUNT, "RTY")  # while the hubs are down
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the close after the hubs came back")
    h.wait(lambda: h.sim.hub_connections() >= 2, "both hubs connected again", timeout=10)
    h.trader.buy(ACCOUNT, "RTY")
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "a close from the hub's event")


def test_a_login_that_starts_failing_is_alerted(start: Start) -> None:
    h = start()
    h.sim.revoke_api_key()
    h.sim.revoke_tokens()
    h.daemon.request_reconcile(ACCOUNT, "test")
    h.wait(
        lambda: _alerted(h, "critical", "log in") or _alerted(h, "critical", "login"),
        "a critical alert that the daemon cannot log in",
    )
