"""``engine run --check [--online]``: every bad configuration a new user can write is one line
naming the key and the fix, exit 1 — and a good one says what the rules would do right now.

Run against a real simulator on loopback, through the command itself (``CliRunner``). The
simulator's clock and the daemon's (``SIMPLE_RISK_WALL_START``) are pinned, so the session state
the check reports never depends on the day the test runs.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from simple_risk.adapters.simulator import RateLimits, Simulator, wire
from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.check import Finding, _session_lines, check_url, writable_dir
from simple_risk.daemon.config import PASSWORD_FILE_NAME
from simple_risk.daemon.password import read_password_hash, verify_password
from simple_risk.daemon.sim import SIM_ADMIN_PASSWORD, Trader
from simple_risk.daemon.wallclock import WALL_START_ENV
from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.events import OrderSide
from simple_risk.engine.model import CalendarSpec, SessionSpec
from simple_risk.resources import default_ruleset_path
from tests.pinned import PINNED_START, pinned_wall

ACCOUNT = 20100001
API_KEY = "check-api-key-4d2b"
#: a Saturday noon in Chicago: the market is closed, so exposure is outside the session
SATURDAY = datetime(2027, 1, 16, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(
        port=0,
        seed=4,
        price_interval=0.05,
        api_key=API_KEY,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        clock=pinned_wall(),
    ).start()
    yield simulator
    simulator.stop()


def _config(tmp_path: Path, gateway: str, **changes: str) -> Path:
    values = {
        "gateway": gateway,
        "api_key": "${SR_CHECK_KEY}",
        "accounts": f"[{ACCOUNT}]",
        "data_dir": str(tmp_path / "data"),
        "log_dir": str(tmp_path / "log"),
    }
    values.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(
        f"gateway: {values['gateway']}\n"
        f"credentials: {{username: demo, api_key: '{values['api_key']}'}}\n"
        f"accounts: {values['accounts']}\n"
        f"ruleset: {default_ruleset_path()}\n"
        f"data_dir: {values['data_dir']}\n"
        f"log_dir: {values['log_dir']}\n",
        encoding="utf-8",
    )
    return path


def _check(
    config: Path, *extra: str, key: str = API_KEY, at: datetime | None = PINNED_START
) -> Result:
    """The command, on a pinned clock (``at=None`` for a gateway that is not on this machine:
    a pinned clock is refused there)."""
    env = {"SR_CHECK_KEY": key}
    if at is not None:
        env[WALL_START_ENV] = at.isoformat()
    return CliRunner().invoke(
        cli, ["engine", "run", "--config", str(config), "--check", *extra], env=env
    )


def _problems(result: Result) -> list[str]:
    return [
        line.split("PROBLEM", 1)[1].strip()
        for line in result.output.splitlines()
        if "PROBLEM" in line
    ]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- a good configuration ---------------------------------------------------------------------


def test_a_good_configuration_passes_online_and_lists_what_it_saw(
    sim: Simulator, tmp_path: Path
) -> None:
    result = _check(_config(tmp_path, sim.base_url), "--online")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "logged in as 'demo'" in out
    assert (
        f"visible account {ACCOUNT} '50KTC-V2-SIM-{ACCOUNT}': can trade, balance 50,000.00" in out
    )
    assert "hubs/user: connected, SignalR handshake complete" in out
    assert "hubs/market: connected, SignalR handshake complete" in out
    assert "first quote for" in out
    assert "session rth: open" in out  # Wednesday 10:00 CT
    assert f"account {ACCOUNT}: the rules would do nothing now" in out
    assert "SUCCESS" in out and "(online)" in out
    assert API_KEY not in out


def test_the_check_says_what_the_rules_would_do_now_and_changes_nothing(
    sim: Simulator, tmp_path: Path
) -> None:
    trader = Trader(sim)
    try:
        trader.buy(ACCOUNT, "MNQ", 2)
    finally:
        trader.close()
    sim.clear_requests()
    result = _check(_config(tmp_path, sim.base_url), "--online", at=SATURDAY)
    assert result.exit_code == 0, result.output
    assert "session rth: closed, next open Mon 18 Jan 08:30 CT" in result.output
    assert f"account {ACCOUNT}: 1 open position(s)" in result.output
    would = (
        "session-block-outside would close MNQ 2 (long), lock the account until 2027-01-18 08:30"
    )
    assert would in result.output
    mutating = ("order/place", "order/cancel", "order/modify", "position/close")
    calls = [r.path.lower() for r in sim.requests_log()]
    assert not [c for c in calls if any(m in c for m in mutating)], calls


def test_the_check_counts_the_weeks_earlier_fills_as_the_daemon_does(tmp_path: Path) -> None:
    """The trader lost 1,600 on Monday; on Wednesday, with the weekly loss limit of 1,500, the
    check must say what the daemon will do at its start (it reads the week's fills): lock the
    account, not 'the rules would do nothing now'."""
    wednesday = pinned_wall()  # Wednesday 10:00 Chicago
    earlier = [timedelta(days=-2)]  # the simulator's clock runs on Monday first
    simulator = Simulator(
        port=0,
        seed=4,
        price_interval=None,
        api_key=API_KEY,
        rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        clock=lambda: wednesday() + earlier[0],
    ).start()
    trader = Trader(simulator)
    try:
        trader.buy(ACCOUNT, "EP")
        trader.move("EP", Decimal(-32))  # -1,600 on Monday
        trader.sell(ACCOUNT, "EP")
        earlier[0] = timedelta(0)  # Wednesday: the check runs
        config = _config(tmp_path, simulator.base_url)
        weekly = REPO / "rulesets" / "examples" / "weekly-loss-limit.yaml"
        config.write_text(
            config.read_text(encoding="utf-8").replace(str(default_ruleset_path()), str(weekly)),
            encoding="utf-8",
        )
        result = _check(config, "--online")
    finally:
        trader.close()
        simulator.stop()
    assert result.exit_code == 0, result.output
    assert "weekly-loss-limit would" in result.output
    assert "the rules would do nothing now" not in result.output


def test_offline_check_passes_without_touching_the_gateway(tmp_path: Path) -> None:
    result = _check(_config(tmp_path, f"http://127.0.0.1:{_closed_port()}"))
    assert result.exit_code == 0, result.output
    assert "add --online" in result.output


def test_the_offline_check_creates_nothing_and_says_the_store_is_not_there_yet(
    tmp_path: Path,
) -> None:
    """`--check` is what an admin runs to try a configuration before the first start, often as
    root or as another user than the daemon's: it created the data and log directories (and,
    run as root, left them root's for the daemon's user to trip on), and called a store that
    was not there "can be opened". A check changes nothing on disk: what is missing is said,
    with whether the daemon can create it, and the store not there yet is named as such."""
    config = _config(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    before = sorted(tmp_path.rglob("*"))
    result = _check(config)
    assert result.exit_code == 0, result.output
    assert sorted(tmp_path.rglob("*")) == before
    data, log = tmp_path / "data", tmp_path / "log"
    assert (
        f"database: no store at {data / 'simple-risk.db'} yet: the daemon creates it at its"
        " first start" in result.output
    )
    assert (
        f"data_dir: {data} does not exist yet: the daemon creates it ({tmp_path} is writable)"
        in (result.output)
    )
    assert f"log_dir: {log} does not exist yet" in result.output
    data.mkdir()
    (data / "simple-risk.db").write_bytes(b"")
    result = _check(config)
    assert result.exit_code == 0, result.output
    assert f"database: sqlite:///{data / 'simple-risk.db'} can be opened" in result.output
    assert f"data_dir: {data} is writable" in result.output


def test_the_check_prints_what_rules_lint_warns_of_in_an_overlay(tmp_path: Path) -> None:
    """An overlay's per_symbol_limits {ES: 1} replaces the whole map: NQ, MNQ … then read
    the lookup's default. `rules lint --base` warns of it; the check passed it with no word,
    and so did the start. The warning is a line of the check (which still passes)."""
    overlay = tmp_path / "20100001.yaml"
    overlay.write_text("params:\n  per_symbol_limits: {ES: 1}\n", encoding="utf-8")
    config = _config(tmp_path, "http://127.0.0.1:1")
    with config.open("a", encoding="utf-8") as out:
        out.write(f"overlays: {{{ACCOUNT}: {overlay}}}\n")
    result = _check(config)
    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.output.splitlines() if "WARNING" in line]
    assert (
        warning.split("WARNING", 1)[1]
        .strip()
        .startswith(
            f'{overlay}:2:22: warning: param "per_symbol_limits": the overlay\'s map replaces'
        )
    )
    assert warning.endswith("(overlay-map-keys)")


# -- each bad configuration: one line naming the key and the fix --------------------------------


@pytest.mark.parametrize(
    ("database", "words"),
    [
        ("mysql://risk@db/risk", "unsupported database 'mysql'"),
        ("nonsense", "is not a database URL"),
        ("sqlite:////proc/no-such-dir/risk.db", "/proc/no-such-dir is not writable"),
    ],
)
def test_a_database_the_daemon_cannot_open_fails_the_offline_check(
    tmp_path: Path, database: str, words: str
) -> None:
    """`--check` says SUCCESS only when `engine run` gets past opening its store."""
    config = _config(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    config.write_text(config.read_text() + f'database: "{database}"\n')
    result = _check(config)
    assert result.exit_code == 1, result.output
    [problem] = _problems(result)
    assert problem.startswith("database: ") and words in problem


def test_a_wrong_api_key_names_the_credentials(sim: Simulator, tmp_path: Path) -> None:
    result = _check(_config(tmp_path, sim.base_url), "--online", key="not-the-key")
    assert result.exit_code == 1
    [problem] = _problems(result)
    assert problem.startswith("credentials.api_key: the gateway refused the login of user 'demo'")
    assert "fix: check credentials.username and credentials.api_key" in problem
    assert "Traceback" not in result.output


def test_an_account_the_login_cannot_see_is_named(sim: Simulator, tmp_path: Path) -> None:
    config = _config(tmp_path, sim.base_url, accounts=f"[{ACCOUNT}, 99999]")
    result = _check(config, "--online")
    assert result.exit_code == 1
    [problem] = _problems(result)
    assert problem.startswith("accounts: account 99999 is not visible to user 'demo' (visible: ")
    assert str(ACCOUNT) in problem


def test_an_unreadable_other_account_is_mentioned_and_does_not_fail_the_check(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = wire.account_model

    def account_model(account: Any) -> dict[str, object]:
        model = original(account)
        if model["id"] != ACCOUNT:
            model["balance"] = None
        return model

    monkeypatch.setattr(wire, "account_model", account_model)
    result = _check(_config(tmp_path, sim.base_url), "--online")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert _problems(result) == []
    assert "Account/search: skipped an account it could not read (missing field 'balance')" in (
        result.output
    )
    assert f"visible account {ACCOUNT}" in result.output


def test_an_unreadable_order_of_the_account_is_mentioned_and_its_other_state_still_read(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One order no gateway could describe (an unknown side) does not hide the account's
    position and fills from what the rules would do."""
    trader = Trader(sim)
    try:
        trader.buy(ACCOUNT, "MNQ", 2)
        trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, trader.price("MNQ") - Decimal(200))
    finally:
        trader.close()
    original = wire.order_model

    def order_model(order: Any) -> dict[str, object]:
        model = original(order)
        if order.limit_price is not None:
            model["side"] = 7
        return model

    monkeypatch.setattr(wire, "order_model", order_model)
    result = _check(_config(tmp_path, sim.base_url), "--online")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert _problems(result) == []
    assert f"account {ACCOUNT}: skipped an order it could not read (side: 7" in result.output
    assert f"account {ACCOUNT}: 1 open position(s), 0 working order(s)" in result.output


def test_a_closed_port_says_nothing_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = _check(_config(tmp_path, url), "--online")
    assert result.exit_code == 1
    [problem] = _problems(result)
    assert problem.startswith(f"gateway: nothing usable answers at {url}")
    assert "Traceback" not in result.output


def test_a_wrong_scheme_is_refused_before_any_call(tmp_path: Path) -> None:
    result = _check(_config(tmp_path, "ftp://127.0.0.1:8700"), "--online", at=None)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "gateway" in result.output


def test_an_unknown_host_is_a_dns_problem(tmp_path: Path) -> None:
    result = _check(_config(tmp_path, "https://no-such-gateway.invalid"), "--online", at=None)
    assert result.exit_code == 1
    [problem] = _problems(result)
    assert problem.startswith("gateway: cannot resolve host 'no-such-gateway.invalid'")


def test_an_unwritable_data_dir_fails_offline_too(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    result = _check(_config(tmp_path, "http://127.0.0.1:1", data_dir=str(blocker / "data")))
    assert result.exit_code == 1
    [problem] = _problems(result)
    assert problem.startswith(f"data_dir: {blocker / 'data'} is not writable (")
    assert "fix: choose a directory the daemon's user owns" in problem


def test_a_configuration_other_users_may_write_fails_the_check(tmp_path: Path) -> None:
    """The install step's check: a configuration the trader could edit (here: every user)
    would let them loosen the rules at the next restart."""
    config = _config(tmp_path, "http://127.0.0.1:1")
    config.chmod(0o666)
    result = _check(config)
    assert result.exit_code == 1
    [problem] = _problems(result)
    assert problem.startswith(
        f"--config: {config} can be changed by a user other than the daemon's "
        "(writable by every user (mode 666))"
    )
    assert "fix: chown it (and its folders) to the daemon's user or root" in problem


def test_online_needs_check() -> None:
    result = CliRunner().invoke(cli, ["engine", "run", "--sim", "--online"])
    assert result.exit_code == 2
    assert "--online goes with --check" in result.output


# -- the pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.topstepx.com", None),
        ("api.topstepx.com", "is not an http/https URL"),
        ("https://", "names no host"),
        ("http://127.0.0.1:99999", "invalid port"),
    ],
)
def test_url_checks(url: str, expected: str | None) -> None:
    found = check_url("gateway", url, ("http", "https"))
    if expected is None:
        assert found is None or "resolve" in found.text  # no DNS here is fine
    else:
        assert found is not None and expected in found.text and found.key == "gateway"


def test_a_finding_reads_key_text_fix() -> None:
    line = Finding("problem", "is wrong", "gateway", "write it right").line()
    assert line == "gateway: is wrong — fix: write it right"


def test_writable_dir_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir"
    assert writable_dir(target) is None  # the daemon could make it
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert writable_dir(tmp_path / "a-file" / "dir") == f"{tmp_path / 'a-file'} is not a directory"


def test_engine_run_sim_starts_with_a_banner_of_what_to_type() -> None:
    result = CliRunner().invoke(cli, ["engine", "run", "--sim", "--check"])
    assert result.exit_code == 0, result.output
    for shown in ("simulator", "API key demo-api-key", "dashboard", "engine status --socket"):
        assert shown in result.output, shown
    assert "SUCCESS" in result.output


def test_engine_run_sim_has_an_admin_password_the_banner_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A simulated daemon has no configuration to run `admin set-password --config` against:
    like the simulator's demo API key, its admin password is set and shown."""
    monkeypatch.setattr(tempfile, "mkdtemp", lambda prefix="": str(tmp_path / "sim"))
    (tmp_path / "sim").mkdir()
    kept: list[str] = []
    monkeypatch.setattr(
        shutil,
        "rmtree",
        lambda path, **kwargs: kept.append(
            read_password_hash(Path(path) / PASSWORD_FILE_NAME) or ""
        ),
    )
    result = CliRunner().invoke(cli, ["engine", "run", "--sim", "--check"])
    assert result.exit_code == 0, result.output
    assert f"admin password {SIM_ADMIN_PASSWORD}" in result.output
    assert verify_password(SIM_ADMIN_PASSWORD, kept[0])


def test_the_next_open_after_a_clock_change_is_named_in_its_own_time() -> None:
    # a London ruleset checked on a Friday evening in BST: the clocks go back on Sunday, so
    # Monday's 14:30 open is 14:30 GMT
    calendar = TradingCalendar(
        CalendarSpec(
            timezone="Europe/London",
            trading_day_starts=time(23),
            sessions={"rth": SessionSpec("rth", time(14, 30), time(21), frozenset(range(5)))},
        )
    )
    friday = datetime(2026, 10, 23, 22, tzinfo=ZoneInfo("Europe/London"))
    lines = _session_lines(calendar, friday)
    assert "session rth: closed, next open Mon 26 Oct 14:30 GMT" in lines


def test_engine_run_sim_runs_on_a_pinned_wall_clock_when_asked() -> None:
    """A rehearsal of a Saturday on the simulator: the daemon and the simulator both read the
    pinned wall, as ``engine run --config`` against a simulator on this machine does."""
    saturday = "2027-01-16T12:00:00-06:00"
    result = CliRunner().invoke(
        cli, ["engine", "run", "--sim", "--check", "--online"], env={WALL_START_ENV: saturday}
    )
    assert result.exit_code == 0, result.output
    assert "trading day 2027-01-18 (now Sat 12:00 CT)" in result.output


def test_a_webhook_host_that_does_not_resolve_is_a_problem_online(tmp_path: Path) -> None:
    """A typo in the chat webhook's host (hooks.slak.com) let --check --online pass: the first
    alert of the day — a flatten, a lock — was the first post, and it failed. The check
    resolves the webhook's host, as it does the gateway's, and never prints its token."""
    config = _config(tmp_path, "https://no-such-gateway.invalid")
    config.write_text(
        config.read_text(encoding="utf-8")
        + "notify: {webhook: 'https://hooks.no-such-chat.invalid/services/T0/B0/SECRETTOKEN'}\n",
        encoding="utf-8",
    )
    result = _check(config, "--online", at=None)
    assert result.exit_code == 1
    assert "notify.webhook: https://…: cannot resolve host 'hooks.no-such-chat.invalid'" in (
        "\n".join(_problems(result))
    ), result.output
    assert "SECRETTOKEN" not in result.output
