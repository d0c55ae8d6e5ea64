"""The answers of the ``admin`` commands that are more than one line: a reload's changes
per account, and ``admin daemon status`` (the daemon's hello).

Kept apart from :mod:`~simple_risk.cli.admin`, which talks to the daemon and decides exit
codes, so the wording can be tested from JSON alone like every other screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from simple_risk.cli.formatting import NONE, clock, format_duration, plain, seconds_since


def changes_lines(changes: object) -> list[str]:
    """A reload's ``changes`` per account as plain lines; ``["no changes"]`` when none."""
    lines: list[str] = []
    if not isinstance(changes, Mapping):
        return ["no changes"]
    for account, change in changes.items():
        if not isinstance(change, Mapping):
            continue
        parts: list[str] = []
        for key in ("added", "removed", "changed", "enabled", "disabled"):
            rules = change.get(key) or []
            if rules:
                parts.append(f"{key} {', '.join(map(str, rules))}")
        params = change.get("params") or {}
        if isinstance(params, Mapping):
            for name, pair in params.items():
                if isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2:
                    parts.append(f"param {name} {plain(pair[0])} → {plain(pair[1])}")
                else:
                    parts.append(f"param {name} {plain(pair)}")
        if parts:
            lines.append(f"account {account}: " + "; ".join(parts))
    return lines or ["no changes"]


def reload_lines(result: Mapping[str, Any]) -> list[str]:
    """Everything a reload's answer says, one line each: the changes per account, rules no
    longer mandatory, the params an overlay keeps, what lint warns of, and the settings
    that wait for a restart (``admin reload`` prints them; a SIGHUP reload logs them)."""
    return [
        *changes_lines(result.get("changes")),
        *mandatory_lines(result.get("mandatory_dropped")),
        *overlay_lines(result.get("overlay_params")),
        *warning_lines(result.get("warnings")),
        *restart_lines(result.get("restart_needed")),
    ]


def restart_lines(settings: object) -> list[str]:
    """A reload's ``restart_needed``: configuration settings changed in the file that only a
    restart applies (a new account in ``accounts:`` is not guarded until then)."""
    if not isinstance(settings, Sequence) or isinstance(settings, str) or not settings:
        return []
    return [
        f"NOT applied until the daemon restarts: {', '.join(map(str, settings))} (the running"
        " daemon goes on with their old values; restart it: simple-risk admin daemon restart"
        ' --config FILE --reason "…", or sudo systemctl restart simple-risk)'
    ]


def mandatory_lines(dropped: object) -> list[str]:
    """A reload's ``mandatory_dropped``: rules it kept but no longer mandatory (the engine's
    changes leave the flag out, and "no changes" alone would hide it)."""
    lines: list[str] = []
    if not isinstance(dropped, Mapping):
        return lines
    for account, rules in dropped.items():
        if isinstance(rules, Sequence) and not isinstance(rules, str):
            lines += [
                f"account {account}: {rule} is no longer mandatory (a reload may now disable it)"
                for rule in rules
            ]
    return lines


def overlay_lines(held: object) -> list[str]:
    """A reload's ``overlay_params``: each param an account's overlay keeps at a value of
    its own (``[ruleset's, account's]``), so a limit changed in the ruleset that does not
    reach that account is said, not left behind "no changes"."""
    lines: list[str] = []
    if not isinstance(held, Mapping):
        return lines
    for account, params in held.items():
        if not isinstance(params, Mapping):
            continue
        for name, pair in params.items():
            if isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2:
                lines.append(
                    f"account {account}: its overlay keeps {name} at {plain(pair[1])} "
                    f"(the ruleset: {plain(pair[0])})"
                )
    return lines


def warning_lines(warnings: object) -> list[str]:
    """A reload's ``warnings`` (what ``rules lint`` warns of in the ruleset and overlays) as
    lint prints them: ``FILE:LINE:COL: warning: MESSAGE (hint) (check)``."""
    lines: list[str] = []
    if not isinstance(warnings, Sequence) or isinstance(warnings, str):
        return lines
    for warning in warnings:
        if not isinstance(warning, Mapping):
            continue
        rule = f'rule "{warning["rule"]}": ' if warning.get("rule") else ""
        hint = f"; {warning['hint']}" if warning.get("hint") else ""
        check = f" ({warning['check']})" if warning.get("check") else ""
        lines.append(
            f"{warning.get('file')}:{warning.get('line')}:{warning.get('column')}: warning: "
            f"{rule}{warning.get('message')}{hint}{check}"
        )
    return lines


def hello_view(result: Mapping[str, Any], now: datetime) -> Table:
    """``admin daemon status``: pid, uptime, accounts, ruleset, socket."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    ruleset = result.get("ruleset") or {}
    rows: list[tuple[str, RenderableType]] = [
        ("state", Text("running", style="bold green")),
        ("pid", plain(result.get("pid"))),
        ("started", clock(result.get("started_at"), now)),
        ("uptime", format_duration(seconds_since(result.get("started_at"), now))),
        ("accounts", ", ".join(map(str, result.get("accounts") or [])) or NONE),
        ("ruleset", f"{plain(ruleset.get('name'))} ({plain(ruleset.get('path'))})"),
        ("socket", plain(result.get("socket"))),
        (
            "run by",
            "systemd (restarted whenever it ends, but for admin daemon stop)"
            if result.get("service") == "systemd"
            else "hand (engine run or admin daemon start: nothing restarts it)",
        ),
        ("admin password", "set" if result.get("admin_password_set") else "NOT SET"),
        ("protocol", plain(result.get("version"))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


__all__ = [
    "changes_lines",
    "hello_view",
    "mandatory_lines",
    "overlay_lines",
    "reload_lines",
    "restart_lines",
    "warning_lines",
]
