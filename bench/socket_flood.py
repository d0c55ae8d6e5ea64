"""Enforcement latency with and without a flood of hostile status-socket connections.

    .venv/bin/python -m bench.socket_flood [--breaches 300] [--connections 60]

Issue #12: any member of the socket's group could hold every connection and slow enforcement
about 15x by asking ``status`` in a loop. This measures what a flood costs now. The latency is
bench/latency.py's (breaching position event out of the simulator → ``Position/closeContract``
in), measured three times on one daemon serving its socket:

1. **quiet** — nobody on the socket;
2. **flood, default limits** — ``--connections`` hostile connections from one user, half of
   them idle (connected, silent), half asking ``status`` as fast as the daemon answers and
   reconnecting 10 ms after the daemon refuses or closes them: the per-user cap admits 8;
3. **flood, no per-user cap** — the same with ``per_user_connections`` raised so every
   hostile connection is served (as if each came from another user): what the engine gate
   alone keeps out.

The hostile clients run in two processes of their own (spawned), as another user's would.
Prints each phase's p50/p99 and the flood/quiet ratios (target: a flood costs at most 2x),
how many status answers and refusals the flood got, and the CPU the daemon's process (daemon
and simulator) and the hostile processes used.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from bench.latency import ACCOUNT, bench_daemon, breach_latencies, percentile, summary
from simple_risk.daemon.config import StatusLimits
from simple_risk.daemon.logging import configure_logging, remove_handlers

STATUS = b'{"id":1,"op":"status","args":{"account":%d}}\n' % ACCOUNT


def _hold_idle(path: str, count: int, stop: EventType, held: Synchronized[int]) -> None:
    """Open ``count`` connections and send nothing; reopen any the daemon closes."""
    sockets: list[socket.socket | None] = [None] * count
    while not stop.is_set():
        open_now = 0
        for index, sock in enumerate(sockets):
            if sock is not None and _closed(sock):
                sock.close()
                sock = sockets[index] = None
            if sock is None:
                try:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.connect(path)
                    sockets[index] = sock
                except OSError:
                    pass
                continue  # counted once it has survived a round
            open_now += 1
        held.value = open_now
        stop.wait(0.2)
    for sock in sockets:
        if sock is not None:
            sock.close()


def _closed(sock: socket.socket) -> bool:
    """Whether the daemon hung up (it sends an idle client nothing but its last words)."""
    try:
        sock.recv(4096, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


def _spam(
    path: str,
    count: int,
    stop: EventType,
    answered: Synchronized[int],
    refused: Synchronized[int],
) -> None:
    """``count`` threads asking ``status`` in a loop, reconnecting whenever refused."""
    import threading

    def one() -> None:
        sock: socket.socket | None = None
        reader: Any = None
        while not stop.is_set():
            try:
                if sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.settimeout(30.0)
                    sock.connect(path)
                    reader = sock.makefile("rb")
                sock.sendall(STATUS)
                line = reader.readline()
                if line.startswith(b'{"id":1,"ok":true'):
                    with answered.get_lock():
                        answered.value += 1
                    continue
                with refused.get_lock():
                    refused.value += 1
            except OSError:
                with refused.get_lock():
                    refused.value += 1
            if sock is not None:
                sock.close()
            sock = None
            # Refused: try again after 10 ms rather than spin. A client spinning on connect
            # only burns its own CPU (the daemon paces what refusals cost it); on a shared
            # 2-core machine that would measure CPU theft, which needs no socket at all.
            stop.wait(0.01)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(5.0)


@contextmanager
def flood(path: Path, connections: int) -> Iterator[dict[str, Any]]:
    """Hostile clients on ``path`` (half idle, half spamming) in two spawned processes."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    held = context.Value("i", 0)
    answered = context.Value("i", 0)
    refused = context.Value("i", 0)
    idle = connections // 2
    processes = [
        context.Process(target=_hold_idle, args=(str(path), idle, stop, held), daemon=True),
        context.Process(
            target=_spam,
            args=(str(path), connections - idle, stop, answered, refused),
            daemon=True,
        ),
    ]
    for process in processes:
        process.start()
    time.sleep(2.0)  # let the flood reach its steady state
    figures: dict[str, Any] = {}
    started = time.monotonic()
    first_answered, first_refused = answered.value, refused.value
    hostile_cpu = _children_cpu(processes)
    try:
        yield figures
    finally:
        elapsed = time.monotonic() - started
        figures["hostile_cpu"] = (_children_cpu(processes) - hostile_cpu) / elapsed
        figures["idle_held"] = held.value
        figures["status_per_s"] = (answered.value - first_answered) / elapsed
        figures["refused_per_s"] = (refused.value - first_refused) / elapsed
        stop.set()
        for process in processes:
            process.join(10.0)
            if process.is_alive():
                process.kill()


def _children_cpu(processes: list[Any]) -> float:
    """CPU seconds the hostile processes have used so far (from /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def run_phase(
    sim: Any, daemon: Any, trader: Any, breaches: int, figures: dict[str, Any]
) -> list[float]:
    """Latencies of ``breaches`` breaches; this process's CPU share goes into ``figures``."""
    breach_latencies(sim, daemon, trader, 20)  # warm up
    cpu, wall = time.process_time(), time.monotonic()
    latencies = breach_latencies(sim, daemon, trader, breaches)
    figures["cpu"] = (time.process_time() - cpu) / (time.monotonic() - wall)
    return latencies


def measure(breaches: int, connections: int, limits: StatusLimits) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="sr-flood-", dir="/tmp") as directory,
        bench_daemon(
            Path(directory),
            serve=True,
            status_socket=Path(directory) / "s.sock",
            status_limits=limits,
        ) as (sim, daemon, trader),
    ):
        path = daemon.config.status_socket
        calm: dict[str, Any] = {}
        quiet = run_phase(sim, daemon, trader, breaches, calm)
        with flood(path, connections) as figures:
            flooded = run_phase(sim, daemon, trader, breaches, figures)
        assert daemon.server is not None
        gate = daemon.server.ops.gate
        figures["reads_built"] = gate.reads_built
        figures["reads_shared"] = gate.reads_shared
        figures["quiet_cpu"] = calm["cpu"]
        return {"quiet": quiet, "flood": flooded, "figures": figures}


def report(title: str, result: dict[str, Any]) -> float:
    quiet, flooded, figures = result["quiet"], result["flood"], result["figures"]
    ratio50 = percentile(flooded, 0.5) / percentile(quiet, 0.5)
    ratio99 = percentile(flooded, 0.99) / percentile(quiet, 0.99)
    print(f"{title}")
    print(f"  quiet:  {summary(quiet)}")
    print(f"  flood:  {summary(flooded)}")
    print(
        f"  flood: {figures['idle_held']} idle connections held, "
        f"{figures['status_per_s']:.0f} status answers/s, "
        f"{figures['refused_per_s']:.0f} refusals or hang-ups/s; "
        f"engine reads built {figures['reads_built']}, answers shared {figures['reads_shared']}"
    )
    print(
        f"  CPU: daemon+simulator process {figures['quiet_cpu']:.0%} quiet, "
        f"{figures['cpu']:.0%} under the flood; hostile processes {figures['hostile_cpu']:.0%}"
    )
    worst = max(ratio50, ratio99)
    print(
        f"  flood / quiet: p50 {ratio50:.2f}x, p99 {ratio99:.2f}x "
        f"(target <= 2x: {'met' if worst <= 2.0 else 'NOT met'})"
    )
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--breaches", type=int, default=300)
    parser.add_argument("--connections", type=int, default=60)
    args = parser.parse_args(argv)
    handlers = configure_logging(level="error")
    try:
        defaults = StatusLimits()
        uncapped = dataclasses.replace(
            defaults,
            max_connections=args.connections + 16,
            per_user_connections=args.connections + 8,
        )
        worst = report(
            f"flood of {args.connections}, default limits ({defaults.per_user_connections} "
            "per user)",
            measure(args.breaches, args.connections, defaults),
        )
        worst = max(
            worst,
            report(
                f"flood of {args.connections}, no per-user cap (every connection served)",
                measure(args.breaches, args.connections, uncapped),
            ),
        )
    finally:
        remove_handlers(handlers)
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
