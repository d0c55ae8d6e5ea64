"""``simple-risk replay FILE… --ruleset R``: what a ruleset would have done on a recorded day.

The what-if before changing a limit: record a day with ``engine run --record DIR``, then run
any ruleset (an overlay, ``--set`` param overrides) over it and read what would have fired,
when, and what would have been enforced. Nothing touches a gateway. Every problem — a missing
or corrupt recording, a ruleset with mistakes, a bad ``--set`` or ``--tz`` — is one message
and exit status 1 (2 for a usage mistake), never a traceback. See docs/replay.md.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from simple_risk.cli import cli
from simple_risk.cli.localzone import viewer_zone
from simple_risk.cli.numbers import ACCOUNT_ID, FiniteFloatRange
from simple_risk.engine.dsl import RulesetError, load_ruleset
from simple_risk.engine.dsl.yamlload import load_document
from simple_risk.engine.model import Ruleset
from simple_risk.whatif.runner import RecordingError, replay_files
from simple_risk.whatif.words import report_json, report_lines


def _zone(name: str | None) -> tzinfo:
    """``--tz`` (an IANA name), else the viewer's local zone (localzone.py: ``$TZ``, else
    the system's ``/etc/localtime``). A named zone, not today's offset: a summer recording
    replayed in winter still shows summer time."""
    if name is not None:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.BadParameter(
                f"unknown time zone {name!r} (an IANA name such as America/Chicago or UTC)",
                param_hint="--tz",
            ) from None
    return viewer_zone()


def _params(settings: tuple[str, ...]) -> dict[str, object]:
    """``--set name=value`` pairs; each value is read as YAML (``400``, ``5m``, ``{ES: 3}``)."""
    params: dict[str, object] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f"{setting!r} is not NAME=VALUE (e.g. daily_loss_limit=400)", param_hint="--set"
            )
        if not text.strip():
            params[name.strip()] = None  # said to be empty where the param is checked
            continue
        # read as the ruleset file reads its params (6e2 is 600, 17:00 no sexagesimal 1020)
        document, problems = load_document(text, "--set")
        if document is None or problems:
            raise click.BadParameter(
                f"the value of {name.strip()!r} is not readable: {text!r}", param_hint="--set"
            )
        params[name.strip()] = document.data
    return params


def _refuse_what_the_overlay_sets(overlay: Path | None, params: dict[str, object]) -> None:
    """The overlay's params win over ``--set`` (as in the daemon, the account's own values
    come last): a ``--set`` of a param the overlay sets would be replayed at the overlay's
    value, a what-if of a limit that was never tried. Refused instead."""
    if overlay is None or not params:
        return
    try:
        text = overlay.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return  # loading the ruleset says what is wrong with the file
    document, _ = load_document(text, str(overlay))
    data = document.data if document is not None else None
    held = data.get("params") if isinstance(data, dict) else None
    if not isinstance(held, dict):
        return
    for name in params:
        if name in held:
            raise click.BadParameter(
                f"{name}: the overlay {overlay} sets it too, and its value would be "
                f"replayed ({name}: {held[name]!r}); change it in a copy of the overlay, or "
                "leave --overlay out",
                param_hint="--set",
            )


def _ruleset(path: Path, overlay: Path | None, params: dict[str, object]) -> Ruleset:
    try:
        return load_ruleset(path, params=params or None, overlay=overlay)
    except RulesetError as problems:
        for problem in problems.problems:
            click.echo(problem.format(), err=True)
        if not problems.problems:
            click.echo(f"simple-risk: cannot load the ruleset {path}", err=True)
        raise SystemExit(1) from None


def _no_such_account(
    recordings: tuple[Path, ...], ruleset: Ruleset, account: int, tick: float
) -> None:
    """A mistyped ``--account`` replays nothing; "Nothing would have fired" would read as a
    limit that holds. Say so, with the accounts the recording does hold, and exit 1."""
    every = replay_files(list(recordings), ruleset, tick=timedelta(seconds=tick))
    held = ", ".join(str(owner) for owner in sorted(every.accounts)) or "none"
    click.echo(
        f"simple-risk: account {account} has no event in the recording "
        f"(its accounts: {held}); nothing was replayed",
        err=True,
    )
    raise SystemExit(1)


@cli.command(short_help="What a ruleset would have done on a recorded day (a what-if).")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--ruleset",
    "ruleset_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The ruleset to run over the recording (any ruleset, e.g. rulesets/topstep.yaml).",
)
@click.option(
    "--overlay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An account overlay applied to the ruleset (params, enable, disable, added rules).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a ruleset param for this replay (repeatable): --set daily_loss_limit=400.",
)
@click.option(
    "--account", type=ACCOUNT_ID, help="Only this account's events (default: every account)."
)
@click.option(
    "--tz",
    "tz_name",
    metavar="ZONE",
    help="Show times in this IANA time zone (default: $TZ, else the system's zone).",
)
@click.option(
    "--tick",
    type=FiniteFloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between clock ticks, as the daemon's timing.tick_interval (at least 0.05).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def replay(
    recordings: tuple[Path, ...],
    ruleset_path: Path,
    overlay: Path | None,
    settings: tuple[str, ...],
    account: int | None,
    tz_name: str | None,
    tick: float,
    as_json: bool,
) -> None:
    """Replay recorded days (RECORDINGS: files or directories written by `engine run --record`)
    through a ruleset and say what would have fired and been enforced.

    Engine time is each message's recorded receive time, so the result is the same on every
    run. Nothing is sent to any gateway: this is a what-if, for a trader or an admin about to
    change a limit.

    \b
    simple-risk replay examples/recordings/2026-08-19-mnq-es.jsonl \\
        --ruleset rulesets/topstep.yaml --set daily_loss_limit=400 \\
        --tz America/Chicago
    """
    zone = _zone(tz_name)
    params = _params(settings)
    _refuse_what_the_overlay_sets(overlay, params)
    ruleset = _ruleset(ruleset_path, overlay, params)
    try:
        report = replay_files(
            list(recordings), ruleset, account=account, tick=timedelta(seconds=tick)
        )
    except RecordingError as error:
        click.echo(f"simple-risk: {error}", err=True)
        raise SystemExit(1) from None
    if account is not None and account not in report.accounts:
        _no_such_account(recordings, ruleset, account, tick)
    if as_json:
        click.echo(json.dumps(report_json(report, ruleset.name), indent=2))
    else:
        # click drops the colour by itself when stdout is not a terminal
        colour = False if os.environ.get("NO_COLOR") else None
        for line, style in report_lines(report, zone, ruleset.name):
            if style == "bold":
                line = click.style(line, bold=True)
            elif style:
                line = click.style(line, fg=style)
            click.echo(line, color=colour)
    sys.exit(0)


__all__ = ["replay"]
