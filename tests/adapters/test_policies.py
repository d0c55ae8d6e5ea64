"""Pure parts of the adapters: errorCode table, rate limiter, watchdog rules, clock, secrets."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.adapters.replay import Recorder, read_records, replay
from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.errors import (
    ERROR_TABLE,
    ApiError,
    Endpoint,
    Outcome,
    RateLimitTimeout,
    classify,
    classify_http,
)
from simple_risk.adapters.topstepx.hubs import _with_token, hub_urls
from simple_risk.adapters.topstepx.hubwire import WireProtocol
from simple_risk.adapters.topstepx.ratelimit import Budget, Priority, RateLimiter
from simple_risk.adapters.topstepx.rest import Credentials, RestClient
from simple_risk.adapters.topstepx.secrets import REDACTED, install_log_filter, redact_text, scrub
from simple_risk.adapters.topstepx.watchdog import (
    HubHealth,
    Rebuild,
    TransportState,
    WatchdogConfig,
    diagnose,
)
from simple_risk.engine.events import OrderUpdate

# -- errorCodes ---------------------------------------------------------------------------------


def test_every_error_code_of_every_endpoint_is_classified() -> None:
    for endpoint, (codes, table) in ERROR_TABLE.items():
        assert set(table) == {int(code) for code in codes}, endpoint
        assert table[0] is Outcome.DONE
    assert set(ERROR_TABLE) == set(Endpoint)


@pytest.mark.parametrize(
    ("endpoint", "code", "outcome"),
    [
        (Endpoint.POSITION_CLOSE, 2, Outcome.DONE),  # PositionNotFound: already flat
        (Endpoint.POSITION_PARTIAL_CLOSE, 2, Outcome.DONE),
        (Endpoint.ORDER_CANCEL, 2, Outcome.DONE),  # OrderNotFound: nothing left to cancel
        (Endpoint.ORDER_PLACE, 6, Outcome.RETRY),  # OrderPending
        (Endpoint.POSITION_CLOSE, 6, Outcome.RETRY),
        (Endpoint.POSITION_PARTIAL_CLOSE, 7, Outcome.RETRY),
        (Endpoint.ORDER_PLACE, 10, Outcome.GIVE_UP),  # AccountRejected
        (Endpoint.POSITION_CLOSE, 4, Outcome.GIVE_UP),  # ContractNotActive
        (Endpoint.ORDER_MODIFY, 2, Outcome.GIVE_UP),  # the stop to move is gone: re-plan
        (Endpoint.ORDER_PLACE, 99, Outcome.GIVE_UP),  # unknown code from a newer gateway
        ("api/position/closecontract", 2, Outcome.DONE),  # paths are case-insensitive
    ],
)
def test_the_same_code_means_different_things_per_endpoint(
    endpoint: Endpoint | str, code: int, outcome: Outcome
) -> None:
    assert classify(endpoint, code) is outcome


def test_http_statuses_and_error_messages() -> None:
    assert classify_http(429) is Outcome.RETRY and classify_http(503) is Outcome.RETRY
    assert classify_http(400) is Outcome.GIVE_UP
    error = ApiError(Endpoint.ORDER_PLACE, 2, "Brackets cannot be used", order_id=5)
    assert error.code_name == "OrderRejected" and error.outcome is Outcome.GIVE_UP
    assert "Order/place" in str(error) and error.order_id == 5


@pytest.mark.parametrize("endpoint", [Endpoint.POSITION_CLOSE, Endpoint.ORDER_CANCEL])
def test_a_failure_that_names_code_0_success_is_no_success(endpoint: Endpoint) -> None:
    # {"success": false, "errorCode": 0}: the gateway says the call failed; its code says
    # nothing more. The close did not happen: never read as "the target is met"
    error = ApiError(endpoint, 0, "An error occurred")
    assert error.outcome is Outcome.GIVE_UP


# -- rate limiter -------------------------------------------------------------------------------


def test_the_default_budgets_stay_under_the_documented_limits() -> None:
    budgets = RateLimiter().budgets
    assert budgets["default"].requests < 200 and budgets["default"].window == 60
    assert budgets["bars"].requests < 50 and budgets["bars"].window == 30


def test_the_limiter_holds_any_window_to_its_budget() -> None:
    limiter = RateLimiter({"default": Budget(5, 0.3)}, margin=0.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    stamps.sort()
    assert len(stamps) == 15
    for i, start in enumerate(stamps):
        assert len([t for t in stamps[i:] if t < start + 0.3 - 0.005]) <= 5


def test_enforcement_goes_before_reconciliation_and_stop_management() -> None:
    limiter = RateLimiter({"default": Budget(1, 0.2)}, margin=0.0)
    limiter.acquire()  # the window is now full
    order: list[Priority] = []

    def wait(priority: Priority) -> None:
        limiter.acquire(priority=priority)
        order.append(priority)

    threads = []
    for priority in (Priority.STOP_MANAGEMENT, Priority.RECONCILIATION, Priority.ENFORCEMENT):
        thread = threading.Thread(target=wait, args=(priority,))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # queue them in the worst order
    for thread in threads:
        thread.join(5)
    assert order == [Priority.ENFORCEMENT, Priority.RECONCILIATION, Priority.STOP_MANAGEMENT]


def test_bars_have_their_own_budget_and_a_full_window_times_out() -> None:
    limiter = RateLimiter({"default": Budget(1, 5.0), "bars": Budget(1, 5.0)}, margin=0.0)
    limiter.acquire()
    limiter.acquire("bars")  # not blocked by the default bucket
    with pytest.raises(RateLimitTimeout):
        limiter.acquire(timeout=0.05)
    assert limiter.in_window() == 1


def test_hold_pauses_every_grant() -> None:
    limiter = RateLimiter({"default": Budget(100, 1.0)}, margin=0.0)
    limiter.hold(0.2)
    started = time.monotonic()
    limiter.acquire()
    assert time.monotonic() - started >= 0.19


# -- watchdog -----------------------------------------------------------------------------------

CONFIG = WatchdogConfig(open_timeout=2, stuck_after=3, stale_after=10)


def health(state: TransportState, **changes: float) -> HubHealth:
    values = {"now": 100.0, "state_since": 99.0, "last_seen": 99.0, "built": 1, "current": 1}
    values.update(changes)
    return HubHealth(
        now=values["now"],
        state=state,
        state_since=values["state_since"],
        last_seen=values["last_seen"],
        built_token_generation=int(values["built"]),
        token_generation=int(values["current"]),
        token_expires_in=3600.0,
    )


def test_a_healthy_connection_is_left_alone() -> None:
    assert diagnose(health(TransportState.CONNECTED), CONFIG) is None
    assert diagnose(health(TransportState.RECONNECTING, state_since=98.0), CONFIG) is None


@pytest.mark.parametrize(
    ("snapshot", "kind"),
    [
        (health(TransportState.NONE), Rebuild.AFTER_GAP),
        (health(TransportState.DISCONNECTED), Rebuild.AFTER_GAP),
        (health(TransportState.CONNECTING, state_since=97.0), Rebuild.AFTER_GAP),
        (health(TransportState.RECONNECTING, state_since=96.0), Rebuild.AFTER_GAP),  # 1.0.2 bug
        (health(TransportState.CONNECTED, last_seen=89.0), Rebuild.AFTER_GAP),  # silent
        (health(TransportState.CONNECTED, current=2), Rebuild.REFRESH),  # fresh token
    ],
)
def test_each_watchdog_rule(snapshot: HubHealth, kind: Rebuild) -> None:
    diagnosis = diagnose(snapshot, CONFIG)
    assert diagnosis is not None and diagnosis.kind is kind


# -- clock --------------------------------------------------------------------------------------


def test_receive_clock_never_runs_backwards_and_is_utc() -> None:
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    walls = iter([base, base - timedelta(seconds=5), base + timedelta(seconds=1)])
    clock = ReceiveClock(lambda: next(walls))
    stamps = [clock.now(), clock.now(), clock.now()]
    assert stamps == [base, base, base + timedelta(seconds=1)]
    assert all(s.tzinfo is not None for s in stamps)
    with pytest.raises(ValueError):
        ReceiveClock(lambda: datetime(2026, 1, 1)).now()


# -- secrets ------------------------------------------------------------------------------------


def test_secrets_are_redacted_from_text_payloads_and_log_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = Credentials("trader", "key-XYZ-1234567")
    assert "key-XYZ" not in repr(credentials)
    client = RestClient("http://127.0.0.1:9", credentials)
    assert "key-XYZ" not in repr(client)
    assert "abc.def" not in redact_text("wss://h/hubs/user?access_token=abc.def&x=1")
    assert redact_text("Authorization: Bearer abc.def.ghi") == f"Authorization: Bearer {REDACTED}"
    assert scrub({"userName": "u", "apiKey": "k", "nested": [{"token": "t"}]}) == {
        "userName": "u",
        "apiKey": REDACTED,
        "nested": [{"token": REDACTED}],
    }
    install_log_filter("test.secrets")
    with caplog.at_level(logging.DEBUG, logger="test.secrets"):
        logging.getLogger("test.secrets").debug("auth function result %s", "key-XYZ-1234567")
    assert "key-XYZ" not in caplog.text


# -- replay and cache files ---------------------------------------------------------------------


def test_replay_skips_malformed_lines_and_keeps_the_recorded_time(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    at = datetime(2026, 3, 4, 15, 30, 0, 1234, tzinfo=UTC)
    with Recorder(path) as recorder:
        recorder.record_hub(
            at,
            "user",
            "GatewayUserOrder",
            [
                {
                    "action": 1,
                    "data": {
                        "id": 4000000001,
                        "accountId": 1,
                        "contractId": "CON.F.US.EP.Z26",
                        "status": 1,
                        "type": 4,
                        "side": 1,
                        "size": 1,
                        "stopPrice": 6000.25,
                    },
                }
            ],
        )
    with path.open("a") as stream:
        stream.write("not json\n{}\n")
    skipped: list[int] = []
    assert len(list(read_records(path, skipped=skipped))) == 1
    assert skipped == [2, 3]
    (event,) = replay(path)
    assert isinstance(event, OrderUpdate) and event.at == at
    assert str(event.stop_price) == "6000.25"


@pytest.mark.parametrize("text", ["{broken", "[]", "null", '{"version": 1, "contracts": {}}'])
def test_an_unreadable_contract_cache_is_ignored(tmp_path: Path, text: str) -> None:
    (tmp_path / "contracts.json").write_text(text)
    assert len(ContractCache(None, tmp_path)) == 0


def test_hub_urls_for_topstepx_and_the_simulator() -> None:
    assert hub_urls("topstepx") == (
        "https://rtc.topstepx.com/hubs/user",
        "https://rtc.topstepx.com/hubs/market",
    )
    assert hub_urls("http://127.0.0.1:8700/") == (
        "http://127.0.0.1:8700/hubs/user",
        "http://127.0.0.1:8700/hubs/market",
    )
    url = _with_token("https://rtc.topstepx.com/hubs/user?access_token=old", "a.b-c_d")
    assert url == "https://rtc.topstepx.com/hubs/user?access_token=a.b-c_d"


def test_the_hub_protocol_is_json_version_1_with_exact_decimals() -> None:
    frames: list[int] = []
    protocol = WireProtocol(lambda: frames.append(1))
    assert protocol.handshake_message().version == 1
    raw = (
        '{"type":1,"target":"GatewayQuote","arguments":["C",{"lastPrice":0.1}]}\x1e'
        "{not json}\x1e"
        '{"type":6}\x1e'
    )
    messages = protocol.parse_messages(raw)
    assert frames == [1] and len(messages) == 2
    assert messages[0].arguments[1]["lastPrice"] == Decimal("0.1")


@pytest.mark.parametrize(
    "odd",
    [
        '{"type":99,"target":"X"}',  # a message type newer than this client
        '{"type":1}',  # an invocation without a target
        "[" * 100_000 + "]" * 100_000,  # nested past the parser's depth
        '{"type":"1","target":"GatewayQuote","arguments":[]}',
    ],
)
def test_an_odd_hub_record_is_skipped_and_the_frame_goes_on(odd: str) -> None:
    protocol = WireProtocol(lambda: None)
    good = '{"type":1,"target":"GatewayQuote","arguments":["C",{"bestBid":1}]}'
    messages = protocol.parse_messages(f"{odd}\x1e{good}\x1e")
    assert [getattr(m, "target", None) for m in messages][-1] == "GatewayQuote"
