"""Keeping the API key and session tokens out of logs, reprs and recordings.

Secrets travel in three places the program might print: JSON bodies (``apiKey``, ``token``,
``newToken``), URLs (``?access_token=``) and headers (``Authorization: Bearer``). signalrcore
1.0.2 logs the token and the ``Authorization`` header at DEBUG level, so a logging filter on its
logger (and ours) redacts both the known patterns and every secret value registered at runtime.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

REDACTED = "***"

_SECRET_KEYS = frozenset(
    {"apikey", "token", "newtoken", "password", "authorization", "access_token", "verifykey"}
)
_PATTERNS = (
    re.compile(r"(access_token=)[^&\s'\"]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"""(["']?(?:apiKey|token|newToken|password)["']?\s*[:=]\s*["'])[^"']+""", re.I),
)

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so every filtered log line redacts it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _registered.add(value)


def redact_text(text: str) -> str:
    """``text`` with known secret patterns and every registered secret replaced."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    with _lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def scrub(payload: Any) -> Any:
    """A copy of a JSON-like payload with secret-named fields and registered values redacted."""
    if isinstance(payload, Mapping):
        return {
            key: REDACTED if str(key).lower() in _SECRET_KEYS else scrub(value)
            for key, value in payload.items()
        }
    if isinstance(payload, list | tuple):
        return [scrub(item) for item in payload]
    if isinstance(payload, str):
        return redact_text(payload)
    return payload


class SecretFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        redacted = redact_text(message)
        if redacted != message or record.args:
            record.msg = redacted
            record.args = None
        return True


_FILTER = SecretFilter()


def install_log_filter(*logger_names: str) -> None:
    """Attach the redacting filter to the named loggers (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


__all__ = [
    "REDACTED",
    "SecretFilter",
    "install_log_filter",
    "redact_text",
    "register_secret",
    "scrub",
]
