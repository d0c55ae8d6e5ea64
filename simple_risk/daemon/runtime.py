"""The daemon: builds the runtime's parts, wires them together and starts and stops them.

Each part has one job and a module of its own (docs/architecture.md §6):

* :mod:`~simple_risk.daemon.intake` — the hubs and the contract cache put events on the
  queue; quote subscriptions and routing;
* :mod:`~simple_risk.daemon.engineloop` — the engine thread, the queue's only consumer:
  dispatch, timers, the status server's commands; :mod:`~simple_risk.daemon.apply` applies
  an event to an account's engine and does what follows at once;
* :mod:`~simple_risk.daemon.reconcile` — one REST reconcile worker per account;
* :mod:`~simple_risk.daemon.enforcement` — the intent book and the executor hand-off;
* :mod:`~simple_risk.daemon.persistence` — journal, firing records, snapshots, restore;
* :mod:`~simple_risk.daemon.ownership` — the account leases;
* :mod:`~simple_risk.daemon.announce` — alerts, firings, results, ``status.json``;
* :mod:`~simple_risk.daemon.changes` — reloads and lockout clears;
* :mod:`~simple_risk.daemon.supervisor` — runs every thread above: a failure is logged,
  alerted and the part restarted; a part that keeps failing is DEGRADED in the status.

Startup (``start``): take the account leases, restore each engine from its latest snapshot and
replay the journal after it, log in, load contracts, start the hubs, then reconcile every
account from REST and apply ``Reconciled``, which evaluates every rule, so a limit already
breached is enforced at once. Intents are worked only for accounts that have been reconciled.
The status server (:mod:`~simple_risk.daemon.control`) reaches the daemon only through
:class:`~simple_risk.daemon.control.target.ControlTarget`, which this class implements.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.ratelimit import (
    BARS_BUCKET,
    DEFAULT_BUDGETS,
    DEFAULT_RESERVE,
    RateLimiter,
)
from simple_risk.adapters.topstepx.rest import Credentials, RestClient
from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.adapters.topstepx.wirefields import UNKNOWN_VALUES
from simple_risk.daemon.announce import (
    ALERT_SHOWN_FOR,
    Alerter,
    Announcer,
    Observer,
    QuietObserver,
    StatusFile,
)
from simple_risk.daemon.apply import Applier
from simple_risk.daemon.barquotes import BarsWorker, capacity
from simple_risk.daemon.changes import EngineChanges
from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.context import RuntimeOptions, Shared
from simple_risk.daemon.control import views
from simple_risk.daemon.control.server import Broadcaster, ListenerUnavailable, StatusServer
from simple_risk.daemon.enforcement import Enforcer, Tracked
from simple_risk.daemon.engineloop import EngineLoop
from simple_risk.daemon.executor import Executor
from simple_risk.daemon.filemodes import open_to_others
from simple_risk.daemon.intake import Intake
from simple_risk.daemon.messages import EngineCommand, ReconcileData, StopRequest
from simple_risk.daemon.notifications import Notifications
from simple_risk.daemon.observe import Choice, Enforcement
from simple_risk.daemon.ownership import Ownership
from simple_risk.daemon.owntags import OwnTags
from simple_risk.daemon.persistence import Persistence
from simple_risk.daemon.queue import EventQueue
from simple_risk.daemon.reconcile import Reconciler
from simple_risk.daemon.supervisor import Supervisor
from simple_risk.engine import Engine, Firing
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import Ruleset
from simple_risk.engine.operations import RulesetChanges
from simple_risk.store import Store, StoreError

if TYPE_CHECKING:
    from simple_risk.daemon.dashboard import DashboardServer

log = logging.getLogger(__name__)
T = TypeVar("T")


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
            on_gateway_trouble=self._gateway_trouble,
        )
        #: the tags of the orders the daemon places (protective stops): lockouts let only
        #: those pass, so they carry a secret part nobody else can make
        self.own_tags = OwnTags.load(config.data_dir)
        self.clock = self.client.clock
        self.monitor = Broadcaster()
        webhook = config.notify.webhook or config.alert_webhook
        for url in (webhook, *config.notify.urls):
            register_secret(url)  # a chat webhook or bot URL carries its own token
        self.notifier = Notifications(
            webhook,
            config.notify.min_severity,
            urls=config.notify.urls,
            spawn=self._spawn_service,
            on_trouble=lambda level, text: self.alerter.alert(level, text, self.clock.now()),
            # the exchange's zone, as the pushes' own times (the first account's calendar)
            zone=next((ZoneInfo(r.calendar.timezone) for r in rulesets.values()), None),
        )
        self.alerter = Alerter(
            self.notifier, self.observer, self.monitor, several=len(config.accounts) > 1
        )
        #: which accounts are only observed (nothing sent: :mod:`simple_risk.daemon.observe`)
        self.enforcement = (
            Enforcement(config.accounts, config.accounts, source="engine run --observe")
            if self.options.observe
            else Enforcement(config.accounts, config.observed)
        )
        shared = self._shared = Shared(
            config=config,
            options=self.options,
            store=store,
            queue=self.queue,
            clock=self.clock,
            alerter=self.alerter,
            observer=self.observer,
            enforcement=self.enforcement,
            own_tags=self.own_tags,
            rulesets=dict(rulesets),
        )
        self.error: BaseException | None = None
        #: listeners that could not be started (a port taken), said at start
        self._unavailable: list[str] = []
        self.supervisor = Supervisor(
            lambda level, text: self.alerter.alert(level, text, self.clock.now()),
            self.options.supervisor,
            on_change=self._status_changed,
            on_fatal=self._fatal,
        )
        self.status_file = StatusFile(config.data_dir / "status.json")
        self.announcer = Announcer(
            engines=shared.engines,
            enforcement=self.enforcement,
            observer=self.observer,
            monitor=self.monitor,
            notifier=self.notifier,
            now=self.clock.now,
            firings_kept=self.options.firings_kept,
        )
        self.persistence = Persistence(shared, self.announcer)
        self.ownership = Ownership(shared, self.persistence, self.request_reconcile)
        self.persistence.lease_owner = self.ownership.owner
        self.executor = Executor(
            self.client,
            self.queue,
            store,
            on_call=self.announcer.call,
            on_starved=lambda level, text: self.alerter.alert(level, text, self.clock.now()),
            on_alert=lambda level, text: self.alerter.alert(level, text, self.clock.now()),
            starved_after=self.options.starved_after,
            record=self.persistence.store_call,
            spawn=self._spawn_executor,
        )
        self.enforcer = Enforcer(
            shared,
            self.executor,
            self.persistence,
            self.announcer,
            request_reconcile=self.request_reconcile,
            reconcile_soon=lambda account, delay: self.reconciler.soon(account, delay),
        )
        self.intake = Intake(shared, self.client)
        self.applier = Applier(shared, self.persistence, self.enforcer, self.announcer, self.intake)
        self.reconciler = Reconciler(
            shared,
            self.client,
            self.applier,
            self.enforcer,
            self.ownership,
            on_live=self._on_live,
            load_contracts=self.intake.contracts.load,
        )
        timing = config.timing
        self.bars = BarsWorker(shared, self.client, timing.bars_every)
        self.loop = EngineLoop(
            shared,
            applier=self.applier,
            reconciler=self.reconciler,
            enforcer=self.enforcer,
            persistence=self.persistence,
            ownership=self.ownership,
            intake=self.intake,
            announcer=self.announcer,
            write_status=self.write_status,
            bars=self.bars,
            # a limiter given no bars budget of its own still asks at the gateway's pace
            bars_most=capacity(
                self.client.limiter.budgets.get(BARS_BUCKET, DEFAULT_BUDGETS[BARS_BUCKET]),
                timing.bars_every,
            ),
        )
        self.changes = EngineChanges(shared, self.applier, self.persistence)
        self.lease_owner = self.ownership.owner
        self.ready = threading.Event()
        self.stopped = threading.Event()
        #: set by the status server's ``stop`` (and by signals in ``engine run``)
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self.started_at = self.clock.now()
        self.server: StatusServer | None = None
        self.dashboard: DashboardServer | None = None
        #: one reload (or configuration change) at a time
        self.reload_lock = threading.RLock()

    # -- what other code reads ------------------------------------------------------------------

    @property
    def config(self) -> DaemonConfig:
        return self._shared.config

    @config.setter
    def config(self, config: DaemonConfig) -> None:
        """A reload's new configuration: every part reads it from now on."""
        self._shared.config = config

    @property
    def rulesets(self) -> dict[int, Ruleset]:
        return self._shared.rulesets

    @property
    def engines(self) -> dict[int, Engine]:
        return self._shared.engines

    @property
    def book(self) -> dict[str, Tracked]:
        return self.enforcer.book

    @property
    def firings(self) -> deque[Firing]:
        """The newest firings (bounded: the daemon runs all day)."""
        return self.announcer.firings

    @property
    def firings_total(self) -> int:
        return self.announcer.firings_total

    def engine_stuck_for(self) -> float | None:
        """Seconds the engine thread has not turned, once that counts as stuck (None: it
        turns, or has not started): ``engine run`` stops telling systemd's watchdog all is
        well, and the leases are left to run out."""
        return self._shared.engine_stuck_for()

    @property
    def hub_states(self) -> dict[str, str]:
        return self.loop.hub_states

    @property
    def last_reconcile_at(self) -> dict[int, datetime]:
        return self.reconciler.last_reconcile_at

    @property
    def bar_priced(self) -> dict[str, datetime]:
        return {contract: bar.at for contract, bar in self.loop.bar_prices.priced.items()}

    @property
    def reconciles(self) -> int:
        return self.reconciler.reconciles

    @property
    def malformed_records(self) -> int:
        """REST records skipped because they could not be read (alerted when first seen)."""
        return self.reconciler.malformed_records

    @property
    def hub_records_skipped(self) -> dict[str, int]:
        """Hub records skipped because they could not be read, by target (the user hub's are
        alerted and reconciled; a market message's unreadable quote or trade only logged)."""
        skipped = self.intake.market_hub.converter.skipped()
        for target, count in self.intake.user_hub.converter.skipped().items():
            skipped[target] = skipped.get(target, 0) + count
        return skipped

    @property
    def unknown_values(self) -> dict[str, int]:
        """Enum values outside the known set, read conservatively (``order.type=8``: count of
        records): the user hub's (each alerted when first seen) and the REST answers' (the
        reconciles' searches, logged once per value), so a value only REST sends shows too."""
        counts = Counter(self.intake.user_hub.converter.unknown.snapshot())
        counts.update(UNKNOWN_VALUES.snapshot())
        return dict(counts)

    @property
    def replayed(self) -> dict[int, int]:
        """Journaled events replayed at restore, per account (the cost of the last restart)."""
        return self.persistence.replayed

    @property
    def events_applied(self) -> int:
        return self.applier.events_applied

    @property
    def events_dispatched(self) -> int:
        return self.loop.events_dispatched

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Daemon:
        """Serve the status socket, restore, take leases, log in, load contracts, start hubs
        and threads; returns once the engine thread runs (``ready`` is set when every account
        has been reconciled). The socket comes first: a daemon already answering on it is
        the clearest reason not to start (:class:`ServerError`)."""
        self.started_at = self.clock.now()
        if self.options.serve:
            self.server = StatusServer(self, self.options.server, spawn=self._spawn_service).start()
            self._unavailable.extend(self.server.unavailable)
        try:
            if self.config.dashboard is not None:
                from simple_risk.daemon.dashboard import DashboardServer  # aiohttp: only if used

                dashboard = DashboardServer(self, self.config.dashboard)
                try:
                    self.dashboard = dashboard.start()
                except ListenerUnavailable as exc:
                    self._unavailable.append(str(exc))
            self._start()
        except BaseException:
            if self.dashboard is not None:
                self.dashboard.stop()
            if self.server is not None:
                self.server.stop()
            raise
        return self

    def _start(self) -> None:
        self.notifier.start()
        for unavailable in self._unavailable:
            # a port any local user could take first must not keep the daemon from guarding
            self.alerter.alert(
                "critical",
                f"{unavailable}; guarding without it (served again after a restart once the "
                "port is free)",
                self.clock.now(),
            )
        for found in open_to_others(self.config):
            self.alerter.alert("critical", found.message(), self.clock.now())
        missing = self.store.missing_privileges()
        if missing:
            # it would go live, then the first write refused would hold every write behind it
            # — lease renewals too — and the accounts would go unguarded within a minute
            raise StoreError(
                f"the database role of {self.store.url} may not {', '.join(missing)}: the "
                "daemon journals, records and renews its leases there; grant them (GRANT "
                "... ON ALL TABLES and ON ALL SEQUENCES IN SCHEMA) and start again"
            )
        self.ownership.acquire_all(self.clock.now())
        # renewed from now on, however long the restore and the login take
        self.ownership.start(self.supervisor)
        for line in self.enforcement.load(self.store):
            log.warning("the admin's choice outlives the configuration: %s", line)
        for account in sorted(self.enforcement.observed()):
            log.warning("account %s is OBSERVED: nothing will be sent to the gateway", account)
        self.restore()
        self._remember_alerts()
        self.persistence.start_writer(self.supervisor)
        self.alerter.keep_with(self.persistence.keep_alert)
        self.client.login()
        self.intake.start()
        self.reconciler.start(self.supervisor)
        self.bars.start(self.supervisor)
        self.loop.start(self.supervisor)
        self.intake.wait_connected()
        for account in self.config.accounts:
            self.request_reconcile(account, "startup")

    def restore(self) -> None:
        """Rebuild every account's engine from its latest snapshot and the journal after it
        (the first step of ``start``; the leases must be held)."""
        for account in self.config.accounts:
            self.persistence.restore(account, replay=self.applier.replay, adopt=self.enforcer.adopt)
            # engine time goes on from where the last run left it, as it does within a run
            # when the wall clock steps back: a clock set back between two runs (time
            # synchronisation at boot) must not take an engine back before a boundary it passed
            reached = self.engines[account].now
            last = self.applier.last_at
            if reached is not None and (last is None or reached > last):
                self.applier.last_at = reached

    def _remember_alerts(self) -> None:
        """The trading day's alerts of the previous run, back in ``status`` and the dashboard
        (the store keeps them): a restart must not make "the close keeps failing" vanish."""
        now = self.clock.now()
        since = min(views.day_start(self, now), now - ALERT_SHOWN_FOR)
        try:
            kept = self.store.alerts_since(since)
        except StoreError as exc:
            log.warning("the day's earlier alerts could not be read: %s", exc)
            return
        guarded = set(self.config.accounts)
        self.alerter.remember([alert for alert in kept if alert[3] is None or alert[3] in guarded])

    def request_stop(self, reason: str = "") -> None:
        """Ask whoever runs the daemon (``engine run``, a test) to stop it gracefully."""
        self.stop_reason = reason
        self.stop_requested.set()

    def stop(self) -> None:
        """Stop the engine thread (snapshotting every account), the hubs and the workers,
        then the status server (so a client that asked for the stop got its answer)."""
        if self.stopped.is_set():
            return
        self._shared.closing.set()
        # said first, so the push is on its way while the parts stop (notifier.stop waits);
        # only for the accounts whose lease this daemon holds: one refused at start (another
        # daemon answers on the socket or holds the leases) leaves nothing unguarded
        guarded = [
            account
            for account in self.config.accounts
            if account in self.ownership.until and account not in self.ownership.lost
        ]
        if guarded:
            accounts = ", ".join(str(account) for account in guarded)
            self.alerter.alert(
                "warning",
                f"simple-risk is stopping: account{'s' if len(guarded) > 1 else ''}"
                f" {accounts} {'are' if len(guarded) > 1 else 'is'} not guarded"
                " (no rule enforced, no lock held) until it runs again",
                self.clock.now(),
            )
        if self.server is not None:
            self.server.close_listeners()
        if self.dashboard is not None:
            self.dashboard.stop()
        self.loop.stop()
        self.supervisor.stop()
        self.reconciler.stop()
        self.bars.stop()
        closers = self.intake.begin_stop()
        self.executor.stop()
        self.persistence.stop_writer()
        self.intake.finish_stop(closers)
        self.ownership.stop()
        self.ownership.release_all()
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

    # -- wiring ---------------------------------------------------------------------------------

    def _spawn_executor(
        self, name: str, account: int, work: Callable[[], None]
    ) -> threading.Thread:
        return self.supervisor.spawn(name, work, accounts=[account])

    def _spawn_service(self, name: str, loop: Callable[[], None]) -> threading.Thread:
        """A thread of a service no account's enforcement depends on (it never degrades one)."""
        return self.supervisor.spawn(name, loop, accounts=())

    def _auth_trouble(self, message: str) -> None:
        """The REST client cannot refresh the session and the token expires soon."""
        self.alerter.alert("critical", message, self.clock.now())

    def _gateway_trouble(self, message: str) -> None:
        """The gateway asked the REST client to wait longer than it will (a Retry-After past
        ``RestConfig.retry_after_max``): it tries again sooner, and may be refused again."""
        self.alerter.alert("warning", message, self.clock.now())

    def _fatal(self, exc: BaseException) -> None:
        """A part ended with an exception that is not an error to restart from."""
        self.error = exc

    def _status_changed(self) -> None:
        self._shared.status_due = True

    def _on_live(self) -> None:
        if self._shared.live >= set(self.config.accounts):
            self.ready.set()
        self.write_status()

    # -- the status server's interface (ControlTarget) ------------------------------------------

    def request_reconcile(self, account: int, reason: str) -> None:
        self.reconciler.request(account, reason)

    def on_engine(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``fn`` on the engine thread between two events and return its result.

        Raises ProtocolError ``unavailable`` when the engine thread is not running or does not
        get to it within ``timeout`` seconds (the command is then skipped, not run late).
        """
        wait = self.options.server.engine_timeout if timeout is None else timeout
        return self.loop.call(fn, wait)

    def live_accounts(self) -> frozenset[int]:
        return frozenset(self._shared.live)

    def lease_lost_accounts(self) -> frozenset[int]:
        """Accounts not enforced because their lease was lost or could not be renewed."""
        return frozenset(self.ownership.lost)

    def store_health(self) -> dict[str, Any]:
        """The store as the writer sees it: ``ok``, ``unavailable`` (writes held, enforcing
        from memory) or ``stuck`` (a call that does not return)."""
        return self.persistence.store_health()

    def degraded_accounts(self) -> dict[int, list[str]]:
        """Accounts served by a part that keeps failing, with the parts' names."""
        return self.supervisor.degraded(self.config.accounts)

    def recent_firings(self, account: int) -> list[dict[str, Any]]:
        return self.announcer.recent_firings(account)

    def last_firing(self, account: int, rule: str) -> dict[str, Any] | None:
        return self.announcer.last_firing(account, rule)

    def ruleset_name(self) -> str:
        names = sorted({ruleset.name for ruleset in self.rulesets.values()})
        return ", ".join(names)

    def swap_rulesets(self, rulesets: Mapping[int, Ruleset]) -> dict[int, RulesetChanges]:
        """Engine thread only: :meth:`EngineChanges.swap_rulesets`."""
        return self.changes.swap_rulesets(rulesets)

    def clear_lockouts(
        self, account: int, scope: str, symbol: str | None, who: str, why: str
    ) -> list[Lock]:
        """Engine thread only: :meth:`EngineChanges.clear_lockouts`."""
        return self.changes.clear_lockouts(account, scope, symbol, who, why)

    def saved(self, timeout: float) -> bool:
        """Any thread but the engine's: :meth:`Persistence.saved`."""
        return self.persistence.saved(timeout)

    def set_enforcement(self, account: int, enforce: bool, source: str) -> Choice:
        """Engine thread only: :meth:`Enforcer.set_enforcement`."""
        return self.enforcer.set_enforcement(account, enforce, source)

    def announce_admin(
        self, text: str, data: Mapping[str, Any], account: int | None = None
    ) -> None:
        """An admin action (a reload, a lockout cleared) on ``monitor`` and the webhook."""
        self.announcer.admin(text, data, account)

    # -- status ---------------------------------------------------------------------------------

    def write_status(self) -> None:
        """Write ``status.json`` in the data directory atomically (engine thread only)."""
        self.status_file.write(self.status())

    def status(self) -> dict[str, object]:
        """A plain summary (for ``engine status`` and the demo's table); read on any thread."""
        degraded = self.degraded_accounts()
        accounts: dict[str, object] = {}
        for account, engine in list(self.engines.items()):
            facts = engine.facts(account)
            day = facts.get("day")
            accounts[str(account)] = {
                "mode": self.enforcement.choice(account).mode,
                "live": account in self._shared.live,
                "lease": "lost" if account in self.ownership.lost else "held",
                "degraded": degraded.get(account, []),
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
            "hub_records_skipped": self.hub_records_skipped,
            "unknown_values": self.unknown_values,
            "store": self.store_health(),
            "parts": self.supervisor.parts(),
            "notifications": self.notifier.counts(),
            "alerts": list(self.alerter.recent),
        }


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
