"""A session token lives as long as the gateway says, whatever this host's clock reads.

A JWT's ``exp`` is on the gateway's clock. Judged against a host clock a day ahead, every fresh
token looked expired, and the daemon refreshed its session — and rebuilt both hubs — every
second. The token's own issue instant is now the reference; without one, a token "expired on
arrival" means the host's clock is ahead, which is said in the log, and the token is taken to
live the configured lifetime.
"""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.topstepx.gateway_time import token_lifetime
from simple_risk.adapters.topstepx.rest import Credentials, RestClient
from tests.adapters.conftest import FAST_REST

DAY = 86_400.0
#: 2026-12-07 12:00 UTC, seconds since the epoch: the gateway's clock when it issues the tokens
ISSUED = 1_796_644_800.0


def jwt(**claims: object) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_a_token_lives_until_its_expiry_by_a_clock_that_agrees_with_the_gateway() -> None:
    assert token_lifetime(jwt(exp=ISSUED + 3600), ISSUED, DAY) == (3600.0, None)


def test_a_token_never_lives_longer_than_the_configured_lifetime() -> None:
    assert token_lifetime(jwt(exp=ISSUED + 7 * DAY), ISSUED, DAY) == (DAY, None)


def test_a_host_a_day_ahead_does_not_see_a_fresh_token_as_expired() -> None:
    lifetime, ahead = token_lifetime(jwt(exp=ISSUED + 3600), ISSUED + DAY, DAY)
    assert lifetime == DAY  # the configured lifetime, not zero
    assert ahead == DAY - 3600


def test_a_host_a_little_ahead_refreshes_a_little_early() -> None:
    assert token_lifetime(jwt(exp=ISSUED + 3600), ISSUED + 600, DAY) == (3000.0, None)


@given(skew=st.floats(min_value=-3 * DAY, max_value=3 * DAY, allow_nan=False))
def test_with_its_issue_instant_the_lifetime_does_not_depend_on_this_hosts_clock(
    skew: float,
) -> None:
    token = jwt(iat=ISSUED, exp=ISSUED + 3600)
    assert token_lifetime(token, ISSUED + skew, DAY) == (3600.0, None)


def test_not_before_stands_in_for_a_missing_issue_instant() -> None:
    token = jwt(nbf=ISSUED, exp=ISSUED + 1800)
    assert token_lifetime(token, ISSUED + 2 * DAY, DAY) == (1800.0, None)


@pytest.mark.parametrize(
    "token",
    ["opaque-session-token", "a.b.c", jwt(sub="demo"), jwt(exp="tomorrow"), jwt(exp=True)],
    ids=["opaque", "unreadable", "no-exp", "text-exp", "boolean-exp"],
)
def test_a_token_it_cannot_read_lives_the_configured_lifetime(token: str) -> None:
    assert token_lifetime(token, ISSUED, DAY) == (DAY, None)


def test_a_client_on_a_host_a_day_ahead_keeps_its_token_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Simulator(port=0, price_interval=None) as sim:
        ahead = RestClient(
            sim.base_url,
            Credentials(sim.username, sim.api_key),
            config=FAST_REST,
            wall=lambda: time.time() + DAY + 60,  # the simulator issues on time.time()
        )
        try:
            with caplog.at_level(logging.WARNING, "simple_risk.adapters.topstepx.rest"):
                ahead.search_accounts()
                for _ in range(5):
                    ahead.search_accounts()
            assert ahead.token_generation == 1, "no refresh: the token is not taken as expired"
            assert ahead.token_expires_in() > DAY / 2
            assert any("host's clock is ahead" in r.getMessage() for r in caplog.records)
        finally:
            ahead.close()
