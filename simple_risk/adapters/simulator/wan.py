"""A wide-area network between the daemon and the gateway, on loopback.

On loopback every answer arrives in a fraction of a millisecond, which hides how many round
trips an enforcement costs. :class:`WanDelay` holds every REST answer and every hub frame back
by ``mean ± jitter`` seconds (uniform), the way a client far from the gateway sees it: the
venue acts on a request when it arrives, the client hears of it one delay later. Hub frames
keep their order (a frame never overtakes an earlier one on its connection).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class WanDelay:
    """The one-way delay added to each REST answer and hub frame (seconds)."""

    mean: float = 0.040
    jitter: float = 0.010
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mean < 0 or self.jitter < 0 or self.jitter > self.mean:
            raise ValueError("a WAN delay needs 0 <= jitter <= mean")
        self._rng = random.Random(self.seed)

    def sample(self) -> float:
        """One delay, drawn from ``mean ± jitter``."""
        return self.mean + self._rng.uniform(-self.jitter, self.jitter)


__all__ = ["WanDelay"]
