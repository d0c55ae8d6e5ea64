"""``simple-risk engine``: run the daemon that enforces (``engine run``).

``engine run --config FILE`` validates the configuration and every ruleset first (located
errors, exit 1, nothing started), then runs until SIGTERM, Ctrl-C or the status socket's
``stop`` (``simple-risk admin daemon stop``) — all three take the same graceful path: the
engine thread snapshots every account, the journal is flushed, the leases are released and
the status server closes its connections. While it runs, ``DATA_DIR/daemon.pid`` holds its
pid (removed on a clean stop). ``engine run --sim`` needs no configuration: it starts the
gateway simulator in-process and guards its accounts with the default ruleset scaled for a
quick look (sessions open now, 10 s grace), in a temporary data directory removed at exit.
Other ``engine`` commands (status, monitor, history) register on the same :data:`engine`
group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

import click

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.topstepx.errors import ProjectXError
from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.cli import cli
from simple_risk.daemon.config import ConfigError, DaemonConfig, load_config, load_rulesets
from simple_risk.daemon.control.server import ServerError
from simple_risk.daemon.logging import configure_logging
from simple_risk.daemon.owntags import OwnTagError
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.engine.model import Ruleset
from simple_risk.store import StoreError

#: the pid file's name in the data directory
PID_FILE = "daemon.pid"


@cli.group()
def engine() -> None:
    """Run the risk daemon against TopstepX (or the simulator)."""


def _fail(problems: ConfigError) -> None:
    for problem in problems.problems:
        click.echo(problem.format(), err=True)
    raise SystemExit(1)


def _sim_setup(data_dir: Path) -> tuple[DaemonConfig, dict[int, Ruleset], Simulator]:
    from simple_risk.daemon.sim import scaled_ruleset, sim_config
    from simple_risk.engine.dsl import load_ruleset
    from simple_risk.resources import default_ruleset_path

    simulator = Simulator(port=0, ping_interval=1.0, price_interval=1.0).start()
    accounts = [a.id for a in simulator.venue.accounts()]
    directory = data_dir
    config = sim_config(
        simulator.base_url,
        simulator.username,
        simulator.api_key,
        accounts,
        directory,
        ruleset_path=default_ruleset_path(),
    )
    ruleset = scaled_ruleset(load_ruleset(default_ruleset_path()))
    click.echo(
        f"simulator on {simulator.base_url} (user {simulator.username}); data in {directory}"
    )
    return config, dict.fromkeys(accounts, ruleset), simulator


@engine.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Daemon configuration."
)
@click.option("--sim", is_flag=True, help="Start the simulator in-process and guard it.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--check", is_flag=True, help="Validate the configuration and rulesets, then exit.")
def run(
    config_path: str | None,
    sim: bool,
    log_format: str | None,
    log_level: str | None,
    check: bool,
) -> None:
    """Guard the configured accounts until SIGTERM, Ctrl-C or `admin daemon stop`."""
    if sim:
        temporary = Path(tempfile.mkdtemp(prefix="simple-risk-sim-"))
        try:
            _run_sim(temporary, log_format, log_level, check)
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
    _serve(config, rulesets, None, log_format, log_level, check, RuntimeOptions())


def _run_sim(directory: Path, log_format: str | None, log_level: str | None, check: bool) -> None:
    from simple_risk.daemon.sim import scaled_ruleset

    config, rulesets, simulator = _sim_setup(directory)
    try:
        options = RuntimeOptions(ruleset_transform=scaled_ruleset)
        _serve(config, rulesets, simulator, log_format, log_level, check, options)
    finally:
        simulator.stop()


def _serve(
    config: DaemonConfig,
    rulesets: dict[int, Ruleset],
    simulator: Simulator | None,
    log_format: str | None,
    log_level: str | None,
    check: bool,
    options: RuntimeOptions,
) -> None:
    """Run the daemon until a signal or a ``stop`` request, then stop it gracefully."""
    register_secret(config.api_key)
    if check:
        click.echo(f"SUCCESS: {len(config.accounts)} account(s), rulesets valid")
        return
    configure_logging(
        level=log_level or config.log.level,
        log_format=log_format or config.log.format,
        log_dir=None if simulator is not None else config.log_dir,
        max_bytes=config.log.file_max_bytes,
        backups=config.log.file_backups,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    previous_int = signal.signal(signal.SIGINT, on_signal)
    daemon: Daemon | None = None
    pid_file = config.data_dir / PID_FILE
    wrote_pid = False
    try:
        store = open_store(config)
        daemon = Daemon(config, rulesets, store=store, options=options)
        daemon.start()
        wrote_pid = _write_pid(pid_file)
        while not stopping.wait(0.2):
            if daemon.error is not None or daemon.stop_requested.is_set():
                break
    except (StoreError, ProjectXError, ServerError, OwnTagError, OSError) as exc:
        click.echo(f"simple-risk: cannot run: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if daemon is not None:
            daemon.stop()
            daemon.store.close()
        if wrote_pid:
            with contextlib.suppress(OSError):
                pid_file.unlink()
    if daemon is not None and daemon.error is not None:
        sys.exit(2)


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
