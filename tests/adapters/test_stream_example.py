"""``examples/stream.py --gateway URL`` against the simulator: accounts, events, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.adapters.simulator import Simulator
from simple_risk.engine.events import OrderSide, OrderType
from tests.adapters.conftest import client_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stream.py"

pytestmark = pytest.mark.timeout(60)


def test_stream_prints_accounts_events_and_quotes_until_ctrl_c(
    sim: Simulator, tmp_path: Path
) -> None:
    client = client_for(sim)
    account = client.search_accounts()[0].account_id
    contract = next(c.contract_id for c in client.available_contracts() if c.root == "MNQ")
    env = dict(os.environ, PROJECTX_USERNAME=sim.username, PROJECTX_API_KEY=sim.api_key)
    record = tmp_path / "day.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--gateway", sim.base_url, "--record", str(record)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 15
        while not any("HUB      user connected" in line for line in lines):
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        client.place_order(
            account, contract, order_type=OrderType.MARKET, side=OrderSide.BUY, size=1
        )
        while not (
            any(line.split()[1:2] == ["FILL"] for line in lines)
            and any("QUOTE" in line and "21111.25" in line for line in lines)
        ):
            assert time.monotonic() < deadline, lines
            # the example subscribes MNQ once it sees the order; live hubs push nothing on
            # subscribe, so the market keeps trading until a quote reaches it
            sim.set_price(contract, Decimal("21111.25"))
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(10)
        reader.join(5)
        client.close()
    text = "".join(lines)
    assert code == 0, text
    assert "ACCOUNT  20100001" in text and "ORDER" in text and "POSITION" in text
    assert "Traceback" not in text
    assert sim.api_key not in text
    assert record.read_text().count('"kind":"hub"') >= 4
    replayed = subprocess.run(
        [sys.executable, str(EXAMPLE), "--replay", str(record)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    live_fills = [line for line in lines if line.split()[1:2] == ["FILL"]]
    assert live_fills and all(line in replayed for line in live_fills), "same lines, same times"
    # piped into a reader that stops early (`… | head -1`): no traceback, exit 0
    piped = subprocess.run(
        f"{sys.executable} {EXAMPLE} --replay {record} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert len(piped.stdout.splitlines()) == 1
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr
