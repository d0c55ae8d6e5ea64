"""The engine thread: the only consumer of the daemon's queue and the only thread that
changes engine state.

Hub callbacks, the contract cache, the reconcile workers, the executor workers and the store
writer only *put* on the queue; this loop takes each message in order and hands it to the
part whose job it is (:meth:`EngineLoop.dispatch`). Time is a message too: the loop wakes
itself once per ``tick_interval`` and exactly at the engines' next deadline and enqueues a
``ClockTick`` (through the queue, so it is ordered after the events already waiting); the
same wake-ups request periodic reconciles, retry waiting intents, snapshot and renew the
leases. The status server's reads and changes of engine state run here too, between two
events (:meth:`EngineLoop.call`). The loop runs under the supervisor: a failure is alerted
and the loop restarted with the queue as it was, less the message it failed on, and every
account reconciled.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import TypeVar

from simple_risk.adapters.topstepx.bars import BarQuote
from simple_risk.adapters.topstepx.hubs import CONNECTED, RECONNECTED, REFRESHED, SUBSCRIBE_FAILED
from simple_risk.daemon.announce import Announcer, FillNews
from simple_risk.daemon.apply import FACT_EVENTS, Applier
from simple_risk.daemon.barquotes import BarPoller, BarsWorker
from simple_risk.daemon.clockwatch import ClockWatch
from simple_risk.daemon.context import Shared
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError
from simple_risk.daemon.enforcement import Enforcer
from simple_risk.daemon.executor import IntentResult
from simple_risk.daemon.intake import Intake
from simple_risk.daemon.messages import (
    BarsMissed,
    EngineCommand,
    HubDoubt,
    LeaseChecked,
    ReconcileData,
    SnapshotFailed,
    StopRequest,
)
from simple_risk.daemon.ownership import Ownership
from simple_risk.daemon.persistence import Persistence
from simple_risk.daemon.quotewatch import QuoteWatch, trading
from simple_risk.daemon.reconcile import Reconciler
from simple_risk.daemon.supervisor import Supervisor
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ConnectionChanged,
    ContractLoaded,
    Event,
    OrderUpdate,
    OwnOrder,
    PositionUpdate,
    Quote,
    TradeFill,
)
from simple_risk.engine.vanished import hub_item

log = logging.getLogger(__name__)

#: while the user hub is down the daemon hears of fills, orders and positions only from REST:
#: every account is reconciled (fills included) this often (seconds), not at the periodic
#: reconcile's minute, so a breach meanwhile is enforced within seconds ...
HUB_DOWN_POLL = 10.0
#: ... but the poll takes at most this many calls in any ``REST_WINDOW`` seconds (the gateway
#: allows 200 a minute; the daemon keeps to 190, 20 of them enforcement's alone, and leaves
#: the rest to the reconciles after an enforcement, contract lookups and the session): the
#: poll of eight accounts on one login, every 10 s; more accounts are polled less often
HUB_DOWN_CALLS = 150
REST_WINDOW = 60.0


def hub_down_poll(accounts: int) -> float:
    """Seconds between two polls of every account while the user hub is down.

    A poll costs one ``Account/search`` for the login and three calls per account (open
    positions, working orders, the week's fills), all at once. ``HUB_DOWN_POLL``, unless
    the polls that fit in a ``REST_WINDOW`` would pass ``HUB_DOWN_CALLS``: then as many as
    fit, evenly spaced (a window that opens with a poll holds exactly that many)."""
    calls = 1 + 3 * accounts
    fit = HUB_DOWN_CALLS // calls
    if fit < 1:  # one poll alone is more: spaced as its share of the window
        return REST_WINDOW * calls / HUB_DOWN_CALLS
    return max(HUB_DOWN_POLL, REST_WINDOW / fit)


#: the first poll of an outage comes this long (seconds) after the user hub went down, unless
#: the poll's spacing is shorter: a hub back sooner (a rebuilt connection is open within about
#: two seconds) is read once, for its gap, not also for going down
HUB_DOWN_FIRST_POLL = 3.0
#: a user hub down this long (seconds) is said to the user, and its return
HUB_DOWN_ALERT = 30.0
#: the hub states in which events arrive
_HUB_UP = frozenset({CONNECTED, RECONNECTED, REFRESHED})
T = TypeVar("T")


#: how much further the wall clock may move than the monotonic one between two passes of the
#: loop before the daemon takes it that this machine slept (seconds): a suspend stops the
#: monotonic clock and not the wall, and so does a clock set forward
SLEPT = 10.0


class EngineLoop:
    """The engine thread's loop, its timers and its commands."""

    def __init__(
        self,
        shared: Shared,
        *,
        applier: Applier,
        reconciler: Reconciler,
        enforcer: Enforcer,
        persistence: Persistence,
        ownership: Ownership,
        intake: Intake,
        announcer: Announcer,
        write_status: Callable[[], None],
        bars: BarsWorker | None = None,
        bars_most: int = 1,
    ) -> None:
        self._shared = shared
        self._applier = applier
        self._reconciler = reconciler
        self._enforcer = enforcer
        self._persistence = persistence
        self._ownership = ownership
        self._intake = intake
        self._announcer = announcer
        self._write_status = write_status
        self._thread: threading.Thread | None = None
        self._next_status = 0.0
        self._next_tick = 0.0
        self._next_periodic = 0.0
        self._next_snapshot = 0.0
        self._next_lease = 0.0
        self.events_dispatched = 0
        #: how many times the loop has started (more than once: restarted by the supervisor)
        self.runs = 0
        #: the hubs' states as their last ``ConnectionChanged`` said
        self.hub_states: dict[str, str] = {}
        #: monotonic time the user hub went down (None: up, or not connected yet)
        self._user_hub_down: float | None = None
        self._next_hub_poll = 0.0
        self._user_hub_alerted = False
        timing = shared.config.timing
        self._quotes = QuoteWatch(timing.quote_silence)
        #: held contracts without quotes, priced from REST bars meanwhile (barquotes.py)
        self.bar_prices = BarPoller(
            after=timing.bars_after, every=timing.bars_every, most=bars_most
        )
        self._bars = bars
        self._clock_watch = ClockWatch()
        self._fill_news = FillNews()
        #: (monotonic, wall) at the loop's last pass: a wall that moved on much further since
        #: says this machine slept
        self._awake: tuple[float, datetime] | None = None

    def start(self, supervisor: Supervisor) -> None:
        self._thread = supervisor.spawn("engine", self.run)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the events already queued, snapshot every changed account and end."""
        if self.alive():
            self._shared.queue.put(StopRequest(at=self._shared.clock.now()))
            assert self._thread is not None
            self._thread.join(timeout)

    def run(self) -> None:
        """The loop, until a :class:`StopRequest`: then every changed account is snapshotted
        and the commands still queued are refused."""
        shared, timing = self._shared, self._shared.config.timing
        self.runs += 1
        if self.runs > 1:
            # restarted after a failure: the message it was handling is lost, so the facts
            # may miss an event; every account is reconciled from REST at once
            for account in shared.config.accounts:
                self._reconciler.request(account, "engine loop restarted")
        now_mono = time.monotonic()
        self._next_tick = now_mono
        self._next_periodic = now_mono + timing.reconcile_interval
        self._next_snapshot = now_mono + timing.snapshot_interval
        self._next_lease = now_mono + self._ownership.renew_interval()
        while True:
            shared.engine_turned = time.monotonic()  # the lease thread and the watchdog read it
            wait = max(self._next_wakeup() - time.monotonic(), 0.0)
            try:
                event = shared.queue.get(timeout=wait)
            except queue.Empty:
                self._on_timer()
                continue
            if isinstance(event, StopRequest):
                break
            self._watch_sleep()
            self.dispatch(event)
            if shared.status_due and time.monotonic() >= self._next_status:
                shared.status_due = False
                self._next_status = time.monotonic() + 0.2
                self._write_status()
            if time.monotonic() >= self._next_wakeup():
                self._on_timer()
        self.snapshot_all()
        self._refuse_waiting_commands()

    def snapshot_all(self) -> None:
        self._persistence.snapshot_dirty()
        self._write_status()

    # -- timers ---------------------------------------------------------------------------------

    def _next_wakeup(self) -> float:
        now_mono = time.monotonic()
        candidates = [self._next_tick, self._next_periodic, self._next_snapshot, self._next_lease]
        if self._user_hub_down is not None:
            candidates.append(self._next_hub_poll)
        candidates += self._reconciler.later.values()
        if self._shared.status_due:
            candidates.append(self._next_status)
        candidates += self._enforcer.waiting_due()
        deadlines = self._shared.deadlines.values()
        deadline = min((d for d in deadlines if d is not None), default=None)
        if deadline is not None:
            wait = (deadline - self._shared.clock.now()).total_seconds()
            candidates.append(now_mono + max(wait, 0.0))
        return min(candidates)

    def _watch_sleep(self) -> None:
        """This machine slept (a wall clock that moved on much further than the monotonic one
        since the loop's last pass): before the next message is handled — the first event
        after a wake runs every timer that ran out meanwhile — whatever the hubs sent while
        it slept counts as lost, though their connections may still look up. Every account's
        orders are unheard (a close for a missing stop waits for REST's orders) until a
        reconcile asked for now is applied, and one is asked for each account."""
        shared = self._shared
        now_mono, now_wall = time.monotonic(), shared.clock.now()
        last, self._awake = self._awake, (now_mono, now_wall)
        if last is None:
            return
        slept = (now_wall - last[1]).total_seconds() - (now_mono - last[0])
        if slept < SLEPT:
            return
        accounts = shared.config.accounts
        shared.orders_unheard.update(accounts)
        if shared.user_hub_up_at is not None:
            shared.user_hub_up_at = now_wall  # only a reconcile from now on reads past the sleep
        for account in accounts:
            self._reconciler.request(account, "machine slept")
        shared.alerter.alert(
            "warning",
            f"this machine's clock moved {slept:.0f} s further than the daemon ran (it slept, "
            "or the clock was set forward): what the gateway sent meanwhile may be lost, so "
            "every account is read from REST again, and a close for a missing stop waits for "
            "REST's orders",
            now_wall,
        )

    def _on_timer(self) -> None:
        shared, timing = self._shared, self._shared.config.timing
        self._watch_sleep()
        now_mono = time.monotonic()
        if shared.status_due and now_mono >= self._next_status:
            shared.status_due = False
            self._next_status = now_mono + 0.2
            self._write_status()
        now_wall = shared.clock.now()
        deadlines = shared.deadlines.values()
        deadline = min((d for d in deadlines if d is not None), default=None)
        due_deadline = deadline is not None and deadline <= now_wall
        if now_mono >= self._next_tick or due_deadline:
            self._next_tick = now_mono + timing.tick_interval
            shared.queue.put(ClockTick(at=now_wall))
            self._watch_quotes(now_mono, now_wall)
            clock_alert = self._clock_watch.check()
            if clock_alert is not None:
                shared.alerter.alert(*clock_alert, now_wall)
        if now_mono >= self._next_periodic:
            self._next_periodic = now_mono + timing.reconcile_interval
            # while the user hub is down its poll reads every account in full, more often:
            # a light reconcile beside it would only spend the login's REST budget again
            if self._user_hub_down is None:
                for account in shared.config.accounts:
                    self._reconciler.request(account, "periodic")
        self._watch_user_hub(now_mono, now_wall)
        self._reconciler.request_due(now_mono)
        self._enforcer.work_due(now_mono)
        if now_mono >= self._next_snapshot:
            self._next_snapshot = now_mono + timing.snapshot_interval
            self.snapshot_all()
            # once a trading day per account, queued behind the snapshots just asked for
            self._persistence.retention.due(now_wall)
        self._ownership.expire(now_mono, now_wall)
        writer = self._persistence.writer
        if writer is not None:
            writer.watch()
        if now_mono >= self._next_lease:
            for account in shared.config.accounts:
                self._ownership.renew(account, now_wall)
            self._next_lease = now_mono + self._ownership.renew_interval()

    def _user_hub_changed(self, state: str, at: datetime) -> None:
        """The user hub went down or came back (engine thread)."""
        now_mono = time.monotonic()
        if state in _HUB_UP:
            self._shared.user_hub_up_at = at
        else:  # deaf to orders: what the facts say of them may be stale until a reconcile
            self._shared.user_hub_up_at = None
            self._shared.orders_unheard.update(self._shared.config.accounts)
        if state in _HUB_UP:
            down, self._user_hub_down = self._user_hub_down, None
            if down is not None and self._user_hub_alerted:
                self._shared.alerter.alert(
                    "info", f"the user hub is back after {now_mono - down:.0f} s", at
                )
            self._user_hub_alerted = False
        elif self._user_hub_down is None:  # also a hub that never connected since the start
            self._user_hub_down = now_mono
            poll = hub_down_poll(len(self._shared.config.accounts))
            self._next_hub_poll = now_mono + min(poll, HUB_DOWN_FIRST_POLL)

    def _watch_user_hub(self, now_mono: float, now_wall: datetime) -> None:
        """While the user hub is down: reconcile every account every :func:`hub_down_poll`
        and, once the outage lasts ``HUB_DOWN_ALERT``, say so (once)."""
        down = self._user_hub_down
        if down is None:
            return
        poll = hub_down_poll(len(self._shared.config.accounts))
        if now_mono >= self._next_hub_poll:
            self._next_hub_poll = now_mono + poll
            for account in self._shared.config.accounts:
                self._reconciler.request(account, "user hub down")
        if not self._user_hub_alerted and now_mono - down >= HUB_DOWN_ALERT:
            self._user_hub_alerted = True
            self._shared.alerter.alert(
                "warning",
                f"the user hub has been down for {now_mono - down:.0f} s: fills, orders and "
                f"positions are read from REST every {poll:.0f} s until it is back, so "
                "a breach is enforced up to that much later",
                now_wall,
            )

    def _watch_quotes(self, now_mono: float, now: datetime) -> None:
        """Price a held contract whose quotes went quiet while its exchange trades from REST
        bars (barquotes.py), and alert it (and when its quotes come back): once a tick, from
        the engines' positions (quotewatch.py)."""
        held: dict[str, list[int]] = {}
        for account, engine in self._shared.engines.items():
            state = engine.account(account)
            if state is None or not state.positions or not trading(engine.calendar, now):
                continue
            for contract_id in state.positions:
                held.setdefault(contract_id, []).append(account)
        heard = self._intake.heard()
        if self._bars is not None:
            asks, alerts = self.bar_prices.due(now_mono, now, held, heard)
            for asked in asks:
                self._bars.ask(asked)
            for alert in alerts:
                self._shared.alerter.alert(alert.level, alert.message, now)
            note = self.bar_prices.note
        else:
            note = None
        for alert in self._quotes.check(now, held, heard, note):
            self._shared.alerter.alert(alert.level, alert.message, now)

    # -- dispatch -------------------------------------------------------------------------------

    def dispatch(self, event: Event) -> None:
        """Hand one message to the part whose job it is; apply engine events."""
        shared, applier = self._shared, self._applier
        self.events_dispatched += 1
        if isinstance(event, EngineCommand):
            self._run_command(event)
            return
        if isinstance(event, IntentResult):
            self._enforcer.on_result(event)
            return
        if isinstance(event, ReconcileData):
            self._reconciler.apply(event)
            return
        if isinstance(event, HubDoubt):
            self._reconciler.doubt(event.doubt)
            return
        if isinstance(event, SnapshotFailed):
            self._persistence.dirty.add(event.account)  # the next snapshot tries again
            return
        if isinstance(event, LeaseChecked):
            self._ownership.on_checked(event)
            return
        if isinstance(event, ConnectionChanged):
            if event.hub == "user":
                self._user_hub_changed(event.state, event.at)
            self.hub_states[event.hub] = event.state
            shared.observer.on_event(event)
            self._announcer.event(event)
            if event.state == SUBSCRIBE_FAILED:
                # connected but deaf to what was refused (fills, orders, quotes): a user hub's
                # reconciles cover it until the hub subscribes again
                shared.alerter.alert(
                    "critical",
                    f"{event.hub} hub: the gateway refused a subscription ({event.detail}); "
                    "its events do not arrive until it is subscribed again (retrying)",
                    event.at,
                )
            # Only the user hub's gap is read from REST: the market hub carries quotes, which
            # REST does not have, and its connection rebuilt subscribes them again (prices stay
            # as last heard meanwhile; the quote watch says so of a held contract gone quiet)
            if event.gap and event.hub == "user":
                for account in shared.config.accounts:
                    self._reconciler.request(account, "user hub gap")
            return
        event = applier.monotonic(event)
        if isinstance(event, OwnOrder):
            if event.account_id in shared.engines:
                applier.apply(event.account_id, event, journal=True)
            return
        if isinstance(event, FACT_EVENTS):
            account = event.account_id
            if account not in shared.engines:
                if isinstance(event, AccountUpdate):  # an account of the login left out
                    self._reconciler.unguarded(event)
                return
            if isinstance(event, OrderUpdate | PositionUpdate | TradeFill):
                shared.hub_touched.setdefault(account, {})[hub_item(event)] = event.at
            if isinstance(event, PositionUpdate):
                behind = shared.hub_behind.get(account)
                if behind and behind.get(event.contract_id, -1) >= event.size:
                    del behind[event.contract_id]  # the hub has caught up with the reduction
            self._intake.watch_contract(event)
            if not isinstance(event, TradeFill) or self._fill_news.is_news(event):
                shared.observer.on_event(event)
                self._announcer.event(event)
            applier.catch_up_quote(account, event)
            if isinstance(event, OrderUpdate):
                applier.claim_own(account, event)
            applier.apply(account, event, journal=True)
            return
        if isinstance(event, BarsMissed):
            self.bar_prices.miss(event)
            return
        if isinstance(event, BarQuote):
            # a price from REST bars: applied as a last trade, unless a quote of the contract
            # was heard since it was asked for (or the contract is no longer priced so); never
            # counted as a quote heard, nor as a sample of the gateway's clock
            if self.bar_prices.accept(event, self._intake.quoted()):
                shared.observer.on_event(event)
                # the engine gets the plain quote it says (a rule's state keeps the event that
                # fired it, saved in each snapshot: a BarQuote is no engine event to save)
                quote = event.as_quote()
                self._intake.bar_applied(event)
                for account in self._intake.bar_receivers(quote):
                    applier.apply(account, quote, journal=False)
            return
        if isinstance(event, Quote):
            self._clock_watch.sample(event.at, event.timestamp)
            shared.observer.on_event(event)
            for account in self._intake.quote_receivers(event):
                applier.apply(account, event, journal=False)
            return
        if isinstance(event, ContractLoaded | ClockTick):
            for account in shared.engines:
                applier.apply(account, event, journal=False)

    # -- commands from other threads ------------------------------------------------------------

    def call(self, fn: Callable[[], T], wait: float) -> T:
        """Run ``fn`` on the engine thread between two events and return its result.

        Raises ProtocolError ``unavailable`` when the engine thread is not running or does not
        get to it within ``wait`` seconds (the command is then skipped, not run late).
        """
        if not self.alive():
            raise ProtocolError(
                ErrorCode.UNAVAILABLE.value,
                "the engine is not running (starting or stopping)",
            )
        future: Future[object] = Future()
        self._shared.queue.put(EngineCommand(at=self._shared.clock.now(), fn=fn, future=future))
        try:
            return future.result(wait)  # type: ignore[return-value]
        except TimeoutError:
            future.cancel()
            raise ProtocolError(
                ErrorCode.UNAVAILABLE.value, f"the engine did not answer within {wait:g}s"
            ) from None

    def _run_command(self, command: EngineCommand) -> None:
        if not command.future.set_running_or_notify_cancel():
            return
        try:
            result = command.fn()
        except BaseException as exc:
            command.future.set_exception(exc)
        else:
            command.future.set_result(result)

    def _refuse_waiting_commands(self) -> None:
        """The engine thread ends: answer every command still queued with ``unavailable``."""
        while True:
            try:
                event = self._shared.queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, EngineCommand) and event.future.set_running_or_notify_cancel():
                event.future.set_exception(
                    ProtocolError(ErrorCode.UNAVAILABLE.value, "the daemon is stopping")
                )


__all__ = ["EngineLoop"]
