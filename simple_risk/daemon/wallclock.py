"""Which wall clock a daemon runs on: the system's, or a pinned one against a local simulator.

End-to-end tests and rehearsals run a real ``engine run`` process against the simulator and must
not depend on the day or hour they run (a weekend has no trading day to end; 17:00 Chicago resets
the day mid-run). ``SIMPLE_RISK_WALL_START`` starts the daemon's wall clock at a given instant
and lets it advance at real speed; timers and timeouts keep the real monotonic clock.

It is refused for any gateway that is not on this machine: on a real account a moved wall clock
would move the trading-day boundary, which is exactly what a trader must not be able to do.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import urlsplit

from simple_risk.adapters.topstepx.clock import started_at

WALL_START_ENV = "SIMPLE_RISK_WALL_START"


class WallClockError(ValueError):
    """A pinned wall clock that cannot be used (bad instant, or a remote gateway)."""


def is_local_gateway(url: str) -> bool:
    """Whether ``url`` names a gateway on this machine (loopback address or ``localhost``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wall_from_env(
    gateway: str, env: Mapping[str, str] | None = None
) -> Callable[[], datetime] | None:
    """The pinned wall ``SIMPLE_RISK_WALL_START`` asks for, or None for the system clock."""
    value = (os.environ if env is None else env).get(WALL_START_ENV, "").strip()
    if not value:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise WallClockError(
            f"{WALL_START_ENV}={value!r} is not an ISO 8601 instant "
            "(e.g. 2027-01-13T10:00:00-06:00)"
        ) from None
    if start.tzinfo is None:
        raise WallClockError(f"{WALL_START_ENV}={value!r} needs a UTC offset (e.g. -06:00)")
    if not is_local_gateway(gateway):
        raise WallClockError(
            f"{WALL_START_ENV} is only for a simulator on this machine, not for {gateway} "
            "(unset it)"
        )
    return started_at(start)


__all__ = ["WALL_START_ENV", "WallClockError", "is_local_gateway", "wall_from_env"]
