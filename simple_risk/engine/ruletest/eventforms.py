"""The compact event forms of a rule-test file (``{at: 0s, order: {...}}``) into domain events.

:class:`EventBuilder` is used by the file's loader (:mod:`~simple_risk.engine.ruletest.testfile`)
for each case: it turns each form into the events the engine would get from the adapters —
with contract metadata, order and trade ids, series of quotes — and reports a mistake in a
form through the loader, located at its line and column. Apart from the loader because it is
the other half of the format: what the events say, not how a file and its cases are laid out.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.yamlload import Path
from simple_risk.engine.events import (
    AccountUpdate,
    ClockTick,
    ContractInfo,
    Event,
    OrderSide,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionType,
    PositionUpdate,
    Quote,
    Reconciled,
    TradeFill,
)
from simple_risk.engine.ruletest.contracts import contract_info, known_names
from simple_risk.engine.ruletest.errors import RuleTestFileError

if TYPE_CHECKING:
    from simple_risk.engine.ruletest.testfile import _Loader

_T = TypeVar("_T")

_EVENT_KINDS = (
    "account",
    "order",
    "position",
    "fill",
    "quote",
    "quotes",
    "clock",
    "reconcile",
)
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_TYPES = {t.name.lower(): t for t in OrderType}
_STATUSES = {s.name.lower(): s for s in OrderStatus}
_POSITION_SIDES = {"long": PositionType.LONG, "short": PositionType.SHORT}
#: the most events one ``quotes:`` series or ``repeat:`` may make: a day of one-second quotes
#: is 86,400; more is a digit too many, which would keep the runner building events for ever
MOST_GENERATED = 100_000
_SERIES = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)(?:([+-][0-9]+(?:\.[0-9]+)?)x([0-9]+))?$")


class EventBuilder:
    """Turns the compact event forms into domain events, remembering contracts and ids."""

    def __init__(
        self,
        loader: _Loader,
        start: datetime,
        account: int,
        balance: Decimal,
        contracts: dict[str, ContractInfo],
    ) -> None:
        self.loader = loader
        self.start = start
        self.account = account
        self.balance = balance
        self.can_trade = True
        self.contracts = contracts
        self.next_trade_id = 5_000_000_001
        self.next_order_id = 4_000_000_001

    def contract(self, path: Path, raw: object) -> ContractInfo:
        if not isinstance(raw, str):
            raise RuleTestFileError(
                path, "`contract:` names a ticker (MNQ), a ProjectX root (EP) or an id"
            )
        try:
            info = contract_info(raw)
        except KeyError:
            hint = did_you_mean(raw, known_names()) or "known: " + ", ".join(known_names())
            raise RuleTestFileError(path, f"unknown contract {raw!r}", hint) from None
        self.contracts.setdefault(info.contract_id, info)
        return info

    def build(self, path: Path, raw: object) -> list[Event]:
        if not isinstance(raw, dict):
            raise RuleTestFileError(path, "an event is a mapping: {at: 5s, fill: {...}}")
        if "at" not in raw:
            raise RuleTestFileError(path, "an event needs `at:`")
        at = self.loader._time((*path, "at"), raw["at"], self.start)
        kinds = [k for k in raw if k != "at"]
        if len(kinds) == 1 and kinds[0] not in _EVENT_KINDS:
            hint = did_you_mean(str(kinds[0]), _EVENT_KINDS) or "one of: " + ", ".join(_EVENT_KINDS)
            raise RuleTestFileError((*path, kinds[0]), f"unknown event `{kinds[0]}`", hint)
        if len(kinds) != 1:
            hint = "one of: " + ", ".join(_EVENT_KINDS)
            raise RuleTestFileError(path, "an event has `at:` and exactly one kind", hint)
        kind = str(kinds[0])
        body = raw[kind]
        bpath: Path = (*path, kind)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise RuleTestFileError(bpath, f"`{kind}:` takes a mapping")
        fields = _Fields(self.loader, bpath, body)
        events = getattr(self, f"_{kind}")(at, fields)
        fields.finish()
        assert isinstance(events, list)
        return events

    def _account(self, at: datetime, f: _Fields) -> list[Event]:
        if "balance" in f.body:
            self.balance = f.money("balance")
        if "can_trade" in f.body:
            self.can_trade = f.boolean("can_trade")
        account = f.integer("id", self.account)
        return [
            AccountUpdate(
                at=at,
                account_id=account,
                name=f"TEST-{account}",
                balance=self.balance,
                can_trade=self.can_trade,
            )
        ]

    def _order(self, at: datetime, f: _Fields) -> list[Event]:
        info = self.contract((*f.path, "contract"), f.required("contract"))
        order_id = f.optional_int("id")
        if order_id is None:
            order_id = self.next_order_id
            self.next_order_id += 1
        # the gateway's creation time; earlier than `at` for an order heard of late (a REST
        # copy after the hub missed it)
        exchange_raw = f.optional_str("exchange_at")
        created = at
        if exchange_raw is not None:
            created = self.loader._time((*f.path, "exchange_at"), exchange_raw, self.start)
        return [
            OrderUpdate(
                at=at,
                account_id=f.integer("account", self.account),
                order_id=order_id,
                contract_id=info.contract_id,
                status=f.choice("status", _STATUSES, "open"),
                type=f.choice("type", _TYPES, "limit"),
                side=f.choice("side", _SIDES, None),
                size=f.size("size", 1),
                fill_volume=f.integer("fill_volume", 0),
                limit_price=f.optional_money("limit_price"),
                stop_price=f.optional_money("stop_price"),
                filled_price=f.optional_money("filled_price"),
                trail_distance=f.optional_int("trail_distance"),
                custom_tag=f.optional_str("tag"),
                symbol_id=info.symbol_id,
                created_at=created,
                updated_at=at,
                parent_order_id=f.optional_int("parent"),
                linked_order_id=f.optional_int("linked"),
            )
        ]

    def _position(self, at: datetime, f: _Fields) -> list[Event]:
        info = self.contract((*f.path, "contract"), f.required("contract"))
        size = f.size("size", 0)
        side = f.choice("side", _POSITION_SIDES, "long" if size == 0 else None)
        return [
            PositionUpdate(
                at=at,
                account_id=f.integer("account", self.account),
                contract_id=info.contract_id,
                type=side,
                size=size,
                average_price=f.money("avg_price") if size else f.money("avg_price", Decimal(0)),
                created_at=at,
            )
        ]

    def _fill(self, at: datetime, f: _Fields) -> list[Event]:
        """One fill, or ``repeat: N`` of them ``every: D`` apart for windows: fresh fill ids,
        and order ids counting up from ``order`` (each a separate closed order)."""
        info = self.contract((*f.path, "contract"), f.required("contract"))
        repeat = f.integer("repeat", 1)
        if repeat < 1:
            raise RuleTestFileError((*f.path, "repeat"), "`repeat:` is at least 1")
        if repeat > MOST_GENERATED:
            raise RuleTestFileError(
                (*f.path, "repeat"),
                f"`repeat:` {repeat} fills: at most {MOST_GENERATED} in one event",
                "a digit too many? split it into several events",
            )
        every = timedelta(0)
        if repeat > 1:
            every = self.loader._duration((*f.path, "every"), f.required("every"))
        trade_id = f.optional_int("id")
        if trade_id is not None and repeat > 1:
            raise RuleTestFileError((*f.path, "id"), "a repeated fill gets fresh ids; drop `id:`")
        fields = {
            "account_id": f.integer("account", self.account),
            "order_id": f.integer("order", 0),
            "contract_id": info.contract_id,
            "side": f.choice("side", _SIDES, None),
            "size": f.size("size", 1),
            "price": f.money("price"),
            "pnl": f.optional_money("pnl"),
            "fees": f.money("fees", Decimal(0)),
            "commissions": f.money("commissions", Decimal(0)),
            "voided": f.boolean("voided", False),
        }
        # the exchange's timestamp; differs from `at` for fills reconciled from REST later
        exchange_raw = f.optional_str("exchange_at")
        exchange_at = at
        if exchange_raw is not None:
            exchange_at = self.loader._time((*f.path, "exchange_at"), exchange_raw, self.start)
        out: list[Event] = []
        first_order = fields["order_id"]
        assert isinstance(first_order, int)
        for index in range(repeat):
            if trade_id is None or index > 0:
                trade_id = self.next_trade_id
                self.next_trade_id += 1
            when = at + every * index
            # each repetition is a fill of its own order, so per-order P&L never sums them
            fields["order_id"] = first_order + index
            created = exchange_at + every * index
            out.append(TradeFill(at=when, trade_id=trade_id, created_at=created, **fields))  # type: ignore[arg-type]
        return out

    def _quote(self, at: datetime, f: _Fields) -> list[Event]:
        info = self.contract((*f.path, "contract"), f.required("contract"))
        return [
            Quote(
                at=at,
                contract_id=info.contract_id,
                last=f.optional_money("last"),
                bid=f.optional_money("bid"),
                ask=f.optional_money("ask"),
                timestamp=at,
            )
        ]

    def _quotes(self, at: datetime, f: _Fields) -> list[Event]:
        """A quote series: ``last: "21000-0.25x8"`` is 21000, 20999.75, … (nine quotes)."""
        info = self.contract((*f.path, "contract"), f.required("contract"))
        every = self.loader._duration((*f.path, "every"), f.required("every"))
        series = {name: f.series(name) for name in ("last", "bid", "ask") if name in f.body}
        if not series:
            raise RuleTestFileError(f.path, "`quotes:` needs a `last`, `bid` or `ask` series")
        lengths = {len(values) for values in series.values()}
        if len(lengths) != 1:
            raise RuleTestFileError(f.path, "the last/bid/ask series must have the same length")
        out: list[Event] = []
        for index in range(lengths.pop()):
            when = at + every * index
            prices = {name: values[index] for name, values in series.items()}
            out.append(
                Quote(
                    at=when,
                    contract_id=info.contract_id,
                    last=prices.get("last"),
                    bid=prices.get("bid"),
                    ask=prices.get("ask"),
                    timestamp=when,
                )
            )
        return out

    def _clock(self, at: datetime, f: _Fields) -> list[Event]:
        return [ClockTick(at=at)]

    def _reconcile(self, at: datetime, f: _Fields) -> list[Event]:
        return [Reconciled(at=at, account_id=f.integer("account", self.account))]


class _Fields:
    """Typed access to one event body; unknown keys are reported by :meth:`finish`."""

    def __init__(self, loader: _Loader, path: Path, body: dict[object, object]) -> None:
        self.loader = loader
        self.path = path
        self.body = body
        self.used: set[str] = set()

    def _get(self, name: str) -> object:
        self.used.add(name)
        return self.body.get(name)

    def required(self, name: str) -> object:
        value = self._get(name)
        if value is None:
            raise RuleTestFileError(self.path, f"missing `{name}:`")
        return value

    def optional_int(self, name: str) -> int | None:
        value = self._get(name)
        return None if value is None else self.loader._int((*self.path, name), value)

    def integer(self, name: str, default: int) -> int:
        value = self.optional_int(name)
        return default if value is None else value

    def required_int(self, name: str) -> int:
        value = self.optional_int(name)
        if value is None:
            raise RuleTestFileError(self.path, f"missing `{name}:`")
        return value

    def size(self, name: str, minimum: int) -> int:
        """A count of contracts: never negative (the side says which way), and at least 1
        for an order or a fill (a position of 0 is flat)."""
        value = self.required_int(name)
        if value < minimum:
            hint = "0 is flat; the side says long or short" if minimum == 0 else None
            raise RuleTestFileError(
                (*self.path, name), f"`{name}:` is {minimum} or more, got {value}", hint
            )
        return value

    def money(self, name: str, default: Decimal | None = None) -> Decimal:
        value = self._get(name)
        if value is None:
            if default is None:
                raise RuleTestFileError(self.path, f"missing `{name}:`")
            return default
        return self.loader._money((*self.path, name), value)

    def optional_money(self, name: str) -> Decimal | None:
        value = self._get(name)
        return None if value is None else self.loader._money((*self.path, name), value)

    def optional_str(self, name: str) -> str | None:
        value = self._get(name)
        return None if value is None else str(value)

    def boolean(self, name: str, default: bool | None = None) -> bool:
        value = self._get(name)
        if value is None and default is not None:
            return default
        if not isinstance(value, bool):
            raise RuleTestFileError((*self.path, name), f"`{name}:` is true or false")
        return value

    def choice(self, name: str, options: dict[str, _T], default: str | None) -> _T:
        value = self._get(name)
        if value is None:
            value = default
        if value is None:
            raise RuleTestFileError(
                self.path, f"missing `{name}:`", "one of: " + ", ".join(options)
            )
        if value not in options:
            hint = did_you_mean(str(value), options) or "one of: " + ", ".join(options)
            raise RuleTestFileError((*self.path, name), f"unknown {name} {value!r}", hint)
        return options[str(value)]

    def series(self, name: str) -> list[Decimal]:
        """A list of prices, or the compact ``"a+bxn"`` / ``"a-bxn"`` form (n+1 values),
        several segments separated by spaces (``"21000+1x3 21010"``)."""
        raw = self._get(name)
        path = (*self.path, name)
        if isinstance(raw, list):
            return [self.loader._money((*path, i), v) for i, v in enumerate(raw)]
        values: list[Decimal] = []
        for segment in str(raw).split():
            match = _SERIES.match(segment)
            if match is None:
                raise RuleTestFileError(
                    path,
                    f"not a price series segment: {segment!r}",
                    'write "21000-0.25x8" or a list',
                )
            first = Decimal(match.group(1))
            step = Decimal(match.group(2) or 0)
            count = int(match.group(3) or 0)
            if len(values) + count + 1 > MOST_GENERATED:
                raise RuleTestFileError(
                    path,
                    f"a series of {len(values) + count + 1} prices: at most {MOST_GENERATED}",
                    "a digit too many? a day of one-second quotes is 86400",
                )
            values.extend(first + step * i for i in range(count + 1))
        return values

    def finish(self) -> None:
        for key in self.body:
            if key not in self.used:
                hint = did_you_mean(str(key), sorted(self.used)) or "known: " + ", ".join(
                    sorted(self.used)
                )
                mark = self.loader.doc.key_at((*self.path, key))
                self.loader.out.problems.append(
                    Problem(
                        self.loader.doc.file,
                        mark.line,
                        mark.column,
                        f"unknown field `{key}`",
                        "rule-test",
                        hint=hint,
                    )
                )


__all__ = ["EventBuilder"]
