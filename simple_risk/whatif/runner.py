"""Play a recording through a fresh engine and keep what it would have done.

The events are the ones the daemon's adapters make from the recorded frames and bodies (the
same converters, :func:`simple_risk.adapters.replay.record_events`), applied in recorded
receive-time order with engine time = receive time, so a replay is deterministic: same
recording, same ruleset, same firings. Between two events the engine's own timers fire at the
exact instants it asks for (``next_deadline``) and a clock tick runs every ``tick`` as the
daemon's clock does, so ``for:`` graces, cooldown ends and sessions behave as they would have.

Reconciliation is replayed as the daemon does it: the REST snapshots of a reconcile become
facts, and after the working orders (``Order/searchOpen``) or the day's fills
(``Trade/search``) of an account the engine is told that account was reconciled, which
evaluates every rule. A working order or open position such a snapshot no longer lists is
ended, as the daemon ends it (a close announced during a hub gap), unless the hub spoke of it
after the snapshot was requested. Nothing is enforced — a replay only says what
would have been — so the recording's own later events (which include whatever the recording
daemon did) stay the truth.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from simple_risk.adapters.replay import Record, read_records, record_events
from simple_risk.adapters.topstepx.converters import DEFAULT_SYMBOLS
from simple_risk.adapters.topstepx.errors import Endpoint
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.daemon.calls import describe_call
from simple_risk.daemon.planning import plan
from simple_risk.engine import Engine, Firing
from simple_risk.engine.events import (
    ClockTick,
    Event,
    OrderUpdate,
    PositionUpdate,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.intents import Alert
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import Ruleset, SymbolSpec
from simple_risk.engine.vanished import (
    HubItem,
    hub_item,
    reconciled_fills,
    reconciled_orders,
    reconciled_positions,
)
from simple_risk.whatif.words import call_subject, call_words

#: the daemon's default clock tick (``timing.tick_interval``)
DEFAULT_TICK = timedelta(seconds=1)
#: REST answers that end a reconcile of the account in their request
_RECONCILE_ENDS = frozenset({Endpoint.ORDER_SEARCH_OPEN, Endpoint.TRADE_SEARCH})
#: the answers that list every working order / open position of an account
_SNAPSHOTS = frozenset({Endpoint.ORDER_SEARCH_OPEN, Endpoint.POSITION_SEARCH_OPEN})
_STEP = timedelta(microseconds=1)


class RecordingError(Exception):
    """A recording that cannot be replayed (missing, unreadable, or with nothing in it)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the daemon would have done for a firing: words, and the gateway call."""

    text: str  # "close MNQ 2", "cancel order #9001 (limit sell 1 MNQ, suspended)"
    call: str | None = None  # "Position/closeContract CON.F.US.MNQ.U26"; None: no call
    #: what the call acts on, for the summary: "close MNQ", "cancel #9001", "stop on MNQ"
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A firing and what enforcing it would have meant at that instant."""

    firing: Firing
    steps: tuple[Step, ...]


@dataclass(slots=True)
class ReplayReport:
    """Everything a replay found, for the text and JSON renderings."""

    files: tuple[Path, ...]
    outcomes: list[Outcome] = field(default_factory=list)
    records: int = 0
    events: int = 0
    skipped_lines: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    first_at: datetime | None = None
    last_at: datetime | None = None
    accounts: set[int] = field(default_factory=set)
    #: each account's lockouts still in force at the end of the recording
    locks_at_end: dict[int, list[Lock]] = field(default_factory=dict)
    #: events the engine failed on (the daemon alerts and goes on; so does a replay)
    engine_errors: list[str] = field(default_factory=list)


def recording_files(paths: Sequence[Path]) -> list[Path]:
    """The files named (a directory means its ``*.jsonl`` files), each once, in name order.

    Records are replayed in receive-time order whatever the files; the name order decides
    only between records of different files with the same receive time, and the daemon's
    names (``DAY-RUN.jsonl``) sort in time order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise RecordingError(f"{path}: no *.jsonl recording in this directory")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise RecordingError(f"{path}: no such file")
    unique = {file.resolve(): file for file in files}
    return sorted(unique.values(), key=lambda file: (file.name, str(file)))


def load_records(files: Sequence[Path], skipped: list[str]) -> list[Record]:
    """Every readable record of the files, in receive-time order (ties keep file order);
    unreadable lines are skipped and listed as ``FILE:LINE`` in ``skipped``."""
    records: list[Record] = []
    for path in files:
        lines: list[int] = []
        try:
            records.extend(read_records(path, skipped=lines))
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise RecordingError(f"{path}: cannot read it ({reason or error})") from None
        skipped.extend(f"{path}:{line}" for line in lines)
    if not records:
        names = ", ".join(str(path) for path in files)
        raise RecordingError(f"{names}: no readable recorded message (is it a recording?)")
    records.sort(key=lambda record: record.at)
    return records


class _Player:
    """Applies events to the engine in strictly increasing engine time, firing its timers
    and the periodic tick in between, and turns each firing into an :class:`Outcome`."""

    def __init__(self, engine: Engine, report: ReplayReport, tick: timedelta | None) -> None:
        self.engine = engine
        self.report = report
        self.tick = tick
        self.next_tick: datetime | None = None
        self.last_at: datetime | None = None

    def apply(self, event: Event) -> None:
        if self.last_at is not None and event.at <= self.last_at:
            event = dataclasses.replace(event, at=self.last_at + _STEP)
        self.last_at = event.at
        try:
            firings = self.engine.apply(event)
        except Exception as error:  # as the daemon: report it, keep going
            self.report.engine_errors.append(
                f"{event.at.isoformat()} {type(event).__name__}: {type(error).__name__}: {error}"
            )
            return
        for firing in firings:
            state = self.engine.account(firing.account)
            self.report.outcomes.append(Outcome(firing, steps_for(firing, state)))

    def advance_to(self, at: datetime) -> None:
        if self.tick is not None and self.next_tick is None:
            self.next_tick = at + self.tick
        stalled = 0
        while True:
            deadline = self.engine.next_deadline()
            due = [d for d in (deadline, self.next_tick) if d is not None and d <= at]
            if not due:
                return
            when = min(due)
            if self.next_tick is not None and self.tick is not None and self.next_tick <= when:
                self.next_tick += self.tick
            elif self.last_at is not None and when <= self.last_at:
                stalled += 1  # a deadline the engine was just given: do not spin on it
                if stalled > 2:
                    return
            self.apply(ClockTick(at=when))


def steps_for(firing: Firing, state: AccountState | None) -> tuple[Step, ...]:
    """The gateway calls the daemon's executor would plan for the firing's intents now."""
    steps: list[Step] = []
    enforcing = False
    for intent in firing.intents:
        if isinstance(intent, Alert):
            steps.append(Step(f"alert ({intent.level}): {intent.message}"))
            continue
        enforcing = True
        for call in plan(intent, state):
            step = Step(call_words(call, state), describe_call(call), call_subject(call, state))
            if step not in steps:
                steps.append(step)
    if enforcing and not any(step.call for step in steps):
        steps.append(Step("nothing to cancel or close: already so"))
    return tuple(steps)


def replay_records(
    records: Iterable[Record],
    ruleset: Ruleset,
    *,
    files: Sequence[Path] = (),
    account: int | None = None,
    tick: timedelta | None = DEFAULT_TICK,
    symbols: SymbolSpec = DEFAULT_SYMBOLS,
) -> ReplayReport:
    """Run ``ruleset`` over the records (already in receive-time order)."""
    report = ReplayReport(tuple(files))
    engine = Engine(ruleset, accounts=[account] if account is not None else None)
    player = _Player(engine, report, tick)
    convert = Converter(symbols=symbols)
    #: account → order or position → receive time of the hub's last word of it (a snapshot
    #: requested before that is older for that item)
    hub_touched: dict[int, dict[HubItem, datetime]] = {}
    for record in records:
        report.records += 1
        report.first_at = report.first_at or record.at
        report.last_at = record.at
        rejected = convert.rejected[record.source]
        events = record_events(record, convert)
        if record.kind == "hub":
            for event in events:
                if isinstance(event, OrderUpdate | PositionUpdate | TradeFill):
                    hub_touched.setdefault(event.account_id, {})[hub_item(event)] = event.at
        else:
            complete = convert.rejected[record.source] == rejected
            events = _reconciled(record, events, complete, engine, hub_touched)
        ended = _reconciled_account(record)
        if ended is not None:
            events.append(Reconciled(at=record.at, account_id=ended))
        for event in events:
            owner = getattr(event, "account_id", None)
            if isinstance(owner, int):
                if account is not None and owner != account:
                    continue
                report.accounts.add(owner)
            player.advance_to(event.at)
            player.apply(event)
            report.events += 1
    if report.last_at is not None:
        player.advance_to(report.last_at)
    report.rejected = Counter(convert.rejected)
    end = player.last_at or report.last_at
    for owner in sorted(report.accounts):
        report.locks_at_end[owner] = [
            lock
            for lock in engine.locks(owner)
            if end is None or lock.ends_at is None or lock.ends_at > end
        ]
    return report


def _reconciled(
    record: Record,
    listed: list[Event],
    complete: bool,
    engine: Engine,
    hub_touched: dict[int, dict[HubItem, datetime]],
) -> list[Event]:
    """The events of a REST snapshot of working orders or open positions (``listed``) as the
    daemon's reconcile applies them (:mod:`simple_risk.engine.vanished`): what it no longer
    lists has ended — when every record was readable (``complete``) and the answer was a
    success — except an item the hub spoke of after the request went out, whose own record
    in the snapshot is dropped too (the hub's word for it is newer). A recording without
    request times (made before they were kept) cannot tell: its snapshots are applied as
    they are and end nothing."""
    if record.source not in _SNAPSHOTS | {Endpoint.TRADE_SEARCH} or record.sent is None:
        return listed
    account = _account_of(record)
    state = engine.account(account) if account is not None else None
    if account is None or state is None:
        return listed
    sent = record.sent
    newer = {item for item, at in hub_touched.get(account, {}).items() if at > sent}
    if record.source == Endpoint.TRADE_SEARCH:
        return list(reconciled_fills([e for e in listed if isinstance(e, TradeFill)], newer))
    body = record.payload
    complete = complete and isinstance(body, dict) and body.get("success") is True
    if record.source == Endpoint.ORDER_SEARCH_OPEN:
        orders = [e for e in listed if isinstance(e, OrderUpdate)]
        return list(reconciled_orders(state, orders, record.at, newer, complete))
    positions = [e for e in listed if isinstance(e, PositionUpdate)]
    return list(reconciled_positions(state, positions, record.at, newer, complete))


def _reconciled_account(record: Record) -> int | None:
    if record.kind != "rest" or record.source not in _RECONCILE_ENDS:
        return None
    return _account_of(record)


def _account_of(record: Record) -> int | None:
    """The account a recorded REST request was about."""
    request = record.request
    if not isinstance(request, dict):
        return None
    account = request.get("accountId")
    return account if isinstance(account, int) and not isinstance(account, bool) else None


def replay_files(
    paths: Sequence[Path],
    ruleset: Ruleset,
    *,
    account: int | None = None,
    tick: timedelta | None = DEFAULT_TICK,
) -> ReplayReport:
    """Read the recordings (files or directories) and replay them; :class:`RecordingError`
    when there is nothing readable to replay."""
    files = recording_files(paths)
    skipped: list[str] = []
    records = load_records(files, skipped)
    report = replay_records(records, ruleset, files=files, account=account, tick=tick)
    report.skipped_lines = skipped
    return report


__all__ = [
    "DEFAULT_TICK",
    "Outcome",
    "RecordingError",
    "ReplayReport",
    "Step",
    "load_records",
    "recording_files",
    "replay_files",
    "replay_records",
    "steps_for",
]
