"""The pure functions rule expressions may call, and the helpers the compiler hides in them.

Declared (names, signatures, meaning) in :mod:`simple_risk.engine.namespace`; implemented here
once so the compiled evaluator, the simpleeval reference evaluator used by lint and the tests
all call the same code. Every function is pure and exact: Decimal in, Decimal out, no floats.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, cast

#: The name the compiler rewrites ``a / b`` to, so int / int stays exact (never a float).
EXACT_DIVIDE = "_exact_divide"


def known(value: object) -> bool:
    """``known(x)``: the fact has a value (optional facts are None when unknown)."""
    return value is not None


#: the concrete types map params come as (ruleset params are read-only views)
_MAP_TYPES = (MappingProxyType, dict)


def lookup(mapping: object, key: object, default: object = None) -> object:
    """``lookup(per_symbol_limits, symbol.root, 1)``: a map-valued param read with a default."""
    # map params are read-only views; checking the concrete types first skips the
    # ``Mapping`` ABC check (slow) on every evaluation
    if type(mapping) in _MAP_TYPES or isinstance(mapping, Mapping):
        return cast(Mapping[object, object], mapping).get(key, default)
    raise TypeError(f"lookup() needs a map as its first argument, got {type(mapping).__name__}")


_ROUNDING = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}


def round_to_tick(price: object, tick_size: object, mode: str = "nearest") -> Decimal:
    """The price on the tick grid: ``round_to_tick(21000.13, 0.25, "down")`` → 21000.00."""
    if mode not in _ROUNDING:
        raise ValueError(f'round_to_tick mode must be "nearest", "down" or "up", not {mode!r}')
    exact_price = _exact(price)
    tick = _exact(tick_size)
    if tick <= 0:
        raise ValueError(f"tick size must be positive, got {tick}")
    ticks = (exact_price / tick).to_integral_value(rounding=_ROUNDING[mode])
    return ticks * tick


def exact_divide(left: object, right: object) -> object:
    """``a / b`` in expressions: exact Decimal division, so 7 / 2 is 3.5, never a float."""
    return _exact(left) / _exact(right)


def _exact(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return Decimal(value)


def _abs(value: Any) -> Any:
    return builtins.abs(value)


def _min(*values: Any) -> Any:
    return builtins.min(values)


def _max(*values: Any) -> Any:
    return builtins.max(values)


#: Bare-name functions, keyed as declared in ``namespace.FUNCTIONS``.
FUNCTIONS: dict[str, Callable[..., object]] = {
    "known": known,
    "lookup": lookup,
    "round_to_tick": round_to_tick,
    "abs": _abs,
    "min": _min,
    "max": _max,
}


class Params:
    """``params.X`` in expressions: read-only attribute access to the effective params.

    The values live in the instance ``__dict__`` so that ``params.X`` is a plain attribute
    read: every rule evaluation reads params, and a failed lookup falling through to
    ``__getattr__`` (an AttributeError raised and caught per read) cost about 1 µs each.
    """

    def __init__(self, values: Mapping[str, object]) -> None:
        vars(self).update(values)

    def __getattr__(self, name: str) -> object:
        # reached only when the name is not a param
        raise AttributeError(f"no param named {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("params are read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("params are read-only")

    def __repr__(self) -> str:
        return f"Params({vars(self)!r})"
