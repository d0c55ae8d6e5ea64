"""``simple-risk demo`` — the README's first command — runs offline and enforces every breach."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.cli.demo import calls_summary, run_demo
from tests.pinned import pinned_wall


def test_the_demo_enforces_every_breach_and_exits_0(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, no_color=True)
    status = run_demo(console, grace=1.0, data_dir=tmp_path, wall=pinned_wall())
    text = out.getvalue()
    assert status == 0, text
    for shown in (
        "no-stop-loss-grace",
        "symbol-blocks",
        "max-contracts",
        "daily-realized-loss",
        "Position/closeContract",
        "Position/partialCloseContract",
        "Rules that fired",
        "demo finished: every breach was enforced.",
    ):
        assert shown in text, shown
    # a cancel that finds its order already filled is a success, in every line and count
    cancels = [line for line in text.splitlines() if "Order/cancel" in line]
    assert cancels and not [line for line in cancels if "refused" in line]
    assert "already gone" in text
    # net P&L (after fees) with cents, and tickers — never ProjectX's EP
    assert "net P&L $-" in text and "Daily loss" in text
    assert "closeContract ES " in text and "CON.F.US.EP" not in text


def test_the_calls_summary_counts_an_order_already_gone_as_a_success() -> None:
    outcomes = ["ok", "already", "already", "gave_up: Order/place failed", "ok"]
    assert calls_summary(outcomes) == (
        "[bold]5[/] enforcement calls (4 succeeded, 2 of them found the target already gone)"
    )
    assert calls_summary(["ok"]) == "[bold]1[/] enforcement calls (1 succeeded)"


def test_the_demo_command_is_registered() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--grace" in result.output


def test_keep_running_leaves_the_daemon_up_for_a_second_terminal(tmp_path: Path) -> None:
    """``demo --keep-running``: after the story, ``engine status`` from another terminal sees
    the same daemon (here the hold asks it through the socket, then lets the demo end)."""
    from simple_risk.daemon.control.client import Connection
    from simple_risk.daemon.runtime import Daemon

    seen: list[object] = []

    def hold(daemon: Daemon) -> None:
        assert daemon.server is not None
        with Connection(str(daemon.server.path)) as connection:
            seen.append(connection.request("status"))

    out = io.StringIO()
    console = Console(file=out, width=120, no_color=True)
    status = run_demo(
        console,
        grace=1.0,
        data_dir=tmp_path,
        status_socket=tmp_path / "s.sock",
        wall=pinned_wall(),
        hold=hold,
    )
    assert status == 0, out.getvalue()
    assert "waiting 1 s: no-stop-loss-grace" in out.getvalue()
    [answer] = seen
    assert isinstance(answer, dict)
    assert {a["id"] for a in answer["accounts"]} == {20100001, 20100002}
