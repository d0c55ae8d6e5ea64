"""``simple-risk admin logs``: the daemon's recent log, and ``--follow`` for new records.

The daemon keeps its recent records in memory and redacts secrets before they leave it; this
reads them over the socket (password, audited), so the admin needs no access to the log
files. Kept apart from :mod:`simple_risk.cli.admin`, whose commands change the daemon.
"""

from __future__ import annotations

from typing import Any

import click

from simple_risk.cli.admin import EXIT_CODES, LOG_LEVELS, admin, admin_context, config_option
from simple_risk.cli.status import stream_closed
from simple_risk.daemon.control.client import Connection, DaemonNotRunning


def _logs(follow: bool, level: str | None, lines: int, config_path: str | None) -> None:
    context = admin_context(config_path)
    args: dict[str, Any] = {"lines": lines, "follow": follow}
    if level is not None:
        args["level"] = level
    try:
        with context.errors(), Connection(context.address, timeout=None) as connection:
            connection.request("hello")
            result = connection.request(
                "logs", args, password=context.password(), operator=context.operator
            )
            for line in result.get("lines") or []:
                click.echo(line)
            if lines and not result.get("lines"):  # an empty screen: did it work?
                above = f" at {level} or above" if level is not None else ""
                click.echo(f"no log record{above} in the daemon's recent log", err=True)
            while follow:
                try:
                    message = connection.receive()
                except DaemonNotRunning:
                    stream_closed()  # exit 3, as engine monitor
                if message.get("stream") == "logs":
                    click.echo(str(message.get("line", "")))
    except KeyboardInterrupt:
        return


def _logs_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--follow", "-f", is_flag=True, help="Keep printing new lines."),
            click.option(
                "--level", type=click.Choice(LOG_LEVELS), help="Only this level and above."
            ),
            click.option(
                "--lines",
                "-n",
                type=click.IntRange(0, 100000),
                default=200,
                show_default=True,
                help="How many of the last records.",
            ),
            config_option(),
        ]
    ):
        function = option(function)
    return function


@admin.group("logs", invoke_without_command=True, epilog=EXIT_CODES)
@_logs_options
@click.pass_context
def logs_group(
    ctx: click.Context, follow: bool, level: str | None, lines: int, config_path: str | None
) -> None:
    """Print the daemon's execution, error and enforcement log (`logs view` is the same).

    With --follow it runs until Ctrl-C (exit 0), or until the daemon stops or restarts
    (exit 3, said on stderr).

    \b
    Examples:
      simple-risk admin logs --lines 50 --level warning
      simple-risk admin logs --follow
    """
    if ctx.invoked_subcommand is None:
        _logs(follow, level, lines, config_path)
    elif config_path is not None:  # `logs --config FILE view`: the sub-command asks it too
        admin_context(config_path)


@logs_group.command("view", epilog=EXIT_CODES)
@_logs_options
def logs_view(follow: bool, level: str | None, lines: int, config_path: str | None) -> None:
    """Print the daemon's log (the same as `admin logs`)."""
    _logs(follow, level, lines, config_path)
