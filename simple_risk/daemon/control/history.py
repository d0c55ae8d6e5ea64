"""The ``history`` answer: the store's merged timeline as the protocol carries it.

The running daemon's ``history`` op and ``engine history`` reading a stopped daemon's store
both answer through :func:`stored_history`, so the two can never say different things about
one period (what was cut by ``limit``, where a pruned journal begins). Kept apart from
:mod:`~simple_risk.daemon.control.ops` (the op table) so the command line reads a store
without importing the daemon's operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from simple_risk.store import Store
from simple_risk.store.records import HistoryItem, HistoryKind

#: the newest items an answer holds when no ``limit`` is asked
DEFAULT_HISTORY_LIMIT = 1000


def history_json(items: Iterable[HistoryItem]) -> list[dict[str, Any]]:
    """History items as the ``history`` op answers them (also read without a daemon)."""
    return [
        {
            "at": item.at,
            "kind": item.kind,
            "account": item.account,
            "rule": item.rule,
            "summary": item.summary,
            "details": item.details,
        }
        for item in items
    ]


def stored_history(
    store: Store,
    since: datetime,
    until: datetime | None,
    rule: str | None,
    account: int | None,
    kinds: Sequence[str] | None,
    limit: int,
) -> dict[str, Any]:
    """The ``history`` answer read from ``store``: by the running daemon, and by
    ``engine history`` from the store of a daemon that is not running. Fills come from the
    journal, which retention prunes: a period reaching back before an account's kept journal
    says so (``journal_kept_since``), rather than showing no fills there."""
    # one more than asked: whether the period held earlier items than those kept
    items = store.history(
        since,
        until=until,
        rule=rule,
        account=account,
        kinds=[cast(HistoryKind, kind) for kind in kinds] if kinds else None,
        limit=limit + 1,
    )
    pruned = (
        store.journal_kept_since(account) if rule is None and (not kinds or "fill" in kinds) else {}
    )
    answer = history_answer(items, limit)
    reaching = {
        str(kept_account): kept_at.astimezone(since.tzinfo).isoformat(timespec="seconds")
        for kept_account, kept_at in pruned.items()
        if kept_at > since
    }
    if reaching:
        answer["journal_kept_since"] = reaching
    return answer


def history_answer(items: Sequence[HistoryItem], limit: int) -> dict[str, Any]:
    """The ``history`` answer from the newest ``limit + 1`` items of the period: the newest
    ``limit``, and ``earlier_left_out`` when the period held more (a busy week past the
    default 1000 must not read as the whole period)."""
    if len(items) <= limit:
        return {"items": history_json(items)}
    return {"items": history_json(items[len(items) - limit :]), "earlier_left_out": True}


__all__ = ["DEFAULT_HISTORY_LIMIT", "history_answer", "history_json", "stored_history"]
