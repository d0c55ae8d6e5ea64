"""``simple-risk engine history``: the day's fills, firings, enforcement, lockouts, admin
actions and alerts, oldest first.

The running daemon answers (docs/status-protocol.md, ``history``); after a stop or a crash,
``--config FILE`` or ``--data-dir DIR`` reads its store directly, through the same
``stored_history`` the daemon uses, so the day can always be reviewed. Kept apart from
:mod:`simple_risk.cli.status` (status and monitor read the live daemon only) because most of
it is about periods and the store.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from simple_risk.cli import engine, timeline
from simple_risk.cli.numbers import ACCOUNT_ID
from simple_risk.cli.output import show, stdout_console
from simple_risk.cli.status import (
    EXIT_REFUSED,
    address_of,
    config_option,
    config_or_exit,
    fail_not_running,
    fail_protocol,
    now_local,
    print_json,
    socket_option,
)
from simple_risk.daemon.control.client import Connection, DaemonNotRunning
from simple_risk.daemon.control.protocol import ProtocolError, plain

HISTORY_KINDS = ("fill", "firing", "lockout", "lockout_cleared", "intent", "admin", "alert")


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """``2h``, ``30m``, ``1d``, ``90s``, ``1w`` before ``now``, or an ISO date / datetime
    (a date is its local midnight; a datetime without an offset is local time)."""
    match = _RELATIVE.match(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        try:
            # in UTC: a named zone's own arithmetic is wall-clock time, an hour off across
            # a daylight-saving change
            back = now.astimezone(UTC) - timedelta(seconds=amount * _UNIT_SECONDS[unit])
            return back.astimezone(now.tzinfo)
        except OverflowError:
            message = f"{text!r} is too far back; give a date instead (2026-11-24)"
            raise ValueError(message) from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30m, 2h, 1d) nor an ISO date (2026-11-24)"
        ) from None
    if moment.tzinfo is not None:
        return moment
    try:
        return moment.astimezone()
    except (OverflowError, ValueError):  # 0001-01-01 local is year 0 in UTC
        raise ValueError(f"{text!r} is too far back; give a later date (2026-11-24)") from None


class SinceType(click.ParamType[datetime]):
    name = "2h|DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_since(str(value), now_local())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@engine.command()
@click.option(
    "--since",
    type=SinceType(),
    metavar="2h|DATE",
    default="24h",
    show_default=True,
    help="From this long ago (30m, 2h, 1d) or this date/time (2026-11-24, 2026-11-24T08:30).",
)
@click.option(
    "--until",
    type=SinceType(),
    metavar="2h|DATE",
    help="Up to this moment (same forms as --since).",
)
@click.option("--rule", metavar="ID", help="Only this rule.")
@click.option("--account", type=ACCOUNT_ID, metavar="ID", help="Only this account.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(HISTORY_KINDS),
    help="Only these kinds (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 100000),
    help="At most this many items (default 1000: the newest items of the period).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the daemon's answer as JSON.")
@config_option(
    help="The daemon's configuration: ask the daemon it names (its status_socket), whatever "
    "$SIMPLE_RISK_SOCKET says (--socket overrides it), and read its store when none runs.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Read the SQLite store in this data directory when no daemon runs.",
)
@socket_option
def history(
    since: datetime,
    until: datetime | None,
    rule: str | None,
    account: int | None,
    kinds: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    config_path: str | None,
    data_dir: Path | None,
    socket_address: str | None,
) -> None:
    """List recent fills with their P&L, firings, enforcement results, lockouts, admin
    actions and the daemon's alerts, oldest first, from the daemon's store.

    The running daemon answers; after a stop or a crash, give --config FILE (or --data-dir
    DIR) and the store is read directly, so the day can always be reviewed.

    \b
    Examples:
      simple-risk engine history                       # the last 24 hours
      simple-risk engine history --since 2h --kind firing --kind lockout
      simple-risk engine history --since 2026-11-24 --rule daily-realized-loss
      simple-risk engine history --config /etc/simple-risk/config.yaml

    Exit codes: 0 ok, 1 the daemon refused (or the store cannot be read), 3 no daemon is
    running (and no --config / --data-dir to read its store).
    """
    if until is not None and until <= since:
        raise click.BadParameter(
            f"{until.isoformat(timespec='seconds')} is not after --since "
            f"{since.isoformat(timespec='seconds')} (both count back from now: --since 2d "
            "--until 1d is yesterday)",
            param_hint="--until",
        )
    args: dict[str, Any] = {"since": since.isoformat()}
    if until is not None:
        args["until"] = until.isoformat()
    if rule is not None:
        args["rule"] = rule
    if account is not None:
        args["account"] = account
    if kinds:
        args["kinds"] = list(kinds)
    if limit is not None:
        args["limit"] = limit
    database: str | None = None
    configured: str | None = None
    if config_path is not None:
        config = config_or_exit(config_path)
        configured = str(config.status_socket)
        database = config.database
    elif data_dir is not None:
        database = f"sqlite:///{data_dir / 'simple-risk.db'}"
    try:
        with Connection(address_of(socket_address, configured)) as connection:
            result = connection.request("history", args)
    except DaemonNotRunning as exc:
        if database is None:
            fail_not_running(exc, hint=STORE_HINT)
        stored = _history_from_store(database, since, until, rule, account, kinds, limit)
        result = plain(stored)  # as the socket would have carried it
        click.echo(f"no daemon running: read from the store ({database})", err=True)
    except ProtocolError as exc:
        fail_protocol(exc)
    if as_json:
        print_json(result)
        return
    items = result.get("items") if isinstance(result, Mapping) else None
    show(stdout_console(), timeline.history_table(items or [], now_local()))
    kept = result.get("journal_kept_since") if isinstance(result, Mapping) else None
    if isinstance(kept, Mapping):
        for kept_account, kept_at in sorted(kept.items()):
            show(
                stdout_console(),
                Text(
                    f"The journal of account {kept_account} is kept from {kept_at}: its fills "
                    "before that were pruned (retention_days in the daemon's configuration); "
                    "firings, lockouts, enforcement and admin actions are all kept.",
                    style="yellow",
                ),
            )
    if isinstance(result, Mapping) and result.get("earlier_left_out"):
        from simple_risk.daemon.control.history import DEFAULT_HISTORY_LIMIT

        kept = limit or DEFAULT_HISTORY_LIMIT
        show(
            stdout_console(),
            Text(
                f"Only the newest {kept} items of this period are shown: earlier ones were "
                "left out (--limit N shows more, a later --since fewer).",
                style="yellow",
            ),
        )


STORE_HINT = "give --config FILE or --data-dir DIR to read its store without a daemon"


def _history_from_store(
    database: str,
    since: datetime,
    until: datetime | None,
    rule: str | None,
    account: int | None,
    kinds: tuple[str, ...],
    limit: int | None,
) -> dict[str, Any]:
    """What the daemon's ``history`` op answers, read from its store directly."""
    from simple_risk.daemon.control.history import DEFAULT_HISTORY_LIMIT, stored_history
    from simple_risk.store import Store, StoreError

    if database.startswith("sqlite:///"):
        path = Path(database[len("sqlite:///") :])
        try:
            there, readable = path.exists(), os.access(path, os.R_OK)
        except PermissionError:  # the daemon's data directory is closed to this user
            there, readable = True, False
        if not there:
            click.echo(f"no store at {path}: has the daemon run here?", err=True)
            sys.exit(EXIT_REFUSED)
        if not readable:
            click.echo(
                f"cannot read the store {path}: permission denied (it is the daemon's: read"
                " it as the daemon's user, or root)",
                err=True,
            )
            sys.exit(EXIT_REFUSED)
    try:
        with Store.open(database) as store:
            return stored_history(
                store, since, until, rule, account, kinds, limit or DEFAULT_HISTORY_LIMIT
            )
    except (StoreError, OSError) as exc:
        click.echo(f"cannot read the store {database}: {exc}", err=True)
        sys.exit(EXIT_REFUSED)


__all__ = ["HISTORY_KINDS", "history", "parse_since"]
