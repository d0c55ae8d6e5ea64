"""A real daemon with its status server, against a real simulator on loopback.

Each test gets its own short temporary directory (a Unix socket path must stay under 108
bytes), a copy of the shipped ruleset it may edit and reload, an admin password hashed with
a low bcrypt cost, and server timings shrunk so throttling can be waited through in tens of
milliseconds. Waiting is always on a condition with a timeout, never a sleep through a real
duration.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import RateLimits, Simulator
from simple_risk.daemon.control.client import Connection
from simple_risk.daemon.control.server import ServerOptions
from simple_risk.daemon.password import hash_password, write_password_hash
from simple_risk.daemon.runtime import Daemon, RuntimeOptions, open_store
from simple_risk.daemon.sim import Trader, scaled_ruleset, sim_config, wait_until
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.model import Ruleset
from simple_risk.resources import default_ruleset_path
from tests.e2e.harness import FAST_OPTIONS
from tests.pinned import pinned_wall

ACCOUNT = 20100001
PASSWORD = "correct horse battery"

FAST_SERVER = ServerOptions(
    engine_timeout=5.0, throttle_base=0.05, throttle_cap=1.0, bcrypt_rounds=4
)


def fast_options(server: ServerOptions, grace: float) -> RuntimeOptions:
    """The e2e harness's shrunk timings, plus this server and the reload transform."""

    def transform(ruleset: Ruleset) -> Ruleset:
        return scaled_ruleset(ruleset, grace=timedelta(seconds=grace))

    return dataclasses.replace(FAST_OPTIONS, serve=True, server=server, ruleset_transform=transform)


def ruleset_text(**params: object) -> str:
    """The shipped ruleset's text with some ``params:`` values replaced."""
    text = default_ruleset_path().read_text(encoding="utf-8")
    for name, value in params.items():
        lines = text.splitlines(keepends=True)
        for index, line in enumerate(lines):
            if line.startswith(f"  {name}:"):
                comment = line.find("#")
                tail = f"  {line[comment:]}" if comment > 0 else "\n"
                lines[index] = f"  {name}: {value}{tail.rstrip()}\n"
                break
        else:
            raise KeyError(name)
        text = "".join(lines)
    return text


class Running:
    """A simulator, a daemon serving its socket, a scripted trader, and client helpers."""

    def __init__(
        self, sim: Simulator, daemon: Daemon, trader: Trader, directory: Path, ruleset: Path
    ) -> None:
        self.sim = sim
        self.daemon = daemon
        self.trader = trader
        self.directory = directory
        self.ruleset = ruleset
        self.socket = daemon.config.status_socket

    def connect(self, timeout: float = 10.0) -> Connection:
        return Connection(str(self.socket), timeout=timeout)

    def request(self, op: str, args: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        with self.connect() as connection:
            return connection.request(op, args, **kwargs)

    def admin(self, op: str, args: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("password", PASSWORD)
        kwargs.setdefault("operator", "desk-lead")
        return self.request(op, args, **kwargs)

    def status(self) -> dict[str, Any]:
        result = self.request("status", {"account": ACCOUNT})
        assert isinstance(result, dict)
        account = result["accounts"][0]
        assert isinstance(account, dict)
        return account

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        assert wait_until(condition, timeout), f"timed out waiting for {what}"

    def locked_by(self, rule: str) -> bool:
        return any(lock.rule == rule for lock in self.daemon.engines[ACCOUNT].locks(ACCOUNT))


Start = Callable[..., Running]


def quiet_simulator(**changes: Any) -> Simulator:
    """The simulator these tests run against (not started): seeded, prices still unless a test
    moves them, a rate limit no test reaches, the pinned day; ``changes`` override any of it
    (``accounts=`` for other accounts)."""
    settings: dict[str, Any] = {
        "port": 0,
        "seed": 11,
        "ping_interval": 0.3,
        "price_interval": None,
        "rate_limits": RateLimits(general=(5000, 60.0), bars=(50, 30.0)),
        "clock": pinned_wall(),
    }
    return Simulator(**(settings | changes))


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="sr-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def start(short_dir: Path) -> Iterator[Start]:
    """``start(text=..., grace=..., password=..., server=..., before=...)`` → :class:`Running`.

    ``text`` is the ruleset file's content (default: the shipped one); the daemon runs it
    scaled (sessions open all day, ``for:`` at most ``grace``) and reloads apply the same
    scaling.
    """
    started: list[tuple[Simulator, Daemon, Trader]] = []

    def run(
        text: str | None = None,
        *,
        grace: float = 30.0,
        password: str | None = PASSWORD,
        server: ServerOptions = FAST_SERVER,
        before: Callable[[Trader], None] | None = None,
        sim: Simulator | None = None,
        name: str = "daemon",
        **config_changes: Any,
    ) -> Running:
        directory = short_dir / name
        directory.mkdir(exist_ok=True)
        ruleset_path = directory / "ruleset.yaml"
        if text is not None or not ruleset_path.exists():
            ruleset_path.write_text(text or ruleset_text(), encoding="utf-8")
        if sim is None:
            sim = quiet_simulator().start()
        config = sim_config(
            sim.base_url,
            sim.username,
            sim.api_key,
            (ACCOUNT,),
            directory,
            ruleset_path=ruleset_path,
            status_socket=directory / "s.sock",
        )
        if config_changes:
            config = dataclasses.replace(config, **config_changes)
        if password is not None and not config.admin_password_file.exists():
            write_password_hash(config.admin_password_file, hash_password(password, rounds=4))
        # the daemon shares the simulator's pinned day (never the real date)
        options = dataclasses.replace(fast_options(server, grace), wall=sim.clock)
        assert options.ruleset_transform is not None
        ruleset = options.ruleset_transform(load_ruleset(ruleset_path))
        rulesets = dict.fromkeys(config.accounts, ruleset)
        daemon = Daemon(config, rulesets, store=open_store(config), options=options)
        trader = Trader(sim)
        started.append((sim, daemon, trader))
        if before is not None:
            before(trader)
        daemon.start()
        assert wait_until(daemon.ready.is_set, 10.0), "the daemon did not become live"
        return Running(sim, daemon, trader, directory, ruleset_path)

    yield run
    stopped: set[int] = set()
    for sim, daemon, trader in reversed(started):
        daemon.stop()
        daemon.store.close()
        trader.close()
        if id(sim) not in stopped:
            stopped.add(id(sim))
            sim.stop()
