"""Unknown facts are explicit: a fact a rule needs that stays unknown too long raises an alert.

architecture.md §3: "A fact that stays unknown while a rule needs it for more than a few seconds
raises an alert." The engine learns from ``known(x)`` which awaited fact (a price, contract
metadata) a rule found unknown for which account and item, and alerts once per episode at the
exact instant the threshold passes (``next_deadline``), never by reading a clock.
"""

from __future__ import annotations

import json
from datetime import timedelta

from engine_builders import (
    ACCOUNT,
    MNQ,
    action,
    at,
    fill,
    loaded,
    order,
    position,
    quote,
    rule,
    ruleset,
    tick,
)

from simple_risk.engine.engine import UNKNOWN_ALERT_AFTER, Engine, Firing
from simple_risk.engine.events import Event, OrderType
from simple_risk.engine.intents import Alert
from simple_risk.engine.model import Ruleset

ITEM = "position:" + MNQ


def loss_rule(severity: str = "critical") -> Ruleset:
    return ruleset(
        rule(
            "open-loss",
            "known(position.unrealized_pnl) and position.unrealized_pnl <= -100",
            ["quote", "position"],
            [action("close_position")],
            each="position",
            severity=severity,
        )
    )


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def unknown(firings: list[Firing]) -> list[Firing]:
    return [f for f in firings if f.kind == "unknown"]


def test_an_alert_found_late_says_the_wait_in_whole_seconds() -> None:
    """The first evaluation after a long silence (a machine that slept) finds the deadline
    long past: the alert read "unknown for 7019.207675s"."""
    engine = Engine(loss_rule())
    feed(engine, loaded(0), position(0, 1))
    [alert] = unknown(feed(engine, tick(7019.207675)))
    assert "position.unrealized_pnl unknown for 7019s:" in alert.message, alert.message


def test_a_price_unknown_for_the_threshold_alerts_once_at_the_exact_deadline() -> None:
    engine = Engine(loss_rule())
    assert feed(engine, loaded(0), position(0, 1)) == []
    assert engine.next_deadline() == at(0) + UNKNOWN_ALERT_AFTER
    assert unknown(feed(engine, tick(4.999))) == []
    [alert] = unknown(feed(engine, tick(5)))
    assert (alert.rule_id, alert.account, alert.item, alert.at) == (
        "open-loss",
        ACCOUNT,
        ITEM,
        at(5),
    )
    assert alert.severity == "critical"
    assert "position.unrealized_pnl unknown for 5s" in alert.message
    assert alert.intents == (Alert("critical", alert.message, ACCOUNT, "open-loss"),)
    assert alert.values["position.unrealized_pnl"] is None
    # once per episode: later evaluations that still find it unknown stay quiet
    assert unknown(feed(engine, position(6, 2), tick(20), tick(60))) == []


def test_the_episode_ends_when_the_fact_becomes_known_and_a_new_one_alerts_again() -> None:
    engine = Engine(loss_rule(severity="warning"))
    feed(engine, loaded(0), position(0, 1))
    assert unknown(feed(engine, quote(3, "21000"))) == []  # known within the threshold
    assert engine.next_deadline() != at(5)
    assert unknown(feed(engine, tick(10))) == []
    # a quote without any price: unknown again from 12 s, alert at 17 s
    feed(engine, quote(12))
    [alert] = unknown(feed(engine, tick(17)))
    assert alert.severity == "warning" and alert.at == at(17)


def test_facts_absent_by_nature_raise_no_alert() -> None:
    engine = Engine(
        ruleset(
            rule(
                "stopless",
                "not known(position.stop_price)",  # no stop is an answer, not missing data
                ["position"],
                each="position",
            ),
            rule("closing", "known(trade.order_pnl) and trade.order_pnl < 0", ["trade"]),
        )
    )
    firings = feed(engine, loaded(0), position(0, 1), fill(1, 1), tick(10), tick(60))
    assert unknown(firings) == []
    assert engine.next_deadline() != at(5)


def test_a_position_closed_before_the_deadline_raises_nothing() -> None:
    engine = Engine(loss_rule())
    feed(engine, loaded(0), position(0, 1), position(2, 0))
    assert unknown(feed(engine, tick(5), tick(30))) == []


def test_a_rule_that_no_longer_needs_the_fact_ends_the_episode() -> None:
    engine = Engine(
        ruleset(
            rule(
                "big-and-losing",
                "position.size > 1 and known(position.unrealized_pnl)"
                " and position.unrealized_pnl < 0",
                ["position", "order"],
                each="position",
            )
        )
    )
    feed(engine, loaded(0), position(0, 2))  # needs the price: unknown from 0 s
    feed(engine, position(2, 1))  # size 1: the rule decides without it
    assert unknown(feed(engine, tick(5), tick(30))) == []


def test_metadata_that_never_arrives_is_reported_for_each_fact() -> None:
    engine = Engine(
        ruleset(
            rule(
                "ticks",
                "known(position.tick_size) and known(position.profit_ticks)"
                " and position.profit_ticks > 10",
                ["quote", "position"],
                each="position",
            )
        )
    )
    feed(engine, position(0, 1), quote(1, "21000"))  # no ContractLoaded: no tick size
    alerts = unknown(feed(engine, tick(5)))
    assert sorted(next(iter(f.values)) for f in alerts) == [
        "position.profit_ticks",
        "position.tick_size",
    ]


def test_the_threshold_is_an_engine_option_and_none_switches_alerts_off() -> None:
    engine = Engine(loss_rule(), unknown_alert_after=timedelta(seconds=2))
    feed(engine, loaded(0), position(0, 1))
    assert [f.at for f in unknown(feed(engine, tick(2)))] == [at(2)]
    quiet = Engine(loss_rule(), unknown_alert_after=None)
    feed(quiet, loaded(0), position(0, 1))
    assert quiet.next_deadline() != at(5)
    assert unknown(feed(quiet, tick(5), tick(60))) == []


def test_a_restored_engine_alerts_when_the_uninterrupted_one_would() -> None:
    rs = loss_rule()
    engine = Engine(rs)
    feed(engine, loaded(0), position(0, 1), order(1, 9, side="sell", kind=OrderType.STOP))
    restored = Engine.restore(rs, json.loads(json.dumps(engine.snapshot())))
    assert restored.next_deadline() == engine.next_deadline() == at(5)
    assert [(f.kind, f.item, f.at) for f in feed(restored, tick(5))] == [
        (f.kind, f.item, f.at) for f in feed(engine, tick(5))
    ]
    again = Engine.restore(rs, json.loads(json.dumps(restored.snapshot())))
    assert unknown(feed(again, tick(30))) == []  # the episode already alerted
