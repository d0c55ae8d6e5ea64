"""``simple-risk engine monitor`` as a trader sees it: in a real terminal (tmux), coloured.

A daemon subprocess guards a simulator account; the monitor runs in a detached tmux pane of
its own tmux server; the test breaks a rule through the simulator and reads the pane: the
firing and its enforcement appear in plain words, in colour, and Ctrl-C leaves with status 0.
Skipped only when tmux is not installed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from simple_risk.daemon.sim import wait_until
from simple_risk.engine.events import OrderSide

from .test_interfaces import ACCOUNT, System, running_system

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Pane:
    """One tmux pane on a private tmux server (``-L``), so nobody else's tmux is touched."""

    def __init__(self, command: str) -> None:
        self.server = f"sr-test-{uuid.uuid4().hex[:8]}"
        self.tmux("new-session", "-d", "-s", "monitor", "-x", "180", "-y", "40", command)
        self.tmux("set-option", "-t", "monitor", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.server, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def text(self, colours: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", "monitor")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "monitor", *keys)

    def exit_line(self) -> str:
        """The ``monitor exited with status N`` line the wrapping shell prints."""
        text = self.text()
        at = text.find("monitor exited")
        return "" if at < 0 else text[at:].splitlines()[0]  # after the echoed ^C

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def system() -> Iterator[System]:
    with running_system("tmux") as running:
        yield running


def test_monitor_in_a_terminal_shows_firings_in_colour(system: System) -> None:
    monitor = " ".join(
        [
            "env",
            f"SIMPLE_RISK_SOCKET={shlex.quote(str(system.socket))}",
            "TERM=xterm-256color",
            shlex.quote(sys.executable),
            "-m",
            "simple_risk",
            "engine",
            "monitor",
        ]
    )
    # The shell reports the exit status in the pane itself (tmux may mark a dead pane late);
    # it traps INT (a handler, not "ignore", so the monitor still gets Ctrl-C) to outlive it.
    script = f"trap true INT; {monitor}; echo monitor exited with status $?"
    pane = Pane(f"sh -c {shlex.quote(script)}")
    try:
        assert wait_until(lambda: "monitoring" in pane.text(), 15), pane.text()
        price = system.trader.price("MNQ")
        system.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 60, price - 200)
        assert wait_until(lambda: " firing " in pane.text(), 10), pane.text()
        assert wait_until(lambda: " result " in pane.text(), 10), pane.text()
        screen = pane.text()
        firing = next(line for line in screen.splitlines() if " firing " in line)
        assert str(ACCOUNT) in firing and "cancel" in firing.lower()
        coloured = pane.text(colours=True)
        assert "\x1b[" in next(line for line in coloured.splitlines() if " firing " in line)
        pane.keys("C-c")
        assert wait_until(lambda: pane.exit_line() != "", 10), pane.text()
        assert pane.exit_line() == "monitor exited with status 0"
        assert "Traceback" not in pane.text()
    finally:
        system.outputs.append(pane.text())
        pane.close()
