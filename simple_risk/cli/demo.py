"""``simple-risk demo``: the README's first command — watch the daemon enforce, offline.

It starts the ProjectX Gateway simulator in-process, the daemon against it with the default
ruleset scaled for a fast demo (the regular session open now, a short no-stop grace), and a
scripted trader who breaks the rules one after another through the simulator's REST API:
a position without a stop, a blocked symbol, an oversized order, a loss through the daily
limit, and a new trade while locked out. The console shows each event, each firing with its
reason and each enforcement call with its result; a summary table ends it. No credentials, no
network beyond loopback; it exits 0 when every enforcement happened and 1 otherwise.

The demo's daemon also serves the status socket at the default address when nothing else
answers there, so a newcomer can watch it from a second terminal with ``simple-risk engine
status`` or ``engine monitor``; when the address is busy (another daemon), it says so in one
line and runs without it.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from simple_risk import words
from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.cli import cli
from simple_risk.cli.localzone import viewer_zone
from simple_risk.cli.numbers import FiniteFloatRange
from simple_risk.daemon.calls import call_succeeded, call_words
from simple_risk.daemon.config import Timing
from simple_risk.daemon.control.client import Connection, DaemonNotRunning, default_address
from simple_risk.daemon.control.protocol import ProtocolError
from simple_risk.daemon.control.server import ServerError
from simple_risk.daemon.dashboard import DEFAULT_ADDRESS
from simple_risk.daemon.executor import IntentResult
from simple_risk.daemon.logging import configure_logging, remove_handlers
from simple_risk.daemon.notify import event_text
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.daemon.sim import Trader, scaled_ruleset, sim_config, wait_until
from simple_risk.engine import Firing
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.dsl.catalogue import ticker_of
from simple_risk.engine.events import (
    AccountUpdate,
    ConnectionChanged,
    Event,
    OrderSide,
    OrderUpdate,
    PositionUpdate,
    TradeFill,
)
from simple_risk.resources import default_ruleset_path

ALICE = 20100001  # the account that breaks most rules
BOB = 20100002  # the account that oversizes


class ConsoleObserver:
    """Prints what the daemon sees and does, one coloured line each."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.firings: Counter[str] = Counter()
        self.calls: list[tuple[int, str, str]] = []
        self.alerts: list[str] = []
        self._lock = threading.Lock()

    def _line(self, style: str, tag: str, text: str) -> None:
        stamp = f"{time.monotonic() - self.started:6.2f}s"
        with self._lock:
            self.console.print(
                f"[dim]{stamp}[/] [{style}]{tag:<8}[/] {text}", highlight=False, soft_wrap=True
            )

    def on_event(self, event: Event) -> None:
        """Fills (net P&L), positions and orders in the words ``engine monitor`` uses."""
        styles: tuple[tuple[type[Event], str, str], ...] = (
            (TradeFill, "cyan", "fill"),
            (PositionUpdate, "blue", "position"),
            (OrderUpdate, "white", "order"),
        )
        for kind, style, tag in styles:
            if isinstance(event, kind):
                text = event_text(event) or ""
                account = getattr(event, "account_id", "")
                self._line(style, tag, f"{account} {text.partition(': ')[2] or text}")
                return
        if isinstance(event, AccountUpdate) and not event.can_trade:
            self._line("red", "account", f"{event.account_id} cannot trade")
        elif isinstance(event, ConnectionChanged) and event.gap:
            # only the user hub's gap is read from REST; the market hub's quotes come back
            # with its new connection's subscriptions
            then = "reconciling" if event.hub == "user" else "quotes subscribed again"
            self._line("yellow", "hub", f"{event.hub} {event.state}: {then}")

    def on_firing(self, firing: Firing) -> None:
        self.firings[firing.rule_id] += 1
        kind = "LOCKED" if firing.kind == "lockout" else "FIRING"
        self._line(
            "bold red", kind, f"{firing.account} [bold]{firing.rule_id}[/]: {firing.message}"
        )
        for lock in firing.locks:
            until = (
                words.at_words(lock.ends_at, firing.at, viewer_zone())
                if lock.ends_at
                else "the condition clears"
            )
            what = f"{lock.scope} {ticker_of(lock.symbol)}" if lock.symbol else lock.scope
            self._line("magenta", "lockout", f"{firing.account} {what} {lock.kind} until {until}")

    def on_call(self, account: int, call: str, outcome: str) -> None:
        """One enforcement call: green when it met its target — also when the order it
        cancels was already gone (filled or cancelled) — yellow otherwise."""
        self.calls.append((account, call, outcome))
        style = "bold green" if call_succeeded(outcome) else "bold yellow"
        self._line(style, "ENFORCE", f"{account} {call} → {call_words(outcome)}")

    def on_result(self, result: IntentResult) -> None:
        return None

    def on_alert(self, level: str, message: str) -> None:
        self.alerts.append(message)
        self._line("bold red", "ALERT", message)

    def step(self, text: str) -> None:
        with self._lock:
            self.console.rule(f"[bold]{text}", style="dim")

    def note(self, text: str) -> None:
        """What the story is waiting for, so a quiet moment never looks like a hang."""
        with self._lock:
            self.console.print(f"[dim italic]  … {text}[/]")


class DemoFailed(Exception):
    """An expected enforcement did not happen in time."""


def _expect(condition: Callable[[], bool], timeout: float, what: str) -> None:
    if not wait_until(condition, timeout):
        raise DemoFailed(f"the daemon did not {what} within {timeout:.0f}s")


def _scenario(trader: Trader, daemon: Daemon, show: ConsoleObserver, grace: float) -> None:
    slack = 10.0
    show.step(f"1. Alice buys 1 MNQ without a protective stop (grace {grace:.0f}s)")
    trader.buy(ALICE, "MNQ")
    _expect(lambda: trader.size(ALICE, "MNQ") == 1, slack, "see the fill")
    # the market ticks: the live hub pushes no quote on subscribe, and a position without
    # one has no known open P&L (its loss rules would fire on the unknown after 5 s)
    trader.move("MNQ", Decimal("0.25"))
    show.note(
        f"waiting {grace:.0f} s: no-stop-loss-grace gives Alice that long to place a stop, "
        "then closes the position"
    )
    _expect(lambda: trader.size(ALICE) == 0, grace + slack, "close the unprotected position")

    show.step("2. Alice trades RTY, a blocked symbol")
    trader.buy(ALICE, "RTY")
    _expect(lambda: trader.size(ALICE, "RTY") == 0, slack, "close the blocked symbol")

    show.step("3. Bob oversizes: 60 MES with a stop (the limit is 5 lots = 50 micros)")
    mes = trader.price("MES")
    trader.stop(BOB, "MES", OrderSide.SELL, 60, mes - 20)
    trader.buy(BOB, "MES", 60)
    _expect(lambda: 0 < trader.size(BOB, "MES") <= 50, slack, "cut Bob back to the limit")

    show.step("4. Alice buys 1 ES with a stop and the market drops 10.5 points")
    es = trader.price("EP")
    trader.stop(ALICE, "EP", OrderSide.SELL, 1, es - 20)
    trader.buy(ALICE, "EP")
    _expect(lambda: trader.size(ALICE, "EP") == 1, slack, "see the fill")
    show.note("the market falls: the stop fills below the daily loss limit")
    trader.move("EP", Decimal("-10.5"))
    _expect(lambda: trader.size(ALICE) == 0, slack, "close the losing position")
    _expect(lambda: trader.working(ALICE) == 0, slack, "cancel Alice's working orders")
    _expect(
        lambda: any(
            lock.rule == "daily-realized-loss" for lock in daemon.engines[ALICE].locks(ALICE)
        ),
        slack,
        "lock Alice out for the day",
    )

    show.step("5. Alice, locked out, tries again with 2 MNQ")
    trader.buy(ALICE, "MNQ", 2)
    _expect(lambda: trader.size(ALICE, "MNQ") == 2 or trader.size(ALICE) == 0, slack, "see it")
    _expect(lambda: trader.size(ALICE) == 0, slack, "flatten the locked-out trade")
    _expect(lambda: _settled(trader, daemon), slack, "agree with the gateway on the day's P&L")


def _settled(trader: Trader, daemon: Daemon) -> bool:
    """Every account's realized P&L in the daemon equals the gateway's, and nothing is open."""
    for account in (ALICE, BOB):
        day = daemon.engines[account].facts(account).get("day")
        if getattr(day, "realized_pnl", None) != trader.day_pnl(account):
            return False
    return daemon.queue.depth() == 0 and not daemon.book


def _summary(console: Console, trader: Trader, daemon: Daemon, show: ConsoleObserver) -> None:
    rules = Table(title="Rules that fired", title_style="bold")
    rules.add_column("protects")
    rules.add_column("rule")
    rules.add_column("firings", justify="right")
    ruleset = daemon.engines[ALICE].ruleset
    titles = {rule.id: rule.title for rule in ruleset.rules}
    for rule, count in sorted(show.firings.items()):
        # a derived fact's failure fires under its own name, no rule's
        rules.add_row(titles.get(rule, ""), rule, str(count))
    console.print(rules)
    accounts = Table(title="Accounts at the end", title_style="bold")
    columns = ("account", "net P&L (gateway)", "net P&L (daemon)", "open", "working", "locks")
    for column in columns:
        accounts.add_column(column)
    for account in (ALICE, BOB):
        engine = daemon.engines[account]
        day = engine.facts(account).get("day")
        locks = engine.locks(account)
        ends = [lock.ends_at for lock in locks if lock.ends_at is not None]
        now = daemon.clock.now()
        until = f", until {words.at_words(max(ends), now, viewer_zone())}" if ends else ""
        accounts.add_row(
            str(account),
            words.usd(trader.day_pnl(account)),
            words.usd(getattr(day, "realized_pnl", Decimal(0))),
            words.contracts(trader.size(account)),
            str(trader.working(account)),
            f"{len(locks)}{until}",
        )
    console.print(accounts)
    console.print(
        f"{calls_summary([outcome for _, _, outcome in show.calls])}, "
        f"{sum(show.firings.values())} firings, {daemon.reconciles} reconciliations, "
        f"queue max depth {daemon.queue.max_depth}."
    )


def calls_summary(outcomes: list[str]) -> str:
    """``11 enforcement calls (11 succeeded, 4 of them found the order already gone)``."""
    ok = sum(1 for outcome in outcomes if call_succeeded(outcome))
    gone = sum(1 for outcome in outcomes if outcome.partition(": ")[0] == "already")
    already = f", {gone} of them found the target already gone" if gone else ""
    return f"[bold]{len(outcomes)}[/] enforcement calls ({ok} succeeded{already})"


def free_socket(console: Console) -> Path | None:
    """The default status socket when nothing answers there (else None, with a note)."""
    address = default_address()
    if address.startswith("tcp:"):
        console.print(f"[dim]status socket: {address} is TCP; the demo serves no socket[/]")
        return None
    path = Path(address)
    try:
        with Connection(address, timeout=2.0) as connection:
            pid = connection.request("hello").get("pid")
    except (DaemonNotRunning, ProtocolError, OSError, ValueError, AttributeError):
        return path
    console.print(
        f"[dim]a daemon (pid {pid}) already answers on {path}: the demo runs without "
        "its own status socket[/]"
    )
    return None


def run_demo(
    console: Console,
    grace: float,
    data_dir: Path,
    *,
    status_socket: Path | None = None,
    wall: Callable[[], datetime] | None = None,
    dashboard: tuple[str, int] | None = None,
    hold: Callable[[Daemon], None] | None = None,
) -> int:
    """Run the whole demo; returns the exit status (0 when every enforcement happened).

    With ``status_socket``, the demo's daemon serves the status protocol there. ``wall`` is
    the clock the simulator and the daemon share (the system clock by default; tests pin it,
    so the demo's story never meets a real daily boundary). With ``dashboard``, the daemon
    serves the trader's page there. ``hold`` is called once the story is told, with the
    daemon still running (``demo --keep-running`` waits there for Ctrl-C)."""
    handlers = configure_logging(level="info", log_dir=data_dir / "log", console=False)
    simulator = Simulator(
        port=0,
        seed=42,
        ping_interval=0.5,
        price_interval=None,
        rate_limits=RateLimits(general=(2000, 60.0), bars=(50, 30.0)),
        clock=wall,
    ).start()
    show = ConsoleObserver(console)
    trader = Trader(simulator)
    daemon: Daemon | None = None
    try:
        config = sim_config(
            simulator.base_url,
            simulator.username,
            simulator.api_key,
            [ALICE, BOB],
            data_dir,
            ruleset_path=default_ruleset_path(),
            status_socket=status_socket,
            dashboard=dashboard,
            timing=Timing(
                tick_interval=0.25,
                reconcile_interval=10.0,
                reconcile_after_enforcement=1.0,
                snapshot_interval=5.0,
                retry_interval=0.5,
            ),
        )
        # A trading day compressed into seconds: the fill-rate limits scale with it.
        compressed = {"max_trades_per_minute": 20, "max_trades_per_hour": 60}
        ruleset = scaled_ruleset(
            load_ruleset(default_ruleset_path(), params=compressed), grace=timedelta(seconds=grace)
        )
        console.print(
            f"[bold]simple-risk demo[/]: simulator on {simulator.base_url}, guarding accounts "
            f"{ALICE} (Alice) and {BOB} (Bob) with {len(ruleset.rules)} rules of "
            f"{default_ruleset_path().name}"
        )
        rulesets = dict.fromkeys((ALICE, BOB), ruleset)
        store = open_store(config)
        daemon = Daemon(
            config,
            rulesets,
            store=store,
            observer=show,
            options=RuntimeOptions(serve=status_socket is not None, wall=wall),
        )
        try:
            daemon.start()
        except ServerError as exc:  # taken between the check and the start
            console.print(f"[dim]{exc}: the demo runs without its status socket or dashboard[/]")
            daemon = Daemon(
                dataclasses.replace(config, dashboard=None),
                rulesets,
                store=store,
                observer=show,
                options=RuntimeOptions(serve=False, wall=wall),
            )
            daemon.start()
        if daemon.server is not None:
            console.print(
                f"[bold]In another terminal:[/] simple-risk engine status   "
                f"[dim](or engine monitor; socket {daemon.server.path})[/]"
            )
        if daemon.dashboard is not None:
            console.print(f"[bold]In a browser:[/] {daemon.dashboard.url}")
        _expect(daemon.ready.is_set, 15.0, "reconcile at startup")
        _scenario(trader, daemon, show, grace)
        _summary(console, trader, daemon, show)
        console.print("[bold green]demo finished: every breach was enforced.[/]")
        if hold is not None:
            hold(daemon)
        return 0
    except DemoFailed as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        return 1
    finally:
        if daemon is not None:
            daemon.stop()
        trader.close()
        simulator.stop()
        remove_handlers(handlers)


@cli.command()
@click.option(
    "--grace",
    default=10.0,
    show_default=True,
    type=FiniteFloatRange(min=0),
    help="No-stop grace (s).",
)
@click.option("--no-color", is_flag=True, help="Plain text output.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Afterwards keep the daemon, the simulator and the dashboard up until Ctrl-C, to "
    "look around with engine status / monitor / history or in the browser.",
)
def demo(grace: float, no_color: bool, keep_running: bool) -> None:
    """Watch the daemon enforce a scripted trader's breaches against the local simulator."""
    console = Console(no_color=no_color, highlight=False)
    logging.getLogger("simple_risk.sim").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="simple-risk-demo-") as directory:
        status = run_demo(
            console,
            grace,
            Path(directory),
            status_socket=free_socket(console),
            dashboard=DEFAULT_ADDRESS,
            hold=_until_interrupted(console) if keep_running else None,
        )
    raise SystemExit(status)


def _until_interrupted(console: Console) -> Callable[[Daemon], None]:
    def hold(daemon: Daemon) -> None:
        console.print("[bold]The daemon and the simulator keep running[/] (Ctrl-C stops):")
        if daemon.server is not None:
            console.print(f"  simple-risk engine status   [dim](socket {daemon.server.path})[/]")
            console.print("  simple-risk engine monitor · simple-risk engine history")
        if daemon.dashboard is not None:
            console.print(f"  {daemon.dashboard.url}")
        try:
            while not daemon.stopped.wait(1.0):
                pass
        except KeyboardInterrupt:
            console.print("[dim]stopping[/]")

    return hold


__all__ = ["ConsoleObserver", "demo", "run_demo"]
