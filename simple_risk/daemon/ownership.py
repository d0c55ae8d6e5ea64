"""Account leases: one daemon, and only one, enforces an account.

The leases are taken at start (a daemon already guarding an account is the clearest reason
not to start), renewed every third of their time to live on the store writer thread (the
engine thread never waits on the store), and released at stop. A lease lost to another
daemon, or one the store cannot renew, stops the enforcement of that account at once.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from simple_risk.daemon.context import Shared
from simple_risk.daemon.messages import LeaseChecked
from simple_risk.daemon.persistence import Persistence
from simple_risk.store import Store, StoreError

log = logging.getLogger(__name__)


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
        self.owner = f"{socket.gethostname()}:{shared.config.data_dir}"
        self.ttl = timedelta(seconds=shared.options.lease_ttl)
        #: accounts whose lease was lost or could not be renewed: not enforced
        self.lost: set[int] = set()
        #: accounts with a lease renewal queued on the writer thread, not answered yet
        self._pending: set[int] = set()

    def acquire_all(self, now: datetime) -> None:
        """Take every account's lease, or refuse to start (:class:`StoreError`)."""
        for account in self._shared.config.accounts:
            if not self._store.acquire_lease(account, self.owner, self.ttl, now):
                holder = self._store.lease(account)
                raise StoreError(
                    f"account {account} is guarded by another daemon "
                    f"({holder.owner if holder else 'unknown'}); refusing to enforce it twice"
                )

    def release_all(self) -> None:
        for account in self._shared.config.accounts:
            try:
                self._store.release_lease(account, self.owner)
            except StoreError as exc:
                log.warning("could not release the lease of %s: %s", account, exc)

    def renew_interval(self) -> float:
        """Seconds to the next renewal: sooner while a lease is lost, to take it back."""
        every = self._shared.options.lease_ttl / 3
        return min(every, 1.0) if self.lost else every

    def renew(self, account: int, now: datetime) -> None:
        """Renew the account's lease (take it again when it was lost).

        The store call runs on the writer thread — the engine thread never waits on the
        store — and its answer comes back through the queue (:meth:`on_checked`); one check
        per account is outstanding at a time.
        """
        if account in self._pending:
            return
        self._pending.add(account)
        lost = account in self.lost
        owner, ttl, queue = self.owner, self.ttl, self._shared.queue

        def check(store: Store) -> None:
            try:
                if lost:
                    held = store.acquire_lease(account, owner, ttl, now)
                else:
                    held = store.renew_lease(account, owner, ttl, now)
                why = "another daemon holds it"
            except StoreError as exc:
                held, why = False, f"it cannot be renewed: {exc}"
            queue.put(LeaseChecked(at=now, account=account, held=held, why=why))

        writer = self._persistence.writer
        if writer is not None:
            writer.call(check)
        else:
            check(self._store)

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
            if lost:
                self.lost.discard(account)
                log.warning("account %s: lease held again; reconciling to enforce", account)
                self._request_reconcile(account, "lease regained")
                self._shared.status_due = True
            return
        if lost:
            return
        self.lost.add(account)
        self._shared.live.discard(account)
        self._shared.status_due = True
        self._shared.alerter.alert(
            "critical",
            f"lost the lease of account {account} ({check.why}): enforcement of it stopped",
            check.at,
        )


__all__ = ["Ownership"]
