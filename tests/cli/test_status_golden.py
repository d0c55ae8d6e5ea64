"""``engine status`` for a scripted account, pinned line for line: what a trader reads.

The daemon is the stand-in server answering a scripted ``status``; the trader's terminal is
pinned (America/Chicago, 100 columns, no colour) and so is "now", so the output is the same
on every machine and every day. The golden file is read by people: regenerate it with
``UPDATE_GOLDEN=1 pytest tests/cli/test_status_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the groups)
from simple_risk.cli import status as status_command

from . import fixtures
from .fake_daemon import FakeDaemon

GOLDEN = Path(__file__).resolve().parent / "status.expected"
WIDTH = 100


@pytest.fixture
def chicago_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The trader's machine: local time America/Chicago, a 100-column terminal, the clock
    at the scripted moment."""
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    monkeypatch.setattr(status_command, "now_local", lambda: fixtures.SCRIPTED_NOW.astimezone())
    monkeypatch.setattr(
        status_command,
        "stdout_console",
        lambda: Console(width=WIDTH, color_system=None, highlight=False, soft_wrap=False),
    )
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def daemon() -> Iterator[FakeDaemon]:
    directory = Path(tempfile.mkdtemp(prefix="sr-golden-", dir="/tmp"))  # short AF_UNIX path
    fake = FakeDaemon(directory / "status.sock", {"status": lambda _: fixtures.scripted_status()})
    yield fake
    fake.close()
    shutil.rmtree(directory, ignore_errors=True)


def status_output(daemon: FakeDaemon) -> str:
    result = CliRunner().invoke(
        cli, ["engine", "status"], env={"SIMPLE_RISK_SOCKET": str(daemon.path)}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.usefixtures("chicago_terminal")
def test_engine_status_of_the_scripted_account_is_the_golden_file(daemon: FakeDaemon) -> None:
    out = status_output(daemon)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.usefixtures("chicago_terminal")
def test_engine_status_speaks_the_traders_words(daemon: FakeDaemon) -> None:
    out = status_output(daemon)
    # limits by what they protect, never the rule expression (that is --explain's job)
    for label in ("Contracts open", "Daily loss", "Trades per hour"):
        assert label in out
    for expression in ("params.", "day.realized_pnl", "trades.count", "account.open_contracts"):
        assert expression not in out
    # tickers, never ProjectX roots
    assert "ES " in out and "EP" not in out
    # money with cents and a dollar sign, quantities with their unit
    assert "$-420.40" in out and "$-336.90" in out and "$-48.40" in out
    assert "-420.4 " not in out and "-48.4 " not in out
    assert "1.2 lots of 5" in out and "1 contract " in out and "2 contracts" in out
    assert "7 trades" in out and "4 trades" in out
    # one zone, the trader's, named; the daemon's UTC stamps never show
    assert "times in CST" in out
    assert set(re.findall(r"\b(?:UTC|CST|CDT|EST|CET)\b", out)) == {"CST"}
    assert "+00:00" not in out and "23:15" not in out
    # the market's state, and a title that agrees with the panel
    assert "rth closed, opens Tue 08:30 CST (in 15h 14m)" in out
    assert "account 20100001 — can trade, except RTY" in out
    assert "50K-EVAL-1 · can trade, except RTY" in out


def test_the_scripted_clock_is_pinned_not_read() -> None:
    """The golden never depends on the real date: "now" is the fixture's moment."""
    assert datetime.fromisoformat("2026-11-23T23:15:02+00:00") == fixtures.SCRIPTED_NOW
