"""What a user gets for the mistakes real users make on the command line: a file that is not
there, a folder or a plain file where the daemon's socket belongs, an address written as in the
configuration. Each is a plain message and a usage exit (2), never a traceback, and never a
misleading "no daemon is running" or ``FILE:0:0``."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the groups)
from simple_risk.cli.numbers import FiniteFloatRange
from simple_risk.resources import default_ruleset_path


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="sr-", dir="/tmp"))  # short: AF_UNIX paths
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(
    "command",
    [
        ("engine", "run", "--config"),
        ("engine", "history", "--config"),
        ("admin", "set-password", "--config"),
        ("replay", "recording.jsonl", "--ruleset"),
        ("replay", "recording.jsonl", "--ruleset", str(default_ruleset_path()), "--overlay"),
    ],
    ids=" ".join,
)
def test_a_file_option_naming_nothing_is_a_usage_error_that_says_so(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "conifg.yaml"  # a typo of config.yaml
    result = _run(*command, str(missing))
    assert result.exit_code == 2
    assert f"'{missing}' does not exist" in result.output
    assert ":0:0:" not in result.output


@pytest.mark.parametrize(("make", "kind"), [("mkdir", "directory"), ("touch", "file")])
def test_a_socket_option_naming_a_folder_or_a_file_says_it_is_no_socket(
    tmp_path: Path, make: str, kind: str
) -> None:
    path = tmp_path / "status.sock"
    getattr(path, make)()
    for command in (("engine", "status"), ("admin", "lockout", "list")):
        where = ["--socket", str(path)]
        args = [*command, *where] if command[0] == "engine" else ["admin", *where, *command[1:]]
        result = _run(*args)
        assert result.exit_code == 2, result.output
        assert f"{path} is a {kind}, not a socket" in result.output
        assert "no daemon is running" not in result.output


def test_a_bracketed_ipv6_address_is_read_as_in_the_configuration() -> None:
    # port 1 on the loopback: nothing listens; the host must not be looked up as "[::1]"
    result = _run("engine", "status", "--socket", "tcp:[::1]:1")
    assert result.exit_code == 3, result.output
    assert "no daemon at tcp:::1:1" in result.output
    assert "Name or service not known" not in result.output


def test_a_rule_test_whose_ruleset_is_a_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    test_file = tmp_path / "limits.test.yaml"
    test_file.write_text("ruleset: rules\ntests: []\n", encoding="utf-8")
    result = _run("rules", "test", str(test_file))
    assert result.exit_code == 1
    assert f"{test_file}:1:10: ruleset rules is a directory, not a file" in result.output
    assert "not found" not in result.output


def test_standard_input_that_is_not_text_is_located_like_a_file() -> None:
    result = CliRunner().invoke(cli, ["rules", "lint", "-"], input=b"ruleset: \xe9t\xe9\n")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "<stdin>:1:10: error: the file is not UTF-8 text (encoding)",
        "1 error, 0 warnings in 1 file",
    ]


def test_a_schema_output_onto_a_ruleset_is_refused_and_the_ruleset_kept(tmp_path: Path) -> None:
    """`rules schema -o topstep.yaml` (a slip for `> schema.json`) overwrote the trader's
    ruleset with the schema; a file that is not a schema now needs --force."""
    ruleset = tmp_path / "topstep.yaml"
    ruleset.write_text("ruleset: mine\nrules: []\n", encoding="utf-8")
    result = _run("rules", "schema", "-o", str(ruleset))
    assert result.exit_code == 2
    assert "is not a ruleset schema" in result.output and "--force" in result.output
    assert ruleset.read_text(encoding="utf-8") == "ruleset: mine\nrules: []\n"
    schema = tmp_path / "ruleset.schema.json"
    assert _run("rules", "schema", "-o", str(schema)).exit_code == 0
    assert _run("rules", "schema", "-o", str(schema)).exit_code == 0  # a schema is replaced
    assert _run("rules", "schema", "-o", str(ruleset), "--force").exit_code == 0
    assert ruleset.read_text(encoding="utf-8") == schema.read_text(encoding="utf-8")


def test_a_schema_output_in_a_missing_folder_is_a_plain_error(tmp_path: Path) -> None:
    target = tmp_path / "editor" / "ruleset.schema.json"
    result = _run("rules", "schema", "-o", str(target))
    assert result.exit_code == 1
    assert f"Could not open file '{target}': No such file or directory" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("demo", "--grace", "nan"),
        ("engine", "status", "--watch", "--interval", "nan"),
        ("replay", "x.jsonl", "--ruleset", str(default_ruleset_path()), "--tick", "inf"),
    ],
    ids=" ".join,
)
def test_a_number_that_is_no_number_is_a_usage_error(args: tuple[str, ...]) -> None:
    """nan passes every range check (each comparison with it is false); it must not reach a
    timer or a timedelta, which fail with a traceback or never fire."""
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert "is not a finite number" in result.output


def test_a_negative_grace_is_a_usage_error() -> None:
    result = _run("demo", "--grace", "-5")
    assert result.exit_code == 2
    assert "-5.0 is not in the range x>=0" in result.output


def _every_command(group: click.Group, ctx: click.Context) -> Iterator[click.Command]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _every_command(command, ctx)
        elif command is not None:
            yield command


def test_every_number_option_of_every_command_refuses_nan_and_inf() -> None:
    """So a command that starts something (sim, demo) never starts it with a nan timer."""
    floats = [
        f"{command.name} {param.name}"
        for command in _every_command(cli, click.Context(cli))
        for param in command.params
        if isinstance(param.type, click.types.FloatParamType)
        and not isinstance(param.type, FiniteFloatRange)
    ]
    assert floats == []


def _config(tmp_path: Path, **dirs: str) -> Path:
    path = tmp_path / "config.yaml"
    settings = "".join(f"{key}: {value}\n" for key, value in dirs.items())
    path.write_text(
        "gateway: http://127.0.0.1:9\ncredentials: {username: u, api_key: k}\naccounts: [1]\n"
        f"status_socket: {tmp_path / 's.sock'}\n{settings}",
        encoding="utf-8",
    )
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be the wrong user")
@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_engine_run_as_root_over_the_daemon_users_data_directory_is_refused(
    tmp_path: Path, check: bool
) -> None:
    """`sudo simple-risk engine run --config /etc/simple-risk/config.yaml` (the `-u
    simple-risk` forgotten, or the service stopped to try something) created the database,
    the own-order secret, the lock and the log as root, 0600: the service, running as
    simple-risk, then could not open them and did not start — nothing guarded the account.
    Root is told whose the folder is and the command to type; nothing is created there."""
    data = tmp_path / "data"
    data.mkdir()
    nobody = 65534
    os.chown(data, nobody, nobody)
    config = _config(tmp_path, data_dir=str(data), log_dir=str(tmp_path / "log"))
    args = ["engine", "run", "--config", str(config), *(["--check"] if check else [])]
    result = _run(*args)
    assert result.exit_code == 1, result.output
    owner = pwd.getpwuid(nobody).pw_name
    assert (
        f"simple-risk: you are root, and the data directory {data} belongs to {owner}: what"
        f" root creates there the daemon's user cannot open; run it as that user: sudo -u"
        f" {owner} simple-risk engine run --config {config}"
    ) in result.output
    assert list(data.iterdir()) == []


def test_a_log_dir_that_is_a_file_is_said_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "logs").touch()
    result = _run("engine", "run", "--config", str(_config(tmp_path, log_dir="logs")))
    assert result.exit_code == 1
    assert (
        f"simple-risk: cannot write the log (log_dir): {tmp_path / 'logs'} is a file, where a"
        " directory is needed"
    ) in result.output


def test_a_data_dir_that_is_a_file_is_said_in_words(tmp_path: Path) -> None:
    (tmp_path / "data").touch()
    config = _config(tmp_path, data_dir="data", log_dir="log")
    done = subprocess.run(
        [sys.executable, "-m", "simple_risk", "engine", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        f"simple-risk: cannot run: {tmp_path / 'data'} is a file, where a directory is needed"
        in done.stderr
    )


def test_daemon_start_does_not_say_started_for_a_daemon_that_cannot_log_in() -> None:
    """The socket answers while the daemon still logs in; a gateway that refuses every
    attempt ends it, and that is what `admin daemon start` must report (was "started")."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(tempfile.mkdtemp(prefix="sr-start-", dir="/tmp"))  # short: AF_UNIX paths
    try:
        config = root / "config.yaml"
        config.write_text(
            f"gateway: http://127.0.0.1:{port}\ncredentials: {{username: u, api_key: k}}\n"
            "accounts: [1]\ndata_dir: data\nlog_dir: log\nstatus_socket: s.sock\n",
            encoding="utf-8",
        )
        result = _run("admin", "daemon", "start", "--config", str(config), "--wait", "60")
        assert result.exit_code == 1, result.output
        assert "started" not in result.output
        assert "the daemon exited with code 1" in result.output
        assert "cannot run: Auth/loginKey" in result.output
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_link_to_nothing_in_a_linted_folder_is_reported_not_skipped(tmp_path: Path) -> None:
    """A ruleset moved away from under its link must not make lint say "no problems"."""
    shutil.copy(default_ruleset_path(), tmp_path / "topstep.yaml")
    (tmp_path / "overlay.yaml").symlink_to(tmp_path / "moved" / "overlay.yaml")
    result = _run("rules", "lint", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path / 'overlay.yaml'}:0:0: error: cannot read file" in result.output
    assert "1 error, 0 warnings in 2 files" in result.output


def test_engine_run_sim_with_a_config_says_the_config_would_be_ignored(tmp_path: Path) -> None:
    """--sim guards the simulator with the shipped ruleset: a --config beside it was silently
    dropped, and --check then said SUCCESS about rules that were not the user's."""
    config = tmp_path / "config.yaml"
    config.write_text("gateway: http://127.0.0.1:8700\n", encoding="utf-8")
    result = _run("engine", "run", "--sim", "--config", str(config), "--check")
    assert result.exit_code == 2, result.output
    assert "--sim or --config, not both" in result.output
    assert "SUCCESS" not in result.output


def test_check_with_record_checks_the_recording_folder_too(tmp_path: Path) -> None:
    """--check said SUCCESS for a --record folder the real run then could not create."""
    (tmp_path / "recordings").touch()
    config = _config(tmp_path, data_dir="data", log_dir="log")
    record = tmp_path / "recordings" / "today"
    result = _run("engine", "run", "--config", str(config), "--check", "--record", str(record))
    assert result.exit_code == 1, result.output
    assert f"--record: {record} is not writable" in result.output
    assert "SUCCESS" not in result.output


def test_a_quoted_tilde_record_folder_is_in_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--record "~/recordings"` (quoted) meant the home's recordings folder; the check, and
    the run, used a folder named "~" in the current directory."""
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = _config(tmp_path, data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "log"))
    args = ("engine", "run", "--config", str(config), "--check", "--record", "~/recordings")
    result = CliRunner().invoke(cli, list(args), env={"HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert f"--record: {home / 'recordings'} does not exist yet: it is created" in result.output
    assert not (elsewhere / "~").exists()
    assert not (home / "recordings").exists()  # by the run, not by its check


@pytest.mark.parametrize(
    "args",
    [
        ("engine", "history", "--data-dir", "{data}", "--account", "{id}"),
        ("engine", "status", "--account", "{id}"),
        ("engine", "monitor", "--account", "{id}"),
        ("admin", "lockout", "list", "--account", "{id}"),
        ("admin", "lockout", "clear", "{id}", "--reason", "x"),
        ("admin", "enforce", "{id}", "--on", "--reason", "x"),
        ("replay", "x.jsonl", "--ruleset", str(default_ruleset_path()), "--account", "{id}"),
        ("init", "{data}/risk", "--account", "{id}"),
    ],
    ids=lambda args: " ".join(a for a in args[:3] if not a.startswith("{")),
)
@pytest.mark.parametrize("account", ["99999999999999999999999", "0"])
def test_an_account_id_no_projectx_account_can_have_is_a_usage_error(
    tmp_path: Path, args: tuple[str, ...], account: str
) -> None:
    """ProjectX account ids are positive 32-bit numbers; a longer one reached SQLite as an
    OverflowError traceback (engine history --data-dir … --account)."""
    (tmp_path / "simple-risk.db").touch()
    result = _run(*(a.format(data=tmp_path, id=account) for a in args))
    assert result.exit_code == 2, result.output
    assert "is not a ProjectX account id" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("admin", "lockout", "clear", "{name}", "--reason", "x"),
        ("admin", "enforce", "{name}", "--on", "--reason", "x"),
        ("engine", "status", "--account", "{name}"),
    ],
    ids=lambda args: " ".join(a for a in args[:3] if not a.startswith("{")),
)
def test_an_account_name_where_its_id_goes_says_to_give_the_id(args: tuple[str, ...]) -> None:
    """The platform shows an account by its name (50KTC-V2-…); typed where the id goes it
    got "'50KTC-V2-SIM-20100001' is not a valid integer", which says nothing of names and
    ids nor where to find the id."""
    name = "50KTC-V2-SIM-20100001"
    result = _run(*(a.format(name=name) for a in args))
    assert result.exit_code == 2, result.output
    assert (
        f"'{name}' is not an account id: give the account's number (engine status, or engine"
        " run --check --online, lists each account's id with its name)"
    ) in result.output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("args", [("rules", "schema"), ("rules", "facts"), ("--help",)], ids=str)
def test_output_to_a_full_disk_is_one_line_not_a_traceback(args: tuple[str, ...]) -> None:
    """`simple-risk rules schema > schema.json` on a full disk printed a 30-line traceback
    ending in OSError; it says what failed in one line and exits 1."""
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [sys.executable, "-m", "simple_risk", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == "simple-risk: cannot write the output: No space left on device"


def _every_path(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _every_path(command, (*path, name))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (
            ("admin", "lockout", "list", "--socket", "/run/x.sock"),
            "simple-risk admin --socket /run/x.sock lockout list\n",
        ),
        (
            ("admin", "daemon", "stop", "--reason", "eod", "--socket=/run/x.sock"),
            "simple-risk admin --socket=/run/x.sock daemon stop --reason eod\n",
        ),
        (
            ("admin", "reload", "--operator", "desk"),
            "simple-risk admin --operator desk reload",
        ),
    ],
    ids=["lockout list", "daemon stop", "reload"],
)
def test_an_admin_option_after_the_sub_command_says_where_it_goes(
    typed: tuple[str, ...], meant: str
) -> None:
    """`engine status --socket PATH` takes the socket after the command; `admin lockout list
    --socket PATH` answered only "No such option '--socket'" — the option exists, before the
    sub-command. The error says so, with the command line that works — the sub-command's own
    options kept (a `daemon stop` copied without its --reason is refused again)."""
    result = _run(*typed)
    assert result.exit_code == 2
    assert f"goes before the sub-command: {meant}" in result.output


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (
            ("admin", "--config", "/etc/simple-risk/b.yaml", "lockout", "list"),
            "simple-risk admin lockout list --config /etc/simple-risk/b.yaml",
        ),
        (
            ("admin", "--operator", "desk", "--config=b.yaml", "daemon", "stop", "--reason", "x"),
            "simple-risk admin --operator desk daemon stop --reason x --config=b.yaml",
        ),
    ],
    ids=["lockout list", "daemon stop"],
)
def test_config_before_the_sub_command_says_where_it_goes(
    typed: tuple[str, ...], meant: str
) -> None:
    """--socket goes before an admin sub-command and --config after it: `admin --config FILE
    lockout list`, written as `--socket` is, answered only "No such option '--config'", as if
    the admin commands could not be pointed at a configuration. The error says where it goes,
    with the command line that works."""
    result = _run(*typed)
    assert result.exit_code == 2
    assert f"--config goes after the sub-command: {meant}" in result.output


def test_every_command_an_admin_types_shows_an_example_in_its_help() -> None:
    """`engine run --help`, `admin lockout list --help`, `admin config show --help`, `admin
    daemon status --help` and `init --help` said what the command does but showed no
    command line to start from, where their neighbours do."""
    bare = []
    for path in _every_path(cli):
        if path[0] not in ("admin", "engine", "init") or path == ("admin", "logs", "view"):
            continue  # (logs view is `admin logs`, whose help has them)
        result = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": "80"})
        if "Commands:" in result.output:
            continue  # a group: its commands have the examples
        described = result.output.split("Options:")[0].splitlines()[1:]  # not the usage
        if not any(re.match(r"\s+(\w+=\S+ )*simple-risk \S", line) for line in described):
            bare.append(" ".join(path))
    assert bare == []


def test_every_help_fits_an_80_column_terminal() -> None:
    """The examples of `admin`, `admin lockout clear`, `admin set-password`, `engine
    history`, `init` and `replay` ran past column 80 and wrapped mid-command in a standard
    terminal: an example copied from a wrapped line is a broken command."""
    wide = []
    for path in [(), *_every_path(cli)]:
        result = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        wide += [
            f"{' '.join(path)}: {line}" for line in result.output.splitlines() if len(line) > 80
        ]
    assert wide == []


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (("engine", "staus"), "status"),
        (("engine", "histroy"), "history"),
        (("engine", "monitr"), "monitor"),
        (("admni",), "admin"),
        (("replya",), "replay"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_a_mistyped_command_is_answered_with_the_one_meant(
    typed: tuple[str, ...], meant: str
) -> None:
    """A command name with a typo says which command was meant, whether or not its module
    was loaded yet: `engine staus` said only "No such command 'staus'." (the engine group's
    commands load on first use, and click suggested only loaded ones), where `admin reloda`
    said "Did you mean 'reload'?". A fresh process, as the user types it."""
    done = subprocess.run(
        [sys.executable, "-m", "simple_risk", *typed],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"No such command '{typed[-1]}'. Did you mean '{meant}'?" in done.stderr


def _as_nobody(args: list[str]) -> tuple[int, str]:
    """Run the command as the user "nobody", in a forked child: its exit code and output."""
    nobody = 65534
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child becomes "nobody" and runs the command; nothing else runs here
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody)
            os.setuid(nobody)
            result = CliRunner().invoke(cli, args, env={"SIMPLE_RISK_ADMIN_PASSWORD": "x" * 8})
            told = f"{result.exit_code}\n{result.output}{result.exception!r}"
            os.write(write, told.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        told = pipe.read()
    os.waitpid(child, 0)
    code, _, output = told.partition("\n")
    return int(code), output


def _daemon_folder(short_dir: Path) -> Path:
    """The daemon's own folder (0700, as a personal setup's runtime and data folders are) in
    a folder open to all, with a socket listening in it."""
    short_dir.chmod(0o755)
    folder = short_dir / "daemon"
    folder.mkdir(mode=0o700)
    return folder


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.parametrize(
    "command",
    [
        ("engine", "status", "--socket", "{socket}"),
        ("admin", "--socket", "{socket}", "lockout", "list"),
        ("admin", "--socket", "{socket}", "daemon", "status"),
    ],
    ids=lambda command: " ".join(c for c in command if c != "{socket}"),
)
def test_a_socket_in_a_folder_closed_to_the_user_is_permission_denied(
    short_dir: Path, command: tuple[str, ...]
) -> None:
    """The daemon of a personal setup keeps its socket in its own runtime folder (0700): the
    trader, or the admin logged in as another user, who ran a command there got a traceback
    ending in PermissionError — the folder cannot even be looked into. They get what a
    socket closed to them gives: permission denied, exit 3."""
    path = _daemon_folder(short_dir) / "status.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen()
        code, output = _as_nobody([str(path) if part == "{socket}" else part for part in command])
    assert code == 3, output
    assert f"permission denied on {path}" in output
    assert "PermissionError" not in output


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.parametrize("closed", ["the socket", "its folder"])
def test_a_socket_closed_to_the_user_is_not_answered_with_start_a_daemon(
    short_dir: Path, closed: str
) -> None:
    """A daemon runs, but its socket admits only its user and its group: the trader outside
    the group was told "permission denied" and then "start it with: simple-risk engine run
    --config FILE" — advice to start a second daemon, when what they need is the group (or
    the daemon's user)."""
    folder = _daemon_folder(short_dir)
    if closed == "the socket":
        folder.chmod(0o755)
    path = folder / "status.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        path.chmod(0o600)
        listener.listen()
        code, output = _as_nobody(["engine", "status", "--socket", str(path)])
    assert code == 3, output
    assert f"permission denied on {path}" in output
    assert "start it with" not in output
    assert (
        "a daemon may be running: its socket admits its own user and the members of its"
        " status_socket_group; run this as one of them" in output
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_set_password_as_a_user_the_socket_refuses_says_the_socket_refused(
    short_dir: Path,
) -> None:
    """`admin set-password --config FILE` typed as the wrong user: the daemon's socket
    refused them, was taken for "no daemon", and the command went on to write the hash
    itself — ending in "cannot read …/admin-password.bcrypt: Permission denied", which says
    nothing of the user (or, where it could write there, a hash behind the daemon's back). It
    stops at the socket, as the other admin commands do."""
    folder = _daemon_folder(short_dir)
    path = folder / "status.sock"
    config = short_dir / "config.yaml"
    config.write_text(
        "gateway: http://127.0.0.1:1\n"
        "credentials: {username: demo, api_key: '${SR_UNSET_KEY}'}\n"
        "accounts: [20100001]\n"
        f"data_dir: {folder}\n"
        f"status_socket: {path}\n"
        f"admin_password_file: {short_dir / 'admin-password.bcrypt'}\n",
        encoding="utf-8",
    )
    config.chmod(0o644)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen()
        code, output = _as_nobody(["admin", "set-password", "--config", str(config)])
    assert code == 3, output
    assert f"permission denied on {path}" in output
    assert not (short_dir / "admin-password.bcrypt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_history_of_a_store_closed_to_the_user_says_whose_it_is(short_dir: Path) -> None:
    """`engine history --config FILE` reads the store when no daemon answers; the daemon keeps
    it in its own data folder (0700), and another user got a traceback ending in
    PermissionError. They are told the store is the daemon's: exit 1, no traceback."""
    folder = _daemon_folder(short_dir)
    (folder / "simple-risk.db").touch(mode=0o600)
    config = short_dir / "config.yaml"
    config.write_text(
        "gateway: http://127.0.0.1:1\n"
        "credentials: {username: demo, api_key: '${SR_UNSET_KEY}'}\n"
        "accounts: [20100001]\n"
        f"data_dir: {folder}\n"
        f"status_socket: {folder / 'status.sock'}\n",
        encoding="utf-8",
    )
    config.chmod(0o644)
    code, output = _as_nobody(["engine", "history", "--config", str(config)])
    assert code == 1, output
    assert f"cannot read the store {folder / 'simple-risk.db'}: permission denied" in output
    assert "PermissionError" not in output
