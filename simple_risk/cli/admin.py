"""``simple-risk admin …``: password-protected administration of the running daemon.

Every command that reads or changes the daemon's configuration or state asks for the admin
password — from ``$SIMPLE_RISK_ADMIN_PASSWORD`` (automation) or a prompt that does not echo —
and sends it with the request; the **daemon** verifies it against its bcrypt hash and audits
the attempt. This module never decides on its own whether a password is right, never prints
it, never passes it on a command line or to a child process.

The exceptions, stated in their ``--help``: ``admin daemon start`` and ``admin daemon status``
need no password (starting enforcement never loosens it; ``status`` reads what ``hello``
tells anyone who can reach the socket), and ``admin set-password`` creates the *first* hash
locally, which needs write access to the daemon's configuration directory (the install
step, done by the daemon's owner).

Exit codes as for ``engine status``: 0 ok, 1 refused or failed (wrong password, throttled,
reload refused — with the located problems), 2 usage, 3 no daemon running.

The group (its password, socket and ``--config`` handling) and the commands on the running
daemon's locks and enforcement are here; the ruleset's reload and edit
(:mod:`~simple_risk.cli.admin_rules`), the log (:mod:`~simple_risk.cli.admin_logs`), the
daemon's lifecycle (:mod:`~simple_risk.cli.admin_daemon`), the password
(:mod:`~simple_risk.cli.admin_password`) and the notification test
(:mod:`~simple_risk.cli.notify_test`) register themselves on the same group.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from simple_risk.cli import account_tables, cli
from simple_risk.cli.numbers import ACCOUNT_ID
from simple_risk.cli.output import show, stdout_console
from simple_risk.cli.status import (
    EXIT_REFUSED,
    address_of,
    answer_now,
    checked_socket,
    config_or_exit,
    daemon_errors,
    fail_not_running,
    fail_protocol,
    now_local,
    print_json,
)
from simple_risk.cli.status import config_option as status_config_option
from simple_risk.daemon.control.client import Connection, DaemonNotRunning, SocketDenied
from simple_risk.daemon.control.protocol import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from simple_risk.daemon.config import DaemonConfig

F = TypeVar("F", bound=Callable[..., Any])

PASSWORD_ENV = "SIMPLE_RISK_ADMIN_PASSWORD"
NEW_PASSWORD_ENV = "SIMPLE_RISK_NEW_ADMIN_PASSWORD"
LOG_LEVELS = ("debug", "info", "warning", "error")

EXIT_CODES = """
Exit codes: 0 ok, 1 refused or failed (wrong password, throttled, refused
reload), 2 usage, 3 no daemon is running."""


CONFIG_HELP = (
    "The daemon's configuration: the command asks the daemon it names (its status_socket), "
    "whatever $SIMPLE_RISK_SOCKET says; --socket before the sub-command overrides it."
)


@dataclass
class AdminContext:
    """What every ``admin`` command shares: where the daemon is, who asks, the password."""

    socket_address: str | None
    operator: str
    _password: str | None = field(default=None, repr=False)
    #: the configuration --config named (loaded), and the socket it names
    config: DaemonConfig | None = None
    configured_socket: str | None = None
    config_path: str | None = None

    @property
    def address(self) -> str:
        return address_of(self.socket_address, self.configured_socket)

    def errors(self) -> contextlib.AbstractContextManager[None]:
        """:func:`daemon_errors`, naming the --config given in how to start its daemon."""
        return daemon_errors(self.config_path)

    def use_config(self, config_path: str, *, credentials: bool = False) -> DaemonConfig:
        """Ask the daemon ``config_path`` names from now on; its problems, located, exit 1
        (``credentials``: read and required too, for a daemon about to start)."""
        self.config = config_or_exit(config_path, credentials=credentials)
        self.configured_socket = str(self.config.status_socket)
        self.config_path = config_path
        return self.config

    def password(self) -> str:
        """``$SIMPLE_RISK_ADMIN_PASSWORD`` or a no-echo prompt (asked once per command)."""
        if self._password is None:
            self._password = read_password(PASSWORD_ENV, "Admin password")
        return self._password

    def call(self, op: str, args: Mapping[str, Any] | None = None) -> Any:
        """One admin request with the password; failures exit 1 (or 3 without a daemon)."""
        with self.errors(), Connection(self.address) as connection:
            connection.request("hello")  # a missing daemon is exit 3 before any prompt
            return connection.request(op, args, password=self.password(), operator=self.operator)


def read_password(env: str, prompt: str, *, confirm: bool = False) -> str:
    """A password from ``env``, else a prompt without echo (``confirm``: asked twice)."""
    value = os.environ.get(env)
    if value:
        return _utf8(value)
    try:
        entered = click.prompt(
            prompt, hide_input=True, confirmation_prompt=confirm, show_default=False
        )
    except click.Abort:
        click.echo(f"\nno password given (type it, or set {env} for automation)", err=True)
        sys.exit(EXIT_REFUSED)
    if not isinstance(entered, str) or not entered:
        click.echo("an empty password is not a password", err=True)
        sys.exit(EXIT_REFUSED)
    return _utf8(entered)


def _utf8(password: str) -> str:
    """``password`` when it can travel in a request line (UTF-8); else exit 1 in words. A
    byte that is no UTF-8 (a Latin-1 terminal's é) reaches Python escaped, and encoding the
    request ended in a traceback."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        click.echo(
            "the admin password is not UTF-8 text (a terminal or file in another encoding?); "
            "nothing was sent",
            err=True,
        )
        sys.exit(EXIT_REFUSED)
    return password


def _operator_default() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


#: the ``admin`` group's own options: written after a sub-command, they are not its
_GROUP_OPTIONS = ("--socket", "--operator")


def _split_option(args: list[str], name: str) -> tuple[list[str], list[str]] | None:
    """Option ``name`` as written in ``args`` (with its value), and the other args."""
    at = next((i for i, arg in enumerate(args) if arg == name or arg.startswith(f"{name}=")), None)
    if at is None:
        return None
    taken = 1 if "=" in args[at] or at + 1 >= len(args) else 2
    return args[at : at + taken], args[:at] + args[at + taken :]


def _admin_line(ctx: click.Context, before: list[str], after: list[str]) -> str:
    """``simple-risk admin`` + ``before`` + the (sub-)group or command ``ctx`` is at +
    ``after``: the command line as it works."""
    parts = ctx.command_path.split()
    sub = parts[parts.index("admin") + 1 :] if "admin" in parts else []
    return " ".join(["simple-risk", "admin", *before, *sub, *after])


def _group_option_misplaced(ctx: click.Context, args: list[str], error: click.NoSuchOption) -> None:
    """``admin lockout list --socket PATH`` (as ``engine status`` takes it): say where the
    option goes, with the command line that works (the sub-command's own options kept)
    instead of "No such option"; likewise ``admin --config FILE lockout list``, whose
    --config goes after the sub-command."""
    name = error.option_name
    found = _split_option(args, name)
    if found is None:
        return
    written, rest = found
    if name in _GROUP_OPTIONS:
        line = _admin_line(ctx, written, rest)
        raise click.UsageError(f"{name} goes before the sub-command: {line}", ctx)
    if name == "--config" and isinstance(ctx.command, click.Group):
        line = _admin_line(ctx, [], [*rest, *written])
        raise click.UsageError(f"--config goes after the sub-command: {line}", ctx)


def _parsed(
    parse: Callable[[click.Context, list[str]], list[str]], ctx: click.Context, args: list[str]
) -> list[str]:
    """``parse`` (a command's or a group's own), an admin option written after the
    sub-command (or --config before it) said where it goes."""
    given = list(args)  # the parser consumes the list it is given
    try:
        return parse(ctx, args)
    except click.NoSuchOption as error:
        _group_option_misplaced(ctx, given, error)
        raise


class _AdminCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return _parsed(super().parse_args, ctx, args)


class _AdminGroup(click.Group):
    command_class = _AdminCommand
    group_class = type  # sub-groups are admin groups too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return _parsed(super().parse_args, ctx, args)


@cli.group(cls=_AdminGroup)
@click.option(
    "--socket",
    "socket_address",
    metavar="PATH|tcp:HOST:PORT",
    callback=checked_socket,
    help="The daemon's status socket (default: the one a sub-command's --config FILE names, "
    "else $SIMPLE_RISK_SOCKET, /run/simple-risk/status.sock if it exists, else the per-user "
    "socket).",
)
@click.option(
    "--operator",
    metavar="NAME",
    help="Who is acting, for the audit (default: $USER).",
)
@click.pass_context
def admin(ctx: click.Context, socket_address: str | None, operator: str | None) -> None:
    """Administer the running daemon (password-protected, audited).

    Each command asks for the admin password without echo, or reads
    $SIMPLE_RISK_ADMIN_PASSWORD; the daemon checks it against its bcrypt hash. Wrong
    passwords are audited and throttled (an exponential delay per user or address).
    Each command that reaches a daemon takes --config FILE: it asks the daemon that
    configuration names (its status_socket).

    \b
    Examples:
      simple-risk admin reload --reason "lower the daily limit"
      simple-risk admin lockout clear 20100001 --reason "broker error"
      simple-risk admin lockout list --config /etc/simple-risk/b.yaml
      simple-risk admin enforce 20100001 --on --reason "observed a week, go live"
      simple-risk admin logs --follow --level warning
      simple-risk admin daemon status
    """
    ctx.obj = AdminContext(socket_address, (operator or "").strip() or _operator_default())


def config_option(*, required: bool = False, help: str = CONFIG_HELP) -> Callable[[F], F]:
    """``--config FILE`` on an admin command: the option the ``engine`` commands take, read
    the same way (:meth:`AdminContext.use_config`, through :func:`admin_context`)."""
    return status_config_option(required=required, help=help)


def admin_context(config_path: str | None = None) -> AdminContext:
    """The group's context; with ``config_path`` (a command's --config), asking the daemon
    that configuration names."""
    context = click.get_current_context().find_object(AdminContext)
    if context is None:  # a command invoked outside the group (tests)
        context = AdminContext(None, _operator_default())
    if config_path is not None:
        context.use_config(config_path)
    return context


# --- lockouts ----------------------------------------------------------------------------


@admin.group("lockout")
def lockout_group() -> None:
    """List the active lockouts, or clear one (audited)."""


@lockout_group.command("list", epilog=EXIT_CODES)
@click.option("--account", type=ACCOUNT_ID, metavar="ID", help="Only this account.")
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's answer as JSON.")
@config_option()
def lockout_list(account: int | None, as_json: bool, config_path: str | None) -> None:
    """Every lockout in force: account, rule, scope, symbol, reason, end and time left.

    \b
    Examples:
      simple-risk admin lockout list
      simple-risk admin lockout list --account 20100001 --json
    """
    args = {"account": account} if account is not None else {}
    result = admin_context(config_path).call("lockout_list", args)
    if as_json:
        print_json(result)
        return
    lockouts = result.get("lockouts") or []
    if not lockouts:
        click.echo("no lockout in force")
        return
    # on the daemon's clock: a rehearsal's pinned wall is weeks from the viewer's
    now = answer_now(result) if isinstance(result, Mapping) else now_local()
    show(stdout_console(), account_tables.lockouts_table(lockouts, now, with_account=True))


@lockout_group.command(
    "clear",
    epilog="""
Exit codes: 0 cleared, 1 refused or failed (wrong password, throttled) or
nothing matched (the lockouts in force are listed), 2 usage, 3 no daemon is
running.""",
)
@click.argument("account", type=ACCOUNT_ID)
@click.option(
    "--scope",
    type=click.Choice(["account", "symbol", "all"]),
    default="all",
    show_default=True,
    help="Which lockouts of the account.",
)
@click.option("--symbol", metavar="ROOT", help="With --scope symbol: only this symbol (MNQ).")
@click.option("--reason", required=True, help="Why (required; it goes to the audit).")
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's answer as JSON.")
@config_option()
def lockout_clear(
    account: int,
    scope: str,
    symbol: str | None,
    reason: str,
    as_json: bool,
    config_path: str | None,
) -> None:
    """Lift ACCOUNT's lockouts before they end — audited with your name and reason.

    \b
    Examples:
      simple-risk admin lockout clear 20100001 --reason "desk approved"
      simple-risk admin lockout clear 20100001 --scope symbol --symbol MNQ \\
          --reason "..."
    """
    if not reason.strip():
        raise click.BadParameter("give a reason", param_hint="--reason")
    if symbol is not None and scope != "symbol":
        raise click.BadParameter("--symbol goes with --scope symbol", param_hint="--symbol")
    args: dict[str, Any] = {"account": account, "scope": scope, "reason": reason}
    if symbol is not None:
        args["symbol"] = symbol.strip().upper()  # tickers are capitals: rty is RTY
    context = admin_context(config_path)
    result = context.call("lockout_clear", args)
    cleared = result.get("cleared") or []
    if as_json:
        print_json(result)
        if not cleared:
            sys.exit(EXIT_REFUSED)
        return
    if not cleared:
        # what did not match is best answered with what is there; a clear that lifted
        # nothing failed (exit 1): the trader is as locked as before
        held = context.call("lockout_list", {"account": account}).get("lockouts") or []
        if not held:
            refuse(f"no lockout of account {account} is in force; nothing cleared")
        click.echo(f"no lockout of account {account} matched; nothing cleared. In force:", err=True)
        for lock in held:
            if isinstance(lock, Mapping):
                where = (
                    "account" if lock.get("scope") == "account" else f"symbol {lock.get('symbol')}"
                )
                click.echo(
                    f"  {where} by {lock.get('rule')} ({lock.get('kind')}): {lock.get('reason')}",
                    err=True,
                )
        sys.exit(EXIT_REFUSED)
    for lock in cleared:
        what = lock.get("scope", "?") if isinstance(lock, Mapping) else str(lock)
        if isinstance(lock, Mapping):
            if lock.get("symbol"):
                what += f" {lock['symbol']}"
            what = f"{lock.get('rule', '?')} ({what})"
        click.echo(f"cleared {what}")


# --- enforcement ---------------------------------------------------------------------------


@admin.command("enforce", epilog=EXIT_CODES)
@click.argument("account", type=ACCOUNT_ID)
@click.option("--on", "on", is_flag=True, help="Enforce the account's rules.")
@click.option("--off", "off", is_flag=True, help="Only observe: nothing is sent.")
@click.option("--reason", required=True, help="Why (required; it goes to the audit).")
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's answer as JSON.")
@config_option()
def enforce_command(
    account: int, on: bool, off: bool, reason: str, as_json: bool, config_path: str | None
) -> None:
    """Turn enforcement of ACCOUNT on or off, now — audited with your name and reason.

    Turning it on reconciles the account, then enforces every breach still standing. The
    choice is kept in the store and outlives a restart (also over `enforce: false` in the
    configuration and `engine run --observe`).

    \b
    Examples:
      simple-risk admin enforce 20100001 --on --reason "watched a week, go live"
      simple-risk admin enforce 20100001 --off --reason "testing a new ruleset"
    """
    if on and off:  # a flag pair would silently take the last one written
        raise click.UsageError("give --on or --off, not both")
    if not on and not off:
        raise click.UsageError("give --on (enforce) or --off (observe only)")
    enforce = on
    if not reason.strip():
        raise click.BadParameter("give a reason", param_hint="--reason")
    args = {"account": account, "enforce": enforce, "reason": reason}
    result = admin_context(config_path).call("enforce", args)
    if as_json:
        print_json(result)
        return
    mode = result.get("mode") if isinstance(result, Mapping) else None
    was = result.get("was") if isinstance(result, Mapping) else None
    if mode == "enforce":
        click.echo(f"account {account}: ENFORCING (was {was}); reconciling, then enforcing")
    else:
        click.echo(f"account {account}: OBSERVE only, nothing is sent (was {was})")


# --- set-password ------------------------------------------------------------------------


def daemon_hello(address: str) -> dict[str, Any] | None:
    """The running daemon's ``hello``, or None when none answers; a daemon that is running
    but refuses the connection (``busy``) is said so and exits 1, and a socket closed to this
    user exits 3 — neither is taken for none."""
    try:
        with Connection(address, timeout=5.0) as connection:
            result = connection.request("hello")
    except SocketDenied as error:
        fail_not_running(error)  # a daemon may run there: never go on as if none did
    except DaemonNotRunning:
        return None
    except ProtocolError as error:
        if error.code == ErrorCode.BUSY.value:
            fail_protocol(error)
        return None
    return result if isinstance(result, dict) else None


def refuse(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(EXIT_REFUSED)


# --- daemon start / stop / restart / status ----------------------------------------------


__all__ = [
    "CONFIG_HELP",
    "NEW_PASSWORD_ENV",
    "PASSWORD_ENV",
    "AdminContext",
    "admin",
    "admin_context",
    "config_option",
    "read_password",
]
