"""The one error a rule-test file's loader raises inside itself (never out of it)."""

from __future__ import annotations

from simple_risk.engine.dsl.yamlload import Path


class RuleTestFileError(Exception):
    """Raised inside the loader to abandon one node; collected as a Problem."""

    def __init__(self, path: Path, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


__all__ = ["RuleTestFileError"]
