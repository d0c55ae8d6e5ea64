"""Order families: a bracket's entry and the stop-loss / take-profit children it carries.

On TopstepX a bracket (Auto-OCO) is one entry plus two children announced together before the
entry fills: a stop-loss and a take-profit on the opposite side, suspended (status 8) without a
price until the entry fills, then open; when one of them fills the other is cancelled. So a
child can only ever close what its entry opened: it is never new exposure, whatever its status,
and the two legs of one family never both fill. An open stop-loss child is the position's
protective stop like any other stop.

An order is a child when it names its family: ``parentOrderId`` (the entry's id), or
``linkedOrderId`` (a take-profit names its stop-loss sibling), or — on REST copies that lack
the links — a customTag ``<tag>-SL`` / ``<tag>-TP`` where ``<tag>`` is the tag of another order
of the account. The family is keyed by its entry's id, which a child may name before the
entry itself has been seen.

A :class:`Family` knows how much its legs can close: the largest leg (the legs are one-cancels-
other, so they count once), no more than the entry has opened (a child of an entry that has not
filled cannot fill). The account adds the families of a contract, no more than the position
they close holds, to the closing side's working total, so every if-filled figure sees each
family once and never as exposure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simple_risk.engine.events import OrderStatus

if TYPE_CHECKING:
    from simple_risk.engine.facts.orders import Order

#: customTag suffixes of a bracket's children (reference §14.3)
CHILD_TAG_SUFFIXES = ("-SL", "-TP")


def bracket_base(tag: str | None) -> str | None:
    """The entry's tag a child's customTag names (``scalp-1`` for ``scalp-1-TP``), else None."""
    if tag is None:
        return None
    for suffix in CHILD_TAG_SUFFIXES:
        if tag.endswith(suffix) and len(tag) > len(suffix):
            return tag[: -len(suffix)]
    return None


class Family:
    """One entry (by id, possibly not seen yet) and its working children in one contract."""

    __slots__ = ("closes_long", "contract_id", "entry_id", "entry_size", "legs", "opened", "root")

    def __init__(self, entry_id: int, first_leg: Order) -> None:
        self.entry_id = entry_id
        self.contract_id = first_leg.contract_id
        self.root = first_leg.symbol
        #: the legs sell (close a long) when the entry bought
        self.closes_long = not first_leg.buy
        self.legs: dict[int, Order] = {}
        #: contracts the entry has filled; None while the entry's fills are unknown
        self.opened: int | None = None
        #: the size the entry was placed with (its legs are born that size); None while no
        #: update of the entry has been seen
        self.entry_size: int | None = None

    def closing(self) -> int:
        """How many contracts the legs together can close: the largest leg, no more than the
        entry opened (the account caps the families of a contract by its position)."""
        if not self.legs:
            return 0
        once = max(leg.remaining for leg in self.legs.values())
        opened = self.opened
        if opened is None:
            # the entry is unknown: a leg that left status 8 proves the entry filled
            active = any(
                leg.update.status is not OrderStatus.SUSPENDED for leg in self.legs.values()
            )
            opened = once if active else 0
        return max(min(once, opened), 0)


def entry_opened(order: Order) -> int:
    """Contracts an entry has filled, as its latest update says."""
    update = order.update
    if update.status is OrderStatus.FILLED and update.fill_volume == 0:
        return update.size  # a filled order whose copy omits fillVolume filled in full
    return update.fill_volume


__all__ = ["CHILD_TAG_SUFFIXES", "Family", "bracket_base", "entry_opened"]
