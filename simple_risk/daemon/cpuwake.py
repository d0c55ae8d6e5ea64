"""Keeping the CPUs out of deep idle while the daemon guards (opt-in: ``cpu_latency_us``).

A breach comes after a quiet spell: the daemon's threads have slept, and so has the CPU under
them. Waking a halted CPU, and then running code whose caches went cold while it halted, is
most of what the first breach after a pause costs on a virtual machine. On the 2-vCPU machine
of ``bench/latency.py`` a fixed piece of Python took 70 µs back to back and 202 µs after a
20 ms sleep, and the engine's handling of one breaching position 40 µs warm against 290 µs
after 20 ms at rest (docs/daemon.md, "Low latency").

Linux lets a process ask, through the PM QoS interface, that no CPU enter an idle state whose
wake-up takes longer than N microseconds: it opens ``/dev/cpu_dma_latency``, writes N as a
32-bit integer, and the request holds exactly as long as the file stays open (the kernel drops
it when the process exits, however it exits). ``tuned``'s latency profiles do the same. With
0, an idle CPU polls instead of halting: breaches are enforced sooner, and the CPUs never
sleep — a cost in power (and, on a shared host, in the neighbours' CPU time) that is the
operator's to choose, so the daemon does it only when the configuration asks.

Holding it is never a condition for guarding: a daemon that may not write the device (it is
root's, mode 0600, unless a udev rule gives it to the daemon's group) says so and guards as
usual.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

log = logging.getLogger(__name__)

#: the kernel's PM QoS request file for the CPUs' wake-up latency
CPU_DMA_LATENCY = Path("/dev/cpu_dma_latency")


class CpuLatencyHold:
    """One PM QoS request on the CPUs' wake-up latency, held from :meth:`acquire` until
    :meth:`release` (or the process's end)."""

    def __init__(self, microseconds: int, device: Path | None = None) -> None:
        if not 0 <= microseconds < 2**31:
            raise ValueError(f"a wake-up latency of {microseconds} µs is out of range")
        self.microseconds = microseconds
        self.device = device if device is not None else CPU_DMA_LATENCY
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> str | None:
        """Make the request; None once it holds, else why it could not be made (the daemon
        goes on without it)."""
        if self._fd is not None:
            return None
        try:
            fd = os.open(self.device, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            return f"{self.device}: {exc.strerror or exc}"
        try:
            os.write(fd, struct.pack("=i", self.microseconds))
        except OSError as exc:
            os.close(fd)
            return f"{self.device}: {exc.strerror or exc}"
        self._fd = fd
        log.info(
            "holding the CPUs' wake-up latency at %d µs (%s) while guarding",
            self.microseconds,
            self.device,
        )
        return None

    def release(self) -> None:
        """End the request (closing the file is what ends it)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
            log.info("CPU wake-up latency request released")


def writable(device: Path | None = None) -> str | None:
    """None when the daemon could make the request (``engine run --check``), else why not."""
    if device is None:
        device = CPU_DMA_LATENCY
    try:
        fd = os.open(device, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)  # opened without writing: no request was made
    return None


__all__ = ["CPU_DMA_LATENCY", "CpuLatencyHold", "writable"]
