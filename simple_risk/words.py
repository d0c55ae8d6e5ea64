"""The trader's vocabulary: how money, quantities, limits and moments read in every view.

``engine status``, ``monitor``, ``history``, the demo console and the notifications are read
by futures traders, not programmers, and they read them side by side. So every view says a
number the same way: money in dollars with cents (``$-48.40``), a quantity with its unit
(``0.1 lots``, ``2 contracts``, ``3 trades``), a limit by what it protects (``Daily loss``,
never the rule expression) and a moment in the viewer's time zone with the zone named. The
dashboard's page (``daemon/dashboard/static/dashboard.js``) follows the same words in the
browser. Pure functions of their arguments: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: what a view shows for an unknown value
UNKNOWN = "—"

#: the units a limit or a fact counts in (``limit_usage``'s ``unit``)
UNITS: dict[str, tuple[str, str]] = {
    "lots": ("lot", "lots"),
    "contracts": ("contract", "contracts"),
    "trades": ("trade", "trades"),
}

_CENT = Decimal("0.01")


def decimal_of(value: object) -> Decimal | None:
    """A number sent as a string, int or Decimal (None for anything else, bools included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def usd(value: object) -> str:
    """Dollars with cents: ``$-48.40``, ``$1,250.00``; ``—`` when unknown.

    The sign follows the dollar sign because that is what a ruleset's message template
    writes (``${day.realized_pnl:,.2f}``), so a firing's text and the views read alike."""
    amount = decimal_of(value)
    if amount is None:
        return UNKNOWN
    cents = amount.quantize(_CENT, rounding=ROUND_HALF_UP)  # half away from 0, as browsers do
    return f"${cents.copy_abs() if cents == 0 else cents:,.2f}"


def number(value: object) -> str:
    """A count or a weighted size without a tail of zeros: ``0.1``, ``5``, ``2.5``."""
    amount = decimal_of(value)
    if amount is None:
        return UNKNOWN
    if amount == amount.to_integral_value():
        return str(int(amount))
    return format(amount.normalize(), "f")


def quantity(value: object, unit: str | None) -> str:
    """``1 lot``, ``0.1 lots``, ``2 contracts``, ``-$48.40`` (unit ``usd``); a number alone
    when the unit is unknown; ``—`` when the value is."""
    if unit == "usd":
        return usd(value)
    shown = number(value)
    if shown == UNKNOWN or unit not in UNITS:
        return shown
    one, many = UNITS[unit]
    return f"{shown} {one if decimal_of(value) == 1 else many}"


def contracts(value: object) -> str:
    """A position's or an order's size: ``1 contract``, ``2 contracts``."""
    return quantity(value, "contracts")


def rule_title(rule_id: str, label: str | None = None) -> str:
    """What a rule protects, as views name it: its ``label:``, else its id in words
    (``daily-realized-loss`` → ``Daily realized loss``)."""
    if label and label.strip():
        return label.strip()
    words = " ".join(part for part in re.split(r"[-_.]+", rule_id) if part)
    return words[:1].upper() + words[1:] if words else rule_id


def zone_name(moment: datetime) -> str:
    """The zone a moment is shown in, as people write it: ``CST``, ``CET``, else
    ``UTC-06:00`` for a zone without a name."""
    name = moment.tzname() or ""
    if name and not name.startswith(("UTC", "+", "-")):
        return name
    offset = moment.utcoffset()
    if offset is None:
        return "local time"
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


#: the North American zones whose standard/daylight pair reads as one (CST/CDT → CT)
_PAIRED_STEMS = frozenset({"E", "C", "M", "P", "A", "N", "AK", "H"})


def short_tz(moment: datetime) -> str:
    """``CT`` for CST/CDT, ``ET`` for EST/EDT (a North American zone that changes its clocks);
    every other zone keeps its abbreviation (BST, JST, IST, China's CST)."""
    name = moment.tzname() or ""
    stem, kind = name[:-2], name[-2:]
    if kind in ("ST", "DT") and stem in _PAIRED_STEMS and _changes_clocks(moment):
        return stem + "T"
    return name


def _changes_clocks(moment: datetime) -> bool:
    """Whether the moment's zone has a daylight-saving time in its year."""
    zone = moment.tzinfo
    winter = datetime(moment.year, 1, 15, tzinfo=zone).utcoffset()
    summer = datetime(moment.year, 7, 15, tzinfo=zone).utcoffset()
    return winter != summer


def until_words(ends_at: datetime, now: datetime, zone: tzinfo | None) -> str:
    """``17:00 CT`` (today), ``Wed 08:30 CT`` (another day): a lock's end, or when a message
    sent late happened."""
    local = ends_at.astimezone(zone) if zone is not None else ends_at
    here = now.astimezone(zone) if zone is not None else now
    clock = local.strftime("%H:%M")
    if local.date() != here.date():
        clock = f"{local.strftime('%a')} {clock}"
    return f"{clock} {short_tz(local)}".strip()


def at_words(moment: datetime, now: datetime, zone: tzinfo | None = None) -> str:
    """``15:00 CST`` today, ``Mon 08:30 CST`` another day — in ``zone`` (``now``'s when
    None), the zone named."""
    where = zone if zone is not None else now.tzinfo
    local, here = moment.astimezone(where), now.astimezone(where)
    clock = local.strftime("%H:%M")
    if local.date() != here.date():
        clock = f"{local.strftime('%a')} {clock}"
    return f"{clock} {zone_name(local)}"


#: how an intent's state reads in ``history``
_INTENT_STATES = {
    "pending": "waiting",
    "in_flight": "being sent",
    "done": "done",
    "gave_up": "GAVE UP",
}


def intent_words(kind: str, body: Mapping[str, object], ticker: Callable[[str], str]) -> str:
    """What an enforcement intent does, as a trader would say it: ``close the MNQ
    position``, ``cancel the working sell orders in ES``, ``move the CL stop to 71.25``.
    ``ticker`` turns a contract id into its root (``CON.F.US.MNQ.Z26`` → ``MNQ``)."""

    def where(contract: object, symbol: object) -> str:
        if isinstance(contract, str) and contract:
            return f" in {ticker(contract)}"
        return f" in {symbol}" if isinstance(symbol, str) and symbol else ""

    contract = body.get("contract_id")
    named = f"{ticker(contract)} " if isinstance(contract, str) and contract else ""
    if kind == "PositionClosed":
        return f"close the {named}position"
    if kind == "NoWorkingOrders":
        side = body.get("side")
        sided = f" {side}" if side in ("buy", "sell") else ""
        return f"cancel the working{sided} orders{where(contract, body.get('symbol'))}"
    if kind == "CancelOrder":
        return f"cancel order #{body.get('order_id')}"
    if kind == "ResizeOrder":
        return f"resize order #{body.get('order_id')} to {contracts(body.get('size'))}"
    if kind == "ReduceTo":
        units = body.get("max_units")
        limit = contracts(body.get("max_contracts")) if units is None else f"{units} units"
        return f"reduce to {limit}{where(contract, body.get('symbol'))}"
    if kind == "StopAt":
        return f"move the {named}stop to {number(body.get('price'))}"
    return kind.replace("_", " ")


def intent_summary(
    kind: str,
    body: Mapping[str, object],
    state: str,
    attempts: int,
    error: str | None,
    ticker: Callable[[str], str],
) -> str:
    """``close the MNQ position: done (1 call)``; ``…: GAVE UP after 4 calls (HTTP 500)``."""
    said = _INTENT_STATES.get(state, state)
    calls = f"{attempts} call{'s' if attempts != 1 else ''}"
    if state == "gave_up":
        tail = f" after {calls}" if attempts else ""
    else:
        tail = f" ({calls})" if attempts else ""
    reason = f" ({error})" if error else ""
    return f"{intent_words(kind, body, ticker)}: {said}{tail}{reason}"


__all__ = [
    "UNITS",
    "UNKNOWN",
    "at_words",
    "contracts",
    "decimal_of",
    "intent_summary",
    "intent_words",
    "number",
    "quantity",
    "rule_title",
    "short_tz",
    "until_words",
    "usd",
    "zone_name",
]
