"""``cpu_latency_us``: the daemon holds the CPUs out of deep idle only when the configuration
asks, for exactly as long as it runs, and guards as usual when it may not.

The kernel's request file (``/dev/cpu_dma_latency``) is stood in for by a file of the test's:
what the daemon does with it — open, write the 32-bit request, keep it open, close — is the
same, and the machine's power management is left alone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from simple_risk.cli import cli
from simple_risk.cli import engine_run as engine_cli
from simple_risk.daemon import cpuwake
from simple_risk.daemon.config import ConfigError, load_config
from simple_risk.daemon.cpuwake import CpuLatencyHold
from simple_risk.daemon.sim import sim_config
from simple_risk.resources import default_ruleset_path

ENV = {"HOME": "/home/trader", "PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-123456"}
CONFIG = """\
gateway: http://127.0.0.1:8700
credentials: {username: alice, api_key: k-123456}
accounts: [20100001]
"""


def _open_on(device: Path) -> bool:
    """Whether this process holds ``device`` open (the request lasts exactly that long)."""
    fds = Path("/proc/self/fd")
    return any(os.path.realpath(fd) == str(device.resolve()) for fd in fds.iterdir())


def test_a_hold_writes_the_request_and_keeps_it_until_released(tmp_path: Path) -> None:
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")
    hold = CpuLatencyHold(0, device)
    assert hold.acquire() is None
    assert hold.held and _open_on(device)
    assert device.read_bytes() == struct.pack("=i", 0)
    assert hold.acquire() is None  # asked twice: still the one request
    hold.release()
    assert not hold.held and not _open_on(device)
    hold.release()  # twice is harmless


def test_a_request_that_cannot_be_made_says_why_and_holds_nothing(tmp_path: Path) -> None:
    hold = CpuLatencyHold(0, tmp_path / "no-such-device")
    why = hold.acquire()
    assert why is not None and "no-such-device" in why and "No such file" in why
    assert not hold.held


def test_a_latency_out_of_the_kernels_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        CpuLatencyHold(-1)
    with pytest.raises(ValueError, match="out of range"):
        CpuLatencyHold(2**31)


def test_the_configuration_leaves_power_management_alone_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    assert load_config(path, ENV).cpu_latency_us is None
    path.write_text(CONFIG + "cpu_latency_us: 0\n", encoding="utf-8")
    assert load_config(path, ENV).cpu_latency_us == 0


def test_a_negative_latency_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG + "cpu_latency_us: -5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path, ENV)
    (problem,) = [p.format() for p in error.value.problems]
    assert problem.startswith(f"{path}:4:") and "cpu_latency_us" in problem


def test_the_daemon_holds_what_it_is_given_and_guards_without_what_it_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = sim_config(
        "http://127.0.0.1:8700", "u", "k", [20100001], tmp_path, ruleset_path=default_ruleset_path()
    )
    assert engine_cli._hold_cpu_latency(config) is None  # not asked: nothing opened

    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")
    monkeypatch.setattr(cpuwake, "CPU_DMA_LATENCY", device)
    asked = dataclasses.replace(config, cpu_latency_us=0)
    hold = engine_cli._hold_cpu_latency(asked)
    assert hold is not None and hold.held and _open_on(device)
    hold.release()

    monkeypatch.setattr(cpuwake, "CPU_DMA_LATENCY", tmp_path / "missing")
    with caplog.at_level(logging.WARNING):
        assert engine_cli._hold_cpu_latency(asked) is None
    assert "guarding without it" in caplog.text and "missing" in caplog.text


def test_check_says_whether_the_request_can_be_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        CONFIG
        + f"ruleset: {default_ruleset_path()}\n"
        + f"data_dir: {tmp_path / 'data'}\nlog_dir: {tmp_path / 'log'}\ncpu_latency_us: 0\n",
        encoding="utf-8",
    )
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")
    monkeypatch.setattr(cpuwake, "CPU_DMA_LATENCY", device)
    result = CliRunner().invoke(cli, ["engine", "run", "--config", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert f"cpu_latency_us: {device} is writable (0 µs)" in result.output
    assert device.read_bytes() == b""  # checking makes no request

    monkeypatch.setattr(cpuwake, "CPU_DMA_LATENCY", tmp_path / "missing")
    result = CliRunner().invoke(cli, ["engine", "run", "--config", str(path), "--check"])
    assert result.exit_code == 0, result.output  # slower, not unsafe: not a problem
    (line,) = [line for line in result.output.splitlines() if "cpu_latency_us" in line]
    assert "is not writable" in line and "guards without holding it" in line
