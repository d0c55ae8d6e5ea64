"""The ``rules test`` runner itself: it can fail, it says where, and it covers what it claims.

Uses a two-rule ruleset written for these tests, so nothing here depends on topstep.yaml.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.engine.ruletest import load_test_text, run_files

RULESET = """\
ruleset: tiny
calendar:
  timezone: America/Chicago
  trading_day_starts: "17:00"
  sessions: {rth: {start: "08:30", end: "15:00", days: [mon, tue, wed, thu, fri]}}
params:
  daily_loss_limit: 500
rules:
  - id: daily-loss
    description: The day's net realized P&L at or below the limit locks the account.
    trigger: [trade, reconcile]
    when: day.realized_pnl <= -params.daily_loss_limit
    then:
      - flatten
      - lockout: {until: trading_day_end}
  - id: naked-position
    description: An unprotected position is closed after 10 s.
    trigger: [position, order, clock]
    each: position
    when: not position.protected
    for: 10s
    then: [close_position]
"""

HEADER = """\
ruleset: tiny.yaml
start: 2026-11-24T09:00:00-06:00
tests:
"""


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    path = tmp_path / "case.test.yaml"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_a_case_that_matches_what_happened_passes(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
  - name: a loss of exactly the limit locks
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -500}}
    expect:
      - at: 1s
        fired: [daily-loss]
        intents: [cancel_orders]
        lockouts: [{scope: account, rule: daily-loss, until: "2026-11-24T17:00:00-06:00"}]
""",
    )
    report = run_files([path])
    assert report.ok, [f for r in report.results for f in r.failures]


def test_a_file_with_an_error_runs_none_of_its_cases(tmp_path: Path) -> None:
    """A duplicate key (the second silently wins) ran the file's cases anyway: FAIL and PASS
    lines about a file that does not say what the author wrote, before the error."""
    path = _write(
        tmp_path,
        """\
  - name: a loss of exactly the limit locks
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -500}}
    expect:
      - at: 1s
        fired: [daily-loss]
    expect:
      - at: 1s
        fired: []
""",
    )
    report = run_files([path])
    assert not report.ok
    assert [problem.message for problem in report.problems] == [
        'duplicate key "expect" (lines 7 and 10)'
    ]
    assert report.results == []


def test_a_wrong_expectation_fails_and_prints_expected_and_got(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
  - name: a loss one cent short of the limit
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -499.99}}
    expect:
      - at: 1s
        fired: [daily-loss]
""",
    )
    report = run_files([path])
    assert not report.ok
    (failure,) = report.results[0].failures
    assert "case.test.yaml:8: at 2026-11-24T09:00:01-06:00: fired" in failure
    assert "expected: [daily-loss]" in failure
    assert "got:      [] (nothing)" in failure


def test_a_for_timer_fires_at_its_exact_instant_without_ticks(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
  - name: a naked position is closed after exactly 10 seconds
    events:
      - {at: 0s, position: {contract: MNQ, side: long, size: 1, avg_price: 21000}}
    expect:
      - at: 9s999ms
        fired: []
      - at: 10s
        fired: [naked-position]
        intents: [cancel_orders CON.F.US.MNQ.Z26, close_position CON.F.US.MNQ.Z26]
        pending: [close_position CON.F.US.MNQ.Z26]
""",
    )
    report = run_files([path])
    assert report.ok, report.results[0].failures


def test_wrong_lockouts_and_locked_fail(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
  - name: the lock ends at 17:00, not 16:00
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -600}}
    expect:
      - at: 1s
        lockouts: [{until: "2026-11-24T16:00:00-06:00"}]
      - at: 8h
        locked: true
""",
    )
    failures = run_files([path]).results[0].failures
    assert len(failures) == 2
    assert "lockouts" in failures[0] and "until 2026-11-24T17:00:00-06:00" in failures[0]
    assert "locked" in failures[1]


def test_coverage_lists_the_rules_no_test_makes_fire(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
  - name: only the loss rule
    events:
      - {at: 1s, fill: {order: 1, contract: MNQ, side: sell, size: 1, price: 21000, pnl: -500}}
    expect:
      - at: 1s
        fired: [daily-loss]
""",
    )
    report = run_files([path])
    ((covered, missing),) = report.coverage().values()
    assert covered == ["daily-loss"]
    assert missing == ["naked-position"]


def test_run_filter_selects_cases_by_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
  - name: first case
    expect:
      - {at: 1s, fired: []}
  - name: second case
    expect:
      - {at: 1s, fired: []}
""",
    )
    report = run_files([path], name_filter="^second")
    assert [r.case.name for r in report.results] == ["second case"]


def test_mistakes_in_a_test_file_are_located(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = (
        HEADER
        + """\
  - name: full of mistakes
    tick: 1 second
    events:
      - {at: 5s, fill: {contract: MNQX, side: sell, size: 1, price: 21000}}
      - {at: 6s, quote: {contract: MNQ, last: 21000}}
      - {at: 2s, quote: {contract: MNQ, last: 21000}}
      - {at: 7s, order: {contract: MNQ, side: buy, size: 1, colour: red}}
    expect:
      - {at: 4s}
      - {at: yesterday, fired: []}
"""
    )
    loaded = load_test_text(text, "bad.test.yaml", base=tmp_path)
    lines = [p.format() for p in loaded.problems]
    assert not loaded.cases
    assert any(line.startswith("bad.test.yaml:5:") and "duration" in line for line in lines), lines
    assert any("unknown contract 'MNQX'" in line and 'did you mean "MNQ"' in line for line in lines)
    assert any(line.startswith("bad.test.yaml:9:") and "time order" in line for line in lines), (
        lines
    )
    assert any("unknown field `colour`" in line for line in lines), lines
    assert any("must check something" in line for line in lines), lines
    assert any("not a time: 'yesterday'" in line for line in lines), lines


def test_a_date_or_a_time_without_offset_is_said_in_the_authors_words(tmp_path: Path) -> None:
    """YAML reads an unquoted 2026-11-24 as a date and 2026-11-24 09:00:05 as a time without
    zone: the mistake read "time without a UTC offset: datetime.date(2026, 11, 24)"."""
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = (
        HEADER
        + """\
  - name: a day and a naive moment
    events:
      - {at: 2026-11-24 09:00:05, fill: {contract: MNQ, side: sell, size: 1, price: 1}}
    expect:
      - {at: 2026-11-24, fired: []}
"""
    )
    loaded = load_test_text(text, "dates.test.yaml", base=tmp_path)
    lines = [p.format() for p in loaded.problems]
    assert not any("datetime." in line for line in lines), lines
    assert any(
        "time without a UTC offset: 2026-11-24 09:00:05" in line
        and "2026-11-24T09:00:05-06:00" in line
        for line in lines
    ), lines
    assert any(
        "a date without a time: 2026-11-24" in line and "2026-11-24T09:00:00-06:00" in line
        for line in lines
    ), lines


def test_an_event_or_expectation_before_the_case_start_is_a_mistake(tmp_path: Path) -> None:
    # written with the summer offset in a winter case: an hour before the start, where the
    # runner plays nothing and sees nothing fire, so "expected [daily-loss], got nothing"
    # would send the author looking for a fault in the rule
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = (
        HEADER
        + """\
  - name: an hour early
    events:
      - {at: "2026-11-24T09:00:01-05:00",
         fill: {contract: MNQ, side: sell, size: 1, price: 1, pnl: -500}}
    expect:
      - {at: "2026-11-24T09:00:01-05:00", fired: [daily-loss]}
"""
    )
    loaded = load_test_text(text, "early.test.yaml", base=tmp_path)
    lines = [p.format() for p in loaded.problems]
    assert [line.split(":", 3)[1:3] for line in lines] == [["6", "14"], ["9", "14"]], lines
    early = "2026-11-24T08:00:01-06:00 is before the case's start 2026-11-24T09:00:00-06:00"
    assert all(early in line for line in lines), lines
    assert not loaded.cases


def test_a_param_override_outside_its_range_is_reported_where_it_is_written(
    tmp_path: Path,
) -> None:
    # the loss limit typed with the loss's sign: said at the test file's params:, as an
    # unknown or mistyped override is, not at line 1 of the ruleset
    ranged = RULESET.replace(
        "  daily_loss_limit: 500\n",
        "  daily_loss_limit: 500\nparam_ranges:\n  daily_loss_limit: {min: 1}\n",
    )
    (tmp_path / "tiny.yaml").write_text(ranged, encoding="utf-8")
    path = tmp_path / "range.test.yaml"
    path.write_text(
        HEADER.replace("tests:\n", "params: {daily_loss_limit: -500}\ntests:\n")
        + "  - name: x\n    expect: [{at: 1s, fired: []}]\n",
        encoding="utf-8",
    )
    report = run_files([path])
    (problem,) = report.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 3, 10), problem
    assert "below the smallest value allowed (1)" in problem.message


def test_a_series_or_repeat_too_long_to_play_is_a_mistake_not_a_hang(tmp_path: Path) -> None:
    # a digit too many (x100000000 for x100) made the runner build a hundred million quotes
    # and never answer; a day of one-second quotes is 86,400
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = (
        HEADER
        + """\
  - name: too long
    events:
      - {at: 1s, quotes: {contract: ES, every: 1s, last: "6000-0.25x100000000"}}
      - {at: 2s, fill: {contract: ES, side: sell, size: 1, price: 1, repeat: 100000000,
                        every: 1s}}
    expect:
      - {at: 10s, fired: []}
"""
    )
    loaded = load_test_text(text, "long.test.yaml", base=tmp_path)
    lines = [p.format() for p in loaded.problems]
    assert [line.split(":", 2)[1] for line in lines] == ["6", "7"], lines
    assert "100000001 prices" in lines[0] and "at most 100000" in lines[0], lines
    assert "100000000 fills" in lines[1] and "at most 100000" in lines[1], lines


def test_every_mistake_in_a_file_header_is_reported_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = """\
ruleset: tiny.yaml
start: 2026-11-24T09:00:00
account: first
balance: lots
tick: 0s
unknown_after: forever
enable: [5]
tests:
  - name: x
    expect: [{at: 1s, fired: []}]
"""
    loaded = load_test_text(text, "h.test.yaml", base=tmp_path)
    assert [p.format().split(":", 2)[1] for p in loaded.problems] == ["2", "3", "4", "5", "6", "7"]
    assert not loaded.cases


def test_every_mistake_in_a_case_header_is_reported_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = (
        HEADER
        + """\
  - name: a case full of header mistakes
    params: [500]
    start: tomorrow
    account: first
    balance: lots
    tick: 0s
    unknown_after: forever
    enable: [5]
    expect: [{at: 1s, fired: []}]
"""
    )
    loaded = load_test_text(text, "c.test.yaml", base=tmp_path)
    lines = [p.format().split(":", 2)[1] for p in loaded.problems]
    assert lines == ["5", "6", "7", "8", "9", "10", "11"], loaded.problems
    assert not loaded.cases


def test_a_quote_series_expands_to_one_quote_per_step(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    text = (
        HEADER
        + """\
  - name: series
    events:
      - {at: 1s, quotes: {contract: ES, every: 2s, last: "6000-0.25x3 5990"}}
    expect:
      - {at: 10s, fired: []}
"""
    )
    (case,) = load_test_text(text, "series.test.yaml", base=tmp_path).cases
    quotes = [timed.event for timed in case.events]
    assert [getattr(q, "last", None) for q in quotes] == [
        Decimal("6000"),
        Decimal("5999.75"),
        Decimal("5999.50"),
        Decimal("5999.25"),
        Decimal("5990"),
    ]
    assert [(q.at - case.start).total_seconds() for q in quotes] == [1, 3, 5, 7, 9]


def test_a_test_that_expects_nothing_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(RULESET, encoding="utf-8")
    loaded = load_test_text(HEADER + "  - name: no expectations\n", "x.test.yaml", base=tmp_path)
    assert [p.message for p in loaded.problems] == ["a test case needs a non-empty `expect:` list"]


def test_a_missing_ruleset_is_reported_where_it_is_named(tmp_path: Path) -> None:
    text = (
        HEADER.replace("tiny.yaml", "missing.yaml")
        + "  - name: x\n    expect: [{at: 1s, fired: []}]\n"
    )
    loaded = load_test_text(text, "m.test.yaml", base=tmp_path)
    looked = tmp_path / "missing.yaml"
    assert [p.format() for p in loaded.problems] == [
        f"m.test.yaml:1:10: ruleset file not found: missing.yaml (looked at {looked})"
    ]


def test_an_engine_that_raises_fails_the_case_instead_of_crashing_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simple_risk.engine.ruletest import observe

    def explode(self: observe.Observer, event: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(observe.Observer, "apply", explode)
    path = _write(tmp_path, "  - name: any case\n    expect:\n      - {at: 1s, fired: []}\n")
    report = run_files([path])
    assert not report.ok
    assert report.results[0].error == "the engine raised RuntimeError: boom"


def _override(tmp_path: Path, declared: str, override: str) -> list[tuple[int, str, str | None]]:
    """The problems of a test file whose params: give ``override``, over a ruleset whose
    naked-position rule waits ``for: params.grace`` with ``grace: {declared}``."""
    timed = RULESET.replace(
        "  daily_loss_limit: 500\n", f"  daily_loss_limit: 500\n  grace: {declared}\n"
    ).replace("    for: 10s\n", "    for: params.grace\n")
    (tmp_path / "tiny.yaml").write_text(timed, encoding="utf-8")
    path = tmp_path / "grace.test.yaml"
    path.write_text(
        HEADER.replace("tests:\n", f"params: {{grace: {override}}}\ntests:\n")
        + "  - name: x\n    expect: [{at: 1s, fired: []}]\n",
        encoding="utf-8",
    )
    return [(p.line, p.message, p.hint) for p in run_files([path]).problems]


def test_a_number_of_seconds_over_a_duration_param_is_told_the_duration_to_write(
    tmp_path: Path,
) -> None:
    # 600 for a 10m window could mean seconds or minutes: the test says which to write
    assert _override(tmp_path, "10m", "600") == [
        (
            3,
            'param "grace" is a duration in the ruleset (10m), but the override is a number',
            "write it with its unit: grace: 10m for 600 seconds, 600m for 600 minutes",
        )
    ]


def test_a_duration_over_a_param_of_seconds_is_told_the_number_to_write(tmp_path: Path) -> None:
    assert _override(tmp_path, "30", "1m30s") == [
        (
            3,
            'param "grace" is a number in the ruleset, but the override is a string',
            "the ruleset counts it in seconds where it is a duration: grace: 90",
        )
    ]


def test_an_override_that_keeps_the_params_form_moves_the_wait(tmp_path: Path) -> None:
    assert _override(tmp_path, "10m", "15m") == []
    assert _override(tmp_path, "30", "45") == []
