"""The incremental engine fires exactly what a full re-evaluation fires.

``Engine(incremental=True)`` (the default) re-evaluates a woken rule only when the event changed
a fact it reads (``simple_risk.engine.dependencies``); ``Engine(incremental=False)`` evaluates
every rule the event's trigger wakes. On random trading days over every shipped ruleset, with
deadline ticks, admin re-arms and a snapshot/restore at a random cut thrown in, both must give
identical firings — every field: rule, account, item, time, message, trace, intents, locks —
and identical snapshots after every event.

The shipped rules read a few facts with the triggers that change them, so a probe ruleset
reads every fact of the account-level and item families, each from rules woken by other
triggers than the ones that change it (a position's stop price on quotes only, an account's
equity on fills only …): a change the index forgets shows there. The 50-rule book of
``bench/scaling.py`` adds rules narrowed to one ticker each (``position.symbol == "NQ" and
…``), which the index evaluates only for the items of their ticker.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cache
from pathlib import Path
from unittest.mock import patch

from hypothesis import given, note, settings
from hypothesis import strategies as st

from bench.scaling import book
from bench.workload import Profile
from simple_risk.engine import dependencies, namespace
from simple_risk.engine.dsl import load_ruleset, load_ruleset_text
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import ClockTick, Event
from simple_risk.engine.model import Ruleset

from .strategies import trading_days

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
SHIPPED = ("topstep.yaml", *sorted(p.name for p in (RULESETS / "examples").glob("*.yaml")))
PROBE = "probe"
PER_TICKER = "per-ticker book"
#: the probe's trigger sets, taken in turn
PROBE_TRIGGERS = (
    "quote",
    "order",
    "position",
    "trade",
    "account",
    "clock",
    "quote, order",
    "position, trade",
)


#: a comparison for each string fact with a closed set of words (or a fixed shape) that the
#: generated days make true and false in turn: a word the fact holds (lint refuses any other)
PROBE_WORDS = {
    "order.side": '== "buy"',
    "trade.side": '== "buy"',
    "position.side": '== "long"',
    "order.type": '== "limit"',
    "order.status": '== "open"',
    "session.weekday": '!= "fri"',
    "session.time": '>= "10:00"',
    "session.trading_day": '!= "2026-12-24"',
    "lock.scope": '== "account"',
}
NOT_ES = '!= "ES"'


def _probe_condition(fact: namespace.Fact) -> str:
    """A condition on one fact that the generated days make true and false in turn."""
    name, kind = fact.name, fact.type.value
    if kind == "bool":
        body = name
    elif kind == "str":
        body = f"{name} {PROBE_WORDS.get(name, NOT_ES)}"
    elif kind == "money":
        body = f"{name} < 0"
    elif kind == "price":
        body = f"{name} > 6000"
    elif kind == "seconds":
        body = f"{name} > 10"
    else:
        body = f"{name} > 1"
    return f"known({name}) and {body}" if fact.optional else body


#: derived facts of the probe: (name, definition, each, the condition its rules test)
PROBE_DERIVED = (
    (
        "peak_open_pnl",
        "{type: money, trigger: [quote], max: account.unrealized_pnl, over: day}",
        None,
        "> 1",
    ),
    ("fills_10m", "{type: int, trigger: [trade], count: trade.size > 0, within: 10m}", None, "> 1"),
    (
        "most_lots",
        "{type: int, trigger: [position], max: account.open_contracts_raw, over: day}",
        None,
        "> 1",
    ),
    (
        "worst_open_pnl",
        "{type: money, each: position, trigger: [quote], min: position.unrealized_pnl,"
        " over: position}",
        "position",
        "< 0",
    ),
)


#: conditions on the session facts the index keeps by the instants they change at (a session
#: edge, the daily reset), each with other facts that change on their own
PROBE_SESSION = (
    'session.open("rth")',
    'account.open_contracts_raw > 0 and not session.open("rth")',
    'session.is_trading_day and account.working_orders > 0 and session.weekday != "fri"',
    'session.open("rth") and day.trade_count > 2 and not session.is_holiday',
)


def probe_ruleset() -> Ruleset:
    """Two rules per fact of ``account``, ``day``, ``week``, ``position``, ``symbol`` and
    ``order`` (``each:`` for the item families), five per session condition, and two per
    derived fact of the probe's own, woken by different triggers."""
    lines = [
        "ruleset: dependency-probe",
        "calendar: {timezone: America/Chicago, trading_day_starts: '17:00',"
        " sessions: {rth: {start: '08:30', end: '15:00', days: [mon, tue, wed, thu, fri]}}}",
        "derive:",
    ]
    lines += [f"  {name}: {definition}" for name, definition, _each, _test in PROBE_DERIVED]
    lines.append("rules:")
    count = 0
    families = ("account", "day", "week", "position", "symbol", "order")
    for fact in (f for f in namespace.FACTS.values() if f.family in families):
        for turn in (0, 3):
            triggers = PROBE_TRIGGERS[(count + turn) % len(PROBE_TRIGGERS)]
            count += 1
            lines += [f"  - id: probe-{count}", f"    trigger: [{triggers}]"]
            if fact.family in ("position", "symbol", "order"):
                lines.append(f"    each: {fact.family}")
            lines += [
                f"    when: '{_probe_condition(fact)}'",
                "    then: [{alert: {level: info, message: '{" + fact.name + "}'}}]",
            ]
    for condition in PROBE_SESSION:
        for turn in (0, 1, 2, 4, 5):
            triggers = PROBE_TRIGGERS[(count + turn) % len(PROBE_TRIGGERS)]
            count += 1
            lines += [
                f"  - id: probe-{count}",
                f"    trigger: [{triggers}]",
                f"    when: '{condition}'",
                "    then: [{alert: {level: info, message: '{session.trading_day}'}}]",
            ]
    for name, _definition, each, test in PROBE_DERIVED:
        for turn in (0, 3):
            triggers = PROBE_TRIGGERS[(count + turn) % len(PROBE_TRIGGERS)]
            count += 1
            lines += [f"  - id: probe-{count}", f"    trigger: [{triggers}]"]
            if each is not None:
                lines.append(f"    each: {each}")
            lines += [
                f"    when: 'known(derived.{name}) and derived.{name} {test}'",
                "    then: [{alert: {level: info, message: '{derived." + name + "}'}}]",
            ]
    return load_ruleset_text("\n".join(lines) + "\n", "dependency-probe.yaml")


@cache
def shipped(name: str) -> Ruleset:
    """A shipped ruleset with every rule switched on (the optional ones too), or the probe."""
    if name == PROBE:
        return probe_ruleset()
    if name == PER_TICKER:
        return book(50)
    path = RULESETS / name if name == "topstep.yaml" else RULESETS / "examples" / name
    loaded = load_ruleset(path)
    rules = tuple(dataclasses.replace(rule, enabled=True) for rule in loaded.rules)
    return dataclasses.replace(loaded, rules=rules)


def _step(
    engines: tuple[Engine, Engine], event: Event, following: Event | None
) -> tuple[list[Firing], list[Firing]]:
    """One event through both engines, then every deadline either names that falls before
    the next event (as the daemon ticks; both get the same ticks, a restored engine may name
    a later lock end than an uninterrupted one, whose early guess costs a tick that finds
    nothing)."""
    first, second = engines
    firings = (first.apply(event), second.apply(event))

    def deadline() -> datetime | None:
        named = [d for d in (first.next_deadline(), second.next_deadline()) if d is not None]
        return min(named) if named else None

    due = deadline()
    while following is not None and due is not None and due <= following.at:
        tick = ClockTick(at=max(due, event.at))
        firings[0].extend(first.apply(tick))
        firings[1].extend(second.apply(tick))
        later = deadline()
        if later == due:
            break
        due = later
    return firings


@settings(max_examples=60)
@given(
    day=trading_days(),
    name=st.sampled_from((*SHIPPED, PROBE, PROBE, PER_TICKER, PER_TICKER)),
    rearm_every=st.sampled_from((0, 7, 23)),
    cut=st.floats(0, 1),
)
def test_incremental_and_full_evaluation_fire_the_same(
    day: tuple[Profile, list[Event]], name: str, rearm_every: int, cut: float
) -> None:
    profile, events = day
    note(f"profile: {profile}; ruleset {name}")
    ruleset = shipped(name)
    incremental = Engine(ruleset)
    full = Engine(ruleset, incremental=False)
    cut_at = int(cut * len(events))
    for index, event in enumerate(events):
        following = events[index + 1] if index + 1 < len(events) else None
        if index == cut_at:  # the incremental engine restarts from a snapshot here
            incremental = Engine.restore(ruleset, incremental.snapshot())
        fired, expected = _step((incremental, full), event, following)
        assert fired == expected, index
        if rearm_every and index % rearm_every == rearm_every - 1:
            # an admin clears every firing episode of the account the event was about
            account = getattr(event, "account_id", None)
            for compiled in full.rules if account is not None else ():
                rule_id = compiled.rule.id
                assert incremental.rearm(rule_id, account) == full.rearm(rule_id, account)
        assert incremental.snapshot() == full.snapshot(), index


def _without_tickers() -> AbstractContextManager[object]:
    """A patch under which no rule is narrowed to a ticker (every one runs for every item)."""
    return patch.object(dependencies, "ticker_of", lambda *_args, **_kwargs: None)


@settings(max_examples=40)
@given(day=trading_days(), size=st.sampled_from((50, 120)))
def test_rules_narrowed_to_a_ticker_fire_as_if_evaluated_for_every_item(
    day: tuple[Profile, list[Event]], size: int
) -> None:
    """A rule whose first condition names its item's ticker is skipped for the items and
    events of other roots (and, on an event about no root, when no item of its ticker is
    held and it keeps no state): exactly what evaluating it everywhere gives."""
    profile, events = day
    note(f"profile: {profile}; book of {size}")
    ruleset = book(size)
    narrowed = Engine(ruleset)
    with _without_tickers():
        evaluated = Engine(ruleset)
    assert any(c.ticker and c.each is None for c in narrowed.rules)
    assert any(c.ticker and c.each is not None for c in narrowed.rules)
    assert not any(c.ticker for c in evaluated.rules)
    for index, event in enumerate(events):
        following = events[index + 1] if index + 1 < len(events) else None
        fired, expected = _step((narrowed, evaluated), event, following)
        assert fired == expected, index
    assert narrowed.snapshot() == evaluated.snapshot()
