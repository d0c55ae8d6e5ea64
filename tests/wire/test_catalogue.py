"""Live contract shapes through the converters and the engine: symbols from the gateway (§14.5).

A contract's ``name`` is its CME code, so the ticker a trader writes is the name without month
and year (``SIU6`` → SI, ``6BU6`` → 6B, ``METQ6`` → MET) whatever ProjectX calls the root
(``SIE``, ``BP6``, ``GMET``); a micro says so in its description and weighs a tenth of a lot;
a product groups a mini with its micro, so a block on RTY also blocks M2K.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.converters import contracts_from_rest
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.engine.dsl import load_ruleset, load_ruleset_text
from simple_risk.engine.dsl.catalogue import MONTH_CODES, Listing, listings
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import (
    ContractLoaded,
    Event,
    PositionType,
    PositionUpdate,
)
from simple_risk.engine.intents import NoWorkingOrders
from simple_risk.engine.model import Ruleset

HERE = Path(__file__).resolve().parent
BODY: dict[str, Any] = json.loads(
    (HERE / "fixtures" / "contracts_available.json").read_text(encoding="utf-8")
)["body"]
TOPSTEP = load_ruleset(HERE.parents[1] / "rulesets" / "topstep.yaml")
ACCOUNT = 9012345
#: Wednesday 19 August 2026, 09:15 in Chicago: inside the regular session
T0 = datetime(2026, 8, 19, 14, 15, tzinfo=UTC)

#: reference §14.5: the micro products among the 51 live contracts
LIVE_MICROS = {"MES", "MNQ", "M2K", "MYM", "MCL", "MNG", "MGC", "SIL", "MHG", "M6A", "M6B"}
LIVE_MICROS |= {"M6E", "MET", "MBT"}


def contract_id(name: str) -> str:
    return next(c["id"] for c in BODY["contracts"] if c["name"] == name)


def started(ruleset: Ruleset = TOPSTEP) -> Engine:
    """An engine that has loaded the fixture's contracts and seen the account, as at startup."""
    eng = Engine(ruleset, unknown_alert_after=None)
    for info in contracts_from_rest(BODY):
        eng.apply(ContractLoaded(at=T0, contract=info))
    account = {"id": ACCOUNT, "name": "50KTC-V2-9012345", "balance": 50000, "canTrade": True}
    for event in Converter().user("GatewayUserAccount", [{"action": 1, "data": account}], T0):
        eng.apply(event)
    return eng


def position(name: str, size: int, t: float = 1) -> PositionUpdate:
    return PositionUpdate(
        at=T0 + timedelta(seconds=t),
        account_id=ACCOUNT,
        contract_id=contract_id(name),
        type=PositionType.LONG,
        size=size,
        average_price=Decimal(1),
        created_at=T0,
    )


def order(name: str, price: str, t: float = 1) -> list[Event]:
    """A resting 1-lot buy limit, as the user hub announces it."""
    payload = {
        "id": 2411400001,
        "accountId": ACCOUNT,
        "contractId": contract_id(name),
        "creationTimestamp": "2026-08-19T14:15:01.1234567+00:00",
        "updateTimestamp": "2026-08-19T14:15:01.1234567+00:00",
        "status": 1,
        "type": 1,
        "side": 0,
        "size": 1,
        "limitPrice": float(price),
        "fillVolume": 0,
    }
    return Converter().user(
        "GatewayUserOrder", [{"action": 1, "data": payload}], T0 + timedelta(seconds=t)
    )


def apply(eng: Engine, events: list[Event]) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(eng.apply(event))
    return out


def test_each_contract_gets_the_ticker_of_its_cme_name_not_its_projectx_root() -> None:
    tickers = {info.contract_id: info.root for info in contracts_from_rest(BODY)}
    assert tickers["CON.F.US.EP.U26"] == "ES"
    assert tickers["CON.F.US.SIE.U26"] == "SI"
    assert tickers["CON.F.US.BP6.U26"] == "6B"
    assert tickers["CON.F.US.TYA.U26"] == "ZN"
    assert tickers["CON.F.US.GMET.Q26"] == "MET"
    assert tickers["CON.F.US.MCLE.V26"] == "MCL"


def test_micros_are_the_contracts_described_as_micro_or_e_micro() -> None:
    units = {info.root: info.units for info in contracts_from_rest(BODY)}
    assert {root for root, u in units.items() if u == 1} == {
        "MES",
        "MNQ",
        "M2K",
        "MCL",
        "SIL",
        "M6B",
        "MET",
    }
    assert units["SI"] == units["6B"] == units["ES"] == 10


def test_a_silver_position_is_si_and_weighs_one_lot() -> None:
    eng = started()
    apply(eng, [position("SIU6", 1)])
    state = eng.account(ACCOUNT)
    assert state is not None
    assert set(state.roots) == {"SI"}
    assert eng.facts(ACCOUNT)["account"].open_contracts == Decimal(1)


def test_a_micro_ether_position_is_met_and_weighs_a_tenth() -> None:
    eng = started()
    apply(eng, [position("METQ6", 1)])
    state = eng.account(ACCOUNT)
    assert state is not None
    assert set(state.roots) == {"MET"}
    assert eng.facts(ACCOUNT)["account"].open_contracts == Decimal("0.1")


def test_a_mini_and_its_micro_are_one_product() -> None:
    eng = started()
    apply(eng, [position("ESU6", 1), position("MESU6", 2), position("M6BU6", 1)])
    state = eng.account(ACCOUNT)
    assert state is not None
    products = {root: sym.product for root, sym in state.roots.items()}
    assert products == {"ES": "ES", "MES": "ES", "M6B": "6B"}


def test_a_block_on_rty_also_blocks_an_m2k_order() -> None:
    eng = started()
    firings = apply(eng, order("M2KU6", "2390"))
    blocks = [f for f in firings if f.rule_id == "symbol-blocks"]
    assert len(blocks) == 1
    assert blocks[0].intents[0] == NoWorkingOrders(ACCOUNT, symbol="M2K")
    state = eng.account(ACCOUNT)
    assert state is not None and state.locks.covers("M2K")
    assert not state.locks.covers("MES")


def test_an_es_order_under_the_limits_fires_nothing() -> None:
    eng = started()
    assert [f.rule_id for f in apply(eng, order("ESU6", "6400"))] == []


def test_a_ruleset_symbols_section_overrides_the_gateway() -> None:
    ruleset = load_ruleset_text(
        "ruleset: override\n"
        "symbols:\n"
        "  weights: {MET: 10}\n"
        "  products: {SIL: SILVER, SI: SILVER}\n"
        "rules:\n"
        "  - {id: never, trigger: [position], when: 'False', then: [flatten]}\n",
        "override.yaml",
    )
    eng = started(ruleset)
    apply(eng, [position("METQ6", 1), position("SILU6", 1)])
    state = eng.account(ACCOUNT)
    assert state is not None
    assert eng.facts(ACCOUNT)["account"].open_contracts == Decimal("1.1")
    assert state.roots["SIL"].product == "SILVER"


def test_a_contract_the_catalogue_does_not_list_takes_its_ticker_and_weight_from_the_gateway() -> (
    None
):
    eng = Engine(TOPSTEP, unknown_alert_after=None)
    unlisted = {
        "id": "CON.F.US.MSX.U26",
        "name": "MSOU6",
        "description": "Micro Soybean Oil: September 2026",
        "tickSize": 0.01,
        "tickValue": 0.6,
        "activeContract": True,
        "symbolId": "F.US.MSX",
    }
    (info,) = contracts_from_rest({"contracts": [unlisted]})
    assert (info.root, info.units) == ("MSO", 1)
    eng.apply(ContractLoaded(at=T0, contract=info))
    eng.apply(
        PositionUpdate(
            at=T0 + timedelta(seconds=1),
            account_id=ACCOUNT,
            contract_id="CON.F.US.MSX.U26",
            type=PositionType.LONG,
            size=3,
            average_price=Decimal(42),
            created_at=T0,
        )
    )
    state = eng.account(ACCOUNT)
    assert state is not None
    assert set(state.roots) == {"MSO"}
    assert eng.facts(ACCOUNT)["account"].open_contracts == Decimal("0.3")


def test_the_shipped_catalogue_is_the_51_live_contracts() -> None:
    items = listings()
    assert len(items) == 51
    assert len({i.projectx for i in items}) == len({i.ticker for i in items}) == 51
    assert {i.ticker for i in items if i.micro} == LIVE_MICROS
    by_root = {i.projectx: i for i in items}
    assert (by_root["EP"].ticker, by_root["EP"].tick_size, by_root["EP"].tick_value) == (
        "ES",
        Decimal("0.25"),
        Decimal("12.5"),
    )
    assert (by_root["JY6"].ticker, by_root["JY6"].tick_size) == ("6J", Decimal("0.0000005"))
    assert by_root["GMET"].ticker == "MET" and by_root["M6B"].tick_value == Decimal("0.625")
    # every micro belongs to a product that has a mini among the listed tickers, or to crypto
    tickers = {i.ticker for i in items}
    for item in items:
        if item.micro and item.product not in ("BTC", "ETH"):
            assert item.product in tickers, item.ticker


@given(
    item=st.sampled_from(listings()),
    today=st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31)),
    later=st.integers(0, 400),
)
def test_a_front_month_is_of_the_cycle_not_yet_rolled_and_never_goes_back(
    item: Listing, today: date, later: int
) -> None:
    year, month = item.front(today)
    assert MONTH_CODES[month - 1] in item.months
    assert (year, month) >= (today.year, today.month)  # never an expired month
    assert item.front(today + timedelta(days=later)) >= (year, month)
