"""``refire:``: when a rule that stays broken fires again, stated by the rule author.

The default (``episode``) is the inference the engine always made: a rule reading only
account-wide facts has one episode, so a second breach while the first is still true is silent.
Each other spelling changes exactly that and nothing else.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from engine_builders import (
    ACCOUNT,
    account_update,
    at,
    fill,
    order,
    position,
    rule,
    ruleset,
    tick,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the rules group)
    explain_screen,
)
from simple_risk.engine import episodes
from simple_risk.engine.dsl import analyse_text, load_ruleset_text
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import Event
from simple_risk.engine.model import Refire, Rule
from simple_risk.engine.operations import explain, ruleset_changes

BOUNDARY = 8 * 3600  # 17:00 Chicago on the test day: the daily reset
LOSS = "day.realized_pnl <= -100"


def feed(engine: Engine, *events: Event) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


def with_refire(base: Rule, kind: str, every: timedelta | None = None) -> Rule:
    return dataclasses.replace(base, refire=Refire(kind, every))


def loss_rule(kind: str = "episode", every: timedelta | None = None) -> Rule:
    return with_refire(rule("loss", LOSS, ["trade", "clock"]), kind, every)


def test_by_default_an_account_wide_rule_is_silent_while_it_stays_broken() -> None:
    engine = Engine(ruleset(loss_rule()))
    assert len(feed(engine, fill(0, 1, order_id=1, pnl="-150"))) == 1
    assert feed(engine, fill(60, 2, order_id=2, pnl="-50")) == []
    assert feed(engine, tick(3600)) == []


def test_refire_every_fires_again_a_whole_period_after_the_last_firing() -> None:
    engine = Engine(ruleset(loss_rule("every", timedelta(minutes=10))))
    assert len(feed(engine, fill(0, 1, pnl="-150"))) == 1
    assert feed(engine, tick(599)) == []  # just below the period
    assert len(feed(engine, tick(600))) == 1  # the boundary: exactly one period later
    assert feed(engine, tick(1000)) == []  # the period restarts at the last firing
    assert len(feed(engine, tick(1200))) == 1


def test_refire_every_stops_when_the_breach_ends_and_a_new_breach_fires_at_once() -> None:
    engine = Engine(ruleset(loss_rule("every", timedelta(minutes=10))))
    feed(engine, fill(0, 1, order_id=1, pnl="-150"))
    assert feed(engine, fill(60, 2, order_id=2, pnl="200")) == []  # back above: resolved
    assert feed(engine, tick(900)) == []
    assert len(feed(engine, fill(960, 3, order_id=3, pnl="-300"))) == 1


def test_refire_fill_fires_for_every_fill_while_the_rule_is_true() -> None:
    base = rule("losing-fill", "trade.pnl < 0", ["trade"])
    default, per_fill = Engine(ruleset(base)), Engine(ruleset(with_refire(base, "fill")))
    fills = [fill(0, 1, order_id=7, pnl="-10"), fill(1, 2, order_id=7, pnl="-10")]
    assert [f.item for f in feed(default, *fills)] == ["fill-order:7"]  # one order, one episode
    assert [f.item for f in feed(per_fill, *fills)] == ["fill:1", "fill:2"]


def test_refire_order_makes_each_order_a_new_episode_of_an_account_wide_rule() -> None:
    engine = Engine(ruleset(with_refire(rule("loss", LOSS, ["trade"]), "order")))
    firings = feed(
        engine,
        fill(0, 1, order_id=1, pnl="-150"),
        fill(1, 2, order_id=1, pnl="-5"),  # the same order: its episode goes on
        fill(2, 3, order_id=2, pnl="-5"),  # a new order while still broken
    )
    assert [f.item for f in firings] == ["fill-order:1", "fill-order:2"]


def test_refire_order_on_order_updates_uses_the_order_id() -> None:
    base = rule("big", "order.size > 2", ["order"])
    engine = Engine(ruleset(with_refire(base, "order")))
    firings = feed(engine, order(0, 5, size=3), order(1, 5, size=4), order(2, 6, size=3))
    assert [f.item for f in firings] == ["order:5", "order:6"]


def test_refire_day_fires_once_per_trading_day_even_when_the_breach_ends_and_returns() -> None:
    low = with_refire(rule("low", "account.balance < 49000", ["account"]), "day")
    engine = Engine(ruleset(low))
    assert len(feed(engine, account_update(0, "48000"))) == 1
    assert feed(engine, account_update(60, "50000")) == []  # recovered
    assert feed(engine, account_update(120, "48000")) == []  # broken again: same day
    assert len(feed(engine, tick(BOUNDARY), account_update(BOUNDARY + 1, "48000"))) == 1


def test_the_default_fires_again_when_a_breach_ends_and_returns() -> None:
    engine = Engine(ruleset(rule("low", "account.balance < 49000", ["account"])))
    feed(engine, account_update(0, "48000"), account_update(60, "50000"))
    assert len(feed(engine, account_update(120, "48000"))) == 1


def test_describe_says_what_each_spelling_does() -> None:
    every = loss_rule("every", timedelta(minutes=15))
    each = rule("stop", "position.size > 2", ["position"], each="position")
    assert episodes.describe(loss_rule()) == "once per breach episode of the account"
    assert episodes.describe(every) == (
        "once per breach episode of the account, again every 15m while still true"
    )
    assert episodes.describe(loss_rule("day")) == "once per trading day for the account"
    assert episodes.describe(each) == "once per breach episode of each position"
    assert episodes.as_text(every) == "every 15m"
    assert episodes.as_text(loss_rule()) == "episode"


PERIOD = timedelta(minutes=5)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 400), st.sampled_from(["-150", "-10", "300", None])),
        min_size=1,
        max_size=25,
    ),
    cut=st.integers(0, 25),
)
def test_refire_every_is_exact_across_snapshot_and_restore_and_never_closer_than_its_period(
    steps: list[tuple[int, str | None]], cut: int
) -> None:
    events: list[Event] = []
    t = 0
    for trade_id, (gap, pnl) in enumerate(steps, start=1):
        t += gap
        events.append(tick(t) if pnl is None else fill(t, trade_id, order_id=trade_id, pnl=pnl))
    rules = ruleset(loss_rule("every", PERIOD))
    whole = Engine(rules, accounts=[ACCOUNT])
    expected = feed(whole, *events)
    first = Engine(rules, accounts=[ACCOUNT])
    got = feed(first, *events[:cut])
    restored = Engine.restore(rules, json.loads(json.dumps(first.snapshot())), accounts=[ACCOUNT])
    got += feed(restored, *events[cut:])
    assert [(f.at, f.item) for f in got] == [(f.at, f.item) for f in expected]
    assert [f.at for f in expected] == [at(t) for t in _model(steps)]


def _model(steps: list[tuple[int, str | None]]) -> list[int]:
    """The rule book's reading: fire when the day's loss reaches 100, then again whenever it
    is still there a whole period after the last firing; a recovery ends the episode."""
    fired: list[int] = []
    total, t, last = 0, 0, None
    for gap, pnl in steps:
        t += gap
        total += int(pnl) if pnl is not None else 0
        if total > -100:
            last = None
        elif last is None or t - last >= PERIOD.total_seconds():
            fired.append(t)
            last = t
    return fired


NAGGING = """\
ruleset: nag
rules:
  - id: below-floor
    description: Alert every 15 minutes while the balance is below the floor.
    trigger: [account, clock]
    refire: {every: 15m}
    when: account.balance < 49000
    then:
      - alert: {message: "still below the floor"}
"""


def test_refire_is_read_from_the_rule_and_shown_by_explain() -> None:
    compiled = load_ruleset_text(NAGGING, "nag.yaml")
    assert compiled.rules[0].refire == Refire("every", timedelta(minutes=15))
    engine = Engine(compiled, accounts=[ACCOUNT])
    feed(engine, account_update(0, "48000"))
    explained = explain(engine, "below-floor", ACCOUNT, at(1))
    assert explained["refire"] == "every 15m"
    assert explained["fires"] == (
        "once per breach episode of the account, again every 15m while still true"
    )
    console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
    console.print(explain_screen.explain_view(explained, at(1)))
    assert (
        "refire:   every 15m — fires once per breach episode of the account, again every 15m "
        "while still true"
    ) in console.export_text()


def test_lint_json_reports_the_effective_refire_of_every_rule(tmp_path: Path) -> None:
    (tmp_path / "nag.yaml").write_text(NAGGING, encoding="utf-8")
    written = NAGGING.replace("    refire: {every: 15m}\n", "")
    (tmp_path / "plain.yaml").write_text(written.replace("ruleset: nag", "ruleset: plain"))
    result = CliRunner().invoke(
        cli,
        [
            "rules",
            "lint",
            "--format",
            "json",
            str(tmp_path / "nag.yaml"),
            str(tmp_path / "plain.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    nag, plain = json.loads(result.output)["files"]
    assert nag["episodes"] == [
        {
            "rule": "below-floor",
            "refire": "every 15m",
            "fires": "once per breach episode of the account, again every 15m while still true",
        }
    ]
    assert plain["episodes"][0]["refire"] == "episode"


def test_refire_day_with_each_remembers_an_item_that_closed_and_reopened_the_same_day() -> None:
    big = with_refire(rule("big", "position.size > 2", ["position"], each="position"), "day")
    engine = Engine(ruleset(big), accounts=[ACCOUNT])
    assert len(feed(engine, position(0, 3))) == 1
    assert feed(engine, position(1, 0), position(2, 3)) == []  # closed, reopened: same day
    restored = Engine.restore(
        ruleset(big), json.loads(json.dumps(engine.snapshot())), accounts=[ACCOUNT]
    )
    assert feed(restored, position(3, 1), position(4, 4)) == []
    assert len(feed(restored, tick(BOUNDARY), position(BOUNDARY + 1, 5))) == 1


def test_refire_every_counts_its_period_from_the_firing_after_for() -> None:
    held = dataclasses.replace(loss_rule("every", timedelta(minutes=10)), for_=timedelta(minutes=1))
    engine = Engine(ruleset(held), accounts=[ACCOUNT])
    assert feed(engine, fill(0, 1, pnl="-150")) == []  # pending for a minute
    assert [f.at for f in feed(engine, tick(60))] == [at(60)]
    assert feed(engine, tick(659)) == []
    assert [f.at for f in feed(engine, tick(660))] == [at(660)]


def test_a_reload_that_changes_refire_starts_the_rules_episodes_afresh() -> None:
    before = load_ruleset_text(NAGGING, "nag.yaml")
    after = load_ruleset_text(NAGGING.replace("{every: 15m}", "day"), "nag.yaml")
    assert ruleset_changes(before, after).changed == ("below-floor",)
    assert ruleset_changes(before, load_ruleset_text(NAGGING, "nag.yaml")).changed == ()


NAGGING_BY_PARAM = NAGGING.replace(
    "ruleset: nag\n", "ruleset: nag\nparams: {remind: 15m}\n"
).replace("{every: 15m}", "{every: params.remind}")


def test_refire_every_may_name_a_param_as_a_rules_for_may() -> None:
    compiled = load_ruleset_text(NAGGING_BY_PARAM, "nag.yaml")
    assert compiled.rules[0].refire == Refire("every", timedelta(minutes=15))
    seconds = NAGGING_BY_PARAM.replace("{remind: 15m}", "{remind: 90}")
    assert load_ruleset_text(seconds, "nag.yaml").rules[0].refire.every == timedelta(seconds=90)


def test_an_override_of_the_param_moves_the_refire_period() -> None:
    compiled = load_ruleset_text(NAGGING_BY_PARAM, "nag.yaml", params={"remind": "5m"})
    engine = Engine(compiled, accounts=[ACCOUNT])
    assert len(feed(engine, account_update(0, "48000"))) == 1
    assert feed(engine, tick(299)) == []
    assert [f.at for f in feed(engine, tick(300))] == [at(300)]


def test_a_reload_whose_param_moves_the_refire_period_changes_the_rule() -> None:
    before = load_ruleset_text(NAGGING_BY_PARAM, "nag.yaml")
    after = load_ruleset_text(NAGGING_BY_PARAM, "nag.yaml", params={"remind": "5m"})
    assert ruleset_changes(before, after).changed == ("below-floor",)


def test_a_param_named_only_by_refire_every_is_not_reported_unused() -> None:
    found = analyse_text(NAGGING_BY_PARAM, "nag.yaml", strict=True).problems
    assert [p.format() for p in found] == []
