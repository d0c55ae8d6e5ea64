"""``simple-risk admin daemon start | stop | restart | status``: the daemon's own lifecycle.

``start`` runs ``engine run`` detached and waits until it guards its accounts (or says why
not, with its log's tail); ``stop`` asks the running daemon to stop (password, audited) and
waits for its process to end; ``restart`` is both, refusing to stop a daemon whose
configuration would not start again; ``status`` reads what ``hello`` tells anyone who can
reach the socket. Registered on the ``admin`` group of :mod:`simple_risk.cli.admin`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from simple_risk.cli import admin_views
from simple_risk.cli.admin import (
    EXIT_CODES,
    NEW_PASSWORD_ENV,
    PASSWORD_ENV,
    AdminContext,
    admin,
    admin_context,
    config_option,
    daemon_hello,
    refuse,
)
from simple_risk.cli.numbers import FiniteFloatRange
from simple_risk.cli.output import show, stdout_console
from simple_risk.cli.status import (
    EXIT_REFUSED,
    answer_now,
    print_json,
)
from simple_risk.daemon.control.client import Connection, DaemonNotRunning
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from simple_risk.daemon.config import DaemonConfig


@admin.group("daemon")
def daemon_group() -> None:
    """Start, stop, restart the daemon, or show whether it runs."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process (the daemon's user)
    try:  # a daemon this process started and that exited is a zombie until reaped
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not our child: alive
    return reaped == 0


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _start(config_path: str, wait: float, context: AdminContext) -> None:
    config = context.use_config(config_path, credentials=True)  # the daemon it starts logs in
    address = context.address
    running = daemon_hello(address)
    if running is not None:
        guarded = running.get("accounts")
        missing = [a for a in config.accounts if isinstance(guarded, list) and a not in guarded]
        if missing:
            # a configuration copied with its accounts changed but not its socket: the
            # daemon there is another one, and these accounts are guarded by none
            refuse(
                f"a daemon (pid {running.get('pid')}) already answers on {address}: it guards "
                f"{', '.join(map(str, guarded or [])) or 'none'}, not "
                f"{', '.join(map(str, missing))} of {config_path}. Another configuration's "
                f"daemon? give {config_path} a status_socket (and a data_dir) of its own. "
                "This one's, started before the accounts changed? restart it: simple-risk "
                f'admin daemon restart --config {config_path} --reason "…"'
            )
        click.echo(f"already running (pid {running.get('pid')}) on {address}")
        return
    log_dir = Path(config.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path = log_dir / "daemon.out"
    env = {k: v for k, v in os.environ.items() if k not in (PASSWORD_ENV, NEW_PASSWORD_ENV)}
    command = [sys.executable, "-m", "simple_risk", "engine", "run", "--config", config_path]
    with out_path.open("ab") as out, open(os.devnull, "rb") as devnull:
        child = subprocess.Popen(
            command,
            stdin=devnull,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            click.echo(f"the daemon exited with code {code}; the end of {out_path}:", err=True)
            click.echo(_tail(out_path), err=True)
            sys.exit(EXIT_REFUSED)
        hello = daemon_hello(address)
        if hello is not None and hello.get("pid") == child.pid and _guarding(address):
            click.echo(f"started (pid {child.pid}); socket {address}; output in {out_path}")
            return
        time.sleep(0.2)
    click.echo(
        f"the daemon (pid {child.pid}) did not start guarding within {wait:g} s; "
        f"it keeps starting — see {out_path}",
        err=True,
    )
    sys.exit(EXIT_REFUSED)


def _guarding(address: str) -> bool:
    """Whether the daemon answering on ``address`` guards its accounts: its socket answers
    while it still logs in, and a login that fails ends it — "started" must not be said
    before that is settled. ``status`` is unavailable until the engine runs."""
    try:
        with Connection(address, timeout=5.0) as connection:
            connection.request("status")
    except DaemonNotRunning:
        return False
    except ProtocolError as error:
        return error.code != ErrorCode.UNAVAILABLE.value
    return True


def _stop(context: AdminContext, reason: str, wait: float) -> None:
    with context.errors(), Connection(context.address) as connection:
        hello = connection.request("hello")
        pid = hello.get("pid") if isinstance(hello, Mapping) else None
        service = hello.get("service") if isinstance(hello, Mapping) else None
        connection.request(
            "stop", {"reason": reason}, password=context.password(), operator=context.operator
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        gone = daemon_hello(context.address) is None
        if gone and (not isinstance(pid, int) or not _pid_alive(pid)):
            if service == "systemd":
                # the unit's RestartPreventExitStatus keeps this stop a stop
                click.echo(
                    f"stopped (pid {pid}); systemd does not start it again until "
                    "`sudo systemctl start` names its unit (simple-risk)"
                )
            else:
                click.echo(f"stopped (pid {pid})")
            return
        time.sleep(0.2)
    refuse(f"the daemon (pid {pid}) is still stopping after {wait:g} s")


_WAIT = click.option(
    "--wait",
    type=FiniteFloatRange(1, 600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for it.",
)


@daemon_group.command("start", epilog=EXIT_CODES)
@config_option(
    required=True,
    help="The daemon's configuration: the daemon it names (its status_socket) is started, "
    "unless one already answers there; --socket before the sub-command overrides it.",
)
@_WAIT
def daemon_start(config_path: str, wait: float) -> None:
    """Start the daemon detached, and wait until it guards its accounts (logged in, reconciled).

    Needs no password: starting enforcement never loosens it. The daemon writes its pid to
    DATA_DIR/daemon.pid; its console output is appended to LOG_DIR/daemon.out (printed if it
    exits while starting). Prefer the systemd unit (examples/deploy) on a real install.

    \b
    Example:
      simple-risk admin daemon start --config ~/.config/simple-risk/config.yaml
    """
    _start(config_path, wait, admin_context())


def _given(reason: str) -> str:
    """``--reason``, not blank: stopping the daemon leaves every account unguarded."""
    if not reason.strip():
        raise click.BadParameter("give a reason", param_hint="--reason")
    return reason


_REASON = click.option(
    "--reason",
    required=True,
    help="Why (required; it goes to the audit): nothing guards the accounts while stopped.",
)


@daemon_group.command("stop", epilog=EXIT_CODES)
@_REASON
@_WAIT
@config_option()
def daemon_stop(reason: str, wait: float, config_path: str | None) -> None:
    """Stop the daemon gracefully (journal flushed, snapshots written, connections closed)
    and wait until it is gone. Needs the admin password and a reason (audited with your
    name, as for lockout clear): nothing guards the accounts after.

    \b
    Example:
      simple-risk admin daemon stop --reason "upgrade"
    """
    reason = _given(reason)
    _stop(admin_context(config_path), reason, wait)


@daemon_group.command("restart", epilog=EXIT_CODES)
@config_option(
    required=True,
    help="The daemon's configuration: the daemon it names (its status_socket) is stopped "
    "and started again from it; --socket before the sub-command overrides it.",
)
@_REASON
@_WAIT
def daemon_restart(config_path: str, reason: str, wait: float) -> None:
    """Stop the daemon (password, reason: audited) and start it again from --config (loaded
    first: a configuration or ruleset that would not start stops nothing).

    \b
    Example:
      simple-risk admin daemon restart --config config.yaml --reason "new version"
    """
    reason = _given(reason)
    context = admin_context()
    # the daemon the configuration names (its status_socket), unless --socket chose one: the
    # default socket may be another daemon's. A configuration that does not load is said,
    # located, by _startable_or_exit, which then stops nothing
    from simple_risk.daemon.config import ConfigError, load_config

    with contextlib.suppress(ConfigError):
        context.configured_socket = str(load_config(config_path).status_socket)
    running = daemon_hello(context.address)
    if running is not None and running.get("service") == "systemd":
        # started again from here it would run as this user, outside the unit (its user,
        # its sandbox, its restarts): systemd restarts what it runs
        refuse(
            f"the daemon (pid {running.get('pid')}) runs under systemd: restart it there, "
            "`sudo systemctl restart simple-risk` (the unit's name); nothing was stopped"
        )
    config = _startable_or_exit(config_path, context.address)
    _refuse_if_another_daemons(config, config_path, context.address)
    _stop(context, reason, wait)
    _start(config_path, wait, context)


def _refuse_if_another_daemons(config: DaemonConfig, config_path: str, address: str) -> None:
    """A daemon on the configuration's socket that guards none of its accounts is another
    configuration's (one copied without a socket of its own): stopping it leaves its accounts
    unguarded, and this configuration's start does not guard them."""
    running = daemon_hello(address)
    guarded = running.get("accounts") if running is not None else None
    if not isinstance(guarded, list) or set(guarded) & set(config.accounts):
        return
    refuse(
        f"not restarted: the daemon (pid {running.get('pid') if running else None}) on "
        f"{address} guards {', '.join(map(str, guarded)) or 'none'}, none of "
        f"{', '.join(map(str, config.accounts))} of {config_path}: it is another "
        f"configuration's; give {config_path} a status_socket (and a data_dir) of its own"
    )


def _startable_or_exit(config_path: str, address: str) -> DaemonConfig:
    """What ``engine run`` loads before it starts — the configuration with its credentials,
    the ruleset, the overlays — loaded here before the running daemon is stopped: a restart
    that cannot start again must leave the account guarded, not unguarded."""
    from simple_risk.daemon.config import ConfigError, load_config, load_rulesets

    try:
        config = load_config(config_path, credentials=True)
        load_rulesets(config)
    except ConfigError as problems:
        for problem in problems.problems:
            click.echo(problem.format(), err=True)
        running = daemon_hello(address)
        if running is None:  # a configuration that does not load names no socket to ask
            refuse(f"not restarted: nothing was stopped ({config_path} does not load)")
        refuse(f"not restarted: the running daemon (pid {running.get('pid')}) keeps guarding")
    return config


@daemon_group.command("status", epilog=EXIT_CODES)
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's hello as JSON.")
@config_option()
def daemon_status(as_json: bool, config_path: str | None) -> None:
    """Whether the daemon runs: pid, uptime, accounts, ruleset, socket (no password).

    \b
    Examples:
      simple-risk admin daemon status
      simple-risk admin daemon status --config /etc/simple-risk/config.yaml
      simple-risk admin --socket /run/simple-risk/status.sock daemon status
    """
    context = admin_context(config_path)
    with context.errors(), Connection(context.address) as connection:
        result = connection.request("hello")
    if as_json:
        print_json(result)
        return
    show(stdout_console(), admin_views.hello_view(result, answer_now(result)))
