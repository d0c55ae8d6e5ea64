"""Logging for the daemon: readable console, rotating files, ``--log-format json``, no secrets.

Every handler carries the redacting filter of :mod:`simple_risk.adapters.topstepx.secrets`,
so a secret registered at runtime (the API key, the session tokens, the admin password) is
replaced by ``***`` wherever a log line would show it — in the console, the rotating file and
the JSON lines alike (issue #6 item 7; a test greps a full run's output for them).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
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
    """The text format, with tracebacks redacted too (a filter sees only the message)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


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
    Returns the handlers so a caller that runs several daemons in one process (tests, the
    demo) can remove them again.
    """
    formatter: logging.Formatter = (
        JsonFormatter() if log_format == "json" else RedactingFormatter(_TEXT_FORMAT)
    )
    handlers: list[logging.Handler] = []
    if console:
        handlers.append(logging.StreamHandler(stream or sys.stderr))
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / "simple-risk.log",
                maxBytes=max_bytes,
                backupCount=backups,
                encoding="utf-8",
            )
        )
    secret_filter = SecretFilter()
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(secret_filter)
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    return handlers


def remove_handlers(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()


__all__ = [
    "LOGGER_NAME",
    "JsonFormatter",
    "RedactingFormatter",
    "configure_logging",
    "remove_handlers",
]
