"""A rule test names only rules, intents and events that exist, and sizes that can be.

An author's typo in a test file must be a located mistake, not a quiet pass: ``not_fired:
[scale-in-cp]`` could never fail, ``fired: [roots-per-dya]`` fails as if the rule were wrong,
``fil:`` is an event kind that does not exist, a position of -1 contracts is not a short
position, and a case named ``2026-12-24`` (a YAML date) has a name.
"""

from __future__ import annotations

from pathlib import Path

from simple_risk.engine.ruletest import load_test_text, run_files

RULESET = """\
ruleset: tiny
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
rules:
  - id: daily-loss
    description: The day's net realized P&L at or below -500 flattens.
    trigger: [trade]
    when: day.realized_pnl <= -500
    then: [flatten]
"""

HEADER = """\
ruleset: tiny.yaml
start: 2026-11-24T09:00:00-06:00
tests:
"""

LOSS = (
    "      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000,"
    " pnl: -500}}\n"
)


def _run(tmp_path: Path, expect: str) -> list[str]:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(
        HEADER + "  - name: a loss of the limit\n    events:\n" + LOSS + "    expect:\n" + expect,
        encoding="utf-8",
    )
    report = run_files([path])
    assert not report.ok
    return [p.format() for p in report.problems]


def test_a_misspelt_rule_in_not_fired_is_a_mistake_not_a_pass(tmp_path: Path) -> None:
    problems = _run(tmp_path, "      - {at: 1s, not_fired: [daily-los]}\n")
    assert any(
        "case.test.yaml:8:" in p and "no rule 'daily-los'" in p and 'did you mean "daily-loss"' in p
        for p in problems
    ), problems


def test_a_misspelt_rule_in_fired_and_lockouts_is_named(tmp_path: Path) -> None:
    problems = _run(
        tmp_path,
        "      - {at: 1s, fired: [lockout:daily-los], lockouts: [{rule: nope}]}\n",
    )
    assert any("no rule 'daily-los'" in p for p in problems), problems
    assert any("no rule 'nope'" in p and "tiny.yaml has: daily-loss" in p for p in problems)


def test_an_intent_that_does_not_exist_is_named(tmp_path: Path) -> None:
    problems = _run(
        tmp_path, "      - {at: 1s, intents: [cancel_order]}\n      - {at: 2s, intents: [flaten]}\n"
    )
    assert any(
        "case.test.yaml:9:1: unknown intent 'flaten'" in p and "stop_at" in p for p in problems
    )
    assert not any("unknown intent 'cancel_order'" in p for p in problems), problems


def test_rule_ids_intents_and_firing_kinds_that_exist_pass(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(
        HEADER
        + "  - name: a loss of the limit\n    events:\n"
        + LOSS
        + "    expect:\n"
        + "      - {at: 1s, fired: [daily-loss], not_fired: [error:daily-loss],"
        + " intents: [cancel_orders]}\n",
        encoding="utf-8",
    )
    report = run_files([path])
    assert report.ok, [p.format() for p in report.problems]


def _load(tmp_path: Path, events: str, name: str = "a case") -> list[str]:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    expect = "    expect:\n      - {at: 1s, fired: []}\n"
    text = f"{HEADER}  - name: {name}\n    events:\n{events}{expect}"
    return [p.format() for p in load_test_text(text, "bad.test.yaml", base=tmp_path).problems]


def test_a_misspelt_event_kind_gets_its_did_you_mean(tmp_path: Path) -> None:
    problems = _load(tmp_path, "      - {at: 1s, fil: {order: 1}}\n")
    assert any("unknown event `fil`" in p and 'did you mean "fill"' in p for p in problems)


def test_a_negative_size_is_refused_and_a_flat_position_is_not(tmp_path: Path) -> None:
    problems = _load(
        tmp_path,
        "      - {at: 1s, position: {contract: ES, side: short, size: -1, avg_price: 6000}}\n",
    )
    assert any("`size:` is 0 or more, got -1" in p for p in problems), problems
    assert _load(tmp_path, "      - {at: 1s, position: {contract: ES, size: 0}}\n") == []
    problems = _load(
        tmp_path, "      - {at: 1s, fill: {contract: ES, side: buy, size: 0, price: 6000}}\n"
    )
    assert any("`size:` is 1 or more, got 0" in p for p in problems), problems


def test_a_case_named_like_a_date_is_told_to_quote_it(tmp_path: Path) -> None:
    problems = _load(tmp_path, "      - {at: 1s, clock: {}}\n", name="2026-12-24")
    assert any("`name:` is text" in p and '"2026-12-24"' in p for p in problems), problems


def test_an_override_the_ruleset_refuses_is_reported_where_it_is_written(tmp_path: Path) -> None:
    ruleset = RULESET.replace("<= -500", "<= -params.limit") + "params:\n  limit: 500\n"
    (tmp_path / "tiny.yaml").write_text(ruleset, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(
        HEADER.replace("tests:\n", 'params: {limit: "500"}\ntests:\n')
        + "  - name: a loss of the limit\n    params: {limt: 400}\n    events:\n"
        + LOSS
        + "    expect:\n      - {at: 1s, fired: [daily-loss]}\n",
        encoding="utf-8",
    )
    problems = [p.format() for p in run_files([path]).problems]
    assert any(
        p.startswith(f"{path}:3:10:") and 'param "limit" is a number' in p for p in problems
    ), problems
    assert any(p.startswith(f"{path}:6:14:") and '"limt"' in p for p in problems), problems


def test_a_failing_derived_fact_is_named_like_its_firing(tmp_path: Path) -> None:
    ruleset = RULESET.replace(
        "rules:\n",
        "derive:\n  average:\n    type: money\n"
        "    value: day.realized_pnl / day.closed_trades\nrules:\n",
    ).replace("day.realized_pnl <= -500", "known(derived.average) and derived.average < -100")
    (tmp_path / "tiny.yaml").write_text(ruleset, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(
        HEADER
        + "  - name: no trade has closed yet, so the average cannot be computed\n"
        + "    events:\n"
        + "      - {at: 1s, fill: {order: 1, contract: MNQ, side: buy, size: 1, price: 21000}}\n"
        + "    expect:\n      - {at: 1s, fired: [error:daily-loss, error:derived.average]}\n",
        encoding="utf-8",
    )
    report = run_files([path])
    assert report.ok, [p.format() for p in report.problems] + [
        f for r in report.results for f in r.failures
    ]
