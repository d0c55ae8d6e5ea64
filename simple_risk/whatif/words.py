"""A replay's findings in plain words (the terminal) and as JSON (``--json``).

A trader reads "would close MNQ 2 (daily-unrealized-loss)", not an intent key, so each gateway
call the executor would have planned is said with the position or order it touches, as the
facts showed it at that instant. Times are shown in one time zone, chosen by the caller (the
``--tz`` option, else the local zone), with the zone's abbreviation on every time, so a text
output is stable wherever it is produced with the same zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.engine.engine import Firing, LockNotice
from simple_risk.engine.events import OrderSide
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.lockouts import Lock

if TYPE_CHECKING:
    from simple_risk.whatif.runner import ReplayReport

#: how a firing's kind is named before its rule id (a rule firing has no prefix)
_KIND_PREFIX: Mapping[str, str] = {"lockout": "lockout:", "error": "error:", "unknown": "unknown:"}


def _root(contract_id: str) -> str:
    parts = contract_id.split(".")
    return parts[3] if len(parts) > 3 else contract_id


def call_subject(call: RestRequest, state: AccountState | None) -> str:
    """What a call acts on, short (``close ES``, ``cancel #9001``, ``stop on MNQ``): the
    summary lists each once, as the daemon works each target once."""
    body = call.body
    contract_id = str(body.get("contractId", ""))
    position = state.positions.get(contract_id) if state is not None else None
    symbol = position.symbol if position is not None else _root(contract_id)
    if call.endpoint is Endpoint.POSITION_CLOSE:
        return f"close {symbol}"
    if call.endpoint is Endpoint.POSITION_PARTIAL_CLOSE:
        return f"reduce {symbol}"
    if call.endpoint is Endpoint.ORDER_CANCEL:
        return f"cancel #{body.get('orderId')}"
    if call.endpoint is Endpoint.ORDER_PLACE:
        return f"stop on {symbol}"
    if call.endpoint is Endpoint.ORDER_MODIFY:
        return f"move stop #{body.get('orderId')}"
    return call.endpoint.value


def call_words(call: RestRequest, state: AccountState | None) -> str:
    """One planned gateway call as a trader says it (without the leading "would")."""
    body = call.body
    contract_id = str(body.get("contractId", ""))
    position = state.positions.get(contract_id) if state is not None else None
    symbol = position.symbol if position is not None else _root(contract_id)
    if call.endpoint is Endpoint.POSITION_CLOSE:
        size = f" {position.size}" if position is not None else ""
        side = f" ({position.side})" if position is not None else ""
        return f"close {symbol}{size}{side}"
    if call.endpoint is Endpoint.POSITION_PARTIAL_CLOSE:
        of = f" of {position.size}" if position is not None else ""
        return f"reduce {symbol} by {body.get('size')}{of}"
    if call.endpoint is Endpoint.ORDER_CANCEL:
        order_id = body.get("orderId")
        order = (
            state.orders.get(order_id) if state is not None and isinstance(order_id, int) else None
        )
        if order is None:
            return f"cancel order #{order_id}"
        price = order.limit_price if order.limit_price is not None else order.stop_price
        at = f" @ {price}" if price is not None else ""
        status = "" if order.status == "open" else f", {order.status}"
        return (
            f"cancel order #{order.id} ({order.type} {order.side} {order.remaining} "
            f"{order.symbol}{at}{status})"
        )
    if call.endpoint is Endpoint.ORDER_PLACE:
        side = "buy" if body.get("side") == OrderSide.BUY else "sell"
        return f"place a stop {side} {body.get('size')} {symbol} at {body.get('stopPrice')}"
    if call.endpoint is Endpoint.ORDER_MODIFY:
        size = f" for {body['size']}" if "size" in body else ""
        return f"move stop #{body.get('orderId')} to {body.get('stopPrice')}{size}"
    return f"call {call.endpoint.value}"


def firing_name(firing: Firing) -> str:
    """``daily-realized-loss``; ``lockout:session-block-outside`` for a lockout enforcement."""
    return _KIND_PREFIX.get(firing.kind, "") + firing.rule_id


def moment(at: datetime, zone: tzinfo, *, day: bool = True) -> str:
    """``2026-08-19 09:41:07.512 CDT`` (milliseconds; the date only when ``day``)."""
    local = at.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S" if day else "%H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d} {local.tzname() or ''}".rstrip()


def _minutes(seconds: float) -> str:
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def lock_words(lock: LockNotice, at: datetime, zone: tzinfo) -> str:
    """``lock the account until 2026-08-19 17:00:00.000 CDT``, ``cool MNQ down for 5 min``."""
    what = "the account" if lock.scope == "account" else (lock.symbol or "the symbol")
    if lock.ends_at is None:
        return f"lock {what} while the condition holds"
    if lock.kind == "cooldown":
        span = _minutes((lock.ends_at - at).total_seconds())
        return f"cool {what} down for {span} (until {moment(lock.ends_at, zone, day=False)})"
    return f"lock {what} until {moment(lock.ends_at, zone)}"


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def report_lines(report: ReplayReport, zone: tzinfo, ruleset_name: str) -> list[tuple[str, str]]:
    """The text output as (line, style) pairs; style is a click colour or ``""``."""
    lines: list[tuple[str, str]] = []
    names = ", ".join(str(path) for path in report.files)
    lines.append((f"Replay of {names} with ruleset {ruleset_name}", "bold"))
    if report.first_at is not None and report.last_at is not None:
        span = f"{moment(report.first_at, zone)} to {moment(report.last_at, zone)}"
        lines.append((f"Recorded {span}; times in {zone}", ""))
    lines.append(("", ""))
    for outcome in report.outcomes:
        firing = outcome.firing
        style = {"critical": "red", "warning": "yellow"}.get(firing.severity, "")
        item = f" [{firing.item}]" if firing.item else ""
        head = (
            f"{moment(firing.at, zone)}  account {firing.account}  "
            f"{firing_name(firing)}{item} ({firing.severity})"
        )
        lines.append((head, style))
        lines.append((f"    {firing.message}", ""))
        for step in outcome.steps:
            lines.append((f"    would {step.text} ({firing.rule_id})", ""))
        for lock in firing.locks:
            lines.append((f"    would {lock_words(lock, firing.at, zone)}", ""))
    if not report.outcomes:
        lines.append(("Nothing would have fired.", "green"))
    lines.append(("", ""))
    lines.extend((line, "") for line in summary_lines(report, zone))
    return lines


def summary_lines(report: ReplayReport, zone: tzinfo) -> list[str]:
    """Counts per rule, what would have been done, and the lockouts left at the end."""
    fired: Counter[str] = Counter(firing_name(o.firing) for o in report.outcomes)
    subjects: list[str] = []
    for outcome in report.outcomes:
        for step in outcome.steps:
            if step.subject is not None and step.subject not in subjects:
                subjects.append(step.subject)
    lines = [
        f"Summary: {len(report.outcomes)} firing(s) from {report.events} event(s) "
        f"in {report.records} recorded message(s)"
    ]
    for name, count in sorted(fired.items()):
        lines.append(f"  {name}: {count}")
    if subjects:
        lines.append("  would have asked the gateway to: " + ", ".join(subjects))
    else:
        lines.append("  would have asked the gateway for nothing")
    for account, locks in sorted(report.locks_at_end.items()):
        for lock in locks:
            what = "account" if lock.scope == "account" else (lock.symbol or "symbol")
            state = "cooling down" if lock.kind == "cooldown" else "locked"
            until = "while its condition holds"
            if lock.ends_at is not None:
                until = f"until {moment(lock.ends_at, zone)}"
            lines.append(f"  at the end, account {account}: {what} {state} {until} ({lock.rule})")
    for error in report.engine_errors:
        lines.append(f"  the engine failed on {error}")
    if report.skipped_lines:
        lines.append(f"  skipped unreadable lines: {', '.join(report.skipped_lines)}")
    for source, count in sorted(report.rejected.items()):
        lines.append(f"  skipped malformed {source} payloads: {count}")
    return lines


def report_json(report: ReplayReport, ruleset_name: str) -> dict[str, object]:
    """The ``--json`` document: every firing with its steps and locks, and the counts."""
    firings = []
    for outcome in report.outcomes:
        firing = outcome.firing
        firings.append(
            {
                "at": firing.at.isoformat(),
                "account": firing.account,
                "rule": firing.rule_id,
                "kind": firing.kind,
                "item": firing.item,
                "severity": firing.severity,
                "message": firing.message,
                "values": {key: _plain(value) for key, value in firing.values.items()},
                "would": [
                    {"text": step.text, "call": step.call, "subject": step.subject}
                    for step in outcome.steps
                ],
                "locks": [_lock_json(lock) for lock in firing.locks],
            }
        )
    return {
        "files": [str(path) for path in report.files],
        "ruleset": ruleset_name,
        "first_at": report.first_at.isoformat() if report.first_at else None,
        "last_at": report.last_at.isoformat() if report.last_at else None,
        "records": report.records,
        "events": report.events,
        "accounts": sorted(report.accounts),
        "firings": firings,
        "locks_at_end": {
            str(account): [_end_lock_json(lock) for lock in locks]
            for account, locks in sorted(report.locks_at_end.items())
        },
        "skipped_lines": list(report.skipped_lines),
        "engine_errors": list(report.engine_errors),
        "rejected": dict(sorted(report.rejected.items())),
    }


def _lock_json(lock: LockNotice) -> dict[str, object]:
    return {
        "scope": lock.scope,
        "symbol": lock.symbol,
        "kind": lock.kind,
        "ends_at": lock.ends_at.isoformat() if lock.ends_at else None,
        "reason": lock.reason,
    }


def _end_lock_json(lock: Lock) -> dict[str, object]:
    return {
        "scope": lock.scope,
        "symbol": lock.symbol,
        "rule": lock.rule,
        "kind": lock.kind,
        "ends_at": lock.ends_at.isoformat() if lock.ends_at else None,
    }


__all__ = [
    "call_subject",
    "call_words",
    "firing_name",
    "lock_words",
    "moment",
    "report_json",
    "report_lines",
    "summary_lines",
]
