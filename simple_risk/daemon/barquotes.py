"""Held contracts whose quotes stopped, priced from REST bars until their quotes come back.

A position's open P&L moves only with its contract's quotes, and the live market hub drops
routinely — for up to about two minutes — with nothing replayed afterwards: meanwhile the
open-loss limit, drawdowns and trailing stops cannot fire, however far the market moves.
REST has one price, ``History/retrieveBars`` (its own budget of 50 calls in 30 s, apart from
the 200 a minute of every other endpoint): the newest one-minute bar, the partial one
included, closes at the last trade.

So once a tick the engine thread asks :class:`BarPoller` which held contracts (in an account
whose exchange trades now, :func:`~simple_risk.daemon.quotewatch.trading`) have had no quote
for ``bars_after`` seconds, and hands each one due to :class:`BarsWorker`, a thread of its
own, which asks REST for its last trade — a background call of the bars budget, never ahead of
an enforcing call (which draws from the other budget) — and puts the answer on the engine's
queue, where quotes go: a :class:`~simple_risk.adapters.topstepx.bars.BarQuote`, applied as a
quote whose last price is the bar's close (no bid, no ask), or a
:class:`~simple_risk.daemon.messages.BarsMissed`. Each contract is asked at most once every
``bars_every`` seconds and never while its last question is unanswered: a call that fails or
is refused (429) is asked again at its next period, never at once. How many contracts are
asked in any ``bars_every`` seconds is bounded by the bars budget (:func:`capacity`); more
quiet contracts than that are asked in turn, each less often (the longest unasked first), and
a warning says so.

A bar never overrides a real quote: an answer is dropped when a quote of its contract arrived
after it was asked for, when the bar ended before the last quote heard, when it is older than
the bar already applied, and when the contract is no longer polled — its quotes back, the
position closed, or its exchange closed. The polling of a contract stops the moment a quote of
it arrives (the next tick) and when it is no longer held.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import queue
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from simple_risk.adapters.topstepx.bars import BAR_WIDTH, LOOKBACK, BarQuote, last_trade
from simple_risk.adapters.topstepx.errors import ProjectXError
from simple_risk.adapters.topstepx.ratelimit import Budget
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.daemon.context import Shared
from simple_risk.daemon.messages import BarsMissed
from simple_risk.daemon.quotewatch import QuoteAlert
from simple_risk.daemon.supervisor import Supervisor

log = logging.getLogger(__name__)

#: a held contract without a quote this long (seconds) while its exchange trades is priced from
#: REST bars (well before the quote-silence alert's two minutes) ...
BARS_AFTER = 10.0
#: ... every this many seconds (at most), until its quotes come back
BARS_EVERY = 5.0


def capacity(budget: Budget, every: float) -> int:
    """How many contracts may be asked every ``every`` seconds within the bars ``budget``: any
    window of the budget's length holds at most ``budget.requests`` calls even when it straddles
    one more period than fits in it (at least one contract)."""
    return max(1, math.floor(budget.requests * every / (budget.window + every)))


@dataclass(frozen=True, slots=True)
class Asked:
    """A contract to ask REST about, and when (the engine thread's wall clock)."""

    contract_id: str
    at: datetime


class BarPoller:
    """Which held contracts are priced from bars, when each is asked, and which answers apply
    (engine thread only; the clocks are handed in)."""

    def __init__(
        self, *, after: float = BARS_AFTER, every: float = BARS_EVERY, most: int = 1
    ) -> None:
        self.after = timedelta(seconds=after)
        self.every = every
        #: contracts asked in any ``every`` seconds (the bars budget's share, :func:`capacity`)
        self.most = max(1, most)
        #: the held contracts without quotes now, priced from bars
        self.quiet: set[str] = set()
        #: each held contract → since when it has been held while its exchange trades
        self._held_since: dict[str, datetime] = {}
        #: each quiet contract → when it was last asked (monotonic)
        self._asked: dict[str, float] = {}
        #: contracts whose last question is unanswered (never asked twice at once)
        self._asking: set[str] = set()
        #: when the questions of the last ``every`` seconds were asked (monotonic)
        self._recent: deque[float] = deque()
        #: each quiet contract → the bar price last applied
        self.priced: dict[str, BarQuote] = {}
        #: each quiet contract → why its last question got no price
        self.missed: dict[str, str] = {}
        #: more quiet contracts than can be asked every ``every`` seconds (said once a spell)
        self._crowded = False
        self.asks = 0

    def due(
        self,
        now_mono: float,
        now: datetime,
        held: Mapping[str, Iterable[int]],
        heard: Mapping[str, datetime],
    ) -> tuple[list[Asked], list[QuoteAlert]]:
        """The contracts to ask now, and what to say.

        ``held``: each contract with an open position in an account whose exchange trades now;
        ``heard``: each contract → when its last quote arrived (never quoted: when the daemon
        began to watch it). A contract is quiet once it has been held that long without a
        quote, counted from when it was held while its exchange trades at the earliest."""
        self._held_since = {c: self._held_since.get(c, now) for c in held}
        quiet = set()
        for contract_id in held:
            last = heard.get(contract_id)
            if last is not None and now - max(last, self._held_since[contract_id]) >= self.after:
                quiet.add(contract_id)
        for contract_id in self.quiet - quiet:
            why = "its quotes arrive again" if contract_id in held else "it is no longer held"
            log.info("%s: no longer priced from REST bars (%s)", contract_id, why)
            self._asked.pop(contract_id, None)
            self.priced.pop(contract_id, None)
            self.missed.pop(contract_id, None)
        for contract_id in sorted(quiet - self.quiet):
            quiet_for = self.after.total_seconds()
            log.info("%s: no quote for %g s; priced from REST bars", contract_id, quiet_for)
        self.quiet = quiet
        alerts: list[QuoteAlert] = []
        crowded = len(quiet) > self.most
        if crowded and not self._crowded:
            alerts.append(QuoteAlert("warning", self._crowd_words()))
        self._crowded = crowded
        while self._recent and self._recent[0] <= now_mono - self.every:
            self._recent.popleft()
        room = self.most - len(self._recent)
        if room <= 0:
            return [], alerts
        never = -math.inf
        waiting = sorted(
            (self._asked.get(c, never), c)
            for c in quiet
            if c not in self._asking and now_mono - self._asked.get(c, never) >= self.every
        )
        asks = []
        for _, contract_id in waiting[:room]:
            self._asked[contract_id] = now_mono
            self._asking.add(contract_id)
            self._recent.append(now_mono)
            asks.append(Asked(contract_id, now))
        self.asks += len(asks)
        return asks, alerts

    def accept(self, bar: BarQuote, quoted: Mapping[str, datetime]) -> bool:
        """Whether a bar's price applies: its contract is still priced from bars, no quote
        arrived since it was asked for, the bar did not end before the last quote heard, and
        it is no older than the bar price already applied. ``quoted``: each contract → when
        its last quote arrived (a contract never quoted is not there: any bar of it is news)."""
        contract_id = bar.contract_id
        self._asking.discard(contract_id)
        if contract_id not in self.quiet:
            return False
        last = quoted.get(contract_id)
        if last is not None and (last >= bar.asked_at or bar.bar_start + BAR_WIDTH <= last):
            return False
        applied = self.priced.get(contract_id)
        if applied is not None and bar.bar_start < applied.bar_start:
            return False
        self.priced[contract_id] = bar
        self.missed.pop(contract_id, None)
        return True

    def miss(self, missed: BarsMissed) -> None:
        """A question that got no price: asked again at the contract's next period."""
        self._asking.discard(missed.contract_id)
        if missed.contract_id in self.quiet:
            self.missed[missed.contract_id] = missed.why

    def period(self) -> float:
        """Seconds between two questions about one quiet contract now."""
        rounds = max(1, math.ceil(len(self.quiet) / self.most))
        return self.every * rounds

    def note(self, contract_id: str) -> str | None:
        """What the quote-silence alert says of a quiet contract's price (None: not priced
        from bars: its silence is shorter than ``bars_after``, or it is not held)."""
        if contract_id not in self.quiet:
            return None
        every = f"every {self.period():g} s"
        if contract_id in self.priced:
            words = (
                f"its price now comes from REST bars {every} (History/retrieveBars: the last "
                "trade, not the bid or ask), so the open-loss limit and drawdowns still fire, "
                "up to that much later"
            )
        elif contract_id in self.missed:
            words = (
                f"REST bars are asked for its price {every}, but gave none "
                f"({self.missed[contract_id]}): its open P&L is not moving, and the rules "
                "about it (open-loss limit, drawdown) cannot fire"
            )
        else:
            words = (
                f"its price is being asked from REST bars {every}; until one answers, its open "
                "P&L is not moving and the rules about it (open-loss limit, drawdown) cannot "
                "fire"
            )
        if len(self.quiet) > self.most:
            words += f" ({self._crowd_words()})"
        return words

    def _crowd_words(self) -> str:
        return (
            f"{len(self.quiet)} held contracts have no quotes, more than the REST bars budget "
            f"prices every {self.every:g} s ({self.most}): they are priced in turn, each every "
            f"{self.period():g} s"
        )


class BarsWorker:
    """The thread that asks REST for the quiet contracts' bars (one question at a time, in
    the order the engine thread asked) and puts each answer on the engine's queue."""

    def __init__(self, shared: Shared, client: RestClient, every: float) -> None:
        self._shared = shared
        self._client = client
        #: one call, its retries and its wait for a slot included, takes at most a period
        self._deadline = max(every, 1.0)
        self._work: queue.Queue[Asked | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self, supervisor: Supervisor) -> None:
        """Supervised; it serves no account's enforcement, so its failures degrade none."""
        self._thread = supervisor.spawn("bars", self._loop, accounts=())

    def stop(self) -> None:
        self._work.put(None)

    def ask(self, asked: Asked) -> None:
        """Engine thread: ask for a contract's last trade (never waits)."""
        self._work.put(asked)

    def _loop(self) -> None:
        while True:
            asked = self._work.get()
            if asked is None or self._shared.closing.is_set():
                return
            try:
                answer: BarQuote | BarsMissed = self.fetch(asked)
            except BaseException as exc:  # an exit: answered, or the contract is never asked again
                why = f"{type(exc).__name__}: {exc}"
                at = self._shared.clock.now()
                lost = BarsMissed(at=at, contract_id=asked.contract_id, asked_at=asked.at, why=why)
                self._shared.queue.put(lost)
                raise  # the supervisor alerts and runs the loop again
            self._shared.queue.put(answer)

    def fetch(self, asked: Asked) -> BarQuote | BarsMissed:
        """The contract's last trade, or why there is none."""
        contract_id = asked.contract_id

        def missed(why: str, failed: bool = True) -> BarsMissed:
            at = self._shared.clock.now()
            return BarsMissed(
                at=at, contract_id=contract_id, asked_at=asked.at, why=why, failed=failed
            )

        try:
            bar = last_trade(
                self._client, contract_id, now=self._shared.clock.now(), deadline=self._deadline
            )
        except ProjectXError as exc:
            log.info("%s: REST bars gave no price: %s", contract_id, exc)
            return missed(str(exc))
        except Exception as exc:  # never ends the worker: the next period asks again
            log.exception("%s: REST bars failed unexpectedly", contract_id)
            return missed(f"{type(exc).__name__}: {exc}")
        if bar is None:
            minutes = int(LOOKBACK.total_seconds() // 60)
            return missed(f"no trade in the last {minutes} min", failed=False)
        # a quote heard since the engine thread asked is newer than this price
        return dataclasses.replace(bar, asked_at=asked.at)


__all__ = ["BARS_AFTER", "BARS_EVERY", "Asked", "BarPoller", "BarsWorker", "capacity"]
