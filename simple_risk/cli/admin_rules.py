"""``simple-risk admin reload`` and ``admin config show|edit``: the running ruleset.

``config edit`` opens the ruleset the daemon runs in ``$EDITOR``, lints what the admin wrote
before anything is sent, and has the daemon write it and reload (audited); ``reload`` re-reads
the ruleset and overlays from disk. Kept apart from :mod:`simple_risk.cli.admin` (the group,
its password and socket handling, the lockouts) because editing a file is its own job.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from simple_risk.cli import admin_views, formatting
from simple_risk.cli.admin import EXIT_CODES, admin, admin_context, config_option
from simple_risk.cli.status import EXIT_REFUSED, fail_not_running, fail_protocol
from simple_risk.daemon.control.client import Connection, DaemonNotRunning
from simple_risk.daemon.control.protocol import ProtocolError


def _reload_report(result: Any) -> None:
    if not isinstance(result, Mapping):
        click.echo("reloaded")
        return
    click.echo("reloaded" if result.get("applied", True) else "not applied")
    for line in admin_views.reload_lines(result):
        click.echo(f"  {line}")


@admin.command("reload", epilog=EXIT_CODES)
@click.option("--reason", default="", help="Why, for the audit.")
@config_option()
def reload_command(reason: str, config_path: str | None) -> None:
    """Reload the ruleset and overlays from disk, hot.

    The daemon lints them first: on any error it refuses, prints each located problem and
    keeps the running ruleset. Otherwise it swaps atomically — facts, lockouts and the
    pending timers of unchanged rules are kept — and prints what changed per account.

    \b
    Example:
      simple-risk admin reload --reason "daily limit 500 -> 400"
    """
    _reload_report(admin_context(config_path).call("reload", {"reason": reason}))


@admin.group("config")
def config_group() -> None:
    """The daemon's ruleset: edit (lint, reload), show, reload."""


config_group.add_command(reload_command, "reload")


@config_group.command("show", epilog=EXIT_CODES)
@config_option()
def config_show(config_path: str | None) -> None:
    """Print the running ruleset file (as the daemon reads it).

    \b
    Example:
      simple-risk admin config show > running.yaml
    """
    result = admin_context(config_path).call("config_get")
    click.echo(str(result.get("text", "")), nl=False)


def _lint(text: str, filename: str) -> list[str]:
    from simple_risk.engine.dsl import analyse_text

    compilation = analyse_text(text, filename)
    return [p.format() for p in compilation.problems if p.severity == "error"]


def _edit(text: str, suffix: str) -> str | None:
    """``text`` in ``$VISUAL`` / ``$EDITOR`` (else vi); the edited text, or None when the
    editor saved something that is not UTF-8 text (a ruleset is)."""
    handle, name = tempfile.mkstemp(prefix="simple-risk-ruleset-", suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            click.edit(filename=str(path))
        except click.ClickException as exc:
            click.echo(f"cannot open an editor: {exc.format_message()}", err=True)
            sys.exit(EXIT_REFUSED)
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return None
    finally:
        path.unlink(missing_ok=True)


def _again(interactive: bool) -> bool:
    return interactive and click.confirm("Edit again?", default=True)


@config_group.command("edit", epilog=EXIT_CODES)
@click.option("--reason", default="", help="Why, for the audit.")
@config_option()
def config_edit(reason: str, config_path: str | None) -> None:
    """Edit the running ruleset in $VISUAL / $EDITOR, lint on save, reload on success.

    The daemon sends its ruleset file; it opens in your editor. Unchanged → nothing happens.
    Otherwise it is linted here (located errors; in a terminal you may edit again) and then
    sent back: the daemon lints it once more with the account overlays, writes the file
    atomically and reloads. A refused text leaves the file and the running ruleset as they
    were.

    \b
    Example:
      EDITOR=nano simple-risk admin config edit --reason "block RTY"
    """
    context = admin_context(config_path)
    current = context.call("config_get")
    path = str(current.get("path", "ruleset.yaml"))
    original = str(current.get("text", ""))
    interactive = sys.stdin.isatty()
    text = original
    while True:
        edited = _edit(text, Path(path).suffix or ".yaml")
        if edited is None:
            click.echo(f"{path}: the edited text is not UTF-8 text", err=True)
            if _again(interactive):
                continue  # from the text before this edit: the editor's bytes are unusable
            click.echo("not saved (the running ruleset is kept)", err=True)
            sys.exit(EXIT_REFUSED)
        text = edited
        if text == original:
            click.echo("no changes; nothing reloaded")
            return
        problems = _lint(text, path)
        if problems:
            for line in problems:
                click.echo(line, err=True)
            if _again(interactive):
                continue
            click.echo("not saved: the ruleset has errors (the running one is kept)", err=True)
            sys.exit(EXIT_REFUSED)
        try:
            with Connection(context.address) as connection:
                # the password first: a line over 64 KiB (a long ruleset) is read only on a
                # connection where an admin operation has succeeded
                connection.request(
                    "auth_check", password=context.password(), operator=context.operator
                )
                result = connection.request(
                    "config_put",
                    {"text": text, "reason": reason},
                    password=context.password(),
                    operator=context.operator,
                )
        except DaemonNotRunning as error:
            fail_not_running(error, config_path=context.config_path)
        except ProtocolError as error:
            if error.code == "refused" and error.problems and _again(interactive):
                for problem in error.problems:
                    click.echo(formatting.format_problem(problem), err=True)
                continue
            fail_protocol(error)
        _reload_report(result)
        return
