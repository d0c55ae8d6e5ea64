"""A real daemon serving its dashboard, against a real simulator, seen by a real Chromium.

The daemon and the simulator share the pinned clock of :mod:`tests.pinned` (a Wednesday
mid-morning in Chicago), so nothing a test sees depends on the day it runs. The browser is
Debian's ``chromium`` driven by Playwright (``executable_path``: Playwright's own browser
download is never used); CI installs it (``.ci/run``). One browser serves every test of a
module; each test gets a fresh page and fails on any console error the page logged.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from simple_risk.adapters.simulator import Simulator
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import Trader, wait_until
from tests.e2e.harness import FAST_OPTIONS, build_ruleset, guarding_config, pinned_simulator
from tests.pinned import PINNED_START, pinned_wall

ACCOUNT = 20100001
#: the trader's own zone in the browser (times on the page are shown in it)
BROWSER_ZONE = "America/New_York"
CHROMIUM_ENV = "SIMPLE_RISK_CHROMIUM"


def chromium_path() -> str | None:
    """Debian's Chromium (or ``$SIMPLE_RISK_CHROMIUM``)."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (Playwright's event loop ends with it, so the tests that
    run after these never meet it)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


class Page:
    """A browser tab on the dashboard, recording what the page logged as an error."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on(
            "console",
            lambda message: message.type == "error" and self.errors.append(message.text),
        )
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))

    def wait_text(self, selector: str, needle: str, timeout: float = 10.0) -> str:
        """The text of ``selector`` once it contains ``needle`` (the page updates by itself)."""
        assert wait_until(lambda: needle in self.text(selector), timeout), (
            f"{selector} never showed {needle!r}; it shows {self.text(selector)!r}"
        )
        return self.text(selector)


class Dashboard:
    """A simulator, a daemon serving its dashboard on a free loopback port, and a trader."""

    def __init__(self, sim: Simulator, daemon: Daemon, trader: Trader, browser: Any) -> None:
        self.sim = sim
        self.daemon = daemon
        self.trader = trader
        self._browser = browser
        self._contexts: list[Any] = []
        assert daemon.dashboard is not None
        self.url = daemon.dashboard.url

    def open(self, path: str = "", *, width: int = 1280, height: int = 900) -> Page:
        context = self._browser.new_context(
            timezone_id=BROWSER_ZONE, locale="en-US", viewport={"width": width, "height": height}
        )
        self._contexts.append(context)
        page = Page(context.new_page())
        page.page.goto(self.url + path)
        return page

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        assert wait_until(condition, timeout), f"timed out waiting for {what}"

    def restart(self) -> None:
        """Stop the daemon and start a new one on the same data directory (store, snapshots,
        journal) against the same simulator; its dashboard has a new port (open a new page)."""
        old = self.daemon
        old.stop()
        old.store.close()
        self.daemon = Daemon(
            old.config, old.rulesets, store=open_store(old.config), options=old.options
        )
        self.daemon.start()
        assert wait_until(self.daemon.ready.is_set, 10.0), "the restarted daemon did not go live"
        assert self.daemon.dashboard is not None
        self.url = self.daemon.dashboard.url

    def close(self) -> None:
        for context in self._contexts:
            context.close()


Start = Callable[..., Dashboard]


def _factory(tmp_path: Path, browser: Any) -> tuple[Start, Callable[[], None]]:
    started: list[tuple[Simulator, Daemon, Trader, Dashboard]] = []

    def run(
        params: dict[str, object] | None = None,
        grace: float = 30.0,
        accounts: tuple[int, ...] = (ACCOUNT,),
        lease_ttl: float | None = None,
        start: datetime = PINNED_START,
    ) -> Dashboard:
        wall = pinned_wall(start)
        sim = pinned_simulator(wall)
        config = guarding_config(sim, accounts, tmp_path / f"daemon-{len(started)}")
        config = dataclasses.replace(config, dashboard=("127.0.0.1", 0))
        daemon = Daemon(
            config,
            dict.fromkeys(accounts, build_ruleset(params=params, grace=grace)),
            store=open_store(config),
            options=dataclasses.replace(
                FAST_OPTIONS, wall=wall, lease_ttl=lease_ttl or FAST_OPTIONS.lease_ttl
            ),
        )
        trader = Trader(sim)
        daemon.start()
        shown = Dashboard(sim, daemon, trader, browser)
        started.append((sim, daemon, trader, shown))
        assert wait_until(daemon.ready.is_set, 10.0), "the daemon did not become live"
        return shown

    def stop() -> None:
        for sim, _, trader, shown in reversed(started):
            shown.close()
            shown.daemon.stop()  # the one running now: restart() stopped the others
            shown.daemon.store.close()
            trader.close()
            sim.stop()

    return run, stop


@pytest.fixture
def dashboard(tmp_path: Path, browser: Any) -> Iterator[Start]:
    """``dashboard(params=..., grace=..., accounts=..., lease_ttl=..., start=...)`` → a running
    :class:`Dashboard` (``start``: where its pinned wall clock begins)."""
    run, stop = _factory(tmp_path, browser)
    yield run
    stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Start]:
    """Like :func:`dashboard`, without a browser (for plain HTTP requests)."""
    run, stop = _factory(tmp_path, None)
    yield run
    stop()
