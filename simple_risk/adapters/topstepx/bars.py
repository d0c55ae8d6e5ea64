"""A contract's last trade from ``History/retrieveBars``: the price REST has when its quotes
do not arrive.

The live market hub drops routinely, for up to about two minutes, and nothing replays what it
missed: REST's only price is a bar (``History/retrieveBars``). The newest one-minute bar with
the partial bar included closes at the contract's last trade, so :func:`last_trade` asks for
the bars of the last few minutes and takes the newest (a bar's ``t`` is taken for its start,
as the gateway's hourly bars at :00 suggest) and answers it as a :class:`BarQuote`: a
:class:`~simple_risk.engine.events.Quote` whose ``last`` is the bar's close and which has no
bid or ask (a bar has none). The engine is handed the plain quote it says
(:meth:`BarQuote.as_quote`). The engine marks a position at a quote's last price when it has
no bid or ask to say it moved away, so a bar's close marks a position as the last trade does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from simple_risk.adapters.topstepx.ratelimit import Priority
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.engine.events import Quote

#: AggregateBarUnit Minute and the width of one such bar
MINUTE = 2
BAR_WIDTH = timedelta(minutes=1)
#: how far back the bars are asked for: a contract that did not trade in this long has no bar,
#: and no price REST could add to the last quote heard
LOOKBACK = timedelta(minutes=5)
#: the most one-minute bars the window holds (its partial bar at each end included)
WINDOW_BARS = int(LOOKBACK / BAR_WIDTH) + 2


@dataclass(frozen=True, slots=True, kw_only=True)
class BarQuote(Quote):
    """A contract's last trade as REST's newest bar says: ``last`` is the bar's close, ``bid``
    and ``ask`` are None (a bar has neither), ``timestamp`` is None (a bar is dated by its
    start, not by a trade's stamp). ``at`` is when the answer arrived."""

    #: the bar's start (exchange time): its close is a trade made before ``bar_start`` + a minute
    bar_start: datetime
    #: when the daemon asked for it: a quote heard since then is newer than the bar's price
    asked_at: datetime

    def as_quote(self) -> Quote:
        """The engine's quote of it: the bar's close as the last price, no bid or ask (the
        engine keeps and snapshots the events that fire rules, and knows its own types only)."""
        return Quote(at=self.at, contract_id=self.contract_id, last=self.last)


def last_trade(
    client: RestClient, contract_id: str, *, now: datetime, deadline: float
) -> BarQuote | None:
    """The contract's newest one-minute bar that printed a trade (volume above 0, a close
    above 0) and starts within the window asked for, the partial one included, over the last
    :data:`LOOKBACK` (one call, whichever end of the window ``limit`` keeps), as a
    :class:`BarQuote` (None: nothing traded meanwhile). A background call of the bars budget,
    bounded by ``deadline`` seconds; raises what the client raises."""
    end = now + BAR_WIDTH
    bars = client.retrieve_bars(
        contract_id,
        start=now - LOOKBACK,
        end=end,
        unit=MINUTE,
        unit_number=1,
        # every bar the window can hold: that ``limit`` keeps the newest bars is inferred from
        # the gateway's example, not documented; the newest is chosen here
        limit=WINDOW_BARS,
        include_partial_bar=True,
        priority=Priority.BACKGROUND,
        deadline=deadline,
    )
    # a bar that printed no trade (the partial bar of a quiet minute: volume 0) or whose close
    # is no price (0 or below) says nothing of the last trade: marked at it, a long would show
    # its whole value as an open loss and be flattened. Nor does a bar dated after the window
    # asked for: taken for the newest, it would make every real bar after it older than the
    # bar applied (BarPoller.accept), the position frozen at its close until that time
    traded = [bar for bar in bars if bar.v > 0 and bar.c > 0 and bar.t <= end]
    if not traded:
        return None
    newest = max(traded, key=lambda bar: bar.t)  # newest first, as sent; not relied upon
    return BarQuote(
        at=client.clock.now(),
        contract_id=contract_id,
        last=newest.c,
        bar_start=newest.t,
        asked_at=now,
    )


__all__ = ["BAR_WIDTH", "LOOKBACK", "MINUTE", "WINDOW_BARS", "BarQuote", "last_trade"]
