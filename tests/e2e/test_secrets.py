"""Secrets never reach the output (issue #6 item 7): grep everything a full run printed.

The daemon runs as ``simple-risk engine run`` at DEBUG level (signalrcore logs its token and
``Authorization`` header there) with ``--log-format json``, enforces one breach, and is
stopped with SIGTERM. Its stdout, stderr and rotating log file must not contain the API key,
the admin password, or any session token the simulator issued.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import bcrypt

from simple_risk.adapters.simulator import AccountSpec, RateLimits, Simulator
from simple_risk.daemon.control.client import request
from simple_risk.daemon.control.protocol import ProtocolError
from simple_risk.daemon.password import write_password_hash
from simple_risk.daemon.sim import Trader, wait_until
from tests.pinned import pinned_env, pinned_wall

ACCOUNT = 20100001
API_KEY = "secret-api-key-5f1e9c"
ADMIN_PASSWORD = "correct horse battery staple"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")


def test_a_full_run_prints_no_secret(tmp_path: Path) -> None:
    sim = Simulator(
        port=0,
        ping_interval=0.3,
        price_interval=None,
        api_key=API_KEY,
        accounts=[AccountSpec(ACCOUNT, "SECRETS-50K", Decimal(50000))],
        rate_limits=RateLimits(general=(10000, 60.0), bars=(50, 30.0)),
        clock=pinned_wall(),
    ).start()
    trader = Trader(sim)
    admin_hash = bcrypt.hashpw(ADMIN_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    write_password_hash(tmp_path / "admin-password.bcrypt", admin_hash)
    socket_path = tmp_path / "status.sock"
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"username: demo\napi_key: {API_KEY}\n", encoding="utf-8")
    secrets.chmod(0o600)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"gateway: {sim.base_url}\n"
        "credentials: {file: secrets.yaml}\n"
        f"accounts: [{ACCOUNT}]\n"
        "data_dir: data\nlog_dir: log\n"
        f"status_socket: {socket_path}\n"
        "timing: {tick_interval: 0.2, reconcile_after_enforcement: 0.3}\n",
        encoding="utf-8",
    )
    status = tmp_path / "data" / "status.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simple_risk",
            "engine",
            "run",
            "--config",
            str(config),
            "--log-format",
            "json",
            "--log-level",
            "debug",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=pinned_env(sim.clock, {**os.environ, "SR_ADMIN_PASSWORD": ADMIN_PASSWORD}),
    )
    try:
        assert wait_until(status.exists, 30.0), "the daemon did not start"
        trader.buy(ACCOUNT, "RTY")
        assert wait_until(lambda: trader.size(ACCOUNT) == 0, 15.0), "no enforcement"
        # the admin password travels to the daemon (right and wrong) and must not come back
        address = str(socket_path)
        assert request("auth_check", address=address, password=ADMIN_PASSWORD) == {}
        try:
            request("auth_check", address=address, password=ADMIN_PASSWORD + " typo")
        except ProtocolError as exc:
            assert exc.code == "auth_failed"
        else:
            raise AssertionError("a wrong password was accepted")
        answers = json.dumps(
            [request(op, address=address) for op in ("hello", "status", "history")]
        )
        assert ADMIN_PASSWORD not in answers and API_KEY not in answers
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
        trader.close()
        sim.stop()
    assert process.returncode == 0, stderr.decode()[-2000:]
    logs = [stdout.decode(), stderr.decode()]
    logs += [p.read_text() for p in (tmp_path / "log").glob("*.log*")]
    everything = "\n".join(logs)
    assert "Position/closeContract" in everything  # the run did log its enforcement
    assert "***" in everything  # and secrets were there to redact (debug logs the token)
    for line in stderr.decode().splitlines():
        assert isinstance(json.loads(line), dict)  # --log-format json: one object per line
    assert API_KEY not in everything
    assert ADMIN_PASSWORD not in everything
    assert not JWT.findall(everything), "a session token was printed"
