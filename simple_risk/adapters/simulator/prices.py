"""Seeded price paths: a random walk on each contract's tick grid, plus scripted prices.

The server asks :class:`PricePath` for the next price of every active contract on each step;
a ``--seed`` makes the whole sequence reproducible. Tests and demos can queue exact prices
(:meth:`PricePath.script`) which are used before the walk resumes from the last one.
Synthetic history bars for ``History/retrieveBars`` come from :func:`synthetic_bar`, a pure
function of (seed, contract, bar start) so any window can be served without storing history.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from simple_risk.adapters.simulator.contracts import Contract


class PricePath:
    """One seeded walk per contract: each step moves the price by −1, 0 or +1 tick."""

    def __init__(self, contracts: Iterable[Contract], seed: int) -> None:
        self._contracts = {c.id: c for c in contracts if c.active}
        self._rng = {cid: random.Random(f"{seed}:{cid}") for cid in self._contracts}
        self._scripts: dict[str, deque[Decimal]] = {cid: deque() for cid in self._contracts}

    def script(self, contract_id: str, prices: Iterable[Decimal]) -> None:
        """Queue exact prices for the next steps of ``contract_id``."""
        self._scripts[contract_id].extend(prices)

    def scripted(self, contract_id: str) -> int:
        """How many scripted prices are still queued."""
        return len(self._scripts[contract_id])

    def next_price(self, contract_id: str, last: Decimal) -> Decimal:
        """The next price after ``last``: the next scripted one, else one random-walk step."""
        script = self._scripts[contract_id]
        if script:
            return script.popleft()
        tick = self._contracts[contract_id].tick_size
        step = self._rng[contract_id].choice((-1, 0, 0, 1))
        candidate = last + step * tick
        return candidate if candidate > 0 else last


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar of ``History/retrieveBars``."""

    t: datetime
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the wire name
    c: Decimal
    v: int


def _unit_noise(seed: int, contract_id: str, key: int, salt: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{contract_id}:{salt}:{key}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2**64


def _level(seed: int, contract: Contract, index: int, span: int) -> Decimal:
    """A smooth deterministic price level: noise anchored every 32 bars, interpolated."""
    block, offset = divmod(index, 32)
    amplitude = 200 * math.sqrt(span)

    def anchor(k: int) -> float:
        return (_unit_noise(seed, contract.id, k, f"a{span}") - 0.5) * amplitude

    left, right = anchor(block), anchor(block + 1)
    ticks = round(left + (right - left) * offset / 32)
    price = contract.start_price + ticks * contract.tick_size
    return max(price, contract.tick_size)


def synthetic_bar(seed: int, contract: Contract, start: datetime, index: int, span: int) -> Bar:
    """Bar number ``index`` of width ``span`` seconds, starting at ``start``, deterministically."""
    o = _level(seed, contract, index, span)
    c = _level(seed, contract, index + 1, span)
    wiggle = 1 + int(
        _unit_noise(seed, contract.id, index, f"w{span}") * 4 * math.sqrt(math.sqrt(span))
    )
    h = max(o, c) + wiggle * contract.tick_size
    low = max(min(o, c) - wiggle * contract.tick_size, contract.tick_size)
    volume = 1 + int(_unit_noise(seed, contract.id, index, f"v{span}") * 50 * math.sqrt(span))
    return Bar(start, o, h, low, c, volume)
