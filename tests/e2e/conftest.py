"""Fixtures of the end-to-end tests (defined in :mod:`.harness`)."""

from __future__ import annotations

from .harness import start

__all__ = ["start"]
