"""``simple-risk sim``: run the local ProjectX Gateway simulator in the foreground.

It is the embedded default behind the README's first command and the target of the curl
walk-through in ``docs/simulator.md``: it prints the REST base URL, the two hub URLs and the
demo credentials, serves until Ctrl-C (or SIGTERM), then closes hub connections cleanly. It
speaks the live gateway's payload shapes; ``--legacy NAME`` brings an older one back.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click

from simple_risk.adapters.simulator import (
    DEFAULT_API_KEY,
    DEFAULT_PORT,
    DEFAULT_USERNAME,
    LEGACY_NAMES,
    Shapes,
    Simulator,
)
from simple_risk.cli import cli
from simple_risk.cli.numbers import FiniteFloatRange
from simple_risk.daemon.wallclock import WALL_START_ENV, WallClockError, wall_from_env


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the price path.")
@click.option("--username", default=DEFAULT_USERNAME, show_default=True)
@click.option("--api-key", default=DEFAULT_API_KEY, show_default=True)
@click.option(
    "--price-interval",
    default=1.0,
    show_default=True,
    type=FiniteFloatRange(min=0),
    help="Seconds between price steps; 0 = prices move only through /sim/... controls.",
)
@click.option(
    "--ping-interval",
    default=15.0,
    show_default=True,
    type=FiniteFloatRange(min=0, min_open=True),
    help="Seconds between the hubs' keep-alive pings.",
)
@click.option(
    "--token-lifetime",
    default=86400.0,
    show_default=True,
    type=FiniteFloatRange(min=0, min_open=True),
    help="Seconds a session token from Auth/loginKey stays valid.",
)
@click.option(
    "--legacy",
    "legacy",
    multiple=True,
    type=click.Choice([*LEGACY_NAMES, "all"]),
    help="Speak an older payload shape instead of the live gateway's (repeatable; see "
    "docs/simulator.md).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request the simulator receives.")
def sim(
    host: str,
    port: int,
    seed: int,
    username: str,
    api_key: str,
    price_interval: float,
    ping_interval: float,
    token_lifetime: float,
    legacy: tuple[str, ...],
    verbose: bool,
) -> None:
    """Run a local ProjectX Gateway simulator (REST + SignalR hubs) until Ctrl-C."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
        stream=sys.stderr,
    )
    try:
        # a rehearsal pins the day and hour of the simulator as of the daemon beside it, so
        # both stamp the same trading day (docs/daemon.md, "A pinned wall clock")
        wall = wall_from_env("http://127.0.0.1")
    except WallClockError as exc:
        raise click.UsageError(str(exc)) from None
    simulator = Simulator(
        host,
        port,
        seed=seed,
        username=username,
        api_key=api_key,
        price_interval=price_interval or None,
        ping_interval=ping_interval,
        token_lifetime=token_lifetime,
        shapes=Shapes.legacy(LEGACY_NAMES if "all" in legacy else legacy),
        clock=wall,
    )
    try:
        simulator.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    accounts = ", ".join(f"{a.id} ({a.name})" for a in simulator.venue.accounts())
    contracts = ", ".join(simulator.venue.active_contract_ids()[:4])
    click.echo(f"ProjectX Gateway simulator on port {simulator.port}")
    click.echo(f"  REST base   {simulator.base_url}   (e.g. POST /api/Auth/loginKey)")
    click.echo(f"  user hub    {simulator.user_hub_url}")
    click.echo(f"  market hub  {simulator.market_hub_url}")
    click.echo(f"  userName    {username}")
    click.echo(f"  apiKey      {api_key}")
    click.echo(f"  accounts    {accounts}")
    click.echo(f"  contracts   {contracts}, ... (POST /api/Contract/available)")
    click.echo(f"  controls    {simulator.base_url}/sim/state   (see docs/simulator.md)")
    if legacy:
        click.echo(f"  shapes      older: {', '.join(sorted(set(legacy)))}")
    if wall is not None:
        click.echo(
            f"  wall clock  pinned: {wall().isoformat(timespec='seconds')} ({WALL_START_ENV})"
        )
    click.echo("Ctrl-C stops it.", nl=True)
    sys.stdout.flush()
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        simulator.stop()
        click.echo("simulator stopped")
