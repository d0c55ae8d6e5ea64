"""Whatever body a client sends, the REST surface answers with an envelope or a 400 —
never a 500 or a traceback (the quality bar for every ProjectX endpoint)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simple_risk.adapters.simulator import Simulator
from simple_risk.adapters.simulator.rest import ENDPOINTS
from tests.simulator.conftest import contract_id

FIELDS = [
    "accountId", "contractId", "orderId", "type", "side", "size", "limitPrice", "stopPrice",
    "trailPrice", "customTag", "stopLossBracket", "takeProfitBracket", "ticks", "live",
    "searchText", "onlyActiveAccounts", "startTimestamp", "endTimestamp", "startTime",
    "endTime", "unit", "unitNumber", "limit", "includePartialBar", "userName", "apiKey",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["2026-11-24T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]),
    st.sampled_from(["CON.F.US.MNQ.Z26", "not-a-date", "2026-11-24T10:00:00-05:00"]),
    st.sampled_from([20_100_001, 1, 2, 0, -1, 4_100_000_001]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner),
    max_leaves=6,
)
bodies = st.one_of(values, st.dictionaries(st.sampled_from(FIELDS), values, max_size=8))


def test_no_body_gets_a_server_error(sim: Simulator, token: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    @settings(max_examples=150, deadline=None)
    @given(endpoint=st.sampled_from(sorted(ENDPOINTS)), body=bodies)
    def check(endpoint: str, body: Any) -> None:
        if endpoint == "auth/logout":
            return  # it would end the session the other examples use
        reply = session.post(f"{sim.base_url}/api/{endpoint}", json=body, timeout=5)
        assert reply.status_code in (200, 400), (endpoint, body, reply.status_code, reply.text)
        data = reply.json()
        if reply.status_code == 200:
            assert isinstance(data["success"], bool) and isinstance(data["errorCode"], int)
        else:
            assert data["status"] == 400

    check()


def test_any_well_typed_bars_request_gets_an_envelope(sim: Simulator, token: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    moments = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    contract = contract_id(sim, "EP")

    @settings(max_examples=80, deadline=None)
    @given(
        start=moments,
        end=moments,
        unit=st.integers(0, 8),
        number=st.integers(-1, 400),
        limit=st.integers(-1, 20_001),
        partial=st.booleans(),
    )
    # found by this property: monthly bars of a period that ends before it starts (or wider
    # than the calendar's years) once dated a bar in year 0 and answered 500
    @example("2000-01-01T00:00:00+00:00", "0017-01-01T00:00:00+00:00", 6, 205, 1, False)
    @example("2000-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", 6, 400_000, 5, True)
    def check(start: str, end: str, unit: int, number: int, limit: int, partial: bool) -> None:
        body = {
            "contractId": contract,
            "live": False,
            "startTime": start,
            "endTime": end,
            "unit": unit,
            "unitNumber": number,
            "limit": limit,
            "includePartialBar": partial,
        }
        reply = session.post(f"{sim.base_url}/api/History/retrieveBars", json=body, timeout=10)
        assert reply.status_code == 200, (body, reply.text)
        data = reply.json()
        assert data["success"] or data["errorCode"] in (2, 3, 4)
        if data["success"]:
            assert len(data["bars"]) <= limit
            times = [b["t"] for b in data["bars"]]
            assert times == sorted(times, reverse=True)

    check()
