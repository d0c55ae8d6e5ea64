"""Logging for the daemon: readable console, rotating files, ``--log-format json``, no secrets.

Every handler carries the redacting filter of :mod:`simple_risk.adapters.topstepx.secrets`,
so a secret registered at runtime (the API key, the session tokens, the admin password) is
replaced by ``***`` wherever a log line would show it — in the console, the rotating file and
the JSON lines alike (issue #6 item 7; a test greps a full run's output for them). The
in-memory :class:`LogRing` behind ``admin logs`` redacts the same way.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import json
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from simple_risk.adapters.topstepx.secrets import SecretFilter, redact_text

LOGGER_NAME = "simple_risk"
_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """The text format, with tracebacks redacted too (a filter sees only the message).

    Its time is local with its UTC offset (``2026-11-01 01:30:00.000-05:00``): the repeated
    hour of an autumn clock change reads as two different hours, and a line read on another
    machine or after a move says which time it is in."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        local = datetime.fromtimestamp(record.created, UTC).astimezone()
        return local.isoformat(sep=" ", timespec="milliseconds")


class LogRing(logging.Handler):
    """The last ``capacity`` log records in memory, already formatted and redacted.

    ``admin logs`` reads it through the status server (``lines``, a minimum ``level``), and
    ``admin logs --follow`` registers a follower: a bounded queue each new record is offered
    to without waiting (a follower that does not keep up misses lines, the daemon never
    waits). One ring per process (:func:`log_ring`), installed on the root logger by
    :func:`configure_logging` or :func:`install_log_ring`.
    """

    def __init__(self, capacity: int = 5000) -> None:
        super().__init__(logging.DEBUG)
        self.records: collections.deque[tuple[int, str]] = collections.deque(maxlen=capacity)
        self._followers: list[tuple[int, queue.Queue[str]]] = []
        self.setFormatter(RedactingFormatter(_TEXT_FORMAT))
        self.addFilter(SecretFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # never let a broken record break the caller
            self.handleError(record)
            return
        with self.lock or contextlib.nullcontext():
            self.records.append((record.levelno, line))
            followers = list(self._followers)
        for level, follower in followers:
            if record.levelno >= level:
                with contextlib.suppress(queue.Full):
                    follower.put_nowait(line)

    def lines(self, count: int = 200, level: int = logging.NOTSET) -> list[str]:
        """The newest ``count`` lines at ``level`` or above, oldest first."""
        with self.lock or contextlib.nullcontext():
            chosen = [line for levelno, line in self.records if levelno >= level]
        return chosen[-count:] if count > 0 else []

    def follow(self, level: int = logging.NOTSET, capacity: int = 1000) -> queue.Queue[str]:
        """A queue that receives every new line at ``level`` or above until :meth:`unfollow`."""
        follower: queue.Queue[str] = queue.Queue(maxsize=capacity)
        with self.lock or contextlib.nullcontext():
            self._followers.append((level, follower))
        return follower

    def unfollow(self, follower: queue.Queue[str]) -> None:
        with self.lock or contextlib.nullcontext():
            self._followers = [(lvl, q) for lvl, q in self._followers if q is not follower]


_RING = LogRing()


def log_ring() -> LogRing:
    """The process's ring of recent log lines (see :class:`LogRing`)."""
    return _RING


def install_log_ring(level: int | None = None) -> LogRing:
    """Attach the ring to the root logger (idempotent); with ``level``, lower the root
    logger's level to it when it is stricter, so the ring sees those records."""
    root = logging.getLogger()
    if _RING not in root.handlers:
        root.addHandler(_RING)
    if level is not None and root.level > level:
        root.setLevel(level)
    return _RING


def level_number(name: str | None) -> int:
    """``"warning"`` → ``logging.WARNING``; None or unknown → NOTSET (everything)."""
    if not name:
        return logging.NOTSET
    value = logging.getLevelName(name.upper())
    return value if isinstance(value, int) else logging.NOTSET


def configure_logging(
    *,
    level: str = "info",
    log_format: str = "text",
    log_dir: Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
    stream: IO[str] | None = None,
    console: bool = True,
) -> list[logging.Handler]:
    """Install console (and, with ``log_dir``, rotating file) handlers on the root logger.

    ``console=False`` logs to the file only (the demo prints its own console).
    The lines are written on a thread of their own (:class:`OffThreadHandler`). Returns the
    handlers installed so a caller that runs several daemons in one process (tests, the demo)
    can remove them again (which writes what is still queued).
    """
    formatter: logging.Formatter = (
        JsonFormatter() if log_format == "json" else RedactingFormatter(_TEXT_FORMAT)
    )
    handlers: list[logging.Handler] = []
    if console:
        handlers.append(logging.StreamHandler(stream or sys.stderr))
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(LogFile(log_dir / "simple-risk.log", max_bytes, backups))
    secret_filter = SecretFilter()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(secret_filter)
    root = logging.getLogger()
    installed: list[logging.Handler] = []
    if handlers:
        off_thread = OffThreadHandler(handlers)
        root.addHandler(off_thread)
        installed.append(off_thread)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    install_log_ring()
    return installed


class LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file, which says once on the other targets (the console, journald's)
    that it cannot be written — a full disk, a file or directory made read-only — and once
    that it is written again, instead of the stdlib's ``--- Logging error ---`` traceback for
    every line it loses meanwhile (a dozen console lines each, burying the one that said what
    is wrong). The lines it loses are on the console, and in ``admin logs``'s ring."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.failing: str | None = None  # why the last line could not be written
        self._failed = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed = False
        super().emit(record)  # a failure is handed to handleError
        if self._failed or self.failing is None:
            return
        self.failing = None
        logging.getLogger(__name__).warning("the log file %s is written again", self.baseFilename)

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed = True
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)  # a bug (a record that cannot be formatted): shown
            return
        if self.failing is not None:
            return
        self.failing = str(error)
        # queued like any line: the console writes it, this file fails it again, quietly
        logging.getLogger(__name__).error(
            "cannot write the log file %s: %s; its lines go to the console only until it can",
            self.baseFilename,
            error,
        )


class OffThreadHandler(logging.handlers.QueueHandler):
    """Hands each record to a thread of its own that formats, redacts and writes it.

    The engine thread and the executor lanes log on the enforcement path ("enforcing …",
    "FIRING …"); writing the line there (a console that is a pipe to journald, a file, the
    redaction of every secret) measured about 0.3 ms of the loopback breach → close latency at
    the daemon's default level, and a console nobody reads would stop enforcement outright.
    Here the calling thread only merges the message's arguments and queues the record; the
    stdlib's :class:`~logging.handlers.QueueListener` writes it. Closing (``remove_handlers``,
    or ``logging.shutdown`` at exit) writes every line still queued, then closes the targets.
    """

    def __init__(self, targets: list[logging.Handler]) -> None:
        super().__init__(queue.SimpleQueue())
        self.targets = targets
        self.listener: logging.handlers.QueueListener | None = logging.handlers.QueueListener(
            self.queue, *targets, respect_handler_level=True
        )
        self.listener.start()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record with its arguments merged now (an argument may change once queued);
        unlike the stdlib's, the exception stays for the target's formatter (the JSON lines
        keep it apart from the message)."""
        prepared = copy.copy(record)
        prepared.msg = record.getMessage()
        prepared.args = None
        return prepared

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop()  # writes what is queued first
            for target in self.targets:
                target.close()
        super().close()


def remove_handlers(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()


__all__ = [
    "LOGGER_NAME",
    "JsonFormatter",
    "LogFile",
    "LogRing",
    "OffThreadHandler",
    "RedactingFormatter",
    "configure_logging",
    "install_log_ring",
    "level_number",
    "log_ring",
    "remove_handlers",
]
