"""Lockout enforcement: while an account is locked, its exposure cannot grow.

After every event that can change exposure on a locked account (and on everything when a
lock is new, or on a reconcile) the engine cancels the orders that would add exposure, sizes
down the reducing orders of a contract to what its position still needs, and cuts positions
that grew; ``while:`` locks are re-evaluated and dropped when their condition turns false.
The intents it issues are remembered until the facts show them met, so that a pending
cancel or flatten is not asked again and does not count as exposure.

This is the engine's reaction to locks, not rule evaluation: it runs after the rules, reads
the locks, orders and positions the fact store keeps, and is kept apart from the hot path.
``LockEnforcement`` is a mixin of ``Engine``; the attributes it shares with it are declared
here for the type checker.
"""

from __future__ import annotations

import dis
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import CodeType

from mypy_extensions import trait

from simple_risk.engine import namespace
from simple_risk.engine.actions import evaluate
from simple_risk.engine.events import Event, OrderUpdate, PositionUpdate
from simple_risk.engine.facts.account import AccountState
from simple_risk.engine.facts.orders import Order
from simple_risk.engine.facts.positions import Position
from simple_risk.engine.facts.store import FactStore, Touched
from simple_risk.engine.intents import (
    Alert,
    CancelOrder,
    Intent,
    NoWorkingOrders,
    PositionClosed,
    ReduceTo,
    ResizeOrder,
    is_met,
)
from simple_risk.engine.lockouts import Lock, LockFacts, LockVerdict
from simple_risk.engine.model import CompiledExpression
from simple_risk.engine.plans import ITEM_FAMILIES
from simple_risk.engine.records import Firing, utc
from simple_risk.engine.unknowns import UnknownFacts

#: the name the cancel of a stop of simple-risk's own with nothing left to protect goes by
OWN_STOP_RULE = "own-stop-left-behind"


@trait
class LockEnforcement:
    """Enforce the locks of an account after the rules ran (a mixin of ``Engine``)."""

    store: FactStore
    #: account → intent key → unmet intent
    _intents: dict[int, dict[str, Intent]]
    #: the earliest end of any lock (expiry is checked only once time reaches it)
    _lock_end: datetime | None
    #: accounts that got a lock during the current event (enforced on everything)
    _locked_now: set[int]
    #: id of a ``while:`` expression → (it, whether it reads only constants)
    _constant: dict[int, tuple[CompiledExpression, bool]]
    unknown: UnknownFacts

    def _enforce(
        self,
        state: AccountState,
        touched: Touched,
        event: Event,
        firings: list[Firing],
        everything: bool,
    ) -> None:
        """While locked, exposure cannot grow: cancel adding orders, cut grown positions."""
        at = event.at
        if isinstance(event, PositionUpdate):
            held = state.positions.get(event.contract_id)
            state.locks.position_changed(
                event.contract_id,
                held.long if held is not None else True,
                held.size if held is not None else 0,
            )
        pending = self._intents.get(state.id, {})
        # the contracts whose working orders are checked: every one on a new lock or a
        # reconcile, else the contract whose order or position changed (a position that
        # shrank lowers what its reducing orders may add up to)
        positions: list[Position]
        if everything:
            contracts: Iterable[str] = list(state.orders_by_contract)
            positions = list(state.positions.values())
        elif isinstance(event, OrderUpdate):
            contracts = (touched.order.contract_id,) if touched.order is not None else ()
            positions = []
        elif isinstance(event, PositionUpdate):
            contracts = (event.contract_id,)
            held_now = state.positions.get(event.contract_id)
            positions = [held_now] if held_now is not None else []
        else:
            contracts, positions = (), []
        verdicts: dict[int, LockVerdict] = {}
        for contract_id in contracts:
            in_contract = state.orders_by_contract.get(contract_id)
            if not in_contract:
                continue
            live = [
                order
                for order in in_contract.values()
                if not (pending and _being_cancelled(state.id, order, pending))
            ]
            verdicts.update(state.locks.orders_to_cancel(live, state.positions.get(contract_id)))
        if verdicts:
            for order in list(state.orders.values()):
                verdict = verdicts.get(order.id)
                if verdict is None:
                    continue
                lock, total, resize_to = verdict
                intent_for: Intent
                if resize_to is not None:
                    intent_for = ResizeOrder(state.id, order.id, resize_to)
                    if intent_for.key in pending:
                        continue
                    why = (
                        f"is resized to {resize_to}, what the position still needs "
                        f"(closing orders on its side total {total})"
                    )
                else:
                    intent_for = CancelOrder(state.id, order.id)
                    why = (
                        "would add exposure"
                        if total is None
                        else f"would reduce beyond the position (reducing orders total {total})"
                    )
                firings.append(
                    self._enforcement(
                        lock,
                        state,
                        f"order:{order.id}",
                        at,
                        f"{lock.scope} lockout by {lock.rule} ({lock.reason}): "
                        f"order {order.id} ({order.side} {order.remaining} {order.symbol}) " + why,
                        intent_for,
                    )
                )
        for position in positions:
            limit = state.locks.position_limit(position)
            if limit is None:
                continue
            lock, allowed = limit
            intent_out: Intent
            if allowed == 0:
                intent_out = PositionClosed(state.id, position.contract_id)
                text = "is new"
            else:
                intent_out = ReduceTo(
                    state.id,
                    "contract",
                    max_contracts=allowed,
                    contract_id=position.contract_id,
                )
                text = f"grew beyond {allowed}"
            closed_key = PositionClosed(state.id, position.contract_id).key
            if intent_out.key in pending or closed_key in pending:
                continue
            firings.append(
                self._enforcement(
                    lock,
                    state,
                    "position:" + position.contract_id,
                    at,
                    f"{lock.scope} lockout by {lock.rule} ({lock.reason}): "
                    f"position {position.contract_id} ({position.side} {position.size}) {text}",
                    intent_out,
                )
            )

    def _retire_own_stops(
        self, state: AccountState, event: Event, firings: list[Firing], everything: bool
    ) -> None:
        """Cancel simple-risk's own stops with no position left to protect (the trader closed
        it by hand, or it reversed): the daemon only ever places a stop to protect a position,
        and one left working would open a position when the price comes back to it. On a
        position event, its contract's; on a reconcile, every contract's."""
        if isinstance(event, PositionUpdate | OrderUpdate):
            contracts: Iterable[str] = (event.contract_id,)
        elif everything:
            contracts = list(state.orders_by_contract)
        else:
            return
        pending = self._intents.get(state.id, {})
        for contract_id in contracts:
            in_contract = state.orders_by_contract.get(contract_id)
            if not in_contract:
                continue
            position = state.positions.get(contract_id)
            for order in list(in_contract.values()):
                if not (order.own and order.is_stop and order.is_working):
                    continue
                if position is not None and position.long != order.buy:
                    continue  # it protects the position
                intent = CancelOrder(state.id, order.id)
                if intent.key in pending:
                    continue
                self._remember(state.id, (intent,))
                firings.append(
                    Firing(
                        rule_id=OWN_STOP_RULE,
                        account=state.id,
                        item=f"order:{order.id}",
                        at=event.at,
                        severity="warning",
                        message=(
                            f"simple-risk's stop {order.id} ({order.side} {order.remaining} "
                            f"{order.symbol}) has no position left to protect: it would open "
                            "one, so it is cancelled"
                        ),
                        values={},
                        intents=(intent,),
                        kind="own",
                    )
                )

    def _enforcement(
        self,
        lock: Lock,
        state: AccountState,
        item: str,
        at: datetime,
        message: str,
        intent: Intent,
    ) -> Firing:
        self._remember(state.id, (intent,))
        return Firing(
            rule_id=lock.rule,
            account=state.id,
            item=item,
            at=at,
            severity="warning",
            message=message,
            values={"lock.scope": lock.scope, "lock.symbol": lock.symbol, "lock.kind": lock.kind},
            intents=(intent,),
            kind="lockout",
        )

    def _run_while_locks(self, state: AccountState, env: dict[str, object]) -> None:
        """Drop the ``while:`` locks whose condition turned false (after every event)."""
        whiles = state.locks.whiles
        if not whiles:
            return
        for lock in whiles:
            expr = lock.while_expr
            if expr is None:  # ``whiles`` holds only locks with a condition
                continue
            for name in ITEM_FAMILIES:
                env[name] = None
            if lock.scope == "symbol" and lock.symbol is not None:
                env["symbol"] = state.symbol(lock.symbol)  # the locked symbol's facts
            product = state.symbols.product(lock.symbol) if lock.symbol is not None else None
            env["lock"] = LockFacts(lock, product)
            try:
                holds = bool(evaluate(expr, env))
            except Exception:  # fail safe: a lock whose condition cannot be read stays
                holds = True
            if not holds:
                state.locks.remove(lock)
            elif self._constant_condition(expr):
                state.locks.settle(lock)
        env["lock"] = None
        env["symbol"] = None
        self.unknown.seen.clear()

    def _constant_condition(self, expr: CompiledExpression) -> bool:
        """Whether a ``while:`` condition reads only the lock itself, params, lists and
        functions: its value then never changes (RULE-011's "the root stays in the list")."""
        known = self._constant.get(id(expr))
        if known is None:
            code = expr.code
            loaded = {
                instruction.argval
                for instruction in dis.get_instructions(code)
                if instruction.opname in ("LOAD_NAME", "LOAD_GLOBAL")
            }
            families = {name.partition(".")[0] for name in expr.names}
            constant = (
                families <= {"lock", "params"}
                and loaded & set(namespace.FAMILIES) <= {"lock", "params"}
                and not any(isinstance(const, CodeType) for const in code.co_consts)
            )
            known = self._constant[id(expr)] = (expr, constant)
        return known[1]

    def _enforce_new_locks(self, touched: Touched, event: Event, firings: list[Firing]) -> None:
        """Accounts locked by a deadline firing that this event did not otherwise touch."""
        done = {state.id for state in touched.accounts}
        for account in sorted(self._locked_now - done):
            state = self.store.accounts[account]
            if state.locks:
                self._enforce(state, Touched([state]), event, firings, True)
        self._locked_now.clear()

    def _recompute_lock_end(self) -> None:
        ends = [
            utc(end)
            for state in self.store.accounts.values()
            if state.locks
            for end in (state.locks.next_end(),)
            if end is not None
        ]
        self._lock_end = min(ends) if ends else None

    def _remember(self, account: int, intents: Iterable[Intent]) -> None:
        pending = self._intents.setdefault(account, {})
        for intent in intents:
            if not isinstance(intent, Alert):
                pending.setdefault(intent.key, intent)

    def _forget_met_intents(self, state: AccountState) -> None:
        pending = self._intents.get(state.id)
        if not pending:
            return
        for key in [k for k, intent in pending.items() if is_met(intent, state)]:
            del pending[key]


def _being_cancelled(account: int, order: Order, pending: Mapping[str, Intent]) -> bool:
    """Whether an unmet intent already asks for this order to go."""
    return CancelOrder.key_for(account, order.id) in pending or _covered_by_pending(
        order, pending.values()
    )


def _covered_by_pending(order: Order, pending: Iterable[Intent]) -> bool:
    for intent in pending:
        if isinstance(intent, NoWorkingOrders) and (
            (intent.symbol is None or intent.symbol == order.symbol)
            and (intent.side is None or intent.side == order.side)
            and (intent.contract_id is None or intent.contract_id == order.contract_id)
        ):
            return True
    return False
