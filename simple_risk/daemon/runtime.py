"""The daemon's runtime: one engine thread, one ordered queue, reconciliation, enforcement.

Threads and who talks to whom (docs/architecture.md §1):

* hub clients (signalrcore threads), the contract cache, the reconcile workers and the
  executor workers (one of each per account) only *put* events on the
  :class:`~simple_risk.daemon.queue.EventQueue`;
* the engine thread is the only consumer. It applies each event to the account's engine (one
  :class:`Engine` per account, because overlays give accounts different rulesets), records
  each firing with its lockouts and intents in the store
  (snapshotting the engine when the lock set changed), and works the intents through the
  executor (bookkeeping in :class:`Tracked`) at once. The engine thread never waits on I/O:
  the journal, the firing records, the snapshots and the intent states are written in order
  by the :class:`~simple_risk.daemon.journal.StoreWriter` thread (act first, journal in
  parallel: docs/daemon.md, Crash safety), and hub subscriptions are sent by a thread of their own;
* time: the engine thread wakes itself once per ``tick_interval`` and exactly at the engines'
  next deadline and enqueues a ``ClockTick`` (through the queue, so it is ordered after the
  events already waiting); events are applied in strictly increasing engine time.

Startup (``start``): take the account leases, restore each engine from its latest snapshot and
replay the journal after it, log in, load contracts, start the hubs, then reconcile every
account from REST (positions, working orders, the trading day's fills — which rebuild day P&L
and windows) and apply ``Reconciled``, which evaluates every rule, so a limit already breached
is enforced at once. Intents are worked only for accounts that have been reconciled.
Reconciliation runs again after any hub gap, lightly (positions and orders) every
``reconcile_interval`` seconds, and ``reconcile_after_enforcement`` seconds after each
enforcement (a flat position is not always announced by an event).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from simple_risk.adapters.replay import WireRecorder
from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.converters import RestRequest
from simple_risk.adapters.topstepx.errors import Endpoint, ProjectXError
from simple_risk.adapters.topstepx.hubs import HubConfig, MarketHubClient, UserHubClient
from simple_risk.adapters.topstepx.ratelimit import (
    DEFAULT_BUCKET,
    DEFAULT_RESERVE,
    Budget,
    RateLimiter,
)
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError
from simple_risk.daemon.control.server import Broadcaster, ServerOptions, StatusServer
from simple_risk.daemon.control.views import RECENT_FIRINGS, firing_record
from simple_risk.daemon.executor import (
    Executor,
    IntentResult,
    call_succeeded,
    call_words,
    describe_call,
    plan,
    priority_of,
)
from simple_risk.daemon.journal import StoreWriter
from simple_risk.daemon.notifications import Notifications
from simple_risk.daemon.notify import (
    event_text,
    firing_text,
    result_severity,
    result_text,
)
from simple_risk.daemon.observe import Choice, Enforcement, would_words
from simple_risk.daemon.owntags import OwnTags
from simple_risk.daemon.queue import EventQueue
from simple_risk.engine import Engine, Firing
from simple_risk.engine.codec import CodecError, event_to_json
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ConnectionChanged,
    ContractLoaded,
    Event,
    OrderStatus,
    OrderUpdate,
    OwnOrder,
    PositionType,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.ledger import adds_nothing
from simple_risk.engine.intents import Alert, Intent, intent_from_json, intent_to_json, is_met
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import Ruleset
from simple_risk.engine.operations import (
    RulesetChanges,
    clear_locks,
    mandatory_violations,
    reload_engine,
)
from simple_risk.store import Store, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from simple_risk.daemon.dashboard import DashboardServer

log = logging.getLogger(__name__)
T = TypeVar("T")

FACT_EVENTS = (AccountUpdate, OrderUpdate, PositionUpdate, TradeFill)
#: what the journal keeps: the facts, and which orders the daemon placed
JOURNALED = (*FACT_EVENTS, OwnOrder)
_POSITION_CALLS = frozenset({Endpoint.POSITION_CLOSE, Endpoint.POSITION_PARTIAL_CLOSE})


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileData(Event):
    """One account's state as REST reported it (or why it could not)."""

    account: int
    started_at: datetime
    reason: str
    account_update: AccountUpdate | None = None
    positions: tuple[PositionUpdate, ...] = ()
    orders: tuple[OrderUpdate, ...] = ()
    trades: tuple[TradeFill, ...] = ()
    error: str | None = None
    #: records REST sent that could not be read, skipped: (kind, why) — "order", "position"…
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotFailed(Event):
    """The writer thread could not save an account's snapshot (and alerted): the engine
    thread keeps the account dirty, so the next snapshot tries again."""

    account: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseChecked(Event):
    """The writer thread renewed (or tried to take back) an account's lease."""

    account: int
    held: bool
    why: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequest(Event):
    """Asks the engine thread to finish."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class EngineCommand(Event):
    """Work for the engine thread, between two events: the status server's reads of engine
    state and its changes (reload, lockout clear). ``future`` receives ``fn()``'s result or
    exception; a command whose future was cancelled (the caller gave up) is skipped."""

    fn: Callable[[], object]
    future: Future[object]


class Observer(Protocol):
    """What the demo console (and tests) watch; every method runs on a daemon thread."""

    def on_event(self, event: Event) -> None: ...

    def on_firing(self, firing: Firing) -> None: ...

    def on_call(self, account: int, call: str, outcome: str) -> None: ...

    def on_result(self, result: IntentResult) -> None: ...

    def on_alert(self, level: str, message: str) -> None: ...


class QuietObserver:
    """An observer that ignores everything (the production daemon logs instead)."""

    def on_event(self, event: Event) -> None:
        return None

    def on_firing(self, firing: Firing) -> None:
        return None

    def on_call(self, account: int, call: str, outcome: str) -> None:
        return None

    def on_result(self, result: IntentResult) -> None:
        return None

    def on_alert(self, level: str, message: str) -> None:
        return None


class Alerter:
    """Loud alerts: the log at ERROR/CRITICAL, the status output, ``monitor`` and the
    notification webhook (posted from its own thread: an alert never waits for HTTP)."""

    def __init__(
        self,
        notifier: Notifications | None,
        observer: Observer,
        monitor: Broadcaster | None = None,
    ) -> None:
        self._notifier = notifier
        self._observer = observer
        self._monitor = monitor
        self.recent: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def alert(self, level: str, message: str, at: datetime) -> None:
        logger_level = logging.CRITICAL if level == "critical" else logging.ERROR
        if level in ("info", "warning"):
            logger_level = logging.WARNING
        log.log(logger_level, "ALERT %s: %s", level, message)
        entry = {"at": at.isoformat(), "level": level, "message": message}
        with self._lock:
            self.recent = [*self.recent[-49:], entry]
        self._observer.on_alert(level, message)
        text = f"Alert: {message}"
        if self._monitor is not None and self._monitor.active:
            self._monitor.publish(
                "alert", {"at": at, "severity": level, "text": text, "data": entry}
            )
        if self._notifier is not None:
            self._notifier.post(level, text)


@dataclass(slots=True)
class Tracked:
    """One intent the executor is working: in flight, awaiting confirmation, or waiting."""

    intent: Intent
    account: int
    state: str = "waiting"  # "waiting" | "in_flight" | "awaiting" | "observed"
    due: float = 0.0  # monotonic time a waiting intent is worked again
    failures: int = 0
    sends: int = 0
    #: contracts whose position the last calls closed or reduced
    contracts: frozenset[str] = frozenset()


@dataclass(slots=True)
class RuntimeOptions:
    """Knobs that are not part of the configuration file (tests, the demo, benchmarks)."""

    rest: RestConfig = field(default_factory=RestConfig)
    hubs: HubConfig = field(default_factory=HubConfig)
    #: the REST budgets (None: TopstepX's documented limits, with a margin)
    budgets: Mapping[str, Budget] | None = None
    #: calls a first start (no call ledger in the data dir yet) assumes the gateway's window
    #: already holds: the trader's platform, or a daemon run from elsewhere, share the budget
    assume_used: int = 30
    #: at least this long between two reconciles of one account (startup excepted); doubled
    #: while half the REST budget is used, quadrupled past three quarters
    reconcile_gap: float = 2.0
    #: enforcing calls of an account refused or delayed this long: a critical alert at once
    starved_after: float = 3.0
    lease_ttl: float = 60.0
    journal: bool = True
    hub_ready_timeout: float = 10.0
    #: serve the status socket (off for tests and benchmarks that run several daemons)
    serve: bool = True
    server: ServerOptions = field(default_factory=ServerOptions)
    #: reshapes every ruleset a reload loads (the demo and tests scale calendars and graces)
    ruleset_transform: Callable[[Ruleset], Ruleset] | None = None
    #: how many firings ``Daemon.firings`` keeps (newest), so a long day stays bounded
    firings_kept: int = 5000
    #: the wall clock behind every receive stamp (None: the system clock); tests pin the
    #: weekday with it, so nothing they assert depends on the day they run
    wall: Callable[[], datetime] | None = None
    #: receives every REST answer and hub frame (``engine run --record DIR``)
    recorder: WireRecorder | None = None
    #: ``engine run --observe``: every account only observed (nothing sent to the gateway)
    #: until an admin turns enforcement on; kept out of the configuration, so a reload does
    #: not mistake the flag for a changed setting
    observe: bool = False


class Daemon:
    """Everything ``simple-risk engine run`` does, as an object tests can start and stop."""

    def __init__(
        self,
        config: DaemonConfig,
        rulesets: Mapping[int, Ruleset],
        *,
        store: Store,
        options: RuntimeOptions | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.config = config
        self.rulesets = dict(rulesets)
        self.store = store
        self.options = options or RuntimeOptions()
        self.observer: Observer = observer or QuietObserver()
        self.queue = EventQueue()
        self.client = RestClient(
            config.gateway,
            Credentials(config.username, config.api_key),
            config=self.options.rest,
            limiter=RateLimiter(
                self.options.budgets,
                reserve=DEFAULT_RESERVE,
                ledger=config.data_dir / "rest-calls.log",
                assume_used=self.options.assume_used,
            ),
            clock=ReceiveClock(self.options.wall) if self.options.wall else None,
            recorder=self.options.recorder,
            on_auth_trouble=self._auth_trouble,
        )
        #: the tags of the orders the daemon places (protective stops): lockouts let only
        #: those pass, so they carry a secret part nobody else can make
        self.own_tags = OwnTags.load(config.data_dir)
        self.clock = self.client.clock
        self.monitor = Broadcaster()
        webhook = config.notify.webhook or config.alert_webhook
        for url in (webhook, *config.notify.urls):
            register_secret(url)  # a chat webhook or bot URL carries its own token
        self.notifier = Notifications(webhook, config.notify.min_severity, urls=config.notify.urls)
        self.alerter = Alerter(self.notifier, self.observer, self.monitor)
        self.engines: dict[int, Engine] = {}
        self.book: dict[str, Tracked] = {}
        #: which accounts are only observed (nothing sent: :mod:`simple_risk.daemon.observe`)
        self.enforcement = (
            Enforcement(config.accounts, config.accounts, source="engine run --observe")
            if self.options.observe
            else Enforcement(config.accounts, config.observed)
        )
        self.executor = Executor(
            self.client,
            self.queue,
            store,
            on_call=self._on_call,
            on_starved=lambda level, text: self.alerter.alert(level, text, self.clock.now()),
            starved_after=self.options.starved_after,
            record=self._store_call,
        )
        self.contracts = ContractCache(self.client, config.data_dir, sink=self.queue)
        self.user_hub = UserHubClient(
            config.user_hub,
            self.client,
            self.queue,
            clock=self.clock,
            config=self.options.hubs,
            recorder=self.options.recorder,
        )
        self.market_hub = MarketHubClient(
            config.market_hub,
            self.client,
            self.queue,
            clock=self.clock,
            config=self.options.hubs,
            recorder=self.options.recorder,
        )
        self.lease_owner = f"{socket.gethostname()}:{config.data_dir}"
        # one reconcile worker per account: one account's slow REST never delays another's
        self._reconcile_work: dict[int, queue.Queue[str | None]] = {
            account: queue.Queue() for account in config.accounts
        }
        self._reconcile_wanted: set[int] = set()
        #: set when ``stop`` begins: a reconcile worker waiting out its gap returns
        self._closing = threading.Event()
        self._reconcile_lock = threading.Lock()
        self._reconcile_threads = [
            threading.Thread(
                target=self._reconcile_loop,
                args=(account,),
                name=f"reconcile-{account}",
                daemon=True,
            )
            for account in config.accounts
        ]
        self._engine_thread = threading.Thread(target=self._engine_loop, name="engine", daemon=True)
        #: sends hub subscriptions for the engine thread, which never waits on a socket
        self._subscriber = ThreadPoolExecutor(max_workers=1, thread_name_prefix="subscriber")
        self._quoted: set[str] = set()
        self._live: set[int] = set()
        self._last_fact_at: dict[int, datetime] = {}
        self._last_seq: dict[int, int] = {}
        self._deadlines: dict[int, datetime | None] = {}
        self._latest_quote: dict[str, Quote] = {}
        self._stale_quotes: dict[int, set[str]] = {}
        self.events_dispatched = 0
        self.writer: StoreWriter | None = None
        self._lock_marks: dict[int, tuple[tuple[str, str, str | None, str], ...]] = {}
        self._next_status = 0.0
        self._snapshots = 0
        self._last_at: datetime | None = None
        self._next_tick = 0.0
        self._next_periodic = 0.0
        self._next_snapshot = 0.0
        self._next_lease = 0.0
        self._after_enforcement: dict[int, float] = {}
        self._dirty: set[int] = set()
        self._snapshot_failing: set[int] = set()
        #: accounts whose lease was lost or could not be renewed: not enforced
        self._lease_lost: set[int] = set()
        #: accounts with a lease renewal queued on the writer thread, not answered yet
        self._lease_pending: set[int] = set()
        #: per account, when (monotonic) the lease last renewed runs out on its own
        self._lease_until: dict[int, float] = {}
        #: intents whose planning failed (alerted once each)
        self._unworkable: set[str] = set()
        self._status_due = False
        self.ready = threading.Event()
        self.stopped = threading.Event()
        #: set by the status server's ``stop`` (and by signals in ``engine run``)
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        #: the newest firings (bounded: the daemon runs all day)
        self.firings: deque[Firing] = deque(maxlen=self.options.firings_kept)
        self.firings_total = 0
        self._recent_firings: dict[int, deque[dict[str, Any]]] = {}
        self._last_firings: dict[tuple[int, str], dict[str, Any]] = {}
        self.hub_states: dict[str, str] = {}
        self.last_reconcile_at: dict[int, datetime] = {}
        self.reconciles = 0
        #: journaled events replayed at restore, per account (the cost of the last restart)
        self.replayed: dict[int, int] = {}
        #: REST records skipped because they could not be read (alerted when first seen)
        self.malformed_records = 0
        self._skipped_before: dict[int, tuple[tuple[str, str], ...]] = {}
        self.events_applied = 0
        self.error: BaseException | None = None
        self.started_at = self.clock.now()
        self.server: StatusServer | None = None
        self.dashboard: DashboardServer | None = None
        #: one reload (or configuration change) at a time
        self.reload_lock = threading.RLock()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Daemon:
        """Serve the status socket, restore, take leases, log in, load contracts, start hubs
        and threads; returns once the engine thread runs (``ready`` is set when every account
        has been reconciled). The socket comes first: a daemon already answering on it is
        the clearest reason not to start (:class:`ServerError`)."""
        self.started_at = self.clock.now()
        if self.options.serve:
            self.server = StatusServer(self, self.options.server).start()
        try:
            if self.config.dashboard is not None:
                from simple_risk.daemon.dashboard import DashboardServer  # aiohttp: only if used

                self.dashboard = DashboardServer(self, self.config.dashboard).start()
            self._start()
        except BaseException:
            if self.dashboard is not None:
                self.dashboard.stop()
            if self.server is not None:
                self.server.stop()
            raise
        return self

    def _start(self) -> None:
        now = self.clock.now()
        self.notifier.start()
        for account in self.config.accounts:
            asked = time.monotonic()
            if self.store.acquire_lease(
                account, self.lease_owner, timedelta(seconds=self.options.lease_ttl), now
            ):
                self._lease_until[account] = asked + self.options.lease_ttl
            else:
                holder = self.store.lease(account)
                raise StoreError(
                    f"account {account} is guarded by another daemon "
                    f"({holder.owner if holder else 'unknown'}); refusing to enforce it twice"
                )
        for line in self.enforcement.load(self.store):
            log.warning("the admin's choice outlives the configuration: %s", line)
        for account in sorted(self.enforcement.observed()):
            log.warning("account %s is OBSERVED: nothing will be sent to the gateway", account)
        self.restore()
        self.writer = StoreWriter(
            self.store,
            self._last_seq,
            retry=self.config.timing.retry_interval,
            on_trouble=lambda level, message: self.alerter.alert(level, message, self.clock.now()),
        )
        self.writer.start()
        self.client.login()
        self.contracts.load_startup(self.config.accounts)
        for account in self.config.accounts:
            self.user_hub.subscribe_account(account)
        self.user_hub.start()
        self.market_hub.start()
        for thread in self._reconcile_threads:
            thread.start()
        self._engine_thread.start()
        self.user_hub.wait_connected(self.options.hub_ready_timeout)
        for account in self.config.accounts:
            self.request_reconcile(account, "startup")

    def _auth_trouble(self, message: str) -> None:
        """The REST client cannot refresh the session and the token expires soon."""
        self.alerter.alert("critical", message, self.clock.now())

    def request_stop(self, reason: str = "") -> None:
        """Ask whoever runs the daemon (``engine run``, a test) to stop it gracefully."""
        self.stop_reason = reason
        self.stop_requested.set()

    def stop(self) -> None:
        """Stop the engine thread (snapshotting every account), the hubs and the workers,
        then the status server (so a client that asked for the stop got its answer)."""
        if self.stopped.is_set():
            return
        self._closing.set()
        if self.server is not None:
            self.server.close_listeners()
        if self.dashboard is not None:
            self.dashboard.stop()
        if self._engine_thread.is_alive():
            self.queue.put(StopRequest(at=self.clock.now()))
            self._engine_thread.join(10.0)
        for work in self._reconcile_work.values():
            work.put(None)
        self._subscriber.shutdown(wait=False, cancel_futures=True)
        # the hubs close in parallel with the rest of the stop: each one's close is bounded
        # by its ``stop_timeout``, and neither waits for the other
        hub_stoppers = [
            threading.Thread(target=hub.stop, name=f"{hub.hub}-hub-close", daemon=True)
            for hub in (self.user_hub, self.market_hub)
        ]
        for thread in hub_stoppers:
            thread.start()
        self.executor.stop()
        if self.writer is not None:
            self.writer.stop()
        self.contracts.close()
        hubs_deadline = time.monotonic() + self.options.hubs.stop_timeout
        for thread in hub_stoppers:
            thread.join(max(hubs_deadline - time.monotonic(), 0.0))
        for account in self.config.accounts:
            try:
                self.store.release_lease(account, self.lease_owner)
            except StoreError as exc:
                log.warning("could not release the lease of %s: %s", account, exc)
        self.client.close()
        self.client.limiter.close()
        self.notifier.stop()
        if self.server is not None:
            self.server.stop()
        self.stopped.set()

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- restore --------------------------------------------------------------------------------

    def restore(self) -> None:
        """Rebuild every account's engine from its latest snapshot and the journal after it
        (the first step of ``start``; the leases must be held)."""
        for account in self.config.accounts:
            self._restore(account)

    def _restore(self, account: int) -> None:
        """The account's engine as the last run left it: its latest snapshot, then the journal
        after the snapshot's position replayed.

        A replayed event's firings were recorded (and their intents stored) when it was first
        applied, so replay records and works only a firing the store does not hold (the daemon
        died between the event's journal write and the firing's). A snapshot written while
        replaying (the lock set changed) records the position of the event just replayed, and
        one more snapshot after the replay covers the whole journal, so the next restart
        replays only what came after it.
        """
        ruleset = self.rulesets[account]
        snapshot = self.store.latest_snapshot(account)
        engine: Engine | None = None
        seq = 0
        if snapshot is not None and isinstance(snapshot.state.get("engine"), dict):
            try:
                engine = Engine.restore(ruleset, snapshot.state["engine"], accounts=[account])
                seq = snapshot.journal_seq or 0
            except Exception as exc:  # a snapshot of another ruleset: rebuild from REST instead
                log.warning("account %s: snapshot not usable (%s); starting fresh", account, exc)
        if engine is None:
            engine = Engine(ruleset, accounts=[account])
        self.engines[account] = engine
        replayed = self.store.events_since(account, seq)
        self._last_seq[account] = seq
        for entry in replayed:
            # replayed as journaled: the account's journal is in engine-time order already,
            # and its stamps are what the store's firings were recorded with
            self._last_seq[account] = entry.seq  # what a snapshot taken now covers
            self._apply_to(account, entry.event, journal=False, replay=True)
            if self._last_at is None or entry.event.at > self._last_at:
                self._last_at = entry.event.at
        self._last_seq[account] = replayed[-1].seq if replayed else self.store.last_seq(account)
        self.replayed[account] = len(replayed)
        if replayed:
            self._snapshot(account)
        self._deadlines[account] = engine.next_deadline()
        for stored in self.store.open_intents(account):
            try:
                intent = intent_from_json(
                    {k: v for k, v in stored.body.items() if k not in ("key", "kind", "would")}
                )
            except (KeyError, TypeError, ValueError) as exc:
                log.error("cannot read stored intent %s: %s", stored.key, exc)
                continue
            self.book.setdefault(stored.key, Tracked(intent, account))
        log.info(
            "account %s restored: %d journaled events replayed, %d open intents, %d lockouts",
            account,
            len(replayed),
            sum(1 for t in self.book.values() if t.account == account),
            len(engine.locks(account)),
        )

    # -- reconciliation -------------------------------------------------------------------------

    def request_reconcile(self, account: int, reason: str) -> None:
        work = self._reconcile_work.get(account)
        if work is None:
            return
        with self._reconcile_lock:
            if account in self._reconcile_wanted:
                return
            self._reconcile_wanted.add(account)
        work.put(reason)

    def _reconcile_loop(self, account: int) -> None:
        """Fetch each requested reconcile of the account. Never dies: an unexpected failure is
        logged with its traceback, alerted, and answered with a failed reconcile (retried
        later), so an account is never left unreconciled (and unenforced) without anyone
        knowing."""
        work = self._reconcile_work[account]
        last = -float("inf")
        while True:
            reason = work.get()
            if reason is None:
                return
            # Coalesce: a burst of gaps, refusals and enforcements costs one reconcile per
            # account per gap; requests made while waiting join this one.
            pause = last + self._reconcile_gap() - time.monotonic()
            if pause > 0 and reason != "startup" and self._closing.wait(pause):
                return  # stopping: the client is closing
            with self._reconcile_lock:
                self._reconcile_wanted.discard(account)
            last = time.monotonic()
            started = self.clock.now()
            try:
                data = self._fetch(account, reason)
            except Exception as exc:
                log.exception("account %s: reconcile (%s) failed unexpectedly", account, reason)
                self.alerter.alert(
                    "critical",
                    f"account {account}: reconcile failed unexpectedly "
                    f"({type(exc).__name__}: {exc}); retrying",
                    self.clock.now(),
                )
                data = ReconcileData(
                    at=self.clock.now(),
                    account=account,
                    started_at=started,
                    reason=reason,
                    error=f"{type(exc).__name__}: {exc}",
                )
            self.queue.put(data)

    def _reconcile_gap(self) -> float:
        """The spacing of one account's reconciles: wider as the REST budget fills, so
        reconciliation gives way to enforcement (which also has slots of its own)."""
        budget = self.client.limiter.budgets[DEFAULT_BUCKET].requests
        used = self.client.limiter.in_window() / budget
        factor = 4.0 if used > 0.75 else 2.0 if used > 0.5 else 1.0
        return self.options.reconcile_gap * factor

    def _fetch(self, account: int, reason: str) -> ReconcileData:
        started = self.clock.now()
        engine = self.engines[account]
        day = engine.calendar.trading_day(started)
        since = engine.calendar.trading_day_start(day)
        light = reason == "periodic"  # positions and orders only: 2 calls of the budget
        skipped: list[tuple[str, str]] = []

        def malformed(kind: str, why: str) -> None:
            skipped.append((kind, why))

        try:
            accounts = [] if light else self.client.search_accounts(only_active=False)
            positions = self.client.open_positions(account, on_malformed=malformed)
            orders = self.client.open_orders(account, on_malformed=malformed)
            trades = (
                [] if light else self.client.search_trades(account, since, on_malformed=malformed)
            )
        except ProjectXError as exc:
            return ReconcileData(
                at=self.clock.now(),
                account=account,
                started_at=started,
                reason=reason,
                error=str(exc),
            )
        mine = next((a for a in accounts if a.account_id == account), None)
        return ReconcileData(
            at=self.clock.now(),
            account=account,
            started_at=started,
            reason=reason,
            account_update=mine,
            positions=tuple(p for p in positions if p.account_id == account),
            orders=tuple(o for o in orders if o.account_id == account),
            trades=tuple(sorted(trades, key=lambda t: (t.created_at or t.at, t.trade_id))),
            skipped=tuple(skipped),
        )

    def _apply_reconcile(self, data: ReconcileData) -> None:
        account = data.account
        if data.error is not None:
            log.warning("account %s: reconcile (%s) failed: %s", account, data.reason, data.error)
            self._after_enforcement[account] = time.monotonic() + self.config.timing.retry_interval
            return
        skipped_kinds = {kind for kind, _ in data.skipped}
        self._report_malformed(data)
        engine = self.engines[account]
        state = engine.account(account)
        last_fact = self._last_fact_at.get(account)
        stale = last_fact is not None and last_fact > data.started_at
        events: list[Event] = []
        if data.account_update is not None:
            events.append(data.account_update)
        events += [trade for trade in data.trades if not _known_fill(state, trade)]
        if not stale and state is not None:
            # A skipped record may be any of the known ones: what REST did not list is only
            # taken as gone when every record of that kind could be read.
            open_orders = {o.order_id for o in data.orders}
            for order in list(state.orders.values()):
                if order.id not in open_orders and "order" not in skipped_kinds:
                    events.append(dataclasses.replace(order.update, status=OrderStatus.CANCELLED))
            events += data.orders
            open_positions = {p.contract_id for p in data.positions}
            for position in list(state.positions.values()):
                if position.contract_id not in open_positions and "position" not in skipped_kinds:
                    events.append(
                        PositionUpdate(
                            at=data.at,
                            account_id=account,
                            contract_id=position.contract_id,
                            type=PositionType.LONG if position.long else PositionType.SHORT,
                            size=0,
                            average_price=position.avg_price,
                        )
                    )
            events += data.positions
        for event in events:
            self._watch_contract(event)
            stamped = self._monotonic(event)
            if isinstance(stamped, OrderUpdate):
                self._claim_own(account, stamped)
            self._apply_to(account, stamped, journal=True)
        self._apply_to(
            account, self._monotonic(Reconciled(at=data.at, account_id=account)), journal=False
        )
        self.reconciles += 1
        self.last_reconcile_at[account] = data.at
        if stale:
            log.info("account %s: hub events arrived during reconcile; reconciling again", account)
            self.request_reconcile(account, "stale")
            return
        if account in self._lease_lost:
            return  # not ours to enforce until the lease is held again
        first = account not in self._live
        self._live.add(account)
        self._after_reconcile(account)
        if first:
            log.info("account %s reconciled and live (%s)", account, data.reason)
        if self._live >= set(self.config.accounts):
            self.ready.set()
        self.write_status()

    def _report_malformed(self, data: ReconcileData) -> None:
        """Records REST sent that could not be read were skipped: count them and say so loudly
        (the rest of the reconcile applies; the daemon cannot see what those records hold).
        The same records skipped again by the next reconciles are counted, not alerted again."""
        self.malformed_records += len(data.skipped)
        seen = self._skipped_before.get(data.account, ())
        self._skipped_before[data.account] = data.skipped
        if not data.skipped or set(data.skipped) <= set(seen):
            return
        kinds = ", ".join(f"{kind}: {why}" for kind, why in data.skipped[:3])
        more = f" (and {len(data.skipped) - 3} more)" if len(data.skipped) > 3 else ""
        self.alerter.alert(
            "critical",
            f"account {data.account}: skipped {len(data.skipped)} malformed REST record(s) "
            f"in the {data.reason} reconcile — {kinds}{more}",
            data.at,
        )

    # -- the engine thread ----------------------------------------------------------------------

    def _monotonic(self, event: Event) -> Event:
        """The event with engine time strictly later than the last applied one.

        Events can reach the queue out of stamp order (a coalesced quote keeps its slot), and
        two firings of one rule and item at the same instant would look like one replayed
        firing to the store, so a late or equal stamp moves to 1 µs after the last one.
        """
        if self._last_at is not None and event.at <= self._last_at:
            event = dataclasses.replace(event, at=self._last_at + timedelta(microseconds=1))
        self._last_at = event.at
        return event

    def _engine_loop(self) -> None:
        try:
            self._next_tick = time.monotonic()
            self._next_periodic = time.monotonic() + self.config.timing.reconcile_interval
            self._next_snapshot = time.monotonic() + self.config.timing.snapshot_interval
            self._next_lease = time.monotonic() + self.options.lease_ttl / 3
            while True:
                wait = max(self._next_wakeup() - time.monotonic(), 0.0)
                try:
                    event = self.queue.get(timeout=wait)
                except queue.Empty:
                    self._on_timer()
                    continue
                if isinstance(event, StopRequest):
                    break
                self._dispatch(event)
                if self._status_due and time.monotonic() >= self._next_status:
                    self._status_due = False
                    self._next_status = time.monotonic() + 0.2
                    self.write_status()
                if time.monotonic() >= self._next_wakeup():
                    self._on_timer()
        except BaseException as exc:  # the daemon must not die silently
            self.error = exc
            log.critical("engine thread failed: %s", exc, exc_info=True)
            self.alerter.alert("critical", f"engine thread failed: {exc}", self.clock.now())
            raise
        finally:
            self._snapshot_all()
            self._refuse_waiting_commands()

    def _next_wakeup(self) -> float:
        now_mono = time.monotonic()
        candidates = [self._next_tick, self._next_periodic, self._next_snapshot, self._next_lease]
        candidates += self._after_enforcement.values()
        if self._status_due:
            candidates.append(self._next_status)
        candidates += [t.due for t in self.book.values() if t.state == "waiting"]
        deadline = min((d for d in self._deadlines.values() if d is not None), default=None)
        if deadline is not None:
            wait = (deadline - self.clock.now()).total_seconds()
            candidates.append(now_mono + max(wait, 0.0))
        return min(candidates)

    def _on_timer(self) -> None:
        now_mono = time.monotonic()
        if self._status_due and now_mono >= self._next_status:
            self._status_due = False
            self._next_status = now_mono + 0.2
            self.write_status()
        now_wall = self.clock.now()
        deadline = min((d for d in self._deadlines.values() if d is not None), default=None)
        due_deadline = deadline is not None and deadline <= now_wall
        if now_mono >= self._next_tick or due_deadline:
            self._next_tick = now_mono + self.config.timing.tick_interval
            self.queue.put(ClockTick(at=now_wall))
        if now_mono >= self._next_periodic:
            self._next_periodic = now_mono + self.config.timing.reconcile_interval
            for account in self.config.accounts:
                self.request_reconcile(account, "periodic")
        for account, due in list(self._after_enforcement.items()):
            if now_mono >= due:
                del self._after_enforcement[account]
                self.request_reconcile(account, "after enforcement")
        for key, tracked in list(self.book.items()):
            if tracked.state == "waiting" and now_mono >= tracked.due:
                self._work(key)
        if now_mono >= self._next_snapshot:
            self._next_snapshot = now_mono + self.config.timing.snapshot_interval
            self._snapshot_all()
        for account, until in list(self._lease_until.items()):
            # a renewal held behind a store outage: the lease ends on its own at ``until``,
            # after which another daemon may take the account; stop short of that
            if account not in self._lease_lost and now_mono >= until - self.options.lease_ttl / 6:
                self._lease_pending.discard(account)
                self._on_lease(
                    LeaseChecked(
                        at=now_wall,
                        account=account,
                        held=False,
                        why="it could not be renewed before it runs out (the store is unavailable)",
                    )
                )
        if self.writer is not None:
            self.writer.watch()
        if now_mono >= self._next_lease:
            for account in self.config.accounts:
                self._renew_lease(account, now_wall)
            # while a lease is lost, try to take it back sooner than a renewal is due
            every = self.options.lease_ttl / 3
            self._next_lease = now_mono + (min(every, 1.0) if self._lease_lost else every)

    def _renew_lease(self, account: int, now: datetime) -> None:
        """Renew the account's lease (take it again when it was lost).

        The store call runs on the writer thread — the engine thread never waits on the
        store — and its answer comes back through the queue (:meth:`_on_lease`); one check
        per account is outstanding at a time.
        """
        if account in self._lease_pending:
            return
        self._lease_pending.add(account)
        ttl = timedelta(seconds=self.options.lease_ttl)
        lost = account in self._lease_lost

        def check(store: Store) -> None:
            # the clock is read when the call runs: held behind a store outage, a renewal
            # stamped with the time it was queued could end at once in the store
            asked = time.monotonic()
            when = self.clock.now()
            try:
                if lost:
                    held = store.acquire_lease(account, self.lease_owner, ttl, when)
                else:
                    held = store.renew_lease(account, self.lease_owner, ttl, when)
                why = "another daemon holds it"
            except StoreUnavailable:
                raise  # held by the writer and tried again; the lease's own end still counts
            except StoreError as exc:
                held, why = False, f"it cannot be renewed: {exc}"
            if held:
                self._lease_until[account] = asked + self.options.lease_ttl
            self.queue.put(LeaseChecked(at=when, account=account, held=held, why=why))

        if self.writer is not None:
            self.writer.call(check)
        else:
            check(self.store)

    def _on_lease(self, check: LeaseChecked) -> None:
        """Engine thread: the answer of a lease renewal.

        A lease that is lost (another daemon holds it) or cannot be renewed (the store fails)
        stops enforcing the account at once — two daemons must never act on one account —
        raises a critical alert and shows in the status; once the lease is held again the
        account is reconciled and enforced again.
        """
        account = check.account
        self._lease_pending.discard(account)
        lost = account in self._lease_lost
        if check.held:
            if lost:
                self._lease_lost.discard(account)
                log.warning("account %s: lease held again; reconciling to enforce", account)
                self.request_reconcile(account, "lease regained")
                self._status_due = True
            return
        if lost:
            return
        self._lease_lost.add(account)
        self._live.discard(account)
        self._status_due = True
        self.alerter.alert(
            "critical",
            f"lost the lease of account {account} ({check.why}): enforcement of it stopped",
            check.at,
        )

    def _dispatch(self, event: Event) -> None:
        self.events_dispatched += 1
        if isinstance(event, EngineCommand):
            self._run_command(event)
            return
        if isinstance(event, IntentResult):
            self._on_result(event)
            return
        if isinstance(event, ReconcileData):
            self._apply_reconcile(event)
            return
        if isinstance(event, SnapshotFailed):
            self._dirty.add(event.account)  # the next snapshot tries again
            return
        if isinstance(event, LeaseChecked):
            self._on_lease(event)
            return
        if isinstance(event, ConnectionChanged):
            self.hub_states[event.hub] = event.state
            self.observer.on_event(event)
            self._announce(event)
            if event.gap:
                for account in self.config.accounts:
                    self.request_reconcile(account, f"{event.hub} hub gap")
            return
        event = self._monotonic(event)
        if isinstance(event, OwnOrder):
            if event.account_id in self.engines:
                self._apply_to(event.account_id, event, journal=True)
            return
        if isinstance(event, FACT_EVENTS):
            account = event.account_id
            if account not in self.engines:
                return
            self._last_fact_at[account] = event.at
            self._watch_contract(event)
            self.observer.on_event(event)
            self._announce(event)
            self._catch_up_quote(account, event)
            if isinstance(event, OrderUpdate):
                self._claim_own(account, event)
            self._apply_to(account, event, journal=True)
            return
        if isinstance(event, Quote):
            self.observer.on_event(event)
            self._latest_quote[event.contract_id] = event
            for account, engine in self.engines.items():
                if _exposed(engine.account(account), event.contract_id):
                    self._apply_to(account, event, journal=False)
                else:
                    self._stale_quotes.setdefault(account, set()).add(event.contract_id)
            return
        if isinstance(event, ContractLoaded | ClockTick):
            for account in self.engines:
                self._apply_to(account, event, journal=False)

    def _claim_own(self, account: int, update: OrderUpdate) -> None:
        """An order carrying this installation's tag is one the daemon placed, even when the
        record of placing it was lost (a crash before the executor's answer was journaled):
        recorded (and journaled) as the daemon's before the update applies. Any other tag,
        whatever its prefix, claims nothing."""
        state = self.engines[account].account(account)
        if state is None or update.order_id in state.own_ids:
            return
        tag = update.custom_tag
        if tag is None or not self.own_tags.verify(account, tag):
            return
        own = OwnOrder(
            at=update.at,
            account_id=account,
            custom_tag=tag,
            order_id=update.order_id,
            size=update.size,  # as first seen: the record of the size placed is lost too
        )
        self._apply_to(account, own, journal=True)

    def _tagged(self, account: int, call: RestRequest) -> RestRequest:
        """An ``Order/place`` of the daemon's with a fresh tag of its own."""
        if call.endpoint is not Endpoint.ORDER_PLACE or call.body.get("customTag"):
            return call
        return RestRequest(
            call.endpoint, {**call.body, "customTag": self.own_tags.new_tag(account)}
        )

    def _catch_up_quote(self, account: int, event: Event) -> None:
        """Quotes reach only the engines exposed to the contract (measured: applying every
        quote to every account's engine was most of the engine thread's time with 20
        accounts). Before an account's first order or position in a contract, its engine
        gets the latest quote it skipped, so unrealized P&L is known at once."""
        contract_id = getattr(event, "contract_id", None)
        stale = self._stale_quotes.get(account)
        if not stale or not isinstance(contract_id, str) or contract_id not in stale:
            return
        stale.discard(contract_id)
        quote = self._latest_quote.get(contract_id)
        if quote is not None:
            self._apply_to(account, self._monotonic(quote), journal=False)

    def _watch_contract(self, event: Event) -> None:
        contract_id = getattr(event, "contract_id", None)
        if isinstance(contract_id, str) and contract_id not in self._quoted:
            self._quoted.add(contract_id)
            # a hub invoke writes to a socket: never on the engine thread
            try:
                self._subscriber.submit(self._subscribe_quotes, contract_id)
            except RuntimeError:  # stopping: the subscriber thread is gone, and so are the hubs
                log.debug("not subscribing to %s: the daemon is stopping", contract_id)
            self.contracts.request(contract_id)

    def _subscribe_quotes(self, contract_id: str) -> None:
        """The subscriber thread: ask the market hub for a contract's quotes and trades."""
        try:
            self.market_hub.subscribe_quotes(contract_id)
        except Exception:  # the hub re-sends every subscription when it reconnects
            log.exception("could not subscribe to the quotes of %s", contract_id)

    def _apply_to(self, account: int, event: Event, *, journal: bool, replay: bool = False) -> None:
        """Apply one event to the account's engine; record and work its firings (on a journal
        ``replay``, only those the store does not hold already: see :meth:`_record`)."""
        engine = self.engines[account]
        if journal and self.options.journal and isinstance(event, JOURNALED):
            assert self.writer is not None
            self.writer.journal(account, event)
        try:
            firings = engine.apply(event)
        except Exception as exc:  # fail safe: report, keep running
            log.exception("engine failed on %s", type(event).__name__)
            self.alerter.alert(
                "critical", f"engine error on {type(event).__name__}: {exc}", event.at
            )
            return
        self.events_applied += 1
        self._deadlines[account] = engine.next_deadline()
        if isinstance(event, (*FACT_EVENTS, ContractLoaded)):
            self._dirty.add(account)
        if firings:
            # queued for the writer first (a firing's record opens the intents whose states
            # the executor's bookkeeping then writes), but nothing here waits for the store
            firings = [firing for firing in firings if self._record(firing, replay=replay)]
        self._work_firings(firings)  # act first: the rest is bookkeeping
        if not replay:
            for firing in firings:
                self._tell_firing(firing)
        if firings and self._locks_changed(account):
            # A lockout set by a clock tick is not in the journal (ticks are not journaled):
            # it survives a restart in this snapshot (or, lost in a crash before the writer
            # saved it, is derived again by the restart's ticks). Other firings are
            # reproduced by replaying the journaled event after the last snapshot.
            self._snapshot(account)
        if firings:
            self._dirty.add(account)
            self._status_due = True
        if not isinstance(event, Quote) or firings:
            self._confirm(account)

    # -- firings and intents --------------------------------------------------------------------

    def _work_firings(self, firings: list[Firing]) -> None:
        """Start every intent of every firing. One that cannot be started (a bug, a store or
        planning error) is alerted and the others still start: a failing action never stops
        the firing's other actions."""
        for firing in firings:
            for intent in firing.intents:
                try:
                    self._add_intent(intent, firing)
                except Exception as exc:
                    log.exception("could not start %s of %s", intent.key, firing.rule_id)
                    self.alerter.alert(
                        "critical",
                        f"account {firing.account}: {firing.rule_id} could not start "
                        f"{type(intent).__name__} ({type(exc).__name__}: {exc}); "
                        "its other actions go on",
                        firing.at,
                    )

    def _record(self, firing: Firing, *, replay: bool = False) -> bool:
        """Queue the firing with its lockouts and intents for the writer thread (the caller
        tells the log, ``monitor`` and the observer once its intents are started). Returns
        whether it is to be worked.

        On a journal ``replay`` (before the writer runs) the firing is committed here: one the
        store already holds (same rule, account, item and time: replayed events keep their
        journaled stamps) was worked when it was new, so it is neither told nor worked again;
        one the store lacks — the daemon died before the writer recorded it — is recorded,
        told and worked now.
        """
        engine = self.engines[firing.account]
        locks = []
        for notice in firing.locks:
            entry: dict[str, Any] = {
                "scope": notice.scope,
                "reason": notice.reason or firing.rule_id,
                "start": firing.at,
            }
            if notice.scope == "symbol":
                entry["symbol"] = notice.symbol
            if notice.ends_at is not None:
                if notice.ends_at <= firing.at:
                    continue
                entry["end"] = notice.ends_at
            else:
                source = next(
                    (
                        lock.while_expr.source
                        for lock in engine.locks(firing.account)
                        if lock.rule == firing.rule_id and lock.while_expr is not None
                    ),
                    "while condition",
                )
                entry["while"] = source
            locks.append(entry)
        intents = [
            {"key": intent.key, "kind": type(intent).__name__, **intent_to_json(intent)}
            for intent in firing.intents
            if not isinstance(intent, Alert)
        ]
        if self.enforcement.observing(firing.account):
            state = engine.account(firing.account)
            for body, intent in zip(
                intents, (i for i in firing.intents if not isinstance(i, Alert)), strict=True
            ):
                body["would"] = would_words(plan(intent, state), state)
        values = {
            name: value if isinstance(value, str | int | bool | type(None)) else str(value)
            for name, value in firing.values.items()
        }
        record: dict[str, Any] = {
            "rule": firing.rule_id,
            "account": firing.account,
            "at": firing.at,
            "severity": firing.severity,
            "message": firing.message,
            "item": firing.item or None,
            "values": values,
        }
        if self.writer is not None and not replay:
            # act first: the writer commits it after the event that caused it (and after the
            # intent states queued before it), while the executor already works its intents
            self.writer.call(lambda store: self._commit_firing(store, record, locks, intents))
            return True
        created = self._commit_firing(self.store, record, locks, intents)
        if replay and created:
            self._tell_firing(firing)
        return created or not replay

    def _commit_firing(
        self,
        store: Store,
        record: dict[str, Any],
        locks: list[dict[str, Any]],
        intents: list[dict[str, Any]],
    ) -> bool:
        """Commit one firing; returns whether it was new. A store failure is alerted, never
        raised: the enforcement it records goes on from memory."""
        try:
            return store.record_firing(record, locks, intents).created
        except StoreUnavailable:
            raise  # the writer holds it and records it once the store is back
        except StoreError as exc:
            rule = record["rule"]
            log.error("could not record firing %s: %s (enforcing anyway)", rule, exc)
            self.alerter.alert(
                "critical", f"store failed while recording a firing: {exc}", record["at"]
            )
            return True

    def _tell_firing(self, firing: Firing) -> None:
        self.firings.append(firing)
        self.firings_total += 1
        self._remember_firing(firing)
        log.warning(
            "FIRING %s account=%s %s: %s",
            firing.rule_id,
            firing.account,
            firing.item,
            firing.message,
        )
        self.observer.on_firing(firing)

    def _add_intent(self, intent: Intent, firing: Firing) -> None:
        if isinstance(intent, Alert):
            self.alerter.alert(intent.level, intent.message, firing.at)
            return
        if intent.key in self.book:
            return  # in flight or awaiting: never sent twice
        self.book[intent.key] = Tracked(intent, firing.account)
        self._work(intent.key)

    def _work(self, key: str) -> None:
        """Plan the intent from the facts now and hand its calls to the executor. An intent
        that cannot be worked (a planning bug) is alerted once, its firing's other intents
        go on, and it is tried again later: it never stops the engine thread."""
        try:
            self._send(key)
        except Exception as exc:
            tracked = self.book.get(key)
            if tracked is None:
                return
            tracked.state = "waiting"
            tracked.due = time.monotonic() + self.config.timing.retry_interval * 4
            if key in self._unworkable:
                log.debug("intent %s still cannot be worked: %s", key, exc)
            else:
                log.exception("could not work intent %s", key)
                self._unworkable.add(key)
                self.alerter.alert(
                    "critical",
                    f"account {tracked.account}: could not start "
                    f"{type(tracked.intent).__name__} ({type(exc).__name__}: {exc}); "
                    "the firing's other actions go on, this one is retried",
                    self.clock.now(),
                )

    def _send(self, key: str) -> None:
        tracked = self.book[key]
        account = tracked.account
        if account not in self._live:
            tracked.state, tracked.due = (
                "waiting",
                time.monotonic() + self.config.timing.retry_interval,
            )
            return
        planned = plan(tracked.intent, self.engines[account].account(account))
        if not planned:
            self._finish(key, "done")
            return
        if self.enforcement.observing(account):
            self._observe(key, tracked, planned)
            return
        calls = [self._tagged(account, call) for call in planned]
        touched = frozenset(
            str(call.body["contractId"])
            for call in calls
            if call.endpoint in _POSITION_CALLS and "contractId" in call.body
        )
        busy = any(
            other.account == account
            and other.state != "waiting"
            and other is not tracked
            and other.contracts & touched
            for other in self.book.values()
        )
        if busy:
            # Another intent is reducing the same position and its effect is not visible yet:
            # planning now from facts that do not show it would reduce twice. Plan again once
            # that one is confirmed (or after the post-enforcement reconcile).
            tracked.state, tracked.due = (
                "waiting",
                time.monotonic() + self.config.timing.retry_interval,
            )
            return
        tracked.contracts = touched
        started_at = self.clock.now()
        self._store_call(lambda store: store.intent_started(key, started_at))
        tracked.state = "in_flight"
        tracked.sends += 1
        log.info("enforcing %s: %s", key, ", ".join(describe_call(c) for c in calls))
        self.executor.submit(account, key, calls, priority_of(tracked.intent))

    def _observe(self, key: str, tracked: Tracked, calls: list[RestRequest]) -> None:
        """Observe mode's gate: the calls enforcing would send are said, never sent. The
        intent stays open (``observed``) until its target is met or enforcement is turned on,
        and is said once."""
        tracked.state, tracked.due = "observed", math.inf
        account = tracked.account
        rule = self._rule_of(key, account)
        why = f" ({rule})" if rule else ""
        for call, words in zip(
            calls, would_words(calls, self.engines[account].account(account)), strict=True
        ):
            log.warning("OBSERVE account %s: would %s%s (not sent)", account, words, why)
            self.observer.on_call(account, describe_call(call), "observed")
            if self.monitor.active:
                self.monitor.publish(
                    "call",
                    {
                        "at": self.clock.now(),
                        "account": account,
                        "severity": "warning",
                        "text": f"Would {words}{why} — observe mode, not sent",
                        "data": {
                            "call": describe_call(call),
                            "outcome": "observed",
                            "would": words,
                            "rule": rule,
                            "key": key,
                        },
                    },
                )

    def set_enforcement(self, account: int, enforce: bool, source: str) -> Choice:
        """Engine thread only: enforce the account from now on, or only observe it; returns
        the previous choice. Turning enforcement on reconciles the account first, then works
        every intent it holds open (a breach still standing is enforced)."""
        before = self.enforcement.choose(account, enforce, source)
        if enforce:
            for tracked in self.book.values():
                if tracked.account == account and tracked.state == "observed":
                    tracked.state = "awaiting"  # re-planned after the reconcile
            self.request_reconcile(account, "enforcement on")
        self._status_due = True
        return before

    def _on_result(self, result: IntentResult) -> None:
        self.observer.on_result(result)
        self._announce_result(result)
        tracked = self.book.get(result.key)
        if tracked is None:
            return
        timing = self.config.timing
        self._after_enforcement.setdefault(
            result.account, time.monotonic() + timing.reconcile_after_enforcement
        )
        if result.outcome == "done":
            tracked.state = "awaiting"
            self._confirm(result.account)
            return
        tracked.failures += 1
        if result.outcome == "gave_up":
            # A refusal is final for that request, but it was planned from facts that may be
            # a few milliseconds old (an order that just filled cannot be cancelled): re-plan
            # from REST now, and alert when the refusal persists after that.
            tracked.state = "awaiting"
            self.request_reconcile(result.account, "enforcement refused")
        else:
            # short and capped: each attempt is already bounded by the enforcement deadline,
            # and exposure is open while it waits
            backoff = timing.retry_interval * min(2 ** (tracked.failures - 1), 4)
            tracked.state, tracked.due = "waiting", time.monotonic() + backoff
        if (result.outcome == "gave_up" and tracked.failures >= 2) or (
            tracked.failures >= timing.alert_after_attempts
        ):
            self.alerter.alert(
                "critical",
                f"enforcement of {result.key} failed {tracked.failures} time(s): {result.error}; "
                "still trying",
                result.at,
            )

    def _confirm(self, account: int) -> None:
        """Finish every tracked intent of the account whose target the facts now show."""
        state = self.engines[account].account(account)
        if state is None:
            return
        for key, tracked in list(self.book.items()):
            waiting = tracked.account == account and tracked.state != "in_flight"
            if waiting and is_met(tracked.intent, state):
                self._finish(key, "done")

    def _after_reconcile(self, account: int) -> None:
        """The facts are authoritative now: re-plan what is still unmet and not in flight."""
        for key, tracked in list(self.book.items()):
            if tracked.account != account or tracked.state == "in_flight":
                continue
            if tracked.state == "awaiting" or time.monotonic() >= tracked.due:
                self._work(key)

    def _finish(self, key: str, state: str) -> None:
        self.book.pop(key, None)
        self._unworkable.discard(key)
        self._status_due = True
        final: Literal["done", "gave_up"] = "done" if state == "done" else "gave_up"
        finished_at = self.clock.now()
        self._store_call(lambda store: store.intent_finished(key, finished_at, final))

    def _store_call(self, operation: Callable[[Store], object]) -> None:
        """An intent bookkeeping write, in order on the writer thread (never blocks; called
        from the engine thread and the executor workers)."""
        if self.writer is not None:
            self.writer.call(operation)
            return
        try:
            operation(self.store)
        except StoreError as exc:
            log.debug("store call failed: %s", exc)

    # -- what the trader is told (monitor, webhook) ---------------------------------------------

    def _remember_firing(self, firing: Firing) -> None:
        """Keep the firing for ``status``/``explain`` and tell ``monitor`` and the webhook.

        Bounded: the last :data:`RECENT_FIRINGS` per account and the last one per (account,
        rule)."""
        engine = self.engines.get(firing.account)
        zone = engine.calendar.tz if engine is not None else None
        text = firing_text(firing, zone)
        if self.enforcement.observing(firing.account):
            text = f"OBSERVE (not enforced): {text}"
        record = firing_record(firing, text)
        recent = self._recent_firings.get(firing.account)
        if recent is None:
            recent = self._recent_firings[firing.account] = deque(maxlen=RECENT_FIRINGS)
        recent.append(record)
        if firing.kind != "lockout":  # a lockout refusing exposure is not the rule's evaluation
            self._last_firings[(firing.account, firing.rule_id)] = record
        if self.monitor.active:
            self.monitor.publish(
                "firing",
                {
                    "at": firing.at,
                    "account": firing.account,
                    "severity": firing.severity,
                    "text": text,
                    "data": record,
                },
            )
        self.notifier.post(firing.severity, text)

    def _announce(self, event: Event) -> None:
        """A fact event on ``monitor`` (quotes are never streamed)."""
        if not self.monitor.active:
            return
        text = event_text(event)
        if text is None:
            return
        try:
            data: dict[str, Any] = dict(event_to_json(event))
        except CodecError:
            data = {"kind": type(event).__name__}
        self.monitor.publish(
            "event",
            {
                "at": event.at,
                "account": getattr(event, "account_id", None),
                "severity": "info",
                "text": text,
                "data": data,
            },
        )

    def _announce_result(self, result: IntentResult) -> None:
        tracked = self.book.get(result.key)
        rule = self._rule_of(result.key, result.account) if tracked is not None else None
        text = result_text(result, rule)
        severity = result_severity(result)
        if self.monitor.active:
            self.monitor.publish(
                "result",
                {
                    "at": result.at,
                    "account": result.account,
                    "severity": severity,
                    "text": text,
                    "data": {
                        "key": result.key,
                        "outcome": result.outcome,
                        "calls": list(result.calls),
                        "error": result.error,
                        "rule": rule,
                    },
                },
            )
        self.notifier.post(severity, text)

    def _rule_of(self, key: str, account: int) -> str | None:
        for record in reversed(self._recent_firings.get(account, ())):
            if key in record["intent_keys"]:
                return str(record["rule"])
        return None

    def _on_call(self, account: int, call: str, outcome: str) -> None:
        """An executor worker made a REST call (runs on that worker's thread)."""
        self.observer.on_call(account, call, outcome)
        if self.monitor.active:
            ok = call_succeeded(outcome)
            self.monitor.publish(
                "call",
                {
                    "at": self.clock.now(),
                    "account": account,
                    "severity": "info" if ok else "warning",
                    "text": f"Call: {call} → {call_words(outcome)}",
                    "data": {"call": call, "outcome": outcome},
                },
            )

    def announce_admin(
        self, text: str, data: Mapping[str, Any], account: int | None = None
    ) -> None:
        """An admin action (a reload, a lockout cleared) on ``monitor`` and the webhook."""
        if self.monitor.active:
            self.monitor.publish(
                "admin",
                {
                    "at": self.clock.now(),
                    "account": account,
                    "severity": "warning",
                    "text": text,
                    "data": dict(data),
                },
            )
        self.notifier.post("warning", text)

    # -- the status server's access to the engine thread ----------------------------------------

    def on_engine(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``fn`` on the engine thread between two events and return its result.

        Raises ProtocolError ``unavailable`` when the engine thread is not running or does not
        get to it within ``timeout`` seconds (the command is then skipped, not run late).
        """
        wait = self.options.server.engine_timeout if timeout is None else timeout
        if not self._engine_thread.is_alive():
            raise ProtocolError(
                ErrorCode.UNAVAILABLE.value,
                "the engine is not running (starting or stopping)",
            )
        future: Future[object] = Future()
        self.queue.put(EngineCommand(at=self.clock.now(), fn=fn, future=future))
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
                event = self.queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, EngineCommand) and event.future.set_running_or_notify_cancel():
                event.future.set_exception(
                    ProtocolError(ErrorCode.UNAVAILABLE.value, "the daemon is stopping")
                )

    def store_health(self) -> dict[str, Any]:
        """The store as the writer sees it: ``ok``, ``unavailable`` (writes held) or
        ``stuck`` (a call that does not return); see :meth:`StoreWriter.health`."""
        return self.writer.health() if self.writer is not None else {"state": "ok"}

    def live_accounts(self) -> frozenset[int]:
        return frozenset(self._live)

    def lease_lost_accounts(self) -> frozenset[int]:
        """Accounts not enforced because their lease was lost or could not be renewed."""
        return frozenset(self._lease_lost)

    def recent_firings(self, account: int) -> list[dict[str, Any]]:
        return list(self._recent_firings.get(account, ()))

    def last_firing(self, account: int, rule: str) -> dict[str, Any] | None:
        return self._last_firings.get((account, rule))

    def ruleset_name(self) -> str:
        names = sorted({ruleset.name for ruleset in self.rulesets.values()})
        return ", ".join(names)

    def swap_rulesets(self, rulesets: Mapping[int, Ruleset]) -> dict[int, RulesetChanges]:
        """Engine thread only: replace every account's ruleset between two events.

        Refuses (ProtocolError ``refused``, nothing swapped) when an enabled ``mandatory``
        rule would be removed or disabled for any account. Otherwise each account's engine is
        rebuilt with :func:`reload_engine` (facts, lockouts, intents and the timers of
        unchanged rules kept), ``Reconciled`` is applied so every rule is evaluated at once
        (a lowered limit is enforced now; its firings are recorded like any other), and the
        account is snapshotted so a restart comes back with the new state.
        """
        problems: list[dict[str, Any]] = []
        for account, ruleset in sorted(rulesets.items()):
            current = self.rulesets.get(account)
            if current is None:
                continue
            for message in mandatory_violations(current, ruleset):
                problems.append(
                    {
                        "file": str(ruleset.location.file),
                        "line": 0,
                        "column": 0,
                        "rule": None,
                        "message": f"account {account}: {message}",
                        "hint": "a mandatory rule stays enabled; edit it instead",
                        "check": "mandatory",
                    }
                )
        if problems:
            raise ProtocolError(
                ErrorCode.REFUSED.value,
                "the new ruleset would disable a mandatory rule",
                problems=tuple(problems),
            )
        changes: dict[int, RulesetChanges] = {}
        for account, ruleset in sorted(rulesets.items()):
            if account not in self.engines:
                continue
            fresh, changed = reload_engine(self.engines[account], ruleset)
            self.engines[account] = fresh
            self.rulesets[account] = ruleset
            changes[account] = changed
            self._lock_marks.pop(account, None)
            self._locks_changed(account)
            reconciled = Reconciled(at=self.clock.now(), account_id=account)
            self._apply_to(account, self._monotonic(reconciled), journal=False)
            self._deadlines[account] = fresh.next_deadline()
            self._snapshot(account, durable=True)
        self._status_due = True
        return changes

    def clear_lockouts(
        self, account: int, scope: str, symbol: str | None, who: str, why: str
    ) -> list[Lock]:
        """Engine thread only: end the account's lockouts now, in the engine and in the store
        (each cleared lockout audited with who and why), and snapshot the account so the
        clear survives a restart."""
        engine = self.engines[account]
        cleared = clear_locks(engine, account, scope, symbol)
        now = self.clock.now()
        if cleared:
            self._deadlines[account] = engine.next_deadline()
            self._locks_changed(account)
            self._dirty.add(account)
            self._snapshot(account, durable=True)
            self._status_due = True
        try:
            rows = self.store.active_lockouts(now, account)
        except StoreError as exc:
            log.error("cannot read the stored lockouts of %s: %s", account, exc)
            rows = []
        for lock in cleared:
            matching = [
                row
                for row in rows
                if row.rule == lock.rule
                and row.scope == lock.scope
                and (row.symbol or None) == (lock.symbol or None)
            ]
            try:
                for row in matching:
                    self.store.clear_lockout(row.id, now=now, by=who, why=why)
                if not matching:
                    self.store.record_admin_action(
                        at=now,
                        who=who,
                        action="clear_lockout",
                        why=why,
                        result="cleared (no stored row)",
                        account=account,
                        args={"rule": lock.rule, "scope": lock.scope, "symbol": lock.symbol},
                    )
            except StoreError as exc:
                log.error("could not record the clear of %s: %s", lock.rule, exc)
        return cleared

    # -- snapshots and status -------------------------------------------------------------------

    def _locks_changed(self, account: int) -> bool:
        marks = tuple(
            sorted(
                (lock.rule, lock.scope, lock.symbol, str(lock.ends_at))
                for lock in self.engines[account].locks(account)
            )
        )
        changed = self._lock_marks.get(account) != marks
        self._lock_marks[account] = marks
        return changed

    def _snapshot(self, account: int, *, durable: bool = False) -> None:
        """Save the account's engine state and the journal position it covers.

        The state is taken now, on the engine thread; the writer thread saves it after every
        journal event queued before it, so the position it records is exactly the events the
        state has seen. ``durable`` waits for the save (admin commands answer only once their
        change survives a restart); enforcement never waits."""
        engine = self.engines[account]
        at = engine.now or self.clock.now()
        state = {"engine": engine.snapshot()}
        self._dirty.discard(account)
        writer = self.writer
        if writer is None:  # restore, before the writer runs
            if not self._save_snapshot(self.store, account, at, state, None):
                self._dirty.add(account)
            return
        fallback = self._last_seq.get(account)

        def save(store: Store) -> None:
            seq = writer.last_seq.get(account, fallback)
            if not self._save_snapshot(store, account, at, state, seq):
                self.queue.put(SnapshotFailed(at=at, account=account))

        writer.call(save, key=f"snapshot:{account}")
        if durable:
            writer.flush()

    def _save_snapshot(
        self, store: Store, account: int, at: datetime, state: dict[str, Any], seq: int | None
    ) -> bool:
        """Save one snapshot; returns whether it was saved. Runs on the writer thread once it
        runs (before that, at restore, on the engine thread): whoever saves snapshots is
        the only one that touches ``_snapshot_failing``."""
        if seq is None:
            seq = self._last_seq.get(account)
        try:
            store.save_snapshot(account, at, state, seq)
            self._snapshots += 1
            if self._snapshots % 20 == 0:
                store.prune_snapshots(account, keep=3)
        except StoreUnavailable:
            if self.writer is not None:
                raise  # held in order behind the journal it covers; saved once the store is back
            return False
        except StoreError as exc:
            # A restart would come back without what changed since the last good snapshot
            # (a lockout a clock tick set is in no journal): say so loudly, once per outage;
            # the engine thread keeps the account dirty so the next snapshot tries again.
            log.error("snapshot of account %s failed: %s", account, exc)
            if account not in self._snapshot_failing:
                self._snapshot_failing.add(account)
                self.alerter.alert(
                    "critical",
                    f"account {account}: the engine snapshot could not be saved ({exc}); "
                    "a restart now would lose state since the last one",
                    self.clock.now(),
                )
            return False
        if account in self._snapshot_failing:
            self._snapshot_failing.discard(account)
            log.warning("account %s: snapshots are saved again", account)
        return True

    def _snapshot_all(self) -> None:
        for account in list(self._dirty):
            self._snapshot(account)
        self.write_status()

    def write_status(self) -> None:
        """Write ``status.json`` in the data directory atomically (engine thread only).

        ``engine status`` and the crash test read it; it never holds a secret.
        """
        path = self.config.data_dir / "status.json"
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(self.status(), indent=1), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)

    def status(self) -> dict[str, object]:
        """A plain summary (for ``engine status`` and the demo's table); read on any thread."""
        accounts: dict[str, object] = {}
        for account, engine in self.engines.items():
            facts = engine.facts(account)
            day = facts.get("day")
            accounts[str(account)] = {
                "mode": self.enforcement.choice(account).mode,
                "live": account in self._live,
                "lease": "lost" if account in self._lease_lost else "held",
                "realized_pnl": str(getattr(day, "realized_pnl", "")),
                "locks": [
                    {
                        "rule": lock.rule,
                        "scope": lock.scope,
                        "symbol": lock.symbol,
                        "ends_at": lock.ends_at.isoformat() if lock.ends_at else None,
                    }
                    for lock in engine.locks(account)
                ],
            }
        return {
            "pid": os.getpid(),
            "written_at": self.clock.now().isoformat(),
            "accounts": accounts,
            "queue_depth": self.queue.depth(),
            "queue_max_depth": self.queue.max_depth,
            "quotes_coalesced": self.queue.coalesced,
            "events_applied": self.events_applied,
            "events_dispatched": self.events_dispatched,
            "firings": self.firings_total,
            "intents_open": len(self.book),
            "reconciles": self.reconciles,
            "malformed_records": self.malformed_records,
            "store": self.store_health(),
            "alerts": list(self.alerter.recent),
        }


def _exposed(state: AccountState | None, contract_id: str) -> bool:
    """The account holds a position or a working order in the contract."""
    return state is not None and (
        contract_id in state.positions or bool(state.orders_by_contract.get(contract_id))
    )


def _known_fill(state: AccountState | None, fill: TradeFill) -> bool:
    """The engine already holds this fill with the same content, or a copy that only lacks
    commissions it knows (reconcile skips it, so a reconcile costs what changed, not the whole
    day's fills)."""
    if state is None:
        return False
    record = state.ledger.fills.get(fill.trade_id)
    if record is None:
        return False
    return adds_nothing(fill, record.fill)


def open_store(config: DaemonConfig) -> Store:
    """The configured store (creating the data directory for the default SQLite file)."""
    if config.database.startswith("sqlite:///"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
    return Store.open(config.database)


__all__ = [
    "Alerter",
    "Daemon",
    "EngineCommand",
    "Observer",
    "QuietObserver",
    "ReconcileData",
    "RuntimeOptions",
    "StopRequest",
    "Tracked",
    "open_store",
]
