"""Enforcement racing the trader: what the trader does in the same moment the daemon acts.

* a position re-opened while the close of the last one is still waiting for its answer is
  closed as soon as that answer comes, not at the next reconcile;
"""

from __future__ import annotations

import time

from .harness import ACCOUNT, Start

LATE = 2.0  # seconds the gateway holds the close's answer after it closed the position


def test_a_position_reopened_while_its_close_awaits_the_answer_is_closed_at_the_answer(
    start: Start,
) -> None:
    h = start()
    h.sim.answer_late("Position/closeContract", LATE)
    h.trader.buy(ACCOUNT, "RTY")  # a blocked symbol: closed and locked
    assert h.trader.size(ACCOUNT, "RTY") == 1
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the venue closed it")
    assert not h.sent("Position/closeContract")  # logged once answered: not yet
    reopened = time.monotonic()
    h.trader.buy(ACCOUNT, "RTY")  # the close's answer is still on its way
    h.wait(lambda: h.trader.size(ACCOUNT, "RTY") == 0, "the re-opened position closed")
    took = time.monotonic() - reopened
    assert took < LATE + 1.0, f"the re-opened position stood {took:.1f}s"
    assert len(h.sent("Position/closeContract")) == 2
