"""A pinned wall clock is for a simulator on this machine only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simple_risk.adapters.topstepx.clock import started_at
from simple_risk.daemon.wallclock import (
    WALL_START_ENV,
    WallClockError,
    is_local_gateway,
    wall_from_env,
)

START = "2027-01-13T10:00:00-06:00"


def test_no_variable_means_the_system_clock() -> None:
    assert wall_from_env("http://127.0.0.1:8700", {}) is None


def test_a_pinned_wall_starts_at_the_instant_and_advances() -> None:
    wall = wall_from_env("http://127.0.0.1:8700", {WALL_START_ENV: START})
    assert wall is not None
    first = wall()
    assert abs(first - datetime(2027, 1, 13, 16, 0, tzinfo=UTC)) < timedelta(seconds=5)
    assert wall() >= first


@pytest.mark.parametrize(
    "gateway", ["https://api.topstepx.com", "http://10.0.0.5:8700", "http://example.com"]
)
def test_a_remote_gateway_refuses_a_pinned_wall(gateway: str) -> None:
    with pytest.raises(WallClockError, match="only for a simulator on this machine"):
        wall_from_env(gateway, {WALL_START_ENV: START})


@pytest.mark.parametrize(
    ("value", "problem"),
    [("next wednesday", "not an ISO 8601 instant"), ("2027-01-13T10:00:00", "UTC offset")],
)
def test_a_bad_instant_says_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(WallClockError, match=problem):
        wall_from_env("http://localhost:8700", {WALL_START_ENV: value})


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:1", True),
        ("http://127.5.0.1", True),
        ("http://[::1]:8700", True),
        ("http://localhost", True),
        ("https://rtc.topstepx.com/hubs/user", False),
        ("http://192.168.1.2", False),
    ],
)
def test_local_gateways(url: str, local: bool) -> None:
    assert is_local_gateway(url) is local


def test_started_at_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        started_at(datetime(2027, 1, 13, 10, 0))
