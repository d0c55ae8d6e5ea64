"""Record every wire message to JSONL and feed such a file back through the same converters.

A real trading day is captured once (``--record FILE``) and replayed into the engine forever
after (``--replay FILE``). Each line is one message as received, with the engine time it was
stamped with, so a replay reproduces the events — ``at`` included — exactly:

    {"at":"2026-11-24T15:00:00.123456+00:00","kind":"hub","hub":"user",
     "target":"GatewayUserOrder","arguments":[{"action":1,"data":{...}}]}
    {"at":"...","kind":"rest","endpoint":"Order/searchOpen","request":{"accountId":1},
     "response":{"success":true,"errorCode":0,"errorMessage":null,"orders":[...]}}

Numbers are written with their exact decimal digits (hub payloads are parsed as ``Decimal``).
Auth exchanges are never recorded and secret-named fields are redacted, so a recording can be
shared. Replaying a malformed line logs it, counts it and moves on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from simple_risk.adapters.topstepx.converters import (
    DEFAULT_SYMBOLS,
    Converter,
    dumps_exact,
    loads_exact,
    parse_timestamp,
)
from simple_risk.adapters.topstepx.secrets import install_log_filter, scrub
from simple_risk.engine.events import Event
from simple_risk.engine.model import SymbolSpec

log = logging.getLogger(__name__)
install_log_filter(__name__)


class Recorder:
    """Appends wire messages to a JSONL file from any thread without blocking it.

    Hub callbacks run on signalrcore's receive thread, which must never wait on a disk, so
    lines are queued and a writer thread appends and flushes them; :meth:`close` drains the
    queue first, so nothing received before it is lost.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream: IO[str] = self.path.open("a", encoding="utf-8")
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self.written = 0
        self._writer = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"Recorder({str(self.path)!r})"

    def _run(self) -> None:
        while True:
            line = self._lines.get()
            if line is None:
                break
            batch = [line]
            while True:  # write whatever else is waiting in one go
                try:
                    more = self._lines.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._lines.put(None)
                    break
                batch.append(more)
            try:
                self._stream.write("".join(batch))
                self._stream.flush()
                self.written += len(batch)
            except OSError as error:
                log.error("recording to %s failed: %s", self.path, error)
        self._stream.close()

    def _write(self, record: Mapping[str, object]) -> None:
        try:
            line = dumps_exact(record) + "\n"
        except (TypeError, ValueError) as error:
            log.warning("not recorded (%s)", error)
            return
        with self._lock:
            if not self._closed:
                self._lines.put(line)

    def record_hub(self, at: datetime, hub: str, target: str, arguments: object) -> None:
        self._write(
            {
                "at": at.isoformat(),
                "kind": "hub",
                "hub": hub,
                "target": target,
                "arguments": scrub(arguments),
            }
        )

    def record_rest(
        self, at: datetime, endpoint: str, request: Mapping[str, object], response: object
    ) -> None:
        self._write(
            {
                "at": at.isoformat(),
                "kind": "rest",
                "endpoint": endpoint,
                "request": scrub(dict(request)),
                "response": scrub(response),
            }
        )

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued so far, then close the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lines.put(None)
        self._writer.join(timeout)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded wire message."""

    at: datetime
    kind: str  # "hub" | "rest"
    source: str  # hub name or REST endpoint
    target: str  # hub target ("" for REST)
    payload: Any  # hub arguments or REST response body


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
                    record = Record(at, "rest", str(raw["endpoint"]), "", raw.get("response"))
                else:
                    raise ValueError(f"unknown kind {kind!r}")
            except (ValueError, KeyError, TypeError) as error:
                log.warning("%s:%d: skipped unreadable record: %s", path, number, error)
                if skipped is not None:
                    skipped.append(number)
                continue
            yield record


def replay(
    path: Path | str,
    *,
    symbols: SymbolSpec = DEFAULT_SYMBOLS,
    converter: Converter | None = None,
) -> Iterator[Event]:
    """The domain events a recording produces, each stamped with its recorded receive time."""
    convert = converter or Converter(symbols=symbols)
    for record in read_records(path):
        if record.kind == "hub":
            if record.source == "market":
                yield from convert.market(record.target, record.payload, record.at)
            else:
                yield from convert.user(record.target, record.payload, record.at)
        else:
            yield from convert.rest(record.source, record.payload, record.at)


def replay_into(
    path: Path | str, sink: queue.Queue[Event], *, symbols: SymbolSpec = DEFAULT_SYMBOLS
) -> int:
    """Put every replayed event on ``sink`` (the daemon's queue); returns how many."""
    count = 0
    for event in replay(path, symbols=symbols):
        sink.put(event)
        count += 1
    return count


__all__ = ["Record", "Recorder", "read_records", "replay", "replay_into"]
