"""Which payload shapes the simulator speaks: the live TopstepX gateway's by default.

Captures of the live gateway (reference §14) differ from what the older reference sections
and the first simulator described. A client is only proven against the live server if its
tests run the live shapes, so they are the default; each older behaviour stays available
under a name, for a test that pins it or a client that still needs it:

==================== ===================================================================
legacy name          what it brings back
==================== ===================================================================
``brackets``         bracket children placed only after the entry fills, Open at once,
                     untagged and unlinked (live: born with the entry, status 8, no price,
                     ``-SL``/``-TP`` tags, ``parentOrderId``/``linkedOrderId``)
``flat-position``    a flat position as action 1 with its old LONG/SHORT type (live:
                     action 2, type 0, size 0)
``rest-commissions`` REST ``Trade/search`` carries ``commissions`` (live: only the hub does)
``quotes``           a full quote on subscribe and ``lastPrice`` in the deltas (live: no
                     snapshot, deltas without ``lastPrice``; the last trade price is on
                     ``GatewayTrade``)
``rest-timestamps``  REST timestamps with 6 fractional digits (live: trailing zeros of the
                     fraction dropped, ``…07.965787+00:00``, ``…02.15673+00:00``)
==================== ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

#: every legacy name, in the order of the table above
LEGACY_NAMES: tuple[str, ...] = (
    "brackets",
    "flat-position",
    "rest-commissions",
    "quotes",
    "rest-timestamps",
)
#: the live gateway announces a filled entry's bracket prices about this much later (§14.3)
BRACKET_DELAY = 0.02


@dataclass(frozen=True)
class Shapes:
    """One flag per difference between the live gateway and the older behaviour.

    ``Shapes()`` is the live gateway; :meth:`legacy` turns named differences back.
    ``bracket_delay`` is the seconds between an entry's fill and its children going Open.
    """

    live_brackets: bool = True
    flat_position_removed: bool = True
    rest_commissions: bool = False
    quote_snapshot: bool = False
    quote_last_price: bool = False
    trimmed_rest_timestamps: bool = True
    bracket_delay: float = BRACKET_DELAY

    @classmethod
    def legacy(cls, names: Iterable[str] = LEGACY_NAMES) -> Shapes:
        """The live shapes with the named older behaviours back (all of them by default)."""
        shapes = cls()
        for name in names:
            if name == "brackets":
                shapes = replace(shapes, live_brackets=False)
            elif name == "flat-position":
                shapes = replace(shapes, flat_position_removed=False)
            elif name == "rest-commissions":
                shapes = replace(shapes, rest_commissions=True)
            elif name == "quotes":
                shapes = replace(shapes, quote_snapshot=True, quote_last_price=True)
            elif name == "rest-timestamps":
                shapes = replace(shapes, trimmed_rest_timestamps=False)
            else:
                known = ", ".join(LEGACY_NAMES)
                raise ValueError(f"unknown legacy shape {name!r} (known: {known})")
        return shapes
