"""Enforcement that cannot be starved quietly: how long an account's enforcing calls have failed.

A close that the gateway refuses with 429s, answers with 5xx or does not answer at all leaves
money at risk while the daemon retries. Counting failures per intent hides that (each retry
can take seconds, and a re-planned intent starts counting again), so this watches *time* per
account instead: from the start of the first enforcing call that failed for one of those
causes, until one succeeds. Once that has lasted ``after`` seconds a critical alert goes out
at once, naming the cause; when a call gets through again, one note says so.

Pure bookkeeping with the times passed in: the executor's worker threads feed it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from simple_risk.adapters.topstepx.errors import RateLimitTimeout, TransportError

#: the causes, as the alert names them
RATE_LIMITED = "rate limited (HTTP 429)"
OWN_BUDGET = "rate limited (the daemon's own call budget is used up)"
GATEWAY_ERRORS = "gateway errors (HTTP 5xx)"
NO_ANSWER = "no answer (timeouts)"


def starving_cause(error: BaseException) -> str | None:
    """The cause an enforcing call failed for, when it is one that starves enforcement
    (refused or delayed by the gateway or the limiter), else None (a refusal of the request
    itself, such as an order that is no longer open, is not starvation)."""
    if isinstance(error, RateLimitTimeout):
        # held back because the gateway asked it (a 429, its Retry-After), or by the budget
        return RATE_LIMITED if error.held_for > 0 else OWN_BUDGET
    if isinstance(error, TransportError):
        status = error.http_status
        if status == 429:
            return RATE_LIMITED
        if status is not None and status >= 500:
            return GATEWAY_ERRORS
        if status is None or status == 408:
            return NO_ANSWER
    return None


@dataclass(slots=True)
class _Episode:
    since: float  # monotonic start of the first call that failed
    causes: list[str]
    alerted: bool = False


class StarvationWatch:
    """Per account: since when enforcing calls have been refused or delayed, and why."""

    def __init__(self, after: float = 3.0) -> None:
        self.after = after
        self._lock = threading.Lock()
        self._episodes: dict[int, _Episode] = {}

    def failed(self, account: int, cause: str, started: float, now: float) -> str | None:
        """An enforcing call that started at ``started`` failed at ``now``. Returns the text
        of the critical alert to raise now (once per episode), else None."""
        with self._lock:
            episode = self._episodes.get(account)
            if episode is None:
                episode = self._episodes[account] = _Episode(since=started, causes=[])
            if cause not in episode.causes:
                episode.causes.append(cause)
            lasted = now - episode.since
            if episode.alerted or lasted < self.after:
                return None
            episode.alerted = True
            return (
                f"account {account}: enforcement starved for {lasted:.1f}s — "
                f"{', '.join(episode.causes)}; the daemon keeps retrying, exposure stays open"
            )

    def succeeded(self, account: int, now: float) -> str | None:
        """An enforcing call got through. Returns a note to send when an alerted episode
        ended, else None."""
        with self._lock:
            episode = self._episodes.pop(account, None)
        if episode is None or not episode.alerted:
            return None
        lasted = now - episode.since
        return f"account {account}: enforcement calls get through again after {lasted:.1f}s"

    def starving(self) -> dict[int, float]:
        """Accounts whose enforcing calls are failing now, with since when (monotonic)."""
        with self._lock:
            return {account: episode.since for account, episode in self._episodes.items()}


__all__ = [
    "GATEWAY_ERRORS",
    "NO_ANSWER",
    "OWN_BUDGET",
    "RATE_LIMITED",
    "StarvationWatch",
    "starving_cause",
]
