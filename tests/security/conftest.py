"""Fixtures of the red-team suite: the e2e harness (a simulator and a real daemon) and a
restart of the daemon over the same data directory and simulator."""

from __future__ import annotations

from tests.e2e.harness import restart, start

__all__ = ["restart", "start"]
