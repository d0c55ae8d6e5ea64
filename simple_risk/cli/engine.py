"""``simple-risk engine``: run the daemon that enforces (``engine run``).

``engine run --config FILE`` validates the configuration and every ruleset first (located
errors, exit 1, nothing started), then runs until SIGTERM or Ctrl-C. ``engine run --sim``
needs no configuration: it starts the gateway simulator in-process and guards its accounts
with the default ruleset scaled for a quick look (sessions open now, 10 s grace). Other
``engine`` commands (status, monitor, history) register on the same :data:`engine` group.
"""

from __future__ import annotations

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
from simple_risk.daemon.logging import configure_logging
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.engine.model import Ruleset
from simple_risk.store import StoreError


@cli.group()
def engine() -> None:
    """Run the risk daemon against TopstepX (or the simulator)."""


def _fail(problems: ConfigError) -> None:
    for problem in problems.problems:
        click.echo(problem.format(), err=True)
    raise SystemExit(1)


def _sim_setup(data_dir: Path | None) -> tuple[DaemonConfig, dict[int, Ruleset], Simulator]:
    from simple_risk.daemon.sim import scaled_ruleset, sim_config
    from simple_risk.engine.dsl import load_ruleset
    from simple_risk.resources import default_ruleset_path

    simulator = Simulator(port=0, ping_interval=1.0, price_interval=1.0).start()
    accounts = [a.id for a in simulator.venue.accounts()]
    directory = data_dir or Path(tempfile.mkdtemp(prefix="simple-risk-sim-"))
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
    """Guard the configured accounts until SIGTERM or Ctrl-C."""
    simulator: Simulator | None = None
    if sim:
        config, rulesets, simulator = _sim_setup(None)
    elif config_path is None:
        raise click.UsageError("give --config FILE (or --sim for the simulator)")
    else:
        try:
            config = load_config(config_path)
            rulesets = load_rulesets(config)
        except ConfigError as problems:
            _fail(problems)
            return
    register_secret(config.api_key)
    if check:
        click.echo(f"SUCCESS: {len(config.accounts)} account(s), rulesets valid")
        return
    configure_logging(
        level=log_level or config.log.level,
        log_format=log_format or config.log.format,
        log_dir=None if sim else config.log_dir,
        max_bytes=config.log.file_max_bytes,
        backups=config.log.file_backups,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    previous_int = signal.signal(signal.SIGINT, on_signal)
    daemon: Daemon | None = None
    try:
        store = open_store(config)
        daemon = Daemon(config, rulesets, store=store)
        daemon.start()
        while not stopping.wait(0.5):
            if daemon.error is not None:
                break
    except (StoreError, ProjectXError, OSError) as exc:
        click.echo(f"simple-risk: cannot run: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if daemon is not None:
            daemon.stop()
        if simulator is not None:
            simulator.stop()
    if daemon is not None and daemon.error is not None:
        sys.exit(2)


__all__ = ["engine", "run"]
