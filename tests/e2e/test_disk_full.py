"""A full disk, for real, under a running daemon (docs/daemon.md, Crash safety).

The daemon is a real ``simple-risk engine run`` subprocess (as in ``test_crash.py``) whose
console is a pipe, as journald's is. The disk "fills" when its file-size limit
(``RLIMIT_FSIZE``) is lowered to nothing from outside, with ``prlimit``: every write to a
file — the SQLite store, its write-ahead log, the log file, ``status.json`` — then fails with
``EFBIG``, as it would with ``ENOSPC`` (SIGXFSZ is ignored in the daemon, as Python does
anyway). Raising the limit again is space coming back. What must hold meanwhile:

* enforcement goes on from memory: a breach made while the disk is full is enforced;
* the outage is said — an alert, one clear line on the console, ``engine status`` answering
  with the store unavailable — never a traceback per line;
* nothing is lost once space is back: the writes held are saved, and a restart (``kill -9``)
  after the outage restores the lockouts set during it;
* a daemon started on a full disk says what is wrong and exits 1.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import Simulator
from simple_risk.daemon.sim import wait_until
from tests.pinned import pinned_env

from .stalling_engine_run import LEASE_TTL
from .test_crash import ACCOUNT, API_KEY, DaemonProcess, Day, start_system

pytestmark = pytest.mark.skipif(
    not hasattr(resource, "prlimit"), reason="lowering a running process's limit needs Linux"
)


_ENGINE = (sys.executable, "-m", "simple_risk", "engine")


def _ignore_sigxfsz() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class PipedDaemon(DaemonProcess):
    """``engine run`` with its console on a pipe (journald's, which a full disk does not stop),
    and a disk that can be filled and freed while it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_ignore_sigxfsz,
        )
        threading.Thread(target=self._read, args=(process,), daemon=True).start()
        return process

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            with self._lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def console(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def said(self, words: str) -> int:
        """How many console lines hold ``words``."""
        with self._lock:
            return sum(1 for line in self.lines if words in line)

    def fill(self) -> None:
        """The disk is full: every write to a file fails from now on."""
        assert self.process is not None
        resource.prlimit(self.process.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))

    def free(self) -> None:
        """Space is back."""
        assert self.process is not None
        if self.process.poll() is not None:
            return
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(self.process.pid, resource.RLIMIT_FSIZE, unlimited)

    def asked(self) -> dict[str, Any]:
        """``engine status --json``: the daemon's own answer on its socket (``status.json``
        cannot be written while the disk is full)."""
        answer = subprocess.run(
            [*_ENGINE, "status", "--json", "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr
        loaded = json.loads(answer.stdout)
        assert isinstance(loaded, dict)
        return loaded


class Disk:
    def __init__(self, sim: Simulator, daemon: PipedDaemon, day: Day) -> None:
        self.sim = sim
        self.daemon = daemon
        self.day = day
        self.trader = day.trader


@pytest.fixture
def disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Disk]:
    yield from _running(tmp_path, request)


#: the leases' time to live of ``short_leases``: a full disk outlasts it in seconds
SHORT_LEASE = 1.5
#: the second account ``short_leases`` guards
OTHER = 20100002


@pytest.fixture
def short_leases(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Disk]:
    """A daemon guarding two accounts whose leases live :data:`SHORT_LEASE` seconds instead
    of 15."""
    monkeypatch.setenv(LEASE_TTL, str(SHORT_LEASE))
    yield from _running(tmp_path, request, stallable=True, others=(OTHER,))


def _running(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    *,
    stallable: bool = False,
    others: tuple[int, ...] = (),
) -> Iterator[Disk]:
    sim, daemon = start_system(
        tmp_path, seed=5, name="DISK-50K", process=PipedDaemon, stallable=stallable, others=others
    )
    assert isinstance(daemon, PipedDaemon)
    day = Day(sim, daemon, random.Random(request.node.name))
    try:
        yield Disk(sim, daemon, day)
    finally:
        daemon.free()  # a stop must be able to write what it still holds
        daemon.stop()
        day.trader.close()
        sim.stop()
        assert API_KEY not in daemon.console(), "the API key leaked into the daemon's output"


def _store(answer: dict[str, Any]) -> dict[str, Any]:
    store = answer["daemon"]["store"]
    assert isinstance(store, dict)
    return store


def _rows(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute(sql).fetchall()


def test_a_breach_on_a_full_disk_is_enforced_and_its_lockout_survives_a_restart_after(
    disk: Disk,
) -> None:
    d = disk.daemon
    database = d.status_path.parent / "simple-risk.db"
    d.fill()
    disk.day.oversize()  # 60 MES: over the lot limit, reduced and locked
    assert wait_until(lambda: disk.trader.size(ACCOUNT, "MES") <= 50, 10.0), "not reduced"
    assert wait_until(lambda: d.said("store unavailable") >= 1, 5.0), d.console()[-3000:]
    answer = d.asked()
    assert _store(answer)["state"] == "unavailable"
    assert _store(answer)["held"] > 0
    assert d.said("ALERT critical: the store is unavailable") >= 1
    assert _rows(database, "SELECT count(*) FROM lockouts") == [(0,)], "nothing saved yet"

    d.free()
    assert wait_until(lambda: d.said("the store is back") >= 1, 10.0), d.console()[-3000:]
    assert wait_until(lambda: _store(d.asked())["state"] == "ok", 10.0)
    assert _store(d.asked())["dropped"] == 0

    def told() -> list[str]:
        return [m for (m,) in _rows(database, "SELECT message FROM alerts ORDER BY id")]

    # the store is back once the first held write is done: the rest follow it
    assert wait_until(lambda: any(m.startswith("the store is back") for m in told()), 10.0)
    assert _rows(database, "SELECT count(*) FROM lockouts")[0][0] >= 1, "the lock saved"
    assert _rows(database, "SELECT count(*) FROM firings")[0][0] >= 1, "the firing saved"
    outage = next(i for i, m in enumerate(told()) if m.startswith("the store is unavailable"))
    back = next(i for i, m in enumerate(told()) if m.startswith("the store is back"))
    assert outage < back, "the alerts kept for engine history, in order"
    stamps = [at for (at,) in _rows(database, "SELECT at FROM journal ORDER BY seq")]
    assert stamps == sorted(stamps), "the held journal written in the order it happened"

    def locked() -> bool:  # status.json, written again now that there is room
        return bool((d.status() or {}).get("accounts", {}).get(str(ACCOUNT), {}).get("locks"))

    assert wait_until(locked, 5.0), "the lock set while the disk was full"
    before = d.status() or {}
    d.kill()
    d.start()
    disk.day.check(before)  # every lock survives; nothing unenforced, nothing done twice


def test_a_daemon_started_on_a_full_disk_says_so_and_exits_1(disk: Disk) -> None:
    d = disk.daemon
    d.stop()
    env = pinned_env(d.wall, {**os.environ, "SR_CRASH_API_KEY": API_KEY})

    def full() -> None:
        _ignore_sigxfsz()
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))

    started = time.monotonic()
    run = subprocess.run(
        [*_ENGINE, "run", "--config", str(d.config)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=full,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert "cannot open store" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert time.monotonic() - started < 30


def test_a_log_file_that_cannot_be_written_is_said_once_on_the_console_without_tracebacks(
    disk: Disk,
) -> None:
    """The rotating log file failed on every line the daemon logged — a ``--- Logging error
    ---`` traceback of a dozen lines each, on the console journald keeps, burying the one line
    that said the store was unavailable. Now one line says the log file cannot be written, and
    one says when it is written again."""
    d = disk.daemon
    log_file = d.config.parent / "log" / "simple-risk.log"
    d.fill()
    disk.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed, and logged as it is
    assert wait_until(lambda: disk.trader.size(ACCOUNT, "RTY") == 0, 10.0), "not closed"
    assert wait_until(lambda: d.said("cannot write the log file") == 1, 5.0), d.console()[-3000:]
    assert wait_until(lambda: d.said("store unavailable") == 1, 5.0), d.console()[-3000:]
    d.free()
    assert wait_until(lambda: d.said("simple-risk.log is written again") == 1, 10.0), d.console()[
        -3000:
    ]
    assert "Traceback" not in d.console()
    assert "Logging error" not in d.console()
    assert d.said("cannot write the log file") == 1
    assert wait_until(lambda: "the store is back" in log_file.read_text(encoding="utf-8"), 5.0)


def test_a_status_file_that_cannot_be_written_is_said_once_and_again_when_it_is_written(
    disk: Disk,
) -> None:
    """``status.json`` is written every second: each write that failed logged its warning, two
    lines a second on the console for as long as the disk stayed full. Now the first failure
    is said, and the first write that succeeds again."""
    d = disk.daemon
    d.fill()
    assert wait_until(lambda: d.said("cannot write") and d.said("status.json") >= 1, 5.0)
    time.sleep(3.0)  # three status writes at least, each failing
    assert d.said("status.json: [Errno") == 1, d.console()[-3000:]
    last_written = d.status_path.stat().st_mtime_ns  # the file's clock, not this test's wall
    d.free()
    assert wait_until(lambda: d.said("status.json is written again") == 1, 5.0), d.console()[-3000:]
    assert d.said("status.json: [Errno") == 1
    assert wait_until(lambda: d.status_path.stat().st_mtime_ns > last_written, 5.0)


def test_a_disk_full_past_the_lease_s_end_does_not_stop_enforcement(short_leases: Disk) -> None:
    """A lease renewal the store cannot take: the daemon stopped enforcing the account a sixth
    of the lease's time to live before its end (15 s: after 12.5 s of a full disk), for as long
    as the disk stayed full — a blocked symbol bought then stayed open, a breach unenforced —
    though no other daemon could take the lease either: it is written to the same full disk.
    A store that refuses every writer (a full disk, a write the disk fails, a read-only
    database file) now keeps the account enforced; the lease is renewed once space is back."""
    d = short_leases.daemon
    d.fill()
    time.sleep(3 * SHORT_LEASE)  # the lease's end long past
    short_leases.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed at once
    assert wait_until(lambda: short_leases.trader.size(ACCOUNT, "RTY") == 0, 5.0), d.console()[
        -3000:
    ]
    answer = d.asked()
    connection = answer["accounts"][0]["connection"]
    assert connection["live"] and connection["lease"] == "held", connection
    assert d.said("lost the lease") == 0
    assert d.said("nobody else can take it either") == 2  # once for each account
    d.free()
    assert wait_until(lambda: _store(d.asked())["state"] == "ok", 10.0)
    assert wait_until(lambda: d.said("renewed again") == 2, 5.0), d.console()[-3000:]
    short_leases.trader.buy(ACCOUNT, "RTY")
    assert wait_until(lambda: short_leases.trader.size(ACCOUNT, "RTY") == 0, 5.0)
    assert d.said("lost the lease") == 0


def test_every_account_stays_enforced_through_a_full_disk_not_only_the_first(
    short_leases: Disk,
) -> None:
    """The leases are renewed one account after the other on one thread: the second
    account's renewal waits behind the first's, which the full disk holds up — it must not
    count as a renewal the store could answer for someone else."""
    d = short_leases.daemon
    d.fill()
    time.sleep(3 * SHORT_LEASE)
    for account in (OTHER, ACCOUNT):
        short_leases.trader.buy(account, "RTY")
        assert wait_until(lambda a=account: short_leases.trader.size(a, "RTY") == 0, 5.0), (
            account,
            [line for line in d.lines if "ALERT" in line],
        )
    assert all(a["connection"]["lease"] == "held" for a in d.asked()["accounts"])
    assert d.said("lost the lease") == 0


def _without_root_s_override() -> list[str]:
    """The command prefix that makes file modes bind (root ignores them): root's override of
    them dropped with setpriv; nothing for another user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("as root, file modes bind only with setpriv")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


@pytest.mark.parametrize(
    ("unwritable", "said"),
    [
        ("status socket's directory", "cannot serve the status socket"),
        ("database file", "attempt to write a readonly database"),
        ("log directory", "cannot write the log (log_dir)"),
    ],
)
def test_a_daemon_started_with_a_file_it_cannot_write_says_which_and_exits_1(
    disk: Disk, unwritable: str, said: str
) -> None:
    d = disk.daemon
    d.stop()
    base = d.config.parent
    config = d.config.read_text(encoding="utf-8")
    if unwritable == "status socket's directory":
        (base / "sockets").mkdir(mode=0o500)
        config = config.replace("status_socket: status.sock", "status_socket: sockets/status.sock")
        d.config.write_text(config, encoding="utf-8")
    elif unwritable == "database file":
        (base / "data" / "simple-risk.db").chmod(0o400)
    else:
        (base / "log").chmod(0o500)
        (base / "log" / "simple-risk.log").chmod(0o400)
    env = pinned_env(d.wall, {**os.environ, "SR_CRASH_API_KEY": API_KEY})
    run = subprocess.run(
        [*_without_root_s_override(), *_ENGINE, "run", "--config", str(d.config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stderr[-2000:]
    assert said in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
