"""Observe mode: which accounts are only watched, and what enforcing them would have sent.

A new user should see what the daemon *would* do on a real account before giving it the power
to flatten. An observed account is evaluated exactly like an enforced one — every event, every
firing, lockout and intent is journaled — but the runtime stops each intent at the one place
where intents are handed to the executor and says the planned calls in words ("would close
MNQ 2 (long)") instead of sending them. Nothing that changes anything at the gateway is sent.

Who decides: at start, the configuration (``enforce: false``) or ``engine run --observe``; an
admin's ``simple-risk admin enforce ACCOUNT --on|--off`` (audited in the store) then wins, also
over the next restart's configuration — an admin who turned enforcement on must not see a
restart with an old configuration (or an old ``--observe`` in a service file) undo it. The
audit row is the record: the newest ``enforce`` admin action of each account is its mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.engine.facts.account import AccountState
from simple_risk.store import Store
from simple_risk.store.records import AdminAction
from simple_risk.whatif.words import call_words

#: the admin action (in the store's audit) that turns enforcement on or off for an account
ENFORCE_ACTION = "enforce"

Mode = Literal["observe", "enforce"]


@dataclass(frozen=True, slots=True)
class Choice:
    """An account's mode and who chose it (``configuration`` or the admin's audit line)."""

    mode: Mode
    source: str

    def as_json(self) -> dict[str, str]:
        return {"mode": self.mode, "source": self.source}


class Enforcement:
    """Each guarded account's mode. Read on any thread; changed on the engine thread only."""

    def __init__(
        self, accounts: Iterable[int], observed: Iterable[int], source: str = "configuration"
    ) -> None:
        watched = set(observed)
        self._choices: dict[int, Choice] = {
            account: Choice("observe" if account in watched else "enforce", source)
            for account in accounts
        }

    def load(self, store: Store) -> list[str]:
        """Apply the newest admin choice of every account kept in the store (a restart);
        returns a line for each account whose configured mode it overrides."""
        newest: dict[int, AdminAction] = {}
        for action in store.admin_actions():
            account = action.account
            if action.action != ENFORCE_ACTION or account is None or account not in self._choices:
                continue
            if isinstance(action.args.get("enforce"), bool):
                newest[account] = action
        overridden = []
        for account, action in sorted(newest.items()):
            mode: Mode = "enforce" if action.args["enforce"] else "observe"
            before = self._choices[account].mode
            self._choices[account] = Choice(mode, admin_source(action))
            if before != mode:
                overridden.append(
                    f"account {account}: {mode} (configured: {before}), "
                    f"as {self._choices[account].source}"
                )
        return overridden

    def observing(self, account: int) -> bool:
        choice = self._choices.get(account)
        return choice is not None and choice.mode == "observe"

    def observed(self) -> frozenset[int]:
        return frozenset(a for a, c in self._choices.items() if c.mode == "observe")

    def choice(self, account: int) -> Choice:
        return self._choices.get(account, Choice("enforce", "configuration"))

    def choose(self, account: int, enforce: bool, source: str) -> Choice:
        """Set the account's mode; returns the previous choice."""
        before = self.choice(account)
        self._choices[account] = Choice("enforce" if enforce else "observe", source)
        return before


def admin_source(action: AdminAction) -> str:
    """``admin alice at 2027-01-13T16:02:00+00:00 (go live)``."""
    return f"admin {action.who} at {action.at.isoformat()} ({action.why})"


def would_words(calls: Sequence[RestRequest], state: AccountState | None) -> list[str]:
    """The planned calls as a trader says them, without "would" (``close MNQ 2 (long)``)."""
    return [call_words(call, state) for call in calls]


__all__ = [
    "ENFORCE_ACTION",
    "Choice",
    "Enforcement",
    "Mode",
    "admin_source",
    "would_words",
]
