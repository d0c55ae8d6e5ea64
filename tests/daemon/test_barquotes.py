"""A held contract whose quotes stop is priced from REST bars until they come back, within the
bars budget, and a bar never overrides a real quote (daemon/barquotes.py). The clocks are
handed in: ``mono`` seconds and the wall ``T0 + mono``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from simple_risk.adapters.topstepx.bars import BarQuote
from simple_risk.adapters.topstepx.ratelimit import BARS_BUCKET, DEFAULT_BUDGETS, Budget
from simple_risk.daemon.barquotes import Asked, BarPoller, capacity
from simple_risk.daemon.messages import BarsMissed
from simple_risk.daemon.quotewatch import QuoteWatch

T0 = datetime(2027, 1, 13, 16, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Chicago
ES = "CON.F.US.EP.H27"
NQ = "CON.F.US.ENQ.H27"
ACCOUNT = 20100001


def wall(mono: float) -> datetime:
    return T0 + timedelta(seconds=mono)


def asked(
    poller: BarPoller, mono: float, held: dict[str, list[int]], heard: dict[str, datetime]
) -> list[str]:
    asks, _ = poller.due(mono, wall(mono), held, heard)
    return [a.contract_id for a in asks]


def bar(contract: str, price: str, *, start: float, asked_at: float, at: float) -> BarQuote:
    """The newest bar REST answered: starting at ``wall(start)``, asked at ``wall(asked_at)``."""
    return BarQuote(
        at=wall(at),
        contract_id=contract,
        last=Decimal(price),
        bar_start=wall(start),
        asked_at=wall(asked_at),
    )


HELD = {ES: [ACCOUNT]}


def watching(
    held: dict[str, list[int]] = HELD, heard: dict[str, datetime] | None = None, most: int = 6
) -> BarPoller:
    """A poller with bars_after 10 s and bars_every 5 s that has watched ``held`` since
    ``mono`` 0 (a silence counts from when the contract was held, at the earliest)."""
    poller = BarPoller(after=10, every=5, most=most)
    assert asked(poller, 0, held, heard or dict.fromkeys(held, wall(0))) == []
    return poller


def missed(a: Asked, mono: float) -> BarsMissed:
    return BarsMissed(at=wall(mono), contract_id=a.contract_id, asked_at=a.at, why="HTTP 429")


def test_a_held_contract_is_asked_for_once_its_quotes_are_quiet_for_bars_after() -> None:
    poller = watching()
    heard = {ES: wall(0)}  # its last quote
    assert asked(poller, 0, HELD, heard) == []
    assert asked(poller, 9.5, HELD, heard) == []
    assert asked(poller, 10, HELD, heard) == [ES]
    assert poller.quiet == {ES}


def test_a_contract_is_asked_at_most_once_a_period_and_never_twice_at_once() -> None:
    poller = watching()
    heard = {ES: wall(0)}
    assert asked(poller, 10, HELD, heard) == [ES]
    assert asked(poller, 11, HELD, heard) == []  # its period has not passed
    assert asked(poller, 15, HELD, heard) == []  # its answer is still awaited
    assert poller.accept(bar(ES, "6000", start=0, asked_at=10, at=16), heard)
    assert asked(poller, 16, HELD, heard) == [ES]  # the period passed, the answer is in
    assert asked(poller, 20, HELD, heard) == []


def test_a_refused_question_is_asked_again_at_the_next_period_not_at_once() -> None:
    poller = watching()
    heard = {ES: wall(0)}
    assert asked(poller, 10, HELD, heard) == [ES]
    poller.miss(missed(Asked(ES, wall(10)), 10.2))
    assert asked(poller, 11, HELD, heard) == []
    assert asked(poller, 14, HELD, heard) == []
    assert asked(poller, 15, HELD, heard) == [ES]
    assert "gave none (HTTP 429)" in (poller.note(ES) or "")


def test_the_polling_stops_when_quotes_come_back_and_a_late_answer_is_dropped() -> None:
    poller = watching()
    assert asked(poller, 10, HELD, {ES: wall(0)}) == [ES]
    back = {ES: wall(12)}  # a real quote arrived after the bars were asked for
    assert asked(poller, 13, HELD, back) == []
    assert poller.quiet == set()
    assert not poller.accept(bar(ES, "5990", start=0, asked_at=10, at=13.5), back)
    assert asked(poller, 20, HELD, back) == []
    assert poller.note(ES) is None


def test_a_bar_asked_for_before_the_last_quote_is_dropped() -> None:
    """The quote heard after the question is newer than the bar's close, even before the
    next tick takes the contract off the bars."""
    poller = watching()
    assert asked(poller, 10, HELD, {ES: wall(0)}) == [ES]
    assert not poller.accept(bar(ES, "5990", start=0, asked_at=10, at=11), {ES: wall(10.5)})


def test_a_bar_that_ended_before_the_last_quote_heard_is_dropped() -> None:
    """Nothing traded since: the last bar is older than the quote heard, whose bid and ask
    the engine already marks the position at."""
    poller = watching(heard={ES: wall(70)})
    heard = {ES: wall(70)}
    assert asked(poller, 80, HELD, heard) == [ES]
    old = bar(ES, "5990", start=0, asked_at=80, at=80.2)  # ended at wall(60)
    assert not poller.accept(old, heard)
    assert ES not in poller.priced


def test_a_contract_never_quoted_takes_a_bar_however_old() -> None:
    """Held since the start with the market hub silent from the start: a last trade minutes
    old is the only price there is, better than none."""
    poller = watching(heard={ES: wall(0)})  # watched since mono 0, never quoted
    assert asked(poller, 10, HELD, {ES: wall(0)}) == [ES]
    old = bar(ES, "5990", start=-240, asked_at=10, at=10.2)  # ended three minutes before
    assert poller.accept(old, quoted={})
    assert poller.priced[ES].last == Decimal("5990")


def test_a_bar_older_than_the_one_applied_is_dropped() -> None:
    poller = watching()
    heard = {ES: wall(0)}
    assert asked(poller, 10, HELD, heard) == [ES]
    assert poller.accept(bar(ES, "6000", start=60, asked_at=10, at=11), heard)
    assert asked(poller, 15, HELD, heard) == [ES]
    assert not poller.accept(bar(ES, "6001", start=0, asked_at=15, at=16), heard)
    assert poller.priced[ES].last == Decimal("6000")


def test_a_contract_no_longer_held_is_not_asked_for_and_its_answer_dropped() -> None:
    heard = {ES: wall(0), NQ: wall(0)}
    held = {ES: [ACCOUNT], NQ: [ACCOUNT]}
    poller = watching(held, heard)
    assert sorted(asked(poller, 10, held, heard)) == sorted([ES, NQ])
    assert asked(poller, 15, {NQ: [ACCOUNT]}, heard) == []  # ES closed; NQ awaits its answer
    assert poller.quiet == {NQ}
    assert not poller.accept(bar(ES, "5990", start=0, asked_at=10, at=15.5), heard)
    assert poller.accept(bar(NQ, "21000", start=0, asked_at=10, at=15.5), heard)
    assert asked(poller, 20, {NQ: [ACCOUNT]}, heard) == [NQ]


def test_a_contract_held_over_the_break_is_counted_from_when_it_was_held_while_trading() -> None:
    """``held`` lists only accounts whose exchange trades: a contract last quoted before the
    daily break is not asked for at the reopen's first tick."""
    poller = watching()
    heard = {ES: wall(-3600)}  # the last quote before the break
    assert asked(poller, 0, HELD, heard) == []
    assert asked(poller, 10, HELD, heard) == [ES]


def test_more_quiet_contracts_than_the_budget_allows_are_asked_in_turn_and_said() -> None:
    contracts = [f"CON.F.US.C{n}.H27" for n in range(5)]
    held = {c: [ACCOUNT] for c in contracts}
    heard = dict.fromkeys(contracts, wall(0))
    poller = watching(held, heard, most=2)
    first, alerts = poller.due(10, wall(10), held, heard)
    assert len(first) == 2
    (crowded,) = alerts
    assert crowded.level == "warning"
    assert "5 held contracts have no quotes" in crowded.message
    assert "priced in turn, each every 15 s" in crowded.message
    seen = [a.contract_id for a in first]
    for mono in (11, 12, 13, 14):  # nothing more within the period, whatever is answered
        for a in first:
            poller.miss(
                BarsMissed(at=wall(mono), contract_id=a.contract_id, asked_at=a.at, why="x")
            )
        asks, alerts = poller.due(mono, wall(mono), held, heard)
        assert asks == [] and alerts == []  # the crowd is said once
    for mono in (15, 20):
        asks, _ = poller.due(mono, wall(mono), held, heard)
        assert len(asks) <= 2
        seen += [a.contract_id for a in asks]
        for a in asks:
            poller.miss(
                BarsMissed(at=wall(mono), contract_id=a.contract_id, asked_at=a.at, why="x")
            )
    assert sorted(seen[:5]) == sorted(contracts)  # each in turn, the longest unasked first
    assert poller.asks == 6


def test_the_number_of_contracts_asked_per_period_keeps_within_the_bars_budget() -> None:
    bars = DEFAULT_BUDGETS[BARS_BUCKET]  # 47 calls in 30 s
    most = capacity(bars, 5.0)
    assert most == 6
    # any 30 s window straddles at most 7 periods of 5 s: still within the budget
    assert most * 7 <= bars.requests
    assert capacity(Budget(2, 30.0), 5.0) == 1  # always one


def test_the_silence_alert_says_the_price_comes_from_bars_and_how_often() -> None:
    poller = watching()
    heard = {ES: wall(0)}
    assert asked(poller, 10, HELD, heard) == [ES]
    assert "being asked from REST bars every 5 s" in (poller.note(ES) or "")
    assert poller.accept(bar(ES, "6000", start=0, asked_at=10, at=11), heard)
    watch = QuoteWatch(silence=120)
    watch.check(wall(0), HELD, heard, poller.note)
    (alert,) = watch.check(wall(120), HELD, heard, poller.note)
    assert alert.level == "warning"
    assert f"no quote for {ES}" in alert.message
    assert "its price now comes from REST bars every 5 s" in alert.message
    assert "the last trade, not the bid or ask" in alert.message


def test_asked_carries_the_moment_of_the_question() -> None:
    poller = watching()
    asks, _ = poller.due(10, wall(10), HELD, {ES: wall(0)})
    assert asks == [Asked(ES, wall(10))]
