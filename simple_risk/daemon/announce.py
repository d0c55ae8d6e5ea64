"""What the daemon tells people: firings, results, calls, admin actions and alerts, on the
log, ``monitor``, the observer (the demo console, tests), the notification channels and
``status.json``.

Every other part of the runtime reports through here and never formats or posts a message
itself, so what a trader is told about one firing reads the same on every channel.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from simple_risk.adapters.topstepx.secrets import redact_text
from simple_risk.daemon.calls import call_succeeded, call_words
from simple_risk.daemon.control.server import Broadcaster
from simple_risk.daemon.control.views import RECENT_FIRINGS, firing_record
from simple_risk.daemon.executor import IntentResult
from simple_risk.daemon.notifications import Notifications
from simple_risk.daemon.notify import event_text, firing_text, result_severity, result_text
from simple_risk.daemon.observe import Enforcement
from simple_risk.engine import Engine, Firing
from simple_risk.engine.codec import CodecError, event_to_json
from simple_risk.engine.events import Event, TradeFill

log = logging.getLogger(__name__)

#: alerts kept per account (and of the daemon itself) for the account's page
ALERTS_KEPT = 50
#: an alert raised before the trading day began still shows this long (one raised at 16:58
#: is not gone from ``status`` two minutes later, at the day's reset)
ALERT_SHOWN_FOR = timedelta(hours=1)

#: keeps one alert in the store: (at, level, message, account)
Keeper = Callable[[datetime, str, str, "int | None"], None]


def named(text: str, account: int | None, several: bool) -> str:
    """A notification's text, naming its account when the daemon guards several and the
    words do not already say whose it is (a phone shows the text alone)."""
    if account is None or not several or str(account) in text:
        return text
    return f"account {account}: {text}"


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


class FillNews:
    """Which hub fills are news to tell (``monitor``, the demo console): the live gateway
    sends a position's opening fill again, unchanged, when the position closes (an update of
    that half-turn), and re-sends fills after a reconnect. Told again, "buy 1 MNQ" right
    after the close reads as a new buy. A fill is news the first time, and again only when
    it comes back voided or un-voided. The engine is still given every copy (and the journal
    keeps it): this decides only what people are told. Bounded: the daemon runs for weeks."""

    KEPT = 20_000

    def __init__(self) -> None:
        self._told: OrderedDict[tuple[int, int], bool] = OrderedDict()

    def is_news(self, fill: TradeFill) -> bool:
        key = (fill.account_id, fill.trade_id)
        told = self._told.get(key)
        if told is not None and told == fill.voided:
            return False
        self._told[key] = fill.voided
        self._told.move_to_end(key)
        if len(self._told) > self.KEPT:
            self._told.popitem(last=False)
        return True


class Alerter:
    """Loud alerts: the log at ERROR/CRITICAL, the status output, ``monitor``, the
    notification webhook (posted from its own thread: an alert never waits for HTTP) and the
    store, for ``engine history`` (written by the store writer: an alert never waits for the
    database either).

    ``status`` and the dashboard show what is wrong *now*: the alerts of the current trading
    day, and those of the last :data:`ALERT_SHOWN_FOR`; older ones are counted there and
    read in ``engine history --kind alert``."""

    def __init__(
        self,
        notifier: Notifications | None,
        observer: Observer,
        monitor: Broadcaster | None = None,
        *,
        several: bool = False,
    ) -> None:
        self._notifier = notifier
        #: the daemon guards several accounts: a notification names the one it is about
        self._several = several
        self._observer = observer
        self._monitor = monitor
        self.recent: list[dict[str, Any]] = []
        #: the latest alerts of each account (None: the daemon's own), so one account's alerts
        #: never push another's out of what that account's page shows
        self._by_account: dict[int | None, deque[tuple[int, dict[str, Any]]]] = {}
        self._raised = 0
        self._lock = threading.Lock()
        #: writes an alert to the store (:meth:`keep_with`); until then alerts wait here
        self._keeper: Keeper | None = None
        self._unkept: deque[tuple[datetime, str, str, int | None]] = deque(maxlen=ALERTS_KEPT)

    def keep_with(self, keeper: Keeper) -> None:
        """Keep every alert in the store from now on, and those raised before the store
        writer started (a restore's alerts), in the order they were raised."""
        with self._lock:
            self._keeper = keeper
            waiting = list(self._unkept)
            self._unkept.clear()
        for alert in waiting:
            keeper(*alert)

    def alert(self, level: str, message: str, at: datetime, account: int | None = None) -> None:
        """Raise an alert; ``account`` is the guarded account it is about (None: the daemon's
        own, every account's), so one account's page and ``monitor --account`` show its own
        alerts and the daemon's, not another account's. A secret in the words (an exception's
        text may quote a URL with a token) is hidden everywhere the alert goes."""
        message = redact_text(message)
        logger_level = logging.CRITICAL if level == "critical" else logging.ERROR
        if level in ("info", "warning"):
            logger_level = logging.WARNING
        log.log(logger_level, "ALERT %s: %s", level, message)
        entry: dict[str, Any] = {"at": at.isoformat(), "level": level, "message": message}
        if account is not None:
            entry["account"] = account
        with self._lock:
            self.recent = [*self.recent[-49:], entry]
            self._raised += 1
            kept = self._by_account.get(account)
            if kept is None:
                kept = self._by_account[account] = deque(maxlen=ALERTS_KEPT)
            kept.append((self._raised, entry))
            keeper = self._keeper
            if keeper is None:
                self._unkept.append((at, level, message, account))
        if keeper is not None:
            keeper(at, level, message, account)
        self._observer.on_alert(level, message)
        text = f"Alert: {message}"
        if self._monitor is not None and self._monitor.active:
            self._monitor.publish(
                "alert",
                {"at": at, "account": account, "severity": level, "text": text, "data": entry},
            )
        if self._notifier is not None:
            self._notifier.post(level, named(text, account, self._several))

    def remember(self, kept: list[tuple[datetime, str, str, int | None]]) -> None:
        """Put back alerts a previous run raised (the store keeps them), oldest first and
        older than any of this run's: after a restart ``status`` and the dashboard still show
        the trading day's alerts. Neither kept nor pushed again."""
        with self._lock:
            theirs: dict[int | None, list[tuple[int, dict[str, Any]]]] = {}
            earlier: list[dict[str, Any]] = []
            for number, (at, level, message, account) in enumerate(kept, start=-len(kept)):
                entry: dict[str, Any] = {"at": at.isoformat(), "level": level, "message": message}
                if account is not None:
                    entry["account"] = account
                earlier.append(entry)
                theirs.setdefault(account, []).append((number, entry))
            self.recent = [*earlier, *self.recent][-50:]
            for account, entries in theirs.items():
                mine = self._by_account.get(account, ())
                self._by_account[account] = deque([*entries, *mine], maxlen=ALERTS_KEPT)

    def recent_for(self, account: int, count: int) -> list[dict[str, Any]]:
        """The latest ``count`` alerts about ``account`` or the daemon itself, oldest first
        (none about another account)."""
        with self._lock:
            chosen = [*self._by_account.get(account, ()), *self._by_account.get(None, ())]
        return [entry for _, entry in sorted(chosen, key=lambda kept: kept[0])[-count:]]

    def current(
        self, count: int, now: datetime, day_start: datetime, account: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The latest ``count`` alerts still current at ``now`` (raised since ``day_start``,
        the trading day's start, or within :data:`ALERT_SHOWN_FOR`), oldest first, and how
        many older ones are kept in memory (``engine history`` has them all); of
        ``account`` and the daemon itself, or of every account when None."""
        if account is None:
            with self._lock:
                kept = list(self.recent)
        else:
            kept = self.recent_for(account, ALERTS_KEPT * 2)
        since = min(day_start, now - ALERT_SHOWN_FOR)
        shown = [entry for entry in kept if datetime.fromisoformat(entry["at"]) >= since]
        return shown[-count:], len(kept) - len(shown)


class Announcer:
    """Tells firings, events, results and calls, and keeps the recent firings that
    ``status`` and ``explain`` show (bounded: the daemon runs all day)."""

    def __init__(
        self,
        *,
        engines: Mapping[int, Engine],
        enforcement: Enforcement,
        observer: Observer,
        monitor: Broadcaster,
        notifier: Notifications,
        now: Any,
        firings_kept: int,
    ) -> None:
        self._engines = engines
        self._enforcement = enforcement
        self._observer = observer
        self._monitor = monitor
        self._notifier = notifier
        self._now = now
        #: the newest firings (bounded: the daemon runs all day)
        self.firings: deque[Firing] = deque(maxlen=firings_kept)
        self.firings_total = 0
        self._recent_firings: dict[int, deque[dict[str, Any]]] = {}
        self._last_firings: dict[tuple[int, str], dict[str, Any]] = {}

    def note_firing(self, firing: Firing) -> None:
        """Count the firing among the daemon's firings: before its intents are worked, so
        nobody sees an enforcement whose firing the daemon does not show yet."""
        self.firings.append(firing)
        self.firings_total += 1

    def tell_firing(self, firing: Firing, *, noted: bool = False) -> None:
        """Keep it for status, tell ``monitor``, the observer and the log (and note it, unless
        :meth:`note_firing` did already)."""
        if not noted:
            self.note_firing(firing)
        self._remember_firing(firing)
        log.warning(
            "FIRING %s account=%s %s: %s",
            firing.rule_id,
            firing.account,
            firing.item,
            firing.message,
        )
        self._observer.on_firing(firing)

    def recent_firings(self, account: int) -> list[dict[str, Any]]:
        return list(self._recent_firings.get(account, ()))

    def last_firing(self, account: int, rule: str) -> dict[str, Any] | None:
        return self._last_firings.get((account, rule))

    def _remember_firing(self, firing: Firing) -> None:
        """Keep the firing for ``status``/``explain`` and tell ``monitor`` and the webhook.

        Bounded: the last :data:`RECENT_FIRINGS` per account and the last one per (account,
        rule)."""
        engine = self._engines.get(firing.account)
        zone = engine.calendar.tz if engine is not None else None
        text = firing_text(firing, zone)
        if self._enforcement.observing(firing.account):
            text = f"OBSERVE (not enforced): {text}"
        record = firing_record(firing, text)
        recent = self._recent_firings.get(firing.account)
        if recent is None:
            recent = self._recent_firings[firing.account] = deque(maxlen=RECENT_FIRINGS)
        recent.append(record)
        if firing.kind != "lockout":  # a lockout refusing exposure is not the rule's evaluation
            self._last_firings[(firing.account, firing.rule_id)] = record
        if self._monitor.active:
            self._monitor.publish(
                "firing",
                {
                    "at": firing.at,
                    "account": firing.account,
                    "severity": firing.severity,
                    "text": text,
                    "data": record,
                },
            )
        self._notifier.post(firing.severity, named(text, firing.account, len(self._engines) > 1))

    def event(self, event: Event) -> None:
        """A fact event on ``monitor`` (quotes are never streamed)."""
        if not self._monitor.active:
            return
        text = event_text(event)
        if text is None:
            return
        try:
            data: dict[str, Any] = dict(event_to_json(event))
        except CodecError:
            data = {"kind": type(event).__name__}
        self._monitor.publish(
            "event",
            {
                "at": event.at,
                "account": getattr(event, "account_id", None),
                "severity": "info",
                "text": text,
                "data": data,
            },
        )

    def result(self, result: IntentResult, *, tracked: bool) -> None:
        """An intent's result; ``tracked``: the intent is still in the book (its rule is
        named then)."""
        rule = self.rule_of(result.key, result.account) if tracked else None
        text = result_text(result, rule)
        severity = result_severity(result)
        if self._monitor.active:
            self._monitor.publish(
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
        self._notifier.post(severity, named(text, result.account, len(self._engines) > 1))

    def rule_of(self, key: str, account: int) -> str | None:
        for record in reversed(self._recent_firings.get(account, ())):
            if key in record["intent_keys"]:
                return str(record["rule"])
        return None

    def call(self, account: int, call: str, outcome: str) -> None:
        """An executor worker made a REST call (runs on that worker's thread)."""
        self._observer.on_call(account, call, outcome)
        if self._monitor.active:
            ok = call_succeeded(outcome)
            self._monitor.publish(
                "call",
                {
                    "at": self._now(),
                    "account": account,
                    "severity": "info" if ok else "warning",
                    "text": f"Call: {call} → {call_words(outcome)}",
                    "data": {"call": call, "outcome": outcome},
                },
            )

    def observed_call(
        self, account: int, key: str, call: str, words: str, rule: str | None
    ) -> None:
        """Observe mode: a call enforcing would have sent, said and never sent."""
        why = f" ({rule})" if rule else ""
        log.warning("OBSERVE account %s: would %s%s (not sent)", account, words, why)
        self._observer.on_call(account, call, "observed")
        if self._monitor.active:
            self._monitor.publish(
                "call",
                {
                    "at": self._now(),
                    "account": account,
                    "severity": "warning",
                    "text": f"Would {words}{why} — observe mode, not sent",
                    "data": {
                        "call": call,
                        "outcome": "observed",
                        "would": words,
                        "rule": rule,
                        "key": key,
                    },
                },
            )

    def admin(self, text: str, data: Mapping[str, Any], account: int | None = None) -> None:
        """An admin action (a reload, a lockout cleared) on ``monitor`` and the webhook."""
        if self._monitor.active:
            self._monitor.publish(
                "admin",
                {
                    "at": self._now(),
                    "account": account,
                    "severity": "warning",
                    "text": text,
                    "data": dict(data),
                },
            )
        self._notifier.post("warning", named(text, account, len(self._engines) > 1))


class StatusFile:
    """``status.json``, written atomically every second (``engine status`` without a socket
    and the crash test read it; it never holds a secret). A write that fails (a full disk, a
    data directory made read-only) is said once, and the first that succeeds again: not two
    warnings a second for as long as the disk stays full."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: why the last write failed, while writes fail
        self.failing: str | None = None

    def write(self, status: Mapping[str, object]) -> None:
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(status, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            if self.failing is None:
                log.warning(
                    "cannot write %s: %s (said once, until it is written again)", self.path, exc
                )
            self.failing = str(exc)
            return
        if self.failing is not None:
            self.failing = None
            log.warning("%s is written again", self.path)


__all__ = ["Alerter", "Announcer", "Observer", "QuietObserver", "StatusFile"]
