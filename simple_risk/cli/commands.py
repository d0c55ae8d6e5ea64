"""Registers every sub-group on the root ``simple-risk`` group."""

from __future__ import annotations

from simple_risk.cli import (
    rules,  # noqa: F401
    sim,  # noqa: F401
)
