"""A 429 or 503 that says how long to wait (``Retry-After``), against the simulator.

The live gateway's rate limits are 200 calls per 60 s (50 per 30 s for bars, reference §3.1);
whether it sends ``Retry-After`` is not known. When it does, the client waits exactly that long
before the next call of the same kind — seconds or an HTTP date, at most
``retry_after_max`` (a longer demand is said and the cap used) — and never sooner: a retry
inside the window only earns another 429. A close waits for a reconcile's ``Retry-After`` no
longer than the gateway asked, and goes before the reconcile's own retry; a bars 429 holds no
close. Without the header the backoff stays as it was.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.adapters.topstepx.errors import ApiError
from simple_risk.adapters.topstepx.gateway_time import retry_after_seconds
from simple_risk.adapters.topstepx.ratelimit import Budget, Priority, RateLimiter
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.daemon.sim import wait_until

from .conftest import start_sim

#: a tiny backoff: every wait longer than it is the gateway's Retry-After at work
QUICK = RestConfig(
    timeout=3.0, max_attempts=6, backoff_base=0.02, backoff_max=0.05, hold_on_429=0.02
)
ACCOUNT = 20100001
#: the pinned wall an HTTP-date Retry-After is read against (never the real date)
WALL = datetime(2027, 1, 13, 16, 0, 0, tzinfo=UTC).timestamp()


def _client(sim: Simulator, config: RestConfig = QUICK, **kwargs: object) -> RestClient:
    client = RestClient(
        sim.base_url,
        Credentials(sim.username, sim.api_key),
        config=config,
        limiter=RateLimiter({"default": Budget(1000, 60.0), "bars": Budget(50, 30.0)}),
        **kwargs,  # type: ignore[arg-type]
    )
    client.login()
    return client


def _arrivals(sim: Simulator, endpoint: str) -> list[tuple[float, int]]:
    """(seconds since the first, status) of every call of ``endpoint`` the simulator got."""
    calls = [r for r in sim.requests_log() if r.path.lower() == f"/api/{endpoint}".lower()]
    first = calls[0].time
    return [((r.time - first).total_seconds(), r.status) for r in calls]


def _sim() -> Simulator:
    return start_sim(rate_limits=RateLimits(general=(1000, 60.0), bars=(50, 30.0)))


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert retry_after_seconds("7", WALL) == 7.0
    assert retry_after_seconds(" 120 ", WALL) == 120.0
    assert retry_after_seconds("Wed, 13 Jan 2027 16:00:02 GMT", WALL) == 2.0
    assert retry_after_seconds("Wed, 13 Jan 2027 16:00:30 -0000", WALL) == 30.0
    assert retry_after_seconds("Wed, 13 Jan 2027 15:59:00 GMT", WALL) == 0.0  # past: now
    for unreadable in (None, "", "soon", "-5", "1.5", "Wed, 13 Jan"):
        assert retry_after_seconds(unreadable, WALL) is None


def test_a_429_with_retry_after_holds_the_retry_that_long_not_the_backoff() -> None:
    sim = _sim()
    client = _client(sim)
    try:
        sim.fail_next(1, 429, retry_after="1")
        assert client.search_accounts()
        calls = _arrivals(sim, "Account/search")
        assert [status for _, status in calls] == [429, 200]
        waited = calls[1][0]
        assert 0.95 <= waited <= 1.4, f"the retry came {waited:.2f}s after the 429"
    finally:
        client.close()
        sim.stop()


def test_a_503_with_an_http_date_holds_the_retry_until_that_date() -> None:
    sim = _sim()
    # the gateway's date is read against this host's wall: pinned, it never reads the real date
    client = _client(sim, wall=lambda: WALL)
    try:
        sim.fail_next(1, 503, retry_after="Wed, 13 Jan 2027 16:00:01 GMT")
        assert client.open_positions(ACCOUNT) == []
        calls = _arrivals(sim, "Position/searchOpen")
        assert [status for _, status in calls] == [503, 200]
        assert 0.95 <= calls[1][0] <= 1.4, f"the retry came {calls[1][0]:.2f}s after the 503"
    finally:
        client.close()
        sim.stop()


def test_a_retry_after_beyond_the_cap_is_said_and_the_cap_is_waited() -> None:
    sim = _sim()
    said: list[str] = []
    capped = RestConfig(
        timeout=3.0, backoff_base=0.02, backoff_max=0.05, hold_on_429=0.02, retry_after_max=0.8
    )
    client = _client(sim, capped, on_gateway_trouble=said.append)
    try:
        sim.fail_next(1, 429, retry_after="3600")
        assert client.search_accounts()
        calls = _arrivals(sim, "Account/search")
        assert [status for _, status in calls] == [429, 200]
        assert 0.75 <= calls[1][0] <= 1.2, f"the retry came {calls[1][0]:.2f}s after the 429"
        assert len(said) == 1 and "3600s" in said[0] and "Account/search" in said[0]
    finally:
        client.close()
        sim.stop()


def test_a_retry_after_longer_than_the_call_may_wait_fails_the_call_at_once() -> None:
    """A reconcile given 30 s must not sit out a 45 s demand: it fails now, saying so, and the
    gateway hears nothing from the client until the demand ends."""
    sim = _sim()
    client = _client(sim, RestConfig(timeout=3.0, deadline=2.0, backoff_base=0.02))
    try:
        sim.fail_next(1, 429, retry_after="45")
        try:
            client.search_accounts()
        except Exception as error:
            refusal: Exception = error
        else:
            raise AssertionError("the call succeeded inside the gateway's Retry-After")
        assert "Retry-After 45s" in str(refusal) and getattr(refusal, "held_for", 0) == 45.0
        assert [status for _, status in _arrivals(sim, "Account/search")] == [429]
        assert client.limiter.held_for() > 40
    finally:
        client.close()
        sim.stop()


def test_a_close_waits_out_a_reconciles_retry_after_exactly_and_goes_first() -> None:
    sim = _sim()
    client = _client(sim)
    account = ACCOUNT
    try:
        sim.fail_next(1, 429, retry_after="1")
        reconcile = threading.Thread(target=client.search_accounts)
        reconcile.start()
        assert _wait(lambda: any(r.status == 429 for r in sim.requests_log()))
        with contextlib.suppress(ApiError):  # nothing open: the gateway says so
            client.close_position(account, _mnq(sim))
        reconcile.join(5.0)
        log = [r for r in sim.requests_log() if r.path.startswith("/api/")]
        refused = next(r for r in log if r.status == 429)
        close = next(r for r in log if r.path.endswith("closeContract"))
        retry = [r for r in log if r.path.endswith("Account/search")][-1]
        waited = (close.time - refused.time).total_seconds()
        assert 0.95 <= waited <= 1.3, f"the close went {waited:.2f}s after the reconcile's 429"
        assert close.time <= retry.time, "the reconcile's retry went before the close"
    finally:
        client.close()
        sim.stop()


def test_a_bars_retry_after_does_not_hold_a_close() -> None:
    sim = _sim()
    client = _client(sim)
    account = ACCOUNT
    contract = _mnq(sim)
    try:
        sim.fail_next(1, 429, retry_after="2")
        now = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)
        bars = threading.Thread(
            target=lambda: client.retrieve_bars(
                contract, start=now.replace(hour=15), end=now, unit=2, unit_number=1, limit=5
            )
        )
        bars.start()
        assert _wait(lambda: any(r.status == 429 for r in sim.requests_log()))
        assert client.limiter.held_for("bars") > 1.5 and client.limiter.held_for() == 0.0
        with contextlib.suppress(ApiError):
            client.close_position(account, contract, priority=Priority.ENFORCEMENT)
        log = sim.requests_log()
        refused = next(r for r in log if r.status == 429)
        close = next(r for r in log if r.path.endswith("closeContract"))
        assert (close.time - refused.time).total_seconds() < 0.5
        bars.join(5.0)
    finally:
        client.close()
        sim.stop()


def _mnq(sim: Simulator) -> str:
    return next(c for c in sim.venue.active_contract_ids() if ".MNQ." in c)


def _wait(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    return wait_until(condition, timeout)
