"""Plain-words notifications, the chat webhook and apprise URLs (real HTTP on loopback)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from simple_risk.adapters.simulator import AccountSpec
from simple_risk.daemon.config import NotifySettings
from simple_risk.daemon.control.server import ServerError
from simple_risk.daemon.executor import IntentResult
from simple_risk.daemon.notifications import (
    GROUP_CHARS,
    DeliveryError,
    Notifications,
    Retry,
    grouped_text,
)
from simple_risk.daemon.notify import (
    duration_words,
    event_text,
    firing_text,
    result_text,
    until_words,
)
from simple_risk.daemon.runtime import Daemon, open_store
from simple_risk.daemon.sim import wait_until
from simple_risk.daemon.supervisor import Supervisor
from simple_risk.engine.engine import Firing, LockNotice
from simple_risk.engine.events import (
    AccountUpdate,
    OrderSide,
    PositionType,
    PositionUpdate,
    TradeFill,
)
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    StopAt,
)
from simple_risk.store import StoreError

from .conftest import ACCOUNT, Start, quiet_simulator

CHICAGO = ZoneInfo("America/Chicago")
#: 10:15 in Chicago on a Tuesday (CST)
AT = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
DAY_END = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 17:00 CT


def firing(
    rule: str,
    message: str,
    intents: tuple[Any, ...] = (),
    locks: tuple[LockNotice, ...] = (),
    kind: str = "rule",
) -> Firing:
    return Firing(
        rule_id=rule,
        account=ACCOUNT,
        item="",
        at=AT,
        severity="warning",
        message=message,
        values={},
        intents=intents,
        kind=kind,
        locks=locks,
    )


def test_a_cancelled_order_with_a_cooldown_reads_as_a_sentence() -> None:
    text = firing_text(
        firing(
            "max-contracts-per-instrument-order",
            "MNQ limit 2, attempted 3",
            (CancelOrder(ACCOUNT, 9001),),
            (LockNotice("account", None, "cooldown", AT + timedelta(minutes=5), "limit"),),
        ),
        CHICAGO,
    )
    assert text == (
        "Order cancelled: max-contracts-per-instrument-order — MNQ limit 2, attempted 3; "
        "cooldown 5 min"
    )


def test_a_lock_without_an_action_leads_with_the_lock_and_its_local_end() -> None:
    text = firing_text(
        firing(
            "daily-realized-loss",
            "Daily realized P&L -512.00 reached the -500 limit",
            locks=(LockNotice("account", None, "lock", DAY_END, "daily loss limit"),),
        ),
        CHICAGO,
    )
    assert text == (
        "Account locked until 17:00 CT: daily-realized-loss — "
        "Daily realized P&L -512.00 reached the -500 limit"
    )


def test_every_intent_has_its_words() -> None:
    intents = (
        NoWorkingOrders(ACCOUNT),
        PositionClosed(ACCOUNT, "CON.F.US.MNQ.Z26"),
        ReduceTo(ACCOUNT, "root", max_contracts=2, symbol="MNQ"),
        StopAt(ACCOUNT, "CON.F.US.MNQ.Z26", Decimal("21000.25")),
    )
    text = firing_text(firing("flatten-all", "why", intents))
    assert text.startswith(
        "Orders cancelled, position closed, position reduced to 2 contracts, "
        "stop placed at 21000.25: flatten-all — why"
    )
    assert firing_text(firing("auth", "canTrade is false", (Alert("critical", "x"),))) == (
        "Alert: auth — canTrade is false"
    )
    assert firing_text(firing("broken", "rule broken failed", kind="error")).startswith(
        "Rule error: broken"
    )


def test_symbol_locks_and_while_locks_name_their_scope() -> None:
    text = firing_text(
        firing(
            "symbol-blocks",
            "RTY is blocked",
            (PositionClosed(ACCOUNT, "CON.F.US.RTY.Z26"),),
            (LockNotice("symbol", "RTY", "lock", None, "blocked"),),
        )
    )
    assert text == (
        "Position closed: symbol-blocks — RTY is blocked; RTY locked while the condition holds"
    )


def test_times_and_durations_read_like_a_person_would_say_them() -> None:
    assert until_words(DAY_END, AT, CHICAGO) == "17:00 CT"
    assert until_words(DAY_END + timedelta(days=1), AT, CHICAGO) == "Wed 17:00 CT"
    assert duration_words(timedelta(seconds=45)) == "45 s"
    assert duration_words(timedelta(minutes=30)) == "30 min"
    assert duration_words(timedelta(minutes=150)) == "2 h 30 min"


def test_a_zone_outside_north_america_keeps_its_own_abbreviation() -> None:
    # CT and ET say "whichever of CST/CDT is in force"; BST, JST or IST are not such a pair
    lock_end = datetime(2026, 7, 14, 21, 0, tzinfo=UTC)
    before = lock_end - timedelta(hours=1)
    assert until_words(lock_end, before, ZoneInfo("Europe/London")) == "22:00 BST"
    assert until_words(lock_end, before, ZoneInfo("Asia/Tokyo")) == "06:00 JST"
    assert until_words(lock_end, before, ZoneInfo("Asia/Kolkata")) == "02:30 IST"
    assert until_words(lock_end, before, ZoneInfo("Asia/Shanghai")) == "05:00 CST"
    assert until_words(lock_end, before, ZoneInfo("America/New_York")) == "17:00 ET"


def test_enforcement_results_say_enforced_retrying_or_refused() -> None:
    key = PositionClosed(ACCOUNT, "CON.F.US.EP.Z26").key
    done = IntentResult(
        at=AT, account=ACCOUNT, key=key, outcome="done", calls=("Position/closeContract",)
    )
    assert result_text(done, "no-stop-loss-grace") == (
        "Enforced: position closed (ES) for no-stop-loss-grace (Position/closeContract)"
    )
    retry = IntentResult(at=AT, account=ACCOUNT, key=key, outcome="retry", error="HTTP 503")
    assert result_text(retry) == "Retrying: position closed (ES): HTTP 503"
    refused = IntentResult(
        at=AT,
        account=ACCOUNT,
        key=CancelOrder(ACCOUNT, 9).key,
        outcome="gave_up",
        error="Order is not open",
    )
    assert result_text(refused) == "Refused by the gateway: order 9 cancelled: Order is not open"


def test_fact_events_have_words_and_quotes_have_none() -> None:
    fill = TradeFill(
        at=AT,
        account_id=ACCOUNT,
        trade_id=1,
        order_id=2,
        contract_id="CON.F.US.MNQ.Z26",
        side=OrderSide.SELL,
        size=2,
        price=Decimal("21003.00"),
        pnl=Decimal("-29.00"),
        fees=Decimal("0.74"),
    )
    assert event_text(fill) == "Fill: sell 2 MNQ @ 21003.00, net P&L $-29.74"
    flat = PositionUpdate(
        at=AT,
        account_id=ACCOUNT,
        contract_id="CON.F.US.MNQ.Z26",
        type=PositionType.LONG,
        size=0,
        average_price=Decimal(0),
    )
    assert event_text(flat) == "Position: MNQ flat"


def test_an_account_update_shows_its_balance_as_money() -> None:
    update = AccountUpdate(
        at=AT, account_id=ACCOUNT, name="50KTC", balance=Decimal("149849.98"), can_trade=False
    )
    assert event_text(update) == "Account 50KTC: balance $149,849.98, CANNOT TRADE"


# -- the webhook -------------------------------------------------------------------------------


class Hook:
    """A local HTTP server recording every POST (optionally held until released)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.release.set()
        #: how many of the next requests answer 500 (a flaky service)
        self.fail_next = 0
        self.requests = 0
        #: requests received (answered or still held)
        self.arrived = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                hook.arrived += 1
                hook.release.wait(10.0)
                hook.requests += 1
                if hook.fail_next > 0:
                    hook.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


NO_WAIT = Retry(attempts=3, backoff=0.01, deadline=5.0)


def told(bodies: list[dict[str, Any]], field: str = "text") -> list[str]:
    """Every message the pushes carried, a grouped push read line by line (repeats once)."""
    texts: list[str] = []
    for body in bodies:
        head, *lines = str(body[field]).splitlines()
        if not re.fullmatch(r"\d+ alerts, oldest first.*:", head):
            texts.append(str(body[field]))
            continue
        texts += [re.sub(r" \(×\d+\)$", "", line.removeprefix("• ")) for line in lines]
    return texts


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def test_the_webhook_gets_discord_and_slack_fields(hook: Hook) -> None:
    poster = Notifications(hook.url, "warning").start()
    assert poster.post("critical", "Position closed: rule — why")
    assert wait_until(lambda: len(hook.bodies) == 1, 5.0)
    assert hook.bodies[0] == {
        "content": "Position closed: rule — why",
        "text": "Position closed: rule — why",
        "username": "simple-risk",
    }
    poster.stop()


def test_messages_below_min_severity_are_not_posted(hook: Hook) -> None:
    poster = Notifications(hook.url, "critical").start()
    assert not poster.post("warning", "a warning")
    assert poster.post("critical", "a critical one")
    assert wait_until(lambda: len(hook.bodies) == 1, 5.0)
    assert hook.bodies[0]["text"] == "a critical one"
    poster.stop()


def test_a_stuck_webhook_never_blocks_the_caller_and_overflow_is_dropped(hook: Hook) -> None:
    hook.release.clear()  # the server holds every request
    poster = Notifications(hook.url, "info", capacity=3).start()
    queued = [poster.post("warning", "message 0")]
    assert wait_until(lambda: hook.arrived == 1, 5.0)
    queued += [poster.post("warning", f"message {i}") for i in range(1, 10)]
    # one is being sent (held by the server), three wait; the rest are dropped at once
    assert queued.count(True) == 4 and poster.dropped == 6
    hook.release.set()
    assert wait_until(lambda: poster.sent == queued.count(True), 10.0)
    poster.stop()


def test_a_failing_webhook_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    poster = Notifications("http://127.0.0.1:9/nothing-listens", "info", retry=NO_WAIT).start()
    poster.post("critical", "x")
    assert wait_until(lambda: poster.failed == 1, 10.0)
    poster.stop()
    assert "notify webhook failed" in caplog.text


def test_an_apprise_url_gets_the_text_with_title_and_type(hook: Hook) -> None:
    url = hook.url.replace("http://", "json://")
    notifications = Notifications(None, "warning", urls=[url]).start()
    assert notifications.post("critical", "Account locked: daily-realized-loss — limit hit")
    assert wait_until(lambda: len(hook.bodies) == 1, 10.0)
    body = hook.bodies[0]
    assert body["message"] == "Account locked: daily-realized-loss — limit hit"
    assert body["title"] == "simple-risk"
    assert body["type"] == "failure"  # critical
    notifications.stop()


def test_every_channel_gets_every_message(hook: Hook) -> None:
    url = hook.url.replace("http://", "json://")
    notifications = Notifications(hook.url, "info", urls=[url]).start()
    notifications.post("warning", "one")
    assert wait_until(lambda: len(hook.bodies) == 2, 10.0)
    assert {b.get("text") or b.get("message") for b in hook.bodies} == {"one"}
    assert notifications.counts()["channels"] == ["webhook", "json"]
    notifications.stop()
    # two chats of one service are two channels, each with a thread of its own name
    two = Notifications(None, "info", urls=[url, url.replace("/hook", "/other")])
    assert two.counts()["channels"] == ["json", "json-2"]


def test_a_flaky_service_is_retried_and_delivered_once(hook: Hook) -> None:
    hook.fail_next = 2
    notifications = Notifications(hook.url, "info", retry=NO_WAIT).start()
    notifications.post("critical", "retried")
    assert wait_until(lambda: notifications.sent == 1, 10.0)
    assert hook.requests == 3 and notifications.retried == 2 and notifications.failed == 0
    assert [b["text"] for b in hook.bodies] == ["retried"]
    notifications.stop()


def test_a_dead_service_fails_after_its_retries_and_the_next_channel_still_gets_it(
    hook: Hook,
) -> None:
    class Dead:
        name = "dead"
        calls = 0

        def deliver(self, severity: str, text: str) -> None:
            Dead.calls += 1
            raise DeliveryError("no route")

    from simple_risk.daemon.notifications import WebhookChannel

    notifications = Notifications(
        channels=[Dead(), WebhookChannel(hook.url)], min_severity="info", retry=NO_WAIT
    ).start()
    notifications.post("warning", "still delivered")
    assert wait_until(lambda: notifications.sent == 1 and notifications.failed == 1, 10.0)
    assert Dead.calls == 3
    assert [b["text"] for b in hook.bodies] == ["still delivered"]
    notifications.stop()


def test_the_daemon_posts_firings_and_alerts_to_the_configured_webhook(
    start: Start, hook: Hook
) -> None:
    run = start(notify=NotifySettings(webhook=hook.url, min_severity="warning"))
    run.trader.buy(ACCOUNT, "RTY")  # blocked: a critical firing, then the enforcement
    assert wait_until(
        lambda: any("symbol-blocks — RTY is blocked" in t for t in told(hook.bodies)), 10.0
    ), hook.bodies
    run.daemon.alerter.alert("critical", "the gateway refuses every order", AT)
    assert wait_until(lambda: "Alert: the gateway refuses every order" in told(hook.bodies), 10.0)
    assert all(b["username"] == "simple-risk" for b in hook.bodies)
    # info-level results (successful enforcement) stay below the configured minimum
    assert not any(t.startswith("Enforced: ") for t in told(hook.bodies))


def test_with_several_accounts_each_notification_names_its_account(
    start: Start, hook: Hook
) -> None:
    """A phone that says "Position closed: symbol-blocks — RTY is blocked" does not say which
    of a 50K and a 150K account was flattened: with several accounts every firing, result and
    alert about one of them names it (the platform's account names need not hold the id)."""
    other = 20100002
    sim = quiet_simulator(
        accounts=(
            AccountSpec(ACCOUNT, "50KTC-V2-ALPHA", Decimal(50000)),
            AccountSpec(other, "150KTC-V2-BETA", Decimal(150000)),
        ),
    ).start()
    run = start(sim=sim, accounts=(ACCOUNT, other), notify=NotifySettings(webhook=hook.url))
    run.trader.buy(other, "RTY")  # blocked: a critical firing on the 150K only

    def texts(words: str) -> list[str]:
        return [t for t in told(hook.bodies) if words in t]

    assert wait_until(lambda: bool(texts("symbol-blocks — RTY is blocked")), 10.0), hook.bodies
    assert all(t.startswith(f"account {other}: ") for t in texts("RTY is blocked"))
    run.sim.set_can_trade(other, False)  # the firm stops it: the rule's alert
    assert wait_until(lambda: bool(texts("Alert: canTrade is false")), 10.0), hook.bodies
    assert all(t.startswith(f"account {other}: ") for t in texts("canTrade is false"))
    assert not [t for t in told(hook.bodies) if f"account {ACCOUNT}" in t]


def test_the_pushing_thread_runs_under_the_daemons_supervisor(hook: Hook) -> None:
    alerts: list[tuple[str, str]] = []
    supervisor = Supervisor(lambda level, text: alerts.append((level, text)))
    poster = Notifications(
        hook.url, "warning", spawn=lambda name, loop: supervisor.spawn(name, loop, accounts=())
    ).start()
    try:
        assert poster.post("critical", "Alert: engine failed")
        assert wait_until(lambda: len(hook.bodies) == 1, 5.0)
        (part,) = supervisor.parts()
        assert part["name"] == "notify-webhook" and part["accounts"] == []
    finally:
        poster.stop()
    assert supervisor.degraded([ACCOUNT]) == {}  # no account's enforcement depends on it
    assert alerts == []


def test_a_service_that_never_answers_does_not_hold_back_the_trader_s_phone(hook: Hook) -> None:
    """The phone push is often the only thing the trader sees. A second channel that accepts
    the connection and never answers (a hung chat webhook) must not make every push wait
    for it: each channel delivers from its own queue."""
    hung = Hook()
    hung.release.clear()  # holds every request without answering
    try:
        notifications = Notifications(
            hung.url, "info", urls=[hook.url.replace("http://", "json://")], retry=NO_WAIT
        ).start()
        for i in range(5):
            notifications.post("critical", f"Account locked: rule {i}")
        assert wait_until(lambda: len(told(hook.bodies, "message")) == 5, 3.0), hook.bodies
        assert told(hook.bodies, "message") == [f"Account locked: rule {i}" for i in range(5)]
    finally:
        hung.close()
        notifications.stop(0.5)


def test_a_channel_that_stops_delivering_is_said_once_and_its_return_too(
    start: Start, hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    """A chat webhook whose token was revoked answers 401 to every post. The trader believes
    the phone will tell them; the daemon says, once, that it does not (an alert: status,
    monitor, the dashboard and the other channels), counts the rest, and says when it
    delivers again — not one error line per message for the rest of the day."""
    hook.fail_next = 10_000  # every post refused
    run = start(notify=NotifySettings(webhook=hook.url, min_severity="warning"))
    run.daemon.notifier.retry = NO_WAIT
    for i in range(4):
        run.daemon.alerter.alert("critical", f"enforcement failed {i}", AT)
    assert wait_until(lambda: run.daemon.notifier.failed >= 5, 10.0)  # 4 + the trouble alert

    def said(words: str) -> list[str]:
        return [a["message"] for a in run.daemon.alerter.recent if words in a["message"]]

    assert said("notifications to webhook fail") == [
        "notifications to webhook fail (HTTP 500 Internal Server Error): alerts do not reach it;"
        " the daemon goes on enforcing (check notify: in the configuration)"
    ]
    assert run.daemon.status()["notifications"]["failing"] == {
        "webhook": "HTTP 500 Internal Server Error"
    }
    assert caplog.text.count("notify webhook failed: HTTP 500") == 1
    hook.fail_next = 0  # the service is back
    run.daemon.alerter.alert("critical", "enforcement failed again", AT)
    assert wait_until(lambda: bool(said("notifications to webhook deliver again")), 10.0)
    # what it lost is said, and then sent late: the phone was silent, not the daemon
    lost = run.daemon.notifier.failed  # every failure was in this one spell
    assert lost >= 5 and said("deliver again") == [
        f"notifications to webhook deliver again; {lost} message(s) did not reach it meanwhile"
        f" (the {lost} newest follow, sent late; status and engine history list every alert)"
    ]
    assert run.daemon.status()["notifications"]["failing"] == {}
    assert wait_until(lambda: any("deliver again" in b["text"] for b in hook.bodies), 10.0), (
        hook.bodies
    )
    assert wait_until(lambda: any("Sent late" in b["text"] for b in hook.bodies), 10.0)
    (late,) = [b["text"] for b in hook.bodies if "Sent late" in b["text"]]
    assert late.startswith(
        "Sent late: did not reach you while notifications to webhook failed.\n"
        f"{lost} alerts, oldest first:"
    ), late
    for i in range(4):  # each with when it happened: the push's arrival no longer says
        assert re.search(rf"• \d\d:\d\d CT Alert: enforcement failed {i}(?:\n|$)", late), late


def test_the_tokens_inside_an_apprise_url_are_secrets_the_logs_hide() -> None:
    """apprise logs at debug level the address it posts to — for Telegram
    https://api.telegram.org/bot<TOKEN>/sendMessage, for Discord …/webhooks/ID/<TOKEN> — and
    the daemon hid only the whole configured URL: with ``log.level: debug`` the bot's token
    went to the log file and ``admin logs``. Every token apprise marks private is hidden."""
    from simple_risk.adapters.topstepx.secrets import redact_text
    from simple_risk.daemon.notifications import AppriseChannel

    AppriseChannel("tgram://123456789:AAHsecretBOTtoken/12345")
    AppriseChannel("discord://998877665544/discordWEBHOOKsecret")
    line = (
        "Telegram POST URL: https://api.telegram.org/bot123456789:AAHsecretBOTtoken/sendMessage"
        " · Discord POST URL: https://discord.com/api/webhooks/998877665544/discordWEBHOOKsecret"
    )
    redacted = redact_text(line)
    assert "AAHsecretBOTtoken" not in redacted and "discordWEBHOOKsecret" not in redacted
    assert redacted.startswith("Telegram POST URL: https://api.telegram.org/bot***/sendMessage")


def test_a_storm_reaches_the_phone_as_a_few_grouped_pushes_newest_included(hook: Hook) -> None:
    """A trader clicking buy 30 times into a lock made the daemon push 55 notifications in
    4 s — one per firing and per result. Chat services throttle that (Telegram: about one
    message a second per chat) and refuse the rest, and a phone buzzing 55 times is not read.
    What waits while a push is in flight goes out as one message: every line, repeats counted,
    in the order they happened, the newest among them."""
    notifications = Notifications(hook.url, "info", retry=NO_WAIT).start()
    notifications.post("critical", "Order cancelled: max-contracts — order 1 would take RTY to 2")
    for i in range(2, 11):
        notifications.post("critical", f"Order cancelled: max-contracts — order {i} blocked")
    for _ in range(20):
        notifications.post("warning", "RTY orders cancelled: symbol-blocks — RTY is blocked")
    notifications.post("critical", "Account locked until 17:00 CT: daily-loss — limit hit")
    assert wait_until(lambda: "limit hit" in json.dumps(hook.bodies), 5.0), hook.bodies
    assert len(hook.bodies) <= 3, [b["text"] for b in hook.bodies]
    lines = [line for b in hook.bodies for line in b["text"].splitlines()]
    assert "• RTY orders cancelled: symbol-blocks — RTY is blocked (×20)" in lines
    assert lines[-1] == "• Account locked until 17:00 CT: daily-loss — limit hit"
    assert all(f"order {i} blocked" in "\n".join(lines) for i in range(2, 11))
    assert notifications.sent == 31  # messages delivered, however grouped
    notifications.stop()


class Lines(logging.Handler):
    """The records the daemon's log handlers (on the root logger) get."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_an_apprise_channel_failing_is_one_log_line_with_the_service_s_reason(hook: Hook) -> None:
    """apprise logged its own warning at every attempt of every message ("Failed to send JSON
    POST notification: Internal server error., error=500." three times a message, all day)
    while the daemon's line said only "the service did not accept the message". The daemon
    says it once, with apprise's reason; apprise's own lines stay for ``log.level: debug``."""
    hook.fail_next = 10_000
    url = hook.url.replace("http://", "json://")
    lines = Lines()
    logging.getLogger().addHandler(lines)
    try:
        notifications = Notifications(None, "info", urls=[url], retry=NO_WAIT, spacing=0.0)
        notifications.start()
        for i in range(3):
            notifications.post("critical", f"Account locked: rule {i}")
            assert wait_until(lambda i=i: notifications.failed == i + 1, 10.0)
        notifications.stop()
    finally:
        logging.getLogger().removeHandler(lines)
    assert [(r.name, r.getMessage()) for r in lines.records] == [
        (
            "simple_risk.daemon.notifications",
            "notify json failed: Failed to send JSON POST notification: Internal server error.,"
            " error=500. (until it delivers again, failures are counted, not logged)",
        )
    ]
    assert notifications.counts()["failing"] == {
        "json": "Failed to send JSON POST notification: Internal server error., error=500."
    }


def test_a_token_in_a_failure_s_words_never_reaches_the_phone_status_or_monitor(
    start: Start, hook: Hook
) -> None:
    """An alert quotes the exception that caused it — a part that failed, a store that went
    away — and such a text can hold a secret: the user hub's address carries the session
    token (…/hubs/user?access_token=…). The log hid it; the alert pushed to a chat channel
    (which others may read) and kept in status and the dashboard did not."""
    token = "eyJhbGciOiJIUzI1NiJ9.c2Vzc2lvbi1vZi10aGUtZGF5.c2lnbmF0dXJl"
    run = start(notify=NotifySettings(webhook=hook.url, min_severity="warning"))
    calls = []

    def hub_part() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError(f"cannot open wss://gw.example/hubs/user?access_token={token}")

    run.daemon.supervisor.spawn("probe-hub", hub_part, accounts=())
    assert wait_until(lambda: any("probe-hub failed" in t for t in told(hook.bodies)), 10.0)
    pushed = "\n".join(told(hook.bodies))
    assert token not in pushed and "access_token=***" in pushed
    assert token not in json.dumps(run.daemon.status()["alerts"])
    assert token not in json.dumps(run.request("status", {"account": ACCOUNT}))


def test_a_webhook_that_redirects_is_a_failure_not_a_delivery() -> None:
    """A webhook written http:// where the service wants https:// (or an old address) answers
    301: urllib followed it as a GET — no body, nothing posted — and a GET on a chat webhook
    answers 200, so every alert counted as sent while the chat stayed empty. A redirect is a
    failed delivery, said with the fix."""
    got: list[str] = []

    class Moved(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            got.append("POST")
            self.send_response(301)
            self.send_header("Location", "/the-real-hook/TOKEN")
            self.end_headers()

        def do_GET(self) -> None:
            got.append("GET")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Moved)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        notifications = Notifications(url, "info", retry=NO_WAIT, spacing=0.0).start()
        notifications.post("critical", "Account locked")
        assert wait_until(lambda: notifications.sent + notifications.failed == 1, 10.0)
        notifications.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert (notifications.sent, notifications.failed) == (0, 1)
    assert "GET" not in got
    assert notifications.counts()["failing"] == {
        "webhook": "HTTP 301 redirected elsewhere: write the webhook URL exactly as the service"
        " shows it (https://…)"
    }


def test_a_grouped_push_fits_in_one_chat_message() -> None:
    """Discord refuses a message over 2,000 characters (400), and the whole group would be
    lost: a grouped push keeps the newest lines that fit and counts the earlier ones."""
    texts = [
        f"Order cancelled: max-contracts-per-instrument-order — order {i} " + "x" * 150
        for i in range(14)
    ]
    text = grouped_text(texts)
    assert len(text) <= GROUP_CHARS < 2000
    assert text.splitlines()[-1].startswith(
        "• Order cancelled: max-contracts-per-instrument-order — order 13 "
    )
    left_out = 14 - (len(text.splitlines()) - 1)
    assert text.startswith(f"14 alerts, oldest first ({left_out} earlier left out")


def test_the_daemon_stopping_is_pushed_every_lock_goes_with_it(start: Start, hook: Hook) -> None:
    """A stopped daemon enforces nothing: no daily loss limit, no lock. A trader who stops
    it (systemctl stop, in the heat of the moment) lifted every lockout, and the admin's
    phone, told of a single lockout cleared, said nothing. The stop is pushed, naming the
    accounts left unguarded."""
    run = start(notify=NotifySettings(webhook=hook.url, min_severity="warning"))
    run.daemon.stop()
    assert told(hook.bodies)[-1] == (
        f"Alert: simple-risk is stopping: account {ACCOUNT} is not guarded (no rule enforced,"
        " no lock held) until it runs again"
    )


@pytest.mark.parametrize("socket", ["the same socket", "a socket of its own"])
def test_a_second_daemon_refused_at_start_pushes_no_stop(
    start: Start, hook: Hook, socket: str
) -> None:
    """A second daemon started by mistake (`engine run` typed while the service runs, or
    with a copied configuration on another socket) is refused — the socket answers, or the
    account's lease is held — and ends. It guarded nothing, so its end leaves nothing
    unguarded: the admin's phone got "simple-risk is stopping: account … is not guarded"
    while the first daemon guarded the account, and may be read as the lockouts gone."""
    notify = NotifySettings(webhook=hook.url, min_severity="warning")
    run = start(notify=notify)
    config = run.daemon.config
    if socket != "the same socket":  # another installation on the same store
        other = run.directory / "other"
        other.mkdir()
        config = dataclasses.replace(config, status_socket=other / "s.sock", data_dir=other)
    second = Daemon(
        config, run.daemon.rulesets, store=open_store(config), options=run.daemon.options
    )
    with pytest.raises((ServerError, StoreError)):
        second.start()
    second.stop()
    second.store.close()
    run.daemon.alerter.alert("warning", "the first daemon still guards", AT)
    assert wait_until(lambda: "Alert: the first daemon still guards" in told(hook.bodies), 10.0)
    assert not any("is stopping" in text for text in told(hook.bodies)), told(hook.bodies)
    assert not run.daemon.ownership.lost


def test_orders_cancelled_with_a_close_name_their_ticker_not_the_whole_account() -> None:
    """Closing a position cancels that contract's orders first. The push read "RTY orders
    cancelled, orders cancelled, position closed" — and a close alone "Orders cancelled,
    position closed", as if every working order of the account (the other tickers' stops
    among them) was gone. Each cancel names what it covers."""
    rty = "CON.F.US.RTY.Z26"
    blocked = firing(
        "symbol-blocks",
        "RTY is blocked",
        (
            NoWorkingOrders(ACCOUNT, symbol="RTY"),
            NoWorkingOrders(ACCOUNT, contract_id=rty),
            PositionClosed(ACCOUNT, rty),
        ),
    )
    assert (
        firing_text(blocked)
        == "RTY orders cancelled, position closed: symbol-blocks — RTY is blocked"
    )
    closed = firing(
        "no-stop-loss-grace",
        "MNQ open without a stop",
        (
            NoWorkingOrders(ACCOUNT, contract_id="CON.F.US.MNQ.Z26"),
            PositionClosed(ACCOUNT, "CON.F.US.MNQ.Z26"),
        ),
    )
    assert firing_text(closed).startswith("MNQ orders cancelled, position closed: ")
    sells = firing("no-shorts", "why", (NoWorkingOrders(ACCOUNT, side="sell"),))
    assert firing_text(sells).startswith("Sell orders cancelled: ")


ADMIN_CONFIG = """\
gateway: http://127.0.0.1:8700
credentials: {{username: alice, api_key: k-123456}}
accounts: [20100001]
data_dir: {data}
notify:
{notify}
"""


def _notify_test(tmp_path: Path, notify: str) -> Result:

    from simple_risk.cli import cli
    from simple_risk.cli import commands as _commands  # noqa: F401

    path = tmp_path / "config.yaml"
    path.write_text(ADMIN_CONFIG.format(data=tmp_path / "data", notify=notify), encoding="utf-8")
    return CliRunner().invoke(cli, ["admin", "notify-test", "--config", str(path)])


def test_an_admin_test_push_reaches_every_channel_and_says_so(hook: Hook, tmp_path: Path) -> None:
    """An admin setting up the phone push learnt that a token was wrong only when the first
    real alert was lost. ``admin notify-test`` sends one message through each channel, as
    the daemon would, and says which delivered."""
    apprise_url = hook.url.replace("http://", "json://")
    result = _notify_test(tmp_path, f"  webhook: {hook.url}\n  urls: [{apprise_url}]")
    assert result.exit_code == 0, result.output
    assert result.output.count("delivered") == 2
    assert "http://…" in result.output and "json://…" in result.output  # tokens masked
    assert hook.url not in result.output
    bodies = [str(body.get("text") or body.get("message")) for body in hook.bodies]
    assert len(bodies) == 2
    assert all("simple-risk test notification" in text and "20100001" in text for text in bodies)


def test_an_admin_test_push_that_fails_says_why_and_exits_one(hook: Hook, tmp_path: Path) -> None:
    hook.fail_next = 1  # the webhook answers 500 once: the test push is not retried
    result = _notify_test(tmp_path, f"  webhook: {hook.url}")
    assert result.exit_code == 1, result.output
    assert "FAILED     webhook http://…: HTTP 500" in result.output


def test_an_admin_test_push_without_any_channel_says_nothing_would_be_pushed(
    tmp_path: Path,
) -> None:
    result = _notify_test(tmp_path, "  min_severity: warning")
    assert result.exit_code == 1
    assert "no notification channel is configured" in result.output


def test_a_lock_lost_while_the_phone_failed_is_in_the_late_push_whatever_came_after(
    hook: Hook,
) -> None:
    """The late push holds what fits in one chat message, the rest counted. It kept the
    newest lines: a daily loss lock at 10:02 followed by an hour of hub reconnects (each
    line carrying its own time, so none merged as repeats) reached the phone as fifteen
    reconnects and "16 earlier left out" — the one message that mattered among them. What
    is left out is the least severe first; the lines shown keep their order."""
    hook.fail_next = 10_000  # the chat's webhook is down
    notifications = Notifications(hook.url, "warning", retry=NO_WAIT, spacing=0.0).start()
    try:
        notifications.post("critical", "Account 20100001 locked: daily loss limit reached")
        for attempt in range(30):
            notifications.post("warning", f"Alert: the market hub reconnects (attempt {attempt})")
        assert wait_until(lambda: notifications.failed == 31, 10.0)
        hook.fail_next = 0  # back
        notifications.post("warning", "Alert: the market hub is connected again")
        assert wait_until(lambda: any("Sent late" in b["text"] for b in hook.bodies), 10.0)
    finally:
        notifications.stop()
    (late,) = [b["text"] for b in hook.bodies if "Sent late" in b["text"]]
    lines = late.splitlines()
    assert len(late) <= GROUP_CHARS + 100
    assert re.fullmatch(
        r"• \d\d:\d\d \w+ Account 20100001 locked: daily loss limit reached", lines[2]
    ), late
    assert lines[-1].endswith("Alert: the market hub reconnects (attempt 29)"), late
    assert lines[1] == (
        "31 alerts, oldest first (16 left out: engine history and the log have every one):"
    ), late


def test_a_message_sent_late_says_its_day_when_it_is_not_todays() -> None:
    """A channel down overnight: "16:58 CT" read as this afternoon's."""
    from zoneinfo import ZoneInfo

    from simple_risk.words import until_words as late_stamp

    chicago = ZoneInfo("America/Chicago")
    friday = datetime(2027, 1, 15, 22, 58, tzinfo=UTC)  # 16:58 CST
    assert late_stamp(friday, friday + timedelta(minutes=30), chicago) == "16:58 CT"
    monday = datetime(2027, 1, 18, 15, 0, tzinfo=UTC)
    assert late_stamp(friday, monday, chicago) == "Fri 16:58 CT"
