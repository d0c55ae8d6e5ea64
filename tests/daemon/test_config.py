"""The daemon's configuration: schema, located errors, ${ENV}, secrets file, overlays."""

from __future__ import annotations

import grp
import json
import os
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.config import (
    ConfigError,
    NotifySettings,
    load_config,
    load_rulesets,
)
from simple_risk.daemon.password import hash_password, write_password_hash
from simple_risk.daemon.sim import sim_config
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Engine
from simple_risk.engine.events import AccountUpdate, Event, OrderSide, TradeFill
from simple_risk.engine.model import SEVERITIES
from simple_risk.paths import xdg_dir
from simple_risk.resources import default_ruleset_path, schema_path

ENV = {"HOME": "/home/trader", "PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-123456"}
T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Chicago
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


def test_commands_that_only_read_need_no_credentials_from_the_daemons_environment(
    tmp_path: Path,
) -> None:
    """The API key lives in the daemon's environment file, which ``sudo -u simple-risk`` does
    not load: ``engine history --config``, ``admin set-password --config`` must still find
    the store, socket and password file. Everything else is still checked."""
    path = _write(tmp_path, MINIMAL)
    config = load_config(path, {"HOME": "/h"}, credentials=False)
    assert (config.username, config.api_key, config.accounts) == ("", "", (20100001,))
    broken = _write(tmp_path, MINIMAL.replace("accounts: [20100001]", "accounts: []"), "b.yaml")
    with pytest.raises(ConfigError):
        load_config(broken, {"HOME": "/h"}, credentials=False)


def test_schema_errors_point_into_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "timing: {tick_interval: -1}\nlogs: {}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    text = "\n".join(_messages(error))
    assert f"{path}:6:" in text and "tick_interval" in text
    assert f"{path}:7:1:" in text and "logs" in text


def test_a_tilde_in_a_path_is_the_home_directory_as_in_a_shell(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "rules").mkdir(parents=True)
    (home / "rules" / "mine.yaml").write_text(
        default_ruleset_path().read_text(encoding="utf-8"), encoding="utf-8"
    )
    text = MINIMAL + "ruleset: ~/rules/mine.yaml\ndata_dir: ~/risk-data\nlog_dir: ~/log\n"
    config = load_config(_write(tmp_path, text), {**ENV, "HOME": str(home)})
    assert config.ruleset_path == home / "rules" / "mine.yaml"
    assert config.data_dir == home / "risk-data"
    assert config.log_dir == home / "log"
    assert not (tmp_path / "~").exists()


def test_an_empty_configuration_says_what_a_configuration_holds(tmp_path: Path) -> None:
    path = _write(tmp_path, "# nothing here yet\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [message] = _messages(error)
    assert message.startswith(f"{path}:1:1: the file is empty")
    assert "a ruleset is" not in message and "simple-risk init" in message


def test_an_empty_secrets_file_is_not_called_a_ruleset(tmp_path: Path) -> None:
    secrets = _write(tmp_path, "", "credentials.yaml")
    secrets.chmod(0o600)
    text = MINIMAL.split("credentials:")[0] + f"credentials:\n  file: {secrets}\naccounts: [1]\n"
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text), ENV)
    [message] = _messages(error)
    assert message.startswith(f"{secrets}:1:1: the file is empty")
    assert "a ruleset is" not in message and "username" in message


def test_a_tick_interval_under_50_ms_is_a_located_error(tmp_path: Path) -> None:
    """A tick every microsecond would keep a CPU busy evaluating rules for nothing."""
    path = _write(tmp_path, MINIMAL + "timing:\n  tick_interval: 0.000001\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [message] = _messages(error)
    assert message.startswith(f"{path}:7:") and "tick_interval" in message and "0.05" in message


@pytest.mark.parametrize(
    "entry",
    ["tick_interval: 99999999999999999999", "reconcile_interval: 1e12", "retry_interval: 90000"],
)
def test_an_interval_longer_than_a_day_is_a_located_error(tmp_path: Path, entry: str) -> None:
    """Intervals are seconds; a day is far past any sane one (milliseconds written by mistake),
    and a huge one would stop the daemon's timers."""
    path = _write(tmp_path, MINIMAL + f"timing:\n  {entry}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [message] = _messages(error)
    assert message.startswith(f"{path}:7:") and entry.split(":")[0] in message
    assert "86400" in message


@pytest.mark.parametrize(
    "accounts", ["[99999999999999999999999]", "[{id: 2147483648, enforce: false}]"]
)
def test_an_account_id_beyond_projectx_ids_is_a_located_error(
    tmp_path: Path, accounts: str
) -> None:
    """ProjectX account ids are 32-bit; a longer one (a typo) passed --check and the daemon
    then died with an OverflowError traceback when it stored its lease."""
    path = _write(tmp_path, MINIMAL.replace("[20100001]", accounts))
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [message] = _messages(error)
    assert message.startswith(f"{path}:5:") and "2147483647" in message


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


def test_credentials_lose_the_whitespace_a_windows_editor_or_a_paste_leaves(
    tmp_path: Path,
) -> None:
    """An environment file saved on Windows gives PROJECTX_API_KEY a trailing carriage return
    (CRLF), a paste a trailing space: the gateway refused the login ("Invalid credentials")
    and the key the admin checked looked right. No username or API key holds whitespace at
    either end: it is not sent."""
    env = {**ENV, "PROJECTX_USERNAME": " alice\r", "PROJECTX_API_KEY": "k-123456\r"}
    config = load_config(_write(tmp_path, MINIMAL), env)
    assert (config.username, config.api_key) == ("alice", "k-123456")
    secrets = _write(tmp_path, "username: alice\napi_key: 'from-file-key '\n", "secrets.yaml")
    secrets.chmod(0o600)
    text = "gateway: topstepx\ncredentials: {file: secrets.yaml}\naccounts: [20100001]\n"
    config = load_config(_write(tmp_path, text), ENV)
    assert config.api_key == "from-file-key"


@pytest.mark.parametrize(
    ("written", "seconds"), [("1s", "1"), ("2m", "120"), ("1h30m", "5400"), ("500ms", "0.5")]
)
def test_a_timing_written_as_a_duration_says_it_is_seconds(
    tmp_path: Path, written: str, seconds: str
) -> None:
    """The rulesets write durations as 30s or 5m; the configuration's timing takes seconds.
    `quote_silence: 2m` was refused as '"quote_silence" must be a number, got a string
    ("2m")', which does not say in what unit, nor what to write."""
    text = MINIMAL + f"timing: {{quote_silence: {written}}}\n"
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text), ENV)
    [problem] = error.value.problems
    assert problem.message == f'"quote_silence" must be a number, got a string ("{written}")'
    assert problem.hint == f"timing is in seconds: write quote_silence: {seconds}"


def test_an_account_name_in_accounts_says_to_give_its_id(tmp_path: Path) -> None:
    """`accounts: [50KTC-V2-SIM-20100001]` — the name the platform shows — was refused as
    'item 1 of "accounts" must be a whole number or a mapping', nothing saying that a name is
    not an id, nor where to find the id."""
    text = MINIMAL.replace("accounts: [20100001]", "accounts: [50KTC-V2-SIM-20100001]")
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text), ENV)
    [problem] = error.value.problems
    assert problem.hint == (
        "an account is given by its id, a number, not by its name; to find it, write any"
        " number and run engine run --check --online: it lists each account the login sees,"
        " id and name"
    )


@pytest.mark.parametrize(
    ("setting", "meant"),
    [("notify: {min_severity: WARNING}", "warning"), ("log: {level: INFO}", "info")],
)
def test_a_choice_written_in_capitals_says_to_write_it_small(
    tmp_path: Path, setting: str, meant: str
) -> None:
    """`min_severity: WARNING` (as the log prints levels) was refused as "is not one of:
    info, warning, critical" and nothing more; `warn` got a "did you mean"."""
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, MINIMAL + setting + "\n"), ENV)
    [problem] = error.value.problems
    assert problem.hint == f"in small letters: {meant}"


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
    assert _messages(error) == [
        f'{overlay}:1:10: the ruleset has no param "daily_los_limit"'
        ' (did you mean "daily_loss_limit"?)',
        f'{overlay}:2:11: rule "no-stop-loss-grace" is mandatory and cannot be disabled'
        " (an overlay may still change the params it uses)",
        f'{overlay}:2:31: the ruleset has no rule "nope"',
    ]


def test_a_missing_ruleset_is_reported_at_the_config_line_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "ruleset: rules/mine.yaml\n")
    config = load_config(path, ENV)
    with pytest.raises(ConfigError) as error:
        load_rulesets(config)
    assert _messages(error) == [
        f"{path}:6:10: ruleset: no such file: {tmp_path / 'rules' / 'mine.yaml'}"
        f" (resolved from 'rules/mine.yaml' relative to the configuration's folder {tmp_path})"
        " (fix the path, or create the file)"
    ]


def test_an_overlay_that_is_a_folder_is_reported_at_its_config_line(tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    path = _write(tmp_path, MINIMAL + "overlays:\n  20100001: overlays\n")
    with pytest.raises(ConfigError) as error:
        load_rulesets(load_config(path, ENV))
    assert _messages(error) == [
        f"{path}:7:13: overlays.20100001: is a directory, not a file: {tmp_path / 'overlays'}"
        f" (resolved from 'overlays' relative to the configuration's folder {tmp_path})"
        " (name the file inside it)"
    ]


def test_an_absolute_path_needs_no_word_on_how_it_was_resolved(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    path = _write(tmp_path, MINIMAL + f"ruleset: {missing}\n")
    with pytest.raises(ConfigError) as error:
        load_rulesets(load_config(path, ENV))
    assert _messages(error) == [
        f"{path}:6:10: ruleset: no such file: {missing} (fix the path, or create the file)"
    ]


def test_a_missing_secrets_file_is_reported_at_the_config_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "accounts: [1]\ncredentials: {file: secrets.yaml}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    assert _messages(error) == [
        f"{path}:2:21: credentials.file: no such file: {tmp_path / 'secrets.yaml'}"
        f" (resolved from 'secrets.yaml' relative to the configuration's folder {tmp_path})"
        " (fix the path, or create the file)"
    ]


@pytest.mark.skipif(os.getuid() == 0, reason="root reads every file")
def test_an_unreadable_ruleset_names_the_user_that_cannot_read_it(tmp_path: Path) -> None:
    ruleset = _write(tmp_path, "rules: []\n", "mine.yaml")
    ruleset.chmod(0)
    path = _write(tmp_path, MINIMAL + "ruleset: mine.yaml\n")
    with pytest.raises(ConfigError) as error:
        load_rulesets(load_config(path, ENV))
    assert error.value.problems[0].line == 6
    assert f"not readable by this user (uid {os.getuid()})" in _messages(error)[0]


def test_engine_run_shows_the_located_missing_ruleset_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, MINIMAL + "ruleset: gone.yaml\n")
    result = CliRunner().invoke(cli, ["engine", "run", "--config", str(path)], env=ENV)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:6:10: ruleset: no such file" in result.output


HALF_LIMIT_RULE = """\
params: {daily_loss_limit: 400}
rules:
  - id: half-daily-loss
    description: a cooldown once half the daily loss limit is gone
    trigger: [trade]
    when: day.realized_pnl <= -params.daily_loss_limit / 2
    then:
      - lockout: {for: 10m, kind: cooldown}
    message: "day P&L {day.realized_pnl:.2f}, half of {params.daily_loss_limit}"
"""


def _fill(seconds: int, trade_id: int, pnl: str) -> TradeFill:
    return TradeFill(
        at=T0 + timedelta(seconds=seconds),
        account_id=20100001,
        trade_id=trade_id,
        order_id=trade_id,
        contract_id="CON.F.US.MNQ.Z26",
        side=OrderSide.SELL,
        size=1,
        price=Decimal("21000"),
        pnl=Decimal(pnl),
    )


def _fired(engine: Engine, *events: Event) -> list[str]:
    return [f.rule_id for event in events for f in engine.apply(event) if f.kind == "rule"]


def test_an_overlay_adds_a_rule_that_fires_in_the_engine(tmp_path: Path) -> None:
    overlay = _write(tmp_path, HALF_LIMIT_RULE, "o.yaml")
    config = load_config(
        _write(
            tmp_path,
            MINIMAL.replace("[20100001]", "[20100001, 20100002]")
            + "overlays: {20100001: o.yaml}\n",
        ),
        ENV,
    )
    rulesets = load_rulesets(config)
    mine, plain = rulesets[20100001], rulesets[20100002]
    assert [r.id for r in mine.rules] == [*(r.id for r in plain.rules), "half-daily-loss"]
    added = mine.rule("half-daily-loss")
    assert (added.location.file, added.location.line) == (str(overlay), 3)
    account = AccountUpdate(
        at=T0, account_id=20100001, name="50K", balance=Decimal(50000), can_trade=True
    )
    engine = Engine(mine)
    assert _fired(engine, account, _fill(1, 1, "-150")) == ["cooldown-after-loss-1"]
    # -210 is past half of the overlay's 400 (not of the base's 500), not yet the whole limit
    fired = _fired(engine, _fill(2, 2, "-60"))
    assert "half-daily-loss" in fired and "daily-realized-loss" not in fired
    assert "half-daily-loss" not in _fired(Engine(plain), account, _fill(1, 1, "-210"))


def test_mistakes_in_added_rules_are_located_in_the_overlay(tmp_path: Path) -> None:
    overlay = _write(
        tmp_path,
        "rules:\n"
        "  - id: spread\n"
        "    trigger: [quote]\n"
        "    when: quote.sprd > params.max_sprad\n"
        "    then: [flaten]\n",
        "o.yaml",
    )
    config = load_config(_write(tmp_path, MINIMAL + "overlays: {20100001: o.yaml}\n"), ENV)
    with pytest.raises(ConfigError) as error:
        load_rulesets(config)
    assert _messages(error) == [
        f'{overlay}:4:11: rule "spread": unknown fact "quote.sprd" (did you mean "quote.bid"?)',
        f'{overlay}:4:24: rule "spread": unknown param "max_sprad" (did you mean "max_stop_risk"?)',
        f'{overlay}:5:12: rule "spread": unknown action "flaten" (did you mean "flatten"?)',
    ]


def test_an_added_rule_may_not_reuse_a_base_rule_id(tmp_path: Path) -> None:
    for rule_id, hint in (
        (
            "max-unrealized-profit",
            "(to change it, list max-unrealized-profit under disable: and add your version"
            " with another id)",
        ),
        (
            "daily-realized-loss",
            "(it is mandatory: an overlay may change its params, not replace it)",
        ),
    ):
        overlay = _write(tmp_path, HALF_LIMIT_RULE.replace("half-daily-loss", rule_id), "o.yaml")
        config = load_config(_write(tmp_path, MINIMAL + "overlays: {20100001: o.yaml}\n"), ENV)
        with pytest.raises(ConfigError) as error:
            load_rulesets(config)
        [message] = _messages(error)
        line = load_ruleset(config.ruleset_path).rule(rule_id).location.line
        assert message == (
            f'{overlay}:3:9: rule "{rule_id}": the ruleset already has a rule "{rule_id}"'
            f" ({config.ruleset_path}:{line}) {hint}"
        )


def test_an_added_rule_may_use_an_overridden_param_but_not_an_unknown_one(
    tmp_path: Path,
) -> None:
    overlay = _write(
        tmp_path, HALF_LIMIT_RULE.replace("params.daily_loss_limit / 2", "params.half_limit"), "o"
    )
    config = load_config(_write(tmp_path, MINIMAL + "overlays: {20100001: o}\n"), ENV)
    with pytest.raises(ConfigError) as error:
        load_rulesets(config)
    [message] = _messages(error)
    assert message == (
        f'{overlay}:6:32: rule "half-daily-loss": unknown param "half_limit"'
        ' (did you mean "daily_loss_limit"?)'
    )


def test_an_overlay_of_an_account_that_is_not_guarded_is_located(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "overlays:\n  20100009: o.yaml\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    assert _messages(error) == [
        f"{path}:7:3: overlay for account 20100009, which is not in accounts"
        " (add it to accounts: or fix the account id)"
    ]


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


# --- the status/admin server's settings -----------------------------------------------------


def _problem(tmp_path: Path, extra: str, env: dict[str, str] = ENV) -> str:
    path = _write(tmp_path, MINIMAL + extra)
    with pytest.raises(ConfigError) as error:
        load_config(path, env)
    [message] = _messages(error)
    return message.replace(str(path), "config.yaml")


def test_the_server_settings_have_safe_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL), {**ENV, "XDG_RUNTIME_DIR": "/run/user/7"})
    assert config.status_socket == Path("/run/user/7/simple-risk/status.sock")
    assert config.status_socket_mode == 0o600
    assert config.status_socket_group is None
    assert config.status_tcp is None
    assert config.config_dir == tmp_path.resolve()
    assert config.admin_password_file == tmp_path.resolve() / "admin-password.bcrypt"
    assert config.notify == NotifySettings(webhook=None, min_severity="warning")
    assert config.alert_webhook is None


def test_the_socket_can_be_shared_with_an_existing_group(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    config = load_config(
        _write(
            tmp_path,
            MINIMAL + f'status_socket: s.sock\nstatus_socket_mode: "0660"\n'
            f"status_socket_group: {group}\n",
        ),
        ENV,
    )
    assert config.status_socket == tmp_path.resolve() / "s.sock"
    assert (config.status_socket_mode, config.status_socket_group) == (0o660, group)
    config = load_config(_write(tmp_path, MINIMAL + "status_socket_mode: '600'\n"), ENV)
    assert config.status_socket_mode == 0o600


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "status_socket_mode: 0660",
            "config.yaml:6:21: status_socket_mode must be an octal string, got the number 660"
            ' (quote it: status_socket_mode: "0660")',
        ),
        (
            'status_socket_mode: "rw-rw----"',
            'config.yaml:6:21: status_socket_mode "rw-rw----" is not an octal mode'
            ' ("0600" (the daemon\'s user only) or "0660" (with status_socket_group))',
        ),
        (
            'status_socket_mode: "0666"',
            'config.yaml:6:21: status_socket_mode "0666" opens the socket to every local user'
            ' (use "0660" with status_socket_group for the trader\'s group)',
        ),
        (
            'status_socket_mode: "0400"',
            'config.yaml:6:21: status_socket_mode "0400" does not let the daemon\'s own user'
            ' connect (the owner needs read and write: "0600" or "0660")',
        ),
        (
            'status_socket_mode: "0640"',
            'config.yaml:6:21: status_socket_mode "0640" gives the group no write permission'
            ' (connecting to a socket needs write permission: "0660")',
        ),
        (
            "status_socket_group: no-such-group-4711",
            'config.yaml:6:22: there is no group "no-such-group-4711" on this machine'
            " (create it (groupadd no-such-group-4711) or name an existing group)",
        ),
    ],
)
def test_socket_mode_and_group_mistakes_are_located(
    tmp_path: Path, line: str, expected: str
) -> None:
    assert _problem(tmp_path, line + "\n") == expected


def test_a_group_without_group_permission_is_refused(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    assert _problem(tmp_path, f"status_socket_group: {group}\n") == (
        f'config.yaml:6:22: status_socket_group "{group}" is set but status_socket_mode gives'
        ' groups no access (status_socket_mode: "0660")'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("localhost:8765", ("127.0.0.1", 8765)),
        ("'[::1]:8765'", ("::1", 8765)),
        ("127.0.0.2:1", ("127.0.0.2", 1)),
    ],
)
def test_status_tcp_accepts_loopback_addresses(
    tmp_path: Path, value: str, expected: tuple[str, int]
) -> None:
    config = load_config(_write(tmp_path, MINIMAL + f"status_tcp: {value}\n"), ENV)
    assert config.status_tcp == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "0.0.0.0:8765",
            'status_tcp host "0.0.0.0" is not a loopback address: the status port must not be'
            " reachable from the network",
        ),
        (
            "192.168.1.20:8765",
            'status_tcp host "192.168.1.20" is not a loopback address: the status port must not'
            " be reachable from the network",
        ),
        (
            "status.example.com:8765",
            'status_tcp host "status.example.com" is not a loopback address: the status port'
            " must not be reachable from the network",
        ),
        (
            "'[127.0.0.1]:8765'",
            'status_tcp host "127.0.0.1" is not a loopback address: the status port must not be'
            " reachable from the network",
        ),
        ("'8765'", 'status_tcp "8765" is not HOST:PORT'),
        ("'::1:8765'", 'status_tcp "::1:8765" is not HOST:PORT'),
        ("127.0.0.1:0", "status_tcp port 0 is not in 1-65535"),
        ("127.0.0.1:70000", "status_tcp port 70000 is not in 1-65535"),
    ],
)
def test_status_tcp_refuses_anything_but_loopback(
    tmp_path: Path, value: str, expected: str
) -> None:
    assert _problem(tmp_path, f"status_tcp: {value}\n") == (
        f"config.yaml:6:13: {expected} (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)"
    )


def test_the_admin_password_file_may_be_missing_or_owner_only(tmp_path: Path) -> None:
    config = load_config(
        _write(tmp_path, MINIMAL + "admin_password_file: secret/admin.hash\n"), ENV
    )
    assert config.admin_password_file == tmp_path.resolve() / "secret" / "admin.hash"
    (tmp_path / "secret").mkdir()
    write_password_hash(config.admin_password_file, hash_password("pw", rounds=4))
    assert load_config(config.source, ENV).admin_password_file == config.admin_password_file


def test_an_admin_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    hashed = tmp_path / "admin.hash"
    write_password_hash(hashed, hash_password("pw", rounds=4))
    hashed.chmod(0o640)
    assert _problem(tmp_path, "admin_password_file: admin.hash\n") == (
        f"config.yaml:6:22: admin password file {hashed} is open to other users (mode 640);"
        f" a readable hash invites offline guessing (chmod 600 {hashed})"
    )


def test_the_default_admin_password_file_is_checked_too(tmp_path: Path) -> None:
    hashed = tmp_path / "admin-password.bcrypt"
    write_password_hash(hashed, hash_password("pw", rounds=4))
    hashed.chmod(0o604)
    assert _problem(tmp_path, "") == (
        f"config.yaml:1:1: admin password file {hashed} is open to other users (mode 604);"
        f" a readable hash invites offline guessing (chmod 600 {hashed})"
    )
    hashed.unlink()
    hashed.mkdir()
    assert _problem(tmp_path, "") == (
        f"config.yaml:1:1: admin password file {hashed} is not a regular file"
    )


def test_the_inline_admin_password_hash_is_gone(tmp_path: Path) -> None:
    assert _problem(tmp_path, "admin_password_hash: '$2b$12$abc'\n") == (
        "config.yaml:6:1: admin_password_hash is no longer read: the hash lives in a file"
        " (name it with admin_password_file (default admin-password.bcrypt next to this file)"
        " and set it with simple-risk admin set-password)"
    )


def test_notify_settings_and_the_deprecated_alert_webhook(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            MINIMAL + "notify: {webhook: 'https://hooks.example.com/a', min_severity: critical}\n",
        ),
        ENV,
    )
    assert config.notify == NotifySettings("https://hooks.example.com/a", "critical")
    assert config.alert_webhook == "https://hooks.example.com/a"
    config = load_config(
        _write(tmp_path, MINIMAL + "alert_webhook: https://hooks.example.com/old\n"), ENV
    )
    assert config.notify == NotifySettings("https://hooks.example.com/old", "warning")
    assert config.alert_webhook == "https://hooks.example.com/old"
    config = load_config(
        _write(
            tmp_path,
            MINIMAL
            + "alert_webhook: https://h.example/x\nnotify: {webhook: https://h.example/x}\n",
        ),
        ENV,
    )
    assert config.notify.webhook == "https://h.example/x"


def test_notify_urls_for_phones_and_chats(tmp_path: Path) -> None:
    text = "notify:\n  urls:\n    - tgram://123456789:abcdefghij/12345\n    - ntfy://my-desk\n"
    config = load_config(_write(tmp_path, MINIMAL + text), ENV)
    assert config.notify.urls == ("tgram://123456789:abcdefghij/12345", "ntfy://my-desk")
    assert config.notify.min_severity == "warning"


def test_an_unknown_notification_url_is_located_with_examples(tmp_path: Path) -> None:
    problem = _problem(tmp_path, "notify:\n  urls:\n    - ntfy://ok\n    - telegram://x\n")
    assert problem.startswith("config.yaml:9:7: telegram://…: not a notification URL apprise")
    assert "tgram://BOT_TOKEN/CHAT_ID" in problem


def test_notify_mistakes_are_located(tmp_path: Path) -> None:
    assert _problem(
        tmp_path, "alert_webhook: https://h.example/x\nnotify: {webhook: https://h.example/y}\n"
    ) == (
        "config.yaml:6:1: alert_webhook and notify.webhook name different URLs"
        " (alert_webhook is deprecated: keep notify.webhook only)"
    )
    assert _problem(tmp_path, "notify: {min_severity: warn}\n") == (
        'config.yaml:6:24: "min_severity": "warn" is not one of: info, warning, critical'
        ' (did you mean "warning"?)'
    )
    assert _problem(tmp_path, "notify: {webhook: ftp://x}\n").startswith("config.yaml:6:19: ")
    assert _problem(tmp_path, "notify: {url: https://x}\n").startswith(
        'config.yaml:6:10: unknown key "url" in "notify"'
    )


def test_sim_configs_use_the_runtime_socket_and_a_private_password_file(tmp_path: Path) -> None:
    config = sim_config(
        "http://127.0.0.1:8700/",
        "demo",
        "key",
        [1],
        tmp_path,
        ruleset_path=default_ruleset_path(),
    )
    assert config.status_socket == xdg_dir("runtime", os.environ) / "status.sock"
    assert config.admin_password_file == tmp_path / "admin-password.bcrypt"
    assert (config.status_socket_mode, config.status_tcp) == (0o600, None)
    chosen = sim_config(
        "http://127.0.0.1:8700",
        "demo",
        "key",
        [1],
        tmp_path,
        ruleset_path=default_ruleset_path(),
        status_socket=tmp_path / "s.sock",
        admin_password_file=tmp_path / "pw",
    )
    assert (chosen.status_socket, chosen.admin_password_file) == (
        tmp_path / "s.sock",
        tmp_path / "pw",
    )


EXAMPLE = Path(__file__).parents[2] / "examples" / "config.yaml"


def test_the_example_configuration_and_its_commented_settings_load(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    uncommented = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        setting = line.removeprefix("# ")
        if setting.startswith(("status_socket_", "status_tcp:", "notify:", "  webhook:")):
            line = setting.replace("traders", group)
        elif setting.startswith(("admin_password_file:", "  min_severity:")):
            line = setting
        uncommented.append(line)
    config = load_config(_write(tmp_path, "\n".join(uncommented) + "\n"), ENV)
    assert (config.status_socket_mode, config.status_socket_group) == (0o660, group)
    assert config.status_tcp == ("127.0.0.1", 8765)
    assert config.notify == NotifySettings("https://hooks.example.com/simple-risk", "warning")
    assert config.admin_password_file == tmp_path.resolve() / "admin-password.bcrypt"


def test_the_example_overlay_in_the_comments_is_a_valid_overlay(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#   params:"))
    body = []
    for line in lines[start:]:
        if not line.startswith("#  "):
            break
        body.append(line[1:])
    body = textwrap.dedent("\n".join(body)).splitlines()
    assert [line.split(":")[0] for line in body if not line.startswith(" ")] == [
        "params",
        "enable",
        "disable",
        "rules",
    ]
    _write(tmp_path, "\n".join(body) + "\n", "o.yaml")
    config = load_config(_write(tmp_path, MINIMAL + "overlays: {20100001: o.yaml}\n"), ENV)
    ruleset = load_rulesets(config)[20100001]
    assert ruleset.rules[-1].id == "half-daily-loss"
    assert not ruleset.rule("max-unrealized-profit").enabled
    assert ruleset.rule("trade-management-breakeven").enabled


def test_the_schema_offers_exactly_the_alert_severities() -> None:
    schema = json.loads(schema_path("config.schema.json").read_text(encoding="utf-8"))
    notify = schema["properties"]["notify"]["properties"]
    assert tuple(notify["min_severity"]["enum"]) == SEVERITIES
    assert "admin_password_hash" not in schema["properties"]


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ("[-5]", '4:12: item 1 of "accounts" must be at least 1, got -5'),
        ("[{id: x}]", '4:17: "id" must be a whole number, got a string ("x")'),
        ("[{enforce: false}]", '4:12: missing required key "id" in item 1 of "accounts"'),
    ],
)
def test_a_wrong_account_entry_is_told_in_the_form_it_was_written(
    tmp_path: Path, accounts: str, message: str
) -> None:
    """-5 is an id below 1 (not "must be a mapping"); a mapping's own mistake is named."""
    text = "credentials: {username: u, api_key: k}\ngateway: topstepx\nlog: {}\n"
    path = _write(tmp_path, f"{text}accounts: {accounts}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    assert _messages(error) == [f"{path}:{message}"]


def test_a_status_socket_path_too_long_for_a_unix_socket_is_located(tmp_path: Path) -> None:
    """--check must not say all is well when engine run then cannot bind the socket."""
    socket = tmp_path / ("d" * 120) / "status.sock"
    path = _write(tmp_path, MINIMAL + f"status_socket: {socket}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [problem] = error.value.problems
    assert (problem.line, problem.column) == (6, 16)
    assert problem.message.startswith(f"the status socket path {socket} is ")
    assert "longer than a Unix socket address may be (107)" in problem.message


def test_a_mistyped_notification_url_is_located_without_its_token(tmp_path: Path) -> None:
    """A chat webhook or bot URL carries its token: ``--check`` output goes to a terminal,
    a CI log or the journal (ExecStartPre), so a mistake in one names the place and the
    scheme, never the token."""
    mistakes = {
        "notify: {webhook: 'htp://hooks.example.com/services/T0/B0/SECRETTOKEN'}\n": "6:19",
        "alert_webhook: 'htps://hooks.example.com/services/T0/B0/SECRETTOKEN'\n": "6:16",
        "notify: {urls: 'tgram://123456789:SECRETTOKEN/12345'}\n": "6:16",
        "notify: {urls: ['tgram:/123456789:SECRETTOKEN/12345']}\n": "6:17",
    }
    for text, place in mistakes.items():
        problem = _problem(tmp_path, text)
        assert problem.startswith(f"config.yaml:{place}: "), problem
        assert "SECRETTOKEN" not in problem, problem


def test_a_webhook_without_its_scheme_says_to_write_https(tmp_path: Path) -> None:
    """A webhook pasted without its https:// (hooks.slack.com/services/…, as a browser's
    address bar shows it) was refused as '"…" is not a valid value (URL that receives a JSON
    POST …)': the value hidden, and nothing said what is wrong with it."""
    pasted = "notify: {webhook: 'hooks.slack.com/services/T0/B0/SECRETTOKEN'}\n"
    assert _problem(tmp_path, pasted) == (
        "config.yaml:6:19: notify.webhook …: not an http:// or https:// URL (the chat's"
        " webhook URL as the service shows it, starting with https://, e.g."
        " https://hooks.slack.com/…)"
    )
    legacy = "alert_webhook: 'hooks.slack.com/services/T0/B0/SECRETTOKEN'\n"
    assert _problem(tmp_path, legacy).startswith(
        "config.yaml:6:16: alert_webhook …: not an http:// or https:// URL"
    )


def test_a_webhook_without_a_host_is_refused_at_check(tmp_path: Path) -> None:
    """``https://`` alone (a value cut off when pasted) or a URL with a space passed the
    scheme check, and every alert then failed to post, all day, with nothing at ``--check``."""
    assert _problem(tmp_path, "notify: {webhook: 'https://'}\n") == (
        "config.yaml:6:19: notify.webhook https://…: not a URL with a host"
        " (the chat's webhook URL as the service shows it, e.g. https://hooks.slack.com/…)"
    )
    assert _problem(tmp_path, "notify: {webhook: 'https://hooks.example.com/a b'}\n").startswith(
        "config.yaml:6:19: notify.webhook https://…: not a URL with a host"
    )
    assert _problem(tmp_path, "alert_webhook: 'http://:80/x'\n").startswith(
        "config.yaml:6:16: alert_webhook http://…: not a URL with a host"
    )


def test_a_notification_url_written_twice_is_located(tmp_path: Path) -> None:
    """The same chat twice in notify.urls (pasted again when adding a second) made every
    alert buzz the phone twice; --check says which line repeats which."""
    problem = _problem(
        tmp_path,
        "notify:\n  urls:\n    - tgram://123456789:SECRETTOKEN/12345\n    - ntfy://desk\n"
        "    - tgram://123456789:SECRETTOKEN/12345\n",
    )
    assert problem == (
        "config.yaml:10:7: tgram://…: the same notification URL as item 1 (line 8):"
        " every alert would be pushed to it twice (keep one)"
    )


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        (None, 60),
        ("retention_days: 20", 20),
        ("retention_days: 0", None),
        ("retention_days: forever", None),
    ],
)
def test_the_journal_is_kept_sixty_trading_days_unless_told_otherwise(
    tmp_path: Path, written: str | None, kept: int | None
) -> None:
    text = MINIMAL + (f"{written}\n" if written else "")
    assert load_config(_write(tmp_path, text), ENV).retention_days == kept


def test_a_retention_under_two_trading_weeks_is_refused_with_why(tmp_path: Path) -> None:
    """Kept 5 trading days, a journal rebuilt on a Friday (its snapshot unreadable) lacked
    the week's first days: a weekly loss limit counted low, a breach went unseen."""
    path = _write(tmp_path, MINIMAL + "retention_days: 5\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [problem] = error.value.problems
    assert problem.message == '"retention_days" must be at least 10, got 5'
    assert problem.hint is not None and "weekly limit" in problem.hint
    assert load_config(_write(tmp_path, MINIMAL + "retention_days: 10\n"), ENV).retention_days == 10


@pytest.mark.parametrize("written", ["-1", "2w", "60.5", "always"])
def test_a_retention_that_is_not_a_count_of_days_is_a_located_error(
    tmp_path: Path, written: str
) -> None:
    path = _write(tmp_path, MINIMAL + f"retention_days: {written}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [problem] = error.value.problems
    assert problem.format().startswith(f"{path}:6:17: ")
    assert "retention_days" in problem.message
