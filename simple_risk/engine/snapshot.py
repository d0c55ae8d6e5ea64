"""Engine snapshots: the whole engine state as JSON-serialisable data, and back.

Called through :meth:`Engine.snapshot` / :meth:`Engine.restore`. The form is plain dicts and
lists of strings, numbers, booleans and None (Decimals as strings, datetimes as ISO-8601),
ordered as the engine iterates them, so restoring and feeding the rest of a stream fires
exactly as the uninterrupted run. A ``while:`` lock's expression is found again in the ruleset
by (rule id, action index), so a snapshot holds no code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simple_risk.engine.codec import (
    contract_from_json,
    contract_to_json,
    event_from_json,
    event_to_json,
)
from simple_risk.engine.events import OrderUpdate, TradeFill
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.ledger import FillRecord, Ledger
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.intents import intent_from_json, intent_to_json
from simple_risk.engine.lockouts import Lock
from simple_risk.engine.model import LockoutSpec

if TYPE_CHECKING:
    from simple_risk.engine.engine import Engine

SNAPSHOT_VERSION = 1


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _d(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _pd(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pday(value: Any) -> date | None:
    return date.fromisoformat(value) if value is not None else None


# -- dump ----------------------------------------------------------------------------------


def _dump_ledger(ledger: Ledger) -> dict[str, Any]:
    return {
        "day": _day(ledger.day),
        "week": _day(ledger.week),
        "fills": [
            {
                "fill": event_to_json(r.fill),
                "day": _day(r.day),
                "week": _day(r.week),
                "window_at": _t(r.window_at),
            }
            for r in ledger.fills.values()
        ],
        "day_gross": str(ledger.day_gross),
        "day_cost": str(ledger.day_cost),
        "day_count": ledger.day_count,
        "day_closed": ledger.day_closed,
        "day_wins": ledger.day_wins,
        "day_losses": ledger.day_losses,
        "week_net": str(ledger.week_net),
        "week_count": ledger.week_count,
        "order_pnl": [[k, str(v)] for k, v in ledger.order_pnl.items()],
        "order_closing": [[k, v] for k, v in ledger.order_closing.items()],
        "closed_orders": list(ledger.closed_orders),
        "consecutive_losses": ledger.consecutive_losses,
        "high_water_pnl": str(ledger.high_water_pnl),
        "low_water_pnl": str(ledger.low_water_pnl),
        "window": [[_t(t), i] for t, i in ledger.window.entries()],
        "loss_window": [[_t(t), i] for t, i in ledger.loss_window.entries()],
    }


def _dump_lock(lock: Lock) -> dict[str, Any]:
    return {
        "scope": lock.scope,
        "symbol": lock.symbol,
        "rule": lock.rule,
        "reason": lock.reason,
        "kind": lock.kind,
        "set_at": _t(lock.set_at),
        "ends_at": _t(lock.ends_at),
        "action_index": lock.action_index,
        "baseline": [[c, long, size] for c, (long, size) in lock.baseline.items()],
        "opening_fill": list(lock.opening_fill) if lock.opening_fill is not None else None,
        "opening_order": lock.opening_order,
    }


def _dump_account(state: AccountState) -> dict[str, Any]:
    return {
        "id": state.id,
        "name": state.name,
        "balance": _d(state.balance),
        "can_trade": state.can_trade,
        "starting_balance": _d(state.starting_balance),
        "eod_high_balance": _d(state.eod_high_balance),
        "own_tags": [[tag, order_id] for tag, order_id in state.own_tags.items()],
        "own_sizes": [[order_id, size] for order_id, size in state.own_sizes.items()],
        "orders": [event_to_json(order.update) for order in state.orders.values()],
        "positions": [
            {
                "contract_id": p.contract_id,
                "long": p.long,
                "size": p.size,
                "avg_price": str(p.avg_price),
                "opened_at": _t(p.opened_at),
                "best_price": _d(p.best_price),
                "protected": p.protected,
                "unprotected_since": _t(p.unprotected_since),
                "stop_price": _d(p.stop_price),
                "stop_ticks": _d(p.stop_ticks),
                "stop_risk": _d(p.stop_risk),
                "segment_at": _t(p.segment_at),
                "unprotected_banked": str(p.unprotected_banked),
                "protected_by_risk": [
                    [str(risk), str(spent)] for risk, spent in p.protected_by_risk.items()
                ],
                "position_id": p.position_id,
            }
            for p in state.positions.values()
        ],
        "ledger": _dump_ledger(state.ledger),
        "locks": [_dump_lock(lock) for lock in state.locks.locks.values()],
    }


def dump_engine(engine: Engine) -> dict[str, Any]:
    store = engine.store
    states = []
    for (index, account), bucket in sorted(engine._states.items(), key=lambda kv: kv[0]):
        rule_id = engine._by_index[index].rule.id
        for item, rule_state in bucket.items():
            states.append(
                {
                    "rule": rule_id,
                    "account": account,
                    "item": item,
                    "since": _t(rule_state.since),
                    "firing": rule_state.firing,
                    "event": event_to_json(rule_state.event),
                    "targets": list(rule_state.targets),
                    "cleared": rule_state.cleared,
                    **({"fired": _t(rule_state.fired)} if rule_state.fired is not None else {}),
                }
            )
    return {
        "version": SNAPSHOT_VERSION,
        "ruleset": engine.ruleset.name,
        "now": _t(engine.now),
        "day": _day(store.day),
        "week": _day(store.week),
        "day_end": _t(store.day_end),
        "contracts": [
            {
                "id": c.contract_id,
                "info": contract_to_json(c.info) if c.info is not None else None,
                "last": _d(c.last),
                "bid": _d(c.bid),
                "ask": _d(c.ask),
                "quote_at": _t(c.quote_at),
            }
            for c in store.market.contracts.values()
        ],
        "accounts": [_dump_account(state) for state in store.accounts.values()],
        "states": states,
        "errors": sorted(
            [engine._by_index[index].rule.id, account, item]
            for index, account, item in engine._errors
        ),
        "intents": [
            {"account": account, "intents": [intent_to_json(i) for i in pending.values()]}
            for account, pending in engine._intents.items()
        ],
        "unknowns": [
            {
                "rule": engine._by_index[index].rule.id,
                "account": account,
                "item": item,
                "fact": fact,
                "since": _t(episode.since),
                "alerted": episode.alerted,
                "event": event_to_json(episode.event),
            }
            for (index, account, item, fact), episode in engine.unknown.episodes.items()
            if index in engine._by_index
        ],
        "derived": engine.derive.dump(),
    }


# -- load ----------------------------------------------------------------------------------


def _load_ledger(ledger: Ledger, data: dict[str, Any]) -> None:
    ledger.day = date.fromisoformat(data["day"])
    ledger.week = date.fromisoformat(data["week"])
    ledger.fills = {}
    for entry in data["fills"]:
        fill = event_from_json(entry["fill"])
        assert isinstance(fill, TradeFill)
        window_at = datetime.fromisoformat(entry["window_at"])
        record = FillRecord(
            fill, date.fromisoformat(entry["day"]), date.fromisoformat(entry["week"]), window_at
        )
        ledger.fills[fill.trade_id] = record
    ledger.day_gross = Decimal(data["day_gross"])
    ledger.day_cost = Decimal(data["day_cost"])
    ledger.day_count = data["day_count"]
    ledger.day_closed = data["day_closed"]
    ledger.day_wins = data["day_wins"]
    ledger.day_losses = data["day_losses"]
    ledger.week_net = Decimal(data["week_net"])
    ledger.week_count = data["week_count"]
    ledger.order_pnl = {int(k): Decimal(v) for k, v in data["order_pnl"]}
    ledger.order_closing = {int(k): int(v) for k, v in data["order_closing"]}
    ledger.closed_orders = {int(k): None for k in data["closed_orders"]}
    ledger.consecutive_losses = data["consecutive_losses"]
    ledger.high_water_pnl = Decimal(data["high_water_pnl"])
    # a snapshot from before the fact existed: the lowest level seen is at most today's P&L
    ledger.low_water_pnl = Decimal(data.get("low_water_pnl", min(ledger.day_realized, 0)))
    ledger.window.load([(datetime.fromisoformat(t), int(i)) for t, i in data["window"]])
    ledger.loss_window.load([(datetime.fromisoformat(t), int(i)) for t, i in data["loss_window"]])


def _load_account(engine: Engine, state: AccountState, data: dict[str, Any]) -> None:
    market = engine.store.market
    state.name = data["name"]
    state.balance = _pd(data["balance"])
    state.can_trade = data["can_trade"]
    state.starting_balance = _pd(data["starting_balance"])
    state.eod_high_balance = _pd(data["eod_high_balance"])
    for tag, order_id in data.get("own_tags", []):  # before the orders: they read it
        state.own_tags[str(tag)] = None if order_id is None else int(order_id)
        if order_id is not None:
            state.own_ids.add(int(order_id))
    for order_id, size in data.get("own_sizes", []):
        state.own_sizes[int(order_id)] = int(size)
    for order_data in data["orders"]:
        update = event_from_json(order_data)
        assert isinstance(update, OrderUpdate)
        state.apply_order(update, market.contract(update.contract_id))
    for p in data["positions"]:
        contract = market.contract(p["contract_id"])
        opened_at = datetime.fromisoformat(p["opened_at"])
        position = Position(
            state, contract, p["long"], p["size"], Decimal(p["avg_price"]), opened_at
        )
        position.best_price = _pd(p["best_price"])
        position.protected = p["protected"]
        position.unprotected_since = _pt(p["unprotected_since"])
        position.stop_price = _pd(p["stop_price"])
        # the protection history (snapshots written before it existed start it afresh)
        position.stop_ticks = _pd(p.get("stop_ticks"))
        position.stop_risk = _pd(p.get("stop_risk"))
        position.segment_at = _pt(p.get("segment_at")) or opened_at
        position.unprotected_banked = Decimal(p.get("unprotected_banked", "0"))
        position.protected_by_risk = {
            Decimal(risk): Decimal(spent) for risk, spent in p.get("protected_by_risk", [])
        }
        position.position_id = p["position_id"]
        position.reprice()
        state.positions[contract.contract_id] = position
        contract.positions[state.id] = position
        state._position_delta(position, +1)
    state.recount_families()  # the legs of a family close no more than its position holds
    _load_ledger(state.ledger, data["ledger"])
    for lock_data in data["locks"]:
        rule_id = lock_data["rule"]
        index = lock_data["action_index"]
        while_expr = None
        try:
            spec = engine.ruleset.rule(rule_id).then[index].args.get("lockout")
            if isinstance(spec, LockoutSpec):
                while_expr = spec.while_expr
        except (KeyError, IndexError):
            while_expr = None
        lock = Lock(
            account=state.id,
            scope=lock_data["scope"],
            symbol=lock_data["symbol"],
            rule=rule_id,
            reason=lock_data["reason"],
            kind=lock_data["kind"],
            set_at=datetime.fromisoformat(lock_data["set_at"]),
            ends_at=_pt(lock_data["ends_at"]),
            action_index=index,
            while_expr=while_expr,
            baseline={c: (bool(long), int(size)) for c, long, size in lock_data["baseline"]},
            opening_fill=_opening_fill(lock_data.get("opening_fill")),
            opening_order=lock_data.get("opening_order"),
        )
        if lock.ends_at is None and lock.while_expr is None:
            continue  # the rule that set this while-lock no longer exists
        state.locks.restore(lock)


def _opening_fill(value: Any) -> tuple[str, bool, int] | None:
    if value is None:
        return None
    contract_id, buy, size = value
    return (str(contract_id), bool(buy), int(size))


def load_engine(engine: Engine, data: Any) -> None:
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {data.get('version')!r} is not {SNAPSHOT_VERSION}")
    from simple_risk.engine.records import RuleState
    from simple_risk.engine.unknowns import UnknownFact

    store = engine.store
    engine.now = _pt(data["now"])
    if engine.now is not None:
        store.clock.set(engine.now)
    store.day = _pday(data["day"])
    store.week = _pday(data["week"])
    store.day_end = _pt(data["day_end"])
    if store.day is not None:
        store.session.day = store.day
    if engine.now is not None:  # the next session edge, as the engine that ran through knows it
        store.session.passed(store.clock.utc)
    for c in data["contracts"]:  # before the accounts: a contract's name gives its ticker
        if c["info"] is not None:
            contract = store.market.load(contract_from_json(c["info"]))
        else:
            contract = store.market.contract(c["id"])
        contract.last = _pd(c["last"])
        contract.bid = _pd(c["bid"])
        contract.ask = _pd(c["ask"])
        contract.quote_at = _pt(c["quote_at"])
    for account_data in data["accounts"]:
        state = store.account(account_data["id"])
        if state is not None:
            _load_account(engine, state, account_data)
    for s in data["states"]:
        compiled = engine._rules_by_id.get(s["rule"])
        if compiled is None:
            continue
        bucket = engine._states.setdefault((compiled.index, s["account"]), {})
        bucket[s["item"]] = RuleState(
            datetime.fromisoformat(s["since"]),
            s["firing"],
            event_from_json(s["event"]),
            tuple(s["targets"]),
            bool(s.get("cleared", False)),
            datetime.fromisoformat(s["fired"]) if "fired" in s else None,
        )
    for rule_id, account, item in data["errors"]:
        compiled = engine._rules_by_id.get(rule_id)
        if compiled is not None:
            engine._errors.add((compiled.index, account, item))
    for entry in data["intents"]:
        engine._intents[entry["account"]] = {
            intent.key: intent for intent in map(intent_from_json, entry["intents"])
        }
    for u in data.get("unknowns", ()):  # absent from snapshots taken before they existed
        compiled = engine._rules_by_id.get(u["rule"])
        if compiled is not None:
            key = (compiled.index, u["account"], u["item"], u["fact"])
            engine.unknown.episodes[key] = UnknownFact(
                datetime.fromisoformat(u["since"]), event_from_json(u["event"]), u["alerted"]
            )
    engine.derive.load(data.get("derived", ()))  # absent from snapshots before derive:
    engine._recompute_pending_deadline()
    engine._recompute_lock_end()
    engine.unknown.recompute_deadline()


__all__ = ["SNAPSHOT_VERSION", "dump_engine", "load_engine"]
