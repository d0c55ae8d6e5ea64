"""``simple-risk engine``: run the daemon that enforces (``engine run``).

``engine run --config FILE`` validates the configuration and every ruleset first (located
errors, exit 1, nothing started), then runs until SIGTERM, Ctrl-C or the status socket's
``stop`` (``simple-risk admin daemon stop``) — all three take the same graceful path: the
engine thread snapshots every account, the journal is flushed, the leases are released and
the status server closes its connections. While it runs, ``DATA_DIR/daemon.pid`` holds its
pid (removed on a clean stop). ``engine run --sim`` needs no configuration: it starts the
gateway simulator in-process and guards its accounts with the default ruleset scaled for a
quick look (sessions open now, 10 s grace), in a temporary data directory removed at exit.
``--record DIR`` (with either) also writes every REST answer and hub frame, secrets removed,
to owner-only JSONL files in DIR that ``simple-risk replay`` plays back (docs/replay.md).
``--observe`` only observes every account: rules are evaluated and firings journaled and shown
as what would be done, and nothing is sent to the gateway (docs/daemon.md, "Observe mode").
Other ``engine`` commands (status, monitor, history) register on the same :data:`engine`
group.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from simple_risk.adapters.replay import RecordingDir
from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.topstepx.errors import ProjectXError
from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.cli import engine
from simple_risk.cli.formatting import format_problem
from simple_risk.daemon import cpuwake
from simple_risk.daemon.config import (
    ConfigError,
    DaemonConfig,
    load_config,
    load_rulesets,
    ruleset_warnings,
)
from simple_risk.daemon.control.protocol import ProtocolError
from simple_risk.daemon.control.server import ServerError
from simple_risk.daemon.heap import settle_startup_heap
from simple_risk.daemon.logging import configure_logging
from simple_risk.daemon.owntags import OwnTagError
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.daemon.service import ADMIN_STOP_EXIT, Notifier, owner_only
from simple_risk.daemon.wallclock import WallClockError, wall_from_env
from simple_risk.engine.model import Ruleset
from simple_risk.store import StoreError

if TYPE_CHECKING:
    from simple_risk.daemon.check import Finding

log = logging.getLogger(__name__)

#: the pid file's name in the data directory
PID_FILE = "daemon.pid"
#: held (flock) by the daemon running from the data directory, released when it ends however
LOCK_FILE = "daemon.lock"


def _fail(problems: ConfigError) -> None:
    for problem in problems.problems:
        click.echo(problem.format(), err=True)
    raise SystemExit(1)


def _sim_setup(
    data_dir: Path, wall: Callable[[], datetime] | None = None
) -> tuple[DaemonConfig, dict[int, Ruleset], Simulator]:
    from simple_risk.daemon.dashboard import DEFAULT_ADDRESS
    from simple_risk.daemon.password import hash_password, write_password_hash
    from simple_risk.daemon.sim import SIM_ADMIN_PASSWORD, scaled_ruleset, sim_config
    from simple_risk.engine.dsl import load_ruleset
    from simple_risk.resources import default_ruleset_path

    simulator = Simulator(port=0, ping_interval=1.0, price_interval=1.0, clock=wall).start()
    accounts = [a.id for a in simulator.venue.accounts()]
    directory = data_dir
    config = sim_config(
        simulator.base_url,
        simulator.username,
        simulator.api_key,
        accounts,
        directory,
        ruleset_path=default_ruleset_path(),
        dashboard=DEFAULT_ADDRESS,
    )
    ruleset = scaled_ruleset(load_ruleset(default_ruleset_path()))
    write_password_hash(config.admin_password_file, hash_password(SIM_ADMIN_PASSWORD))
    _sim_banner(config, simulator)
    return config, dict.fromkeys(accounts, ruleset), simulator


def _sim_banner(config: DaemonConfig, simulator: Simulator) -> None:
    """What a newcomer needs to try the daemon: where everything is and what to type."""
    from simple_risk.daemon.sim import SIM_ADMIN_PASSWORD

    accounts = ", ".join(str(a) for a in config.accounts)
    rows = [
        (
            "simulator",
            f"{simulator.base_url}  (user {simulator.username}, API key {simulator.api_key})",
        ),
        ("accounts", accounts),
        ("status", f"simple-risk engine status --socket {config.status_socket}"),
        ("monitor", f"simple-risk engine monitor --socket {config.status_socket}"),
        (
            "admin",
            f"simple-risk admin --socket {config.status_socket} lockout list"
            f"  (admin password {SIM_ADMIN_PASSWORD})",
        ),
        ("trade", "place orders with curl against the simulator: docs/simulator.md"),
        ("data", f"{config.data_dir} (removed at exit)"),
    ]
    if config.dashboard is not None:
        host, port = config.dashboard
        rows.insert(2, ("dashboard", f"http://{host}:{port}/"))
    click.echo(
        click.style("simple-risk engine run --sim", bold=True) + ": the daemon guards "
        "a local simulator with the shipped ruleset (sessions open, 10 s grace)"
    )
    for name, value in rows:
        click.echo(f"  {click.style(f'{name:<10}', fg='cyan')} {value}")
    click.echo("  Ctrl-C stops; --log-level debug shows the simulator's request log.")


@engine.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Daemon configuration.",
)
@click.option("--sim", is_flag=True, help="Start the simulator in-process and guard it.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option(
    "--check",
    is_flag=True,
    help="Validate the configuration, the rulesets and the data/log directories (and the "
    "--record directory), then exit.",
)
@click.option(
    "--online",
    is_flag=True,
    help="With --check: also log in, list the visible accounts, connect both hubs, wait for "
    "a quote, and say what the rules would do now. Changes nothing at the gateway.",
)
@click.option(
    "--record",
    "record_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also record every REST answer and hub frame (secrets removed) as JSONL files in "
    "this directory, one per run and UTC day, for `simple-risk replay`.",
)
@click.option(
    "--observe",
    is_flag=True,
    help="Observe only: evaluate and show what would be enforced, send nothing to the "
    "gateway. `simple-risk admin enforce ACCOUNT --on` turns enforcement on later.",
)
def run(
    config_path: str | None,
    sim: bool,
    log_format: str | None,
    log_level: str | None,
    check: bool,
    online: bool,
    record_dir: Path | None,
    observe: bool,
) -> None:
    """Guard the configured accounts until SIGTERM, Ctrl-C or `admin daemon stop`.

    Before the first real run: `engine run --config FILE --check --online` tries every step
    the daemon takes at startup and prints one line per problem, naming the configuration key
    and the fix (exit 0 when all is well, 1 otherwise).

    \b
    Examples:
      simple-risk engine run --config config.yaml --check --online
      simple-risk engine run --config config.yaml --observe
      simple-risk engine run --config config.yaml
      simple-risk engine run --sim
    """
    if record_dir is not None:
        record_dir = record_dir.expanduser()  # "~/recordings" quoted: the home's, never ./~
    if online and not check:
        raise click.UsageError("--online goes with --check")
    if sim and config_path is not None:
        raise click.UsageError(
            "give --sim or --config, not both: --sim guards the simulator with the shipped "
            "ruleset and no configuration; to guard it with yours, start `simple-risk sim` and "
            "set gateway: http://127.0.0.1:8700 in the configuration"
        )
    if sim:
        temporary = Path(tempfile.mkdtemp(prefix="simple-risk-sim-"))
        try:
            _run_sim(temporary, log_format, log_level, check, online, record_dir, observe)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        return
    if config_path is None:
        raise click.UsageError("give --config FILE (or --sim for the simulator)")
    else:
        try:
            config = load_config(config_path)
            rulesets = load_rulesets(config)
        except ConfigError as problems:
            _fail(problems)
            return
    try:
        wall = wall_from_env(config.gateway)
    except WallClockError as exc:
        raise click.UsageError(str(exc)) from None
    _refuse_root_over_another_users(config, config_path)
    if check:
        _check(config, rulesets, online=online, wall=wall, record_dir=record_dir)
        return
    options = RuntimeOptions(wall=wall, observe=observe)
    _serve(config, rulesets, None, log_format, log_level, options, record_dir)


def _refuse_root_over_another_users(config: DaemonConfig, config_path: str) -> None:
    """Root running the daemon (or its check) over the data or log directory of the daemon's
    own user creates the database, the own-order secret, the lock and the log as root, 0600:
    that user's service then cannot open them, and does not start."""
    if os.geteuid() != 0:
        return
    import pwd

    for what, folder in (("data directory", config.data_dir), ("log directory", config.log_dir)):
        try:
            owner = folder.stat().st_uid
        except OSError:
            continue  # not there yet: whoever runs it creates it
        if owner == 0:
            continue
        try:
            name = pwd.getpwuid(owner).pw_name
        except KeyError:
            name = str(owner)
        click.echo(
            f"simple-risk: you are root, and the {what} {folder} belongs to {name}: what root"
            f" creates there the daemon's user cannot open; run it as that user: sudo -u {name}"
            f" simple-risk engine run --config {config_path}",
            err=True,
        )
        raise SystemExit(1)


def _run_sim(
    directory: Path,
    log_format: str | None,
    log_level: str | None,
    check: bool,
    online: bool,
    record_dir: Path | None,
    observe: bool = False,
) -> None:
    from simple_risk.daemon.sim import scaled_ruleset

    try:
        # a rehearsal's pinned day and hour (SIMPLE_RISK_WALL_START), for the simulator and
        # the daemon alike: the simulator is on this machine
        wall = wall_from_env("http://127.0.0.1")
    except WallClockError as exc:
        raise click.UsageError(str(exc)) from None
    config, rulesets, simulator = _sim_setup(directory, wall)
    try:
        if check:
            _check(config, rulesets, online=online, wall=wall, record_dir=record_dir)
            return
        options = RuntimeOptions(ruleset_transform=scaled_ruleset, observe=observe, wall=wall)
        if (log_level or config.log.level) != "debug":
            # the simulator logs every request it serves: noise next to the daemon's lines
            logging.getLogger("simple_risk.sim").setLevel(logging.WARNING)
        _serve(config, rulesets, simulator, log_format, log_level, options, record_dir)
    finally:
        simulator.stop()


_MARKS = {
    "ok": ("ok", "green"),
    "info": ("--", "cyan"),
    "warning": ("WARNING", "yellow"),
    "problem": ("PROBLEM", "red"),
}


def _lint_warnings(config: DaemonConfig) -> list[str]:
    """What ``rules lint`` warns of in the ruleset and the overlays, as it prints them: the
    daemon runs a ruleset with warnings, and an overlay's map that leaves keys out gives
    those keys the lookup's default (overlay-map-keys) — a limit other than the one meant."""
    from simple_risk.cli.admin_views import warning_lines

    return warning_lines([problem.as_json() for problem in ruleset_warnings(config)])


def _check(
    config: DaemonConfig,
    rulesets: dict[int, Ruleset],
    *,
    online: bool,
    wall: Callable[[], datetime] | None,
    record_dir: Path | None = None,
) -> None:
    """``--check``: every finding on its own line; exit 1 when any is a problem."""
    from simple_risk.daemon.check import (
        CheckOptions,
        Finding,
        OnlineCheck,
        check_paths,
        writable_dir,
    )

    register_secret(config.api_key)
    problems = 0

    def report(finding: Finding) -> None:
        nonlocal problems
        mark, colour = _MARKS[finding.level]
        problems += finding.level == "problem"
        click.echo(f"{click.style(f'{mark:>7}', fg=colour, bold=True)}  {finding.line()}")

    if online:
        # the lines say it all: the adapters' own log lines would only repeat them
        quiet = [logging.getLogger(name) for name in ("simple_risk", "SignalRCoreClient")]
        levels = [logger.level for logger in quiet]
        for logger in quiet:
            logger.setLevel(logging.CRITICAL)
        try:
            OnlineCheck(config, rulesets, options=CheckOptions(), wall=wall).run(report)
        finally:
            for logger, level in zip(quiet, levels, strict=True):
                logger.setLevel(level)
    else:
        for finding in check_paths(config):
            report(finding)
    for warning in _lint_warnings(config):
        report(Finding("warning", warning))
    if record_dir is not None:
        why = writable_dir(record_dir)
        if why is None:
            there = "is writable" if record_dir.exists() else "does not exist yet: it is created"
            report(Finding("ok", f"{record_dir} {there}", "--record"))
        else:
            fix = "choose a directory the daemon's user may create and write"
            report(Finding("problem", f"{record_dir} is not writable ({why})", "--record", fix))
    if config.cpu_latency_us is not None:
        report(_cpu_latency_finding(config.cpu_latency_us))
    rules = sum(len(r.rules) for r in rulesets.values())
    if problems:
        click.echo(click.style(f"FAILED: {problems} problem(s)", fg="red", bold=True))
        raise SystemExit(1)
    scope = "online" if online else "offline; add --online to try the gateway too"
    click.echo(
        click.style("SUCCESS", fg="green", bold=True)
        + f": {len(config.accounts)} account(s), {rules} rules valid ({scope})"
    )


def _cpu_latency_finding(microseconds: int) -> Finding:
    """Whether ``cpu_latency_us`` can be held: a daemon that may not is slower, not unsafe
    (``info``, not a problem)."""
    from simple_risk.daemon.check import Finding

    device = cpuwake.CPU_DMA_LATENCY
    why = cpuwake.writable(device)
    if why is None:
        return Finding("ok", f"{device} is writable ({microseconds} µs)", "cpu_latency_us")
    return Finding(
        "info",
        f"{device} is not writable ({why}): the daemon guards without holding it",
        "cpu_latency_us",
        'give the daemon\'s user the device (docs/daemon.md, "Low latency"), or remove the key',
    )


def _serve(
    config: DaemonConfig,
    rulesets: dict[int, Ruleset],
    simulator: Simulator | None,
    log_format: str | None,
    log_level: str | None,
    options: RuntimeOptions,
    record_dir: Path | None = None,
) -> None:
    """Run the daemon until a signal or a ``stop`` request, then stop it gracefully.

    SIGTERM and Ctrl-C stop it; SIGHUP reloads the ruleset exactly as ``admin reload`` does
    (lint first; on an error the running ruleset stays), audited as the signal. Under systemd
    (``Type=notify``) it reports READY once every account is reconciled, pings the watchdog
    while the engine thread turns (not once it is stuck: systemd then restarts the daemon), and
    reports STOPPING. Files it creates are owner-only.
    """
    register_secret(config.api_key)
    socket_dir = config.status_socket.parent
    owner_only(*(d for d in (config.data_dir, config.log_dir) if d != socket_dir))
    notifier = Notifier()
    recorder: RecordingDir | None = None
    if record_dir is not None:
        try:
            started = options.wall() if options.wall is not None else None
            recorder = RecordingDir(record_dir, started_at=started)
        except OSError as exc:
            click.echo(f"simple-risk: cannot record to {record_dir}: {exc}", err=True)
            raise SystemExit(1) from None
        options = dataclasses.replace(options, recorder=recorder)
        click.echo(f"recording to {record_dir}")
    try:
        configure_logging(
            level=log_level or config.log.level,
            log_format=log_format or config.log.format,
            log_dir=None if simulator is not None else config.log_dir,
            max_bytes=config.log.file_max_bytes,
            backups=config.log.file_backups,
        )
    except OSError as exc:
        click.echo(f"simple-risk: cannot write the log (log_dir): {_os_error_words(exc)}", err=True)
        raise SystemExit(1) from None
    for warning in _lint_warnings(config):
        log.warning("ruleset: %s", warning)
    stopping = threading.Event()
    reloading = threading.Event()
    #: the stop signals received, in order; the main loop logs them (a handler only records:
    #: it may run in the middle of a log call on the same thread)
    stop_signals: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_signals.append(signal.Signals(signum).name)
        stopping.set()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        reloading.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    previous_int = signal.signal(signal.SIGINT, on_signal)
    previous_hup = signal.signal(signal.SIGHUP, on_hangup)
    daemon: Daemon | None = None
    pid_file = config.data_dir / PID_FILE
    wrote_pid = False
    data_dir_lock = _hold_data_dir(config.data_dir, pid_file)
    cpu_hold = _hold_cpu_latency(config)
    try:
        store = open_store(config)
        daemon = Daemon(config, rulesets, store=store, options=options)
        daemon.start()
        observed = sorted(daemon.enforcement.observed())
        if observed:
            click.echo(
                click.style("OBSERVE MODE", fg="black", bg="yellow", bold=True)
                + f" for account(s) {', '.join(map(str, observed))}: breaches are shown and "
                "journaled, nothing is sent to the gateway"
            )
        wrote_pid = _write_pid(pid_file)
        announced = settled = False
        next_ping = 0.0
        ready_by = time.monotonic() + config.timing.ready_after
        while not stopping.wait(0.2):
            if daemon.error is not None or daemon.stop_requested.is_set():
                break
            if not settled and daemon.ready.is_set():
                settled = True
                settle_startup_heap()  # before READY: no full collection pauses a breach
            if not announced and daemon.ready.is_set():
                announced = notifier.ready(f"guarding {len(config.accounts)} account(s)")
            elif not announced and time.monotonic() >= ready_by:
                announced = _ready_with_the_live(daemon, config, notifier)
            if notifier.watchdog_interval is not None and time.monotonic() >= next_ping:
                # an engine thread that no longer turns guards nothing: systemd restarts a
                # daemon whose watchdog goes unpinged (WatchdogSec)
                if daemon.engine_stuck_for() is None:
                    notifier.watchdog()
                next_ping = time.monotonic() + notifier.watchdog_interval
            if reloading.is_set():
                reloading.clear()
                _reload_on_signal(daemon, notifier)
    except OSError as exc:
        click.echo(f"simple-risk: cannot run: {_os_error_words(exc)}", err=True)
        raise SystemExit(1) from None
    except (StoreError, ProjectXError, ServerError, OwnTagError) as exc:
        click.echo(f"simple-risk: cannot run: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        if stop_signals:
            # an operator reading the log tells the stop they asked for from a crash
            log.warning("received %s: stopping", stop_signals[0])
        try:
            if daemon is not None:
                notifier.stopping()
                daemon.stop()
                daemon.store.close()
            if wrote_pid:
                with contextlib.suppress(OSError):
                    pid_file.unlink()
            if recorder is not None:
                recorder.close()
            if cpu_hold is not None:
                cpu_hold.release()
            os.close(data_dir_lock)
        finally:
            # restored last: a second Ctrl-C while stopping must not cut the graceful stop
            # short with a traceback
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGHUP, previous_hup)
    if daemon is not None and daemon.error is not None:
        sys.exit(2)
    if daemon is not None and daemon.stop_requested.is_set() and not stop_signals:
        # the admin's stop: under systemd's Restart=always it must stay a stop (the unit's
        # RestartPreventExitStatus), where a crash, a kill or a failure is restarted
        sys.exit(ADMIN_STOP_EXIT)


def _os_error_words(exc: OSError) -> str:
    """An OSError about a path said for an administrator: the path and what is wrong with it
    (``[Errno 17] File exists`` for a directory setting that names a file is not that)."""
    path = exc.filename
    if path is None:
        return exc.strerror or str(exc)
    if isinstance(exc, FileExistsError) and not Path(path).is_dir():
        return f"{path} is a file, where a directory is needed"
    if isinstance(exc, NotADirectoryError):
        return f"{path}: a part of this path is a file, not a directory"
    return f"{path}: {exc.strerror or exc}"


def _hold_cpu_latency(config: DaemonConfig) -> cpuwake.CpuLatencyHold | None:
    """The PM QoS request ``cpu_latency_us`` asks for, held until the daemon stops; a request
    the daemon may not make is said (log and terminal) and the daemon guards without it."""
    if config.cpu_latency_us is None:
        return None
    hold = cpuwake.CpuLatencyHold(config.cpu_latency_us)
    why = hold.acquire()
    if why is None:
        return hold
    log.warning(
        "cpu_latency_us: cannot hold the CPUs' wake-up latency (%s); guarding without it "
        '(docs/daemon.md, "Low latency")',
        why,
    )
    click.echo(f"simple-risk: cpu_latency_us not held ({why}); guarding without it", err=True)
    return None


def _ready_with_the_live(daemon: Daemon, config: DaemonConfig, notifier: Notifier) -> bool:
    """``timing.ready_after`` passed and some account is not live yet (the gateway refuses
    it, its reconciles keep failing: each alerted on its own): READY=1 with the accounts that
    are, so that systemd does not kill the daemon at TimeoutStartSec and leave them unguarded
    while it restarts. With none live, nothing is said: a restart may well help then."""
    live = daemon.live_accounts()
    if not live:
        return False
    waiting = sorted(set(config.accounts) - live)
    log.warning(
        "ready with %d of %d account(s) after %.0f s; not live yet: %s",
        len(live),
        len(config.accounts),
        config.timing.ready_after,
        ", ".join(map(str, waiting)),
    )
    return notifier.ready(
        f"guarding {len(live)} of {len(config.accounts)} account(s);"
        f" not live: {', '.join(map(str, waiting))}"
    )


def _reload_on_signal(daemon: Daemon, notifier: Notifier) -> None:
    """SIGHUP: the ``admin reload`` path (lint, swap on the engine thread, audit)."""
    if daemon.server is None:
        log.warning(
            "received SIGHUP: ignored: this daemon serves no status socket to reload through"
        )
        return
    log.info("received SIGHUP: reloading the ruleset and overlays")
    notifier.reloading()
    try:
        result = daemon.server.ops.reload_on_signal("SIGHUP")
    except ProtocolError as refusal:
        log.error("SIGHUP reload refused: %s", refusal.message)
        for problem in refusal.problems:
            log.error("  %s", format_problem(problem))
    else:
        from simple_risk.cli.admin_views import (
            mandatory_lines,
            reload_lines,
            restart_lines,
            warning_lines,
        )

        log.info("SIGHUP reload applied (%s)", result.get("ruleset", {}).get("name", ""))
        loud = {
            *restart_lines(result.get("restart_needed")),
            *mandatory_lines(result.get("mandatory_dropped")),
            *warning_lines(result.get("warnings")),
        }
        for line in reload_lines(result):
            # what was not applied, a rule no longer mandatory, lint's warnings: at warning
            level = logging.WARNING if line in loud else logging.INFO
            log.log(level, "SIGHUP reload: %s", line)
    finally:
        notifier.ready("guarding after a reload")


def _hold_data_dir(data_dir: Path, pid_file: Path) -> int:
    """Lock the data directory for this daemon, or refuse to run (exit 1).

    The store's leases take a daemon on the same data directory for the same one restarted
    (after a kill -9 it takes its lease back at once), so a second ``engine run`` whose
    socket is elsewhere would guard the account too. The lock is the kernel's: a daemon that
    dies, however, leaves it free."""
    path = data_dir / LOCK_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        click.echo(f"simple-risk: cannot run: {_os_error_words(exc)}", err=True)
        raise SystemExit(1) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(handle)
        try:
            holder = f" (pid {int(pid_file.read_text(encoding='ascii'))})"
        except (OSError, ValueError):
            holder = ""
        click.echo(
            f"simple-risk: cannot run: a daemon{holder} already runs from the data directory"
            f" {data_dir} and guards its accounts; stop it first (simple-risk admin --socket"
            " ITS_SOCKET daemon stop), or give this configuration a data_dir of its own",
            err=True,
        )
        raise SystemExit(1) from None
    return handle


def _write_pid(path: Path) -> bool:
    """Write our pid atomically (``admin daemon stop`` and supervisors read it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(f"{os.getpid()}\n", encoding="ascii")
        os.replace(temporary, path)
    except OSError as exc:
        click.echo(f"simple-risk: cannot write {path}: {exc.strerror or exc}", err=True)
        return False
    return True


__all__ = ["engine", "run"]
