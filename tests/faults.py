"""Faults injected into a running daemon's parts, shared by the supervised-part tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from simple_risk.daemon.runtime import Daemon


@contextmanager
def reconcile_broken(daemon: Daemon, account: int) -> Iterator[None]:
    """The account's reconcile worker raises on every run until the block ends; the other
    accounts' workers reconcile as ever."""
    reconciler = daemon.reconciler
    gap = reconciler.gap

    def broken() -> float:
        if threading.current_thread().name == f"reconcile-{account}":
            raise RuntimeError("the reconcile worker is broken")
        return gap()

    reconciler.gap = broken  # type: ignore[method-assign]
    try:
        yield
    finally:
        del reconciler.gap
