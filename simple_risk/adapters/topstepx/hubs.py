"""SignalR clients for ``/hubs/user`` and ``/hubs/market`` on signalrcore 1.0.2.

Everything here answers a known trap (reference §9–§12):

* the JSON protocol is forced to version 1 (1.0.2 would send 0) and parses non-integer numbers
  as exact ``Decimal``;
* the token goes in the ``access_token`` query *and* the token factory (``Authorization``);
* subscriptions are sent only after ``on_open`` (``start()`` returns before the handshake) and
  again after every automatic reconnect (server state is per connection);
* handlers run on signalrcore's receive thread, so they only convert and enqueue — a sink
  ``queue.Queue`` the daemon drains; conversion never raises (see ``Converter``);
* a :mod:`watchdog` tears the connection down and builds a new one with a fresh token when no
  frame (message or ping) arrives for a while, when 1.0.2 is stuck reconnecting after a failed
  first retry, or when the session token was refreshed — in that last case make-before-break:
  the old connection keeps delivering until the new one has its subscriptions acknowledged
  and a short grace has passed, each payload arriving on both is passed on once, and events
  of a retired connection are ignored;
* a connection the server ends as it opens (a Close "Connection closed with an error." right
  after the handshake) is a failed attempt, and so is one signalrcore gives up (a refused
  handshake): signalrcore would reconnect at once, for ever; the watchdog builds the next
  one after the growing rebuild backoff, and the hub is said down;
* ``stop()`` of a signalrcore connection blocks until the server sends something, so retired
  connections are stopped on a background thread;
* every state change is put on the sink as :class:`ConnectionChanged`; ``gap=True`` tells the
  daemon events may have been missed and it must reconcile from REST. One outage is one gap,
  said when the hub is heard again (a connection rebuilt or reconnected, a first one after
  refused attempts): the states on the way down (disconnected, reconnecting, logged out, a
  subscription refused) say the hub is deaf, not what it missed — a reconcile then would read
  a state the hub still cannot follow, and the return's reconcile would read it again;
* ``GatewayLogout`` (sent by the live hubs, meaning undocumented — reference §14.4) is logged
  and treated as a gap: the watchdog rebuilds the connection, and the rebuilt connection's gap
  makes the daemon reconcile;
* live quotes often lack ``lastPrice`` and nothing is pushed on subscribe, so a quote
  subscription also subscribes the contract's market trades, which carry the last price.
"""

from __future__ import annotations

import abc
import itertools
import logging
import queue
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from signalrcore.hub_connection_builder import HubConnectionBuilder
from signalrcore.types import HttpTransportType

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.exactjson import dumps_exact
from simple_risk.adapters.topstepx.hubconverter import MARKET_TARGETS, USER_TARGETS, Converter
from simple_risk.adapters.topstepx.hubwire import WireProtocol
from simple_risk.adapters.topstepx.secrets import install_log_filter, redact_text
from simple_risk.adapters.topstepx.watchdog import (
    HubHealth,
    Rebuild,
    TransportState,
    Watchdog,
    WatchdogConfig,
    diagnose,
)
from simple_risk.engine.events import ConnectionChanged, Event

log = logging.getLogger(__name__)
install_log_filter(__name__, "SignalRCoreClient")

TOPSTEPX_USER_HUB = "https://rtc.topstepx.com/hubs/user"
TOPSTEPX_MARKET_HUB = "https://rtc.topstepx.com/hubs/market"

# ConnectionChanged.state values
CONNECTED = "connected"
RECONNECTING = "reconnecting"
RECONNECTED = "reconnected"
REFRESHED = "refreshed"
DISCONNECTED = "disconnected"
SUBSCRIBE_FAILED = "subscribe_failed"
STOPPED = "stopped"
LOGGED_OUT = "logged_out"

#: the hub event real clients register on both hubs (§14.4)
LOGOUT_TARGET = "GatewayLogout"


class TokenSource(Protocol):
    """Where hubs get their session token (the REST client)."""

    token_generation: int

    def token(self) -> str: ...

    def token_expires_in(self) -> float: ...


class HubRecorder(Protocol):
    """Receives every hub invocation as received (see :mod:`simple_risk.adapters.replay`)."""

    def record_hub(self, at: datetime, hub: str, target: str, arguments: object) -> None: ...


@dataclass(frozen=True, slots=True)
class HubConfig:
    """signalrcore keep-alive/reconnect settings and the watchdog's limits."""

    keep_alive_interval: float = 15.0  # client pings after this much outbound silence
    reconnect_interval: float = 1.0  # signalrcore's own (raw) reconnect pause
    rebuild_backoff_base: float = 0.5  # after a failed rebuild, wait up to this, doubling
    rebuild_backoff_max: float = 15.0
    #: how long stop() waits for signalrcore's blocking close (it may take its socket
    #: timeout); the daemon closes both hubs in parallel, so a stop stays under 2 s
    stop_timeout: float = 1.0
    handover_grace: float = 2.0  # make-before-break: both connections deliver this long
    #: a connection the server ends sooner than this after it opened is a failed attempt:
    #: the next one waits the rebuild backoff (signalrcore would reconnect at once, forever)
    stable_after: float = 5.0
    verify_ssl: bool = True
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)


@dataclass(slots=True)
class _Link:
    """One signalrcore connection and what we know about it."""

    generation: int
    connection: Any
    token_generation: int
    kind: Rebuild
    started: float
    last_seen: float
    opened: bool = False
    #: when its last handshake completed (monotonic), None before the first
    opened_at: float | None = None
    acks_pending: int = 0
    #: the server answered one of its subscriptions with an error
    refused: bool = False
    state: TransportState = TransportState.CONNECTING
    state_since: float = 0.0


def _with_token(url: str, token: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "access_token"]
    query.append(("access_token", token))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _transport_state(connection: Any) -> TransportState:
    transport = getattr(connection, "transport", None)
    state = getattr(transport, "state", None)
    name = getattr(state, "name", None)
    try:
        return TransportState(name) if name else TransportState.CONNECTING
    except ValueError:
        return TransportState.CONNECTING


class HubClient(abc.ABC):
    """A supervised hub connection; see the module docstring. Use the two subclasses."""

    hub = "hub"
    targets: Sequence[str] = ()

    def __init__(
        self,
        url: str,
        tokens: TokenSource,
        sink: queue.Queue[Event],
        *,
        converter: Converter | None = None,
        clock: ReceiveClock | None = None,
        config: HubConfig | None = None,
        recorder: HubRecorder | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._tokens = tokens
        self._sink = sink
        self.clock = clock or (converter.clock if converter is not None else ReceiveClock())
        self.converter = converter or Converter(self.clock)
        self.config = config or HubConfig()
        self._recorder = recorder
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._send_lock = threading.Lock()
        self._generations = itertools.count(1)
        self._current: _Link | None = None  # newest connection
        self._accepting = 0  # events from older generations are ignored
        self._retiring: list[_Link] = []
        # make-before-break handover: (target, payload) -> arrivals per generation
        self._overlap: dict[tuple[str, str], dict[int, int]] = {}
        self._handover_until: float | None = None
        self._subscriptions: list[tuple[str, list[object]]] = []
        self._watchdog: Watchdog | None = None
        self._stopped = False
        self._ever_connected = False
        self._next_attempt = 0.0
        self._failures = 0
        self._rng = random.Random()
        self._last_state = ""
        self._logout_pending = False
        #: subscriptions refused in a row (the connection is rebuilt to subscribe again, with
        #: a backoff that grows with them; the opens in between do not reset it)
        self._refusals = 0
        self._resubscribe_at: float | None = None
        self.dropped = 0  # events the sink refused (a bounded queue was full)
        self.rebuilds = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (or keep trying in the background) and start the watchdog; never blocks long."""
        with self._lock:
            self._stopped = False
        self._rebuild("starting", Rebuild.AFTER_GAP)
        self._watchdog = Watchdog(self.hub, self.check, self.config.watchdog.check_interval)
        self._watchdog.start()

    def stop(self) -> None:
        """Stop the watchdog and every connection (waits at most ``stop_timeout``)."""
        with self._lock:
            self._stopped = True
        if self._watchdog is not None:
            self._watchdog.stop()  # first: no rebuild may start a connection after this
        with self._lock:
            links = [link for link in [self._current, *self._retiring] if link is not None]
            self._current = None
            self._retiring = []
        stoppers = [self._stop_in_background(link) for link in links]
        deadline = time.monotonic() + self.config.stop_timeout
        for thread in stoppers:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._emit(STOPPED, "client stopped")

    def wait_connected(self, timeout: float) -> bool:
        """Block until the current connection is open and its subscriptions acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ready():
                return True
            time.sleep(0.02)
        return self.is_ready()

    def is_ready(self) -> bool:
        with self._lock:
            link = self._current
            return (
                link is not None
                and link.opened
                and link.acks_pending == 0
                and _transport_state(link.connection) is TransportState.CONNECTED
            )

    # -- subscriptions --------------------------------------------------------------------------

    def _subscribe(self, method: str, arguments: list[object]) -> None:
        """Remember a subscription and send it now if a connection is open."""
        with self._lock:
            if (method, arguments) in self._subscriptions:
                return
            self._subscriptions.append((method, arguments))
            link = self._current
        if link is not None and link.opened:
            self._invoke(link, method, arguments)

    def _invoke(
        self, link: _Link, method: str, arguments: list[object], *, counted: bool = False
    ) -> None:
        """Send one subscription; its Completion (or error) counts down ``acks_pending``."""
        if not counted:
            with self._lock:
                link.acks_pending += 1

        def on_completion(_message: Any) -> None:
            self._acknowledged(link)

        try:
            with self._send_lock:
                link.connection.invoke(method, list(arguments), on_invocation=on_completion)
        except Exception as error:  # HubConnectionError, socket errors: the watchdog heals it
            with self._lock:
                link.acks_pending -= 1
            log.warning("%s hub: %s not sent: %s", self.hub, method, error)

    def _acknowledged(self, link: _Link) -> None:
        with self._lock:
            link.acks_pending = max(link.acks_pending - 1, 0)
            if link.acks_pending == 0 and link is self._current:
                if not link.refused:
                    self._refusals = 0
                self._switch_to(link)

    def _send_subscriptions(self, link: _Link) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
            # count them all first: an early Completion must not make the link look ready
            link.acks_pending += len(subscriptions)
        for method, arguments in subscriptions:
            self._invoke(link, method, arguments, counted=True)
        if not subscriptions:
            self._acknowledged(link)

    # -- connection building --------------------------------------------------------------------

    def _build(self, generation: int, token: str, kind: Rebuild, token_gen: int) -> _Link:
        now = self._monotonic()
        link_box: list[_Link] = []

        def on_frame() -> None:
            if link_box:
                link_box[0].last_seen = self._monotonic()

        options: dict[str, Any] = {
            "access_token_factory": lambda: token,
            "skip_negotiation": True,
            "transport": HttpTransportType.web_sockets,
            "verify_ssl": self.config.verify_ssl,
        }
        connection = (
            HubConnectionBuilder()
            .with_url(_with_token(self.url, token), options=options)
            .with_hub_protocol(
                WireProtocol(on_frame, lambda why: self._unreadable(link_box), self.targets)
            )
            .with_automatic_reconnect(
                {
                    "type": "raw",
                    "keep_alive_interval": self.config.keep_alive_interval,
                    "reconnect_interval": self.config.reconnect_interval,
                    "max_attempts": None,
                }
            )
            .build()
        )
        link = _Link(
            generation=generation,
            connection=connection,
            token_generation=token_gen,
            kind=kind,
            started=now,
            last_seen=now,
            state_since=now,
        )
        link_box.append(link)
        for target in self.targets:
            connection.on(target, self._handler(link, target))
        connection.on_open(lambda: self._opened(link))
        connection.on_reconnect(lambda: self._reconnected(link))
        connection.on_close(lambda: self._closed(link))
        connection.on_error(lambda message: self._error(link, message))
        return link

    def _rebuild(self, reason: str, kind: Rebuild) -> None:
        """Build and start a new connection (on the watchdog thread or at start)."""
        with self._lock:
            if self._stopped:
                return
            if self._monotonic() < self._next_attempt:
                return
            old = self._current
        if kind is Rebuild.AFTER_GAP and old is not None:
            self._emit(RECONNECTING, reason)
        try:
            token = self._tokens.token()
            token_gen = self._tokens.token_generation
        except Exception as error:  # REST trouble: try again after a backoff
            self._failed_attempt(f"no token: {error}")
            return
        generation = next(self._generations)
        link = self._build(generation, token, kind, token_gen)
        log.info("%s hub: building connection %d (%s)", self.hub, generation, reason)
        self.rebuilds += 1
        with self._lock:
            if self._stopped:
                return
            self._current = link
            if kind is Rebuild.AFTER_GAP:
                self._accepting = generation
                self._handover_until = None
                self._overlap.clear()
                for stale in [*self._retiring, *([old] if old is not None else [])]:
                    self._retire(stale)
            elif old is not None:
                self._retiring.append(old)  # keeps delivering until the switch
        try:
            link.connection.start()
            self._watch_reconnects(link)
            with self._lock:
                stopped = self._stopped
            if stopped:  # stop() ran while this connection was starting
                self._stop_in_background(link)
                return
        except Exception as error:
            self._failed_attempt(f"connect failed: {type(error).__name__}: {error}")
            link.state = TransportState.DISCONNECTED
            with self._lock:
                if kind is Rebuild.REFRESH and old is not None and self._current is link:
                    # the old connection still works: keep it and retry the refresh later
                    self._current = old
                    if old in self._retiring:
                        self._retiring.remove(old)
            self._stop_in_background(link)
            return

    def _backoff(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failures in a row: doubling from the base up to
        the maximum, jittered over its upper half (hubs of many daemons do not retry in step)."""
        ceiling = min(
            self.config.rebuild_backoff_max,
            self.config.rebuild_backoff_base * 2 ** (attempts - 1),
        )
        return self._rng.uniform(ceiling / 2, ceiling)

    def _failed_attempt(self, detail: str) -> None:
        with self._lock:
            self._failures += 1
            delay = self._backoff(self._failures)
            self._next_attempt = self._monotonic() + delay
        log.warning("%s hub: %s; next attempt in %.2fs", self.hub, redact_text(detail), delay)

    def _retire(self, link: _Link) -> None:
        with self._lock:
            if link in self._retiring:
                self._retiring.remove(link)
        self._stop_in_background(link)

    def _stop_in_background(self, link: _Link) -> threading.Thread:
        def stop() -> None:
            try:
                link.connection.stop()
            except Exception as error:
                log.debug("%s hub: stopping connection %d: %s", self.hub, link.generation, error)

        thread = threading.Thread(
            target=stop, name=f"{self.hub}-hub-stop-{link.generation}", daemon=True
        )
        thread.start()
        return thread

    def _switch_to(self, link: _Link) -> None:
        """The new connection is subscribed: retire the old ones after the handover grace.

        Both connections deliver during the grace, and :meth:`_first_copy` passes each event
        once — so an event the server sent to the old connection just before the new one
        subscribed is not lost, and one sent to both is not doubled. Called with the lock held.
        """
        if any(old.generation < link.generation for old in self._retiring):
            self._handover_until = self._monotonic() + self.config.handover_grace
        else:
            self._accepting = max(self._accepting, link.generation)

    def _finish_handover(self) -> None:
        """Retire the old connections once the grace is over — or once the new connection had
        more than enough time to subscribe (its completions may never come)."""
        with self._lock:
            now = self._monotonic()
            current = self._current
            if self._handover_until is None:
                limit = self.config.watchdog.open_timeout + self.config.handover_grace
                if not self._retiring or current is None or now < current.started + limit:
                    return
            elif now < self._handover_until:
                return
            self._handover_until = None
            self._overlap.clear()
            current = self._current
            if current is not None:
                self._accepting = max(self._accepting, current.generation)
                for old in [old for old in self._retiring if old.generation < current.generation]:
                    self._retire(old)

    def _first_copy(self, link: _Link, target: str, arguments: Any) -> bool:
        """During a handover: True for the first arrival of a payload, False for its echo on
        the other connection (the n-th copy on one connection pairs with the n-th on the
        other, so a payload legitimately sent twice still passes twice). Lock held."""
        if not self._retiring:
            return True
        try:
            text = dumps_exact(arguments)
        except (TypeError, ValueError):
            text = repr(arguments)
        counts = self._overlap.setdefault((target, text), {})
        counts[link.generation] = counts.get(link.generation, 0) + 1
        others = [n for generation, n in counts.items() if generation != link.generation]
        return counts[link.generation] > max(others, default=0)

    def _watch_reconnects(self, link: _Link) -> None:
        """signalrcore 1.0.2 answers a failed reconnect of its own with ``deferred_reconnect``,
        which reads ``connection_alive`` — a name its websocket transport lacks — so it only
        logs the AttributeError and leaves the transport "reconnecting", deaf, until the
        watchdog's stuck limit (10 s, fills unheard meanwhile). The failure is taken as the
        connection's end instead, at once, and the watchdog's next pass builds a new
        connection after the backoff (the gap, once it is open)."""
        transport = getattr(link.connection, "transport", None)
        if transport is None or getattr(transport, "_sr_watched", False):
            return
        transport._sr_watched = True
        transport.deferred_reconnect = lambda _sleep_time: self._closed(
            link, "signalrcore's reconnect failed"
        )

    # -- signalrcore callbacks (receive thread: short, never raise) -----------------------------

    def _opened(self, link: _Link) -> None:
        self._watch_reconnects(link)
        try:
            with self._lock:
                if link is not self._current:
                    return
                link.opened = True
                link.last_seen = link.opened_at = self._monotonic()
                first = not self._ever_connected
                self._ever_connected = True
            self._send_subscriptions(link)
            if first:
                # after refused attempts it ends an outage the daemon read REST through: what
                # happened since its last read is only in REST
                self._emit(CONNECTED, f"connection {link.generation}", gap=link.generation > 1)
            elif link.kind is Rebuild.REFRESH:
                self._emit(REFRESHED, f"connection {link.generation} on a fresh token")
            else:
                self._emit(RECONNECTED, f"connection {link.generation} rebuilt", gap=True)
        except Exception:
            log.exception("%s hub: on_open failed", self.hub)

    def _reconnected(self, link: _Link) -> None:
        self._watch_reconnects(link)
        try:
            with self._lock:
                if link is not self._current:
                    return
                now = self._monotonic()
                lasted = None if link.opened_at is None else now - link.opened_at
                if lasted is not None and lasted < self.config.stable_after:
                    # the server ended it as it opened: left to the watchdog's backoff
                    self._current = None
                else:
                    # a handshake completed: open, even when the first one was refused
                    # (signalrcore then connects again, and says so here, never in on_open)
                    link.opened = True
                    link.last_seen = link.opened_at = now
                    link.acks_pending = 0
                    self._ever_connected = True
            if lasted is not None and lasted < self.config.stable_after:
                self._stop_in_background(link)
                self._failed_attempt(
                    f"the server ended connection {link.generation} {lasted:.1f}s after it opened"
                )
                self._emit(RECONNECTING, "the server ends each connection as it opens")
                return
            self._send_subscriptions(link)
            self._emit(RECONNECTED, f"connection {link.generation} reconnected", gap=True)
        except Exception:
            log.exception("%s hub: on_reconnect failed", self.hub)

    def _closed(self, link: _Link, why: str = "closed") -> None:
        """signalrcore gave the connection up. It may still connect again on its own — at once,
        and again each time the server refuses the handshake, hundreds of times a second — so
        it is told not to: the watchdog builds the next connection after the backoff."""
        try:
            with self._lock:
                if link is not self._current or self._stopped:
                    return
                self._current = None
            transport = getattr(link.connection, "transport", None)
            if transport is not None:
                transport.manually_closing = True  # signalrcore: no reconnect of its own
            self._stop_in_background(link)
            self._failed_attempt(f"connection {link.generation} {why}")
            self._emit(DISCONNECTED, f"connection {link.generation} {why}")
        except Exception:
            log.exception("%s hub: on_close failed", self.hub)

    def _error(self, link: _Link, message: Any) -> None:
        """The server answered an invocation (a subscription) with an error: nothing of that
        kind arrives on this connection, and quietly so. Said (the daemon alerts, and reads a
        deaf user hub's accounts from REST), and the watchdog builds a new connection to
        subscribe again, after a backoff that grows while the refusals go on: that connection
        is the gap, healed by a reconcile."""
        try:
            error = redact_text(str(getattr(message, "error", message)))
            log.warning("%s hub: invocation failed: %s", self.hub, error)
            with self._lock:
                current = link is self._current and not self._stopped
                if current and not link.refused:
                    link.refused = True
                    self._refusals += 1
                    self._resubscribe_at = self._monotonic() + self._backoff(self._refusals)
            self._acknowledged(link)
            self._emit(SUBSCRIBE_FAILED, error)
        except Exception:
            log.exception("%s hub: on_error failed", self.hub)

    def _logged_out(self, link: _Link, arguments: Any) -> None:
        """The server sent GatewayLogout: say so, and let the watchdog rebuild (the rebuilt
        connection is the gap)."""
        try:
            with self._lock:
                if link is not self._current or self._stopped:
                    return
                self._logout_pending = True
            if self._recorder is not None:  # a recorded day shows where its gaps came from
                self._recorder.record_hub(self.clock.now(), self.hub, LOGOUT_TARGET, arguments)
            log.warning(
                "%s hub: the server sent %s (%.200s); reconnecting",
                self.hub,
                LOGOUT_TARGET,
                redact_text(str(arguments)),
            )
            self._emit(LOGGED_OUT, f"connection {link.generation}: {LOGOUT_TARGET}")
        except Exception:
            log.exception("%s hub: %s handler failed", self.hub, LOGOUT_TARGET)

    def _handler(self, link: _Link, target: str) -> Callable[[Any], None]:
        if target == LOGOUT_TARGET:
            return lambda arguments: self._logged_out(link, arguments)

        def handle(arguments: Any) -> None:
            try:
                with self._lock:
                    if link.generation < self._accepting:
                        return  # a retired connection: its successor delivers the same events
                    if not self._first_copy(link, target, arguments):
                        return
                at = self.clock.now()
                if self._recorder is not None:
                    self._recorder.record_hub(at, self.hub, target, arguments)
                for event in self._convert(target, arguments, at):
                    self._put(event)
            except Exception:
                log.exception("%s hub: handler for %s failed", self.hub, target)

        return handle

    def _unreadable(self, link_box: list[_Link]) -> None:
        """A record of the current connection no message could be made of (the protocol
        logged it): each hub says what that costs (:meth:`_lost_record`)."""
        with self._lock:
            if not link_box or link_box[0].generation < self._accepting or self._stopped:
                return  # a retired connection: its successor delivers the same events
        self._lost_record()

    @abc.abstractmethod
    def _lost_record(self) -> None:
        """What a record of this hub that could not be read costs."""

    @abc.abstractmethod
    def _convert(self, target: str, arguments: Any, at: datetime) -> list[Event]:
        """Each hub converts its own targets (through the shared :class:`Converter`)."""

    def _put(self, event: Event) -> None:
        try:
            self._sink.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            log.error("%s hub: event sink full, dropped %s", self.hub, type(event).__name__)

    def _emit(self, state: str, detail: str, *, gap: bool = False) -> None:
        with self._lock:
            repeated = state == RECONNECTING and self._last_state == RECONNECTING
            self._last_state = state
        if repeated:  # one "reconnecting" per outage, however many attempts it takes
            return
        log.info("%s hub: %s (%s)", self.hub, state, detail)
        self._put(
            ConnectionChanged(
                at=self.clock.now(), hub=self.hub, state=state, detail=detail, gap=gap
            )
        )

    # -- watchdog -------------------------------------------------------------------------------

    def health(self) -> HubHealth:
        """Snapshot for :func:`diagnose`; also tracks how long a state has lasted."""
        now = self._monotonic()
        with self._lock:
            link = self._current
            if link is None:
                return HubHealth(now, TransportState.NONE, now, now, 0, 0, float("inf"))
            state = _transport_state(link.connection)
            if link.state is TransportState.DISCONNECTED and state is TransportState.CONNECTING:
                state = TransportState.DISCONNECTED  # start() failed before the transport existed
            if state is not link.state:
                link.state = state
                link.state_since = now
            return HubHealth(
                now=now,
                state=state,
                state_since=link.state_since,
                last_seen=link.last_seen,
                built_token_generation=link.token_generation,
                token_generation=self._tokens.token_generation,
                token_expires_in=self._tokens.token_expires_in(),
            )

    def check(self) -> None:
        """One watchdog pass: rebuild the connection if :func:`diagnose` finds a reason.

        Asking for the token first lets the REST client refresh it on its own schedule; a new
        token generation then shows up in the health snapshot as a reason to rebuild.
        """
        try:
            self._tokens.token()
        except Exception as error:  # the gateway may be down: the connection may still work
            log.warning("%s hub: token refresh failed: %s", self.hub, redact_text(str(error)))
        self._finish_handover()
        with self._lock:
            link = self._current
            opened_at = None if link is None else link.opened_at
            if opened_at is not None and self._monotonic() - opened_at >= self.config.stable_after:
                self._failures = 0  # it stayed open: the backoff starts over
            logged_out, self._logout_pending = self._logout_pending, False
            due = self._resubscribe_at
            resubscribe = due is not None and self._monotonic() >= due
            if resubscribe:
                self._resubscribe_at = None
        if logged_out:
            self._rebuild(f"the server sent {LOGOUT_TARGET}", Rebuild.AFTER_GAP)
            return
        if resubscribe:
            self._rebuild("a subscription was refused", Rebuild.AFTER_GAP)
            return
        health = self.health()
        if health.state is TransportState.RECONNECTING and health.state_since == health.now:
            self._emit(RECONNECTING, "signalrcore is reconnecting")
        diagnosis = diagnose(health, self.config.watchdog)
        if diagnosis is not None:
            log.warning("%s hub watchdog: %s", self.hub, diagnosis.reason)
            self._rebuild(diagnosis.reason, diagnosis.kind)


class UserHubClient(HubClient):
    """``/hubs/user``: account, order, position and trade events of the subscribed accounts."""

    hub = "user"
    targets = (*USER_TARGETS, LOGOUT_TARGET)

    def subscribe_accounts(self) -> None:
        self._subscribe("SubscribeAccounts", [])

    def subscribe_account(self, account_id: int) -> None:
        """Orders, positions and trades of one account (plus account updates)."""
        self.subscribe_accounts()
        for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
            self._subscribe(method, [account_id])

    def _convert(self, target: str, arguments: Any, at: datetime) -> list[Event]:
        return self.converter.user(target, arguments, at)

    def _lost_record(self) -> None:
        """A lost user-hub record may have been any account's order or fill: doubted, for
        an alert and a reconcile of every guarded account."""
        self.converter.unreadable_record(self.clock.now())


class MarketHubClient(HubClient):
    """``/hubs/market``: quotes and market trades, merged into the last quote per contract."""

    hub = "market"
    targets = (*MARKET_TARGETS, LOGOUT_TARGET)

    def subscribe_quotes(self, contract_id: str) -> None:
        """Quotes and market trades of a contract: live quote deltas often lack the last
        price, which the trades carry (§14.4)."""
        self._subscribe("SubscribeContractQuotes", [contract_id])
        self._subscribe("SubscribeContractTrades", [contract_id])

    def _convert(self, target: str, arguments: Any, at: datetime) -> list[Event]:
        return self.converter.market(target, arguments, at)

    def _lost_record(self) -> None:
        """A lost quote or market trade costs nothing the next one does not bring (logged)."""


def hub_urls(rest_base: str) -> tuple[str, str]:
    """User and market hub URLs for a REST base: TopstepX's hosts, or the simulator's paths."""
    base = rest_base.rstrip("/")
    if base in ("topstepx", "https://api.topstepx.com"):
        return TOPSTEPX_USER_HUB, TOPSTEPX_MARKET_HUB
    return f"{base}/hubs/user", f"{base}/hubs/market"


__all__ = [
    "CONNECTED",
    "DISCONNECTED",
    "LOGGED_OUT",
    "LOGOUT_TARGET",
    "RECONNECTED",
    "RECONNECTING",
    "REFRESHED",
    "STOPPED",
    "SUBSCRIBE_FAILED",
    "TOPSTEPX_MARKET_HUB",
    "TOPSTEPX_USER_HUB",
    "HubClient",
    "HubConfig",
    "HubRecorder",
    "MarketHubClient",
    "TokenSource",
    "UserHubClient",
    "hub_urls",
]
