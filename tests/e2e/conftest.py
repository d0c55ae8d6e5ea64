"""Fixtures of the end-to-end tests (defined in :mod:`.harness`)."""

from __future__ import annotations

from .harness import restart, start

__all__ = ["restart", "start"]
