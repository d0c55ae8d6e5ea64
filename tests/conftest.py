"""Shared pytest setup: hypothesis profiles and the --runslow switch.

CI (``CI=true``) uses the ``ci`` profile: fewer examples so the whole run stays well under
20 minutes on a 2-core machine; locally the ``dev`` profile explores more.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run the long suites in full")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long run, full size only with --runslow")
