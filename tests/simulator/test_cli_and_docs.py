"""``simple-risk sim`` in a real process, driven by the exact curl walk-through of
docs/simulator.md, then stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the groups)
from simple_risk.daemon.wallclock import WALL_START_ENV

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def walkthrough() -> str:
    """Every ``sh`` block of docs/simulator.md, in order, as one script."""
    blocks = re.findall(r"```sh\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    return "\n".join(blocks)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
def test_the_docs_curl_walkthrough_runs_against_simple_risk_sim() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "simple_risk", "sim", "--port", "0", "--price-interval", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = [server.stdout.readline() for _ in range(10)]
        match = re.search(r"on port (\d+)", banner[0])
        assert match, banner
        port = match.group(1)
        assert any(f"http://127.0.0.1:{port}/hubs/user" in line for line in banner)
        assert any("demo-api-key" in line for line in banner)
        script = walkthrough().replace("127.0.0.1:8700", f"127.0.0.1:{port}")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert re.search(r'"orderId":\d{10},"success":true', out)
        assert '"type":1,"size":1,"averagePrice":21000.250000000' in out  # the position
        assert '"profitAndLoss":99.500000000' in out  # bought 21000.25, sold 21050
    finally:
        server.send_signal(signal.SIGINT)
        stdout, stderr = server.communicate(timeout=15)
    assert server.returncode == 0, stderr
    assert "simulator stopped" in stdout
    assert "Traceback" not in stderr


def test_a_busy_port_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "simple_risk", "sim", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "option",
    [
        ["--port", "99999"],
        ["--port", "-1"],
        ["--ping-interval", "0"],
        ["--ping-interval", "-5"],
        ["--token-lifetime", "-1"],
        ["--price-interval", "-1"],
    ],
)
def test_a_value_no_simulator_can_run_with_is_a_usage_error(option: list[str]) -> None:
    """Checked before anything listens: the command exits at once, naming the option."""
    result = CliRunner().invoke(cli, ["sim", *option])
    assert result.exit_code == 2, result.output
    assert option[0] in result.output and "Traceback" not in result.output


def test_legacy_flags_bring_older_shapes_back_and_a_wrong_name_is_a_usage_error() -> None:
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "simple_risk", "sim", "--port", "0"),
            *("--legacy", "quotes", "--legacy", "brackets"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = [server.stdout.readline() for _ in range(10)]
        assert any("shapes      older: brackets, quotes" in line for line in banner), banner
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=15)
    done = subprocess.run(
        [sys.executable, "-m", "simple_risk", "sim", "--port", "0", "--legacy", "snapshots"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "Invalid value for '--legacy'" in done.stderr and "Traceback" not in done.stderr


def test_a_pinned_wall_clock_stamps_the_simulators_fills_on_that_day() -> None:
    """A rehearsal pins the daemon's wall (SIMPLE_RISK_WALL_START) and the simulator's alike:
    a fill stamped on the real date would belong to another trading day than the daemon's,
    and the rehearsal's daily loss would never add up."""
    env = {**os.environ, WALL_START_ENV: "2027-01-15T16:59:00-06:00"}  # a Friday's close
    server = subprocess.Popen(
        [sys.executable, "-m", "simple_risk", "sim", "--port", "0", "--price-interval", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"on port (\d+)", server.stdout.readline())
        assert match
        base = f"http://127.0.0.1:{match.group(1)}"
        login = {"userName": "demo", "apiKey": "demo-api-key"}
        token = _post(f"{base}/api/Auth/loginKey", login)["token"]
        found = _post(f"{base}/api/Contract/search", {"searchText": "MNQ", "live": False}, token)
        order = {
            "accountId": 20100001,
            "contractId": found["contracts"][0]["id"],
            "type": 2,
            "side": 0,
            "size": 1,
        }
        assert _post(f"{base}/api/Order/place", order, token)["success"]
        search = {"accountId": 20100001, "startTimestamp": "2020-01-01T00:00:00Z"}
        (trade,) = _post(f"{base}/api/Trade/search", search, token)["trades"]
        assert trade["creationTimestamp"].startswith("2027-01-15T22:59")
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=15)


def _post(url: str, body: dict[str, object], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = json.load(answer)
    return result
