"""Pushing alerts to where the trader is: a phone, a chat, a mailbox.

Traders live on their phones, not in a terminal. ``notify.urls`` takes any number of
notification URLs in apprise's syntax — ``tgram://BOT_TOKEN/CHAT_ID`` (Telegram),
``discord://WEBHOOK_ID/TOKEN``, ``slack://…``, ``ntfy://topic``, ``pover://USER@TOKEN``
(Pushover), ``mailtos://…`` — and apprise, a well-kept library that speaks some hundred
services, does the talking; ``notify.webhook`` keeps posting the Discord/Slack-compatible JSON
body it always did. Both are channels of one :class:`Notifications` queue.

Each channel posts on its own thread behind its own bounded queue, so a slow or dead service
never delays enforcement (the engine thread only builds the text) nor another channel (a hung
webhook never holds back the phone push): when a channel's queue is full the message is
dropped for it and counted. A failed delivery is retried a few times with backoff, per
channel, within a total deadline. What a channel lost while it failed (the newest
:data:`MISSED_KEPT` messages) is sent late, grouped, once it delivers again: the trader whose
phone was silent for an hour learns what happened in that hour, not only how many.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from simple_risk.adapters.topstepx.secrets import redact_text, register_secret
from simple_risk.words import until_words

log = logging.getLogger(__name__)

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
#: the name the webhook posts under (Discord shows it as the sender)
USERNAME = "simple-risk"
#: the title every pushed notification carries
TITLE = "simple-risk"


def severity_rank(severity: str) -> int:
    """``info`` < ``warning`` < ``critical``; an unknown severity ranks as info."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


class DeliveryError(Exception):
    """One channel could not deliver one message (retried, then counted as failed)."""


class Channel(Protocol):
    """Somewhere a message can be delivered."""

    name: str

    def deliver(self, severity: str, text: str) -> None:
        """Deliver or raise :class:`DeliveryError`."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that answers 301/302/303 is not followed: urllib would follow a POST as a GET,
    without the body, and a chat webhook answers a GET 200 — a message counted as sent
    that nobody was sent."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_WEBHOOK_OPENER = urllib.request.build_opener(_NoRedirects)


class WebhookChannel:
    """A Discord/Slack-compatible webhook: ``content`` (Discord), ``text`` (Slack), sender."""

    name = "webhook"

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def deliver(self, severity: str, text: str) -> None:
        body = json.dumps({"content": text, "text": text, "username": USERNAME}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USERNAME},
            method="POST",
        )
        try:
            with _WEBHOOK_OPENER.open(request, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise DeliveryError(
                    f"HTTP {exc.code} redirected elsewhere: write the webhook URL exactly as"
                    " the service shows it (https://…)"
                ) from exc
            raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise DeliveryError(str(exc.reason)) from exc
        except TimeoutError as exc:
            raise DeliveryError(f"no answer within {self.timeout:g} s") from exc
        except (OSError, ValueError) as exc:
            raise DeliveryError(str(exc)) from exc


def invalid_apprise_urls(urls: Sequence[str]) -> list[str]:
    """The URLs apprise does not understand (checked when the configuration loads)."""
    import apprise  # imported here: only configurations with URLs pay for it

    bad = []
    for url in urls:
        if not apprise.Apprise().add(url):
            bad.append(url)
    return bad


def register_private_tokens(service: Any) -> None:
    """Register as secrets the parts of an apprise URL the service marks private (a bot's
    token, a webhook's token, a password): apprise logs the address it posts to at debug
    level (``https://api.telegram.org/bot<TOKEN>/sendMessage``), which holds the token but
    not the configured URL the daemon registered whole."""
    specs = {**getattr(service, "template_tokens", {}), **getattr(service, "template_args", {})}
    for name, spec in specs.items():
        if isinstance(spec, dict) and spec.get("private"):
            value = getattr(service, str(spec.get("map_to", name)), None)
            if isinstance(value, str):
                register_secret(value)


class _QuietApprise(logging.Handler):
    """apprise's own lines reach the daemon's log below ERROR only at debug level: apprise
    logs every attempt of every message ("Notifying 1 service(s).", "Failed to send …"), and
    the channel says its failure once, with apprise's reason (:meth:`AppriseChannel.deliver`,
    which hears them through apprise's per-call capture, a handler on the same logger)."""

    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if record.levelno >= logging.ERROR or root.isEnabledFor(logging.DEBUG):
            root.handle(record)


def _quiet_apprise() -> None:
    apprise_log = logging.getLogger("apprise")
    if not any(isinstance(handler, _QuietApprise) for handler in apprise_log.handlers):
        apprise_log.addHandler(_QuietApprise())
    apprise_log.propagate = False


class AppriseChannel:
    """One apprise URL (Telegram, Discord, Slack, ntfy, Pushover, e-mail …)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import apprise

        _quiet_apprise()
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ValueError("not a notification URL apprise understands")
        for service in self._apprise:
            register_private_tokens(service)
        scheme = url.partition("://")[0] or "apprise"
        self.name = scheme
        self.timeout = timeout
        self._types = {
            "info": apprise.NotifyType.INFO,
            "warning": apprise.NotifyType.WARNING,
            "critical": apprise.NotifyType.FAILURE,
        }

    def deliver(self, severity: str, text: str) -> None:
        notify_type = self._types.get(severity, self._types["info"])
        said: list[str] = []

        def hear(entry: Any, service: Any) -> None:
            if str(getattr(entry, "level", "")).upper() in ("WARNING", "ERROR", "CRITICAL"):
                said.append(str(getattr(entry, "message", entry)))

        delivered = self._apprise.notify(
            body=text,
            title=TITLE,
            notify_type=notify_type,
            timeout=self.timeout,
            log_callback=hear,
        )
        if not delivered:
            raise DeliveryError(said[-1] if said else "the service did not accept the message")


#: the most lines one grouped push lists (the newest; the rest are counted)
GROUP_LINES = 15
#: the most characters of a grouped push (Discord refuses a message over 2,000)
GROUP_CHARS = 1900
#: messages a failing channel keeps to send late (the newest; older ones are counted)
MISSED_KEPT = 50


def grouped_text(texts: Sequence[str], severities: Sequence[str] = ()) -> str:
    """Several waiting messages as one: each line once, in the order they happened, a
    repeat counted (``(×20)``); past :data:`GROUP_LINES` lines or :data:`GROUP_CHARS`
    characters some are only counted: the least severe first (``severities``, one per text;
    none given: all alike), then the earliest — a lock is never left out for the hub
    reconnects that followed it."""
    if len(texts) == 1:
        return texts[0]
    counts: dict[str, int] = {}
    rank: dict[str, int] = {}
    for index, text in enumerate(texts):
        counts[text] = counts.get(text, 0) + 1
        severity = severities[index] if index < len(severities) else "info"
        rank[text] = max(rank.get(text, 0), severity_rank(severity))
    order = list(counts)
    lines = [f"• {text} (×{n})" if n > 1 else f"• {text}" for text, n in counts.items()]
    #: the order lines are left out in: the least severe first, then the earliest
    leaving = sorted(range(len(order)), key=lambda i: (rank[order[i]], i))
    shown = set(range(len(order)))

    def render() -> str:
        left_out = sorted(set(range(len(order))) - shown)
        body = [lines[i] for i in sorted(shown)]
        if not left_out:
            return "\n".join([f"{len(texts)} alerts, oldest first:", *body])
        earlier = "earlier " if left_out[-1] < min(shown) else ""
        head = (
            f"{len(texts)} alerts, oldest first ({len(left_out)} {earlier}left out: engine"
            " history and the log have every one):"
        )
        return "\n".join([head, *body])

    for index in leaving:
        if len(shown) <= 1 or (len(shown) <= GROUP_LINES and len(render()) <= GROUP_CHARS):
            break
        shown.discard(index)
    return render()


@dataclass(frozen=True, slots=True)
class Retry:
    """How hard one message is pushed through one channel."""

    attempts: int = 3
    backoff: float = 1.0  # seconds before the 2nd attempt, doubled each time
    deadline: float = 30.0  # seconds for all attempts of one message on one channel


@dataclass(slots=True)
class _Lane:
    """One channel's queue and the thread that empties it."""

    channel: Channel
    #: the channel's name, numbered when several channels share one (``tgram``, ``tgram-2``)
    name: str
    queue: queue.Queue[tuple[str, str, datetime] | None]
    thread: threading.Thread | None = None
    #: (severity, text, when it was posted) of the messages it lost while failing, sent late
    #: when it delivers again
    missed: deque[tuple[str, str, datetime]] = field(
        default_factory=lambda: deque(maxlen=MISSED_KEPT)
    )


def _lanes(channels: Sequence[Channel], capacity: int) -> list[_Lane]:
    lanes: list[_Lane] = []
    for channel in channels:
        taken = sum(lane.channel.name == channel.name for lane in lanes)
        name = channel.name if taken == 0 else f"{channel.name}-{taken + 1}"
        lanes.append(_Lane(channel, name, queue.Queue(maxsize=capacity)))
    return lanes


class Notifications:
    """A bounded queue per channel and one thread per channel that pushes each text.

    ``post`` never blocks. Messages below ``min_severity`` are not pushed at all.
    """

    def __init__(
        self,
        webhook: str | None = None,
        min_severity: str = "warning",
        *,
        urls: Sequence[str] = (),
        capacity: int = 200,
        timeout: float = 5.0,
        retry: Retry = Retry(),
        sleep: Callable[[float], None] = time.sleep,
        channels: Sequence[Channel] | None = None,
        spawn: Callable[[str, Callable[[], None]], threading.Thread] | None = None,
        on_trouble: Callable[[str, str], None] | None = None,
        spacing: float = 1.0,
        zone: tzinfo | None = None,
    ) -> None:
        #: the zone a message sent late says when it happened in (the exchange's, as the
        #: pushes' own times; None: this machine's)
        self.zone = zone
        #: at most one push per channel this often (s): what arrives meanwhile goes out
        #: grouped in the next one (a storm is a few pushes, not hundreds a service throttles)
        self.spacing = spacing
        #: told (level, words) when a channel stops delivering and when it delivers again:
        #: the daemon's alert, said once, not once per message
        self._on_trouble = on_trouble
        #: the channels whose last message failed, with why
        self._failing: dict[str, str] = {}
        #: how many messages each failing channel lost since it started failing
        self._lost: dict[str, int] = {}
        #: starts a pushing thread running the given loop (the daemon's supervisor, which
        #: restarts it should it fail); None: a plain daemon thread
        self._spawn = spawn
        if channels is None:
            built: list[Channel] = [WebhookChannel(webhook, timeout)] if webhook else []
            built += [AppriseChannel(url, max(timeout, 10.0)) for url in urls]
            channels = built
        self.channels = list(channels)
        self.min_rank = severity_rank(min_severity)
        self.retry = retry
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.retried = 0
        self._sleep = sleep
        self._lanes = _lanes(self.channels, capacity)
        self._started = False
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def start(self) -> Notifications:
        if self.enabled and not self._started:
            self._started = True
            for lane in self._lanes:
                name = f"notify-{lane.name}"
                loop = self._loop(lane)
                if self._spawn is not None:
                    lane.thread = self._spawn(name, loop)
                else:
                    lane.thread = threading.Thread(target=loop, name=name, daemon=True)
                    lane.thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Push what is queued (for at most ``timeout`` seconds in all), then end the threads."""
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        for lane in self._lanes:
            with contextlib.suppress(queue.Full):
                lane.queue.put(None, timeout=max(deadline - time.monotonic(), 0.0))
        for lane in self._lanes:
            if lane.thread is not None:
                lane.thread.join(max(deadline - time.monotonic(), 0.0))
            lane.thread = None
        self._started = False

    def post(self, severity: str, text: str) -> bool:
        """Queue ``text`` for every channel when its severity is high enough; True when at
        least one channel queued it."""
        if not self.enabled or severity_rank(severity) < self.min_rank:
            return False
        if not self._started:
            self.start()
        queued = False
        posted = datetime.now(UTC)
        for lane in self._lanes:
            try:
                lane.queue.put_nowait((severity, text, posted))
            except queue.Full:
                with self._lock:
                    self.dropped += 1
                log.warning(
                    "notify %s: %d message(s) waiting; dropped one",
                    lane.name,
                    lane.queue.qsize(),
                )
            else:
                queued = True
        return queued

    def counts(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "retried": self.retried,
                "channels": [lane.name for lane in self._lanes],
                "failing": dict(self._failing),
            }

    def _loop(self, lane: _Lane) -> Callable[[], None]:
        def run() -> None:
            pushed = -math.inf
            while True:
                item = lane.queue.get()
                if item is None:
                    return
                wait = pushed + self.spacing - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # what arrives meanwhile joins this push
                batch, stopping = [item], False
                while True:
                    try:
                        more = lane.queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.append(more)
                severity = max((s for s, _, _ in batch), key=severity_rank)
                text = redact_text(  # a chat is no vault
                    grouped_text([t for _, t, _ in batch], [s for s, _, _ in batch])
                )
                if self._push(lane, severity, text, len(batch)):
                    self._send_late(lane)
                else:
                    lane.missed.extend(batch)
                pushed = time.monotonic()
                if stopping:
                    return

        return run

    def _send_late(self, lane: _Lane) -> None:
        """Push, once and grouped, what ``lane`` lost while it failed (it delivers again). If
        this push fails too, the messages stay lost: counted, as every loss."""
        if not lane.missed:
            return
        missed = list(lane.missed)
        lane.missed.clear()
        severity = max((s for s, _, _ in missed), key=severity_rank)
        now = datetime.now(UTC)
        zone = self.zone or now.astimezone().tzinfo  # None: this machine's
        text = redact_text(
            f"Sent late: did not reach you while notifications to {lane.name} failed.\n"
            + grouped_text(
                [f"{until_words(posted, now, zone)} {t}" for _, t, posted in missed],
                [s for s, _, _ in missed],
            )
        )
        time.sleep(self.spacing)  # a service throttles pushes that come too close
        self._push(lane, severity, text, len(missed))

    def _push(self, lane: _Lane, severity: str, text: str, messages: int = 1) -> bool:
        """Deliver one push, retrying; True when it was delivered."""
        channel = lane.channel
        deadline = time.monotonic() + self.retry.deadline
        wait = self.retry.backoff
        for attempt in range(1, self.retry.attempts + 1):
            try:
                channel.deliver(severity, text)
            except DeliveryError as exc:
                last = exc
            except Exception as exc:  # a bug in a channel must not end the thread
                log.exception("notify %s: unexpected failure", lane.name)
                last = DeliveryError(str(exc))
            else:
                with self._lock:
                    self.sent += messages
                    was_failing = self._failing.pop(lane.name, None) is not None
                    lost = self._lost.pop(lane.name, 0)
                if was_failing:
                    log.warning("notify %s delivers again (%d message(s) lost)", lane.name, lost)
                    late = len(lane.missed)
                    self._tell(
                        "warning",
                        f"notifications to {lane.name} deliver again; {lost} message(s) did not"
                        " reach it meanwhile"
                        + (
                            f" (the {late} newest follow, sent late; status and engine"
                            " history list every alert)"
                            if late
                            else " (status and engine history list the alerts)"
                        ),
                    )
                return True
            if attempt == self.retry.attempts or time.monotonic() + wait > deadline:
                break
            with self._lock:
                self.retried += 1
            self._sleep(wait)
            wait *= 2
        reason = redact_text(str(last))
        with self._lock:
            self.failed += messages
            first = lane.name not in self._failing
            self._failing[lane.name] = reason
            self._lost[lane.name] = self._lost.get(lane.name, 0) + messages
        if not first:  # said when it started failing; counted in status since
            log.debug("notify %s failed again: %s", lane.name, reason)
            return False
        log.error(
            "notify %s failed: %s (until it delivers again, failures are counted, not logged)",
            lane.name,
            reason,
        )
        self._tell(
            "warning",
            f"notifications to {lane.name} fail ({reason}): alerts do not reach it;"
            " the daemon goes on enforcing (check notify: in the configuration)",
        )
        return False

    def _tell(self, level: str, words: str) -> None:
        if self._on_trouble is None:
            return
        try:
            self._on_trouble(level, words)
        except Exception:  # telling must never end the channel's thread
            log.exception("notify: cannot raise the alert %r", words)


__all__ = [
    "GROUP_CHARS",
    "GROUP_LINES",
    "MISSED_KEPT",
    "SEVERITIES",
    "TITLE",
    "USERNAME",
    "AppriseChannel",
    "Channel",
    "DeliveryError",
    "Notifications",
    "Retry",
    "WebhookChannel",
    "grouped_text",
    "invalid_apprise_urls",
    "register_private_tokens",
    "severity_rank",
]
