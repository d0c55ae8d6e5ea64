"""Write ``2026-08-19-mnq-es.jsonl``: one live-shaped TopstepX morning, as ``--record`` would.

    python examples/recordings/make_session.py        # rewrites the file next to this script

The payloads follow what the live gateway sends (docs/replay.md lists the shapes): user-hub
entities wrapped as ``{"action", "data"}`` with null fields left out, hub timestamps with 7
fractional digits and REST ones trimmed; a bracket (Auto-OCO) family announced together before
its entry fills — the -SL/-TP children in status 8 without a price, given prices and status 1
about 20 ms after the fill, one-cancels-other; a flat position as action 2, type 0, size 0 with
``contractDisplayName``; hub fills with ``commissions``, their REST ``Trade/search`` copies
without; quote deltas without ``lastPrice``; market trades as arrays.

The story (Wednesday 19 August 2026, Chicago time, account 18234567 on a 50K combine):

* 08:25 the daemon starts: contracts, open positions and orders, then a full reconcile;
* 08:41 a 2-lot MNQ bracket (stop 40 ticks, target 80) fills at 23410.25; 09:05 the target
  fills (+80.00), the stop is cancelled, the position goes flat;
* 09:30 a 3-lot ES bracket (stop 16 ticks, target 40) fills at 6450.25; ES falls, the open
  loss passes 300; 09:52 the stop fills at 6446.25 (-600.00), the target is cancelled: the
  day's net realized P&L is below -500;
* 09:53 the daemon reconciles (REST copies of the four fills, without commissions).

Everything is deterministic: run it twice, get the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from simple_risk.adapters.topstepx.exactjson import dumps_exact

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "2026-08-19-mnq-es.jsonl"

ACCOUNT = 18234567
ACCOUNT_NAME = "50KTC-V2-18234567-1"
MNQ = "CON.F.US.MNQ.U26"
ES = "CON.F.US.EP.U26"
CHICAGO_OFFSET = timedelta(hours=-5)  # CDT in August

CONTRACTS = [
    {
        "id": MNQ,
        "name": "MNQU6",
        "description": "Micro E-mini Nasdaq-100: September 2026",
        "tickSize": Decimal("0.25"),
        "tickValue": Decimal("0.5"),
        "activeContract": True,
        "symbolId": "F.US.MNQ",
    },
    {
        "id": ES,
        "name": "ESU6",
        "description": "E-mini S&P 500: September 2026",
        "tickSize": Decimal("0.25"),
        "tickValue": Decimal("12.5"),
        "activeContract": True,
        "symbolId": "F.US.EP",
    },
    {
        "id": "CON.F.US.MES.U26",
        "name": "MESU6",
        "description": "Micro E-mini S&P 500: September 2026",
        "tickSize": Decimal("0.25"),
        "tickValue": Decimal("1.25"),
        "activeContract": True,
        "symbolId": "F.US.MES",
    },
    {
        "id": "CON.F.US.CLE.V26",
        "name": "CLV6",
        "description": "Crude Light (Globex): October 2026",
        "tickSize": Decimal("0.01"),
        "tickValue": Decimal("10"),
        "activeContract": True,
        "symbolId": "F.US.CLE",
    },
]


def chicago(hhmmss: str, ms: int = 0) -> datetime:
    """A wall time on the recorded day in Chicago, as an aware UTC datetime."""
    hour, minute, second = (int(part) for part in hhmmss.split(":"))
    local = datetime(2026, 8, 19, hour, minute, second, ms * 1000)
    return (local - CHICAGO_OFFSET).replace(tzinfo=UTC)


def hub_time(at: datetime, extra: int = 0) -> str:
    """The hub's 7-digit fraction (``…25.3938333+00:00``)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}{extra % 10}+00:00"


def rest_time(at: datetime) -> str:
    """REST's trimmed fraction (``…07.965787+00:00``, ``…02.15673+00:00``)."""
    fraction = f"{at.microsecond:06d}".rstrip("0") or "0"
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "+00:00"


class Session:
    """Collects the recorded lines in the order a daemon would have written them."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.balance = Decimal("50000.00")

    def rest(self, at: datetime, endpoint: str, request: dict[str, Any], **body: Any) -> None:
        response = {"success": True, "errorCode": 0, "errorMessage": None, **body}
        self.lines.append(
            {
                "at": at.isoformat(),
                "kind": "rest",
                "endpoint": endpoint,
                "request": request,
                "response": response,
            }
        )

    def hub(self, at: datetime, hub: str, target: str, arguments: list[Any]) -> None:
        self.lines.append(
            {
                "at": at.isoformat(),
                "kind": "hub",
                "hub": hub,
                "target": target,
                "arguments": arguments,
            }
        )

    def user(self, at: datetime, target: str, action: int, data: dict[str, Any]) -> None:
        self.hub(at, "user", target, [{"action": action, "data": data}])

    def account(self, at: datetime, delta: Decimal = Decimal(0)) -> None:
        self.balance += delta
        self.user(at, "GatewayUserAccount", 1, self.account_entity())

    def account_entity(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT,
            "name": ACCOUNT_NAME,
            "balance": self.balance,
            "canTrade": True,
            "isVisible": True,
            "simulated": True,
        }

    def quote(self, at: datetime, contract: str, symbol: str, bid: str, ask: str) -> None:
        data = {
            "symbol": symbol,
            "contract": contract,
            "bestBid": Decimal(bid),
            "bestAsk": Decimal(ask),
            "lastUpdated": hub_time(at - timedelta(milliseconds=3), 1),
            "timestamp": hub_time(at - timedelta(milliseconds=3), 1),
        }
        self.hub(at, "market", "GatewayQuote", [contract, data])

    def prints(
        self, at: datetime, contract: str, symbol: str, price: str, volume: int, aggressor: int = 0
    ) -> None:
        """Market trades (an array even for one print); ``aggressor`` 0 buy, 1 sell."""
        trade = {
            "symbolId": symbol,
            "contractId": contract,
            "price": Decimal(price),
            "timestamp": hub_time(at - timedelta(milliseconds=2), 7),
            "type": aggressor,
            "volume": volume,
        }
        self.hub(at, "market", "GatewayTrade", [contract, [trade]])


def order(
    order_id: int,
    contract: str,
    symbol: str,
    *,
    created: datetime,
    updated: datetime,
    status: int,
    kind: int,
    side: int,
    size: int,
    tag: str,
    fill_volume: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """An order entity as the hub sends it: null fields are simply absent."""
    entity = {
        "id": order_id,
        "accountId": ACCOUNT,
        "contractId": contract,
        "symbolId": symbol,
        "creationTimestamp": hub_time(created, 3),
        "updateTimestamp": hub_time(updated, 5),
        "status": status,
        "type": kind,
        "side": side,
        "size": size,
        "fillVolume": fill_volume,
        "customTag": tag,
    }
    entity.update({key: value for key, value in extra.items() if value is not None})
    return entity


def fill(
    trade_id: int,
    order_id: int,
    contract: str,
    *,
    at: datetime,
    price: str,
    side: int,
    size: int,
    pnl: Decimal | None,
    fees: Decimal,
    commissions: Decimal | None,
    hub: bool,
) -> dict[str, Any]:
    """A half-turn fill: the hub copy has commissions and omits a null P&L; the REST copy
    prints the null, trims the time, and has no commissions field."""
    entity: dict[str, Any] = {
        "id": trade_id,
        "accountId": ACCOUNT,
        "contractId": contract,
        "creationTimestamp": hub_time(at, 3) if hub else rest_time(at),
        "price": Decimal(price),
        "profitAndLoss": pnl,
        "fees": fees,
        "side": side,
        "size": size,
        "voided": False,
        "orderId": order_id,
    }
    if hub:
        entity["commissions"] = commissions
        if pnl is None:
            del entity["profitAndLoss"]
    return entity


def position(
    position_id: int, contract: str, display: str, opened: datetime, kind: int, size: int, avg: str
) -> dict[str, Any]:
    return {
        "id": position_id,
        "accountId": ACCOUNT,
        "contractId": contract,
        "contractDisplayName": display,
        "creationTimestamp": hub_time(opened, 9),
        "type": kind,
        "size": size,
        "averagePrice": Decimal(avg),
    }


def reconcile(session: Session, at: datetime, trades: list[dict[str, Any]]) -> None:
    """A full reconcile as the daemon runs it: accounts, positions, orders, the day's fills."""
    step = timedelta(milliseconds=41)
    session.rest(
        at, "Account/search", {"onlyActiveAccounts": False}, accounts=[session.account_entity()]
    )
    session.rest(at + step, "Position/searchOpen", {"accountId": ACCOUNT}, positions=[])
    session.rest(at + 2 * step, "Order/searchOpen", {"accountId": ACCOUNT}, orders=[])
    since = chicago("17:00:00") - timedelta(days=1)
    session.rest(
        at + 3 * step,
        "Trade/search",
        {"accountId": ACCOUNT, "startTimestamp": since.isoformat()},
        trades=trades,
    )


def bracket(
    session: Session,
    *,
    contract: str,
    symbol: str,
    display: str,
    ids: tuple[int, int, int, int, int],
    tag: str,
    size: int,
    placed: datetime,
    price: str,
    stop: str,
    target: str,
    stop_ticks: int,
    target_ticks: int,
    fees: Decimal,
    commissions: Decimal,
) -> tuple[dict[str, Any], Decimal]:
    """A market entry with an Auto-OCO bracket, from the place to the children going live.

    Returns the entry fill (for the later REST copy) and what it cost."""
    entry_id, stop_id, target_id, trade_id, position_id = ids
    session.user(
        placed,
        "GatewayUserOrder",
        1,
        order(
            entry_id,
            contract,
            symbol,
            created=placed,
            updated=placed,
            size=size,
            status=6,
            kind=2,
            side=0,
            tag=tag,
        ),
    )
    session.user(
        placed + timedelta(milliseconds=1),
        "GatewayUserOrder",
        1,
        order(
            stop_id,
            contract,
            symbol,
            status=8,
            kind=4,
            side=1,
            tag=f"{tag}-SL",
            parentOrderId=entry_id,
            trailDistance=-stop_ticks,
            created=placed,
            updated=placed,
            size=size,
        ),
    )
    session.user(
        placed + timedelta(milliseconds=1),
        "GatewayUserOrder",
        1,
        order(
            target_id,
            contract,
            symbol,
            status=8,
            kind=1,
            side=1,
            tag=f"{tag}-TP",
            parentOrderId=entry_id,
            linkedOrderId=stop_id,
            trailDistance=target_ticks,
            created=placed,
            updated=placed,
            size=size,
        ),
    )
    filled = placed + timedelta(milliseconds=212)
    entry_fill = fill(
        trade_id,
        entry_id,
        contract,
        at=filled,
        price=price,
        side=0,
        size=size,
        pnl=None,
        fees=fees,
        commissions=commissions,
        hub=True,
    )
    session.user(filled + timedelta(milliseconds=4), "GatewayUserTrade", 0, entry_fill)
    session.user(
        filled + timedelta(milliseconds=6),
        "GatewayUserOrder",
        1,
        order(
            entry_id,
            contract,
            symbol,
            created=placed,
            updated=filled,
            status=2,
            kind=2,
            side=0,
            size=size,
            tag=tag,
            fill_volume=size,
            filledPrice=Decimal(price),
        ),
    )
    session.user(
        filled + timedelta(milliseconds=8),
        "GatewayUserPosition",
        1,
        position(position_id, contract, display, filled, 1, size, price),
    )
    live = filled + timedelta(milliseconds=27)  # the children get prices ~20 ms later
    session.user(
        live,
        "GatewayUserOrder",
        1,
        order(
            stop_id,
            contract,
            symbol,
            created=placed,
            updated=live,
            status=1,
            kind=4,
            side=1,
            size=size,
            tag=f"{tag}-SL",
            parentOrderId=entry_id,
            trailDistance=-stop_ticks,
            stopPrice=Decimal(stop),
        ),
    )
    session.user(
        live + timedelta(milliseconds=1),
        "GatewayUserOrder",
        1,
        order(
            target_id,
            contract,
            symbol,
            created=placed,
            updated=live,
            status=1,
            kind=1,
            side=1,
            size=size,
            tag=f"{tag}-TP",
            parentOrderId=entry_id,
            linkedOrderId=stop_id,
            trailDistance=target_ticks,
            limitPrice=Decimal(target),
        ),
    )
    cost = fees + commissions
    session.account(live + timedelta(milliseconds=30), -cost)
    return entry_fill, cost


def exit_leg(
    session: Session,
    *,
    contract: str,
    symbol: str,
    display: str,
    tag: str,
    size: int,
    placed: datetime,
    entry_id: int,
    filled_id: int,
    filled_kind: int,
    filled_suffix: str,
    other_id: int,
    other_kind: int,
    other_suffix: str,
    trade_id: int,
    position_id: int,
    opened: datetime,
    avg: str,
    at: datetime,
    price: str,
    pnl: Decimal,
    fees: Decimal,
    commissions: Decimal,
    prices: dict[str, Decimal],
) -> dict[str, Any]:
    """One child fills, the other is cancelled (one-cancels-other), the position goes flat.

    ``prices``: the filled child's price field, and ``other``: the cancelled one's price."""
    prices_of: dict[str, Any] = dict(prices)
    other_at = prices_of.pop("other")
    exit_fill = fill(
        trade_id,
        filled_id,
        contract,
        at=at,
        price=price,
        side=1,
        size=size,
        pnl=pnl,
        fees=fees,
        commissions=commissions,
        hub=True,
    )
    session.user(at + timedelta(milliseconds=3), "GatewayUserTrade", 0, exit_fill)
    links: dict[str, Any] = {"parentOrderId": entry_id}
    if filled_suffix == "TP":
        links["linkedOrderId"] = other_id
    session.user(
        at + timedelta(milliseconds=5),
        "GatewayUserOrder",
        1,
        order(
            filled_id,
            contract,
            symbol,
            created=placed,
            updated=at,
            status=2,
            kind=filled_kind,
            side=1,
            size=size,
            tag=f"{tag}-{filled_suffix}",
            fill_volume=size,
            filledPrice=Decimal(price),
            **links,
            **prices_of,
        ),
    )
    other_links: dict[str, Any] = {"parentOrderId": entry_id}
    if other_suffix == "TP":
        other_links["linkedOrderId"] = filled_id
    other_price: dict[str, Any] = {"limitPrice" if other_kind == 1 else "stopPrice": other_at}
    session.user(
        at + timedelta(milliseconds=9),
        "GatewayUserOrder",
        1,
        order(
            other_id,
            contract,
            symbol,
            created=placed,
            updated=at + timedelta(milliseconds=7),
            status=3,
            kind=other_kind,
            side=1,
            size=size,
            tag=f"{tag}-{other_suffix}",
            **other_links,
            **other_price,
        ),
    )
    session.user(
        at + timedelta(milliseconds=11),
        "GatewayUserPosition",
        2,
        position(position_id, contract, display, opened, 0, 0, avg),
    )
    session.account(at + timedelta(milliseconds=40), pnl - fees - commissions)
    return exit_fill


def build() -> Session:
    session = Session()
    start = chicago("08:25:00", 112)
    session.rest(start, "Contract/available", {"live": False}, contracts=CONTRACTS)
    session.rest(
        start + timedelta(milliseconds=95),
        "Position/searchOpen",
        {"accountId": ACCOUNT},
        positions=[],
    )
    session.rest(
        start + timedelta(milliseconds=180), "Order/searchOpen", {"accountId": ACCOUNT}, orders=[]
    )
    reconcile(session, chicago("08:25:01", 240), trades=[])

    # -- MNQ: a 2-lot bracket that reaches its target ----------------------------------------
    mnq_fees, mnq_commissions = Decimal("0.72"), Decimal("0.50")
    mnq_placed = chicago("08:41:07", 512)
    mnq_entry, _ = bracket(
        session,
        contract=MNQ,
        symbol="F.US.MNQ",
        display="MNQU26",
        ids=(2210000101, 2210000102, 2210000103, 1630000201, 825245547),
        tag="ui-7c1e2",
        size=2,
        placed=mnq_placed,
        price="23410.25",
        stop="23400.25",
        target="23430.25",
        stop_ticks=40,
        target_ticks=80,
        fees=mnq_fees,
        commissions=mnq_commissions,
    )
    session.prints(mnq_placed + timedelta(milliseconds=215), MNQ, "F.US.MNQ", "23410.25", 2)
    # the daemon subscribes to a contract's quotes when the first order in it appears
    session.quote(mnq_placed + timedelta(milliseconds=290), MNQ, "F.US.MNQ", "23410.00", "23410.25")
    path = ["23412.00", "23416.50", "23421.75", "23425.25", "23428.00", "23430.00"]
    for minute, bid in enumerate(path):
        at = chicago("08:44:00", 250) + timedelta(minutes=3 * minute)
        session.quote(at, MNQ, "F.US.MNQ", bid, str(Decimal(bid) + Decimal("0.25")))
    mnq_exit_at = chicago("09:05:14", 903)
    session.prints(mnq_exit_at - timedelta(milliseconds=1), MNQ, "F.US.MNQ", "23430.25", 5)
    mnq_exit = exit_leg(
        session,
        contract=MNQ,
        symbol="F.US.MNQ",
        display="MNQU26",
        tag="ui-7c1e2",
        size=2,
        placed=mnq_placed,
        entry_id=2210000101,
        filled_id=2210000103,
        filled_kind=1,
        filled_suffix="TP",
        other_id=2210000102,
        other_kind=4,
        other_suffix="SL",
        trade_id=1630000202,
        position_id=825245547,
        opened=mnq_placed + timedelta(milliseconds=212),
        avg="23410.25",
        at=mnq_exit_at,
        price="23430.25",
        pnl=Decimal("80.00"),
        fees=mnq_fees,
        commissions=mnq_commissions,
        prices={"limitPrice": Decimal("23430.25"), "other": Decimal("23400.25")},
    )

    # -- ES: a 3-lot bracket stopped out --------------------------------------------------------
    es_fees, es_commissions = Decimal("4.20"), Decimal("3.00")
    es_placed = chicago("09:30:02", 156)
    es_entry, _ = bracket(
        session,
        contract=ES,
        symbol="F.US.EP",
        display="ESU26",
        ids=(2210000417, 2210000418, 2210000419, 1630000655, 825251102),
        tag="ui-a93f0",
        size=3,
        placed=es_placed,
        price="6450.25",
        stop="6446.25",
        target="6460.25",
        stop_ticks=16,
        target_ticks=40,
        fees=es_fees,
        commissions=es_commissions,
    )
    session.prints(es_placed + timedelta(milliseconds=214), ES, "F.US.EP", "6450.25", 3)
    session.quote(es_placed + timedelta(milliseconds=301), ES, "F.US.EP", "6450.00", "6450.25")
    for index, bid in enumerate(["6450.50", "6449.75", "6448.75", "6448.00", "6447.25", "6446.50"]):
        at = chicago(f"09:{34 + 3 * index}:10", 640)
        session.quote(at, ES, "F.US.EP", bid, str(Decimal(bid) + Decimal("0.25")))
    session.hub(
        chicago("09:51:00", 5),
        "market",
        "GatewayDepth",
        [
            ES,
            {
                "timestamp": hub_time(chicago("09:51:00", 2), 4),
                "type": 4,
                "price": Decimal("6446.50"),
                "volume": 41,
                "currentVolume": 3,
            },
        ],
    )
    es_exit_at = chicago("09:52:31", 77)
    session.prints(es_exit_at - timedelta(milliseconds=1), ES, "F.US.EP", "6446.25", 12, 1)
    es_exit = exit_leg(
        session,
        contract=ES,
        symbol="F.US.EP",
        display="ESU26",
        tag="ui-a93f0",
        size=3,
        placed=es_placed,
        entry_id=2210000417,
        filled_id=2210000418,
        filled_kind=4,
        filled_suffix="SL",
        other_id=2210000419,
        other_kind=1,
        other_suffix="TP",
        trade_id=1630000656,
        position_id=825251102,
        opened=es_placed + timedelta(milliseconds=212),
        avg="6450.25",
        at=es_exit_at,
        price="6446.25",
        pnl=Decimal("-600.00"),
        fees=es_fees,
        commissions=es_commissions,
        prices={"stopPrice": Decimal("6446.25"), "other": Decimal("6460.25")},
    )
    session.quote(chicago("09:52:31", 300), ES, "F.US.EP", "6446.00", "6446.25")

    # -- the reconcile after the stop-out: REST copies of the fills, without commissions -------
    copies = []
    for hub_fill in (mnq_entry, mnq_exit, es_entry, es_exit):
        at = datetime.fromisoformat(hub_fill["creationTimestamp"][:26] + "+00:00")
        copies.append(
            fill(
                hub_fill["id"],
                hub_fill["orderId"],
                hub_fill["contractId"],
                at=at,
                price=str(hub_fill["price"]),
                side=hub_fill["side"],
                size=hub_fill["size"],
                pnl=hub_fill.get("profitAndLoss"),
                fees=hub_fill["fees"],
                commissions=None,
                hub=False,
            )
        )
    reconcile(session, chicago("09:53:01", 530), trades=copies)
    return session


def compact(value: object) -> object:
    """Numbers as the hub prints them: ``6446.5``, ``80``, not ``6446.50``, ``80.00``."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, dict):
        return {key: compact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compact(item) for item in value]
    return value


def lines() -> Iterator[str]:
    """One JSON line per message, numbers with their exact decimal digits."""
    for entry in build().lines:
        yield dumps_exact(compact(entry))


def main() -> None:
    OUTPUT.write_text("".join(line + "\n" for line in lines()), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
