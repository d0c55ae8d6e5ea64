"""``engine run`` as a systemd service: READY once guarding, watchdog pings, SIGHUP reloads
(lint first, audited), STOPPING on the way out, and owner-only files whatever the umask.

The service test runs a real ``engine run`` subprocess against the simulator and plays
systemd's part with a datagram socket of its own (``NOTIFY_SOCKET``).
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.daemon.service import Notifier, owner_only
from simple_risk.daemon.sim import wait_until
from simple_risk.store import Store
from tests.daemon.conftest import ACCOUNT, ruleset_text
from tests.pinned import pinned_env, pinned_wall


class FakeSystemd:
    """The receiving end of ``NOTIFY_SOCKET``: every datagram the daemon sent, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages

    def saw(self, field: str) -> bool:
        return any(field in message.splitlines() for message in self.drain())

    def count(self, field: str) -> int:
        return sum(field in message.splitlines() for message in self.drain())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(short_dir: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(short_dir / "notify.sock")
    yield fake
    fake.close()


# -- the notify protocol --------------------------------------------------------------------------


def test_outside_systemd_every_notification_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert notifier.ready("guarding") is False


def test_notifications_reach_the_socket_as_key_value_lines(systemd: FakeSystemd) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "4000000"})
    assert notifier.watchdog_interval == 2.0
    assert notifier.ready("guarding 1 account(s)")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert systemd.drain() == [
        "READY=1\nSTATUS=guarding 1 account(s)",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_an_abstract_notify_socket_is_used_too() -> None:
    name = f"simple-risk-test-{os.getpid()}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(b"\0" + name.encode())
    receiver.settimeout(2)
    try:
        assert Notifier({"NOTIFY_SOCKET": f"@{name}"}).watchdog()
        assert receiver.recv(100) == b"WATCHDOG=1"
    finally:
        receiver.close()


def test_a_watchdog_meant_for_another_process_is_not_ours() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}
    assert Notifier(env).watchdog_interval is None


def test_owner_only_tightens_the_umask_and_the_daemons_directories(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    previous = os.umask(0o022)
    try:
        owner_only(data, tmp_path / "missing")
        (data / "simple-risk.db").write_text("x")
        assert stat.S_IMODE((data / "simple-risk.db").stat().st_mode) == 0o600
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
    finally:
        os.umask(previous)


# -- the real daemon ------------------------------------------------------------------------------


class ServiceRun:
    """A real ``engine run --config`` subprocess on a simulator, systemd played by a socket."""

    def __init__(
        self, directory: Path, systemd: FakeSystemd, accounts: tuple[int, ...] = (ACCOUNT,)
    ) -> None:
        self.sim = Simulator(
            port=0,
            seed=3,
            ping_interval=0.3,
            price_interval=None,
            rate_limits=RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
            clock=pinned_wall(),
        ).start()
        self.ruleset = directory / "ruleset.yaml"
        self.ruleset.write_text(ruleset_text(), encoding="utf-8")
        config = directory / "config.yaml"
        config.write_text(
            f"gateway: {self.sim.base_url}\n"
            "credentials:\n  username: demo\n  api_key: ${SR_TEST_API_KEY}\n"
            f"accounts: [{', '.join(map(str, accounts))}]\n"
            "ruleset: ruleset.yaml\n"
            "data_dir: data\n"
            "log_dir: log\n"
            "status_socket: s.sock\n"
            "timing: {tick_interval: 0.25, reconcile_interval: 5, snapshot_interval: 2,"
            " ready_after: 3}\n",
            encoding="utf-8",
        )
        self.log_file = directory / "log" / "simple-risk.log"
        env = pinned_env(self.sim.clock, {**os.environ, "SR_TEST_API_KEY": self.sim.api_key})
        env.update(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC="600000")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simple_risk", "engine", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            umask=0o022,  # a careless shell: the daemon must still keep its files to itself
        )

    def output(self) -> str:
        """Everything the daemon printed (its console log); call after it exited."""
        return self.process.stdout.read().decode() if self.process.stdout else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.sim.stop()


def test_engine_run_as_a_notify_service_reloads_on_sighup_and_stops_cleanly(
    short_dir: Path, systemd: FakeSystemd
) -> None:
    run = ServiceRun(short_dir, systemd)
    process, ruleset, log_file = run.process, run.ruleset, run.log_file
    try:
        assert wait_until(lambda: systemd.saw("READY=1"), 30.0), "no READY=1"
        assert wait_until(lambda: systemd.count("WATCHDOG=1") >= 2, 5.0), "no watchdog pings"
        assert wait_until(lambda: "startup heap settled" in log_file.read_text(), 5.0)

        ruleset.write_text(ruleset_text(max_contracts=4), encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: systemd.count("READY=1") >= 2, 10.0), "no READY after reload"
        assert systemd.saw("RELOADING=1")

        ruleset.write_text("rules: [{id: broken", encoding="utf-8")  # lint refuses it
        process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: systemd.count("READY=1") >= 3, 10.0)
        assert process.poll() is None, "a refused reload must not stop the daemon"

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert systemd.saw("STOPPING=1")
    finally:
        run.close()
    output = run.output()
    assert "SIGHUP reload refused" in output, output[-3000:]
    # each problem of the refused ruleset is a located line, as `rules lint` prints it
    assert f"{ruleset}:1:20: YAML: expected ','" in output, output[-3000:]
    # the operator can tell the stop and the reloads they asked for from a crash, on the
    # console and in the daemon's log
    for text in (output, log_file.read_text(encoding="utf-8")):
        assert text.count("received SIGHUP: reloading the ruleset") == 2, text[-3000:]
        assert "WARNING" in _line_of(text, "received SIGTERM: stopping")
    data = short_dir / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [*data.iterdir(), *(short_dir / "log").iterdir()]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    with Store.open(f"sqlite:///{data / 'simple-risk.db'}") as store:
        audits = [(a.action, a.who, a.result.split(":")[0]) for a in store.admin_actions()]
    assert audits == [
        ("reload", f"SIGHUP from the daemon's user (uid {os.getuid()})", "applied"),
        ("reload", f"SIGHUP from the daemon's user (uid {os.getuid()})", "refused"),
    ]


def test_a_sighup_reload_logs_what_admin_reload_prints(
    short_dir: Path, systemd: FakeSystemd
) -> None:
    """`systemctl reload simple-risk` after adding a setting only a restart applies (here
    the timing) logged "SIGHUP reload applied (topstep-50k)" and no more: the changes, and
    that the setting waits for a restart, were said only to `admin reload`."""
    run = ServiceRun(short_dir, systemd)
    process, log_file = run.process, run.log_file
    config = short_dir / "config.yaml"
    try:
        assert wait_until(lambda: systemd.saw("READY=1"), 30.0), "no READY=1"
        run.ruleset.write_text(ruleset_text(max_contracts=4), encoding="utf-8")
        config.write_text(config.read_text().replace("tick_interval: 0.25", "tick_interval: 0.5"))
        process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: systemd.count("READY=1") >= 2, 10.0), "no READY after reload"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        run.close()
    text = log_file.read_text(encoding="utf-8")
    assert f"SIGHUP reload: account {ACCOUNT}: changed " in text, text[-3000:]
    assert "param max_contracts 5 → 4" in _line_of(text, "SIGHUP reload: account")
    assert "WARNING" in _line_of(
        text, "SIGHUP reload: NOT applied until the daemon restarts: timing"
    )


def test_an_account_that_never_goes_live_does_not_keep_the_service_from_being_ready(
    short_dir: Path, systemd: FakeSystemd
) -> None:
    """One of two accounts is unknown to the gateway: it never goes live (it is alerted on
    its own). systemd is told READY with the other after ``timing.ready_after``, instead of
    killing the daemon at TimeoutStartSec and leaving the live account unguarded through a
    restart every two minutes."""
    unknown = 99_999_991
    run = ServiceRun(short_dir, systemd, accounts=(ACCOUNT, unknown))
    try:
        assert wait_until(lambda: systemd.saw("READY=1"), 30.0), "no READY=1"
        assert systemd.saw(f"STATUS=guarding 1 of 2 account(s); not live: {unknown}")
        assert run.process.poll() is None
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(30) == 0
    finally:
        run.close()
    assert f"not live yet: {unknown}" in run.output()


def _line_of(text: str, needle: str) -> str:
    """The one line of ``text`` holding ``needle`` ("" when none does)."""
    return next((line for line in text.splitlines() if needle in line), "")


def test_ctrl_c_is_logged_and_a_second_one_does_not_cut_the_stop_short(
    short_dir: Path, systemd: FakeSystemd
) -> None:
    run = ServiceRun(short_dir, systemd)
    try:
        assert wait_until(lambda: systemd.saw("READY=1"), 30.0), "no READY=1"
        run.process.send_signal(signal.SIGINT)
        assert wait_until(lambda: systemd.saw("STOPPING=1"), 10.0), "no STOPPING=1"
        run.process.send_signal(signal.SIGINT)  # impatient: Ctrl-C again while it stops
        assert run.process.wait(30) == 0
    finally:
        run.close()
    output = run.output()
    assert "Traceback" not in output, output[-3000:]
    assert _line_of(output, "received SIGINT: stopping"), output[-3000:]
    assert _line_of(run.log_file.read_text(encoding="utf-8"), "received SIGINT: stopping")
    assert not (short_dir / "data" / "daemon.pid").exists()
