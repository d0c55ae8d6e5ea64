"""The YAML engine running ``rulesets/topstep.yaml`` agrees with the plain oracle.

On random trading days (``strategies.trading_days``: real ProjectX event sequences with
misbehaving traders, starting near the RTH close, the 17:00 reset, an early close and the DST
change) both must fire the same rules, for the same account and item, at the same engine time,
with the same intents and the same lockouts. ``tests/mutation/run.py`` shows that this
comparison alone catches most slips in the ruleset (a flipped comparison, a moved threshold, a
dropped action, a halved duration).
"""

from __future__ import annotations

from hypothesis import given, note
from hypothesis import strategies as st

from bench.workload import Profile
from simple_risk.engine.events import Event

from .harness import difference, play
from .model import RULES
from .strategies import STARTS, fixed_day, trading_days

#: the rules that are off by default, switched on so that they are compared too
SWITCHED_ON = ("trade-management-breakeven", "trade-management-trail")


@given(day=trading_days(), switched_on=st.booleans())
def test_engine_fires_what_the_rule_book_demands(
    day: tuple[Profile, list[Event]], switched_on: bool
) -> None:
    profile, events = day
    engine, oracle, _everything = play(events, enable=SWITCHED_ON if switched_on else ())
    note(f"profile: {profile}")
    assert not difference(engine, oracle), difference(engine, oracle)


def test_the_generated_days_make_almost_every_rule_fire() -> None:
    """The comparison is only worth something if the streams reach the rules: a fixed set of
    generated days must make the oracle fire every rule but the ones only rule tests reach
    (an exact day count of 51 fills, a +1000 open profit)."""
    from datetime import timedelta

    fired: set[str] = set()
    for seed in range(16):
        profile = Profile(
            accounts=2,
            events=300,
            quote_share=0.65,
            start=STARTS[seed % len(STARTS)],
            duration=timedelta(minutes=5 + seed),
            roots=("EP", "MNQ", "YM", "MES"),
            clock_every=timedelta(seconds=5),
            p_no_stop=0.4,
            p_oversize=0.2,
            p_blocked=0.1,
            p_auth_loss=0.05,
            p_resting_limit=0.2,
            p_scale_in=0.3,
            stop_ticks=(4, 40),
            volatility=(4, 12, 30)[seed % 3],
        )
        _engine, oracle, _everything = play(fixed_day(profile, seed), enable=SWITCHED_ON)
        fired |= {seen.rule for seen in oracle}
    rare = {"trade-frequency-day", "max-unrealized-profit"}
    assert set(RULES) - rare <= fired, sorted(set(RULES) - rare - fired)
