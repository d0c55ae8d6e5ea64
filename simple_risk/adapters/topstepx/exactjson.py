"""JSON text with exact numbers: Decimals written with their digits, non-integers read back
as Decimals.

Apart from the converters because it is about text, not meaning: the REST client writes its
request bodies and reads its answers through it, the hubs and the recorder write payloads and
the replay reads them back, so a price never passes through a binary float on its way to or
from the wire or the disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from simple_risk.adapters.topstepx.wirefields import to_decimal


def dumps_exact(value: object) -> str:
    """Compact JSON where Decimals are written as numbers with their exact digits."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        text = str(value)
        return text if "E" not in text else format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return dumps_exact(to_decimal(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return (
            "{" + ",".join(f"{json.dumps(str(k))}:{dumps_exact(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


__all__ = ["dumps_exact", "loads_exact"]
