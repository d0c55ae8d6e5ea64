"""Record every wire message to JSONL and feed such a file back through the same converters.

A real trading day is captured once (``--record FILE``) and replayed into the engine forever
after (``--replay FILE``). Each line is one message as received, with the engine time it was
stamped with, so a replay reproduces the events — ``at`` included — exactly:

    {"at":"2026-11-24T15:00:00.123456+00:00","kind":"hub","hub":"user",
     "target":"GatewayUserOrder","arguments":[{"action":1,"data":{...}}]}
    {"at":"...","kind":"rest","sent":"...","endpoint":"Order/searchOpen",
     "request":{"accountId":1},
     "response":{"success":true,"errorCode":0,"errorMessage":null,"orders":[...]}}

Numbers are written with their exact decimal digits (hub payloads are parsed as ``Decimal``).
Auth exchanges are never recorded; secret-named fields, every secret the process registered
(the API key, session tokens) and anything shaped like a JWT are redacted, so a recording can
be shared. Files are created owner-only (0600) whatever the umask, because a trading day is
private even without its secrets. Each line is flushed as soon as the writer thread takes it,
so a crash loses at most the lines still in flight. :class:`RecordingDir` (``engine run
--record DIR``) writes one file per run and UTC day. Replaying a malformed line logs it,
counts it and moves on.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from simple_risk.adapters.topstepx.converters import DEFAULT_SYMBOLS, contracts_from_rest
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.exactjson import dumps_exact, loads_exact
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.adapters.topstepx.hubs import HubRecorder
from simple_risk.adapters.topstepx.rest import RestRecorder
from simple_risk.adapters.topstepx.secrets import REDACTED, install_log_filter, scrub
from simple_risk.adapters.topstepx.wirefields import WireFormatError, parse_timestamp
from simple_risk.engine.events import ContractLoaded, Event
from simple_risk.engine.model import SymbolSpec

log = logging.getLogger(__name__)
install_log_filter(__name__)

#: owner read/write only: a recording shows positions, orders and balances
FILE_MODE = 0o600
#: a JSON Web Token (header.payload.signature, base64url): ProjectX session tokens look so
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
#: the REST answers that carry contract metadata (startup ``available``, lazy ``searchById``)
_CONTRACT_ENDPOINTS = frozenset(
    {Endpoint.CONTRACT_AVAILABLE, Endpoint.CONTRACT_SEARCH, Endpoint.CONTRACT_SEARCH_BY_ID}
)


class WireRecorder(RestRecorder, HubRecorder, Protocol):
    """What the daemon hands its REST and hub clients: both halves (:class:`RecordingDir`)."""


def open_private(path: Path) -> IO[str]:
    """``path`` opened for appending, owner-only (0600) whatever the umask or its old mode."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
        return os.fdopen(descriptor, "a", encoding="utf-8")
    except BaseException:
        os.close(descriptor)
        raise


def redact_jwts(text: str) -> str:
    """``text`` with every JWT-shaped token replaced (a token no one registered is still one)."""
    return _JWT.sub(REDACTED, text)


class Recorder:
    """Appends wire messages to a JSONL file from any thread without blocking it.

    Hub callbacks run on signalrcore's receive thread, which must never wait on a disk nor
    spend long on a message, so the caller only queues the message; a writer thread scrubs
    it, serialises it, appends the line and flushes it. :meth:`close` drains the queue
    first, so nothing received before it is lost. The payloads are the hub's and REST's
    freshly parsed objects, which nothing modifies after they are handed over.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[str] = open_private(self.path)
        self._records: queue.Queue[dict[str, object] | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self.written = 0
        self._writer = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"Recorder({str(self.path)!r})"

    def _run(self) -> None:
        lost = 0  # records not written since the file last took one (a full disk)
        while True:
            record = self._records.get()
            if record is None:
                break
            try:
                line = redact_jwts(dumps_exact(scrub(record))) + "\n"
            except Exception as error:  # one odd payload must not end the recording
                log.warning("not recorded (%s: %s)", type(error).__name__, error)
                continue
            try:  # one line, one flush: a crash loses at most the lines still queued
                self._stream.write(line)
                self._stream.flush()
            except OSError as error:
                # said once, not for every message of a day on a full disk
                if not lost:
                    log.error(
                        "recording to %s failed: %s; what arrives meanwhile is not recorded",
                        self.path,
                        error,
                    )
                lost += 1
                continue
            self.written += 1
            if lost:
                log.warning("recording to %s again; %d records were not recorded", self.path, lost)
                lost = 0
        try:
            self._stream.close()
        except OSError as error:  # the last lines' flush, on a disk still full
            log.error("recording to %s failed at its close: %s", self.path, error)

    def _write(self, record: dict[str, object]) -> None:
        with self._lock:
            if not self._closed:
                self._records.put(record)

    def record_hub(self, at: datetime, hub: str, target: str, arguments: object) -> None:
        self._write(
            {
                "at": at.isoformat(),
                "kind": "hub",
                "hub": hub,
                "target": target,
                "arguments": arguments,
            }
        )

    def record_rest(
        self,
        at: datetime,
        endpoint: str,
        request: Mapping[str, object],
        response: object,
        sent: datetime | None = None,
    ) -> None:
        record: dict[str, object] = {"at": at.isoformat(), "kind": "rest"}
        if sent is not None:
            record["sent"] = sent.isoformat()
        record.update(endpoint=endpoint, request=dict(request), response=response)
        self._write(record)

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued so far (waiting up to ``timeout``), then close the file."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._records.put(None)
        self.join(timeout)

    def join(self, timeout: float = 10.0) -> None:
        """Wait until the writer has written everything queued before :meth:`close`."""
        self._writer.join(timeout)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class RecordingDir:
    """``engine run --record DIR``: one JSONL file per run and UTC day, in ``DIR``.

    The run's first file, ``DIR/YYYY-MM-DD-HHMMSS.jsonl`` (the UTC day and time it started),
    is opened at once, so an unusable directory is reported before the daemon starts. The
    first message of a later UTC day opens that day's file, so a daemon that runs for weeks
    leaves day-sized files a replay can take one at a time or together. The directory is
    created owner-only (0700) when missing.

    Recording must never get in the way of enforcement: the hub and REST threads that call
    it only queue, and a day file that cannot be opened is logged and the run keeps writing
    to the file it has.
    """

    def __init__(self, directory: Path | str, *, started_at: datetime | None = None) -> None:
        started = (started_at or datetime.now(UTC)).astimezone(UTC)
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._run = started.strftime("%H%M%S")
        self._lock = threading.Lock()
        self._closed = False
        self._retired: list[Recorder] = []
        #: every file this run has written to, in order
        self.paths: list[Path] = []
        self._day = started.date()
        self._current = self._open(self._day)

    def __repr__(self) -> str:
        return f"RecordingDir({str(self.directory)!r})"

    def _open(self, day: date) -> Recorder:
        path = self.directory / f"{day.isoformat()}-{self._run}.jsonl"
        recorder = Recorder(path)
        self.paths.append(path)
        return recorder

    def _for(self, at: datetime) -> Recorder | None:
        day = at.astimezone(UTC).date()
        with self._lock:
            if self._closed:
                return None
            if day > self._day:
                self._day = day  # one attempt per day, even when it fails
                try:
                    fresh = self._open(day)
                except OSError as error:
                    log.error("cannot start the recording of %s: %s (recording on)", day, error)
                else:
                    self._current.close(timeout=0)  # its writer drains it; close() waits
                    self._retired.append(self._current)
                    self._current = fresh
            return self._current

    def record_hub(self, at: datetime, hub: str, target: str, arguments: object) -> None:
        recorder = self._for(at)
        if recorder is not None:
            recorder.record_hub(at, hub, target, arguments)

    def record_rest(
        self,
        at: datetime,
        endpoint: str,
        request: Mapping[str, object],
        response: object,
        sent: datetime | None = None,
    ) -> None:
        recorder = self._for(at)
        if recorder is not None:
            recorder.record_rest(at, endpoint, request, response, sent)

    @property
    def written(self) -> int:
        """Lines written to disk so far, over all the run's files."""
        with self._lock:
            return sum(r.written for r in (*self._retired, self._current))

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued so far, then close the files."""
        with self._lock:
            self._closed = True
            recorders = [*self._retired, self._current]
        for recorder in recorders:
            recorder.close(timeout)
            recorder.join(timeout)


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded wire message."""

    at: datetime
    kind: str  # "hub" | "rest"
    source: str  # hub name or REST endpoint
    target: str  # hub target ("" for REST)
    payload: Any  # hub arguments or REST response body
    request: Any = None  # the REST request body (None for hub messages)
    #: when the REST request went out (recordings before it was kept have none)
    sent: datetime | None = None


def read_records(path: Path | str, *, skipped: list[int] | None = None) -> Iterator[Record]:
    """Parse a recording; malformed lines are logged and their line numbers appended to
    ``skipped`` (when given)."""
    with Path(path).open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                raw = loads_exact(line)
                if not isinstance(raw, dict):
                    raise ValueError("not an object")
                at = parse_timestamp(raw.get("at"), "at")
                if at is None:
                    raise ValueError("no 'at' timestamp")
                kind = raw.get("kind")
                if kind == "hub":
                    record = Record(
                        at, "hub", str(raw["hub"]), str(raw["target"]), raw.get("arguments")
                    )
                elif kind == "rest":
                    record = Record(
                        at,
                        "rest",
                        str(raw["endpoint"]),
                        "",
                        raw.get("response"),
                        raw.get("request"),
                        parse_timestamp(raw.get("sent"), "sent"),
                    )
                else:
                    raise ValueError(f"unknown kind {kind!r}")
            except (ValueError, KeyError, TypeError, RecursionError) as error:
                log.warning("%s:%d: skipped unreadable record: %s", path, number, error)
                if skipped is not None:
                    skipped.append(number)
                continue
            yield record


def record_events(record: Record, convert: Converter) -> list[Event]:
    """The domain events one recorded message makes, stamped with its receive time: the
    converters' events, plus the contract metadata of ``Contract/*`` answers (the daemon's
    contract cache turns those into ``ContractLoaded``)."""
    if record.kind == "hub":
        if record.source == "market":
            return convert.market(record.target, record.payload, record.at)
        return convert.user(record.target, record.payload, record.at)
    if record.source in _CONTRACT_ENDPOINTS:

        def unreadable(_contract: object, _error: Exception) -> None:
            convert.rejected[record.source] += 1  # logged by contracts_from_rest

        try:
            infos = contracts_from_rest(record.payload, convert.symbols, unreadable)
        except (WireFormatError, ValueError, TypeError, ArithmeticError) as error:
            log.warning("skipped malformed %s answer: %s", record.source, error)
            convert.rejected[record.source] += 1
            return []
        return [ContractLoaded(at=record.at, contract=info) for info in infos]
    return convert.rest(record.source, record.payload, record.at)


def replay(
    path: Path | str,
    *,
    symbols: SymbolSpec = DEFAULT_SYMBOLS,
    converter: Converter | None = None,
) -> Iterator[Event]:
    """The domain events a recording produces, each stamped with its recorded receive time."""
    convert = converter or Converter(symbols=symbols)
    for record in read_records(path):
        yield from record_events(record, convert)


def replay_into(
    path: Path | str, sink: queue.Queue[Event], *, symbols: SymbolSpec = DEFAULT_SYMBOLS
) -> int:
    """Put every replayed event on ``sink`` (the daemon's queue); returns how many."""
    count = 0
    for event in replay(path, symbols=symbols):
        sink.put(event)
        count += 1
    return count


__all__ = [
    "FILE_MODE",
    "Record",
    "Recorder",
    "RecordingDir",
    "WireRecorder",
    "open_private",
    "read_records",
    "record_events",
    "redact_jwts",
    "replay",
    "replay_into",
]
