"""Number options that refuse ``nan`` and ``inf``, and account ids ProjectX cannot have.

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


#: ProjectX account ids are 32-bit integers (docs/status-protocol.md: ``account`` is an id)
MAX_ACCOUNT_ID = 2**31 - 1


class AccountId(click.types.IntParamType):
    """An account id: a whole number from 1 to 2**31 - 1. A longer one is a typo, and it
    reached SQLite as an OverflowError traceback."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            # an account's name (50KTC-V2-…), as the platform shows it, where its id goes
            self.fail(
                f"{value!r} is not an account id: give the account's number (engine status,"
                " or engine run --check --online, lists each account's id with its name)",
                param,
                ctx,
            )
        number = super().convert(value, param, ctx)
        if not 1 <= number <= MAX_ACCOUNT_ID:
            self.fail(
                f"{value!r} is not a ProjectX account id (a whole number from 1 to "
                f"{MAX_ACCOUNT_ID})",
                param,
                ctx,
            )
        return number


ACCOUNT_ID = AccountId()

__all__ = ["ACCOUNT_ID", "MAX_ACCOUNT_ID", "AccountId", "FiniteFloatRange"]
