"""Which database errors mean "not now" rather than "never", and which refuse every writer.

A write the database cannot take *now* (a dropped connection, a full disk, a read-only
standby after a failover) is held by the daemon and tried again; any other error is a bug or
a schema problem. Of the "not now" errors, those that refuse every writer (a full disk) tell
the daemon that no standby can take its leases either, so it keeps enforcing
(``StoreUnavailable.for_everyone``).
"""

from __future__ import annotations

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: SQLSTATEs of a database that cannot take writes *now* though the driver may call them
#: internal or programming errors: a read-only transaction (a PostgreSQL standby after a
#: failover, a session or database set read-only), a privilege revoked from the daemon's role
#: (42501: an administrator's mistake, fixed by a GRANT), and class 53, insufficient resources
#: (disk full, out of memory, too many connections). The same write succeeds once that is put
#: right, so the daemon must hold it, and say so, instead of dropping it.
_UNAVAILABLE_SQLSTATES = frozenset({"25006", "42501"})
_UNAVAILABLE_CLASSES = frozenset({"53"})


#: SQLite's result codes of a write the disk itself refuses, whoever writes it: a full disk
#: (SQLITE_FULL), a write or sync the disk fails (SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC).
#: Not SQLITE_READONLY: a connection opened read-only, or a file another user may write,
#: refuses this daemon alone.
_SQLITE_FOR_EVERYONE = frozenset({13, 778, 1034})
#: PostgreSQL's disk_full: the server takes no writes from anyone
_FOR_EVERYONE_SQLSTATES = frozenset({"53100"})


def for_everyone(exc: SQLAlchemyError) -> bool:
    """Whether the database refuses this write to every writer (see StoreUnavailable)."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code in _SQLITE_FOR_EVERYONE
    return getattr(orig, "sqlstate", None) in _FOR_EVERYONE_SQLSTATES


def unavailable(exc: SQLAlchemyError) -> bool:
    """Whether the database cannot take this write now, though it may later (the daemon holds
    the write and says so) — as opposed to a write it will never take."""
    if isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)):
        return True
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if not isinstance(state, str):
        return False
    return state in _UNAVAILABLE_SQLSTATES or state[:2] in _UNAVAILABLE_CLASSES


__all__ = ["for_everyone", "unavailable"]
