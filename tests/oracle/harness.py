"""Plays one event stream through the YAML engine and through the oracle, side by side.

Both see exactly the same events. Between events the harness fires every timer either side
asks for (``next_deadline()``) as a ``ClockTick`` — the union, so that an engine that forgets a
deadline is caught by the oracle's, and the other way round. Only rule firings are compared;
lockout enforcement is the engine's own business (tested by the rule tests).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import ClockTick, Event
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    StopAt,
)
from simple_risk.engine.model import Ruleset

from .model import Oracle, OracleFiring

TOPSTEP = Path(__file__).resolve().parents[2] / "rulesets" / "topstep.yaml"


@dataclass(frozen=True)
class Seen:
    """One firing in the comparable form both sides are reduced to."""

    at: datetime
    rule: str
    account: int
    item: str
    intents: tuple[tuple[tuple[object, ...], int], ...]
    locks: tuple[tuple[str, str | None, datetime | None], ...]

    def __str__(self) -> str:
        item = f"[{self.item}]" if self.item else ""
        when = self.at.isoformat()
        return f"{when} {self.rule}{item} acct {self.account} {self.intents} {self.locks}"


def canonical_intent(intent: Intent) -> tuple[object, ...]:
    if isinstance(intent, CancelOrder):
        return ("cancel_order", intent.order_id)
    if isinstance(intent, NoWorkingOrders):
        return ("cancel_orders", intent.symbol, intent.contract_id, intent.side)
    if isinstance(intent, PositionClosed):
        return ("close_position", intent.contract_id)
    if isinstance(intent, ReduceTo):
        if intent.scope == "account":
            return ("reduce_to", "account", intent.max_units, "units", intent.order)
        return ("reduce_to", intent.symbol, intent.max_contracts, "contracts", intent.order)
    if isinstance(intent, StopAt):
        return ("stop_at", intent.contract_id, intent.price, intent.size)
    if isinstance(intent, Alert):
        return ("alert", intent.level)
    raise TypeError(intent)


def _bag(intents: Iterable[tuple[object, ...]]) -> tuple[tuple[tuple[object, ...], int], ...]:
    return tuple(sorted(Counter(intents).items(), key=repr))


def from_engine(firing: Firing) -> Seen:
    item = firing.item.partition(":")[2] if ":" in firing.item else firing.item
    locks = tuple(sorted(((n.scope, n.symbol, n.ends_at) for n in firing.locks), key=repr))
    intents = _bag(canonical_intent(i) for i in firing.intents)
    return Seen(firing.at, firing.rule_id, firing.account, item, intents, locks)


def from_oracle(firing: OracleFiring) -> Seen:
    locks = tuple(sorted(firing.locks, key=repr))
    return Seen(firing.at, firing.rule, firing.account, firing.item, _bag(firing.intents), locks)


def ruleset_with(params: Mapping[str, object] | None = None, enable: Iterable[str] = ()) -> Ruleset:
    """topstep.yaml with param overrides and ``enabled: false`` rules switched on."""
    ruleset = load_ruleset(TOPSTEP, params=dict(params) if params else None)
    switched_on = set(enable)
    rules = tuple(
        dataclasses.replace(rule, enabled=True) if rule.id in switched_on else rule
        for rule in ruleset.rules
    )
    return dataclasses.replace(ruleset, rules=rules)


def play(
    events: Iterable[Event],
    params: Mapping[str, object] | None = None,
    enable: Iterable[str] = (),
) -> tuple[list[Seen], list[Seen], list[Firing]]:
    """(engine's rule firings, oracle's firings, every engine firing) for one stream."""
    switched_on = tuple(enable)
    engine = Engine(ruleset_with(params, switched_on))
    oracle = Oracle(params, switched_on)
    engine_seen: list[Seen] = []
    oracle_seen: list[Seen] = []
    everything: list[Firing] = []
    last: datetime | None = None

    def feed(event: Event) -> None:
        nonlocal last
        fired = engine.apply(event)
        everything.extend(fired)
        engine_seen.extend(from_engine(f) for f in fired if f.kind == "rule")
        oracle_seen.extend(from_oracle(f) for f in oracle.apply(event))
        last = event.at

    for event in events:
        while True:
            candidates = [
                d
                for d in (engine.next_deadline(), oracle.next_deadline())
                if d is not None and d <= event.at and (last is None or d > last)
            ]
            if not candidates:
                break
            feed(ClockTick(at=min(candidates)))
        feed(event)
    return engine_seen, oracle_seen, everything


def difference(engine: list[Seen], oracle: list[Seen]) -> str:
    """Empty when both sides fired the same; otherwise the first differences, readable."""
    only_engine = Counter(engine) - Counter(oracle)
    only_oracle = Counter(oracle) - Counter(engine)
    if not only_engine and not only_oracle:
        return ""
    lines = ["engine and oracle disagree"]
    for seen in sorted(only_engine, key=lambda s: (s.at, s.rule))[:8]:
        lines.append(f"  engine only: {seen}")
    for seen in sorted(only_oracle, key=lambda s: (s.at, s.rule))[:8]:
        lines.append(f"  oracle only: {seen}")
    return "\n".join(lines)
