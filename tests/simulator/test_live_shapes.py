"""The live gateway's shapes (reference §14), seen by real clients: REST through ``requests``,
the hubs through signalrcore and through a raw WebSocket — and the older shapes behind
``Shapes.legacy`` where a test pins them.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import requests

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.simulator.hubs import CONNECTION_NOT_FOUND
from simple_risk.adapters.simulator.wire import timestamp
from tests.simulator.conftest import ACCOUNT, contract_id, login, wait_for
from tests.simulator.test_hub_protocol import connect, invocation, run
from tests.simulator.test_hub_signalrcore import Client
from tests.simulator.test_rest import call, ok

AUTO_OCO = 20_100_003  # the default account in Auto-OCO bracket mode
USER_SUBSCRIPTIONS: list[tuple[str, list[Any]]] = [
    ("SubscribeOrders", [AUTO_OCO]),
    ("SubscribePositions", [AUTO_OCO]),
    ("SubscribeTrades", [AUTO_OCO]),
]


def since() -> str:
    return (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


def bracket_order(sim: Simulator, **fields: object) -> dict[str, object]:
    """A 3-lot MNQ buy with an 8-tick stop-loss and a 12-tick take-profit, as the UI sends."""
    return {
        "accountId": AUTO_OCO,
        "contractId": contract_id(sim, "MNQ"),
        "type": 2,
        "side": 0,
        "size": 3,
        "customTag": "ui-1",
        "stopLossBracket": {"ticks": 8, "type": 4},
        "takeProfitBracket": {"ticks": 12, "type": 1},
        **fields,
    }


def order_events(client: Client) -> list[tuple[int, dict[str, Any]]]:
    return [(args[0]["action"], args[0]["data"]) for args in client.received("GatewayUserOrder")]


# -- bracket families ------------------------------------------------------------------------


def test_a_bracket_family_on_the_user_hub_is_born_with_the_entry_then_armed(
    sim: Simulator, token: str
) -> None:
    client = Client(sim.user_hub_url, token, USER_SUBSCRIPTIONS).start()
    try:
        entry_id = ok(sim, "Order/place", bracket_order(sim), token)["orderId"]
        wait_for(lambda: len(order_events(client)) >= 6)
        orders = [data for _, data in order_events(client)]
        entry, stop_loss, take_profit, filled, armed_sl, armed_tp = orders
        assert (entry["id"], entry["status"], filled["status"]) == (entry_id, 6, 2)
        assert [stop_loss["status"], take_profit["status"]] == [8, 8]
        for child in (stop_loss, take_profit):
            assert "stopPrice" not in child and "limitPrice" not in child
            assert "trailPrice" not in child
            assert child["creationTimestamp"] == entry["creationTimestamp"]
            assert (child["parentOrderId"], child["size"], child["side"]) == (entry_id, 3, 1)
        assert (stop_loss["type"], stop_loss["customTag"]) == (4, "ui-1-SL")
        assert (take_profit["type"], take_profit["customTag"]) == (1, "ui-1-TP")
        assert take_profit["linkedOrderId"] == stop_loss["id"] and "linkedOrderId" not in stop_loss
        assert (stop_loss["trailDistance"], take_profit["trailDistance"]) == (-8, 12)
        names = [name for name, _ in client.events]
        assert names.index("GatewayUserTrade") > 2  # both children announced before the fill
        assert [armed_sl["id"], armed_tp["id"]] == [stop_loss["id"], take_profit["id"]]
        assert [armed_sl["status"], armed_tp["status"]] == [1, 1]
        fill = Decimal(str(filled["filledPrice"]))
        assert Decimal(str(armed_sl["stopPrice"])) == fill - 8 * Decimal("0.25")
        assert Decimal(str(armed_tp["limitPrice"])) == fill + 12 * Decimal("0.25")
        armed_at = datetime.fromisoformat(armed_sl["updateTimestamp"])
        filled_at = datetime.fromisoformat(filled["updateTimestamp"])
        assert armed_at - filled_at >= timedelta(milliseconds=15)  # ~20 ms after the fill
    finally:
        client.stop()


def test_rest_hides_suspended_children_and_links_the_armed_ones(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")
    sim.set_price(mnq, "21000")
    entry_id = ok(sim, "Order/place", bracket_order(sim, type=1, limitPrice=20990), token)[
        "orderId"
    ]
    search = {"accountId": AUTO_OCO, "startTimestamp": since()}
    (resting,) = ok(sim, "Order/search", search, token)["orders"]
    (open_entry,) = ok(sim, "Order/searchOpen", {"accountId": AUTO_OCO}, token)["orders"]
    assert resting["id"] == open_entry["id"] == entry_id
    assert resting["parentOrderId"] is None  # explicit nulls on REST
    sim.set_price(mnq, "20989.75")  # the ask 20990 fills the entry

    def armed() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ok(sim, "Order/searchOpen", {"accountId": AUTO_OCO}, token)[
            "orders"
        ]
        return found

    wait_for(lambda: len(armed()) == 2)
    stop_loss, take_profit = sorted(armed(), key=lambda o: o["customTag"])
    assert (stop_loss["customTag"], stop_loss["stopPrice"]) == ("ui-1-SL", 20988)
    assert (take_profit["customTag"], take_profit["limitPrice"]) == ("ui-1-TP", 20993)
    assert stop_loss["parentOrderId"] == take_profit["parentOrderId"] == entry_id
    assert take_profit["linkedOrderId"] == stop_loss["id"] and stop_loss["linkedOrderId"] is None
    assert len(ok(sim, "Order/search", search, token)["orders"]) == 3


def test_cancelling_a_resting_bracketed_entry_takes_its_children(
    sim: Simulator, token: str
) -> None:
    entry_id = ok(sim, "Order/place", bracket_order(sim, type=1, limitPrice=20000), token)[
        "orderId"
    ]
    ok(sim, "Order/cancel", {"accountId": AUTO_OCO, "orderId": entry_id}, token)
    orders = ok(sim, "Order/search", {"accountId": AUTO_OCO, "startTimestamp": since()}, token)
    assert sorted(o["status"] for o in orders["orders"]) == [3, 3, 3]


# -- positions and trades ----------------------------------------------------------------------


def test_a_flat_position_is_removed_on_the_user_hub(sim: Simulator, token: str) -> None:
    client = Client(sim.user_hub_url, token, USER_SUBSCRIPTIONS).start()
    mnq = contract_id(sim, "MNQ")
    try:
        body = {"accountId": AUTO_OCO, "contractId": mnq, "type": 2, "side": 0, "size": 2}
        ok(sim, "Order/place", body, token)
        ok(sim, "Position/closeContract", {"accountId": AUTO_OCO, "contractId": mnq}, token)
        wait_for(lambda: len(client.received("GatewayUserPosition")) >= 2)
        opened, removed = (args[0] for args in client.received("GatewayUserPosition"))
        assert (opened["action"], opened["data"]["type"], opened["data"]["size"]) == (1, 1, 2)
        assert removed["action"] == 2
        data = removed["data"]
        assert (data["type"], data["size"], data["id"]) == (0, 0, opened["data"]["id"])
        assert data["averagePrice"] == opened["data"]["averagePrice"]
        assert data["contractDisplayName"] == opened["data"]["contractDisplayName"] != ""
    finally:
        client.stop()


def test_hub_trades_carry_commissions_and_rest_trades_do_not(sim: Simulator, token: str) -> None:
    client = Client(sim.user_hub_url, token, USER_SUBSCRIPTIONS).start()
    try:
        body = {
            "accountId": AUTO_OCO,
            "contractId": contract_id(sim, "MNQ"),
            "type": 2,
            "side": 0,
            "size": 1,
        }
        ok(sim, "Order/place", body, token)
        wait_for(lambda: len(client.received("GatewayUserTrade")) >= 1)
        hub = client.received("GatewayUserTrade")[0][0]["data"]
        assert (hub["fees"], hub["commissions"]) == (0.37, 0.25)
        assert "profitAndLoss" not in hub  # an opening half-turn: null, omitted on the hub
        (rest,) = ok(
            sim, "Trade/search", {"accountId": AUTO_OCO, "startTimestamp": since()}, token
        )["trades"]
        assert rest["id"] == hub["id"] and rest["fees"] == 0.37
        assert "commissions" not in rest and rest["profitAndLoss"] is None
    finally:
        client.stop()


def test_older_rest_trades_carry_commissions(legacy_sim: Simulator) -> None:
    token = login(legacy_sim)
    body = {
        "accountId": ACCOUNT,
        "contractId": contract_id(legacy_sim, "MNQ"),
        "type": 2,
        "side": 0,
        "size": 1,
    }
    ok(legacy_sim, "Order/place", body, token)
    (trade,) = ok(
        legacy_sim, "Trade/search", {"accountId": ACCOUNT, "startTimestamp": since()}, token
    )["trades"]
    assert trade["commissions"] == 0.25


# -- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("micros", "rest", "rest6", "hub"),
    [
        (965787, ".965787", ".965787", ".9657870"),
        (156730, ".15673", ".156730", ".1567300"),
        (0, "", ".000000", ".0000000"),
    ],
)
def test_rest_timestamps_drop_trailing_zeros_and_hub_ones_have_seven_digits(
    micros: int, rest: str, rest6: str, hub: str
) -> None:
    value = datetime(2026, 8, 19, 14, 15, 7, micros, tzinfo=UTC)
    assert timestamp(value, "rest") == f"2026-08-19T14:15:07{rest}+00:00"
    assert timestamp(value, "rest6") == f"2026-08-19T14:15:07{rest6}+00:00"
    assert timestamp(value, "hub") == f"2026-08-19T14:15:07{hub}+00:00"


REST_STAMP = re.compile(r'"creationTimestamp":"[^"]*T\d\d:\d\d:\d\d(\.\d+)?\+00:00"')


def test_rest_bodies_carry_trimmed_timestamps_and_older_ones_six_digits(
    sim: Simulator, legacy_sim: Simulator
) -> None:
    for simulator, trimmed in ((sim, True), (legacy_sim, False)):
        token = login(simulator)
        body = {
            "accountId": ACCOUNT,
            "contractId": contract_id(simulator, "MES"),
            "type": 2,
            "side": 1,
            "size": 1,
        }
        ok(simulator, "Order/place", body, token)
        text = call(simulator, "Position/searchOpen", {"accountId": ACCOUNT}, token).text
        (fraction,) = [m.group(1) or "" for m in REST_STAMP.finditer(text)]
        if trimmed:
            assert not fraction.endswith("0") and len(fraction) <= 7
        else:
            assert len(fraction) == 7  # the dot and 6 digits


# -- market hub --------------------------------------------------------------------------------


def test_live_quotes_have_no_snapshot_and_no_last_price_and_trades_come_as_arrays(
    sim: Simulator, token: str
) -> None:
    mnq = contract_id(sim, "MNQ")
    client = Client(
        sim.market_hub_url,
        token,
        [("SubscribeContractQuotes", [mnq]), ("SubscribeContractTrades", [mnq])],
    ).start()
    try:
        sim.set_price(mnq, "21001.5")
        wait_for(lambda: len(client.received("GatewayTrade")) >= 1)
        (quote_id, quote), *more = client.received("GatewayQuote")
        assert more == []  # nothing was pushed on subscribe
        assert quote_id == mnq and "lastPrice" not in quote
        assert (quote["symbol"], quote["contract"]) == ("F.US.MNQ", mnq)
        assert (quote["bestBid"], quote["bestAsk"]) == (21001.5, 21001.75)
        assert {"lastUpdated", "timestamp"} <= set(quote)
        (trade_id, trades) = client.received("GatewayTrade")[0]
        assert trade_id == mnq and isinstance(trades, list)
        (trade,) = trades
        assert (trade["price"], trade["contractId"], trade["symbolId"]) == (
            21001.5,
            mnq,
            "F.US.MNQ",
        )
        assert {"timestamp", "type", "volume"} <= set(trade)
    finally:
        client.stop()


# -- live faults -------------------------------------------------------------------------------


def test_gateway_logout_reaches_both_hubs(sim: Simulator, token: str) -> None:
    mnq = contract_id(sim, "MNQ")

    async def scenario(session: aiohttp.ClientSession) -> None:
        user = await connect(session, sim.user_hub_url, token)
        market = await connect(session, sim.market_hub_url, token)
        await market.send(invocation("SubscribeContractQuotes", [mnq], "1"))
        assert (await market.next_non_ping())["type"] == 3
        assert await asyncio.to_thread(sim.send_logout, "market") == 1
        assert await market.next_non_ping() == {
            "type": 1,
            "target": "GatewayLogout",
            "arguments": [],
        }
        reply = await asyncio.to_thread(
            requests.post, f"{sim.base_url}/sim/hubs/logout", json={}, timeout=5
        )
        assert reply.json() == {"ok": True, "sent": 2}
        for wire in (user, market):
            assert (await wire.next_non_ping())["target"] == "GatewayLogout"
        await user.ws.close()
        await market.ws.close()

    run(scenario)


def test_lost_connections_refuse_reconnects_with_connection_not_found(
    sim: Simulator, token: str
) -> None:
    reply = requests.post(f"{sim.base_url}/sim/hubs/lose-connections", json={"count": 2}, timeout=5)
    assert reply.ok

    async def scenario(session: aiohttp.ClientSession) -> None:
        negotiate = await session.post(
            f"{sim.user_hub_url}/negotiate?negotiateVersion=1&access_token={token}"
        )
        assert (negotiate.status, await negotiate.text()) == (404, CONNECTION_NOT_FOUND)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{sim.market_hub_url}?access_token={token}")
        assert refused.value.status == 404
        wire = await connect(session, sim.user_hub_url, token)  # the third attempt works
        await wire.ws.close()

    run(scenario)
    assert [r.status for r in sim.requests_log() if r.path.startswith("/hubs/")] == [404, 404, 101]
    bad = requests.post(f"{sim.base_url}/sim/hubs/logout", json={"hub": "other"}, timeout=5)
    assert bad.status_code == 400


def test_a_delayed_venue_action_scheduled_off_the_simulator_loop_runs_at_once() -> None:
    ran: list[str] = []
    Simulator._schedule(0.02, lambda: ran.append("armed"))
    assert ran == ["armed"]


def test_market_subscribers_tell_when_a_price_move_will_reach_a_client(
    sim: Simulator, token: str
) -> None:
    mnq = contract_id(sim, "MNQ")
    assert sim.market_subscribers(mnq) == 0
    client = Client(sim.market_hub_url, token, [("SubscribeContractQuotes", [mnq])]).start()
    try:
        assert sim.market_subscribers(mnq) == 1
        assert sim.market_subscribers(mnq, "trades") == 0
        assert sim.market_subscribers(contract_id(sim, "MES")) == 0
    finally:
        client.stop()
