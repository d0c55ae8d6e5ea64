"""Held contracts whose quotes stopped: the daemon says so instead of guarding blind.

A position's open P&L, and every rule about it (the open-loss limit, a drawdown that counts
open P&L, trailing stops), moves only with its contract's quotes. A market hub that is
connected and answers its pings but sends no quote for a held contract — a subscription the
gateway lost, quotes in a shape the converter rejects — leaves those rules silent with no error
anywhere: the hub watchdog sees a healthy connection and the engine a steady price. So once a
second the engine thread asks :class:`QuoteWatch` which held contracts have had no quote for
``silence`` seconds while the exchange trades (the time the market was closed never
counts), and alerts once per such contract, and again when its quotes come back. Meanwhile
its price comes from REST bars (:mod:`~simple_risk.daemon.barquotes`), and the alert says so.

"While the exchange trades" is CME Globex's week in the ruleset's calendar (:func:`trading`):
each trading day from the daily boundary the calendar day before it ends to an hour before its
end — Sunday 17:00 to Friday 16:00 Chicago for the shipped 17:00 boundary, without Globex's
daily maintenance break (16:00–17:00) — without the calendar's holidays, and without the rest
of a day after its early close. A calendar with a morning boundary (08:00 in Tokyo) gets the
same instants: Monday 08:00 to Saturday 07:00 there. A quiet market can go a minute without a
quote; the default silence is two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from simple_risk.engine.calendar import TradingCalendar

#: how long a held contract may go without a quote while the exchange trades (seconds)
SILENCE = 120.0

#: the exchange's daily break: this long before the calendar's daily boundary
DAILY_BREAK = timedelta(hours=1)


def trading(calendar: TradingCalendar, at: datetime) -> bool:
    """Whether quotes are expected at ``at``: the exchange is in its trading week, outside its
    daily break, on a day that is no holiday and before that day's early close.

    Each trading day trades from the daily boundary on the calendar day before the one it
    ends on up to an hour before its end: Sunday 17:00 to Monday 16:00 for Monday's day
    with the shipped 17:00 boundary (the weekend before it belongs to Monday's day but does
    not trade), Monday 08:00 to Saturday 07:00 across the week for a calendar in Tokyo whose
    boundary is 08:00 (the same instants)."""
    end = calendar.trading_day_end(at)
    boundary = calendar.spec.trading_day_starts
    opens = datetime.combine(
        calendar.local(end).date() - timedelta(days=1), boundary, tzinfo=calendar.tz
    )
    if not opens <= at < end - DAILY_BREAK:  # the weekend, or the daily break
        return False
    if calendar.is_holiday(calendar.trading_day(at)):
        return False
    # an early close ends the day part of its date; the evening after it is the next day's
    local = calendar.local(at)
    early = calendar.spec.early_closes.get(local.date())
    return early is None or not early <= local.time() < boundary


@dataclass(frozen=True, slots=True)
class QuoteAlert:
    level: str
    message: str


class QuoteWatch:
    """Which held contracts went quiet, told once per quiet spell (engine thread only)."""

    def __init__(self, silence: float = SILENCE) -> None:
        self.silence = timedelta(seconds=silence)
        #: contracts alerted as quiet and not heard from since
        self.quiet: set[str] = set()
        #: each held contract → since when it has been held while its exchange trades: the
        #: silence counts from there at the earliest, never over a break, weekend or holiday
        self._held_since: dict[str, datetime] = {}

    def check(
        self,
        now: datetime,
        held: Mapping[str, Iterable[int]],
        heard: Mapping[str, datetime],
        priced: Callable[[str], str | None] | None = None,
    ) -> list[QuoteAlert]:
        """The alerts due at ``now``.

        ``held``: each contract with an open position, in an account whose exchange trades now
        (:func:`trading`) → those accounts; ``heard``: each contract → when its last quote
        arrived, or (never quoted) when the daemon began to watch it. A quiet contract that is
        no longer held there (closed, or the exchange stopped trading) is forgotten quietly:
        a later silence is a new one. A silence counts only the time the contract has been
        held while the exchange trades: a contract held over the daily break is judged from
        the reopen, not from its last quote before the break. ``priced``: what to say of a
        quiet contract's price meanwhile (the REST bars' fallback, barquotes.py), if anything."""
        self._held_since = {c: self._held_since.get(c, now) for c in held}
        alerts: list[QuoteAlert] = []
        for contract_id in sorted(self.quiet):
            last = heard.get(contract_id)
            if contract_id not in held:
                self.quiet.discard(contract_id)
            elif last is not None and now - last < self.silence:
                self.quiet.discard(contract_id)
                back = f"quotes of {contract_id} arrive again; its open P&L is live"
                alerts.append(QuoteAlert("info", back))
        for contract_id, accounts in sorted(held.items()):
            last = heard.get(contract_id)
            if last is None:
                continue
            last = max(last, self._held_since[contract_id])
            if contract_id in self.quiet or now - last < self.silence:
                continue
            self.quiet.add(contract_id)
            whose = ", ".join(str(a) for a in sorted(accounts))
            quiet_for = int((now - last).total_seconds())
            meanwhile = priced(contract_id) if priced is not None else None
            if meanwhile is None:
                meanwhile = (
                    "its open P&L is not moving, and the rules about it (open-loss limit, "
                    "drawdown) cannot fire"
                )
            alerts.append(
                QuoteAlert(
                    "warning",
                    f"no quote for {contract_id} (held by account {whose}) for {quiet_for} s "
                    f"while the exchange trades: {meanwhile}; the market hub may have lost the "
                    "subscription or be sending quotes the daemon cannot read",
                )
            )
        return alerts


__all__ = ["DAILY_BREAK", "SILENCE", "QuoteAlert", "QuoteWatch", "trading"]
