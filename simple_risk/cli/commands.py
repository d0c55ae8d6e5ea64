"""Registers every sub-group on the root ``simple-risk`` group."""

from __future__ import annotations
