"""Running the daemon against the in-process simulator: the demo, the e2e tests, the benches.

Two helpers keep every such run honest about time (architecture.md §5): :func:`sim_config` shrinks
every interval of the daemon, and :func:`scaled_ruleset` reshapes the calendar and the graces
relative to *now* — a regular session open all day every day, no holidays, ``for:`` durations
of a few seconds — instead of sleeping through real durations.
"""

from __future__ import annotations

import dataclasses
import os
import time as monotonic_time
import uuid
from collections.abc import Callable, Iterable
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.daemon.config import (
    PASSWORD_FILE_NAME,
    DaemonConfig,
    LogSettings,
    Timing,
)
from simple_risk.engine.events import OrderSide, OrderType
from simple_risk.engine.model import Ruleset, SessionSpec
from simple_risk.paths import xdg_dir

#: The admin password of a daemon that guards a simulator (``engine run --sim``): it has no
#: configuration to run ``admin set-password --config`` against, and it guards no real money,
#: so like the simulator's demo API key the password is known and shown in the banner.
SIM_ADMIN_PASSWORD = "demo"


def scaled_ruleset(
    ruleset: Ruleset,
    *,
    grace: timedelta = timedelta(seconds=10),
    session: tuple[time, time] = (time(0, 0), time(0, 0)),
) -> Ruleset:
    """The ruleset with every session open ``session`` on all days, no holidays or early
    closes, and every ``for:`` longer than ``grace`` shortened to it (the demo's 10 s instead
    of 30 s; a shorter one, the resting orders' 2 s, is kept).

    The default, 00:00 to 00:00, is a session that ends when the next one starts (an end not
    after the start runs overnight: docs/calendar.md): open around the clock, with no last
    second before midnight outside it."""
    calendar = dataclasses.replace(
        ruleset.calendar,
        sessions={
            name: SessionSpec(name, session[0], session[1], frozenset(range(7)))
            for name in ruleset.calendar.sessions
        },
        holidays=frozenset(),
        early_closes={},
    )
    rules = tuple(
        dataclasses.replace(rule, for_=min(rule.for_, grace)) if rule.for_ is not None else rule
        for rule in ruleset.rules
    )
    return dataclasses.replace(ruleset, calendar=calendar, rules=rules)


def sim_config(
    base_url: str,
    username: str,
    api_key: str,
    accounts: Iterable[int],
    data_dir: Path,
    *,
    ruleset_path: Path,
    timing: Timing | None = None,
    status_socket: Path | None = None,
    admin_password_file: Path | None = None,
    dashboard: tuple[str, int] | None = None,
) -> DaemonConfig:
    """A configuration for a simulator at ``base_url`` with a private data directory.

    The status socket defaults to the per-user runtime path, like a real configuration's, so
    ``simple-risk status`` finds a simulated daemon without options (Unix socket paths are
    also limited to ~100 bytes, which a deep temporary data directory can exceed); the admin
    password file lives in the data directory, since there is no configuration file.
    ``dashboard`` serves the trader's page there (``engine run --sim`` and the demo do).
    """
    return DaemonConfig(
        source="<sim>",
        gateway=base_url.rstrip("/"),
        user_hub=f"{base_url.rstrip('/')}/hubs/user",
        market_hub=f"{base_url.rstrip('/')}/hubs/market",
        username=username,
        api_key=api_key,
        accounts=tuple(accounts),
        ruleset_path=ruleset_path,
        overlays={},
        database=f"sqlite:///{data_dir / 'simple-risk.db'}",
        data_dir=data_dir,
        log_dir=data_dir / "log",
        status_socket=status_socket or xdg_dir("runtime", os.environ) / "status.sock",
        admin_password_file=admin_password_file or data_dir / PASSWORD_FILE_NAME,
        config_dir=data_dir,
        dashboard=dashboard,
        log=LogSettings(),
        timing=timing
        or Timing(
            tick_interval=0.25,
            reconcile_interval=5.0,
            reconcile_after_enforcement=0.5,
            snapshot_interval=2.0,
            retry_interval=0.3,
            alert_after_attempts=3,
        ),
    )


class Trader:
    """A scripted trader: its own REST login to the simulator, plus the simulator's controls.

    It trades exactly as a person would through the platform (``Order/place``), so every
    enforcement the daemon makes is visible in the simulator's request log.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator
        self.client = RestClient(
            simulator.base_url,
            Credentials(simulator.username, simulator.api_key),
            config=RestConfig(timeout=5.0, backoff_base=0.05, backoff_max=0.5),
        )
        self._orders = 0

    def contract(self, root: str) -> str:
        """The active contract id of a ProjectX root (``EP`` for ES, ``MNQ``, ``RTY`` ...)."""
        for contract_id in self.sim.venue.active_contract_ids():
            if contract_id.split(".")[3] == root:
                return contract_id
        raise KeyError(f"the simulator lists no {root} contract")

    def _tag(self) -> str:
        # A readable tag per order; it must never start with the engine's own-order prefix,
        # which marks the daemon's orders.
        self._orders += 1
        return f"trader-{uuid.uuid4().hex[:12]}-{self._orders}"

    def market(self, account: int, root: str, side: OrderSide, size: int) -> int:
        return self.client.place_order(
            account,
            self.contract(root),
            order_type=OrderType.MARKET,
            side=side,
            size=size,
            custom_tag=self._tag(),
        )

    def buy(self, account: int, root: str, size: int = 1) -> int:
        return self.market(account, root, OrderSide.BUY, size)

    def sell(self, account: int, root: str, size: int = 1) -> int:
        return self.market(account, root, OrderSide.SELL, size)

    def stop(self, account: int, root: str, side: OrderSide, size: int, price: Decimal) -> int:
        return self.client.place_order(
            account,
            self.contract(root),
            order_type=OrderType.STOP,
            side=side,
            size=size,
            stop_price=price,
            custom_tag=self._tag(),
        )

    def limit(self, account: int, root: str, side: OrderSide, size: int, price: Decimal) -> int:
        return self.client.place_order(
            account,
            self.contract(root),
            order_type=OrderType.LIMIT,
            side=side,
            size=size,
            limit_price=price,
            custom_tag=self._tag(),
        )

    def price(self, root: str) -> Decimal:
        return self.sim.last_price(self.contract(root))

    def move(self, root: str, by: Decimal) -> Decimal:
        """Move the market; first wait (briefly) until a watcher subscribes the contract's
        quotes and trades — live hubs push nothing on subscribe, so a move made before the
        daemon subscribes would never reach it."""
        contract = self.contract(root)
        watched = ("quotes", "trades")
        wait_until(lambda: all(self.sim.market_subscribers(contract, k) for k in watched), 1.0)
        price = self.price(root) + by
        self.sim.set_price(contract, price)
        return price

    def size(self, account: int, root: str | None = None) -> int:
        """Open contracts in the account (in one root's contract when given)."""
        wanted = self.contract(root) if root is not None else None
        return sum(
            p.size
            for p in self.sim.venue.open_positions(account)
            if wanted is None or p.contract_id == wanted
        )

    def working(self, account: int) -> int:
        return len(self.sim.venue.open_orders(account))

    def day_pnl(self, account: int) -> Decimal:
        """Net realized P&L of every non-voided fill the simulator holds for the account."""
        total = Decimal(0)
        for trade in self.sim.venue.trades(account):
            if trade.voided:
                continue
            total += (trade.profit_and_loss or Decimal(0)) - trade.fees - trade.commissions
        return total

    def close(self) -> None:
        self.client.close()


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll until ``condition`` holds or ``timeout`` seconds pass; returns whether it held."""
    deadline = monotonic_time.monotonic() + timeout
    while monotonic_time.monotonic() < deadline:
        if condition():
            return True
        monotonic_time.sleep(interval)
    return condition()


__all__ = ["Trader", "scaled_ruleset", "sim_config", "wait_until"]
