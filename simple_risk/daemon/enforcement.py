"""Enforcement: the book of intents the daemon is working, and their hand-off to the executor.

A firing's intents are started at once on the engine thread (act first); each is planned
from the account's facts of that moment (:func:`~simple_risk.daemon.planning.plan`), its
calls sent by the account's executor worker, and its result comes back through the queue.
An intent stays in the book until the facts show its target met; a failure is retried with
a short backoff, a refusal re-planned after a reconcile. Observe mode's gate is here too:
an observed account's calls are said, never sent.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.daemon.announce import Announcer
from simple_risk.daemon.calls import describe_call
from simple_risk.daemon.config import Timing
from simple_risk.daemon.context import Shared
from simple_risk.daemon.executor import POSITION_CALLS, Executor, IntentResult
from simple_risk.daemon.observe import Choice, would_words
from simple_risk.daemon.persistence import Persistence
from simple_risk.daemon.planning import plan, priority_of
from simple_risk.engine import Firing
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    is_met,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Tracked:
    """One intent the executor is working: in flight, awaiting confirmation, or waiting."""

    intent: Intent
    account: int
    state: str = "waiting"  # "waiting" | "in_flight" | "awaiting" | "observed"
    due: float = 0.0  # monotonic time a waiting intent is worked again
    failures: int = 0
    #: how many failures there had been at its last alert (0: none yet)
    alerted: int = 0
    sends: int = 0
    #: contracts whose position the last calls closed or reduced
    contracts: frozenset[str] = frozenset()
    #: a firing asked for it again after its calls were sent (the trader re-opened while the
    #: close was on its way): planned again as soon as their answer is in
    again: bool = False
    #: when its last calls were handed to the executor (engine clock): a firing of an event
    #: from before then asks for what they already do (two rules on one event)
    sent_at: datetime | None = None
    #: planned after a reconcile: the facts are REST's, not a hub's that may be behind
    rest_checked: bool = False
    #: the position its firings were about (item ``position:CONTRACT``): its contract and
    #: when the facts opened it (a reload's fresh engine keeps that); None when a firing about
    #: anything else (the account, a symbol) asked for it
    position: tuple[str, datetime] | None = None
    #: the rule and item of the firing that asked for it because a position is unprotected
    #: (None: any firing asked for another reason): judged on order facts, which the user hub
    #: may not have delivered
    protection: tuple[str, str] | None = None
    #: when it was held for REST's word on the account's orders (None: not held)
    held_at: datetime | None = None


#: facts a rule reads when it judges a position's protection by the working orders
PROTECTION_FACTS = ("position.protected", "position.unprotected")


#: intents whose calls may be sent again without changing the account twice: a close takes
#: whatever position there is, a cancel ends what still works ("already flat" and "order not
#: found" are done). Never a reduction: planned from a hub that is late, it reduces twice.
RESENDABLE = (PositionClosed, CancelOrder, NoWorkingOrders)


class Enforcer:
    """The intent book; every method runs on the engine thread."""

    def __init__(
        self,
        shared: Shared,
        executor: Executor,
        persistence: Persistence,
        announcer: Announcer,
        *,
        request_reconcile: Callable[[int, str], None],
        reconcile_soon: Callable[[int, float], None],
    ) -> None:
        self._shared = shared
        self.executor = executor
        self._persistence = persistence
        self._announcer = announcer
        self._request_reconcile = request_reconcile
        self._reconcile_soon = reconcile_soon
        self.book: dict[str, Tracked] = {}
        #: intents whose planning failed (alerted once each)
        self._unworkable: set[str] = set()

    @property
    def _timing(self) -> Timing:
        return self._shared.config.timing  # a reload may change it

    def adopt(self, key: str, intent: Intent, account: int) -> bool:
        """An intent the store holds open (restore): worked once the account is live."""
        if key in self.book:
            return False
        self.book[key] = Tracked(intent, account)
        return True

    def waiting_due(self) -> list[float]:
        """When each waiting intent is worked again (the engine thread wakes for them)."""
        return [t.due for t in self.book.values() if t.state == "waiting"]

    def work_due(self, now_mono: float) -> None:
        self.executor.revive()  # a worker that ended must not leave its jobs unread
        for key, tracked in list(self.book.items()):
            if tracked.state == "waiting" and now_mono >= tracked.due:
                self.work(key)

    def work_firings(self, firings: list[Firing]) -> None:
        """Start every intent of every firing. One that cannot be started (a bug, a store or
        planning error) is alerted and the others still start: a failing action never stops
        the firing's other actions."""
        for firing in firings:
            for intent in firing.intents:
                try:
                    self._add_intent(intent, firing)
                except Exception as exc:
                    log.exception("could not start %s of %s", intent.key, firing.rule_id)
                    self._shared.alerter.alert(
                        "critical",
                        f"account {firing.account}: {firing.rule_id} could not start "
                        f"{type(intent).__name__} ({type(exc).__name__}: {exc}); "
                        "its other actions go on",
                        firing.at,
                        firing.account,
                    )

    def _add_intent(self, intent: Intent, firing: Firing) -> None:
        if isinstance(intent, Alert):
            self._shared.alerter.alert(intent.level, intent.message, firing.at, firing.account)
            return
        tracked = self.book.get(intent.key)
        protection = _protection_of(firing)
        if tracked is not None and protection is None and tracked.protection is not None:
            # a breach that does not depend on the orders asks for it too: never held for them
            tracked.protection = None
            if tracked.held_at is not None:
                tracked.held_at = None
                self.work(intent.key)
                return
        if tracked is not None:
            # in flight or awaiting: never sent twice for the same facts. But a firing after
            # the calls were sent comes from a newer event — a position re-opened under a lock
            # while the close was on its way — and must not wait for the next reconcile.
            newer = tracked.sent_at is not None and firing.at > tracked.sent_at
            about = self._position_of(firing)
            if newer:
                tracked.position = about  # the newest facts say what it is for
            elif about != tracked.position:
                tracked.position = None  # asked for more than one position's sake
            if isinstance(intent, RESENDABLE) and newer:
                if tracked.state == "awaiting":
                    self.work(intent.key)
                elif tracked.state == "in_flight":
                    tracked.again = True
            return
        self.book[intent.key] = Tracked(
            intent, firing.account, position=self._position_of(firing), protection=protection
        )
        self.work(intent.key)

    def _position_of(self, firing: Firing) -> tuple[str, datetime] | None:
        """The position a firing about one (item ``position:CONTRACT``) saw."""
        item = firing.item or ""
        if not item.startswith("position:"):
            return None
        contract_id = item.removeprefix("position:")
        state = self._shared.engines[firing.account].account(firing.account)
        position = state.positions.get(contract_id) if state is not None else None
        return None if position is None else (contract_id, position.opened_at)

    def _replaced(self, tracked: Tracked) -> bool:
        """The position the intent's firings were about has ended and another is held in its
        contract now (the engine judges that one on its own): that breach was not this one's."""
        if tracked.position is None:
            return False
        contract_id, opened_at = tracked.position
        state = self._shared.engines[tracked.account].account(tracked.account)
        now = state.positions.get(contract_id) if state is not None else None
        return now is not None and now.opened_at != opened_at

    def work(self, key: str) -> None:
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
            tracked.due = time.monotonic() + self._timing.retry_interval * 4
            if key in self._unworkable:
                log.debug("intent %s still cannot be worked: %s", key, exc)
            else:
                log.exception("could not work intent %s", key)
                self._unworkable.add(key)
                self._shared.alerter.alert(
                    "critical",
                    f"account {tracked.account}: could not start "
                    f"{type(tracked.intent).__name__} ({type(exc).__name__}: {exc}); "
                    "the firing's other actions go on, this one is retried",
                    self._shared.clock.now(),
                    tracked.account,
                )

    def _send(self, key: str) -> None:
        tracked = self.book[key]
        account = tracked.account
        if account not in self._shared.live:
            tracked.state, tracked.due = (
                "waiting",
                time.monotonic() + self._timing.retry_interval,
            )
            return
        if self._replaced(tracked):
            # a firing on facts older than the position held now (a restart's journal showed
            # the one the last run closed; the trader opened this one meanwhile): closing it,
            # or cancelling its stop, would act on a breach nobody committed
            log.info(
                "%s: the position its firing was about has ended and another is held in %s: "
                "nothing to do for it",
                key,
                tracked.position[0] if tracked.position is not None else "",
            )
            self._finish(key, "done")
            return
        if tracked.protection is not None and self._held_for_orders(key, tracked):
            return
        planned = plan(tracked.intent, self._shared.engines[account].account(account))
        if not planned:
            self._finish(key, "done")
            return
        if self._shared.enforcement.observing(account):
            self._observe(key, tracked, planned)
            return
        calls = [self._tagged(account, call) for call in planned]
        touched = frozenset(
            str(call.body["contractId"])
            for call in calls
            if call.endpoint in POSITION_CALLS and "contractId" in call.body
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
                time.monotonic() + self._timing.retry_interval,
            )
            return
        behind = self._shared.hub_behind.get(account, {})
        if isinstance(tracked.intent, ReduceTo) and not tracked.rest_checked:
            stale = sorted(c for c in touched if c in behind)
            if stale:
                # The daemon reduced this position and REST confirmed it before the hub said
                # so: the size the hub reports now may be from before that reduction. Planned
                # from it, a reduction would take contracts away twice; REST says first.
                log.info(
                    "%s: the hub has not shown the last reduction of %s yet; planning it "
                    "after a reconcile",
                    key,
                    ", ".join(stale),
                )
                tracked.state = "awaiting"
                self._request_reconcile(account, "hub behind a reduction")
                return
        tracked.rest_checked = False
        tracked.contracts = touched
        started_at = self._shared.clock.now()
        self._persistence.store_call(lambda store: store.intent_started(key, started_at))
        tracked.state = "in_flight"
        tracked.again = False
        tracked.sent_at = started_at
        tracked.sends += 1
        self.executor.submit(account, key, calls, priority_of(tracked.intent))
        # said once the calls are on their way: a log line costs the lane its head start
        log.info("enforcing %s: %s", key, ", ".join(describe_call(c) for c in calls))

    def _held_for_orders(self, key: str, tracked: Tracked) -> bool:
        """A close for a position's lack of protection, while the account's orders may be
        stale (the user hub down or refused): held until a reconcile asked for after now has
        shown REST's working orders; then done only if the rule still finds the position
        unprotected (True: not to be sent now)."""
        account = tracked.account
        if tracked.held_at is not None and tracked.rest_checked:
            tracked.held_at = None
            assert tracked.protection is not None
            rule_id, item = tracked.protection
            if self._shared.engines[account].state_of(rule_id, account, item) == "firing":
                return False  # REST confirms: no protective stop
            log.info(
                "%s: REST shows %s protected after all (an order the hub did not deliver): "
                "nothing to do",
                key,
                item.removeprefix("position:"),
            )
            self._finish(key, "done")
            return True
        if account not in self._shared.orders_unheard:
            return False
        if tracked.held_at is None:
            tracked.held_at = self._shared.clock.now()
            log.info(
                "%s: the user hub may have missed the account's orders; reading them from "
                "REST before closing",
                key,
            )
        tracked.state = "awaiting"
        self._request_reconcile(account, "protection unheard")
        return True

    def _tagged(self, account: int, call: RestRequest) -> RestRequest:
        """An ``Order/place`` of the daemon's with a fresh tag of its own."""
        if call.endpoint is not Endpoint.ORDER_PLACE or call.body.get("customTag"):
            return call
        return RestRequest(
            call.endpoint, {**call.body, "customTag": self._shared.own_tags.new_tag(account)}
        )

    def _observe(self, key: str, tracked: Tracked, calls: list[RestRequest]) -> None:
        """Observe mode's gate: the calls enforcing would send are said, never sent. The
        intent stays open (``observed``) until its target is met or enforcement is turned on,
        and is said once."""
        tracked.state, tracked.due = "observed", math.inf
        account = tracked.account
        rule = self._announcer.rule_of(key, account)
        state = self._shared.engines[account].account(account)
        for call, words in zip(calls, would_words(calls, state), strict=True):
            self._announcer.observed_call(account, key, describe_call(call), words, rule)

    def set_enforcement(self, account: int, enforce: bool, source: str) -> Choice:
        """Engine thread only: enforce the account from now on, or only observe it; returns
        the previous choice. Turning enforcement on reconciles the account first, then works
        every intent it holds open (a breach still standing is enforced)."""
        before = self._shared.enforcement.choose(account, enforce, source)
        if enforce:
            for tracked in self.book.values():
                if tracked.account == account and tracked.state == "observed":
                    tracked.state = "awaiting"  # re-planned after the reconcile
            self._request_reconcile(account, "enforcement on")
        self._shared.status_due = True
        return before

    def on_result(self, result: IntentResult) -> None:
        self._shared.observer.on_result(result)
        self._announcer.result(result, tracked=result.key in self.book)
        tracked = self.book.get(result.key)
        if tracked is None:
            return
        timing = self._timing
        self._reconcile_soon(result.account, timing.reconcile_after_enforcement)
        if result.outcome == "done":
            tracked.state = "awaiting"
            self.confirm(result.account)
            if tracked.again and result.key in self.book:
                self.work(result.key)  # asked again while in flight: planned from the facts now
            return
        tracked.failures += 1
        if result.outcome == "gave_up" and tracked.failures < 2:
            # A refusal is final for that request, but it was planned from facts that may be
            # a few milliseconds old (an order that just filled cannot be cancelled): re-plan
            # from REST now, and alert when the refusal persists after that.
            tracked.state = "awaiting"
            self._request_reconcile(result.account, "enforcement refused")
        elif result.outcome == "gave_up":
            # Refused again once REST had said what the account holds: the gateway means it
            # (an account it no longer lets trade, a closed market). Sent again at once, the
            # call and its reconcile would cost five REST calls every reconcile gap, all day;
            # it waits instead, ever longer, while the post-call reconcile refreshes the facts.
            pause = timing.retry_interval * 2 ** min(tracked.failures - 2, 16)
            cap = max(REFUSED_RETRY_MAX, timing.retry_interval)
            tracked.state, tracked.due = "waiting", time.monotonic() + min(pause, cap)
        elif result.outcome == "unsure":
            # a call may have acted without an answer (a partial close whose connection
            # ended): planned again from the hub's facts it could be sent twice if the hub is
            # late too, so only after REST says what the position is now
            tracked.state = "awaiting"
            self._request_reconcile(result.account, "enforcement outcome unknown")
        else:
            # short and capped: each attempt is already bounded by the enforcement deadline,
            # and exposure is open while it waits
            backoff = timing.retry_interval * min(2 ** (tracked.failures - 1), 4)
            if result.retry_in > 0:
                # the gateway said when it takes calls again: not a moment later than that
                backoff = min(backoff, result.retry_in)
            tracked.state, tracked.due = "waiting", time.monotonic() + backoff
        failing = (result.outcome == "gave_up" and tracked.failures >= 2) or (
            tracked.failures >= timing.alert_after_attempts
        )
        # loud at once, then each time the failures double: a refusal that lasts an hour is
        # never silent, and does not push a critical alert (and a phone notification) every
        # few seconds, crowding out every other alert
        if failing and (not tracked.alerted or tracked.failures >= 2 * tracked.alerted):
            tracked.alerted = tracked.failures
            self._shared.alerter.alert(
                "critical",
                f"enforcement of {result.key} failed {tracked.failures} time(s): {result.error}; "
                "still trying",
                result.at,
                result.account,
            )

    def confirm(self, account: int) -> None:
        """Finish every tracked intent of the account whose target the facts now show."""
        state = self._shared.engines[account].account(account)
        if state is None:
            return
        for key, tracked in list(self.book.items()):
            waiting = tracked.account == account and tracked.state != "in_flight"
            if waiting and is_met(tracked.intent, state):
                self._finish(key, "done")

    def after_reconcile(self, account: int, started_at: datetime | None = None) -> None:
        """The facts are authoritative now: re-plan what is still unmet and not in flight.
        An intent held for REST's orders waits for a reconcile started after it was held."""
        for key, tracked in list(self.book.items()):
            if tracked.account != account or tracked.state == "in_flight":
                continue
            held = tracked.held_at
            if held is not None and (started_at is None or started_at < held):
                continue
            if tracked.state == "awaiting" or time.monotonic() >= tracked.due:
                tracked.rest_checked = True
                self.work(key)

    def awaiting_reductions(self, account: int) -> dict[str, frozenset[str]]:
        """The account's reductions whose calls are done and whose effect the facts do not
        show yet: key → the contracts they reduced."""
        return {
            key: tracked.contracts
            for key, tracked in self.book.items()
            if tracked.account == account
            and tracked.state == "awaiting"
            and isinstance(tracked.intent, ReduceTo)
        }

    def note_rest_confirmed(
        self, account: int, awaiting: dict[str, frozenset[str]], hub_newer: set[str]
    ) -> None:
        """After a reconcile: the reductions of ``awaiting`` it finished were confirmed by
        REST before the hub showed them (a hub the reconcile kept the word of — it spoke of the
        position after REST was asked — is not behind). Until the hub shows those sizes, a size
        it reports for the position may be from before the reduction."""
        state = self._shared.engines[account].account(account)
        if state is None:
            return
        for key, contracts in awaiting.items():
            if key in self.book:
                continue
            for contract in contracts - hub_newer:
                held = state.positions.get(contract)
                size = held.size if held is not None else 0
                self._shared.hub_behind.setdefault(account, {})[contract] = size

    def _finish(self, key: str, state: str) -> None:
        self.book.pop(key, None)
        self._unworkable.discard(key)
        self._shared.status_due = True
        final: Literal["done", "gave_up"] = "done" if state == "done" else "gave_up"
        finished_at = self._shared.clock.now()
        self._persistence.store_call(lambda store: store.intent_finished(key, finished_at, final))


#: the longest pause, in seconds, before a call the gateway keeps refusing is sent again
REFUSED_RETRY_MAX = 10.0


def _protection_of(firing: Firing) -> tuple[str, str] | None:
    """The rule and item of a firing that judged a position's protection (its ``when`` read
    whether stops protect it), else None."""
    judged = any(name.startswith(PROTECTION_FACTS) for name in firing.values)
    if firing.kind != "rule" or not judged:
        return None
    return firing.rule_id, firing.item


__all__ = ["Enforcer", "Tracked"]
