"""Account leases: one daemon, and only one, enforces an account.

The leases are taken at start (a daemon already guarding an account is the clearest reason
not to start), renewed every fifth of their time to live on a thread of their own (the engine
thread never waits on the store, and a renewal never waits behind the store writer's queue —
a backlog of journal writes, a journal insert held up by a lock on its table — and when the
engine thread asks for none for a whole interval the lease thread renews on its own: a
holder that merely hiccups keeps its lease), and released at stop. A lease lost to another daemon,
or one the store refuses to renew, stops the enforcement of that account at once. A renewal
held up by a store outage gets no answer (it is tried again every ``retry_interval``), but
nobody can take the lease before it runs out on its own: the account is enforced until
shortly before then (:meth:`expire`) — and on past it while the store takes no writes from
anyone (a full disk, a write the disk fails: ``StoreUnavailable.for_everyone``), since
nobody else can take the lease then either.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from simple_risk.daemon.context import Shared
from simple_risk.daemon.messages import LeaseChecked
from simple_risk.daemon.persistence import Persistence
from simple_risk.daemon.supervisor import Supervisor
from simple_risk.store import StoreError, StoreUnavailable
from simple_risk.store.records import Lease

log = logging.getLogger(__name__)

#: the lease's time to live in the versions whose lease owner was ``hostname:data_dir``
EARLIER_LEASE_TTL = timedelta(seconds=60)


class Ownership:
    """Takes, renews and releases the account leases; knows which were lost."""

    def __init__(
        self,
        shared: Shared,
        persistence: Persistence,
        request_reconcile: Callable[[int, str], None],
    ) -> None:
        self._shared = shared
        self._store = shared.store
        self._persistence = persistence
        self._request_reconcile = request_reconcile
        # the hostname and the data directory alone are the same on two machines cloned from
        # one image with the default data_dir: the installation's own name tells them apart,
        # and stays the same across restarts (a daemon killed -9 takes its own lease back)
        self.owner = (
            f"{socket.gethostname()}:{shared.config.data_dir}:{shared.own_tags.installation()}"
        )
        self.ttl = timedelta(seconds=shared.options.lease_ttl)
        #: accounts whose lease was lost or could not be renewed: not enforced
        self.lost: set[int] = set()
        #: accounts with a lease renewal queued on the writer thread, not answered yet
        self._pending: set[int] = set()
        #: per account, when (monotonic) the lease last taken or renewed runs out on its own
        self.until: dict[int, float] = {}
        #: why the store takes writes from nobody, while the last renewal tried says so (lease
        #: thread; read by the engine thread). The store's, not one account's: the renewals
        #: run one after the other, and the accounts behind the one held up wait unanswered
        self.refused: str | None = None
        #: accounts enforced past their lease's end because nobody could take it (engine thread)
        self.kept: set[int] = set()
        #: the lease checks for the lease thread, in order (None: stop)
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        #: when (monotonic) the lease thread next compares this machine's clock with the
        #: store server's (None: never — SQLite, or the check is off)
        self._next_clock_check: float | None = (
            0.0 if shared.options.store_clock_check is not None else None
        )
        #: the level of the clock alert raised and not yet said to be over (None: none)
        self._clock_alert: str | None = None
        #: a stuck engine thread was alerted (and its leases left to run out)
        self._stuck_said = False

    def start(self, supervisor: Supervisor) -> None:
        """Start the lease thread (a supervised part): renewals run there, one at a time."""
        self._thread = supervisor.spawn("leases", self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """End the lease thread (after the check it is running, if any)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            if self._next_clock_check is not None and time.monotonic() >= self._next_clock_check:
                self._check_clock()
            try:
                job = self._jobs.get(timeout=self.renew_interval())
            except queue.Empty:
                job = self._keep_alive
            if job is None:
                return
            job()

    def _check_clock(self) -> None:
        """Lease thread: compare this machine's clock with the store server's.

        A lease's end is judged by the clock of the machine that reads it: the holder stops
        enforcing a sixth of the lease's time to live before its end by its own clock, and a
        standby takes the account at the end by its own. Two machines whose clocks differ by
        more than that sixth can both enforce one account (two closes of one position, two
        stops) or leave it unguarded longer than the lease. Nothing else would notice:
        a critical alert past that margin, a warning past a second, and a word when the
        clocks agree again. SQLite is this machine's file: nothing to compare."""
        every = self._shared.options.store_clock_check
        self._next_clock_check = None if every is None else time.monotonic() + every
        clock = self._shared.clock
        try:
            before, asked = clock.now(), time.monotonic()
            server = self._store.server_clock()
            answered, after = time.monotonic(), clock.now()
        except StoreError:
            return  # the store's outage is said where the writes notice it
        if server is None:
            self._next_clock_check = None
            return
        if answered - asked > 1.0:
            return  # an answer that slow cannot tell a difference of clocks from the wait
        skew = (server - (before + (after - before) / 2)).total_seconds()
        margin = self._shared.options.lease_ttl / 6
        level = "critical" if abs(skew) > margin else "warning" if abs(skew) > 1.0 else None
        if level is None:
            if self._clock_alert is not None and abs(skew) <= 0.5:
                self._clock_alert = None
                self._shared.alerter.alert(
                    "warning",
                    f"this machine's clock agrees with the store server's again (now "
                    f"{abs(skew):.1f} s apart): the account leases are judged alike on every "
                    "machine",
                    after,
                )
            return
        if level == self._clock_alert or (level == "warning" and self._clock_alert):
            return  # said already (a critical one that eased stays said until it is over)
        self._clock_alert = level
        accounts = ", ".join(str(a) for a in self._shared.config.accounts)
        self._shared.alerter.alert(
            level,
            f"this machine's clock is {_offset(skew)} the store server's: each daemon judges "
            f"an account lease's end by its own clock, so with a difference past "
            f"{margin:g} s a standby could take accounts {accounts} while this daemon still "
            "enforces them (or this one take another's early). Synchronise the clocks "
            "(chrony, systemd-timesyncd or another NTP client, on every machine)",
            after,
        )

    def _keep_alive(self) -> None:
        """Lease thread: nobody asked for a renewal for a whole interval — the engine thread
        is held up (a long command, a startup whose login the gateway keeps waiting) — so the
        leases held are renewed anyway: a daemon that hiccups keeps its accounts.

        Not an engine thread that is stuck (:meth:`Shared.engine_stuck_for`): it enforces
        nothing, so its accounts' leases are left to run out, for a standby to take them, and
        a critical alert says so — renewed on its behalf, they would keep every other daemon
        out of accounts nobody guards, for as long as the process lives."""
        stuck = self._shared.engine_stuck_for()
        if stuck is not None:
            if not self._stuck_said:
                self._stuck_said = True
                accounts = ", ".join(str(a) for a in self._shared.config.accounts)
                self._shared.alerter.alert(
                    "critical",
                    f"the engine thread has not turned for {stuck:.0f} s: accounts {accounts} "
                    "are not enforced; their leases are left to run out so that a standby can "
                    "take them (under systemd, the watchdog restarts this daemon)",
                    self._shared.clock.now(),
                )
            return
        if self._stuck_said:
            self._stuck_said = False
            log.warning("the engine thread turns again: the leases are renewed again")
        for account in self._shared.config.accounts:
            if account not in self.lost and account not in self._pending:
                self._check(account, lost=False)

    def acquire_all(self, now: datetime) -> None:
        """Take every account's lease, or refuse to start (:class:`StoreError`)."""
        for account in self._shared.config.accounts:
            asked = time.monotonic()
            if self._store.acquire_lease(account, self.owner, self.ttl, now):
                self.until[account] = asked + self._shared.options.lease_ttl
            else:
                holder = self._store.lease(account)
                if holder is not None and self._own_earlier(account, holder):
                    if self._store.take_over_lease(
                        account, holder.owner, self.owner, self.ttl, now
                    ):
                        log.warning(
                            "account %s: its lease was held under this daemon's earlier name "
                            "(%s, the earlier format of the lease owner: a daemon of this data "
                            "directory killed before an upgrade, its process gone); taken back "
                            "at once",
                            account,
                            holder.owner,
                        )
                        self.until[account] = asked + self._shared.options.lease_ttl
                        continue
                    holder = self._store.lease(account)
                if holder is None:
                    raise StoreError(
                        f"account {account} is guarded by another daemon; refusing to "
                        "enforce it twice"
                    )
                # a daemon killed or whose machine went down holds the lease till it runs out:
                # nobody guards the account meanwhile, and this one can take it then
                until = holder.expires_at.isoformat(timespec="seconds")
                raise StoreError(
                    f"account {account} is guarded by another daemon ({holder.owner}), its "
                    f"lease renewed until {until}; refusing to enforce it twice. If that "
                    "daemon is gone (killed, its machine down), nobody guards the account "
                    "until then: start this one again after it (systemd's Restart= does)"
                )

    def _own_earlier(self, account: int, holder: Lease) -> bool:
        """Whether ``holder`` is this installation's own lease under the owner's earlier
        format (``hostname:data_dir``, before the owner named the installation), left by a
        daemon of this data directory killed -9 and then upgraded.

        The earlier name alone is not enough: a machine cloned from this one's image has the
        same hostname and data directory. The data directory's own word is: the status its
        daemon wrote says it held the account's lease, was written within the lease's last
        two minutes (a running daemon writes it at every snapshot pass, and the earlier lease
        ran 60 s past its last renewal: not a status copied with an image long ago), and
        names a process that is gone."""
        earlier = f"{socket.gethostname()}:{self._shared.config.data_dir}"
        if holder.owner != earlier:
            return False
        try:
            status = json.loads(
                (self._shared.config.data_dir / "status.json").read_text(encoding="utf-8")
            )
            held = status["accounts"][str(account)]["lease"] == "held"
            written = datetime.fromisoformat(status["written_at"])
            pid = status["pid"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not held or written.tzinfo is None or not isinstance(pid, int):
            return False
        if written < holder.expires_at - 2 * EARLIER_LEASE_TTL:
            return False
        return not _running(pid)

    def release_all(self) -> None:
        for account in self._shared.config.accounts:
            try:
                self._store.release_lease(account, self.owner)
            except StoreError as exc:
                log.warning("could not release the lease of %s: %s", account, exc)

    def renew_interval(self) -> float:
        """Seconds to the next renewal: every fifth of the lease's time to live (four renewals
        in a row may come late before the account stops being enforced), sooner while a lease
        is lost, to take it back."""
        every = self._shared.options.lease_ttl / 5
        return min(every, 1.0) if self.lost else every

    def renew(self, account: int, now: datetime) -> None:
        """Renew the account's lease (take it again when it was lost).

        The store call runs on the lease thread — the engine thread never waits on the store,
        and the renewal never waits behind the writer's queue — and its answer comes back
        through the queue (:meth:`on_checked`); one check per account is outstanding at a
        time.
        """
        if account in self._pending:
            return
        self._pending.add(account)
        lost = account in self.lost
        if self._thread is not None:
            self._jobs.put(lambda: self._check(account, lost))
        else:
            self._check(account, lost)

    def _check(self, account: int, lost: bool) -> None:
        """Lease thread: renew (or, ``lost``, take again) the account's lease; the answer
        goes to the engine thread through the queue."""
        store, clock, closing = self._store, self._shared.clock, self._shared.closing
        while True:
            # the clock is read when the call runs: held up by a store outage, a renewal
            # stamped with the time it was asked for could end at once in the store
            asked, when = time.monotonic(), clock.now()
            try:
                if lost:
                    held = store.acquire_lease(account, self.owner, self.ttl, when)
                else:
                    # a wall clock stepped forward past the lease's end (time
                    # synchronisation, a wake from a suspend) finds it expired though nobody
                    # took it: taken again then, which only another daemon's unexpired lease
                    # refuses
                    held = store.renew_lease(account, self.owner, self.ttl, when) or (
                        store.acquire_lease(account, self.owner, self.ttl, when)
                    )
                why = "another daemon holds it"
            except StoreUnavailable as exc:
                # tried again; meanwhile the lease's end counts (:meth:`expire`), unless the
                # store takes writes from nobody: nobody else can take the lease either
                self.refused = str(exc) if exc.for_everyone else None
                if closing.wait(self._shared.config.timing.retry_interval):
                    return
                continue
            except StoreError as exc:
                held, why = False, f"it cannot be renewed: {exc}"
            break
        self.refused = None
        if held:
            self.until[account] = asked + self._shared.options.lease_ttl
        self._shared.queue.put(LeaseChecked(at=when, account=account, held=held, why=why))

    def expire(self, now_mono: float, now_wall: datetime) -> None:
        """Engine thread: stop enforcing an account whose lease could not be renewed (its
        renewal waits behind a store outage) a sixth of its time to live before it runs out
        on its own — after that, another daemon could take the account."""
        margin = self._shared.options.lease_ttl / 6
        for account, until in list(self.until.items()):
            if account in self.lost or now_mono < until - margin:
                continue
            refused = self.refused
            if refused is not None:
                if account not in self.kept:
                    self.kept.add(account)
                    self._shared.alerter.alert(
                        "critical",
                        f"the lease of account {account} could not be renewed before its end: "
                        f"the store takes no writes ({refused}), so nobody else can take it "
                        "either: enforcement of it goes on",
                        now_wall,
                        account,
                    )
                continue
            self._pending.discard(account)  # ask again (to take it back) from now on
            why = "it could not be renewed before it runs out (the store is unavailable)"
            self.on_checked(LeaseChecked(at=now_wall, account=account, held=False, why=why))

    def on_checked(self, check: LeaseChecked) -> None:
        """Engine thread: the answer of a lease renewal.

        A lease that is lost (another daemon holds it) or cannot be renewed (the store fails)
        stops enforcing the account at once — two daemons must never act on one account —
        raises a critical alert and shows in the status; once the lease is held again the
        account is reconciled and enforced again.
        """
        account = check.account
        self._pending.discard(account)
        lost = account in self.lost
        if check.held:
            if account in self.kept:
                self.kept.discard(account)
                self._shared.alerter.alert(
                    "warning", f"the lease of account {account} is renewed again", check.at, account
                )
            if lost:
                self.lost.discard(account)
                log.warning("account %s: lease held again; reconciling to enforce", account)
                self._request_reconcile(account, "lease regained")
                self._shared.status_due = True
            return
        self.kept.discard(account)
        if lost:
            return
        self.lost.add(account)
        self._shared.live.discard(account)
        self._shared.status_due = True
        self._shared.alerter.alert(
            "critical",
            f"lost the lease of account {account} ({check.why}): enforcement of it stopped",
            check.at,
            account,
        )


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one that cannot be asked counts as
    running: its lease is then waited out, as another daemon's)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _offset(skew: float) -> str:
    """How far this machine's clock is from the server's (``skew``: server minus this
    machine's), in words."""
    return f"{abs(skew):.1f} s {'behind' if skew > 0 else 'ahead of'}"


__all__ = ["Ownership"]
