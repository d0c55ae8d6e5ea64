"""Reconciliation: each account's state fetched from REST and applied as facts.

One worker thread per account (one account's slow REST never delays another's) fetches each
requested reconcile — the account, its positions and working orders, and (except the light
``periodic`` one) the trading day's fills, which rebuild day P&L and windows — and puts a
:class:`~simple_risk.daemon.messages.ReconcileData` on the queue; the engine thread applies
it (:meth:`Reconciler.apply`), then ``Reconciled``, which evaluates every rule, so a limit
already breached is enforced at once. Requests are coalesced: at most one reconcile per
account per ``reconcile_gap`` seconds (wider as the REST budget fills). A user-hub record the
converter doubted (skipped as unreadable, or an order of unknown status read as working) is
alerted and answered with a reconcile of its account: REST says what the hub could not.

``Account/search`` answers for the whole login, so the full reconciles of its accounts share
one (:class:`LoginAccounts`): an answer asked after a reconcile was requested serves it, and
one already on its way is waited for. A poll of every account (the user hub down, a start, a
user-hub gap) costs one ``Account/search`` and the three per-account calls of each account,
not four calls per account: above seven accounts on one login the 10 s poll alone would pass
the gateway's 200 calls a minute.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from simple_risk.adapters.topstepx.errors import ProjectXError
from simple_risk.adapters.topstepx.hubconverter import Doubt
from simple_risk.adapters.topstepx.ratelimit import DEFAULT_BUCKET
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.daemon.apply import Applier
from simple_risk.daemon.context import Shared
from simple_risk.daemon.enforcement import Enforcer
from simple_risk.daemon.messages import ReconcileData
from simple_risk.daemon.ownership import Ownership
from simple_risk.daemon.supervisor import Supervisor
from simple_risk.engine.events import AccountUpdate, Event, Reconciled, TradeFill
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.ledger import adds_nothing
from simple_risk.engine.vanished import reconciled_fills, reconciled_orders, reconciled_positions

log = logging.getLogger(__name__)

#: one ``Account/search`` answer: the accounts read, and the records skipped as unreadable
AccountList = tuple[list[AccountUpdate], list[tuple[str, str]]]


@dataclass(eq=False)
class _Asked:
    """One ``Account/search`` on its way or answered: when it was asked (monotonic), and its
    answer or its failure once in."""

    at: float
    done: threading.Event = field(default_factory=threading.Event)
    answer: AccountList | None = None
    error: BaseException | None = None


class LoginAccounts:
    """The login's ``Account/search``, asked once for every reconcile that needs it.

    :meth:`fresh` answers with the newest answer asked no earlier than ``since`` (the moment
    the reconcile was requested: nothing the gateway said before then can stand for it), or
    waits for such an answer already on its way, or asks the gateway itself. Thread safe: the
    reconcile workers of every account call it."""

    def __init__(
        self,
        search: Callable[[], AccountList],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._search = search
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._latest: _Asked | None = None
        self.asked = 0  # Account/search calls made, for tests and status

    def fresh(self, since: float) -> AccountList:
        with self._lock:
            latest = self._latest
            # a failed answer is shared too: a refusing gateway (a 429 burst) is asked once per
            # poll, not once per account; each reconcile it failed is retried on its own
            mine = latest is None or latest.at < since
            if mine:
                latest = self._latest = _Asked(self._monotonic())
                self.asked += 1
        assert latest is not None
        if mine:
            try:
                latest.answer = self._search()
            except BaseException as error:
                latest.error = error
            finally:
                latest.done.set()
        else:
            latest.done.wait()
        if latest.error is not None:
            raise latest.error
        assert latest.answer is not None
        accounts, skipped = latest.answer
        return list(accounts), list(skipped)


class Reconciler:
    """The per-account reconcile workers (fetch) and the engine thread's side (apply)."""

    def __init__(
        self,
        shared: Shared,
        client: RestClient,
        applier: Applier,
        enforcer: Enforcer,
        ownership: Ownership,
        *,
        on_live: Callable[[], None],
        load_contracts: Callable[[set[str]], None] | None = None,
    ) -> None:
        self._shared = shared
        #: loads the contracts a startup reconcile found, before its answer is applied
        self._load_contracts = load_contracts
        self._client = client
        self._applier = applier
        self._enforcer = enforcer
        self._ownership = ownership
        #: called on the engine thread after each applied reconcile (readiness, status)
        self._on_live = on_live
        accounts = shared.config.accounts
        self._work: dict[int, queue.Queue[str | None]] = {a: queue.Queue() for a in accounts}
        self._wanted: set[int] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: accounts whose worker loop has run (a second run is a restart after a failure)
        self._started: set[int] = set()
        #: monotonic time each account is reconciled again (after an enforcement, a failure)
        self.later: dict[int, float] = {}
        self.reconciles = 0
        self.last_reconcile_at: dict[int, datetime] = {}
        #: REST records skipped because they could not be read (alerted when first seen)
        self.malformed_records = 0
        self._skipped_before: dict[int, tuple[tuple[str, str], ...]] = {}
        #: hub records doubted by the converter (see :meth:`doubt`)
        self.hub_doubts = 0
        self._doubts_alerted: set[tuple[int | None, str]] = set()
        #: each account's failed reconciles in a row (alerted once, at alert_after_attempts)
        self._failing: dict[int, int] = {}
        #: accounts the last full reconcile found missing from Account/search (alerted once)
        self.unlisted: set[int] = set()
        #: accounts of the login the configuration does not guard, said once they could trade
        self.unguarded_said: set[int] = set()
        #: the login's Account/search, shared by the full reconciles of every account
        self.login_accounts = LoginAccounts(self._search_accounts)
        #: when each account's reconcile was last requested (monotonic) ...
        self._requested: dict[int, float] = {}
        #: ... and when the requests its reconcile under way serves were: the answers it may
        #: share were asked no earlier
        self._serving: dict[int, float] = {}

    # -- the workers ----------------------------------------------------------------------------

    def start(self, supervisor: Supervisor) -> None:
        """One supervised worker per account."""
        for account in self._shared.config.accounts:
            self._threads.append(
                supervisor.spawn(
                    f"reconcile-{account}",
                    functools.partial(self._loop, account),
                    accounts=[account],
                )
            )

    def stop(self) -> None:
        for work in self._work.values():
            work.put(None)

    def request(self, account: int, reason: str) -> None:
        work = self._work.get(account)
        if work is None:
            return
        with self._lock:
            self._requested[account] = time.monotonic()
            if account in self._wanted:
                return
            self._wanted.add(account)
        work.put(reason)

    def soon(self, account: int, delay: float) -> None:
        """Reconcile the account ``delay`` seconds from now, unless one is due sooner."""
        self.later.setdefault(account, time.monotonic() + delay)

    def request_due(self, now_mono: float) -> None:
        """Engine thread: request the reconciles whose time has come."""
        for account, due in list(self.later.items()):
            if now_mono >= due:
                del self.later[account]
                self.request(account, "after enforcement")

    def _loop(self, account: int) -> None:
        """Fetch each requested reconcile of the account. An unexpected failure of a fetch is
        logged with its traceback, alerted, and answered with a failed reconcile (retried
        later), so an account is never left unreconciled (and unenforced) without anyone
        knowing; anything else failing here is the supervisor's to alert and restart."""
        work = self._work[account]
        restarted = account in self._started
        self._started.add(account)
        with self._lock:  # restarted after a failure: the request it was working is gone
            self._wanted.discard(account)
        if restarted:  # ... and is asked again: the account must not stay unreconciled
            self.request(account, "reconcile worker restarted")
        last = -float("inf")
        while True:
            reason = work.get()
            if reason is None:
                return
            # Coalesce: a burst of gaps, refusals and enforcements costs one reconcile per
            # account per gap; requests made while waiting join this one.
            pause = last + self.gap() - time.monotonic()
            if pause > 0 and reason != "startup" and self._shared.closing.wait(pause):
                return  # stopping: the client is closing
            with self._lock:
                self._wanted.discard(account)
                # every request this reconcile serves was made by then (a later one queued
                # another), and none before the reconcile before it was served
                self._serving[account] = self._requested.get(account, time.monotonic())
            last = time.monotonic()
            started = self._shared.clock.now()
            try:
                data = self.fetch(account, reason)
            except Exception as exc:
                log.exception("account %s: reconcile (%s) failed unexpectedly", account, reason)
                self._shared.alerter.alert(
                    "critical",
                    f"account {account}: reconcile failed unexpectedly "
                    f"({type(exc).__name__}: {exc}); retrying",
                    self._shared.clock.now(),
                    account,
                )
                data = ReconcileData(
                    at=self._shared.clock.now(),
                    account=account,
                    started_at=started,
                    reason=reason,
                    error=f"{type(exc).__name__}: {exc}",
                )
            self._shared.queue.put(data)

    def gap(self) -> float:
        """The spacing of one account's reconciles: wider as the REST budget fills, so
        reconciliation gives way to enforcement (which also has slots of its own)."""
        budget = self._client.limiter.budgets[DEFAULT_BUCKET].requests
        used = self._client.limiter.in_window() / budget
        factor = 4.0 if used > 0.75 else 2.0 if used > 0.5 else 1.0
        return self._shared.options.reconcile_gap * factor

    def _search_accounts(self) -> AccountList:
        """``Account/search``, lenient: an unreadable account is skipped and reported."""
        skipped: list[tuple[str, str]] = []

        def malformed(kind: str, why: str) -> None:
            skipped.append((kind, why))

        accounts = self._client.search_accounts(only_active=False, on_malformed=malformed)
        return accounts, skipped

    def fetch(self, account: int, reason: str) -> ReconcileData:
        """The account's state from REST. An ``Account/search`` asked since the reconcile was
        requested — by another account's reconcile — serves this one too."""
        clock, client = self._shared.clock, self._client
        started = clock.now()
        engine = self._shared.engines[account]
        # the week's fills, not only the day's: week.* facts and the windows reaching back
        # past the daily boundary are rebuilt too (a first start, or a daemon down a day)
        calendar = engine.calendar
        since = calendar.trading_day_start(calendar.week_start(started))
        light = reason == "periodic"  # positions and orders only: 2 calls of the budget
        skipped: list[tuple[str, str]] = []

        def malformed(kind: str, why: str) -> None:
            skipped.append((kind, why))

        accounts: list[AccountUpdate] | None = None
        try:
            if light:
                accounts = []
            else:
                requested = self._serving.get(account, time.monotonic())
                accounts, unreadable = self.login_accounts.fresh(requested)
                skipped.extend(unreadable)
            positions = client.open_positions(account, on_malformed=malformed)
            orders = client.open_orders(account, on_malformed=malformed)
            trades = [] if light else client.search_trades(account, since, on_malformed=malformed)
            if reason == "startup" and self._load_contracts is not None:
                # the contracts the account holds or works orders in, from these answers (the
                # start reads them once): known to the engine before the answer is applied
                self._load_contracts(
                    {p.contract_id for p in positions} | {o.contract_id for o in orders}
                )
        except ProjectXError as exc:
            return ReconcileData(
                at=clock.now(),
                account=account,
                started_at=started,
                reason=reason,
                error=str(exc),
                # REST refusing an account the login no longer lists (AccountNotFound): why
                unlisted=accounts is not None and _unlisted(account, accounts, skipped, light),
            )
        mine = next((a for a in accounts if a.account_id == account), None)
        guarded = self._shared.config.accounts
        return ReconcileData(
            unlisted=_unlisted(account, accounts, skipped, light),
            others=tuple(a for a in accounts if a.account_id not in guarded),
            at=clock.now(),
            account=account,
            started_at=started,
            reason=reason,
            account_update=mine,
            positions=tuple(p for p in positions if p.account_id == account),
            orders=tuple(o for o in orders if o.account_id == account),
            trades=tuple(sorted(trades, key=lambda t: (t.created_at or t.at, t.trade_id))),
            skipped=tuple(skipped),
        )

    # -- the engine thread's side ---------------------------------------------------------------

    def apply(self, data: ReconcileData) -> None:
        shared = self._shared
        account = data.account
        timing = shared.config.timing
        if data.error is not None:
            log.warning("account %s: reconcile (%s) failed: %s", account, data.reason, data.error)
            self._report_unlisted(data)
            failed = self._failing[account] = self._failing.get(account, 0) + 1
            # tried again after a pause that doubles while it keeps failing: an account the
            # gateway no longer knows must not spend the login's REST budget all day
            pause = timing.retry_interval * 2 ** min(failed - 1, 16)
            cap = max(FAILED_RECONCILE_RETRY_MAX, timing.retry_interval)
            self.later[account] = time.monotonic() + min(pause, cap)
            if failed == timing.alert_after_attempts:
                # the facts can no longer be checked against REST: a hub gap stays unhealed
                # and what the hub missed (a position opened meanwhile) is not seen
                shared.alerter.alert(
                    "critical",
                    f"account {account}: {failed} reconciles in a row failed ({data.error}); "
                    "its positions, orders and fills cannot be checked against REST — "
                    "still trying",
                    data.at,
                    account,
                )
            return
        failed = self._failing.pop(account, 0)
        if failed >= timing.alert_after_attempts:
            shared.alerter.alert(
                "warning",
                f"account {account}: reconciled again after {failed} failures",
                data.at,
                account,
            )
        skipped_kinds = {kind for kind, _ in data.skipped}
        self._report_malformed(data)
        self._report_unlisted(data)
        for other in data.others:
            self.unguarded(other)
        engine = shared.engines[account]
        state = engine.account(account)
        # What the hub said of an order or a position after the REST answers were asked for
        # is newer than them: REST's word is taken for everything else. (Refusing the whole
        # answer instead would never reconcile an account whose platform moves an order all
        # the time: every answer would race with one of its events.)
        touched = shared.hub_touched.get(account, {})
        newer = {key for key, at in touched.items() if at > data.started_at}
        shared.hub_touched[account] = {key: touched[key] for key in newer}
        events: list[Event] = []
        if data.account_update is not None:
            events.append(data.account_update)
        events += [
            trade for trade in reconciled_fills(data.trades, newer) if not _known_fill(state, trade)
        ]
        if state is not None:
            # A skipped record may be any of the known ones: what REST did not list is only
            # taken as gone when every record of that kind could be read.
            events += reconciled_orders(
                state, data.orders, data.at, newer, "order" not in skipped_kinds
            )
            events += reconciled_positions(
                state, data.positions, data.at, newer, "position" not in skipped_kinds
            )
        if newer:
            log.info(
                "account %s: %d hub event(s) arrived during the reconcile; the hub's word kept "
                "for them",
                account,
                len(newer),
            )
        applier = self._applier
        awaiting = self._enforcer.awaiting_reductions(account)
        for event in events:
            applier.fact(account, applier.monotonic(event))
        reconciled = applier.monotonic(Reconciled(at=data.at, account_id=account))
        applier.apply(account, reconciled, journal=False)
        if awaiting:
            hub_newer = {str(item) for kind, item in newer if kind == "position"}
            self._enforcer.note_rest_confirmed(account, awaiting, hub_newer)
        up_at = shared.user_hub_up_at
        if up_at is not None and data.started_at >= up_at:
            shared.orders_unheard.discard(account)  # REST asked while the hub was heard
        self.reconciles += 1
        self.last_reconcile_at[account] = data.at
        if account in self._ownership.lost:
            return  # not ours to enforce until the lease is held again
        first = account not in shared.live
        shared.live.add(account)
        self._enforcer.after_reconcile(account, data.started_at)
        if first:
            log.info("account %s reconciled and live (%s)", account, data.reason)
        self._on_live()

    def doubt(self, doubt: Doubt) -> None:
        """Engine thread: a user-hub record the converter doubted. Alerted once per account
        and trouble (the gateway may repeat it on every update: the count shows how often),
        critical when the record was skipped; and when only REST can tell what it means, the
        account is reconciled — every guarded account when the record did not say whose."""
        shared = self._shared
        owner = doubt.account_id
        accounts = list(shared.config.accounts) if owner is None else [owner]
        accounts = [account for account in accounts if account in shared.engines]
        if not accounts:
            return  # another account of the login: not one this daemon guards
        self.hub_doubts += 1
        key = (owner, doubt.what)
        if key not in self._doubts_alerted:
            if len(self._doubts_alerted) >= _DOUBTS_REMEMBERED:  # the daemon runs all day
                self._doubts_alerted.clear()
            self._doubts_alerted.add(key)
            whose = f"account {owner}" if owner is not None else "an unknown account"
            then = "; reconciling from REST" if doubt.reconcile else ""
            shared.alerter.alert(
                "critical" if doubt.skipped else "warning",
                f"{whose}: {doubt.target} record {doubt.record_id!r}: {doubt.what}{then}",
                doubt.at,
                owner,
            )
        if doubt.reconcile:
            for account in accounts:
                self.request(account, f"doubted {doubt.target}")

    def _report_unlisted(self, data: ReconcileData) -> None:
        """An account the login no longer lists (closed, or taken from this login) cannot be
        guarded: its hub events stop and REST may stop answering for it. Said once, loudly,
        and again when it is listed again (a light reconcile does not ask)."""
        account = data.account
        if data.unlisted and account not in self.unlisted:
            self.unlisted.add(account)
            self._shared.alerter.alert(
                "critical",
                f"account {account} is no longer listed by Account/search for this login "
                "(closed, or no longer this user's): it cannot be guarded — check the "
                "account on the platform",
                data.at,
                account,
            )
        elif data.account_update is not None and account in self.unlisted:
            self.unlisted.discard(account)
            self._shared.alerter.alert(
                "warning",
                f"account {account} is listed again by Account/search",
                data.at,
                account,
            )

    def unguarded(self, update: AccountUpdate) -> None:
        """Engine thread: the gateway spoke of an account of the login that the configuration
        does not list (Account/search at a full reconcile, or the user hub — a combine the firm
        opened during the day). Nothing guards it: said once, when it can trade, so a trader
        who trades it knows no limit is enforced there."""
        account = update.account_id
        if not update.can_trade or account in self.unguarded_said:
            return
        if len(self.unguarded_said) >= _DOUBTS_REMEMBERED:  # the daemon runs all day
            self.unguarded_said.clear()
        self.unguarded_said.add(account)
        name = f" {update.name!r}" if update.name else ""
        self._shared.alerter.alert(
            "warning",
            f"account {account}{name} can trade on this login but is not guarded (not in "
            "accounts: of the configuration): no rule is enforced on it — add it to accounts: "
            "and restart the daemon to guard it",
            update.at,
            account,  # about that account: not on a guarded account's page
        )

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
        self._shared.alerter.alert(
            "critical",
            f"account {data.account}: skipped {len(data.skipped)} malformed REST record(s) "
            f"in the {data.reason} reconcile — {kinds}{more}",
            data.at,
            data.account,
        )


#: the longest pause, in seconds, before a reconcile that keeps failing is tried again (the
#: pause doubles from ``retry_interval``): the hub-down poll's 10 s, so an account whose REST
#: comes back is read again as soon as a blind one would be, while an account the gateway no
#: longer knows costs 2 calls in 10 s, not 2 every reconcile gap all day
FAILED_RECONCILE_RETRY_MAX = 10.0

#: how many (account, trouble) alerts are remembered before they may be repeated
_DOUBTS_REMEMBERED = 1000


def _unlisted(
    account: int, accounts: list[AccountUpdate], skipped: list[tuple[str, str]], light: bool
) -> bool:
    """Account/search was asked, read in full, and did not list the account."""
    if light or any(kind == "account" for kind, _ in skipped):
        return False
    return all(a.account_id != account for a in accounts)


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


__all__ = ["Reconciler"]
