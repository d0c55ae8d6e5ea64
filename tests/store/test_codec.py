"""The journal's JSON form gives back exactly the event that was journaled."""

from __future__ import annotations

import dataclasses
import enum
import json
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine import events
from simple_risk.engine.codec import (
    EVENT_TYPES,
    CodecError,
    contract_from_json,
    contract_to_json,
    event_from_json,
    event_to_json,
    jsonable,
    strict_json,
)

from .samples import fills

OFFSETS = st.one_of(
    st.just(UTC),
    st.builds(
        timezone,
        st.integers(min_value=-86_399, max_value=86_399).map(lambda s: timedelta(seconds=s)),
    ),
)


def strategy_for(
    tp: Any, overrides: Mapping[Any, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Any]:
    """Values of a declared field type, built from the type itself so new fields are covered."""
    if tp in overrides:
        return overrides[tp]
    args = typing.get_args(tp)
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return st.none() | strategy_for(inner, overrides)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers()
    if tp is str:
        return st.text()
    if tp is Decimal:
        return st.decimals(allow_nan=False, allow_infinity=False)
    if tp is datetime:
        return st.datetimes(timezones=OFFSETS)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return dataclass_strategy(tp, overrides)
    raise AssertionError(f"no strategy for field type {tp!r}: extend strategy_for")


def dataclass_strategy(
    cls: type, overrides: Mapping[Any, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[Any]:
    """Instances of a dataclass; ``overrides`` replaces the strategy of some field types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: strategy_for(hints[f.name], overrides or {}) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


def all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    subclasses: list[type] = type.__subclasses__(cls)
    for sub in subclasses:
        found |= {sub} | all_subclasses(sub)
    return found


def test_every_domain_event_type_is_journaled() -> None:
    # By name: a slots dataclass leaves its pre-slots class behind among __subclasses__().
    # Only the domain events module counts: the daemon's internal queue messages subclass
    # Event for their timestamp but are never journaled.
    domain = {
        cls.__name__ for cls in all_subclasses(events.Event) if cls.__module__ == events.__name__
    }
    assert set(EVENT_TYPES) == domain
    assert all(getattr(events, name) is cls for name, cls in EVENT_TYPES.items())


@pytest.mark.parametrize("event_type", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@given(data=st.data())
def test_every_event_round_trips_through_json_text(event_type: type, data: st.DataObject) -> None:
    original = data.draw(dataclass_strategy(event_type))
    text = json.dumps(event_to_json(original))
    decoded = event_from_json(json.loads(text))
    assert decoded == original
    assert type(decoded) is type(original)
    # Equal is not enough for money: Decimal("1.50") == Decimal("1.5"), but the tick grid differs.
    for field in dataclasses.fields(original):
        before, after = getattr(original, field.name), getattr(decoded, field.name)
        assert str(before) == str(after), field.name
        if isinstance(before, datetime):
            assert after.utcoffset() == before.utcoffset(), field.name


def test_money_keeps_its_digits_and_ids_beyond_two_to_the_53() -> None:
    fill = fills()[2]
    payload = event_to_json(fill)
    assert payload["price"] == "20875.00"
    assert payload["fees"] == "0.74"
    assert payload["side"] == 1
    assert payload["created_at"] == "2026-11-24T15:00:39.250000+00:00"
    huge = dataclasses.replace(fill, trade_id=2**63 - 1)
    assert event_from_json(json.loads(json.dumps(event_to_json(huge)))) == huge


def test_a_naive_timestamp_or_a_fractional_offset_is_refused() -> None:
    fill = dataclasses.replace(fills()[2], at=datetime(2026, 11, 24, 15, 0))
    with pytest.raises(CodecError, match="no timezone"):
        event_to_json(fill)
    odd_zone = timezone(timedelta(microseconds=1))
    fill = dataclasses.replace(fills()[2], at=datetime(2026, 11, 24, 15, 0, tzinfo=odd_zone))
    with pytest.raises(CodecError, match="fraction of a second"):
        event_to_json(fill)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "Teleport"}, "unknown event kind"),
        ({"leverage": 3}, "unknown fields leverage"),
        ({"price": 20875.0}, "does not match its declared type"),
        ({"price": "twenty"}, "not a decimal number"),
        ({"side": 7}, "is not a OrderSide"),
        ({"side": True}, "is not a OrderSide"),
        ({"size": "2"}, "does not match its declared type"),
        ({"at": "2026-11-24T15:00:00"}, "has no UTC offset"),
    ],
)
def test_a_payload_that_does_not_fit_its_type_is_refused(
    change: dict[str, Any], message: str
) -> None:
    payload = event_to_json(fills()[2]) | change
    with pytest.raises(CodecError, match=message):
        event_from_json(payload)


def test_a_missing_required_field_is_refused_but_defaults_fill_in() -> None:
    payload = event_to_json(fills()[2])
    without_fees = {k: v for k, v in payload.items() if k != "fees"}
    decoded = event_from_json(without_fees)
    assert isinstance(decoded, events.TradeFill)
    assert decoded.fees == Decimal(0)
    without_price = {k: v for k, v in payload.items() if k != "price"}
    with pytest.raises(CodecError, match="missing field price"):
        event_from_json(without_price)


@given(dataclass_strategy(events.ContractInfo))
def test_contract_metadata_round_trips(contract: events.ContractInfo) -> None:
    assert contract_from_json(json.loads(json.dumps(contract_to_json(contract)))) == contract


def test_audit_values_become_plain_json() -> None:
    value = {
        "pnl": Decimal("-501.74"),
        "at": datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        "side": events.OrderSide.SELL,
        "window": timedelta(seconds=60),
        "symbols": frozenset({"MNQ", "ES"}),
        "tiers": (1, 2),
    }
    assert jsonable(value) == {
        "pnl": "-501.74",
        "at": "2026-11-24T15:00:00+00:00",
        "side": 1,
        "window": 60.0,
        "symbols": ["ES", "MNQ"],
        "tiers": [1, 2],
    }
    with pytest.raises(CodecError, match=r"\$\.bad: object cannot be stored"):
        jsonable({"bad": object()})


def test_a_snapshot_must_already_be_plain_json() -> None:
    assert strict_json({"day": {"pnl_cents": -50174, "fills": [1, 2]}}) == {
        "day": {"pnl_cents": -50174, "fills": [1, 2]}
    }
    with pytest.raises(CodecError, match=r"\$\.day\.pnl: Decimal is not plain JSON"):
        strict_json({"day": {"pnl": Decimal("-501.74")}})
