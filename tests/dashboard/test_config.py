"""``dashboard:`` in the configuration: off unless set, loopback only, a clear error otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.config import ConfigError, load_config
from simple_risk.daemon.control.server import ServerError
from simple_risk.daemon.dashboard.server import DashboardServer, check_loopback

ENV = {"HOME": "/home/trader", "PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-123456"}
MINIMAL = """\
gateway: http://127.0.0.1:8700
credentials:
  username: ${PROJECTX_USERNAME}
  api_key: ${PROJECTX_API_KEY}
accounts: [20100001]
"""


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL + extra, encoding="utf-8")
    return path


def test_the_dashboard_is_off_unless_configured(tmp_path: Path) -> None:
    assert load_config(_config(tmp_path), ENV).dashboard is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8766", ("127.0.0.1", 8766)),
        ("localhost:8766", ("127.0.0.1", 8766)),
        ("'[::1]:8766'", ("::1", 8766)),
    ],
)
def test_a_loopback_dashboard_address_is_accepted(
    tmp_path: Path, value: str, expected: tuple[str, int]
) -> None:
    assert load_config(_config(tmp_path, f"dashboard: {value}\n"), ENV).dashboard == expected


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "dashboard.example.com"])
def test_a_dashboard_reachable_from_the_network_is_a_config_error(
    tmp_path: Path, host: str
) -> None:
    path = _config(tmp_path, f"dashboard: {host}:8766\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    [problem] = error.value.problems
    assert problem.format() == (
        f'{path}:6:12: dashboard host "{host}" is not a loopback address: the dashboard shows'
        " the account to anyone who can reach it (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)"
    )


def test_engine_run_refuses_it_with_the_located_message_and_no_traceback(tmp_path: Path) -> None:
    path = _config(tmp_path, "dashboard: 0.0.0.0:8766\n")
    result = CliRunner().invoke(cli, ["engine", "run", "--config", str(path), "--check"], env=ENV)
    assert result.exit_code == 1
    assert 'dashboard host "0.0.0.0" is not a loopback address' in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::", "example.com"])
def test_the_server_itself_refuses_a_non_loopback_address(host: str) -> None:
    with pytest.raises(ServerError, match="loopback"):
        check_loopback(host)
    with pytest.raises(ServerError, match="loopback"):
        DashboardServer(None, (host, 8766))  # type: ignore[arg-type]


def test_engine_run_sim_serves_the_dashboard_on_its_default_address(tmp_path: Path) -> None:
    from simple_risk.cli.engine_run import _sim_setup
    from simple_risk.daemon.dashboard import DEFAULT_ADDRESS

    config, _, simulator = _sim_setup(tmp_path)
    simulator.stop()
    assert config.dashboard == DEFAULT_ADDRESS == ("127.0.0.1", 8766)
