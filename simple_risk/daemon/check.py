"""``engine run --check [--online]``: can this configuration guard these accounts right now?

A new user's first question before giving the daemon the power to flatten is "is it set up
right?". A configuration that parses is not enough: a wrong URL, a wrong API key, an account the
login cannot see or an unwritable data directory all pass a syntax check and then fail at the
worst moment. So the check runs the same steps the daemon runs at startup, one at a time, and
turns each failure into one line that names the configuration key and the fix:

offline — the rulesets lint clean (done by the loader), the data and log directories are
writable; online — the gateway URL is usable (scheme, DNS, port), the login works, every
configured account is visible (the visible ones are listed), both hubs complete the SignalR
handshake, a quote arrives (or the market is closed), and the rules are evaluated once over the
accounts' current positions, orders and the week's fills, to say what they would do now
("session-block-outside would close MNQ now").

Nothing here changes anything at the gateway: the check logs in, reads and subscribes, never
places, cancels or closes.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.errors import (
    AuthenticationError,
    MalformedResponse,
    ProjectXError,
    TransportError,
)
from simple_risk.adapters.topstepx.hubs import HubConfig, MarketHubClient, UserHubClient
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.daemon.config import DaemonConfig, masked_url
from simple_risk.daemon.filemodes import open_to_others
from simple_risk.engine import Engine, Firing
from simple_risk.engine.calendar import CalendarError, TradingCalendar
from simple_risk.engine.events import (
    AccountUpdate,
    ContractInfo,
    ContractLoaded,
    Event,
    Quote,
    Reconciled,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.model import Ruleset
from simple_risk.store.database import connect
from simple_risk.store.records import StoreError
from simple_risk.whatif.runner import steps_for
from simple_risk.whatif.words import lock_words
from simple_risk.words import short_tz


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the check: ``ok``, ``info`` and ``warning`` inform, ``problem`` fails the
    check."""

    level: str  # "ok" | "info" | "warning" | "problem"
    text: str
    #: the configuration key the line is about (problems always name one)
    key: str | None = None
    fix: str | None = None

    def line(self) -> str:
        where = f"{self.key}: " if self.key else ""
        fix = f" — fix: {self.fix}" if self.fix else ""
        return f"{where}{self.text}{fix}"


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How long each online step may take (tests shrink them)."""

    rest_timeout: float = 10.0
    hub_timeout: float = 10.0
    quote_wait: float = 5.0


Report = Callable[[Finding], None]


# -- offline -------------------------------------------------------------------------------------


def nearest_existing(path: Path) -> Path:
    """``path``, or its nearest ancestor that exists (where the daemon would create it)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def writable_dir(path: Path) -> str | None:
    """None when this user could write a file in ``path``, or create it (the daemon does at
    its start); else why not. Creates and writes nothing: a check changes nothing on disk."""
    there = path
    try:
        there = nearest_existing(path)
        if not there.is_dir():
            return f"{there} is not a directory"
        # a file without a name (O_TMPFILE), gone when closed: root passes any access()
        # test, but not a filesystem that takes no file (/proc)
        with tempfile.TemporaryFile(dir=there, prefix=".simple-risk-check-"):
            pass
    except OSError as exc:  # a folder on the way closed to this user
        why = exc.strerror or str(exc)
        return why if there == path else f"{there}: {why}"
    return None


def _dir_finding(key: str, path: Path) -> Finding:
    why = writable_dir(path)
    if why is not None:
        return Finding(
            "problem",
            f"{path} is not writable ({why})",
            key,
            "choose a directory the daemon's user owns, or give that user write access",
        )
    if path.exists():
        return Finding("ok", f"{path} is writable", key)
    return Finding(
        "ok",
        f"{path} does not exist yet: the daemon creates it ({nearest_existing(path)} is writable)",
        key,
    )


def check_paths(config: DaemonConfig) -> list[Finding]:
    """The data and log directories exist (or can be made) and take a file, the store's
    URL is one the daemon can open (a SQLite file's directory takes a file), and no file that
    decides (configuration, ruleset, overlays, admin hash) can be changed by another user."""
    findings: list[Finding] = [_check_database(config.database, config.data_dir)]
    for key, path in (("data_dir", config.data_dir), ("log_dir", config.log_dir)):
        findings.append(_dir_finding(key, path))
    findings.extend(
        Finding(
            "problem",
            f"{found.path} can be changed by a user other than the daemon's ({found.why})",
            found.key,
            "chown it (and its folders) to the daemon's user or root and chmod go-w: whoever "
            "can write it can loosen the rules",
        )
        for found in open_to_others(config)
    )
    return findings


def _check_database(url: str, data_dir: Path) -> Finding:
    """Offline: the URL parses and names a database simple-risk speaks; a SQLite file's
    directory is writable (in ``data_dir``, the default, its own finding says so). A
    PostgreSQL server is first reached when the daemon starts."""
    fix = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    try:
        engine, parsed, dialect = connect(url, timedelta(seconds=1))
    except StoreError as exc:
        return Finding("problem", str(exc), "database", fix)
    engine.dispose()
    shown = parsed.render_as_string(hide_password=True)
    if dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
        file = Path(parsed.database)
        directory = file.parent
        why = None if directory == data_dir else writable_dir(directory)
        if why is not None:
            return Finding("problem", f"{directory} is not writable ({why})", "database", fix)
        try:
            there = file.exists()
        except OSError:  # a folder on the way closed to this user: its own finding says so
            there = True
        if not there:  # reported, never created: the daemon creates it
            return Finding(
                "info",
                f"no store at {file} yet: the daemon creates it at its first start",
                "database",
            )
        if not os.access(file, os.R_OK | os.W_OK):
            return Finding(
                "problem",
                f"{file} cannot be read and written by this user",
                "database",
                "run the daemon (and this check) as the store's owner",
            )
    return Finding("ok", f"{shown} can be opened", "database")


# -- online --------------------------------------------------------------------------------------


def check_url(key: str, url: str, schemes: Iterable[str]) -> Finding | None:
    """A problem when ``url`` has the wrong scheme, no host, or a host DNS cannot resolve."""
    allowed = tuple(schemes)
    parts = urlsplit(url)
    if parts.scheme not in allowed:
        return Finding(
            "problem",
            f"{url!r} is not an {'/'.join(allowed)} URL",
            key,
            "use e.g. https://api.topstepx.com (the ProjectX gateway of your firm)",
        )
    if not parts.hostname:
        return Finding("problem", f"{url!r} names no host", key, "write scheme://host[:port]")
    try:
        port = parts.port
    except ValueError:
        return Finding("problem", f"{url!r} has an invalid port", key, "write host:PORT")
    try:
        socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Finding(
            "problem",
            f"cannot resolve host {parts.hostname!r} ({exc})",
            key,
            "check the host name's spelling and this machine's DNS",
        )
    return None


def check_webhook(url: str) -> Finding:
    """Whether the notification webhook's host resolves (nothing is posted); the URL is
    shown as its scheme only: the rest is the chat's token."""
    shown = masked_url(url)
    host = urlsplit(url).hostname or ""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Finding(
            "problem",
            f"{shown}: cannot resolve host {host!r} ({exc})",
            "notify.webhook",
            "check the host name's spelling and this machine's DNS: no alert could be pushed",
        )
    return Finding("ok", f"{shown}: host {host} resolves (nothing posted)", "notify.webhook")


def _login_problem(config: DaemonConfig, error: ProjectXError) -> Finding:
    if isinstance(error, AuthenticationError):
        return Finding(
            "problem",
            f"the gateway refused the login of user {config.username!r} ({error})",
            "credentials.api_key",
            "check credentials.username and credentials.api_key (an API key from the "
            "platform's settings, not the account password)",
        )
    if isinstance(error, TransportError):
        return Finding(
            "problem",
            f"nothing usable answers at {config.gateway} ({error})",
            "gateway",
            "check the URL and port, and that the gateway (or simulator) is running",
        )
    if isinstance(error, MalformedResponse):
        return Finding(
            "problem",
            f"{config.gateway} answered, but not as a ProjectX gateway ({error})",
            "gateway",
            "point gateway: at the REST base URL (e.g. https://api.topstepx.com)",
        )
    return Finding("problem", f"login failed: {error}", "gateway", None)


def _hub_connects(
    hub: UserHubClient | MarketHubClient, key: str, url: str, timeout: float
) -> Finding:
    hub.start()
    if hub.wait_connected(timeout):
        return Finding("ok", f"{url}: connected, SignalR handshake complete", key)
    return Finding(
        "problem",
        f"{url}: no SignalR handshake within {timeout:g} s",
        key,
        "check the hub URL (it must end in /hubs/user or /hubs/market) and the firewall",
    )


def _session_lines(calendar: TradingCalendar, now: datetime) -> list[str]:
    local = calendar.local(now)
    day = calendar.trading_day(now).isoformat()
    lines = [f"trading day {day} (now {local:%a %H:%M} {short_tz(local)})"]
    for name in sorted(calendar.spec.sessions):
        try:
            if calendar.session_open(name, now):
                closes = calendar.minutes_to_close(name, now)
                lines.append(f"session {name}: open, closes in {closes:.0f} min")
            else:
                opens = calendar.local(calendar.next_session_start(name, now))
                # named in its own time: a clock change may fall in between
                when = f"{opens:%a %d %b %H:%M} {short_tz(opens)}"
                lines.append(f"session {name}: closed, next open {when}")
        except CalendarError as exc:
            lines.append(f"session {name}: {exc}")
    return lines


def _market_open(calendar: TradingCalendar, now: datetime) -> bool:
    sessions = calendar.spec.sessions
    if not sessions:
        return calendar.is_trading_day(calendar.trading_day(now))
    return any(calendar.session_open(name, now) for name in sessions)


def firing_would(firing: Firing, state: AccountState | None, zone: tzinfo) -> str:
    """``session-block-outside would close MNQ 2 (long), lock the account until … now —
    message``: the calls the executor would plan, in the words ``replay`` uses."""
    actions = [step.text for step in steps_for(firing, state) if step.call is not None]
    locks = [lock_words(lock, firing.at, zone) for lock in firing.locks]
    what = ", ".join(dict.fromkeys([*actions, *locks])) or "alert"
    return f"{firing.rule_id} would {what} now — {firing.message}"


class OnlineCheck:
    """The startup steps of the daemon, run once against the real gateway, reporting each."""

    def __init__(
        self,
        config: DaemonConfig,
        rulesets: dict[int, Ruleset],
        *,
        options: CheckOptions | None = None,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.rulesets = rulesets
        self.options = options or CheckOptions()
        self.clock = ReceiveClock(wall) if wall is not None else ReceiveClock()

    def run(self, report: Report) -> bool:
        """Run every step, reporting each finding; True when nothing is a problem."""
        failed = False

        def say(finding: Finding) -> None:
            nonlocal failed
            failed = failed or finding.level == "problem"
            report(finding)

        for finding in check_paths(self.config):
            say(finding)
        if self.config.notify.webhook:
            say(check_webhook(self.config.notify.webhook))
        for key, url, schemes in (
            ("gateway", self.config.gateway, ("http", "https")),
            ("user_hub", self.config.user_hub, ("http", "https", "ws", "wss")),
            ("market_hub", self.config.market_hub, ("http", "https", "ws", "wss")),
        ):
            problem = check_url(key, url, schemes)
            if problem is not None:
                say(problem)
                return False
        client = RestClient(
            self.config.gateway,
            Credentials(self.config.username, self.config.api_key),
            config=RestConfig(timeout=self.options.rest_timeout, max_attempts=1),
            clock=self.clock,
        )
        try:
            return self._online(client, say) and not failed
        finally:
            client.close()

    def _online(self, client: RestClient, say: Report) -> bool:
        try:
            client.login()
        except ProjectXError as exc:
            say(_login_problem(self.config, exc))
            return False
        say(Finding("ok", f"logged in as {self.config.username!r}", "credentials"))

        def unreadable(kind: str, why: str) -> None:
            say(Finding("info", f"Account/search: skipped an {kind} it could not read ({why})"))

        try:
            accounts = client.search_accounts(only_active=False, on_malformed=unreadable)
        except ProjectXError as exc:
            say(Finding("problem", f"Account/search failed: {exc}", "gateway"))
            return False
        visible = {a.account_id: a for a in accounts}
        for seen in accounts:
            configured = "guarded" if seen.account_id in self.config.accounts else "not guarded"
            can_trade = "can trade" if seen.can_trade else "cannot trade"
            say(
                Finding(
                    "info",
                    f"visible account {seen.account_id} {seen.name!r}: {can_trade}, "
                    f"balance {seen.balance:,.2f} ({configured})",
                )
            )
        ok = True
        for wanted in self.config.accounts:
            if wanted not in visible:
                ok = False
                listed = ", ".join(str(a) for a in sorted(visible)) or "none"
                say(
                    Finding(
                        "problem",
                        f"account {wanted} is not visible to user {self.config.username!r} "
                        f"(visible: {listed})",
                        "accounts",
                        "remove it, or use the login that owns it",
                    )
                )
        contracts = self._contracts(client, say)
        ok = self._hubs(client, contracts, say) and ok
        now = self.clock.now()
        for account in self.config.accounts:
            if account not in visible:
                continue
            ruleset = self.rulesets[account]
            calendar = TradingCalendar(ruleset.calendar)
            for line in _session_lines(calendar, now):
                say(Finding("info", f"account {account}: {line}"))
            self._would(client, account, ruleset, visible[account], contracts, say)
        return ok

    def _contracts(self, client: RestClient, say: Report) -> dict[str, ContractInfo]:
        try:
            available = client.available_contracts()
        except ProjectXError as exc:
            say(Finding("problem", f"Contract/available failed: {exc}", "gateway"))
            return {}
        say(Finding("ok", f"{len(available)} contracts available"))
        return {info.contract_id: info for info in available}

    def _hubs(self, client: RestClient, contracts: dict[str, ContractInfo], say: Report) -> bool:
        events: queue.Queue[Event] = queue.Queue()
        hub_config = dataclasses.replace(HubConfig(), stop_timeout=2.0)
        user = UserHubClient(
            self.config.user_hub, client, events, clock=self.clock, config=hub_config
        )
        market = MarketHubClient(
            self.config.market_hub, client, events, clock=self.clock, config=hub_config
        )
        try:
            user_found = _hub_connects(user, "user_hub", self.config.user_hub, self._hub_wait)
            say(user_found)
            market_found = _hub_connects(
                market, "market_hub", self.config.market_hub, self._hub_wait
            )
            say(market_found)
            if market_found.level != "ok" or not contracts:
                return user_found.level == "ok" and market_found.level == "ok"
            self._first_quote(market, events, contracts, say)
            return user_found.level == "ok"
        finally:
            _stop_both(user, market)

    @property
    def _hub_wait(self) -> float:
        return self.options.hub_timeout

    def _first_quote(
        self,
        market: MarketHubClient,
        events: queue.Queue[Event],
        contracts: dict[str, ContractInfo],
        say: Report,
    ) -> None:
        contract = _quote_contract(contracts)
        market.subscribe_quotes(contract.contract_id)
        deadline = time.monotonic() + self.options.quote_wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = events.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, Quote) and event.contract_id == contract.contract_id:
                say(Finding("ok", f"first quote for {contract.name} received", "market_hub"))
                return
        now = self.clock.now()
        calendars = [TradingCalendar(r.calendar) for r in self.rulesets.values()]
        if calendars and not any(_market_open(c, now) for c in calendars):
            say(Finding("info", f"no quote for {contract.name}: the market is closed now"))
        else:
            say(
                Finding(
                    "info",
                    f"no quote for {contract.name} within {self.options.quote_wait:g} s "
                    "(a quiet market, or quotes are not reaching this machine)",
                    "market_hub",
                )
            )

    def _would(
        self,
        client: RestClient,
        account: int,
        ruleset: Ruleset,
        update: AccountUpdate,
        contracts: dict[str, ContractInfo],
        say: Report,
    ) -> None:
        """Evaluate the rules once over the account as it is: what they would do now."""
        engine = Engine(ruleset, accounts=[account], unknown_alert_after=None)
        now = self.clock.now()
        # the week's fills, as the daemon's reconcile reads them: week.* facts and windows
        # reaching back past the daily boundary see the days before today too
        calendar = engine.calendar
        day = calendar.trading_day(now)
        week_start = calendar.trading_day_start(calendar.week_start(now))

        def unreadable(kind: str, why: str) -> None:
            say(
                Finding(
                    "info",
                    f"account {account}: skipped an {kind} it could not read ({why}); "
                    "the daemon skips it too, alerts and reconciles",
                )
            )

        try:
            positions = client.open_positions(account, on_malformed=unreadable)
            orders = client.open_orders(account, on_malformed=unreadable)
            trades = client.search_trades(account, week_start, on_malformed=unreadable)
        except ProjectXError as exc:
            say(Finding("problem", f"account {account}: reading its state failed: {exc}"))
            return
        at = now - timedelta(microseconds=1)
        events: list[Event] = [ContractLoaded(at=at, contract=c) for c in contracts.values()]
        events.append(dataclasses.replace(update, at=at))
        events += [dataclasses.replace(t, at=at) for t in trades]
        events += [dataclasses.replace(o, at=at) for o in orders]
        events += [dataclasses.replace(p, at=at) for p in positions]
        firings: list[Firing] = []
        for event in events:
            firings += engine.apply(event)
        firings += engine.apply(Reconciled(at=now, account_id=account))
        today = sum(1 for t in trades if calendar.trading_day(t.created_at or t.at) == day)
        say(
            Finding(
                "info",
                f"account {account}: {len(positions)} open position(s), {len(orders)} working "
                f"order(s), {today} fill(s) today, {len(trades)} this week",
            )
        )
        acting = [f for f in firings if f.kind == "rule" and f.account == account]
        if not acting:
            say(Finding("info", f"account {account}: the rules would do nothing now"))
        state = engine.account(account)
        for firing in acting:
            text = firing_would(firing, state, engine.calendar.tz)
            say(Finding("info", f"account {account}: {text}"))


def _quote_contract(contracts: dict[str, ContractInfo]) -> ContractInfo:
    """The contract to ask a first quote for: an equity-index future when there is one."""
    preferred = ("ES", "MES", "NQ", "MNQ")
    for root in preferred:
        for info in contracts.values():
            if info.root == root and info.active:
                return info
    return next(iter(sorted(contracts.values(), key=lambda c: c.contract_id)))


def _stop_both(user: UserHubClient, market: MarketHubClient) -> None:
    """Stop both hubs at once (each close may wait for its timeout)."""
    threads = [threading.Thread(target=hub.stop, daemon=True) for hub in (user, market)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5.0)


__all__ = [
    "CheckOptions",
    "Finding",
    "OnlineCheck",
    "check_paths",
    "check_url",
    "check_webhook",
    "firing_would",
    "writable_dir",
]
