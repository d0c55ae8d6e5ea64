"""Number options that refuse ``nan`` and ``inf``.

Python's ``float()`` reads ``nan`` and ``inf``, and every comparison with ``nan`` is false, so
click's own :class:`click.FloatRange` lets ``--grace nan`` through; the command then fails deep
inside (``timedelta(seconds=nan)``, a timer that never fires) with a traceback. A user who
typed it gets a usage error instead.
"""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` of finite numbers only."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


__all__ = ["FiniteFloatRange"]
