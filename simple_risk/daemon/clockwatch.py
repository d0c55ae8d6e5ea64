"""A machine clock that disagrees with the gateway's: the daemon says so.

The engine reads time from this machine's clock: the trading day's boundary (17:00 Chicago),
lockout ends, session hours and every time window (trades in the last hour, a cooldown) are
instants on it. A machine whose clock is minutes off — a home PC without time
synchronisation, a VPS whose clock drifted — resets the daily loss at the wrong moment and
lifts lockouts early or late, with nothing looking wrong. The gateway stamps every quote with
its own clock, so the daemon can tell: the gap between a quote's stamp and its arrival here is
transit (milliseconds) plus the difference of the two clocks.

:class:`ClockWatch` keeps the last :data:`SAMPLES` gaps. When even the smallest says the
quotes arrived more than :data:`LIMIT` after the gateway stamped them, this clock is ahead of
the gateway's (or every quote is that late, which is worth saying as much); when even the
largest says they arrived before they were stamped, it is behind. One warning alert per spell,
an info alert when the clocks agree again. A few quotes stamped long ago (an illiquid
contract's last change) never move the smallest gap, and a few odd ones never move the
largest, so neither raises an alert alone.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

#: how many recent quotes the judgement rests on
SAMPLES = 20

#: the difference of the two clocks worth an alert (seconds)
LIMIT = 5.0


class ClockWatch:
    """The gaps between the gateway's quote stamps and their arrival (engine thread only)."""

    def __init__(self, limit: float = LIMIT, samples: int = SAMPLES) -> None:
        self.limit = limit
        self._gaps: deque[float] = deque(maxlen=samples)
        #: "ahead", "behind" or None: what was last alerted
        self.state: str | None = None

    def sample(self, arrived: datetime, stamped: datetime | None) -> None:
        """One quote: when it arrived here, and when the gateway stamped it (if it said)."""
        if stamped is not None and stamped.tzinfo is not None and arrived.tzinfo is not None:
            self._gaps.append((arrived - stamped).total_seconds())

    def check(self) -> tuple[str, str] | None:
        """The alert due now, (level, message), if any: once per spell and when it ends."""
        gaps = self._gaps
        if len(gaps) < (gaps.maxlen or 0):
            return None
        smallest, largest = min(gaps), max(gaps)
        state = None
        if smallest > self.limit:
            state = "ahead"
        elif largest < -self.limit:
            state = "behind"
        if state == self.state:
            return None
        self.state = state
        if state is None:
            return ("info", "this machine's clock agrees with the gateway's again")
        off = smallest if state == "ahead" else -largest
        return (
            "warning",
            f"this machine's clock reads at least {off:.0f} s "
            f"{'ahead of' if state == 'ahead' else 'behind'} the gateway's (the "
            f"last {len(gaps)} quotes arrived {'after' if state == 'ahead' else 'before'} "
            "the gateway stamped them by that much): the trading day's boundary, lockout ends "
            "and time windows are off by as much; check the machine's time synchronisation "
            "(NTP)",
        )


__all__ = ["LIMIT", "SAMPLES", "ClockWatch"]
