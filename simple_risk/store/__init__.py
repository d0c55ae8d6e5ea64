"""Persistence for the daemon: SQLite by default, PostgreSQL for desks with several daemons.

The daemon opens one :class:`Store` (``Store.open(url)``) and uses it to journal the events
that change facts, commit firings with their lockouts and intents before the executor acts,
track intents to their outcome, keep engine snapshots, cache contracts, audit admin commands
and hold per-account leases. The engine itself never touches the store (it does no I/O).
"""

from simple_risk.engine.codec import CodecError, event_from_json, event_to_json
from simple_risk.store.models import SCHEMA_VERSION
from simple_risk.store.records import (
    AdminAction,
    Firing,
    FiringRecorded,
    HistoryItem,
    Intent,
    IntentAttempt,
    JournalEntry,
    Lease,
    LeaseLost,
    Lockout,
    Snapshot,
    StoreError,
    StoreUnavailable,
)
from simple_risk.store.store import Store

__all__ = [
    "SCHEMA_VERSION",
    "AdminAction",
    "CodecError",
    "Firing",
    "FiringRecorded",
    "HistoryItem",
    "Intent",
    "IntentAttempt",
    "JournalEntry",
    "Lease",
    "LeaseLost",
    "Lockout",
    "Snapshot",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "event_from_json",
    "event_to_json",
]
