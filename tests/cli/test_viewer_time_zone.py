"""The times ``engine status`` and ``engine history`` print are the trader's wall-clock times:
in the machine's named time zone, each moment with the offset in force at that moment, so a
lockout that ends after a daylight-saving change reads as the hour the trader's clock will
show then, and yesterday's fills as the hour their clock showed then.

The trader's machine is pinned (``TZ``) and so is its wall clock, at instants around the
November change in Chicago (2026-11-01, 02:00 CDT → 01:00 CST).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner, Result

from simple_risk.cli import cli, timeline
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the groups)

from . import fixtures
from .fake_daemon import FakeDaemon, Handler
from .test_render import text_of

#: Friday 2026-10-30, 17:30 CDT: the evening after a daily-loss breach
FRIDAY_EVENING = datetime(2026, 10, 30, 22, 30, tzinfo=UTC)
#: Monday 2026-11-02, 09:00 CST: the first morning after the clocks went back
MONDAY_MORNING = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
#: the daily-loss lock of Monday's trading day ends at 17:00 CST
MONDAY_17_CST = "2026-11-02T23:00:00+00:00"


@pytest.fixture
def chicago(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="sr-tz-", dir="/tmp"))  # short: AF_UNIX paths
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def run_at(wall: datetime, socket_dir: Path, handlers: dict[str, Handler], *args: str) -> Result:
    daemon = FakeDaemon(socket_dir / "status.sock", handlers)
    try:
        with time_machine.travel(wall.timestamp(), tick=False):  # the zone stays TZ
            env = {"SIMPLE_RISK_SOCKET": str(daemon.path), "COLUMNS": "200"}
            return CliRunner().invoke(cli, list(args), env=env)
    finally:
        daemon.close()


def locked_until_monday(_: dict[str, Any]) -> dict[str, Any]:
    status = fixtures.scripted_status()
    status["now"] = FRIDAY_EVENING.isoformat()
    account = status["accounts"][0]
    account["lockouts"] = [
        {
            "rule": "daily-realized-loss",
            "scope": "account",
            "kind": "lock",
            "reason": "daily loss limit",
            "set_at": FRIDAY_EVENING.isoformat(),
            "ends_at": MONDAY_17_CST,
            "while": None,
            "remaining_s": (datetime.fromisoformat(MONDAY_17_CST) - FRIDAY_EVENING).total_seconds(),
        }
    ]
    return status


@pytest.mark.usefixtures("chicago")
def test_a_lock_seen_on_friday_in_summer_time_ends_monday_at_17_00_by_the_winter_clock(
    socket_dir: Path,
) -> None:
    result = run_at(FRIDAY_EVENING, socket_dir, {"status": locked_until_monday}, "engine", "status")
    assert result.exit_code == 0, result.output
    assert "Mon 17:00 CST" in result.stdout
    assert "18:00 CDT" not in result.stdout


@pytest.mark.usefixtures("chicago")
def test_fridays_fills_read_on_monday_at_the_hour_the_clock_showed_on_friday(
    socket_dir: Path,
) -> None:
    friday_breach = {
        "kind": "firing",
        "at": "2026-10-30T21:30:00+00:00",  # 16:30 CDT
        "account": 20100001,
        "rule": "daily-realized-loss",
        "summary": f"daily loss limit: locked until {MONDAY_17_CST}",
    }
    handlers: dict[str, Handler] = {"history": lambda _: {"items": [friday_breach]}}
    result = run_at(MONDAY_MORNING, socket_dir, handlers, "engine", "history", "--since", "4d")
    assert result.exit_code == 0, result.output
    assert "2026-10-30 16:30:00" in result.stdout
    assert "locked until 17:00 CST" in result.stdout


@pytest.mark.usefixtures("chicago")
def test_fridays_firing_in_mondays_status_names_the_summer_clock_it_was_read_on(
    socket_dir: Path,
) -> None:
    """The daemon ran over the weekend the clocks went back: on Monday, engine status still
    lists Friday's breach among the last firings, at 16:30 by Friday's clock (CDT) while the
    header says the times are in CST; the row names its zone."""

    def fridays_firing(_: dict[str, Any]) -> dict[str, Any]:
        status = fixtures.scripted_status()
        status["now"] = MONDAY_MORNING.isoformat()
        account = status["accounts"][0]
        account["lockouts"], account["pending"] = [], []
        account["firings"] = [
            {
                "at": "2026-10-30T21:30:00+00:00",  # Friday 16:30 CDT
                "rule": "daily-realized-loss",
                "severity": "critical",
                "text": "Account locked: daily-realized-loss",
            }
        ]
        return status

    result = run_at(MONDAY_MORNING, socket_dir, {"status": fridays_firing}, "engine", "status")
    assert result.exit_code == 0, result.output
    assert "times in CST" in result.stdout
    assert "2026-10-30 16:30:00 CDT" in result.stdout


def test_a_tz_that_names_no_zone_shows_utc_not_a_made_up_zone_name(
    socket_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the C library runs a machine with TZ=Foo on UTC and calls the zone "Foo"
    monkeypatch.setenv("TZ", "Foo")
    time.tzset()
    try:
        handlers: dict[str, Handler] = {"status": lambda _: fixtures.scripted_status()}
        result = run_at(fixtures.SCRIPTED_NOW, socket_dir, handlers, "engine", "status")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.exit_code == 0, result.output
    assert "times in UTC" in result.stdout and "Foo" not in result.stdout
    assert "opens Tue 14:30 UTC" in result.stdout  # 08:30 CST


@pytest.mark.usefixtures("chicago")
def test_since_an_hour_in_the_repeated_autumn_hour_is_one_hour_back(socket_dir: Path) -> None:
    second_0130 = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # 01:30 CST, the second 01:30
    daemon = FakeDaemon(socket_dir / "status.sock", {"history": lambda _: {"items": []}})
    try:
        with time_machine.travel(second_0130.timestamp(), tick=False):
            env = {"SIMPLE_RISK_SOCKET": str(daemon.path)}
            result = CliRunner().invoke(cli, ["engine", "history", "--since", "1h"], env=env)
        assert result.exit_code == 0, result.output
        since = datetime.fromisoformat(daemon.last("history")["args"]["since"])
    finally:
        daemon.close()
    assert since == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_a_history_across_the_clock_change_names_both_zones_in_its_title() -> None:
    monday = MONDAY_MORNING.astimezone(ZoneInfo("America/Chicago"))
    items = [
        {"kind": "fill", "at": "2026-10-30T21:30:00+00:00", "summary": "sell"},  # 16:30 CDT
        {"kind": "fill", "at": "2026-11-02T14:30:00+00:00", "summary": "buy"},  # 08:30 CST
    ]
    out = text_of(timeline.history_table(items, monday))
    assert "History (times in CDT/CST)" in out
    assert "History (times in CST)" in text_of(timeline.history_table(items[1:], monday))


def test_a_monitor_left_running_over_the_clock_change_names_the_new_zone_on_its_lines() -> None:
    """engine monitor names the zone once, in its banner, when it starts (Saturday, CDT); a
    line it prints on Monday is in CST and says so."""
    saturday = datetime(2026, 10, 31, 15, 0, tzinfo=UTC).astimezone(ZoneInfo("America/Chicago"))
    firing = {"type": "firing", "at": "2026-11-02T15:00:00+00:00", "text": "Order cancelled"}
    line = timeline.monitor_line(firing, saturday.tzinfo, banner=saturday).plain
    assert line.startswith("09:00:00 CST ")
    same = {"type": "firing", "at": "2026-10-31T15:00:05+00:00", "text": "Order cancelled"}
    assert timeline.monitor_line(same, saturday.tzinfo, banner=saturday).plain.startswith(
        "10:00:05  "
    )
