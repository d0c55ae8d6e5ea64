"""Live-shaped fixtures through the converters and the engine, as the daemon feeds them.

Each fixture under ``fixtures/`` is a payload shape the live TopstepX gateway sends (written
from the reference's §14 facts). :class:`Wire` turns hub frames and REST bodies into domain
events with the production converter and applies them to an engine running
``rulesets/topstep.yaml`` (ES limit 5), keeping every firing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simple_risk.adapters.topstepx.converters import contract_from_wire
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.engine import Engine
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Firing
from simple_risk.engine.events import ClockTick, ContractLoaded, Event
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.intents import CancelOrder, NoWorkingOrders, PositionClosed, ReduceTo
from simple_risk.resources import default_ruleset_path

FIXTURES = Path(__file__).parent / "fixtures"
#: Tuesday 09:00 Chicago: inside the regular session, so the session rule stays quiet
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
ACCOUNT = 9102714
ES = "CON.F.US.EP.Z26"


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


class Wire:
    """An engine fed through the production converter; every firing is kept in order."""

    def __init__(self) -> None:
        ruleset = load_ruleset(default_ruleset_path())
        self.engine = Engine(ruleset, accounts=[ACCOUNT])
        self.converter = Converter(symbols=ruleset.symbols)
        self.firings: list[Firing] = []
        self.now = T0
        contract = contract_from_wire(fixture("es-contract.json")["contract"], ruleset.symbols)
        self.apply(ContractLoaded(at=T0, contract=contract))

    @property
    def state(self) -> AccountState:
        state = self.engine.account(ACCOUNT)
        assert state is not None
        return state

    def apply(self, event: Event) -> list[Firing]:
        self.now = max(self.now, event.at)
        fired = self.engine.apply(event)
        self.firings.extend(fired)
        return fired

    def hub(self, frames: Iterable[Mapping[str, Any]], base_ms: int = 0) -> None:
        """User-hub frames, each stamped at T0 + its ``ms`` (+ ``base_ms``), never earlier
        than the previous one (the receive clock is monotonic)."""
        for frame in frames:
            at = max(T0 + timedelta(milliseconds=base_ms + frame["ms"]), self.now)
            events = self.converter.user(frame["target"], frame["arguments"], at)
            assert events, f"the converter refused a live shape: {frame}"
            for event in events:
                self.apply(event)

    def rest(self, endpoint: str, body: Mapping[str, Any]) -> None:
        events = self.converter.rest(endpoint, body, self.now + timedelta(milliseconds=1))
        assert events, f"the converter refused a live {endpoint} body"
        for event in events:
            self.apply(event)

    def tick(self, seconds: float) -> None:
        self.apply(ClockTick(at=self.now + timedelta(seconds=seconds)))

    def cancelled_orders(self) -> list[int]:
        """Ids of every order a firing asked to cancel on its own."""
        return [
            intent.order_id
            for firing in self.firings
            for intent in firing.intents
            if isinstance(intent, CancelOrder)
        ]

    def exposure_cuts(self) -> list[str]:
        """Keys of every intent that cancels orders wholesale or closes or cuts a position."""
        return [
            intent.key
            for firing in self.firings
            for intent in firing.intents
            if isinstance(intent, NoWorkingOrders | PositionClosed | ReduceTo)
        ]


def children_first(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The birth frames with the entry's announcement moved after its two children."""
    entry, sl, tp, *rest = frames
    return [{**sl, "ms": 0}, {**tp, "ms": 0}, {**entry, "ms": 1}, *rest]


__all__ = ["ACCOUNT", "ES", "T0", "Wire", "children_first", "fixture"]
