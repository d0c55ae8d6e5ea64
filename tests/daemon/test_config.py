"""The daemon's configuration: schema, located errors, ${ENV}, secrets file, overlays."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.config import ConfigError, load_config, load_rulesets
from simple_risk.resources import default_ruleset_path

ENV = {"HOME": "/home/trader", "PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-123456"}
MINIMAL = """\
gateway: http://127.0.0.1:8700
credentials:
  username: ${PROJECTX_USERNAME}
  api_key: ${PROJECTX_API_KEY}
accounts: [20100001]
"""


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _messages(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [problem.format() for problem in error.value.problems]


def test_a_minimal_file_gets_defaults_for_everything_else(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL), ENV)
    assert (config.username, config.api_key, config.accounts) == ("alice", "k-123456", (20100001,))
    assert config.user_hub == "http://127.0.0.1:8700/hubs/user"
    assert config.data_dir == Path("/home/trader/.local/share/simple-risk")
    assert config.database == "sqlite:////home/trader/.local/share/simple-risk/simple-risk.db"
    assert config.ruleset_path == default_ruleset_path()
    assert config.timing.reconcile_interval == 45.0
    assert "k-123456" not in repr(config)


def test_topstepx_uses_the_real_hosts(tmp_path: Path) -> None:
    config = load_config(
        _write(tmp_path, MINIMAL.replace("http://127.0.0.1:8700", "topstepx")), ENV
    )
    assert config.gateway == "https://api.topstepx.com"
    assert config.market_hub == "https://rtc.topstepx.com/hubs/market"


def test_an_unset_variable_is_a_located_error(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError) as error:
        load_config(path, {"HOME": "/h", "PROJECTX_USERNAME": "alice"})
    assert _messages(error) == [
        f"{path}:4:12: environment variable PROJECTX_API_KEY is not set "
        "(export PROJECTX_API_KEY=... before starting the daemon)"
    ]


def test_schema_errors_point_into_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "timing: {tick_interval: -1}\nlogs: {}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    text = "\n".join(_messages(error))
    assert f"{path}:6:" in text and "tick_interval" in text
    assert f"{path}:7:1:" in text and "logs" in text


def test_strict_yaml_rejects_duplicate_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "accounts: [1]\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    assert "accounts" in _messages(error)[0] and ":6:" in _messages(error)[0]


def test_a_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secrets = _write(tmp_path, "username: alice\napi_key: from-file-key\n", "secrets.yaml")
    secrets.chmod(0o644)
    path = _write(tmp_path, "credentials: {file: secrets.yaml}\naccounts: [1]\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    assert "readable by other users (mode 644)" in _messages(error)[0]
    assert f"(chmod 600 {secrets})" in _messages(error)[0]
    secrets.chmod(0o600)
    config = load_config(path, ENV)
    assert (config.username, config.api_key) == ("alice", "from-file-key")


def test_missing_credentials_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, "accounts: [1]\n"), ENV)
    assert [p.message for p in error.value.problems] == [
        "no username for the gateway",
        "no API key for the gateway",
    ]


def test_an_overlay_overrides_params_and_disables_rules(tmp_path: Path) -> None:
    _write(
        tmp_path, "params: {daily_loss_limit: 300}\ndisable: [max-unrealized-profit]\n", "o.yaml"
    )
    config = load_config(_write(tmp_path, MINIMAL + "overlays: {20100001: o.yaml}\n"), ENV)
    [ruleset] = load_rulesets(config).values()
    assert Decimal(str(ruleset.params["daily_loss_limit"])) == 300
    enabled = {rule.id: rule.enabled for rule in ruleset.rules}
    assert enabled["max-unrealized-profit"] is False
    assert enabled["daily-realized-loss"] is True


def test_an_overlay_must_name_what_exists_and_keep_mandatory_rules(tmp_path: Path) -> None:
    overlay = _write(
        tmp_path,
        "params: {daily_los_limit: 300}\ndisable: [no-stop-loss-grace, nope]\n",
        "o.yaml",
    )
    config = load_config(_write(tmp_path, MINIMAL + "overlays: {20100001: o.yaml}\n"), ENV)
    with pytest.raises(ConfigError) as error:
        load_rulesets(config)
    messages = _messages(error)
    assert messages[0].startswith(f"{overlay}:1:10: the ruleset has no param 'daily_los_limit'")
    assert "daily_loss_limit" in messages[0]
    assert messages[1] == (
        f"{overlay}:2:11: rule 'no-stop-loss-grace' is mandatory and cannot be disabled"
    )
    assert messages[2].startswith(f"{overlay}:2:31: the ruleset has no rule 'nope'")


def test_engine_run_refuses_a_bad_config_with_exit_1(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("accounts: [20100001]", "accounts: []"))
    result = CliRunner().invoke(cli, ["engine", "run", "--config", str(path)], env=ENV)
    assert result.exit_code == 1
    assert f"{path}:5:11:" in result.output


def test_engine_run_check_validates_and_exits(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    result = CliRunner().invoke(cli, ["engine", "run", "--config", str(path), "--check"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "SUCCESS: 1 account(s)" in result.output
