"""``simple-risk replay``: the shipped recording through the shipped ruleset, pinned by a golden
file, the what-if overrides, and a clear message (never a traceback) for every bad input.

The golden is the plain text a terminal-less run prints with ``--tz America/Chicago``, run from
the repository root so paths are relative. After a deliberate change of behaviour or wording,
regenerate with ``UPDATE_GOLDEN=1 pytest tests/replay`` and review the diff.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers every command)
)
from simple_risk.engine import Engine, Firing
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.events import AccountUpdate, Event
from simple_risk.whatif.runner import replay_files
from simple_risk.whatif.words import report_json

ROOT = Path(__file__).resolve().parents[2]
RECORDING = Path("examples/recordings/2026-08-19-mnq-es.jsonl")
RULESET = Path("rulesets/topstep.yaml")
GOLDEN = Path(__file__).resolve().parent / "topstep.expected"
CHICAGO = ["--tz", "America/Chicago"]


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["replay", *args], catch_exceptions=False)


def shipped(*extra: str) -> Result:
    return run(str(RECORDING), "--ruleset", str(RULESET), *CHICAGO, *extra)


def test_the_shipped_recording_replays_exactly_as_the_golden_file() -> None:
    result = shipped()
    assert result.exit_code == 0, result.output
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(result.output, encoding="utf-8")
    assert result.output == GOLDEN.read_text(encoding="utf-8")


def test_the_golden_says_what_would_have_fired_and_been_enforced() -> None:
    """The golden is read by people: it names the breach, the close and the lockout."""
    text = GOLDEN.read_text(encoding="utf-8")
    assert "daily-realized-loss (critical)" in text
    assert "Daily realized P&L $-536.84 reached the $-500.00 limit" in text
    assert "would close ES 3 (long) (daily-unrealized-loss)" in text
    assert "would lock the account until 2026-08-19 17:00:00.000 CDT" in text
    asked = next(line for line in text.splitlines() if "would have asked the gateway to" in line)
    assert asked.endswith(", close ES")  # each target once, in order
    assert (
        "at the end, account 18234567: account locked until 2026-08-19 17:00:00.000 CDT "
        "(daily-realized-loss)"
    ) in text
    assert "\x1b[" not in text  # no colour when the output is not a terminal


def test_the_generator_writes_the_shipped_recording_byte_for_byte() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_session", ROOT / "examples" / "recordings" / "make_session.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = "".join(line + "\n" for line in module.lines())
    assert generated == (ROOT / RECORDING).read_text(encoding="utf-8")


def test_json_lists_the_same_firings_with_their_calls() -> None:
    result = shipped("--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    rules = [firing["rule"] for firing in document["firings"]]
    assert rules.count("daily-realized-loss") == 1
    realized = next(f for f in document["firings"] if f["rule"] == "daily-realized-loss")
    assert realized["at"] == "2026-08-19T14:52:31.080000+00:00"
    assert {
        "text": "close ES 3 (long)",
        "call": "Position/closeContract CON.F.US.EP.U26",
        "subject": "close ES",
    } in realized["would"]
    assert realized["locks"][0]["ends_at"] == "2026-08-19T22:00:00+00:00"
    assert document["accounts"] == [18234567]
    assert document["skipped_lines"] == [] and document["rejected"] == {}


def test_a_higher_loss_limit_would_not_have_locked_the_account() -> None:
    """The what-if: with daily_loss_limit 600 the day's -536.84 is no breach."""
    result = shipped("--set", "daily_loss_limit=600", "--set", "max_unrealized_loss=400")
    assert result.exit_code == 0, result.output
    assert "daily-realized-loss" not in result.output
    assert "09:46:10.640 CDT  account 18234567  daily-unrealized-loss" in result.output
    assert "ES open P&L $-450.00 reached $-400.00" in result.output


def test_an_overlay_is_applied(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("params:\n  daily_loss_limit: 520\n", encoding="utf-8")
    result = shipped("--overlay", str(overlay))
    assert result.exit_code == 0, result.output
    assert "reached the $-520.00 limit" in result.output


def test_an_account_the_recording_never_mentions_is_an_error_not_a_clean_day() -> None:
    """A mistyped --account replayed nothing: "Nothing would have fired" would read as a
    limit that holds, so the replay says the account is not in the recording instead."""
    result = shipped("--account", "1")
    assert result.exit_code == 1
    assert "Nothing would have fired" not in result.output
    assert result.output.strip() == (
        "simple-risk: account 1 has no event in the recording "
        "(its accounts: 18234567); nothing was replayed"
    )


def test_a_missing_recording_is_one_line_and_status_1() -> None:
    result = run("no/such/day.jsonl", "--ruleset", str(RULESET))
    assert result.exit_code == 1
    assert result.output.strip() == "simple-risk: no/such/day.jsonl: no such file"


def test_a_file_that_is_no_recording_says_so(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"\xff\xfe not a recording\n")
    result = run(str(junk), "--ruleset", str(RULESET))
    assert result.exit_code == 1
    assert "cannot read it (not UTF-8 text)" in result.output
    junk.write_text("hello\n{}\n", encoding="utf-8")
    result = run(str(junk), "--ruleset", str(RULESET))
    assert result.exit_code == 1
    assert "no readable recorded message (is it a recording?)" in result.output


def test_corrupt_lines_are_skipped_and_listed(tmp_path: Path) -> None:
    lines = (ROOT / RECORDING).read_text(encoding="utf-8").splitlines(keepends=True)
    damaged = tmp_path / "day.jsonl"
    deep = "[" * 100_000 + "]" * 100_000 + "\n"  # nested past the JSON parser's depth
    damaged.write_text(
        "".join([lines[0], '{"at": "garbage"\n', deep, *lines[1:]]), encoding="utf-8"
    )
    result = run(str(damaged), "--ruleset", str(RULESET), *CHICAGO)
    assert result.exit_code == 0, result.output
    assert f"skipped unreadable lines: {damaged}:2, {damaged}:3" in result.output
    assert "daily-realized-loss (critical)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "daily_loss_limit"], "is not NAME=VALUE"),
        (["--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--tick", "0.000001"], "--tick"),  # a day of microsecond ticks would never end
    ],
)
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    result = shipped(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_set_of_a_param_the_overlay_also_sets_is_refused_not_silently_ignored(
    tmp_path: Path,
) -> None:
    """The overlay's params win over --set: `--overlay mine.yaml --set daily_loss_limit=600`
    replayed the overlay's 500 and showed the lock a 600 limit would not have made. The
    replay refuses the pair and says which value would have been used."""
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("params:\n  daily_loss_limit: 500\n", encoding="utf-8")
    result = shipped("--overlay", str(overlay), "--set", "daily_loss_limit=600")
    assert result.exit_code == 2
    assert "reached the $-500.00 limit" not in result.output
    assert (
        f"--set: daily_loss_limit: the overlay {overlay} sets it too, and its value would "
        "be replayed" in " ".join(result.output.split())
    )
    other = shipped("--overlay", str(overlay), "--set", "max_unrealized_loss=400")
    assert other.exit_code == 0, other.output  # a param the overlay leaves alone is fine
    assert "ES open P&L $-450.00 reached $-400.00" in other.output


def test_a_ruleset_mistake_is_located(tmp_path: Path) -> None:
    result = shipped("--set", "no_such_param=1")
    assert result.exit_code == 1
    assert "no_such_param" in result.output and "Traceback" not in result.output
    missing = run(str(RECORDING), "--ruleset", str(tmp_path / "none.yaml"))
    assert missing.exit_code == 2 and "Traceback" not in missing.output  # a usage error
    assert "does not exist" in missing.output


def test_a_set_of_the_wrong_kind_names_the_param_and_what_it_takes() -> None:
    """`--set daily_loss_limit=abc` is the user's typo, not a rule's type error."""
    result = shipped("--set", "daily_loss_limit=abc")
    assert result.exit_code == 1
    assert 'param "daily_loss_limit" is a number in the ruleset, but the override is a string' in (
        result.output
    )
    assert "sample facts" not in result.output and "Traceback" not in result.output


def test_a_loss_limit_set_with_the_loss_sign_is_refused_not_replayed() -> None:
    """`--set daily_loss_limit=-500` would make the rule true at P&L 0: the replay would show
    the account locked from its first event. The shipped ruleset's param_ranges refuse it."""
    result = shipped("--set", "daily_loss_limit=-500")
    assert result.exit_code == 1
    assert (
        'the override of param "daily_loss_limit" is -500, below the smallest value allowed (0.01)'
        in result.output
    )
    assert "would lock" not in result.output


def test_a_set_value_is_read_as_the_ruleset_file_reads_it() -> None:
    """`--set daily_loss_limit=6e2` is 600 in a ruleset file, so it is here too (YAML 1.1,
    which --set used, reads it as a string); an empty value is said to be empty."""
    exponent = shipped("--set", "daily_loss_limit=6e2", "--set", "max_unrealized_loss=400")
    assert exponent.exit_code == 0, exponent.output
    assert "daily-realized-loss" not in exponent.output
    empty = shipped("--set", "daily_loss_limit=")
    assert empty.exit_code == 1
    assert 'param "daily_loss_limit" is a number in the ruleset, but the override is empty' in (
        empty.output
    )


def test_help_explains_the_what_if() -> None:
    result = CliRunner().invoke(cli, ["replay", "--help"])
    assert result.exit_code == 0
    for words in ("what-if", "--ruleset", "--overlay", "--set", "--tz", "--json", "--account"):
        assert words in result.output


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=1, max_value=58))
@example(cut=9)  # between the MNQ bracket's -SL and -TP children, received at the same instant
@example(cut=32)  # the same for the ES bracket
def test_a_recording_split_in_two_files_replays_as_the_whole(cut: int, tmp_path: Path) -> None:
    """Per-day files replay together exactly as one file, whatever order they are named in:
    order is receive time (ties: the files' name order)."""
    lines = (ROOT / RECORDING).read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / f"a-{cut}.jsonl", tmp_path / f"b-{cut}.jsonl"
    first.write_text("".join(lines[:cut]), encoding="utf-8")
    second.write_text("".join(lines[cut:]), encoding="utf-8")
    ruleset = load_ruleset(ROOT / RULESET)
    whole = report_json(replay_files([ROOT / RECORDING], ruleset), "r")
    split = report_json(replay_files([second, first], ruleset), "r")
    assert split["firings"] == whole["firings"]
    assert split["events"] == whole["events"]


def test_without_tz_the_times_follow_the_tz_variable() -> None:
    """A named zone, not today's offset: the August recording shows summer time."""
    result = CliRunner(env={"TZ": "Europe/Berlin"}).invoke(
        cli, ["replay", str(RECORDING), "--ruleset", str(RULESET)]
    )
    assert result.exit_code == 0, result.output
    assert "2026-08-19 16:52:31.080 CEST  account 18234567  daily-realized-loss" in result.output


def test_an_overlay_enabling_trade_management_shows_the_stop_it_would_move(
    tmp_path: Path,
) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("enable: [trade-management-breakeven]\n", encoding="utf-8")
    result = shipped("--overlay", str(overlay))
    assert result.exit_code == 0, result.output
    assert "MNQ at 25 ticks: stop to entry" in result.output
    assert "would move stop #2210000102 to 23410.25 (trade-management-breakeven)" in result.output


def test_an_engine_failure_is_reported_and_the_replay_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in the daemon: an event the engine fails on is reported, the others still count."""
    original = Engine.apply

    def failing(self: Engine, event: Event) -> list[Firing]:
        if isinstance(event, AccountUpdate):
            raise RuntimeError("broken fact store")
        return original(self, event)

    monkeypatch.setattr(Engine, "apply", failing)
    result = shipped()
    assert result.exit_code == 0, result.output
    assert "the engine failed on 2026-08-19T13:25:01.240000+00:00 AccountUpdate: " in (
        result.output
    )
    assert "RuntimeError: broken fact store" in result.output
    assert "daily-realized-loss (critical)" in result.output
