"""Properties over random event streams: no exceptions, determinism, snapshot/restore
equivalence, exact P&L and window counts against brute force, lockouts never shortened."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from engine_builders import (
    ACCOUNT,
    ES,
    MNQ,
    T0,
    action,
    expr,
    lockout,
    rule,
    ruleset,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simple_risk.engine.calendar import TradingCalendar
from simple_risk.engine.engine import Engine, Firing
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractInfo,
    ContractLoaded,
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    OwnOrder,
    PositionType,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.facts.windows import DEFAULT_RETENTION

CONTRACTS = (MNQ, ES)
ACCOUNTS = (ACCOUNT, 8)

RULES = ruleset(
    rule(
        "daily-loss",
        "day.realized_pnl <= -params.limit",
        ["trade", "reconcile"],
        [action("flatten"), lockout(until_trading_day_end=True)],
        message="P&L {day.realized_pnl:.2f}",
    ),
    rule(
        "too-many",
        "account.open_contracts > 1",
        ["position", "order", "reconcile"],
        [action("reduce_to", contracts=1, scope="account")],
    ),
    rule(
        "per-symbol",
        "symbol.if_filled_max > 3",
        ["position", "order"],
        [
            action("reduce_to", contracts=3, scope="symbol"),
            lockout("symbol", duration=timedelta(minutes=5), kind="cooldown"),
        ],
        each="symbol",
    ),
    rule(
        "big-order",
        "order.if_filled_account_contracts > 2",
        ["order"],
        [action("cancel_order")],
    ),
    rule(
        "unrealized",
        "known(position.unrealized_pnl) and position.unrealized_pnl <= -50",
        ["quote", "position"],
        [action("close_position")],
        each="position",
    ),
    rule(
        "no-stop",
        "not position.protected",
        ["position", "order", "clock"],
        [action("close_position")],
        each="position",
        for_=timedelta(seconds=30),
    ),
    rule(
        "frequency",
        "trades.count(within=timedelta_60) > 3",
        ["trade"],
        [lockout(duration=timedelta(seconds=60), kind="cooldown")],
    ),
    rule(
        "order-loss",
        "known(trade.order_pnl) and trade.order_pnl <= -20",
        ["trade"],
        [lockout(duration=timedelta(minutes=15), kind="cooldown")],
    ),
    rule(
        "auth",
        "not account.can_trade",
        ["account", "reconcile"],
        [action("flatten"), lockout(while_expr=expr("not account.can_trade"))],
    ),
    rule(
        "outside",
        "account.open_contracts_raw > 0 and not session.open('rth')",
        ["position", "clock"],
        [action("flatten"), lockout(until_session_start="rth")],
        for_=timedelta(seconds=5),
    ),
    rule("fragile", "trade.pnl < 0", ["trade"]),  # raises on opening fills
    rule(
        "trail",
        "known(position.profit_ticks) and position.profit_ticks >= 4",
        ["quote"],
        [action("move_stop", to=expr("position.best_price"))],
        each="position",
    ),
    params={"limit": 100},
)
BASE = {"timedelta_60": timedelta(seconds=60)}


def _engine(rules: object = RULES) -> Engine:
    engine = Engine(RULES)
    engine._base_env.update(BASE)
    for env in engine._envs.values():
        env.update(BASE)
    return engine


def _restore(data: dict[str, object]) -> Engine:
    engine = Engine.restore(RULES, data)
    engine._base_env.update(BASE)
    for env in engine._envs.values():
        env.update(BASE)
    return engine


prices = st.sampled_from(["20990", "21000", "21002.5", "21010", "5990", "6000", "6010"])
money = st.sampled_from(["-60.10", "-20", "-5.55", "0", "12.5", "40"])
gaps = st.sampled_from([0, 0, 1, 2, 10, 31, 300, 3600, 8 * 3600])


@st.composite
def event_streams(draw: st.DrawFn, max_size: int = 40) -> list[Event]:
    steps = draw(
        st.lists(st.tuples(gaps, st.integers(0, 9), st.data()), min_size=10, max_size=max_size)
    )
    events: list[Event] = []
    t = T0
    for gap, kind, data in steps:
        t += timedelta(seconds=gap)
        account = data.draw(st.sampled_from(ACCOUNTS))
        contract = data.draw(st.sampled_from(CONTRACTS))
        if kind == 0:
            events.append(ClockTick(at=t))
        elif kind == 1:
            events.append(
                Quote(
                    at=t,
                    contract_id=contract,
                    last=data.draw(st.none() | prices.map(Decimal)),
                    bid=data.draw(st.none() | prices.map(Decimal)),
                    ask=data.draw(st.none() | prices.map(Decimal)),
                )
            )
        elif kind == 2:
            events.append(
                PositionUpdate(
                    at=t,
                    account_id=account,
                    contract_id=contract,
                    type=data.draw(st.sampled_from(list(PositionType))),
                    size=data.draw(st.integers(0, 4)),
                    average_price=Decimal(data.draw(prices)),
                )
            )
        elif kind == 4 and data.draw(st.booleans()):
            events.append(  # the daemon places (no id yet) or placed the "sr-1" order
                OwnOrder(
                    at=t,
                    account_id=account,
                    custom_tag="sr-1",
                    order_id=data.draw(st.none() | st.integers(1, 6)),
                    size=data.draw(st.none() | st.integers(1, 4)),
                )
            )
        elif kind in (3, 4):
            size = data.draw(st.integers(1, 4))
            events.append(
                OrderUpdate(
                    at=t,
                    account_id=account,
                    order_id=data.draw(st.integers(1, 6)),
                    contract_id=contract,
                    status=data.draw(st.sampled_from(list(OrderStatus))),
                    type=data.draw(st.sampled_from(list(OrderType))),
                    side=data.draw(st.sampled_from(list(OrderSide))),
                    size=size,
                    fill_volume=data.draw(st.integers(0, size)),
                    stop_price=data.draw(st.none() | prices.map(Decimal)),
                    custom_tag=data.draw(st.sampled_from([None, "sr-1", "user"])),
                )
            )
        elif kind in (5, 6):
            created = data.draw(st.sampled_from([None, -86_400, -5, 0]))
            events.append(
                TradeFill(
                    at=t,
                    account_id=account,
                    trade_id=data.draw(st.integers(1, 8)),
                    order_id=data.draw(st.integers(1, 4)),
                    contract_id=contract,
                    side=data.draw(st.sampled_from(list(OrderSide))),
                    size=data.draw(st.integers(1, 3)),
                    price=Decimal(data.draw(prices)),
                    pnl=data.draw(st.none() | money.map(Decimal)),
                    fees=Decimal(data.draw(st.sampled_from(["0", "0.37", "1.5"]))),
                    commissions=Decimal(data.draw(st.sampled_from(["0", "0.25"]))),
                    voided=data.draw(st.booleans()),
                    created_at=t + timedelta(seconds=created) if created is not None else None,
                )
            )
        elif kind == 7:
            events.append(
                AccountUpdate(
                    at=t,
                    account_id=account,
                    name="A",
                    balance=Decimal(data.draw(st.sampled_from(["49000", "50000", "50500"]))),
                    can_trade=data.draw(st.booleans()),
                )
            )
        elif kind == 8:
            root = contract.split(".")[3]
            events.append(
                ContractLoaded(
                    at=t,
                    contract=ContractInfo(
                        contract, f"F.US.{root}", root, root, Decimal("0.25"), Decimal("0.5"), 1
                    ),
                )
            )
        else:
            events.append(Reconciled(at=t, account_id=data.draw(st.sampled_from([None, account]))))
    return events


def _run(engine: Engine, events: list[Event]) -> list[Firing]:
    out: list[Firing] = []
    for event in events:
        out.extend(engine.apply(event))
    return out


@settings(max_examples=80)
@given(event_streams())
def test_engine_never_raises_and_is_deterministic(events: list[Event]) -> None:
    first = _run(_engine(), events)
    second = _run(_engine(), events)
    assert first == second


@settings(max_examples=80)
@given(event_streams(), st.data())
def test_snapshot_restore_at_any_cut_equals_the_uninterrupted_run(
    events: list[Event], data: st.DataObject
) -> None:
    whole = _engine()
    expected = _run(whole, events)
    cut = data.draw(st.integers(0, len(events)))
    first = _engine()
    before = _run(first, events[:cut])
    snapshot = json.loads(json.dumps(first.snapshot()))
    restored = _restore(snapshot)
    after = _run(restored, events[cut:])
    assert before + after == expected
    assert restored.snapshot() == whole.snapshot()
    assert restored.next_deadline() == whole.next_deadline()


@settings(max_examples=80)
@given(event_streams())
def test_no_lockout_end_ever_moves_earlier(events: list[Event]) -> None:
    engine = _engine()
    ends: dict[tuple[int, tuple[str, str, str]], datetime | None] = {}
    for event in events:
        engine.apply(event)
        for account in ACCOUNTS:
            for lock in engine.locks(account):
                key = (account, lock.key)
                if key in ends:
                    old = ends[key]
                    assert lock.ends_at is None or (old is not None and lock.ends_at >= old)
                ends[key] = lock.ends_at
        live = {(a, lock.key) for a in ACCOUNTS for lock in engine.locks(a)}
        for key in [k for k in ends if k not in live]:
            del ends[key]


@settings(max_examples=80)
@given(event_streams(max_size=60))
def test_day_pnl_and_windows_equal_brute_force(events: list[Event]) -> None:
    engine = _engine()
    calendar = TradingCalendar(RULES.calendar)
    latest: dict[tuple[int, int], TradeFill] = {}
    first_seen: dict[tuple[int, int], datetime] = {}
    #: account → (trading day, lowest and highest realized P&L seen that day)
    water: dict[int, tuple[date, Decimal, Decimal]] = {}

    def realized(account: int, day: date) -> Decimal:
        return sum(
            (
                (f.pnl or Decimal(0)) - f.fees - f.commissions
                for (a, _), f in latest.items()
                if a == account
                and not f.voided
                and calendar.trading_day(f.created_at or f.at) == day
            ),
            Decimal(0),
        )

    for event in events:
        today = calendar.trading_day(event.at)
        for account in ACCOUNTS:
            if account in water and water[account][0] != today:
                # the daily reset: the marks restart from the day's P&L at the boundary
                start = min(realized(account, today), Decimal(0))
                water[account] = (today, start, max(realized(account, today), Decimal(0)))
        engine.apply(event)
        if isinstance(event, TradeFill):
            key = (event.account_id, event.trade_id)
            latest[key] = event
            if key not in first_seen or event.at - first_seen[key] > DEFAULT_RETENTION:
                # a window places a fill at its exchange time when that is earlier
                placed = event.at if event.created_at is None else min(event.at, event.created_at)
                first_seen[key] = placed
        now = event.at
        today = calendar.trading_day(now)
        for account in ACCOUNTS:
            facts = engine.facts(account)
            if not facts:
                continue
            fills = [f for (a, _), f in latest.items() if a == account and not f.voided]
            todays = [f for f in fills if calendar.trading_day(f.created_at or f.at) == today]
            expected = sum(
                ((f.pnl or Decimal(0)) - f.fees - f.commissions for f in todays), Decimal(0)
            )
            day = facts["day"]
            assert day.realized_pnl == expected
            assert day.trade_count == len(todays)
            _, low, high = water.get(account, (today, Decimal(0), Decimal(0)))
            water[account] = (today, min(low, expected), max(high, expected))
            assert day.low_water_pnl == water[account][1]
            assert day.high_water_pnl == water[account][2]
            for within in (timedelta(seconds=60), timedelta(hours=1), timedelta(days=2)):
                count = sum(
                    1 for f in fills if now - within <= first_seen[(account, f.trade_id)] <= now
                )
                assert facts["trades"].count(within) == count


def test_fills_reconciled_after_a_mid_day_start_count_at_their_exchange_time() -> None:
    """A daemon that starts at 14:00 and reconciles the morning's fills from REST must not
    count them as fills of the last minute (that would lock a trader out for nothing)."""
    engine = _engine()
    start = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # 14:00 Chicago
    for n in range(5):
        engine.apply(
            TradeFill(
                at=start,
                account_id=ACCOUNTS[0],
                trade_id=3_000_000_000 + n,
                order_id=4_000_000_000 + n,
                contract_id=MNQ,
                side=OrderSide.BUY,
                size=1,
                price=Decimal("21000"),
                pnl=None,
                created_at=start - timedelta(hours=3, minutes=n),
            )
        )
    trades = engine.facts(ACCOUNTS[0])["trades"]
    assert trades.count(timedelta(seconds=60)) == 0
    assert trades.count(timedelta(hours=4)) == 5
