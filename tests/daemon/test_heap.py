"""Startup's objects are frozen out of full collections, and startup's garbage is not."""

from __future__ import annotations

import gc
import weakref

from simple_risk.daemon.heap import settle_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_settling_frees_startup_garbage_then_freezes_what_is_alive() -> None:
    kept = _Node()
    dropped = _Node()
    gone = weakref.ref(dropped)
    del dropped
    try:
        frozen = settle_startup_heap()
        assert gone() is None  # collected before the freeze, not kept for ever
        assert frozen > 0
        # frozen: in none of the generations a collection walks
        assert not any(tracked is kept for tracked in gc.get_objects())
        assert kept.me is kept
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
