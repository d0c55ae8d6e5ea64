"""Derived facts in the engine: sampled on each event before the rules, read as ``derived.NAME``.

The engine holds one :class:`Derivations` and makes two calls: :meth:`Derivations.update`
for each account an event touched, right after the fact store applied the event and before
any rule (or ``for:`` deadline) is evaluated, and :meth:`Derivations.view` once per account
environment, which binds ``derived`` there. Per event and account, each derived fact (in the
dependency order the compiler gave, so a fact reads the others' values of this very event):

1. restarts what its period left behind — a new trading day, week or session; a position
   that went flat or was opened again (``each: position`` items live as long as the
   position); a window's samples older than ``within``;
2. takes a sample when the event is one of its ``trigger:``: the expression evaluated on the
   account's facts, with the event's items bound as in a rule. A copy of a fill already recorded
   (the hub re-sending a half-turn, the REST copy a reconciliation reads) is not sampled again: a
   sum or count of fills counts each fill once; nor is an order or position update that changes
   nothing of a working order or an open position (its REST copy at each reconciliation), nor a
   voided fill (a void of one sampled before takes its samples back from a sum or count). With
   ``each:``, an event about one contract (its quote, fill, order or position) samples that
   contract's position (its root) only, any other event every open position (every root the account
   holds). An unknown (None) sample is not taken. A sample whose evaluation fails is not taken
   either, and the fact reads as that failure (:class:`DerivedFactError`) until a sample succeeds:
   a rule that reads it fails too, which the engine reports as it reports any rule whose evaluation
   raises (an engine-error firing, a critical alert) — never a silent value; the failing sample
   itself is reported once (:attr:`Derivations.failed`), whether a rule reads the fact or not;
3. notes whether its value changed (:attr:`Derivations.changed`, for a dependency index).

Rules read the fact through the ``derived`` object of their environment: an account-level
fact is one value; one kept ``each: position`` / ``each: symbol`` answers for the position or
symbol the rule has bound at that moment. Pure and deterministic like the rest of the engine:
time comes from the store's clock, never from a clock read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from types import FunctionType
from typing import Any

from simple_risk.engine.derive.aggregates import Aggregate, decode, encode, new_aggregate, zero
from simple_risk.engine.events import TRIGGER_OF, Event, TradeFill
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.store import FactStore, Touched
from simple_risk.engine.model import DerivedFact

#: the period key a derived fact's items belong to (a day, a week's Monday, a session start)
Period = date | datetime | None

#: the triggers of a fact sampled on fills only: its samples are about the fill
_FILLS = frozenset({"trade"})


class DerivedFactError(Exception):
    """A derived fact whose last sample failed: reading it fails with the reason."""


class ItemState:
    """The aggregate of one (derived fact, account, item) and what restarts it."""

    __slots__ = ("aggregate", "error", "fills", "opened", "period", "successor")

    def __init__(
        self,
        aggregate: Aggregate,
        period: Period,
        opened: datetime | None,
        error: str | None = None,
    ) -> None:
        self.aggregate = aggregate
        #: the period the samples belong to (None: for ever, or a window)
        self.period = period
        #: an ``each: position`` item: when its position opened (a new one restarts it)
        self.opened = opened
        #: why the last sample failed (None: it did not); reading the fact raises it
        self.error = error
        #: a sum's or a count's samples taken from fills: fill id → (time, value), to take
        #: back when the fill is voided (a busted trade no longer counts, as in day.*)
        self.fills: dict[int, tuple[datetime, object]] = {}
        #: an ``each: position`` item whose position a fill reversed: the new position's
        #: state, holding that fill's sample, until the gateway sends the new position
        self.successor: ItemState | None = None


class DerivedFacts:
    """The ``derived`` family of one account's environment (``derived.NAME``)."""

    __slots__ = ("_account", "_derivations", "_env")

    def __init__(self, derivations: Derivations, account: int, env: Mapping[str, object]) -> None:
        self._derivations = derivations
        self._account = account
        self._env = env

    def __getattr__(self, name: str) -> object:
        return self._derivations.value(self._account, name, self._env)

    def bound_to(self, env: Mapping[str, object]) -> DerivedFacts:
        """The same facts answering for the items bound in another environment (a copy of
        the account's, as ``--explain`` makes one per item)."""
        return DerivedFacts(self._derivations, self._account, env)

    def as_dict(self) -> dict[str, object]:
        """Every derived fact's value for the items bound now (for views and tests); a fact
        whose last sample failed shows why."""
        values: dict[str, object] = {}
        for fact in self._derivations.facts:
            try:
                values[fact.name] = getattr(self, fact.name)
            except DerivedFactError as exc:
                values[fact.name] = f"<{exc}>"
        return values

    def __repr__(self) -> str:
        return f"derived({self.as_dict()})"


class Derivations:
    """Every derived fact of a ruleset, for every account of an engine."""

    def __init__(self, facts: tuple[DerivedFact, ...], store: FactStore) -> None:
        self.facts = facts
        self._by_name = {fact.name: fact for fact in facts}
        self._store = store
        #: account → fact name → item key ("" for the account, contract id, root) → state
        self.states: dict[int, dict[str, dict[str, ItemState]]] = {}
        #: account → each fact, its expression bound to that account's environment, and
        #: whether it has items or a window to look after on every event
        self._checks: dict[int, list[tuple[DerivedFact, Callable[[], object], bool]]] = {}
        self._triggers: dict[type[Event], str | None] = {}
        #: the names whose value changed on the last ``update`` (any account it was called for)
        self.changed: set[str] = set()
        #: samples that started failing (or failed differently) on the current event:
        #: (account, fact, item key, error) — the engine reports each, read by a rule or not
        self.failed: list[tuple[int, DerivedFact, str, str]] = []
        #: the account ``update`` is sampling for
        self._account = 0
        #: the id of the fill ``update`` is sampling for (None: the event is no fill), and
        #: the fills the account's ledger still knows (a void of any other is no copy)
        self._fill_id: int | None = None
        self._known_fills: Mapping[int, object] = {}

    # -- the engine's hooks -------------------------------------------------------------------

    def view(self, account: int, env: Mapping[str, object]) -> DerivedFacts:
        """The ``derived`` object of an account's environment."""
        return DerivedFacts(self, account, env)

    def begin(self) -> None:
        """A new event: nothing changed or failed yet."""
        self.changed = set()
        if self.failed:
            self.failed = []

    def update(
        self, state: AccountState, env: dict[str, object], touched: Touched, event: Event
    ) -> set[str]:
        """Restart, expire and sample every derived fact of one account for one event (the
        event's items bound in ``env`` as the engine binds them); returns the names whose
        value changed, also added to :attr:`changed`."""
        if not self.facts:
            return set()
        trigger = self._trigger_of(type(event))
        trade = touched.trade
        self._fill_id = trade.id if trade is not None else None
        self._known_fills = state.ledger.fills
        env["order"] = touched.order
        env["position"] = touched.position
        env["trade"] = touched.trade
        env["quote"] = touched.quote
        bound_symbol = state.symbol(touched.root) if touched.root is not None else None
        env["symbol"] = bound_symbol
        checks = self._checks.get(state.id)
        if checks is None:
            checks = self._checks[state.id] = [
                (
                    fact,
                    FunctionType(fact.value.code, env),
                    fact.each is not None or fact.within is not None,
                )
                for fact in self.facts
            ]
            by_fact = self.states.setdefault(state.id, {})
            for fact in self.facts:
                by_fact.setdefault(fact.name, {})
        by_fact = self.states[state.id]
        self._account = state.id
        store = self._store
        now = store.clock.utc
        # a fill the exchange made before now (read by a reconciliation after a reconnect)
        late = (
            event
            if isinstance(event, TradeFill)
            and event.created_at is not None
            and event.created_at < now
            else None
        )
        changed: set[str] = set()
        voided = trade is not None and trade.voided
        if trade is not None and voided and touched.resent:
            changed |= self._take_back(by_fact, trade.id)
        for fact, check, per_item in checks:
            items = by_fact[fact.name]
            # a copy of a fill (or of an order's or a position's state) is not another sample,
            # nor is a voided fill (day.* leaves it out too)
            samples = trigger in fact.triggers and not touched.resent and not voided
            if not items and not samples:
                continue  # nothing kept, nothing to take
            over = fact.over
            period: Period = None
            if over == "day":
                period = store.day
            elif over == "week":
                period = store.week
            elif over == "session":
                period = self._period(fact)
            if samples and late is not None and fact.triggers == _FILLS:
                samples = self._in_time(fact, period, late, now)
            moved = False
            if items:
                # every item of a period fact belongs to one period: a new one drops them all
                # (a closed session has no period: its value stays until the next one opens)
                if period is not None and next(iter(items.values())).period != period:
                    items.clear()
                    moved = True
                elif per_item:
                    moved = self._restart(fact, state, items, now, touched)
            if samples:
                if self._sample(fact, check, state, env, items, period, now, touched):
                    moved = True
                env["position"] = touched.position
                env["symbol"] = bound_symbol
            if moved:
                changed.add(fact.name)
        if changed:
            self.changed |= changed
        return changed

    def value(self, account: int, name: str, env: Mapping[str, object]) -> object:
        """``derived.NAME`` of an account, for the item ``env`` binds (per-item facts)."""
        fact = self._by_name.get(name)
        if fact is None:
            raise AttributeError(f"no derived fact {name!r}")
        items = self.states.get(account, {}).get(name, {})
        key = _item_key(fact, env)
        item = items.get(key) if key is not None else None
        if item is None:
            return zero(fact.type) if fact.aggregate in ("sum", "count") else None
        if item.error is not None:
            raise DerivedFactError(f"derived.{name} failed: {item.error}")
        if fact.within is not None:
            item.aggregate.expire(self._store.clock.utc)
        return item.aggregate.result()

    # -- one fact -----------------------------------------------------------------------------

    def _trigger_of(self, event_type: type[Event]) -> str | None:
        if event_type not in self._triggers:
            found = None
            for base in event_type.__mro__:
                if base in TRIGGER_OF:
                    found = TRIGGER_OF[base]
                    break
            self._triggers[event_type] = found
        return self._triggers[event_type]

    def _period(self, fact: DerivedFact) -> Period:
        """The fact's period key now (None: no period, or a session closed)."""
        over = fact.over
        if over == "day":
            return self._store.day
        if over == "week":
            return self._store.week
        if over == "session" and fact.session is not None:
            return self._session_start(fact.session)
        return None

    def _session_start(self, name: str) -> datetime | None:
        """The start of the session open now, at the engine's clock (None: closed): the
        engine's session facts keep the answer with the span it holds for, and the span's end
        is one of the engine's deadlines, so a session period restarts exactly at the
        session's start."""
        return self._store.session.opened_at(name)

    def _in_time(self, fact: DerivedFact, period: Period, fill: TradeFill, now: datetime) -> bool:
        """Whether a fill made before now still belongs to the fact's period or window: a
        fill of yesterday reconciled after the daily reset counts where it was filled (as
        ``day.*`` counts it), not in today's sum; one older than the window is not in it (one
        still inside it is sampled now, and so leaves the window a little late)."""
        filled_at = fill.created_at
        assert filled_at is not None
        if fact.over in ("day", "week"):
            day, week = self._store.fill_day(fill)
            return period == (day if fact.over == "day" else week)
        if fact.over == "session":
            return isinstance(period, datetime) and filled_at >= period
        if fact.within is not None:
            return filled_at >= now - fact.within
        return True

    def _restart(
        self,
        fact: DerivedFact,
        state: AccountState,
        items: dict[str, ItemState],
        now: datetime,
        touched: Touched,
    ) -> bool:
        """Drop the items that are gone and expire windows; whether a value moved. An event
        about one contract can only have ended (or expired) that contract's item; any other
        event looks at every item."""
        each = fact.each
        if each is None:
            keys: Iterable[str] = ("",)
        elif each == "position":
            keys = (touched.contract_id,) if touched.contract_id is not None else list(items)
        else:
            keys = (touched.root,) if touched.root is not None else list(items)
        moved = False
        within = fact.within
        for key in keys:
            item = items.get(key)
            if item is None:
                continue
            if each == "position":
                position = state.positions.get(key)
                if item.opened is None:  # an opening fill's samples: the position comes next
                    if position is not None:
                        item.opened = position.opened_at
                        moved = True
                    elif touched.position is not None:
                        del items[key]  # the contract stayed flat: no position to wait for
                    continue
                if position is None or position.opened_at != item.opened:
                    del items[key]
                    moved = True
                    if item.successor is not None:
                        # reversed: the new position starts with the fill that opened it (a
                        # flat in between: it waits for the position, as an opening fill's)
                        items[key] = item.successor
                        if position is not None:
                            item.successor.opened = position.opened_at
                    continue
            if within is not None:
                before = item.aggregate.result()
                item.aggregate.expire(now)
                if item.fills:
                    edge = now - within
                    item.fills = {k: v for k, v in item.fills.items() if v[0] >= edge}
                if item.aggregate.result() != before:
                    moved = True
                if each == "symbol" and key not in state.roots and not len(item.aggregate):
                    del items[key]
            elif each == "symbol" and fact.over is None and key not in state.roots:
                del items[key]
                moved = True
        return moved

    def _sample(
        self,
        fact: DerivedFact,
        check: Callable[[], object],
        state: AccountState,
        env: dict[str, object],
        items: dict[str, ItemState],
        period: Period,
        now: datetime,
        touched: Touched,
    ) -> bool:
        """Take this event's samples; whether a value moved."""
        if fact.over == "session" and period is None:
            return False  # outside the session: nothing to sample
        if fact.each is None:
            return self._take(fact, check, items, "", period, None, now)
        moved = False
        if fact.each == "position":
            # an event about one contract samples its position only; another, every position
            if touched.contract_id is not None:
                held = state.positions.get(touched.contract_id)
                positions = [held] if held is not None else []
                if held is None and touched.trade is not None and not touched.trade.is_closing:
                    # the gateway sends a position's opening fill before the position
                    return self._opening(fact, check, env, items, touched.contract_id, period, now)
            else:
                positions = list(state.positions.values())
            for position in positions:
                env["position"] = position
                env["symbol"] = state.symbol(position.symbol)
                key = position.contract_id
                if self._take(fact, check, items, key, period, position.opened_at, now):
                    moved = True
            trade = touched.trade
            if (
                len(positions) == 1
                and trade is not None
                and trade.size > positions[0].size
                and (trade.side == "sell") == positions[0].long
            ):
                # the fill closed the position and opened one the other way, which the
                # gateway sends next: that one's first sample is this fill
                self._reversed(fact, check, env, items.get(positions[0].contract_id), period, now)
        else:
            roots = [touched.root] if touched.root is not None else sorted(state.roots)
            for root in roots:
                env["symbol"] = state.symbol(root)
                if self._take(fact, check, items, root, period, None, now):
                    moved = True
        return moved

    def _reversed(
        self,
        fact: DerivedFact,
        check: Callable[[], object],
        env: dict[str, object],
        item: ItemState | None,
        period: Period,
        now: datetime,
    ) -> None:
        """A fill that reverses a position: its sample for the position it opens, kept with
        the old position's state until the new position comes (:meth:`_restart`); as for an
        opening fill, one that needs the position (reads ``position.*``) is not taken."""
        if item is None:
            return
        env["position"] = None
        try:
            value = check()
        except Exception:
            return
        if value is None and fact.aggregate is not None:
            return
        successor = ItemState(new_aggregate(fact.aggregate, fact.type, fact.within), period, None)
        successor.aggregate.add(now, value)
        self._note_fill(fact, successor, now, value)
        item.successor = successor

    def _opening(
        self,
        fact: DerivedFact,
        check: Callable[[], object],
        env: dict[str, object],
        items: dict[str, ItemState],
        key: str,
        period: Period,
        now: datetime,
    ) -> bool:
        """The sample of a fill that opens a position the gateway has not sent yet: kept for
        the contract until the position comes (:meth:`_restart` gives it the position). One
        that needs the position (reads ``position.*``) cannot be taken yet and is not."""
        env["position"] = None
        try:
            value = check()
        except Exception:
            return False
        if value is None and fact.aggregate is not None:
            return False
        item = items.get(key)
        if item is None:
            aggregate = new_aggregate(fact.aggregate, fact.type, fact.within)
            item = items[key] = ItemState(aggregate, period, None)
        item.aggregate.add(now, value)
        self._note_fill(fact, item, now, value)
        return False  # no position reads it before it comes

    def _take(
        self,
        fact: DerivedFact,
        check: Callable[[], object],
        items: dict[str, ItemState],
        key: str,
        period: Period,
        opened: datetime | None,
        now: datetime,
    ) -> bool:
        """Evaluate the expression for one item and add the sample (unless it is unknown);
        whether the item's value moved."""
        item = items.get(key)
        try:
            value = check()
        except Exception as exc:  # not taken; the fact reads as the failure until one is
            if item is None:
                aggregate = new_aggregate(fact.aggregate, fact.type, fact.within)
                item = items[key] = ItemState(aggregate, period, opened)
            error = f"{type(exc).__name__}: {exc}"
            moved = item.error != error
            if moved:
                self.failed.append((self._account, fact, key, error))
            item.error = error
            return moved
        failed = item is not None and item.error is not None
        if value is None and fact.aggregate is not None:
            return False
        if item is None:
            aggregate = new_aggregate(fact.aggregate, fact.type, fact.within)
            before = aggregate.result()
            item = items[key] = ItemState(aggregate, period, opened)
        else:
            before = item.aggregate.result()
            item.error = None
        item.aggregate.add(now, value)
        self._note_fill(fact, item, now, value)
        return failed or item.aggregate.result() != before

    def _note_fill(self, fact: DerivedFact, item: ItemState, now: datetime, value: object) -> None:
        """Remember a sum's or a count's sample of a fill, to take back if it is voided."""
        if self._fill_id is not None and fact.aggregate in ("sum", "count"):
            fills = item.fills
            fills[self._fill_id] = (now, value)
            known = self._known_fills
            if len(fills) > len(known):  # the ledger forgot some: so may this
                item.fills = {k: v for k, v in fills.items() if k in known}

    def _take_back(self, by_fact: dict[str, dict[str, ItemState]], fill_id: int) -> set[str]:
        """A fill voided after it was sampled: its samples leave every sum and count."""
        moved: set[str] = set()
        for name, items in by_fact.items():
            for item in items.values():
                sample = item.fills.pop(fill_id, None)
                if sample is not None:
                    item.aggregate.take_back(*sample)
                    moved.add(name)
        return moved

    # -- snapshots ----------------------------------------------------------------------------

    def dump(self) -> list[dict[str, Any]]:
        """Every item's state as JSON (engine snapshots)."""
        out: list[dict[str, Any]] = []
        for account, by_fact in self.states.items():
            for name, items in by_fact.items():
                for key, item in items.items():
                    out.append(
                        {
                            "account": account,
                            "fact": name,
                            "definition": _definition(self._by_name[name]),
                            "item": key,
                            "period": _period_text(item.period),
                            "opened": item.opened.isoformat() if item.opened else None,
                            "error": item.error,
                            "state": item.aggregate.dump(),
                            **({"fills": _dump_fills(item.fills)} if item.fills else {}),
                            **(
                                {"successor": _dump_successor(item.successor)}
                                if item.successor is not None
                                else {}
                            ),
                        }
                    )
        # in a fixed order: the accounts' insertion order depends on history (a restored
        # engine would list them otherwise than the uninterrupted one)
        return sorted(out, key=lambda entry: (entry["account"], entry["fact"], entry["item"]))

    def load(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Restore what :meth:`dump` wrote. The state of a fact the ruleset no longer has, or
        defines otherwise now (a reload that changed it), is dropped: that fact starts again.
        A window whose length alone changed (``within:``, or the param it names) keeps its
        samples: the next event expires those older than the new length, and a longer window
        holds what the shorter one had kept, filling up to its length from then on."""
        for entry in entries:
            fact = self._by_name.get(entry["fact"])
            if fact is None:
                continue
            stored = entry.get("definition")
            if stored != _definition(fact) and not _only_window_moved(stored, fact):
                continue
            aggregate = new_aggregate(fact.aggregate, fact.type, fact.within)
            aggregate.load(entry["state"])
            opened = entry.get("opened")
            item = ItemState(
                aggregate,
                _period_from(fact, entry.get("period")),
                datetime.fromisoformat(opened) if opened else None,
                entry.get("error"),
            )
            item.fills = _load_fills(entry.get("fills", ()))
            successor = entry.get("successor")
            if successor is not None:
                item.successor = ItemState(
                    new_aggregate(fact.aggregate, fact.type, fact.within),
                    _period_from(fact, successor.get("period")),
                    None,
                )
                item.successor.aggregate.load(successor["state"])
                item.successor.fills = _load_fills(successor.get("fills", ()))
            by_fact = self.states.setdefault(int(entry["account"]), {})
            by_fact.setdefault(fact.name, {})[str(entry["item"])] = item


def _dump_fills(fills: Mapping[int, tuple[datetime, object]]) -> list[list[Any]]:
    return [[fill_id, at.isoformat(), encode(value)] for fill_id, (at, value) in fills.items()]


def _load_fills(data: Iterable[Any]) -> dict[int, tuple[datetime, object]]:
    return {
        int(fill_id): (datetime.fromisoformat(at), decode(value)) for fill_id, at, value in data
    }


def _dump_successor(item: ItemState) -> dict[str, Any]:
    """The state a reversing fill started for the position it opens (see ``_reversed``)."""
    return {
        "period": _period_text(item.period),
        "state": item.aggregate.dump(),
        "fills": _dump_fills(item.fills),
    }


def _definition(fact: DerivedFact) -> str:
    """Everything that decides a derived fact's state, as one comparable text."""
    return repr(
        (
            fact.value.source,
            fact.aggregate,
            fact.type,
            fact.over,
            fact.session,
            fact.within.total_seconds() if fact.within is not None else None,
            fact.each,
            sorted(fact.triggers),
        )
    )


def _only_window_moved(stored: object, fact: DerivedFact) -> bool:
    """Whether a stored :func:`_definition` is the fact's own but for a window's length:
    both are sliding windows, and their samples mean the same."""
    if fact.within is None or not isinstance(stored, str):
        return False
    try:
        old = ast.literal_eval(stored)
    except (ValueError, SyntaxError):
        return False
    new = ast.literal_eval(_definition(fact))
    window = 5  # the within: of _definition's tuple, in seconds (None: no window)
    return (
        isinstance(old, tuple)
        and len(old) == len(new)
        and old[window] is not None
        and old[:window] == new[:window]
        and old[window + 1 :] == new[window + 1 :]
    )


def _item_key(fact: DerivedFact, env: Mapping[str, object]) -> str | None:
    """The item a per-item fact answers for in ``env`` ("" for an account-level fact)."""
    if fact.each is None:
        return ""
    holder = env.get(fact.each)
    if holder is None:
        return None
    key = getattr(holder, "contract_id" if fact.each == "position" else "root", None)
    return key if isinstance(key, str) else None


def _period_text(period: Period) -> str | None:
    return period.isoformat() if period is not None else None


def _period_from(fact: DerivedFact, text: str | None) -> Period:
    if text is None:
        return None
    if fact.over in ("day", "week"):
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


__all__ = ["Derivations", "DerivedFactError", "DerivedFacts", "ItemState"]
