"""Observe mode's pieces: who decides an account's mode (configuration, then the admin's
audited choice, which outlives a restart), and how the terminal shows it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console, RenderableType

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
    status_screen,
)
from simple_risk.daemon.config import ConfigError, load_config
from simple_risk.daemon.observe import ENFORCE_ACTION, Enforcement
from simple_risk.daemon.runtime import Daemon, RuntimeOptions
from simple_risk.daemon.sim import sim_config
from simple_risk.engine.dsl import load_ruleset
from simple_risk.resources import default_ruleset_path
from simple_risk.store import Store
from simple_risk.store.records import Intent
from simple_risk.store.rows import intent_item
from tests.cli import fixtures

ENV = {"HOME": "/home/trader", "PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-123456"}
HEAD = """\
gateway: http://127.0.0.1:8700
credentials:
  username: ${PROJECTX_USERNAME}
  api_key: ${PROJECTX_API_KEY}
"""
T0 = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)


def _config(tmp_path: Path, accounts: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(HEAD + accounts, encoding="utf-8")
    return path


def test_an_account_with_enforce_false_is_only_observed(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        "accounts:\n  - 20100001\n  - {id: 20100002, enforce: false}\n  - {id: 20100003}\n",
    )
    config = load_config(path, ENV)
    assert config.accounts == (20100001, 20100002, 20100003)
    assert config.observed == {20100002}


def test_an_account_listed_twice_is_a_located_error(tmp_path: Path) -> None:
    path = _config(tmp_path, "accounts:\n  - 20100001\n  - {id: 20100001, enforce: false}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [problem] = error.value.problems
    assert (problem.line, problem.column) == (7, 5)
    assert "account 20100001 is listed twice" in problem.message


@pytest.mark.parametrize(
    "entry", ["{id: 20100001, enforce: no}", "{id: 20100001, observe: true}", "{enforce: false}"]
)
def test_a_malformed_account_entry_is_refused_with_its_line(tmp_path: Path, entry: str) -> None:
    path = _config(tmp_path, f"accounts:\n  - {entry}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    assert error.value.problems and all(p.line == 6 for p in error.value.problems)


def _store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'store.db'}")


def test_the_admins_newest_choice_wins_over_the_configuration_at_a_restart(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    for minutes, account, enforce in ((1, 1, False), (2, 1, True), (3, 2, True), (4, 9, True)):
        store.record_admin_action(
            at=T0 + timedelta(minutes=minutes),
            who="desk-lead",
            action=ENFORCE_ACTION,
            why=f"choice {minutes}",
            result="",
            account=account,
            args={"enforce": enforce},
        )
    store.record_admin_action(
        at=T0 + timedelta(minutes=5), who="x", action="reload", why="", result="", account=1
    )
    modes = Enforcement([1, 2, 3], observed=[1, 2, 3])
    overridden = modes.load(store)
    assert [modes.choice(a).mode for a in (1, 2, 3)] == ["enforce", "enforce", "observe"]
    assert modes.observed() == {3}
    assert modes.choice(1).source.startswith("admin desk-lead at ")
    assert modes.choice(1).source.endswith("(choice 2)")
    assert modes.choice(3).source == "configuration"
    assert len(overridden) == 2 and overridden[0].startswith("account 1: enforce")
    store.close()


@settings(max_examples=25, deadline=None)
@given(
    configured=st.booleans(),
    choices=st.lists(st.booleans(), max_size=6),
)
def test_after_a_restart_the_mode_is_the_last_admin_choice_else_the_configured_one(
    tmp_path_factory: pytest.TempPathFactory, configured: bool, choices: list[bool]
) -> None:
    store = _store(tmp_path_factory.mktemp("modes"))
    for index, enforce in enumerate(choices):
        store.record_admin_action(
            at=T0 + timedelta(seconds=index),
            who="admin",
            action=ENFORCE_ACTION,
            why="",
            result="",
            account=7,
            args={"enforce": enforce},
        )
    modes = Enforcement([7], observed=[] if configured else [7])
    modes.load(store)
    enforced = choices[-1] if choices else configured
    assert modes.observing(7) is not enforced
    store.close()


def _text(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=220, color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def test_the_status_screen_shows_observe_mode_unmistakably() -> None:
    status = fixtures.status()
    account = status["accounts"][0]
    enforced = _text(status_screen.status_view(status, fixtures.NOW))
    assert "OBSERVE" not in enforced and "ENFORCING" in enforced
    account["mode"] = "observe"
    observed = _text(status_screen.status_view(status, fixtures.NOW))
    head = observed.splitlines()[1]
    assert "OBSERVE MODE" in head and f"account(s) {account['id']}" in head
    assert "NOTHING is sent to the gateway" in head
    title = next(line for line in observed.splitlines() if f"account {account['id']} —" in line)
    assert title.rstrip(" ─╮").endswith("— OBSERVE (not enforced)")
    assert "OBSERVE ONLY" in observed
    account["intents_open"] = [{"key": "position-closed:1:X", "kind": "X", "state": "observed"}]
    assert "Open intents (observed: not sent)" in _text(
        status_screen.status_view(status, fixtures.NOW)
    )


def _intent(body: dict[str, object], state: str = "pending") -> Intent:
    return Intent(
        key="position-closed:1:CON.F.US.MNQ.H27",
        account=1,
        firing_id=3,
        rule="daily-unrealized-loss",
        kind="PositionClosed",
        body=body,
        state=state,  # type: ignore[arg-type]
        attempts=0,
        last_error=None,
        created_at=T0,
        updated_at=T0,
        finished_at=None,
    )


def test_history_says_what_an_observed_intent_would_have_sent() -> None:
    contract = {"contract_id": "CON.F.US.MNQ.H27"}
    observed = intent_item(_intent({**contract, "would": ["close MNQ 2 (long)"]}))
    assert observed.summary == (
        "OBSERVED, not enforced: would close MNQ 2 (long) (close the MNQ position: waiting)"
    )
    enforced = intent_item(_intent(contract, state="done"))
    assert enforced.summary == "close the MNQ position: done"


def test_engine_run_observe_observes_every_account_until_an_admin_chose(tmp_path: Path) -> None:
    config = sim_config(
        "http://127.0.0.1:9", "u", "k", (1, 2), tmp_path, ruleset_path=default_ruleset_path()
    )
    ruleset = load_ruleset(default_ruleset_path())
    store = _store(tmp_path)
    daemon = Daemon(
        config, {1: ruleset, 2: ruleset}, store=store, options=RuntimeOptions(observe=True)
    )
    assert daemon.enforcement.observed() == {1, 2}
    assert daemon.enforcement.choice(1).source == "engine run --observe"
    assert daemon.status()["accounts"] == {}  # no engine before the start
    store.record_admin_action(
        at=T0,
        who="desk",
        action=ENFORCE_ACTION,
        why="go",
        result="",
        account=2,
        args={"enforce": True},
    )
    daemon.enforcement.load(store)  # what the start does first
    assert daemon.enforcement.observed() == {1}
    daemon.client.close()
    store.close()


def test_admin_enforce_needs_on_or_off_and_a_reason() -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["admin", "enforce", "20100001", "--reason", "go live"])
    assert neither.exit_code == 2 and "give --on (enforce) or --off" in neither.output
    blank = runner.invoke(cli, ["admin", "enforce", "20100001", "--on", "--reason", " "])
    assert blank.exit_code == 2 and "give a reason" in blank.output


def test_admin_enforce_with_both_on_and_off_is_refused_not_read_as_the_last() -> None:
    runner = CliRunner(env={"SIMPLE_RISK_SOCKET": "/nonexistent/status.sock"})
    for both in (["--on", "--off"], ["--off", "--on"]):
        result = runner.invoke(cli, ["admin", "enforce", "20100001", *both, "--reason", "go"])
        assert result.exit_code == 2, result.output
        assert "--on or --off, not both" in result.output
