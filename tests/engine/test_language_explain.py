"""``--explain`` says what the engine does for the rules of tests/rules/language/: windows and
intervals a param gives in seconds, a derived peak over a rolling window, and a symbol lock's
``while:`` that reads the locked root's derived fact.

Each sentence below plays events into an engine of the tested ruleset and reads
``operations.explain`` (what ``engine status --explain`` shows) beside what the engine fired.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_builders import ACCOUNT, ES, MNQ, account_update, at, fill, loaded, tick

from simple_risk.engine import operations
from simple_risk.engine.dsl import load_ruleset
from simple_risk.engine.engine import Engine

LANGUAGE = Path(__file__).resolve().parents[1] / "rules" / "language"


def _engine(name: str) -> Engine:
    engine = Engine(load_ruleset(LANGUAGE / name), accounts=[ACCOUNT])
    for event in (loaded(0), loaded(0, ES, tick_value="12.5"), account_update(0)):
        engine.apply(event)
    return engine


def _explained(engine: Engine, rule: str, seconds: float) -> dict[str, Any]:
    return operations.explain(engine, rule, ACCOUNT, at(seconds))


def test_a_window_of_600_seconds_is_explained_with_the_count_the_rule_compared() -> None:
    engine = _engine("seconds-windows.yaml")
    fired = [f.rule_id for t in range(5) for f in engine.apply(fill(t * 150, t + 1))]
    assert fired == ["busy"]  # the first fill is exactly 600 seconds old: it counts
    (evaluation,) = _explained(engine, "busy", 600)["evaluations"]
    (comparison,) = evaluation["comparisons"]
    assert comparison["left"] == {"text": "trades.count(within=params.fill_window)", "value": 5}
    assert evaluation["result"] is True
    engine.apply(tick(601))
    (evaluation,) = _explained(engine, "busy", 601)["evaluations"]
    assert evaluation["comparisons"][0]["left"]["value"] == 4
    assert evaluation["result"] is False


def test_an_interval_of_300_seconds_is_explained_as_every_5m() -> None:
    explained = _explained(_engine("seconds-windows.yaml"), "losses-reminder", 0)
    assert explained["refire"] == "every 5m"
    assert explained["fires"] == (
        "once per breach episode of the account, again every 5m while still true"
    )


def test_the_rolling_peak_explained_is_the_one_the_rule_fired_on() -> None:
    engine = _engine("seconds-windows.yaml")
    fired = []
    for second, trade, pnl in ((0, 1, "400"), (60, 2, "-50"), (120, 3, "-240"), (180, 4, "-10")):
        fired += [(f.rule_id, second) for f in engine.apply(fill(second, trade, pnl=pnl))]
    assert fired == [("losses-reminder", 120), ("rolling-giveback", 180)]
    (evaluation,) = _explained(engine, "rolling-giveback", 180)["evaluations"]
    assert evaluation["values"]["derived.rolling_peak"] == Decimal("400")
    assert evaluation["values"]["day.net_pnl"] == Decimal("100")
    assert evaluation["result"] is True


def test_a_symbol_lock_on_a_roots_derived_losses_ends_at_its_windows_edge() -> None:
    engine = _engine("symbol-lock-derived.yaml")
    for second, trade, contract in ((0, 1, ES), (60, 2, ES), (120, 3, MNQ)):
        engine.apply(fill(second, trade, pnl="-50", contract=contract))
    (evaluation,) = _explained(engine, "root-losses-pause", 120)["evaluations"]
    assert (evaluation["item"], evaluation["values"]["derived.root_losses"]) == ("symbol:ES", 2)
    state = engine.account(ACCOUNT)
    assert state is not None
    for second, locked in ((599, ["ES"]), (600, ["ES"]), (601, [])):
        engine.apply(tick(second))
        assert [lock.symbol for lock in state.locks.locks.values()] == locked, second
