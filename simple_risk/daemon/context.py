"""What every part of the daemon's runtime shares: the options it was started with, and the
few pieces of state more than one part reads (docs/architecture.md §6).

Each part (intake, engine loop, reconciler, enforcer, persistence, ownership, announcer)
keeps its own state in its own object; what is here is only what several of them must see.
Engine state (``engines``, ``deadlines``, ``live``) is changed on the engine thread only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from simple_risk.adapters.replay import WireRecorder
from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.hubs import HubConfig
from simple_risk.adapters.topstepx.ratelimit import Budget
from simple_risk.adapters.topstepx.rest import RestConfig
from simple_risk.daemon.announce import Alerter, Observer
from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.control.server import ServerOptions
from simple_risk.daemon.observe import Enforcement
from simple_risk.daemon.owntags import OwnTags
from simple_risk.daemon.queue import EventQueue
from simple_risk.daemon.supervisor import SupervisorOptions
from simple_risk.engine import Engine
from simple_risk.engine.model import Ruleset
from simple_risk.engine.vanished import HubItem
from simple_risk.store import Store


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
    #: how long an account's lease lasts unrenewed (renewed every fifth of it): a standby takes
    #: the account of a daemon that died this long after its last renewal at most
    lease_ttl: float = 15.0
    #: every this many seconds the lease thread compares this machine's clock with a shared
    #: store server's (PostgreSQL) and alerts when they differ by more than a lease can bear
    #: (None: never; tests whose pinned wall clocks are days off the server's on purpose)
    store_clock_check: float | None = 60.0
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
    #: how failed parts are restarted, and when they count as DEGRADED
    supervisor: SupervisorOptions = field(default_factory=SupervisorOptions)


@dataclass(slots=True, eq=False)
class Shared:
    """The runtime's common ground, built once by :class:`~simple_risk.daemon.runtime.Daemon`."""

    config: DaemonConfig
    options: RuntimeOptions
    store: Store
    queue: EventQueue
    clock: ReceiveClock
    alerter: Alerter
    observer: Observer
    enforcement: Enforcement
    own_tags: OwnTags
    rulesets: dict[int, Ruleset]
    #: one engine per account (overlays give accounts different rulesets)
    engines: dict[int, Engine] = field(default_factory=dict)
    #: accounts reconciled with their lease held: the only ones whose intents are worked
    live: set[int] = field(default_factory=set)
    #: each account's engine's next deadline (the engine thread wakes itself for the earliest)
    deadlines: dict[int, datetime | None] = field(default_factory=dict)
    #: engine time of the newest hub event of each order (``("order", id)``) and position
    #: (``("position", contract)``) per account: a reconcile keeps the hub's word for what
    #: changed after its REST answers were asked for (older entries are pruned by it)
    hub_touched: dict[int, dict[HubItem, datetime]] = field(default_factory=dict)
    #: positions whose reduction by the daemon REST confirmed before the hub showed it, per
    #: account: contract → the size REST confirmed. The hub is behind on them: until it shows
    #: that size (or less), a size it reports may be from before the reduction, and a
    #: reduction is planned from it only after a reconcile (else it would reduce twice)
    hub_behind: dict[int, dict[str, int]] = field(default_factory=dict)
    #: accounts whose order facts may lack what the user hub did not deliver: it went down or
    #: a subscription was refused, and no reconcile asked for since it was up again has been
    #: applied. A close asked for because a position is unprotected waits for REST's orders.
    orders_unheard: set[int] = field(default_factory=set)
    #: engine time the user hub was last up (None: down, refused, or never up yet)
    user_hub_up_at: datetime | None = None
    #: set when ``stop`` begins: workers waiting out a pause return
    closing: threading.Event = field(default_factory=threading.Event)
    #: something the status shows changed: ``status.json`` is rewritten soon
    status_due: bool = False
    #: monotonic time of the engine loop's last pass (None: not started yet); the loop
    #: passes at least every ``tick_interval`` while it lives
    engine_turned: float | None = None

    def engine_stuck_for(self) -> float | None:
        """Seconds the engine loop has not passed, once that is longer than
        :data:`ENGINE_STUCK_LEASES` leases' time to live (None: it turns, or has not started).
        A thread held up that long is stuck, not busy: its accounts are not enforced, so the
        leases are left to run out (a standby takes them) and systemd's watchdog is no longer
        told all is well (it restarts the daemon)."""
        turned = self.engine_turned
        if turned is None:
            return None
        idle = time.monotonic() - turned
        return idle if idle > ENGINE_STUCK_LEASES * self.options.lease_ttl else None


#: how many leases' time to live the engine loop may go without a pass before it counts as
#: stuck (a long command or reload holds it a few seconds; a 4-lease hold, 60 s by default, is
#: a thread that will not come back)
ENGINE_STUCK_LEASES = 4


__all__ = ["ENGINE_STUCK_LEASES", "RuntimeOptions", "Shared"]
