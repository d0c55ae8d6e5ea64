"""``engine status | monitor | history`` and ``admin …`` against a stand-in server: what they
send (op, args, password, operator), what they print, and their exit codes."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the groups)
from simple_risk.daemon.control.history import DEFAULT_HISTORY_LIMIT
from simple_risk.daemon.control.protocol import ProtocolError
from simple_risk.daemon.password import hash_password, read_password_hash, verify_password
from simple_risk.resources import default_ruleset_path

from . import fixtures
from .fake_daemon import FakeDaemon, Handler, Stream

PASSWORD = "s3cret horse"

Start = Callable[[dict[str, Handler]], FakeDaemon]


def hello(_: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "pid": 4242,
        "started_at": fixtures.at(-65),
        "now": fixtures.at(0),
        "accounts": [20100001],
        "ruleset": {"name": "topstep", "path": "/etc/simple-risk/topstep.yaml"},
        "admin_password_set": True,
        "socket": "/run/simple-risk/status.sock",
    }


def admin_op(result: Any) -> Handler:
    """A handler that checks the password as the daemon would, then answers ``result``."""

    def handle(request: dict[str, Any]) -> Any:
        auth = request.get("auth") or {}
        if "password" not in auth:
            raise ProtocolError("auth_required", "this operation needs the admin password")
        if auth["password"] != PASSWORD:
            raise ProtocolError("auth_failed", "wrong password")
        return result(request) if callable(result) else result

    return handle


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="sr-cli-", dir="/tmp"))  # short: AF_UNIX paths
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def start(socket_dir: Path) -> Iterator[Start]:
    started: list[FakeDaemon] = []

    def run(handlers: dict[str, Handler]) -> FakeDaemon:
        daemon = FakeDaemon(socket_dir / "status.sock", {"hello": hello, **handlers})
        started.append(daemon)
        return daemon

    yield run
    for daemon in started:
        daemon.close()


def invoke(
    daemon: FakeDaemon | Path,
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> Result:
    path = daemon.path if isinstance(daemon, FakeDaemon) else daemon
    runner = CliRunner()
    environment = {"SIMPLE_RISK_SOCKET": str(path), "COLUMNS": "200", "USER": "alice"}
    environment["SIMPLE_RISK_ADMIN_PASSWORD"] = ""
    environment.update(env or {})
    return runner.invoke(cli, list(args), env=environment, input=input)


WITH_PASSWORD = {"SIMPLE_RISK_ADMIN_PASSWORD": PASSWORD}


def _config_naming(path: Path, socket: Path) -> Path:
    """A configuration of account 20100001 whose daemon answers on ``socket``."""
    path.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\naccounts: [20100001]\n"
        f"status_socket: {socket}\n",
        encoding="utf-8",
    )
    return path


# --- engine status -----------------------------------------------------------------------


def test_status_renders_tables_and_exits_0(start: Start) -> None:
    daemon = start({"status": lambda r: fixtures.status()})
    result = invoke(daemon, "engine", "status")
    assert result.exit_code == 0, result.output
    assert "account 20100001" in result.stdout and "Positions" in result.stdout
    assert "Daily loss" in result.stdout and "no-stop-grace" in result.stdout
    assert "params." not in result.stdout  # rule expressions stay in --explain
    assert daemon.last("status")["args"] == {}


def test_status_counts_on_the_daemons_clock_not_the_viewers(start: Start) -> None:
    """A daemon on a pinned wall (SIMPLE_RISK_WALL_START, a rehearsal: docs/daemon.md) is
    weeks from the viewer's clock. Measured against the viewer's, its uptime read 'up 0.0s',
    a position unprotected for 72 s 'NO for 0.0s' and a lock's end weeks away; every age and
    countdown is taken from the daemon's own `now`."""
    daemon = start({"status": lambda r: fixtures.status(), "hello": hello})
    result = invoke(daemon, "engine", "status")
    assert result.exit_code == 0, result.output
    assert "up 2h 05m" in result.stdout
    assert "NO for 1m 12s" in result.stdout
    status = invoke(daemon, "admin", "daemon", "status")
    assert status.exit_code == 0, status.output
    assert re.search(r"uptime\s+1m 05s", status.stdout), status.stdout


def test_status_json_prints_exactly_the_servers_result(start: Start) -> None:
    daemon = start({"status": lambda r: fixtures.status()})
    result = invoke(daemon, "engine", "status", "--json", "--account", "20100001")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == fixtures.status()
    assert daemon.last("status")["args"] == {"account": 20100001}


def test_status_explain_asks_for_the_rule(start: Start) -> None:
    daemon = start({"explain": lambda r: fixtures.explain()})
    result = invoke(daemon, "engine", "status", "--explain", "daily-loss-limit")
    assert result.exit_code == 0, result.output
    assert "day.net_pnl = -512.00  <=  -params.daily_loss_limit = -500  → true" in result.stdout
    assert daemon.last("explain")["args"] == {"rule": "daily-loss-limit"}
    as_json = invoke(daemon, "engine", "status", "--explain", "daily-loss-limit", "--json")
    assert json.loads(as_json.stdout) == fixtures.explain()


def test_status_watch_into_a_pipe_prints_each_status_as_it_comes(start: Start) -> None:
    """`status --watch | tee log` printed nothing at all: a live redraw writes only at its end."""
    fetched: list[int] = []

    def status(request: dict[str, Any]) -> Any:
        fetched.append(1)
        if len(fetched) > 2:
            raise ProtocolError("unavailable", "the daemon is stopping")
        return fixtures.status()

    daemon = start({"status": status})
    result = invoke(daemon, "engine", "status", "--watch", "--interval", "0.2")
    assert result.exit_code == 1, result.output
    assert result.stdout.count("account 20100001") == 2
    assert result.stdout.count("--- ") == 2  # each under the time it was fetched
    assert "the daemon is stopping" in result.stderr


def test_an_unknown_rule_is_exit_1_with_the_code_and_message(start: Start) -> None:
    def missing(request: dict[str, Any]) -> Any:
        raise ProtocolError("not_found", 'no rule "nope"')

    daemon = start({"explain": missing})
    result = invoke(daemon, "engine", "status", "--explain", "nope")
    assert result.exit_code == 1
    assert 'error not_found: no rule "nope"' in result.stderr
    assert "Traceback" not in result.output


def test_no_daemon_is_exit_3_with_how_to_start_it(socket_dir: Path) -> None:
    for command in (
        ["engine", "status"],
        ["engine", "monitor"],
        ["engine", "history"],
        ["admin", "reload"],
        ["admin", "daemon", "status"],
    ):
        result = invoke(socket_dir / "status.sock", *command)
        assert result.exit_code == 3, (command, result.output)
        assert "no daemon is running" in result.stderr
        assert "simple-risk engine run --config FILE" in result.stderr
        assert "Traceback" not in result.output


def test_a_stale_socket_file_is_also_exit_3(socket_dir: Path) -> None:
    import socket

    path = socket_dir / "status.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nothing listens
    result = invoke(path, "engine", "status")
    assert result.exit_code == 3
    assert "stale socket" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["engine", "status"], ["engine", "history"], ["admin", "{socket}", "lockout", "list"]],
)
@pytest.mark.parametrize("address", ["tcp:nope", "tcp:127.0.0.1:http", "tcp:127.0.0.1:99999"])
def test_a_tcp_socket_without_a_port_is_a_usage_error_not_no_daemon(
    command: list[str], address: str
) -> None:
    args = [a.replace("{socket}", "--socket") for a in command]
    if "--socket" in args:
        args.insert(args.index("--socket") + 1, address)
    else:
        args += ["--socket", address]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "is not tcp:HOST:PORT" in result.output
    assert "no daemon" not in result.output


# --- engine history ----------------------------------------------------------------------


def test_history_sends_the_window_and_filters(start: Start) -> None:
    daemon = start({"history": lambda r: fixtures.history()})
    result = invoke(
        daemon,
        "engine",
        "history",
        "--since",
        "2h",
        "--rule",
        "daily-loss-limit",
        "--account",
        "20100001",
        "--kind",
        "firing",
        "--kind",
        "fill",
        "--limit",
        "50",
    )
    assert result.exit_code == 0, result.output
    assert "sell 1 MNQ @ 21000.00, P&L -40.00" in result.stdout
    args = daemon.last("history")["args"]
    since = datetime.fromisoformat(args.pop("since"))
    assert since.tzinfo is not None
    assert abs((datetime.now().astimezone() - since) - timedelta(hours=2)) < timedelta(seconds=30)
    assert args == {
        "rule": "daily-loss-limit",
        "account": 20100001,
        "kinds": ["firing", "fill"],
        "limit": 50,
    }


def test_a_history_cut_to_its_limit_says_so_under_the_table(start: Start) -> None:
    """The daemon answers the newest items of the period only (1000 unless --limit): the
    table of a busy week must not pass for the whole period asked for."""
    answers = [{**fixtures.history(), "earlier_left_out": True}, fixtures.history()]
    daemon = start({"history": lambda r: answers.pop(0)})
    result = invoke(daemon, "engine", "history", "--since", "3d")
    assert result.exit_code == 0, result.output
    assert "sell 1 MNQ @ 21000.00, P&L -40.00" in result.stdout
    assert (
        "Only the newest 1000 items of this period are shown: earlier ones were left out "
        "(--limit N shows more, a later --since fewer)."
    ) in " ".join(result.stdout.split())
    whole = invoke(daemon, "engine", "history", "--since", "3d")
    assert whole.exit_code == 0 and "left out" not in whole.stdout


def test_history_help_says_how_many_items_come_without_limit() -> None:
    """docs/admin.md promises --limit's default (1000, the newest of the period); the help
    showed none, as if every item of the period came. The figure is the daemon's."""
    result = CliRunner().invoke(cli, ["engine", "history", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    said = f"default {DEFAULT_HISTORY_LIMIT}: the newest items of the period"
    assert said in " ".join(result.output.split())


def test_history_accepts_dates_and_json(start: Start) -> None:
    daemon = start({"history": lambda r: fixtures.history()})
    result = invoke(daemon, "engine", "history", "--since", "2026-11-24", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == fixtures.history()
    since = datetime.fromisoformat(daemon.last("history")["args"]["since"])
    assert (since.year, since.month, since.day, since.hour) == (2026, 11, 24, 0)


def test_a_bad_since_is_a_usage_error(start: Start) -> None:
    daemon = start({})
    result = invoke(daemon, "engine", "history", "--since", "yesterday")
    assert result.exit_code == 2
    assert "neither a duration" in result.stderr


@pytest.mark.parametrize(
    ("since", "until"),
    [("1d", "2d"), ("2026-11-24", "2026-11-23"), ("2026-11-24T10:00", "2026-11-24T10:00")],
)
def test_an_until_not_after_since_is_a_usage_error_not_an_empty_list(
    start: Start, since: str, until: str
) -> None:
    daemon = start({"history": lambda r: fixtures.history()})
    result = invoke(daemon, "engine", "history", "--since", since, "--until", until)
    assert result.exit_code == 2, result.output
    assert "--until" in result.stderr and "is not after --since" in result.stderr
    assert "history" not in [r.get("op") for r in daemon.requests]


@pytest.mark.parametrize(
    "since", ["99999999d", "9999999w", "99999999999999999999s", "0001-01-01", "0001-01-01T00:00"]
)
def test_a_since_further_back_than_the_calendar_is_a_usage_error(start: Start, since: str) -> None:
    """`--since 0001-01-01` said only "year 0 is out of range" (its local midnight in UTC)."""
    daemon = start({})
    result = invoke(daemon, "engine", "history", "--since", since)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "too far back" in result.stderr


# --- engine monitor ----------------------------------------------------------------------


def test_monitor_prints_each_message_in_plain_words(start: Start) -> None:
    daemon = start(
        {"subscribe": lambda r: Stream({"subscribed": True}, fixtures.monitor_messages())}
    )
    result = invoke(daemon, "engine", "monitor", "--kinds", "firing", "--kinds", "alert")
    assert result.exit_code == 3, result.output  # the stand-in closes after its messages
    assert "Order cancelled: max-contracts-per-instrument" in result.stdout
    assert "7 messages skipped" in result.stdout
    assert daemon.last("subscribe")["args"] == {"kinds": ["firing", "alert"]}


def test_a_monitor_left_running_for_days_says_which_day_each_line_is_of(start: Start) -> None:
    """The daemon runs for weeks and so may a monitor in a terminal: each line shows only its
    time, so Monday's 16:30 lockout and Tuesday's 09:00 firing must not read as one day's.
    A line of a day other than the one before it comes after a line naming its day."""
    monday = datetime(2027, 1, 11, 16, 30, tzinfo=fixtures.CHICAGO)
    messages = [
        {
            "stream": "monitor",
            "type": "firing",
            "at": (monday + timedelta(seconds=later)).isoformat(),
            "account": 20100001,
            "severity": "critical",
            "text": f"Account locked ({name})",
            "data": {},
        }
        for later, name in ((0, "monday"), (5, "monday again"), (17 * 3600, "tuesday"))
    ]
    daemon = start({"subscribe": lambda r: Stream({"subscribed": True}, messages)})
    result = invoke(daemon, "engine", "monitor", env={"TZ": "America/Chicago"})
    assert result.exit_code == 3, result.output
    lines = result.stdout.splitlines()
    first, again, tuesday = (
        next(i for i, line in enumerate(lines) if f"({name})" in line)
        for name in ("monday", "monday again", "tuesday")
    )
    assert lines[tuesday].startswith("09:30:00 ")
    assert again == first + 1  # the same day: no line between
    assert [line.strip() for line in lines[again + 1 : tuesday]] == ["── Tue 12 Jan 2027 ──"]
    assert "Mon 11 Jan 2027" not in result.stdout[result.stdout.index("(monday)") :]


def test_monitor_json_streams_one_object_per_line(start: Start) -> None:
    daemon = start(
        {"subscribe": lambda r: Stream({"subscribed": True}, fixtures.monitor_messages())}
    )
    result = invoke(daemon, "engine", "monitor", "--json")
    assert result.exit_code == 3  # the daemon went away: a script must tell it from Ctrl-C
    assert "the daemon closed the connection" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == fixtures.monitor_messages()


def test_monitor_of_an_account_the_daemon_does_not_guard_says_so_instead_of_waiting(
    start: Start,
) -> None:
    daemon = start(
        {
            "hello": hello,
            "subscribe": lambda r: Stream({"subscribed": True}, fixtures.monitor_messages()),
        }
    )
    result = invoke(daemon, "engine", "monitor", "--account", "20100002")
    assert result.exit_code == 1, result.output
    assert "does not guard account 20100002" in result.stderr
    assert "20100001" in result.stderr  # the ones it guards
    assert "subscribe" not in daemon.ops()


# --- admin -------------------------------------------------------------------------------


def test_reload_sends_the_password_operator_and_reason_and_prints_changes(start: Start) -> None:
    daemon = start({"reload": admin_op({"applied": True, "changes": fixtures.changes()})})
    result = invoke(daemon, "admin", "reload", "--reason", "lower limit", env=WITH_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "reloaded" in result.stdout
    assert "param daily_loss_limit 500 → 400" in result.stdout
    request = daemon.last("reload")
    assert request["auth"] == {"password": PASSWORD}
    assert request["operator"] == "alice"
    assert request["args"] == {"reason": "lower limit"}
    assert PASSWORD not in result.output


def test_a_reload_prints_the_warnings_of_its_overlays(start: Start) -> None:
    """`rules lint --base` warns of an overlay's map that leaves keys out (the account then
    reads the lookup's default for them, a higher limit in some rulesets); the reload applied
    it and printed only its changes. Each warning is printed under them, located."""
    warning = {
        "file": "/etc/simple-risk/overlays/20100001.yaml",
        "line": 2,
        "column": 22,
        "rule": None,
        "message": "param \"per_symbol_limits\": the overlay's map replaces the ruleset's whole"
        " map, and leaves out NQ (5 in the ruleset)",
        "hint": None,
        "severity": "warning",
        "check": "overlay-map-keys",
    }
    answer = {"applied": True, "changes": fixtures.changes(), "warnings": [warning]}
    daemon = start({"reload": admin_op(answer)})
    result = invoke(daemon, "admin", "reload", "--reason", "ES to one lot", env=WITH_PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        '  /etc/simple-risk/overlays/20100001.yaml:2:22: warning: param "per_symbol_limits":'
        " the overlay's map replaces the ruleset's whole map, and leaves out NQ (5 in the"
        " ruleset) (overlay-map-keys)"
    )


def test_a_reload_says_which_settings_wait_for_a_restart(start: Start) -> None:
    """The admin added the 150K account to accounts: and reloaded: the daemon answered that
    accounts needs a restart, and the command printed "reloaded / no changes" — the new
    account unguarded, and nothing said so."""
    answer = {"applied": True, "changes": {}, "restart_needed": ["accounts", "notify"]}
    daemon = start({"reload": admin_op(answer)})
    result = invoke(daemon, "admin", "reload", "--reason", "add the 150K", env=WITH_PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "reloaded",
        "  no changes",
        "  NOT applied until the daemon restarts: accounts, notify (the running daemon goes on"
        " with their old values; restart it: simple-risk admin daemon restart --config FILE"
        ' --reason "…", or sudo systemctl restart simple-risk)',
    ]


def test_a_blank_operator_is_the_user_not_a_blank_in_the_audit(start: Start) -> None:
    """`--operator "$OPERATOR"` with the variable unset, or a stray space, named nobody: the
    audit and engine history read " via root (uid 0, …)". A blank name is $USER's, as when
    the option is not given."""
    daemon = start({"reload": admin_op({"applied": True, "changes": {}})})
    result = invoke(daemon, "admin", "--operator", "  ", "reload", env=WITH_PASSWORD)
    assert result.exit_code == 0, result.output
    assert daemon.last("reload")["operator"] == "alice"


def test_config_reload_is_the_same_command(start: Start) -> None:
    daemon = start({"reload": admin_op({"applied": True, "changes": {}})})
    result = invoke(daemon, "admin", "--operator", "bob", "config", "reload", env=WITH_PASSWORD)
    assert result.exit_code == 0
    assert "no changes" in result.stdout
    assert daemon.last("reload")["operator"] == "bob"


def test_a_refused_reload_prints_each_located_problem_and_exits_1(start: Start) -> None:
    problems = (
        {
            "file": "/etc/simple-risk/topstep.yaml",
            "line": 41,
            "column": 11,
            "rule": "daily-loss-limit",
            "message": 'unknown fact "day.nett_pnl"',
            "hint": 'did you mean "day.net_pnl"?',
        },
    )

    def refuse(request: dict[str, Any]) -> Any:
        raise ProtocolError("refused", "the ruleset has errors; the running one is kept", problems)

    daemon = start({"reload": admin_op(refuse)})
    result = invoke(daemon, "admin", "reload", env=WITH_PASSWORD)
    assert result.exit_code == 1
    assert "error refused: the ruleset has errors; the running one is kept" in result.stderr
    assert (
        '/etc/simple-risk/topstep.yaml:41:11: rule "daily-loss-limit": unknown fact '
        '"day.nett_pnl" (did you mean "day.net_pnl"?)'
    ) in result.stderr


def test_the_password_prompt_does_not_echo(start: Start) -> None:
    daemon = start({"auth_check": admin_op({}), "reload": admin_op({"applied": True})})
    result = invoke(daemon, "admin", "reload", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Admin password" in result.output
    assert PASSWORD not in result.output
    assert daemon.last("reload")["auth"] == {"password": PASSWORD}


def test_a_wrong_password_is_exit_1_and_throttling_says_when_to_retry(start: Start) -> None:
    attempts: list[str] = []

    def reload(request: dict[str, Any]) -> Any:
        attempts.append(request["auth"]["password"])
        if len(attempts) > 1:
            raise ProtocolError("throttled", "too many wrong passwords", retry_after=4.0)
        raise ProtocolError("auth_failed", "wrong password")

    daemon = start({"reload": reload})
    wrong = {"SIMPLE_RISK_ADMIN_PASSWORD": "guess"}
    first = invoke(daemon, "admin", "reload", env=wrong)
    assert first.exit_code == 1
    assert "error auth_failed: wrong password" in first.stderr
    second = invoke(daemon, "admin", "reload", env=wrong)
    assert second.exit_code == 1
    assert "error throttled" in second.stderr and "try again in 4 s" in second.stderr
    assert "guess" not in first.output + second.output


def test_a_password_that_is_not_utf8_is_refused_in_words_not_a_traceback(start: Start) -> None:
    """A password exported from a Latin-1 terminal reaches Python as text with an escaped byte
    that no request line can carry: the command ended in a UnicodeEncodeError traceback. It
    now says what is wrong, exit 1, and sends nothing."""
    daemon = start({"lockout_list": admin_op({"lockouts": []})})
    latin1 = {"SIMPLE_RISK_ADMIN_PASSWORD": "caf\udce9 password"}
    result = invoke(daemon, "admin", "lockout", "list", env=latin1)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "the admin password is not UTF-8 text" in result.stderr
    assert "lockout_list" not in daemon.ops()


def test_no_password_set_says_how_to_set_one(start: Start) -> None:
    def unset(request: dict[str, Any]) -> Any:
        raise ProtocolError("no_password_set", "no admin password has been set")

    daemon = start({"reload": unset})
    result = invoke(daemon, "admin", "reload", env=WITH_PASSWORD)
    assert result.exit_code == 1
    assert "simple-risk admin set-password" in result.stderr


def test_lockout_list_counts_the_time_left_on_the_daemons_clock(start: Start) -> None:
    """A rehearsal daemon on a pinned wall is weeks from the viewer's clock: measured against
    the viewer's, a lock ending in 38 minutes read weeks away (or long over)."""
    lock = dict(fixtures.status()["accounts"][0]["lockouts"][0], account=20100001)
    assert lock["ends_at"] == fixtures.at(2312.4)
    daemon = start({"lockout_list": admin_op({"lockouts": [lock], "now": fixtures.at(0)})})
    listed = invoke(daemon, "admin", "lockout", "list", env=WITH_PASSWORD)
    assert listed.exit_code == 0, listed.output
    assert "38m 32s" in listed.stdout, listed.stdout


def test_lockout_list_and_clear(start: Start) -> None:
    lock = dict(fixtures.status()["accounts"][0]["lockouts"][0], account=20100001)
    daemon = start(
        {
            "lockout_list": admin_op({"lockouts": [lock]}),
            "lockout_clear": admin_op({"cleared": [lock]}),
        }
    )
    listed = invoke(daemon, "admin", "lockout", "list", env=WITH_PASSWORD)
    assert listed.exit_code == 0, listed.output
    assert "20100001" in listed.stdout and "RTY is blocked" in listed.stdout
    as_json = invoke(daemon, "admin", "lockout", "list", "--json", env=WITH_PASSWORD)
    assert json.loads(as_json.stdout) == {"lockouts": [lock]}
    cleared = invoke(
        daemon,
        "admin",
        "lockout",
        "clear",
        "20100001",
        "--scope",
        "symbol",
        "--symbol",
        "RTY",
        "--reason",
        "desk approved",
        env=WITH_PASSWORD,
    )
    assert cleared.exit_code == 0, cleared.output
    assert "cleared blocked-symbols (symbol RTY)" in cleared.stdout
    assert daemon.last("lockout_clear")["args"] == {
        "account": 20100001,
        "scope": "symbol",
        "symbol": "RTY",
        "reason": "desk approved",
    }


def test_a_lockout_clear_that_matches_nothing_says_what_is_in_force(start: Start) -> None:
    """The admin typed the ticker as it is said, lowercase: `--symbol rty` matched no lock
    (the daemon's are RTY) and the answer was only "nothing cleared", exit 0 — the trader
    still locked, the admin left guessing why. A ticker is sent in capitals, and a clear
    that matches nothing lists the account's lockouts in force."""
    lock = dict(fixtures.status()["accounts"][0]["lockouts"][0], account=20100001)
    daemon = start(
        {
            "lockout_list": admin_op({"lockouts": [lock]}),
            "lockout_clear": admin_op({"cleared": []}),
        }
    )
    args = ["admin", "lockout", "clear", "20100001", "--scope", "symbol", "--symbol", "rty"]
    cleared = invoke(daemon, *args, "--reason", "desk approved", env=WITH_PASSWORD)
    assert daemon.last("lockout_clear")["args"]["symbol"] == "RTY"
    assert cleared.exit_code == 1, cleared.output
    assert cleared.stderr.splitlines() == [
        "no lockout of account 20100001 matched; nothing cleared. In force:",
        "  symbol RTY by blocked-symbols (lock): RTY is blocked",
    ]
    assert daemon.last("lockout_list")["args"] == {"account": 20100001}


def test_a_lockout_clear_of_an_account_without_lockouts_fails_and_says_so(start: Start) -> None:
    """`lockout clear` of the wrong account (a typo, the trader's other account) said "nothing
    cleared" and exited 0: a script, or an admin reading only the exit status, took the trader
    for unlocked while the lock stayed. Nothing cleared is exit 1, in words, and so is the
    JSON answer of a clear that matched nothing."""
    daemon = start(
        {
            "lockout_list": admin_op({"lockouts": []}),
            "lockout_clear": admin_op({"cleared": []}),
        }
    )
    args = ["admin", "lockout", "clear", "20100002", "--reason", "desk approved"]
    cleared = invoke(daemon, *args, env=WITH_PASSWORD)
    assert cleared.exit_code == 1, cleared.output
    assert cleared.stdout == ""
    assert cleared.stderr == "no lockout of account 20100002 is in force; nothing cleared\n"
    as_json = invoke(daemon, *args, "--json", env=WITH_PASSWORD)
    assert as_json.exit_code == 1, as_json.output
    assert json.loads(as_json.stdout) == {"cleared": []}


def test_lockout_clear_needs_a_reason(start: Start) -> None:
    daemon = start({})
    result = invoke(daemon, "admin", "lockout", "clear", "20100001", env=WITH_PASSWORD)
    assert result.exit_code == 2
    assert "--reason" in result.stderr
    blank = invoke(daemon, "admin", "lockout", "clear", "1", "--reason", " ", env=WITH_PASSWORD)
    assert blank.exit_code == 2


def test_logs_print_then_follow(start: Start) -> None:
    follow = [{"stream": "logs", "line": "10:15:03 WARNING enforcement retried"}]

    def logs(request: dict[str, Any]) -> Any:
        result = {"lines": ["10:15:01 INFO started", "10:15:02 ERROR boom"]}
        return Stream(result, follow) if request["args"].get("follow") else result

    daemon = start({"logs": admin_op(logs)})
    result = invoke(daemon, "admin", "logs", "-n", "2", "--level", "info", env=WITH_PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["10:15:01 INFO started", "10:15:02 ERROR boom"]
    assert daemon.last("logs")["args"] == {"lines": 2, "follow": False, "level": "info"}
    followed = invoke(daemon, "admin", "logs", "view", "--follow", env=WITH_PASSWORD)
    assert "enforcement retried" in followed.stdout


def test_logs_follow_exits_3_when_the_daemon_goes_away_as_monitor_does(start: Start) -> None:
    """`admin logs --follow` watched by a script (piped to an alerting tool) ended with exit 0
    when the daemon stopped or crashed — the same status as the admin's own Ctrl-C, so the
    script could not tell that nothing guards the accounts any more. `engine monitor` exits 3
    there; so does `logs --follow`, after saying so."""
    follow = [{"stream": "logs", "line": "10:15:03 WARNING enforcement retried"}]
    daemon = start({"logs": admin_op(lambda request: Stream({"lines": []}, follow))})
    followed = invoke(daemon, "admin", "logs", "--follow", "-n", "0", env=WITH_PASSWORD)
    assert followed.exit_code == 3, followed.output
    assert followed.stdout == "10:15:03 WARNING enforcement retried\n"
    assert "the daemon closed the connection" in followed.stderr


def test_logs_with_no_record_say_so_instead_of_printing_nothing(start: Start) -> None:
    """`admin logs --level error` printed nothing at all when nothing was wrong: an empty
    screen does not say whether the command worked. It says none was found, on stderr (the
    output stays the log's lines only)."""
    daemon = start({"logs": admin_op(lambda request: {"lines": []})})
    result = invoke(daemon, "admin", "logs", "--level", "error", env=WITH_PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "no log record at error or above in the daemon's recent log\n"
    result = invoke(daemon, "admin", "logs", "-n", "5", env=WITH_PASSWORD)
    assert result.stderr == "no log record in the daemon's recent log\n"
    result = invoke(daemon, "admin", "logs", "-n", "0", env=WITH_PASSWORD)
    assert result.stderr == ""  # none was asked for


def test_daemon_status_needs_no_password(start: Start) -> None:
    daemon = start({})
    result = invoke(daemon, "admin", "daemon", "status")
    assert result.exit_code == 0, result.output
    assert "running" in result.stdout and "4242" in result.stdout
    assert "auth" not in daemon.last("hello")


@pytest.mark.parametrize("command", ["stop", "restart"])
def test_stopping_the_daemon_needs_a_reason_as_clearing_a_lockout_does(
    start: Start, tmp_path: Path, command: str
) -> None:
    """`admin daemon stop` leaves every account unguarded, yet took no --reason while
    `lockout clear` and `enforce --off` need one: the audit and `engine history` read "stopping
    (no reason given)" for the one action that turns all enforcement off. A stop (and a
    restart, which stops first) needs a reason like them, and the daemon is sent it."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\naccounts: [20100001]\n",
        encoding="utf-8",
    )
    daemon = start({"stop": admin_op({"stopping": True})})
    given = ["--config", str(config)] if command == "restart" else []
    missing = invoke(daemon, "admin", "daemon", command, *given, env=WITH_PASSWORD)
    assert missing.exit_code == 2, missing.output
    assert "Missing option '--reason'" in missing.stderr
    blank = invoke(daemon, "admin", "daemon", command, *given, "--reason", "  ", env=WITH_PASSWORD)
    assert blank.exit_code == 2, blank.output
    assert "give a reason" in blank.stderr
    assert "stop" not in daemon.ops()
    invoke(
        daemon, "admin", "daemon", "stop", "--reason", "upgrade", "--wait", "1", env=WITH_PASSWORD
    )
    assert daemon.last("stop")["args"] == {"reason": "upgrade"}


def test_a_daemon_systemd_runs_is_restarted_by_systemd_not_from_the_admins_login(
    start: Start, tmp_path: Path
) -> None:
    """Under the shipped unit (Restart=always), `admin daemon restart` stopped the daemon and
    started a second one from the admin's login, outside the unit: its user, its sandbox, its
    restarts. It refuses, says how, and stops nothing; `status` says who runs the daemon."""
    daemon = start(
        {
            "hello": lambda request: {**hello(request), "service": "systemd"},
            "stop": admin_op({"stopping": True}),
        }
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\naccounts: [20100001]\n"
        f"status_socket: {daemon.path}\n",
        encoding="utf-8",
    )
    restart = invoke(
        daemon,
        "admin",
        "daemon",
        "restart",
        "--config",
        str(config),
        "--reason",
        "new version",
        env=WITH_PASSWORD,
    )
    assert restart.exit_code == 1, restart.output
    assert "runs under systemd: restart it there, `sudo systemctl restart" in restart.stderr
    assert "stop" not in daemon.ops()
    status = invoke(daemon, "admin", "daemon", "status")
    assert "run by" in status.stdout and "systemd" in status.stdout


@pytest.mark.parametrize(
    ("ruleset", "problem"),
    [
        ("ruleset: /no/such/ruleset.yaml\n", "ruleset: no such file: /no/such/ruleset.yaml"),
        ("ruleset: broken.yaml\n", "missing required key"),
    ],
)
def test_a_restart_whose_daemon_could_not_start_never_stops_the_running_one(
    start: Start, tmp_path: Path, ruleset: str, problem: str
) -> None:
    """`admin daemon restart --config FILE` stopped the guarding daemon first and only then
    found that FILE names a ruleset that is missing or broken: nothing guarded the account.
    The new configuration and its rulesets are loaded first; a problem stops nothing."""
    (tmp_path / "broken.yaml").write_text("ruleset: half\n", encoding="utf-8")
    daemon = start({"stop": lambda r: {"stopping": True}})
    config = tmp_path / "config.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\naccounts: [20100001]\n"
        f"status_socket: {daemon.path}\n" + ruleset,
        encoding="utf-8",
    )
    result = invoke(
        daemon,
        "admin",
        "daemon",
        "restart",
        "--config",
        str(config),
        "--reason",
        "new ruleset",
        "--wait",
        "1",
        env=WITH_PASSWORD,
    )
    assert result.exit_code == 1
    assert problem in result.stderr
    assert "not restarted: the running daemon (pid 4242) keeps guarding" in result.stderr
    assert "stop" not in daemon.ops()


def test_a_restart_whose_configuration_does_not_load_never_names_a_daemon_it_did_not_find(
    socket_dir: Path,
) -> None:
    """A restart whose configuration does not load cannot read its socket either: it asked the
    default one, found nothing there, and said "the running daemon (pid None) keeps guarding"
    — a daemon it never saw, with no pid. It says what it knows: nothing was stopped."""
    config = socket_dir / "b.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\naccounts: [20100001]\n"
        "overlays: {20100009: o.yaml}\n",
        encoding="utf-8",
    )
    args = ("admin", "daemon", "restart", "--config", str(config), "--reason", "x")
    result = invoke(socket_dir / "none.sock", *args, env=WITH_PASSWORD)
    assert result.exit_code == 1, result.output
    assert "pid None" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"not restarted: nothing was stopped ({config} does not load)"
    )


def test_a_restart_stops_the_daemon_its_configuration_names(socket_dir: Path) -> None:
    """`admin daemon restart --config B.yaml` sent its stop to the default socket, not to
    the one B.yaml names: with B's daemon there it answered "no daemon is running … start it
    with …", and with another daemon on the default socket (a second trader's) it stopped
    that one — then found B's already running, and left the other account unguarded."""
    (socket_dir / "runtime" / "simple-risk").mkdir(parents=True)
    stopped = {"stop": admin_op({"stopping": True})}
    other = FakeDaemon(
        socket_dir / "runtime" / "simple-risk" / "status.sock", {"hello": hello, **stopped}
    )
    named = FakeDaemon(socket_dir / "b.sock", {"hello": hello, **stopped})
    config = _config_naming(socket_dir / "b.yaml", named.path)
    try:
        result = invoke(
            named.path,
            *(
                "admin",
                "daemon",
                "restart",
                "--config",
                str(config),
                "--reason",
                "x",
                "--wait",
                "1",
            ),
            env={
                **WITH_PASSWORD,
                "SIMPLE_RISK_SOCKET": "",
                "XDG_RUNTIME_DIR": str(socket_dir / "runtime"),
            },
        )
    finally:
        other.close()
        named.close()
    assert "stop" not in other.ops(), result.output
    assert "stop" in named.ops(), result.output


ADMIN_ON_A_DAEMON = {
    "lockout list": (["lockout", "list"], "lockout_list", {"lockouts": []}),
    "lockout clear": (
        ["lockout", "clear", "20100001", "--reason", "desk"],
        "lockout_clear",
        {"cleared": [{"rule": "r", "scope": "account"}]},
    ),
    "enforce": (["enforce", "20100001", "--on", "--reason", "go"], "enforce", {"mode": "enforce"}),
    "reload": (["reload"], "reload", {"applied": True, "changes": {}}),
    "config reload": (["config", "reload"], "reload", {"applied": True, "changes": {}}),
    "config show": (["config", "show"], "config_get", {"path": "/x.yaml", "text": "rules: []\n"}),
    "logs": (["logs", "-n", "1"], "logs", {"lines": ["10:15:01 INFO started"]}),
    "logs view": (["logs", "view", "-n", "1"], "logs", {"lines": ["10:15:01 INFO started"]}),
    "daemon status": (["daemon", "status"], "hello", None),
    "daemon stop": (["daemon", "stop", "--reason", "eod", "--wait", "1"], "stop", {}),
}


@pytest.mark.parametrize("command", list(ADMIN_ON_A_DAEMON))
def test_every_admin_command_on_a_daemon_asks_the_one_its_config_names(
    socket_dir: Path, command: str
) -> None:
    """With two daemons on one machine (one per trader or per account group), `admin restart`,
    `set-password` and `engine history` took `--config B.yaml` and asked B's daemon, while
    `lockout clear`, `enforce`, `daemon stop` … refused the option ("No such option") or, given
    only $SIMPLE_RISK_SOCKET, asked the other daemon — a stop or a clear on the wrong trader.
    Every admin command that reaches a daemon takes --config and asks the daemon it names."""
    words, op, answer = ADMIN_ON_A_DAEMON[command]
    handlers: dict[str, Handler] = {} if answer is None else {op: admin_op(answer)}
    named = FakeDaemon(socket_dir / "b.sock", {"hello": hello, **handlers})
    other = FakeDaemon(socket_dir / "other.sock", {"hello": hello, **handlers})
    config = _config_naming(socket_dir / "b.yaml", named.path)
    try:
        result = invoke(other.path, "admin", *words, "--config", str(config), env=WITH_PASSWORD)
    finally:
        other.close()
        named.close()
    assert result.exit_code in (0, 1), result.output  # a fake daemon never stops
    assert op in named.ops(), result.output
    assert other.ops() == [], result.output


def test_logs_config_before_view_asks_the_daemon_it_names(socket_dir: Path) -> None:
    """`admin logs --config B.yaml view`: the group's --config counts for its view."""
    handlers: dict[str, Handler] = {"logs": admin_op({"lines": ["10:15:01 INFO started"]})}
    named = FakeDaemon(socket_dir / "b.sock", {"hello": hello, **handlers})
    other = FakeDaemon(socket_dir / "other.sock", {"hello": hello, **handlers})
    config = socket_dir / "b.yaml"
    config.write_text(
        f"gateway: topstepx\naccounts: [20100001]\nstatus_socket: {named.path}\n",
        encoding="utf-8",
    )
    try:
        args = ("admin", "logs", "--config", str(config), "view", "-n", "1")
        result = invoke(other.path, *args, env=WITH_PASSWORD)
    finally:
        other.close()
        named.close()
    assert result.exit_code == 0, result.output
    assert "logs" in named.ops() and other.ops() == []


@pytest.mark.parametrize("command", [*ADMIN_ON_A_DAEMON, "set-password", "daemon restart"])
def test_every_admin_help_on_a_daemon_says_what_config_does(command: str) -> None:
    words = ADMIN_ON_A_DAEMON[command][0][:2] if command in ADMIN_ON_A_DAEMON else []
    words = [w for w in (words or command.split()) if not w[0].isdigit() and w[0] != "-"]
    result = CliRunner().invoke(cli, ["admin", *words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--config FILE" in result.stdout
    assert "the daemon it names (its status_socket)" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("words", "op", "code"),
    [
        (["engine", "status"], "status", 0),
        (["engine", "history"], "history", 0),
        (["engine", "monitor", "--account", "20100009"], "hello", 1),  # not guarded: ends
    ],
)
def test_engine_status_and_history_take_config_as_the_admin_commands_do(
    socket_dir: Path, words: list[str], op: str, code: int
) -> None:
    """`engine history --config B.yaml` asked B's daemon, while `engine status` and `engine
    monitor --config B.yaml` were "No such option": the admin checking B's accounts after
    `admin lockout clear … --config B.yaml` had to look up B's socket. They ask the daemon the
    configuration names too, through the same rule."""
    handlers: dict[str, Handler] = {
        "status": lambda r: fixtures.status(),
        "history": lambda r: {"items": []},
    }
    named = FakeDaemon(socket_dir / "b.sock", {"hello": hello, **handlers})
    other = FakeDaemon(socket_dir / "other.sock", {"hello": hello, **handlers})
    config = socket_dir / "b.yaml"
    config.write_text(
        f"gateway: topstepx\naccounts: [20100001]\nstatus_socket: {named.path}\n",
        encoding="utf-8",
    )
    try:
        result = invoke(other.path, *words, "--config", str(config))
    finally:
        other.close()
        named.close()
    assert result.exit_code == code, result.output
    assert op in named.ops() and other.ops() == []


def test_no_daemon_for_a_configuration_says_how_to_start_that_one(socket_dir: Path) -> None:
    """`admin lockout list --config b.yaml` with B's daemon down answered "start it with:
    simple-risk engine run --config FILE": the admin had just typed the file. The hint names
    it, so the line can be copied."""
    config = socket_dir / "b.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\naccounts: [20100001]\n"
        f"status_socket: {socket_dir / 'b.sock'}\n",
        encoding="utf-8",
    )
    for words in (["lockout", "list"], ["daemon", "status"], ["daemon", "stop", "--reason", "x"]):
        result = invoke(socket_dir / "none.sock", "admin", *words, "--config", str(config))
        assert result.exit_code == 3, result.output
        assert f"no daemon is running (no socket at {socket_dir / 'b.sock'})" in result.stderr
        assert f"start it with: simple-risk admin daemon start --config {config}" in (result.stderr)


def test_socket_on_admin_wins_over_the_configurations_socket(socket_dir: Path) -> None:
    named = FakeDaemon(socket_dir / "b.sock", {"hello": hello})
    chosen = FakeDaemon(socket_dir / "c.sock", {"hello": hello})
    config = _config_naming(socket_dir / "b.yaml", named.path)
    try:
        args = ("admin", "--socket", str(chosen.path), "daemon", "status", "--config", str(config))
        result = invoke(named.path, *args)
    finally:
        named.close()
        chosen.close()
    assert result.exit_code == 0, result.output
    assert "hello" in chosen.ops() and named.ops() == []


def test_a_broken_configuration_given_to_an_admin_command_is_located_and_exit_1(
    socket_dir: Path,
) -> None:
    config = socket_dir / "b.yaml"
    config.write_text(
        "gateway: topstepx\naccounts: [20100001]\nstatus_socket: 12\n", encoding="utf-8"
    )
    result = invoke(socket_dir / "none.sock", "admin", "lockout", "list", "--config", str(config))
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f'{config}:3:16: "status_socket" must be a string, got a whole number (12)\n'
    )


def test_start_refuses_to_call_another_daemon_on_the_socket_already_running(
    start: Start, tmp_path: Path
) -> None:
    """B.yaml copied from A.yaml with its accounts changed but not its status_socket: `admin
    daemon start --config B.yaml` found A's daemon answering there and said "already running",
    exit 0 — B's accounts guarded by nothing, and the admin told otherwise. A daemon there
    that does not guard the configuration's accounts is said so, exit 1."""
    daemon = start({})
    config = tmp_path / "b.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\n"
        f"accounts: [20100001, 20100003]\nstatus_socket: {daemon.path}\n",
        encoding="utf-8",
    )
    result = invoke(daemon, "admin", "daemon", "start", "--config", str(config), "--wait", "1")
    assert result.exit_code == 1, result.output
    assert "already running" not in result.stdout
    assert result.stderr.startswith(
        f"a daemon (pid 4242) already answers on {daemon.path}: it guards 20100001, not 20100003"
        f" of {config}. Another configuration's daemon? give {config} a status_socket (and a"
        " data_dir) of its own. This one's, started before the accounts changed? restart it:"
    )


def test_restart_refuses_to_stop_a_daemon_that_guards_none_of_its_accounts(
    start: Start, tmp_path: Path
) -> None:
    """The same copied B.yaml, restarted: A's daemon was stopped (A's accounts unguarded) and
    B's started in its place. A daemon that guards none of the configuration's accounts is
    another one: nothing is stopped, exit 1."""
    daemon = start({"stop": admin_op({"stopping": True})})
    config = tmp_path / "b.yaml"
    config.write_text(
        "gateway: topstepx\ncredentials: {username: u, api_key: k}\n"
        f"accounts: [20100003]\nstatus_socket: {daemon.path}\n",
        encoding="utf-8",
    )
    args = ("admin", "daemon", "restart", "--config", str(config), "--reason", "b", "--wait", "1")
    result = invoke(daemon, *args, env=WITH_PASSWORD)
    assert result.exit_code == 1, result.output
    assert "stop" not in daemon.ops()
    assert (
        f"not restarted: the daemon (pid 4242) on {daemon.path} guards 20100001, none of"
        f" 20100003 of {config}: it is another configuration's" in result.stderr
    )


def test_config_edit_lints_then_puts_the_edited_text(start: Start, tmp_path: Path) -> None:
    text = default_ruleset_path().read_text(encoding="utf-8")
    daemon = start(
        {
            "config_get": admin_op({"path": "/etc/simple-risk/topstep.yaml", "text": text}),
            "auth_check": admin_op({}),
            "config_put": admin_op(
                {"applied": True, "changes": {"20100001": {"changed": ["x"], "params": {}}}}
            ),
        }
    )
    editor = tmp_path / "editor.sh"
    editor.write_text(
        '#!/bin/sh\nsed -i "s/^  daily_loss_limit: 500/  daily_loss_limit: 400/" "$1"\n'
    )
    editor.chmod(0o755)
    assert "\n  daily_loss_limit: 500 " in text
    result = invoke(
        daemon,
        "admin",
        "config",
        "edit",
        "--reason",
        "tighter",
        env={**WITH_PASSWORD, "EDITOR": str(editor), "VISUAL": ""},
    )
    assert result.exit_code == 0, result.output
    put = daemon.last("config_put")
    assert "\n  daily_loss_limit: 400 " in put["args"]["text"]
    assert put["args"]["reason"] == "tighter"
    assert "changed x" in result.stdout


def test_config_edit_without_changes_reloads_nothing(start: Start, tmp_path: Path) -> None:
    daemon = start({"config_get": admin_op({"path": "/x/rules.yaml", "text": "rules: []\n"})})
    result = invoke(
        daemon, "admin", "config", "edit", env={**WITH_PASSWORD, "EDITOR": "true", "VISUAL": ""}
    )
    assert result.exit_code == 0, result.output
    assert "no changes" in result.stdout
    assert "config_put" not in daemon.ops()


def test_config_edit_refuses_a_broken_ruleset_before_sending_it(
    start: Start, tmp_path: Path
) -> None:
    text = default_ruleset_path().read_text(encoding="utf-8")
    daemon = start(
        {
            "config_get": admin_op({"path": "/etc/simple-risk/topstep.yaml", "text": text}),
            "config_put": admin_op({"applied": True}),
        }
    )
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/day.realized_pnl <=/day.realised_pnl <=/" "$1"\n')
    editor.chmod(0o755)
    result = invoke(
        daemon,
        "admin",
        "config",
        "edit",
        env={**WITH_PASSWORD, "EDITOR": str(editor), "VISUAL": ""},
    )
    assert result.exit_code == 1
    assert "/etc/simple-risk/topstep.yaml:" in result.stderr and "day.realised_pnl" in result.stderr
    assert "config_put" not in daemon.ops()


def test_config_edit_refuses_an_editor_that_saved_no_text(start: Start, tmp_path: Path) -> None:
    """An editor that wrote bytes that are not UTF-8 (a wrong encoding setting) is told, not a
    UnicodeDecodeError traceback; nothing is sent and the running ruleset stays."""
    daemon = start({"config_get": admin_op({"path": "/x/rules.yaml", "text": "rules: []\n"})})
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nprintf 'rules: [\\351t\\351]\\n' > \"$1\"\n")
    editor.chmod(0o755)
    result = invoke(
        daemon,
        "admin",
        "config",
        "edit",
        env={**WITH_PASSWORD, "EDITOR": str(editor), "VISUAL": ""},
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "/x/rules.yaml: the edited text is not UTF-8 text" in result.stderr
    assert "not saved" in result.stderr
    assert "config_put" not in daemon.ops()


# --- set-password ------------------------------------------------------------------------


def test_set_password_through_the_daemon_sends_old_and_new(start: Start) -> None:
    daemon = start({"set_password": admin_op({})})
    result = invoke(
        daemon,
        "admin",
        "set-password",
        env={**WITH_PASSWORD, "SIMPLE_RISK_NEW_ADMIN_PASSWORD": "new horse"},
    )
    assert result.exit_code == 0, result.output
    request = daemon.last("set_password")
    assert request["auth"] == {"password": PASSWORD}
    assert request["args"] == {"new_password": "new horse"}
    assert "new horse" not in result.output and PASSWORD not in result.output


def test_the_new_password_is_asked_twice(start: Start) -> None:
    daemon = start({"set_password": admin_op({})})
    result = invoke(daemon, "admin", "set-password", input=f"{PASSWORD}\nnew horse\nnew horse\n")
    assert result.exit_code == 0, result.output
    assert daemon.last("set_password")["args"] == {"new_password": "new horse"}
    assert "new horse" not in result.output


def _config(directory: Path) -> Path:
    config = directory / "config.yaml"
    config.write_text(
        "gateway: http://127.0.0.1:9\n"
        "credentials: {username: demo, api_key: not-a-real-key}\n"
        "accounts: [20100001]\n"
        "data_dir: data\nlog_dir: log\nstatus_socket: status.sock\n",
        encoding="utf-8",
    )
    return config


def test_the_first_password_is_written_locally_as_a_bcrypt_hash(socket_dir: Path) -> None:
    config = _config(socket_dir)
    result = invoke(
        socket_dir / "status.sock",
        "admin",
        "set-password",
        "--config",
        str(config),
        env={"SIMPLE_RISK_NEW_ADMIN_PASSWORD": "first horse"},
    )
    assert result.exit_code == 0, result.output
    hashed = read_password_hash(socket_dir / "admin-password.bcrypt")
    assert hashed is not None and verify_password("first horse", hashed)
    assert (socket_dir / "admin-password.bcrypt").stat().st_mode & 0o077 == 0
    # changing it without a daemon needs the current password
    wrong = invoke(
        socket_dir / "status.sock",
        "admin",
        "set-password",
        "--config",
        str(config),
        env={"SIMPLE_RISK_ADMIN_PASSWORD": "guess", "SIMPLE_RISK_NEW_ADMIN_PASSWORD": "x y z"},
    )
    assert wrong.exit_code == 1 and "wrong password" in wrong.stderr
    assert read_password_hash(socket_dir / "admin-password.bcrypt") == hashed


def test_the_first_password_written_locally_is_held_to_the_daemons_minimum(
    socket_dir: Path,
) -> None:
    """The daemon refuses a new password under 8 characters; the install step wrote one."""
    config = _config(socket_dir)
    result = invoke(
        socket_dir / "status.sock",
        "admin",
        "set-password",
        "--config",
        str(config),
        env={"SIMPLE_RISK_NEW_ADMIN_PASSWORD": "abc"},
    )
    assert result.exit_code == 1, result.output
    assert "at least 8 characters" in result.stderr
    assert not (socket_dir / "admin-password.bcrypt").exists()


def test_set_password_without_daemon_or_config_is_a_usage_error(socket_dir: Path) -> None:
    result = invoke(socket_dir / "status.sock", "admin", "set-password")
    assert result.exit_code == 2
    assert "--config" in result.stderr


def test_set_password_without_write_access_fails_plainly(socket_dir: Path) -> None:
    config = _config(socket_dir)
    config.write_text(
        config.read_text() + "admin_password_file: missing-dir/admin.bcrypt\n", encoding="utf-8"
    )
    result = invoke(
        socket_dir / "status.sock",
        "admin",
        "set-password",
        "--config",
        str(config),
        env={"SIMPLE_RISK_NEW_ADMIN_PASSWORD": "first horse"},
    )
    assert result.exit_code == 1, result.output
    assert "cannot write" in result.stderr and "Traceback" not in result.output


def test_hash_helper_round_trips() -> None:
    assert verify_password("a b c", hash_password("a b c", rounds=4))


# --- pipes ---------------------------------------------------------------------------------


def test_piped_tables_are_tsv_with_every_cell_in_full(start: Start) -> None:
    lock = dict(fixtures.status()["accounts"][0]["lockouts"][0], account=20100001)
    daemon = start({"lockout_list": admin_op({"lockouts": [lock]})})
    listed = invoke(daemon, "admin", "lockout", "list", env={**WITH_PASSWORD, "COLUMNS": "40"})
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert "\t" in header and len(rows) == 1
    cells = rows[0].split("\t")
    assert len(cells) == len(header.split("\t"))
    assert "20100001" in cells  # never "201000…", whatever the terminal width
    assert not any("…" in cell for cell in cells)


def test_piped_history_puts_one_item_on_one_line(start: Start) -> None:
    daemon = start({"history": lambda r: fixtures.history()})
    result = invoke(daemon, "engine", "history", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split("\t")[:2] == ["At", "Kind"]
    assert len(rows) == len(fixtures.history()["items"])
