"""The daemon's settings as plain values: intervals, the status socket's limits, logging,
notifications, and where the configuration names a file.

Kept apart from the loader (:mod:`simple_risk.daemon.config`), which reads and checks the file,
so the parts that only use a setting (the engine loop's timing, the status server's limits,
the notifiers) import values, not the loader.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SOCKET_MODE = 0o600

#: trading days of journal and own-order records the store keeps (``retention_days``); about
#: a quarter: what ``engine history`` and a what-if look back on, a few thousand rows a day
#: per busy account (docs/daemon.md, "Retention")
DEFAULT_RETENTION_DAYS = 60


@dataclass(frozen=True, slots=True)
class Timing:
    """Every interval of the daemon, in seconds (tests shrink them, docs/architecture.md §5)."""

    tick_interval: float = 1.0
    reconcile_interval: float = 45.0
    reconcile_after_enforcement: float = 2.0
    snapshot_interval: float = 30.0
    retry_interval: float = 1.0
    alert_after_attempts: int = 3
    #: a held contract's quotes quiet this long while its exchange trades is alerted
    #: (daemon/quotewatch.py)
    quote_silence: float = 120.0
    #: a held contract's quotes quiet this long while its exchange trades is priced from REST
    #: bars (``History/retrieveBars``: the last trade) ... (daemon/barquotes.py)
    bars_after: float = 10.0
    #: ... every this many seconds at most, within the bars budget, until its quotes come back
    bars_every: float = 5.0
    #: a daemon whose accounts are not all live this long after its start tells systemd it is
    #: ready with the ones that are (engine_run.py): one account the gateway refuses must not
    #: have the service killed at TimeoutStartSec and restarted, the others unguarded meanwhile
    ready_after: float = 60.0


@dataclass(frozen=True, slots=True)
class StatusLimits:
    """How much of the status socket one user may hold (docs/admin.md, "Keeping the socket
    available"): connections in all, per user, the slots kept for admin operations, and how
    long a connection may send nothing before it is closed."""

    max_connections: int = 64
    per_user_connections: int = 8
    admin_reserved_connections: int = 4
    idle_timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: str = "text"
    file_max_bytes: int = 10 * 1024 * 1024
    file_backups: int = 5


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """Where alerts are pushed and from which severity on: a webhook gets a JSON POST, each
    of ``urls`` (apprise syntax: Telegram, Discord, Slack, ntfy, Pushover, e-mail …) a
    notification."""

    webhook: str | None = None
    min_severity: str = "warning"
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the configuration names a file: the line and column of the value and the path
    as written, so a missing file is reported at the line that named it."""

    line: int
    column: int
    written: str


def retention_days(value: object) -> int | None:
    """``retention_days`` as written (checked by the schema): None keeps everything
    (``0`` or ``forever``), a missing setting the default."""
    if value is None:
        return DEFAULT_RETENTION_DAYS
    if value == "forever" or value == 0:
        return None
    assert isinstance(value, int) and not isinstance(value, bool)
    return value


__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SOCKET_MODE",
    "LogSettings",
    "NotifySettings",
    "Origin",
    "StatusLimits",
    "Timing",
    "retention_days",
]
