"""A graceful stop is quick even when signalrcore's blocking close hangs (issue #13 item 7).

The daemon closes both hubs in parallel and waits for each close at most the hubs'
``stop_timeout``; the close itself goes on in the background. The bound asserted here is
lenient — the timed figure, against the 2 s target, is printed by ``python -m bench.stop``.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from signalrcore.hub.base_hub_connection import BaseHubConnection

from simple_risk.adapters.topstepx.hubs import HubConfig
from tests.e2e.harness import FAST_OPTIONS, Restart, Start


def test_a_stop_with_both_hub_closes_hanging_is_bounded_by_one_stop_timeout(
    start: Start, restart: Restart, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = dataclasses.replace(
        FAST_OPTIONS,
        hubs=dataclasses.replace(FAST_OPTIONS.hubs, stop_timeout=HubConfig().stop_timeout),
    )
    h = restart(start(), options)
    release = threading.Event()

    def hanging(self: BaseHubConnection) -> None:
        release.wait(60.0)

    monkeypatch.setattr(BaseHubConnection, "stop", hanging)
    try:
        started = time.monotonic()
        h.daemon.stop()
        took = time.monotonic() - started
    finally:
        release.set()
    assert h.daemon.stopped.is_set()
    assert took < 5.0, f"the stop took {took:.1f} s with both hub closes hanging"
