"""``engine history`` after the daemon stopped (or crashed): the day can still be reviewed.

With ``--config FILE`` (or ``--data-dir DIR``) the command asks the daemon that configuration
names and, when none answers, reads its store directly — the same items the daemon would
have answered.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.sim import wait_until
from tests.daemon.conftest import ACCOUNT, Running, Start


def _history(*args: str) -> Result:
    env = {"SIMPLE_RISK_SOCKET": "", "SR_KEY": "k", "COLUMNS": "200"}
    return CliRunner().invoke(cli, ["engine", "history", "--since", "2027-01-13", *args], env=env)


def _config(running: Running) -> Path:
    path = running.directory / "cli-config.yaml"
    path.write_text(
        f"gateway: {running.sim.base_url}\n"
        "credentials: {username: demo, api_key: '${SR_KEY}'}\n"
        f"accounts: [{ACCOUNT}]\n"
        f"ruleset: {running.ruleset}\n"
        f"data_dir: {running.daemon.config.data_dir}\n"
        f"status_socket: {running.socket}\n",
        encoding="utf-8",
    )
    return path


def _a_day_with_a_firing(start: Start) -> Running:
    running = start()
    running.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: fill, firing, enforcement
    assert wait_until(lambda: any(f.rule_id == "symbol-blocks" for f in running.daemon.firings), 10)
    assert wait_until(lambda: running.trader.size(ACCOUNT) == 0, 10)
    return running


def test_history_from_the_store_once_the_daemon_has_stopped(start: Start) -> None:
    running = _a_day_with_a_firing(start)
    config = _config(running)

    def answered() -> list[dict[str, Any]]:
        live = _history("--config", str(config), "--json")
        assert live.exit_code == 0, live.output
        items: list[dict[str, Any]] = json.loads(live.stdout)["items"]
        return [item for item in items if item["kind"] in ("fill", "firing")]

    # the journal is written beside enforcement, not before it: the daemon lists a firing
    # once its record is written, a moment after the firing itself
    assert wait_until(lambda: bool(answered()), 10), "the daemon lists its fill and firing"
    settled = answered()
    running.daemon.stop()

    stopped = _history("--config", str(config), "--json")
    assert stopped.exit_code == 0, stopped.output
    assert "no daemon running: read from the store" in stopped.stderr
    items = json.loads(stopped.stdout)["items"]
    # every fill and firing the daemon answered is in its store (an intent's state and time
    # move on as it is worked, so intents are compared by presence only)
    key = ("at", "kind", "account", "rule")
    stored = {tuple(item[k] for k in key) for item in items}
    assert settled and all(tuple(item[k] for k in key) in stored for item in settled)
    kinds = {item["kind"] for item in items}
    assert {"fill", "firing"} <= kinds
    assert any(item["rule"] == "symbol-blocks" for item in items)

    # the API key is the daemon's (its environment file): reading the store needs none
    keyless = CliRunner().invoke(
        cli,
        ["engine", "history", "--since", "2027-01-13", "--config", str(config), "--json"],
        env={"SIMPLE_RISK_SOCKET": "", "SR_KEY": None, "COLUMNS": "200"},
    )
    assert keyless.exit_code == 0, keyless.output
    assert json.loads(keyless.stdout)["items"] == items

    by_dir = _history("--data-dir", str(running.daemon.config.data_dir), "--kind", "firing")
    assert by_dir.exit_code == 0, by_dir.output
    assert "symbol-blocks" in by_dir.stdout
    assert "left out" not in by_dir.stdout
    # read from the store as from the daemon: a history cut to its limit says so
    cut = _history("--data-dir", str(running.daemon.config.data_dir), "--limit", "1")
    assert cut.exit_code == 0, cut.output
    assert "Only the newest 1 items of this period are shown" in " ".join(cut.stdout.split())
    cut_json = _history("--data-dir", str(running.daemon.config.data_dir), "--limit", "1", "--json")
    assert json.loads(cut_json.stdout)["earlier_left_out"] is True


def test_without_a_daemon_or_a_store_the_command_says_how(tmp_path: Path) -> None:
    env_socket = str(tmp_path / "none.sock")
    result = CliRunner().invoke(cli, ["engine", "history", "--socket", env_socket])
    assert result.exit_code == 3
    assert "--config FILE or --data-dir DIR" in result.stderr
    empty = _history("--data-dir", str(tmp_path), "--socket", env_socket)
    assert empty.exit_code == 1
    assert "no store at" in empty.stderr


def test_history_of_a_period_whose_fills_were_pruned_says_so(start: Start) -> None:
    running = _a_day_with_a_firing(start)
    config = _config(running)
    running.daemon.stop()
    store = running.daemon.store
    snapshot = store.latest_snapshot(ACCOUNT)
    assert snapshot is not None and snapshot.id is not None
    journaled = store.events_since(ACCOUNT, 0)
    later = journaled[-1].at + timedelta(days=1)
    while store.prune_journal(ACCOUNT, before=later, snapshot_id=snapshot.id)[1]:
        pass
    kept_from = store.events_since(ACCOUNT, 0)[0].at
    assert kept_from > journaled[0].at

    shown = _history("--config", str(config))
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.stdout.split())
    assert f"The journal of account {ACCOUNT} is kept from" in said
    assert "its fills before that were pruned (retention_days" in said
    assert "symbol-blocks" in said  # the firing is not pruned

    as_json = json.loads(_history("--config", str(config), "--json").stdout)
    assert set(as_json["journal_kept_since"]) == {str(ACCOUNT)}
    # a period inside the kept journal, or one without fills, has nothing to say
    since = (kept_from + timedelta(seconds=1)).isoformat()
    inside = CliRunner().invoke(
        cli,
        ["engine", "history", "--since", since, "--config", str(config), "--json"],
        env={"SIMPLE_RISK_SOCKET": "", "SR_KEY": "k"},
    )
    assert inside.exit_code == 0, inside.output
    assert "journal_kept_since" not in json.loads(inside.stdout)
    firings = json.loads(_history("--config", str(config), "--kind", "firing", "--json").stdout)
    assert "journal_kept_since" not in firings


def test_the_running_daemon_says_too_that_a_periods_fills_were_pruned(start: Start) -> None:
    """The daemon answers ``history`` while it runs: the same words as the store read
    directly, not a day that looks as if no fill was made."""
    running = _a_day_with_a_firing(start)
    config = _config(running)
    store = running.daemon.store
    assert running.daemon.persistence.writer is not None
    assert running.daemon.persistence.writer.flush()
    snapshot = store.latest_snapshot(ACCOUNT)
    assert snapshot is not None and snapshot.id is not None
    covered = [e for e in store.events_since(ACCOUNT, 0) if e.seq <= (snapshot.journal_seq or 0)]
    assert len(covered) >= 2
    later = covered[-1].at + timedelta(days=1)
    while store.prune_journal(ACCOUNT, before=later, snapshot_id=snapshot.id)[1]:
        pass

    live = _history("--config", str(config), "--json")
    assert live.exit_code == 0, live.output
    assert "no daemon running" not in live.stderr  # the daemon answered
    assert set(json.loads(live.stdout)["journal_kept_since"]) == {str(ACCOUNT)}
    shown = _history("--config", str(config))
    assert f"The journal of account {ACCOUNT} is kept from" in " ".join(shown.stdout.split())
