"""Tickers, products and weights: the ruleset, then the gateway's contract names, then the
shipped catalogue (docs/symbols.md)."""

from __future__ import annotations

from decimal import Decimal

from engine_builders import ACCOUNT, at, position
from hypothesis import given
from hypothesis import strategies as st

from simple_risk.engine.dsl import load_ruleset_text
from simple_risk.engine.dsl.catalogue import Listing, listings
from simple_risk.engine.engine import Engine
from simple_risk.engine.events import ContractInfo, ContractLoaded
from simple_risk.engine.facts.symbols import is_micro, ticker_from_name
from simple_risk.engine.snapshot import dump_engine, load_engine

RULESET = load_ruleset_text(
    "ruleset: symbols\n"
    "rules:\n"
    "  - {id: never, trigger: [position], when: 'False', then: [flatten]}\n",
    "symbols.yaml",
)
#: a contract no catalogue lists: its name and description are all the engine has
UNLISTED = "CON.F.US.MSX.U26"


def unlisted(
    t: float, name: str = "MSOU6", description: str = "Micro Soybean Oil"
) -> ContractLoaded:
    return ContractLoaded(
        at=at(t),
        contract=ContractInfo(
            contract_id=UNLISTED,
            symbol_id="F.US.MSX",
            root="MSO",
            name=name,
            tick_size=Decimal("0.01"),
            tick_value=Decimal("0.6"),
            units=1,
            description=description,
        ),
    )


def roots(engine: Engine) -> set[str]:
    state = engine.account(ACCOUNT)
    assert state is not None
    return set(state.roots)


@given(
    item=st.sampled_from(listings()),
    year=st.integers(2020, 2039),
    month=st.integers(1, 12),
)
def test_the_ticker_of_every_listed_contract_is_its_cme_code_without_month_and_year(
    item: Listing, year: int, month: int
) -> None:
    assert ticker_from_name(item.cme_code(year, month)) == item.ticker


def test_names_that_are_no_cme_code_give_no_ticker() -> None:
    assert ticker_from_name("MNQH25") == "MNQ"  # older documents: a two-digit year
    assert ticker_from_name("MNQ") is None
    assert ticker_from_name("EP") is None
    assert ticker_from_name("CON.F.US.EP.U26") is None


def test_micro_and_e_micro_descriptions_are_micros_and_e_minis_are_not() -> None:
    assert is_micro("Micro Gold: December 2026") and is_micro("E-Micro GBP/USD")
    assert not is_micro("E-mini Euro FX") and not is_micro("Gold") and not is_micro("")


def test_a_contract_named_before_its_first_event_gets_the_gateway_ticker_and_weight() -> None:
    engine = Engine(RULESET)
    engine.apply(unlisted(0))
    engine.apply(position(1, 3, "42", contract=UNLISTED))
    assert roots(engine) == {"MSO"}
    assert engine.facts(ACCOUNT)["account"].open_contracts == Decimal("0.3")


def test_metadata_after_the_first_position_does_not_move_the_open_position() -> None:
    engine = Engine(RULESET)
    engine.apply(position(0, 3, "42", contract=UNLISTED))
    engine.apply(unlisted(1))
    assert roots(engine) == {"MSX"}  # the ProjectX root it was opened under
    engine.apply(position(2, 0, "42", contract=UNLISTED))
    engine.apply(position(3, 1, "42", contract=UNLISTED))
    assert roots(engine) == {"MSX"}


def test_metadata_renames_a_contract_nothing_is_open_or_working_in() -> None:
    engine = Engine(RULESET)
    engine.apply(position(0, 1, "42", contract=UNLISTED))
    engine.apply(position(1, 0, "42", contract=UNLISTED))
    engine.apply(unlisted(2))
    engine.apply(position(3, 1, "42", contract=UNLISTED))
    assert roots(engine) == {"MSO"}


def test_a_restored_engine_keeps_the_tickers_the_gateway_gave() -> None:
    engine = Engine(RULESET)
    engine.apply(unlisted(0))
    engine.apply(position(1, 3, "42", contract=UNLISTED))
    restored = Engine(RULESET)
    load_engine(restored, dump_engine(engine))
    assert roots(restored) == {"MSO"}
    assert restored.facts(ACCOUNT)["account"].open_contracts == Decimal("0.3")


def test_without_metadata_the_catalogue_names_and_weighs_live_contracts() -> None:
    engine = Engine(RULESET)
    engine.apply(position(0, 1, "30", contract="CON.F.US.SIE.Z26"))
    engine.apply(position(0, 1, "3500", contract="CON.F.US.GMET.Z26"))
    assert roots(engine) == {"SI", "MET"}
    assert engine.facts(ACCOUNT)["account"].open_contracts == Decimal("1.1")
