"""The ``simple-risk`` command line: one click group per part (rules, engine, admin, sim …).

Commands load lazily. A trader types ``simple-risk engine status`` many times a day, and the
daemon's own modules (the store, the simulator, aiohttp, SQLAlchemy) cost seconds to import; so
the root group and the ``engine`` group know each command's module and one-line help, import a
module only when one of its commands runs, and list ``--help`` from the table below without
importing anything. Each module still registers its commands with the usual click decorators
on import; a module that fails to import is a bug, so there is no optional loading.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from simple_risk import __version__


class LazyGroup(click.Group):
    """A group whose commands live in modules imported on first use.

    ``lazy`` maps a command name to the modules that register it (a group may be filled by
    several) and its one-line help, shown by ``--help`` without importing them.
    """

    def __init__(
        self, *args: Any, lazy: Mapping[str, tuple[Sequence[str], str]] | None = None, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is not None and not getattr(self, "_loaded_" + cmd_name, False):
            for module in entry[0]:
                importlib.import_module(module)
            setattr(self, "_loaded_" + cmd_name, True)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            # a typo: load every command, so click's "Did you mean …?" weighs them all, not
            # only those loaded so far
            for known in self.lazy:
                self.get_command(ctx, known)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            entry = self.lazy.get(name)
            if entry is not None:
                rows.append((name, entry[1]))
                continue
            command = self.commands.get(name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    lazy={
        "rules": (
            ("simple_risk.cli.rules", "simple_risk.cli.rules_test"),
            "Work with rulesets: lint, test, schema, facts.",
        ),
        "admin": (
            (
                "simple_risk.cli.admin",
                "simple_risk.cli.admin_rules",
                "simple_risk.cli.admin_logs",
                "simple_risk.cli.admin_daemon",
                "simple_risk.cli.admin_password",
                "simple_risk.cli.notify_test",
            ),
            "Change rules, clear lockouts, run the daemon.",
        ),
        "sim": (("simple_risk.cli.sim",), "Run a local ProjectX Gateway simulator."),
        "demo": (("simple_risk.cli.demo",), "Watch the daemon enforce a scripted trader."),
        "init": (("simple_risk.cli.init",), "Write a ruleset, config and overlay to edit."),
        "replay": (
            ("simple_risk.cli.replay",),
            "What a ruleset would have done on a recorded day.",
        ),
    },
)
@click.version_option(__version__, prog_name="simple-risk")
def cli() -> None:
    """simple-risk — a real-time risk manager for TopstepX accounts.

    Risk rules are YAML rulesets: lint them with `simple-risk rules lint`, test them with
    `simple-risk rules test`, and run a local ProjectX Gateway simulator with `simple-risk sim`.
    """


@cli.group(
    cls=LazyGroup,
    lazy={
        "run": (("simple_risk.cli.engine_run",), "Guard the configured accounts (the daemon)."),
        "status": (("simple_risk.cli.status",), "Positions, P&L against limits, lockouts."),
        "monitor": (("simple_risk.cli.status",), "Events, firings, enforcement as they happen."),
        "history": (("simple_risk.cli.history",), "Fills, firings, enforcement, admin, alerts."),
    },
)
def engine() -> None:
    """Run the risk daemon against TopstepX (or the simulator)."""


#: what writing the output meets on a full or failing disk (``cmd > file``): one line, not
#: a traceback ending in OSError
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def main() -> None:
    try:
        cli(prog_name="simple-risk")
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        # what is still buffered for stdout would fail again at exit: send it nowhere
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write(f"simple-risk: cannot write the output: {exc.strerror}\n")
        sys.exit(1)
