"""Unknown-fact episodes: an awaited fact a rule needs that stays unknown raises one alert.

When a rule's ``known(...)`` guard finds an awaited fact unknown (no quote yet, no contract
metadata — ``namespace.AWAITED_FACTS``) an episode opens for that (rule, account, item, fact);
it ends when the fact becomes known, the rule stops needing it or the item goes. An episode
that lasts ``after`` (``unknown_alert_after``) raises one ``unknown`` firing (an alert) at the
exact deadline the engine's ``next_deadline`` names (docs/architecture.md §3: "a fact that
stays unknown while a rule needs it for more than a few seconds").

The episodes are state of their own — none of the rule states, locks or intents read them —
so they live in one object beside the engine instead of in the engine's attributes; the
engine's hot path only asks it after an evaluation that saw an unknown (or while episodes
are open), and its time and ``next_deadline`` drive the alerts, never a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simple_risk.engine.calendar import seconds
from simple_risk.engine.events import Event
from simple_risk.engine.facts.account import AccountState, SymbolFacts
from simple_risk.engine.intents import Alert
from simple_risk.engine.plans import CompiledRule
from simple_risk.engine.records import Firing, utc

if TYPE_CHECKING:
    from simple_risk.engine.engine import Engine

#: (rule index, account, item, fact name): what one episode is about
EpisodeKey = tuple[int, int, str, str]


class UnknownFact:
    """An episode of an awaited fact that a rule found unknown for one (account, item)."""

    __slots__ = ("alerted", "event", "since")

    def __init__(self, since: datetime, event: Event, alerted: bool = False) -> None:
        self.since = since
        #: the event of the evaluation that opened it (re-binds the item at the deadline)
        self.event = event
        self.alerted = alerted


class UnknownFacts:
    """The unknown-fact episodes of one engine, and the earliest instant one is due."""

    __slots__ = ("after", "deadline", "episodes", "seen")

    def __init__(self, after: timedelta | None) -> None:
        #: how long a fact a rule needs may stay unknown before it raises an alert (None: never)
        self.after = after
        #: (rule index, account, item, fact name) → the episode of an awaited fact found unknown
        self.episodes: dict[EpisodeKey, UnknownFact] = {}
        #: the earliest instant an episode that has not alerted yet is due
        self.deadline: datetime | None = None
        #: ``known(None)`` calls since the last rule evaluation started (see ``known``)
        self.seen: list[None] = []

    def known(self, value: object) -> bool:
        """``known(x)`` in the engine: the same answer, and an unknown is noted so that the
        rule being evaluated can be told which awaited fact it found unknown."""
        if value is None:
            self.seen.append(None)
            return False
        return True

    def note(
        self,
        compiled: CompiledRule,
        account: int,
        env: dict[str, object],
        item: str,
        event: Event,
        at: datetime,
    ) -> None:
        """After one evaluation: open an episode for each awaited fact the rule found unknown
        (its ``known(...)`` guard said no) and end those it found known or did not need."""
        seen = self.seen
        found = bool(seen)
        seen.clear()
        after = self.after
        if not compiled.awaited or after is None:
            return
        episodes = self.episodes
        for name, family, attr in compiled.awaited:
            key = (compiled.index, account, item, name)
            missing = False
            if found:
                holder = env.get(family)
                try:
                    missing = holder is not None and getattr(holder, attr) is None
                except Exception:  # the rule's own evaluation reports a fact that raises
                    missing = False
            if not missing:
                if key in episodes:
                    self.end(key)
            elif key not in episodes:
                episodes[key] = UnknownFact(at, event)
                due = utc(at + after)
                if self.deadline is None or due < self.deadline:
                    self.deadline = due

    def end(self, key: EpisodeKey) -> None:
        """End one episode (the deadline is searched again only if it was that episode's)."""
        episode = self.episodes.pop(key, None)
        if episode is None or episode.alerted or self.after is None:
            return
        deadline = self.deadline
        if deadline is None or utc(episode.since + self.after) <= deadline:
            self.recompute_deadline()

    def forget(
        self, index: int, account: int, prefix: str, listed: list[tuple[Any, SymbolFacts, str]]
    ) -> None:
        """Episodes of items that no longer exist end with them (a closed position)."""
        keep = {entry[2] for entry in listed}
        gone = [
            key
            for key in self.episodes
            if key[0] == index
            and key[1] == account
            and key[2].startswith(prefix)
            and key[2] not in keep
        ]
        for key in gone:
            self.end(key)

    def end_with_day(self, accounts: Mapping[int, AccountState]) -> None:
        """At the daily reset: the episodes of a fill's item, or of an item that is gone, end."""
        for key in list(self.episodes):
            _index, account, item, _name = key
            state = accounts.get(account)
            kind, _, ident = item.partition(":")
            if (
                state is None
                or kind == "fill-order"
                or (kind == "position" and ident not in state.positions)
                or (kind == "order" and ident.isdigit() and int(ident) not in state.orders)
            ):
                self.end(key)

    def recompute_deadline(self) -> None:
        """The earliest instant an episode that has not alerted yet is due."""
        after = self.after
        deadline: datetime | None = None
        if after is not None:
            for episode in self.episodes.values():
                if not episode.alerted:
                    due = utc(episode.since + after)
                    if deadline is None or due < deadline:
                        deadline = due
        self.deadline = deadline

    def run_deadlines(self, engine: Engine, at: datetime, firings: list[Firing]) -> None:
        """Alert once for every episode that has lasted the threshold, after checking on the
        current facts (re-bound by ``engine`` as at its last evaluation) that it still is
        unknown."""
        after = self.after
        if after is None:
            return
        episodes = self.episodes
        due = sorted(
            (key for key, episode in episodes.items() if not episode.alerted),
            key=lambda key: (key[1], key[0], key[2], key[3]),
        )
        for key in due:
            episode = episodes[key]
            if utc(at) < utc(episode.since + after):
                continue
            index, account, item, name = key
            compiled = engine._by_index.get(index)
            state = engine.store.accounts.get(account)
            if compiled is None or state is None:
                del episodes[key]
                continue
            env = engine._env(state)
            family, _, attr = name.partition(".")
            still = False
            if engine._rebind(env, state, compiled, item, episode.event):
                holder = env.get(family)
                try:
                    still = holder is not None and getattr(holder, attr) is None
                except Exception:
                    still = False
            if not still:
                del episodes[key]
                continue
            episode.alerted = True
            firings.append(_alert(compiled, state, item, name, episode, at))
        self.seen.clear()
        self.recompute_deadline()


def _alert(
    compiled: CompiledRule,
    state: AccountState,
    item: str,
    name: str,
    episode: UnknownFact,
    at: datetime,
) -> Firing:
    """The one ``unknown`` firing of an episode that lasted the threshold."""
    rule = compiled.rule
    level = "critical" if rule.severity == "critical" else "warning"
    waited = seconds(at - episode.since)
    where = f" on {item}" if item else ""
    # whole seconds: the threshold is seconds, and "7019.207675s" reads as noise
    message = f"{name} unknown for {waited:.0f}s: rule {rule.id} cannot decide{where}"
    return Firing(
        rule_id=rule.id,
        account=state.id,
        item=item,
        at=at,
        severity=level,
        message=message,
        values={name: None, "unknown_since": episode.since},
        intents=(Alert(level, message, state.id, rule.id),),
        kind="unknown",
    )
