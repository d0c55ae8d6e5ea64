"""``simple-risk engine status | monitor``: what the running daemon sees and does.

The read-only commands talk to the daemon's status socket (docs/status-protocol.md) through
:mod:`simple_risk.daemon.control.client`; they need no password. They register on the
``engine`` group, as ``engine history`` does from :mod:`simple_risk.cli.history`. The helpers
here (the ``--socket`` and ``--config`` options, turning a protocol failure into a message and
an exit code) are shared with ``history`` and ``admin``.

Exit codes: 0 ok; 1 the daemon refused or failed the request (the error's code and message,
located problems one per line); 2 usage; 3 no daemon is running at the socket.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.live import Live

from simple_risk import words
from simple_risk.cli import engine, explain_screen, formatting, status_screen, timeline
from simple_risk.cli.localzone import viewer_zone
from simple_risk.cli.numbers import ACCOUNT_ID, FiniteFloatRange
from simple_risk.cli.output import show, stdout_console
from simple_risk.daemon.control.client import (
    Connection,
    DaemonNotRunning,
    SocketDenied,
    default_address,
)
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from simple_risk.daemon.config import DaemonConfig

EXIT_REFUSED = 1
EXIT_NOT_RUNNING = 3

START_HINT = (
    "start it with: simple-risk engine run --config FILE"
    "  (or: simple-risk admin daemon start --config FILE)"
)

DENIED_HINT = (
    "a daemon may be running: its socket admits its own user and the members of its"
    " status_socket_group; run this as one of them (the trader: ask to be added to the group)"
)

MONITOR_KINDS = ("event", "firing", "call", "result", "alert", "admin")

F = TypeVar("F", bound=Callable[..., Any])


def checked_socket(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--socket``: a ``tcp:`` address must name a port, and a path that exists must be a
    socket, or it is a usage error (exit 2), not "no daemon is running" (exit 3). An IPv6 host
    may be bracketed as in the configuration (``tcp:[::1]:8765``)."""
    if value is None:
        return None
    if value.startswith("tcp:"):
        host, _, port = value[4:].rpartition(":")
        if not (port.isdigit() and 0 < int(port) < 65536):
            raise click.BadParameter(f"{value!r} is not tcp:HOST:PORT (e.g. tcp:127.0.0.1:8765)")
        if host.startswith("[") and host.endswith("]"):
            return f"tcp:{host[1:-1]}:{port}"
        return value
    path = Path(value)
    try:
        other = path.exists() and not path.is_socket()
    except PermissionError:  # a folder on the way is closed to this user: connecting says so
        other = False
    if other:
        kind = "directory" if path.is_dir() else "file"
        raise click.BadParameter(
            f"{value} is a {kind}, not a socket: give the daemon's status socket"
            " (status_socket in its configuration)"
        )
    return value


def socket_option(function: F) -> F:
    """``--socket PATH|tcp:HOST:PORT`` (else ``$SIMPLE_RISK_SOCKET``, the system, the user's)."""
    option = click.option(
        "--socket",
        "socket_address",
        metavar="PATH|tcp:HOST:PORT",
        callback=checked_socket,
        help="The daemon's status socket (default: $SIMPLE_RISK_SOCKET, "
        "/run/simple-risk/status.sock if it exists, else the per-user socket).",
    )
    return option(function)


ENGINE_CONFIG_HELP = (
    "The daemon's configuration: ask the daemon it names (its status_socket), whatever "
    "$SIMPLE_RISK_SOCKET says; --socket overrides it."
)


def config_option(*, required: bool = False, help: str = ENGINE_CONFIG_HELP) -> Callable[[F], F]:
    """``--config FILE``, the same option on every command that reaches a daemon (``engine
    status | monitor | history`` and the ``admin`` commands): the daemon it names is the one
    asked (:func:`address_of`)."""
    return click.option(
        "--config",
        "config_path",
        metavar="FILE",
        required=required,
        type=click.Path(exists=True, dir_okay=False),
        help=help,
    )


def configured_socket(config_path: str | None) -> str | None:
    """The ``status_socket`` the configuration at ``config_path`` names (None without one);
    a configuration that does not load is printed, located, and exits 1."""
    return None if config_path is None else str(config_or_exit(config_path).status_socket)


def address_of(socket_address: str | None, configured: str | None = None) -> str:
    """The daemon a command asks: ``--socket``, else the one ``--config`` names (its
    ``status_socket``: ``configured``), else ``$SIMPLE_RISK_SOCKET``, the system socket, the
    per-user one. An explicit configuration wins over the environment: a
    ``$SIMPLE_RISK_SOCKET`` left in a profile must not turn ``--config B.yaml`` to another
    trader's daemon."""
    return socket_address or configured or default_address()


def now_local() -> datetime:
    """Now in the viewer's named zone: every time on screen is shown in it, each with the
    offset in force at that moment (localzone.py)."""
    return datetime.now(viewer_zone())


def answer_now(result: Mapping[str, Any], since_fetch: float = 0.0) -> datetime:
    """The moment the daemon answered (its ``now``), ``since_fetch`` seconds on, in the
    viewer's zone: ages, countdowns and the uptime count on the clock the daemon stamped its
    times with. A daemon on a pinned wall (``SIMPLE_RISK_WALL_START``, a rehearsal) is weeks
    from this machine's clock, and measured against it the daemon read 'up 0.0s' and a lock
    ending in five minutes weeks away. An answer without ``now``: the viewer's clock."""
    moment = formatting.parse_time(result.get("now"))
    if moment is None:
        return now_local()
    return (moment + timedelta(seconds=since_fetch)).astimezone(viewer_zone())


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def start_hint(config_path: str | None = None) -> str:
    """How to start a daemon: the configuration's own when the command was given one."""
    if config_path is None:
        return START_HINT
    return f"start it with: simple-risk admin daemon start --config {config_path}"


def stream_closed() -> NoReturn:
    """A followed stream (``engine monitor``, ``admin logs --follow``) the daemon closed: said,
    and exit 3, so a script following it tells this from its own Ctrl-C (exit 0)."""
    click.echo(
        "the daemon closed the connection (it stopped or restarted); nothing more will come",
        err=True,
    )
    sys.exit(EXIT_NOT_RUNNING)


def fail_not_running(
    error: DaemonNotRunning, hint: str | None = None, *, config_path: str | None = None
) -> NoReturn:
    click.echo(f"simple-risk: {error}", err=True)
    # a socket closed to this user is no sign that nothing runs: never advise a second daemon
    click.echo(
        DENIED_HINT if isinstance(error, SocketDenied) else start_hint(config_path), err=True
    )
    if hint is not None:
        click.echo(hint, err=True)
    sys.exit(EXIT_NOT_RUNNING)


def protocol_error_lines(error: ProtocolError) -> list[str]:
    """``error CODE: message``, then each located problem, then when to retry."""
    lines = [f"error {error.code}: {error.message}"]
    lines += [formatting.format_problem(problem) for problem in error.problems]
    if (
        error.code == ErrorCode.THROTTLED.value
        and error.retry_after is not None
        and "try again" not in error.message
    ):
        lines.append(f"try again in {error.retry_after:.0f} s")
    if error.code == ErrorCode.NO_PASSWORD_SET.value:
        lines.append("set one as the daemon's user: simple-risk admin set-password --config FILE")
    return lines


def fail_protocol(error: ProtocolError) -> NoReturn:
    for line in protocol_error_lines(error):
        click.echo(line, err=True)
    sys.exit(EXIT_REFUSED)


@contextmanager
def daemon_errors(config_path: str | None = None) -> Iterator[None]:
    """Turn the client's failures into a message and exit 3 / 1 — never a traceback
    (``config_path``: the --config given, named in how to start its daemon)."""
    try:
        yield
    except DaemonNotRunning as error:
        fail_not_running(error, config_path=config_path)
    except ProtocolError as error:
        fail_protocol(error)


def print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _json_line(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# --- engine status -----------------------------------------------------------------------


@engine.command()
@click.option("--account", type=ACCOUNT_ID, metavar="ID", help="Only this account.")
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's answer as JSON.")
@click.option(
    "--explain",
    "rule",
    metavar="RULE",
    help="Print RULE's last evaluation: each comparison with its values, for:, intents.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Redraw every second (countdowns tick); into a pipe, print each status after the "
    "last. Ctrl-C to leave.",
)
@click.option(
    "--interval",
    type=FiniteFloatRange(0.2, 60),
    default=1.0,
    show_default=True,
    help="Seconds between fetches with --watch.",
)
@socket_option
@config_option()
def status(
    account: int | None,
    as_json: bool,
    rule: str | None,
    watch: bool,
    interval: float,
    socket_address: str | None,
    config_path: str | None,
) -> None:
    """Show each guarded account: connection, positions, orders, P&L against each limit,
    lockouts with a countdown, rules pending on `for:`, and the last firings.

    \b
    Examples:
      simple-risk engine status
      simple-risk engine status --account 20100001 --watch
      simple-risk engine status --explain daily-realized-loss
      simple-risk engine status --json | jq '.accounts[0].pnl'

    Exit codes: 0 ok, 1 the daemon refused (e.g. no such account or rule),
    3 no daemon is running.
    """
    args: dict[str, Any] = {}
    if account is not None:
        args["account"] = account
    op = "status"
    if rule is not None:
        op = "explain"
        args["rule"] = rule
    address = address_of(socket_address, configured_socket(config_path))

    def view(result: Mapping[str, Any], since_fetch: float = 0.0) -> Any:
        now = answer_now(result, since_fetch)
        if op == "explain":
            return explain_screen.explain_view(result, now)
        return status_screen.status_view(result, now)

    try:
        with daemon_errors(config_path), Connection(address) as connection:
            result = connection.request(op, args)
            if as_json:
                print_json(result)
                return
            console = stdout_console()
            if not watch:
                show(console, view(result))
                return
            if not console.is_terminal:
                # a pipe or a log file: a live redraw writes nothing until it stops, so each
                # interval's status is printed after the last, under the time it was fetched
                _watch_into_pipe(console, connection, op, args, interval, view, result)
                return
            fetched = time.monotonic()
            with Live(view(result), console=console, auto_refresh=False, screen=False) as live:
                while True:
                    time.sleep(min(interval, 1.0))
                    if time.monotonic() - fetched >= interval:
                        result = connection.request(op, args)
                        fetched = time.monotonic()
                    live.update(view(result, time.monotonic() - fetched), refresh=True)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # `status --watch | head`
        sys.stderr.close()
        return


def _watch_into_pipe(
    console: Console,
    connection: Connection,
    op: str,
    args: dict[str, Any],
    interval: float,
    view: Callable[[Mapping[str, Any]], Any],
    result: Mapping[str, Any],
) -> None:
    """``status --watch`` into a pipe: one status after another, each flushed at once."""
    while True:
        console.print(f"--- {answer_now(result).strftime('%Y-%m-%d %H:%M:%S %Z')}")
        show(console, view(result))
        console.file.flush()
        time.sleep(interval)
        result = connection.request(op, args)


# --- engine monitor ----------------------------------------------------------------------


@engine.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (for scripts).")
@click.option(
    "--kinds",
    "kinds",
    multiple=True,
    type=click.Choice(MONITOR_KINDS),
    help="Only these message types (repeatable; default all).",
)
@click.option("--account", type=ACCOUNT_ID, metavar="ID", help="Only this account's messages.")
@socket_option
@config_option()
def monitor(
    as_json: bool,
    kinds: tuple[str, ...],
    account: int | None,
    socket_address: str | None,
    config_path: str | None,
) -> None:
    """Watch events, firings and enforcement as they happen, in plain words.

    Each line: time, account, type (event, firing, call, result, alert, admin) and what
    happened, coloured by severity (info blue, warning yellow, critical red). Ctrl-C leaves.

    \b
    Examples:
      simple-risk engine monitor
      simple-risk engine monitor --kinds firing --kinds result
      simple-risk engine monitor --json | jq -r .text

    Exit codes: 0 on Ctrl-C, 1 the daemon refused (e.g. an account it does not guard),
    3 no daemon is running, or it went away while monitoring.
    """
    args: dict[str, Any] = {"kinds": list(kinds)} if kinds else {}
    console = stdout_console()
    address = address_of(socket_address, configured_socket(config_path))
    try:
        # no read timeout: a quiet market may send nothing for hours
        with daemon_errors(config_path), Connection(address, timeout=None) as connection:
            if account is not None:
                _guarded(connection, account)
            connection.request("subscribe", args)
            now = now_local()
            click.echo(
                f"monitoring {connection.address} — times in {words.zone_name(now)} — Ctrl-C "
                "to stop",
                err=True,
            )
            # a monitor may be left running for days: its lines show only the time, so a
            # line of another day than the one before it comes after a line naming its day
            shown_day = now.date()
            while True:
                try:
                    message = connection.receive()
                except DaemonNotRunning:
                    stream_closed()
                if "id" in message:
                    continue  # not a streamed item
                if account is not None and message.get("account") not in (account, None):
                    continue
                if as_json:
                    _json_line(message)
                else:
                    moment = formatting.parse_time(message.get("at"))
                    if moment is not None and moment.astimezone(now.tzinfo).date() != shown_day:
                        local = moment.astimezone(now.tzinfo)
                        shown_day = local.date()
                        console.print(timeline.day_line(local), soft_wrap=True)
                    line = timeline.monitor_line(message, now.tzinfo, banner=now)
                    console.print(line, soft_wrap=True)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # `monitor --json | head`
        sys.stderr.close()
        return


def _guarded(connection: Connection, account: int) -> None:
    """Refuse (as ``engine status --account`` does) an account the daemon does not guard: its
    monitor would wait for messages that never come."""
    accounts = connection.request("hello").get("accounts")
    if isinstance(accounts, list) and account not in accounts:
        guarded = ", ".join(str(a) for a in accounts) or "none"
        raise ProtocolError(
            ErrorCode.NOT_FOUND.value,
            f"this daemon does not guard account {account} (it guards {guarded})",
        )


# --- engine history ----------------------------------------------------------------------


def config_or_exit(config_path: str, *, credentials: bool = False) -> DaemonConfig:
    """The daemon's configuration, or its located problems on stderr and exit 1. Without
    ``credentials`` (the default: reading the store, finding the socket or the password file)
    the API credentials are neither read nor required."""
    from simple_risk.daemon.config import ConfigError, load_config

    try:
        return load_config(config_path, credentials=credentials)
    except ConfigError as problems:
        for problem in problems.problems:
            click.echo(problem.format(), err=True)
        sys.exit(EXIT_REFUSED)


__all__ = [
    "EXIT_NOT_RUNNING",
    "EXIT_REFUSED",
    "START_HINT",
    "address_of",
    "answer_now",
    "config_option",
    "config_or_exit",
    "daemon_errors",
    "fail_not_running",
    "fail_protocol",
    "monitor",
    "print_json",
    "protocol_error_lines",
    "socket_option",
    "status",
]
