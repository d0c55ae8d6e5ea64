"""Fixtures of the red-team suite: the e2e harness (a simulator and a real daemon), plus a
restart of the daemon over the same data directory and simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import wait_until
from tests.e2e.harness import FAST_OPTIONS, Harness, start

__all__ = ["restart", "start"]


@pytest.fixture
def restart() -> Iterator[type[Harness]]:
    """``restart(h)`` stops the harness's daemon and starts a new one on the same data
    directory (its store, snapshots and journal) against the same simulator."""
    started: list[Daemon] = []

    def run(h: Harness) -> Harness:
        h.daemon.stop()
        daemon = Daemon(
            h.daemon.config,
            h.daemon.rulesets,
            store=open_store(h.daemon.config),
            options=FAST_OPTIONS,
        )
        started.append(daemon)
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the restarted daemon did not go live"
        return Harness(h.sim, daemon, h.trader)

    yield run  # type: ignore[misc]
    for daemon in started:
        daemon.stop()
