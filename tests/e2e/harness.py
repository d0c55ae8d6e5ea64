"""End-to-end harness: a real simulator on loopback and a real daemon guarding its accounts.

Each test gets a fresh simulator (prices move only when told) and a daemon started in-process
with the shipped ruleset, reshaped relative to now (architecture.md §5): sessions open all day, a
short no-stop grace, params overridden per test so one rule is broken at a time. Waiting is
always on a condition with a short timeout, never a sleep through a real duration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.adapters.topstepx.hubs import HubConfig
from simple_risk.adapters.topstepx.rest import RestConfig
from simple_risk.adapters.topstepx.watchdog import WatchdogConfig
from simple_risk.daemon.config import DaemonConfig
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.daemon.sim import Trader, scaled_ruleset, sim_config, wait_until
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.model import Ruleset
from simple_risk.resources import default_ruleset_path
from tests.pinned import Wall, pinned_wall

ACCOUNT = 20100001
OTHER = 20100002
#: limits far out of the way of a test about the day's boundary: open P&L and the loss tiers'
#: cooldowns never fire, whatever the prices do
QUIET_DAY_LIMITS = {
    "max_unrealized_loss": 100000,
    "max_unrealized_profit": 100000,
    "loss_tier_1": 100000,
    "loss_tier_2": 100000,
    "loss_tier_3": 100000,
}


FAST_OPTIONS = RuntimeOptions(
    rest=RestConfig(timeout=3.0, max_attempts=4, backoff_base=0.05, backoff_max=0.3),
    hubs=HubConfig(
        keep_alive_interval=1.0,
        reconnect_interval=0.2,
        rebuild_backoff_base=0.1,
        rebuild_backoff_max=0.5,
        stop_timeout=2.0,
        watchdog=WatchdogConfig(
            check_interval=0.1, open_timeout=2.0, stuck_after=0.5, stale_after=3.0
        ),
    ),
    lease_ttl=30.0,
    # the tests' pinned wall clocks are days off a PostgreSQL server's on purpose
    store_clock_check=None,
    hub_ready_timeout=5.0,
    # several daemons per test run: none binds the per-user status socket
    serve=False,
)


class Harness:
    """The simulator, the daemon and a scripted trader, with assertions on what was sent."""

    def __init__(self, sim: Simulator, daemon: Daemon, trader: Trader) -> None:
        self.sim = sim
        self.daemon = daemon
        self.trader = trader

    def sent(self, endpoint: str) -> list[dict[str, Any]]:
        """Bodies of every request to ``/api/<endpoint>`` the simulator received."""
        return [
            dict(r.body)
            for r in self.sim.requests_log()
            if r.path.lower() == f"/api/{endpoint}".lower() and isinstance(r.body, dict)
        ]

    def fired(self, rule: str, account: int = ACCOUNT) -> bool:
        return any(f.rule_id == rule and f.account == account for f in self.daemon.firings)

    def locked_by(self, rule: str, account: int = ACCOUNT) -> bool:
        return any(lock.rule == rule for lock in self.daemon.engines[account].locks(account))

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
        assert wait_until(condition, timeout), f"timed out waiting for {what}"


def build_ruleset(
    *,
    params: Mapping[str, object] | None = None,
    grace: float = 30.0,
    enable: tuple[str, ...] = (),
    transform: Callable[[Ruleset], Ruleset] | None = None,
) -> Ruleset:
    ruleset = load_ruleset(default_ruleset_path(), params=params)
    ruleset = scaled_ruleset(ruleset, grace=timedelta(seconds=grace))
    if enable:
        ruleset = dataclasses.replace(
            ruleset,
            rules=tuple(
                dataclasses.replace(rule, enabled=True) if rule.id in enable else rule
                for rule in ruleset.rules
            ),
        )
    return transform(ruleset) if transform is not None else ruleset


Start = Callable[..., Harness]


def pinned_simulator(wall: Wall, bars: tuple[int, float] = (50, 30.0)) -> Simulator:
    """A started simulator on the pinned clock whose prices move only when told; ``bars``: its
    ``History/retrieveBars`` limit (calls, seconds)."""
    return Simulator(
        port=0,
        seed=11,
        ping_interval=0.3,
        price_interval=None,
        rate_limits=RateLimits(general=(5000, 60.0), bars=bars),
        clock=wall,
    ).start()


def guarding_config(sim: Simulator, accounts: tuple[int, ...], directory: Path) -> DaemonConfig:
    """A daemon configuration guarding ``accounts`` at ``sim``, its data in ``directory``."""
    return sim_config(
        sim.base_url,
        sim.username,
        sim.api_key,
        accounts,
        directory,
        ruleset_path=default_ruleset_path(),
    )


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """``start(ruleset, accounts, before)`` → a running :class:`Harness`; ``before(trader)``
    trades before the daemon starts."""
    started: list[tuple[Simulator, Daemon, Trader]] = []

    def run(
        ruleset: Ruleset | None = None,
        accounts: tuple[int, ...] = (ACCOUNT,),
        before: Callable[[Trader], None] | None = None,
    ) -> Harness:
        wall = pinned_wall()
        sim = pinned_simulator(wall)
        config = guarding_config(sim, accounts, tmp_path / f"daemon-{len(started)}")
        chosen = ruleset or build_ruleset()
        daemon = Daemon(
            config,
            dict.fromkeys(accounts, chosen),
            store=open_store(config),
            options=dataclasses.replace(FAST_OPTIONS, wall=wall),
        )
        trader = Trader(sim)
        started.append((sim, daemon, trader))
        if before is not None:
            before(trader)
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the daemon did not become live"
        return Harness(sim, daemon, trader)

    yield run
    for sim, daemon, trader in reversed(started):
        daemon.stop()
        trader.close()
        sim.stop()


Restart = Callable[..., Harness]


@pytest.fixture
def restart() -> Iterator[Restart]:
    """``restart(h, options=None)`` stops the harness's daemon and starts a new one on the same
    data directory (store, snapshots, journal) against the same simulator."""
    started: list[Daemon] = []

    def run(h: Harness, options: RuntimeOptions | None = None) -> Harness:
        h.daemon.stop()
        daemon = Daemon(
            h.daemon.config,
            h.daemon.rulesets,
            store=open_store(h.daemon.config),
            options=options or FAST_OPTIONS,
        )
        started.append(daemon)
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the restarted daemon did not go live"
        return Harness(h.sim, daemon, h.trader)

    yield run
    for daemon in reversed(started):
        daemon.stop()


def open_all_day_ruleset_text(grace: int) -> str:
    """The shipped ruleset with the session open all day, every day, no holidays, and a
    ``grace``-second no-stop grace: what a test run at any hour needs."""
    text = default_ruleset_path().read_text(encoding="utf-8")
    text = text.replace(
        'rth: {start: "08:30", end: "15:00", days: [mon, tue, wed, thu, fri]}',
        'rth: {start: "00:00", end: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}',
    )
    text = text.replace("  holidays: [2026-11-26, 2026-12-25, 2027-01-01]", "  holidays: []")
    # the one-spell grace (its for:) and the cumulative one are the stop_loss_grace param
    text = text.replace("  stop_loss_grace: 30 ", f"  stop_loss_grace: {grace} ")
    assert f"stop_loss_grace: {grace} " in text and "sat, sun" in text
    return text


def fast_ruleset(path: Path, grace: int = 1) -> None:
    """The open-all-day ruleset with a 1 s no-stop grace and the cooldowns out of the way."""
    text = open_all_day_ruleset_text(grace)
    # The day must reach its daily loss limit whatever the timing of the kills: a trade-count
    # cooldown or a loss cooldown that happens to be running when the second loss is bought
    # would close that position at once, before it loses (timed locks still come from the
    # oversized order's lockout).
    for name, value in (
        ("max_trades_per_minute: 3", "max_trades_per_minute: 1000"),
        ("max_trades_per_hour: 10", "max_trades_per_hour: 1000"),
        ("loss_tier_1: 100", "loss_tier_1: 100000"),
        ("loss_tier_2: 200", "loss_tier_2: 200000"),
        ("loss_tier_3: 300", "loss_tier_3: 300000"),
    ):
        assert name in text, name
        text = text.replace(name, value)
    path.write_text(text, encoding="utf-8")
