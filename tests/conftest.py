"""Shared pytest setup: hypothesis profiles, the --runslow switch and the --wall clock.

CI (``CI=true``) uses the ``ci`` profile: fewer examples so the whole run stays well under
20 minutes on a 2-core machine; locally the ``dev`` profile explores more.
"""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
# the compiled engine's pass (make test-compiled): the same properties, fewer examples — the
# pure pass explores them, and bench.digest checks the two builds agree on a whole day
settings.register_profile(
    "compiled", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run the long suites in full")
    parser.addoption(
        "--wall",
        metavar="INSTANT",
        help=(
            "run the session with the wall clock (datetime.now, time.time) starting at this "
            "ISO instant, e.g. 2026-12-05T23:59:30Z, and ticking; the monotonic clock and timed "
            "waits stay real. CI runs part of the suite on a Saturday night and across the "
            "Sunday open this way: no test may depend on the real date or time of day"
        ),
    )


def _travel(instant: str) -> None:
    """Start the session's wall clock at ``instant`` (``--wall``), for as long as pytest runs."""
    import time_machine  # only the --wall run needs it

    try:
        destination = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except ValueError:
        raise pytest.UsageError(f"--wall: not an ISO instant: {instant!r}") from None
    if destination.tzinfo is None:
        raise pytest.UsageError(f"--wall: give the instant's zone (Z or +hh:mm): {instant!r}")
    time_machine.travel(destination, tick=True).start()


def _stale_extensions() -> list[Path]:
    """Compiled modules in the package's source tree (a compiled wheel built in place): each
    wins the import over its ``.py``, so the suite would test code that edits no longer
    change. ``bench/compiled.py`` builds a copy for that, and sets SIMPLE_RISK_COMPILED=1."""
    if os.environ.get("SIMPLE_RISK_COMPILED") == "1":
        return []
    package = Path(__file__).resolve().parents[1] / "simple_risk"
    return sorted(package.rglob("*.so")) + sorted(package.parent.glob("*__mypyc*.so"))


def pytest_configure(config: pytest.Config) -> None:
    stale = _stale_extensions()
    if stale:
        raise pytest.UsageError(
            f"compiled modules in the source tree ({stale[0]} and {len(stale) - 1} more) "
            "would be imported instead of the code: `git clean -fX simple_risk` removes them "
            "(the compiled engine is tested from a copy: make test-compiled)"
        )
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # a suite started in the background (`make test &` in a script, nohup) inherits SIGINT
        # ignored, and passes that on to every command it starts: the tests that stop a
        # command with Ctrl-C would wait for it in vain. A handler, unlike SIG_IGN, is not
        # inherited: the commands start with Ctrl-C's default meaning again
        signal.signal(signal.SIGINT, signal.default_int_handler)
    instant = config.getoption("--wall")
    if instant:
        _travel(instant)
    config.addinivalue_line("markers", "slow: long run, full size only with --runslow")
