"""Rule test files: loading and validating them into cases the runner can play.

Read by ``simple-risk rules test`` (:mod:`simple_risk.engine.ruletest.runner`). The format is
documented with an example in ``docs/rule-tests.md``; in short, a file names a ruleset, optional
param overrides and a start time, and lists cases, each a list of timed input events and a list
of expectations at given times — ``promtool test rules`` for risk rules.

Files go through the same strict YAML loader as rulesets (exact numbers, no YAML 1.1 booleans,
duplicate keys are errors) and every mistake comes back as a located
:class:`~simple_risk.engine.dsl.problems.Problem` (``file:line:col: message (hint)``), all of
them at once, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path as FsPath
from typing import TypeVar, cast

from simple_risk.engine.dsl.durations import DURATION_HINT, parse_duration
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.yamlload import Document, Path, load_document
from simple_risk.engine.events import (
    ContractInfo,
    Event,
)
from simple_risk.engine.ruletest.errors import RuleTestFileError
from simple_risk.engine.ruletest.eventforms import EventBuilder

_T = TypeVar("_T")

DEFAULT_ACCOUNT = 7001
DEFAULT_BALANCE = Decimal(50000)

_TOP_KEYS = (
    "ruleset",
    "params",
    "enable",
    "start",
    "account",
    "balance",
    "tick",
    "unknown_after",
    "tests",
)
_CASE_KEYS = (
    "name",
    "params",
    "enable",
    "start",
    "account",
    "balance",
    "tick",
    "unknown_after",
    "events",
    "expect",
)
_EXPECT_KEYS = ("at", "fired", "not_fired", "intents", "pending", "lockouts", "locked")
_LOCK_KEYS = ("scope", "symbol", "rule", "until", "while")


@dataclass(frozen=True, slots=True)
class LockExpectation:
    """One expected active lockout; fields left None are not compared."""

    scope: str | None = None
    symbol: str | None = None
    rule: str | None = None
    until: datetime | None = None
    while_: bool | None = None
    line: int = 0

    def describe(self) -> str:
        parts = [self.scope or "*"]
        if self.symbol is not None:
            parts.append(self.symbol)
        if self.until is not None:
            parts.append(f"until {self.until.isoformat()}")
        if self.while_:
            parts.append("while …")
        if self.rule is not None:
            parts.append(f"by {self.rule}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What must hold at ``at``: firings since the previous expectation, locks in force now.

    ``fired`` and ``intents`` are exact when given (None: not checked); ``not_fired`` lists
    rules that must not have fired; ``pending`` is the exact set of intents whose target the
    facts do not show yet (what the executor still works on); ``lockouts`` is the exact set of
    active lockouts.
    """

    at: datetime
    line: int
    fired: tuple[str, ...] | None = None
    not_fired: tuple[str, ...] = ()
    intents: tuple[str, ...] | None = None
    lockouts: tuple[LockExpectation, ...] | None = None
    locked: bool | None = None
    pending: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class TimedEvent:
    event: Event
    line: int


@dataclass(frozen=True, slots=True)
class ParamPlace:
    """A param override of a test file: its name and where it is written."""

    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class RuleTestCase:
    name: str
    file: str
    line: int
    ruleset: FsPath
    params: dict[str, object]
    start: datetime
    account: int
    balance: Decimal
    tick: timedelta | None
    contracts: tuple[ContractInfo, ...]
    events: tuple[TimedEvent, ...]
    expectations: tuple[Expectation, ...]
    #: rules switched on for this case (``enabled: false`` in the ruleset), as an overlay would
    enable: tuple[str, ...] = ()
    #: the engine's ``unknown_alert_after``: None (the default in rule tests) raises no
    #: ``unknown:RULE`` alerts, so cases about rules need no market data
    unknown_after: timedelta | None = None
    #: where each param override is written (the case's, else the file's), so that an
    #: override the ruleset refuses is reported there, not at the ruleset's first line
    param_places: tuple[ParamPlace, ...] = ()


@dataclass(slots=True)
class RuleTestFile:
    file: str
    cases: list[RuleTestCase] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


#: what an empty test file should hold (the YAML loader's own hint names a ruleset)
_EMPTY_HINT = "a rule test file is a mapping with ruleset: and tests: (see docs/rule-tests.md)"


def _shown(value: object) -> str:
    """A YAML value as its author wrote it (``2026-12-24`` for a date)."""
    return value.isoformat() if isinstance(value, date) else str(value)


def load_test_file(path: FsPath) -> RuleTestFile:
    """Load and validate one test file; every problem found is in ``problems``."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return RuleTestFile(name, problems=[Problem(name, 1, 1, f"cannot read: {exc}", "io")])
    except UnicodeDecodeError:
        problem = Problem(name, 1, 1, "the file is not UTF-8 text", "encoding")
        return RuleTestFile(name, problems=[problem])
    return load_test_text(text, name, base=path.parent)


def load_test_text(text: str, file: str, *, base: FsPath | None = None) -> RuleTestFile:
    """Load test cases from ``text`` (``file`` is used in messages, ``base`` for paths)."""
    result = RuleTestFile(file)
    document, problems = load_document(text, file)
    result.problems.extend(
        replace(p, hint=_EMPTY_HINT) if p.check == "empty-file" else p for p in problems
    )
    if document is None:
        return result
    _Loader(document, base or FsPath("."), result).load()
    return result


class _Loader:
    def __init__(self, doc: Document, base: FsPath, out: RuleTestFile) -> None:
        self.doc = doc
        self.base = base
        self.out = out
        #: (params path, name) → (line, column) of each param override written
        self.param_places: dict[tuple[Path, str], tuple[int, int]] = {}

    def problem(self, path: Path, message: str, hint: str | None = None) -> None:
        mark = self.doc.at(path)
        self.out.problems.append(
            Problem(self.doc.file, mark.line, mark.column, message, "rule-test", hint=hint)
        )

    def load(self) -> None:
        top = self.doc.data
        if not isinstance(top, dict):
            self.problem((), "a rule test file is a mapping", "see docs/rule-tests.md")
            return
        self._unknown_keys((), top, _TOP_KEYS)
        # each key on its own, so that every mistake of the header is reported in one run
        header_problems = len(self.out.problems)
        ruleset = self._read(lambda: self._ruleset(top))
        params = self._read(lambda: self._params(("params",), top.get("params")))
        start = self._read(
            lambda: self._time(("start",), top.get("start", "2026-11-24T09:00:00-06:00"), None)
        )
        account = self._read(lambda: self._int(("account",), top.get("account", DEFAULT_ACCOUNT)))
        balance = self._read(lambda: self._money(("balance",), top.get("balance", DEFAULT_BALANCE)))
        tick = self._read(lambda: self._tick(("tick",), top.get("tick")))
        unknown_after = self._read(
            lambda: self._unknown_after(("unknown_after",), top.get("unknown_after"))
        )
        enable = self._read(
            lambda: self._strings(("enable",), top["enable"]) if "enable" in top else ()
        )
        if (
            len(self.out.problems) > header_problems
            or ruleset is None
            or params is None
            or start is None
            or account is None
            or balance is None
            or enable is None
        ):
            return
        tests = top.get("tests")
        if not isinstance(tests, list) or not tests:
            self.problem(("tests",), "`tests:` must be a non-empty list of cases")
            return
        for index, raw in enumerate(tests):
            path: Path = ("tests", index)
            try:
                case = self._case(
                    path, raw, ruleset, params, enable, start, account, balance, tick, unknown_after
                )
            except RuleTestFileError as exc:
                self.problem(exc.path, exc.message, exc.hint)
                continue
            if case is not None:
                self.out.cases.append(case)

    def _read(self, read: Callable[[], _T]) -> _T | None:
        """``read()``, or None with its mistake reported."""
        try:
            return read()
        except RuleTestFileError as exc:
            self.problem(exc.path, exc.message, exc.hint)
            return None

    # -- scalars --------------------------------------------------------------------------
    def _unknown_keys(
        self, path: Path, mapping: dict[object, object], allowed: tuple[str, ...]
    ) -> None:
        for key in mapping:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or "allowed: " + ", ".join(allowed)
                mark = self.doc.key_at((*path, key))
                self.out.problems.append(
                    Problem(
                        self.doc.file,
                        mark.line,
                        mark.column,
                        f"unknown key `{key}`",
                        "rule-test",
                        hint=hint,
                    )
                )

    def _ruleset(self, top: dict[object, object]) -> FsPath:
        raw = top.get("ruleset")
        if not isinstance(raw, str) or not raw:
            raise RuleTestFileError(
                ("ruleset",),
                "`ruleset:` must name the ruleset file to test",
                "a path relative to this file",
            )
        path = (self.base / raw).resolve()
        if path.is_dir():
            raise RuleTestFileError(
                ("ruleset",), f"ruleset {raw} is a directory, not a file", f"looked at {path}"
            )
        if not path.is_file():
            raise RuleTestFileError(
                ("ruleset",), f"ruleset file not found: {raw}", f"looked at {path}"
            )
        return path

    def _params(self, path: Path, raw: object) -> dict[str, object]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise RuleTestFileError(path, "`params:` must be a mapping of param overrides")
        for key in raw:
            mark = self.doc.key_at((*path, key))
            self.param_places[(path, str(key))] = (mark.line, mark.column)
        return {str(k): v for k, v in raw.items()}

    def _places(self, paths: Sequence[Path], names: Iterable[str]) -> tuple[ParamPlace, ...]:
        """Where each override of ``names`` is written: the innermost of ``paths`` wins."""
        places: list[ParamPlace] = []
        for name in names:
            for path in reversed(paths):
                if (path, name) in self.param_places:
                    line, column = self.param_places[(path, name)]
                    places.append(ParamPlace(name, line, column))
                    break
        return tuple(places)

    def _int(self, path: Path, raw: object) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise RuleTestFileError(path, f"expected an integer, got {raw!r}")
        return raw

    def _money(self, path: Path, raw: object) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
            raise RuleTestFileError(path, f"expected a number, got {raw!r}")
        return Decimal(raw)

    def _optional_money(self, path: Path, raw: object) -> Decimal | None:
        return None if raw is None else self._money(path, raw)

    def _tick(self, path: Path, raw: object) -> timedelta | None:
        if raw is None:
            return None
        value = self._duration(path, raw)
        if value <= timedelta(0):
            raise RuleTestFileError(path, "`tick:` must be a positive duration", DURATION_HINT)
        return value

    def _unknown_after(self, path: Path, raw: object) -> timedelta | None:
        if raw is None:
            return None
        value = self._duration(path, raw)
        if value <= timedelta(0):
            raise RuleTestFileError(
                path, "`unknown_after:` must be a positive duration", DURATION_HINT
            )
        return value

    def _duration(self, path: Path, raw: object) -> timedelta:
        try:
            return parse_duration(str(raw))
        except ValueError:
            raise RuleTestFileError(path, f"not a duration: {raw!r}", DURATION_HINT) from None

    def _time(self, path: Path, raw: object, start: datetime | None) -> datetime:
        """``90s`` / ``1h30m`` after the case start, or an ISO time with a UTC offset."""
        if isinstance(raw, date) and not isinstance(raw, datetime):
            # YAML reads an unquoted 2026-11-24 as a date: a day, not a moment of it
            raise RuleTestFileError(
                path,
                f"a date without a time: {raw.isoformat()}",
                f"write the moment with its UTC offset, e.g. {raw.isoformat()}T09:00:00-06:00",
            )
        text = str(raw)
        if start is not None:
            try:
                return start + parse_duration(text)
            except ValueError:
                pass
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            hint = "a duration after the case start (90s, 1h30m) or an ISO time with offset"
            raise RuleTestFileError(path, f"not a time: {raw!r}", hint) from None
        if value.tzinfo is None:
            raise RuleTestFileError(
                path,
                f"time without a UTC offset: {text}",
                f"write it with its offset, e.g. {value.isoformat()}-06:00",
            )
        return value

    def _strings(self, path: Path, raw: object) -> tuple[str, ...]:
        if isinstance(raw, str):
            return (raw,)
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise RuleTestFileError(path, "expected a list of strings")
        return tuple(str(x) for x in raw)

    # -- cases ----------------------------------------------------------------------------
    def _case(
        self,
        path: Path,
        raw: object,
        ruleset: FsPath,
        params: dict[str, object],
        enable: tuple[str, ...],
        start: datetime,
        account: int,
        balance: Decimal,
        tick: timedelta | None,
        unknown_after: timedelta | None,
    ) -> RuleTestCase | None:
        if not isinstance(raw, dict):
            raise RuleTestFileError(
                path, "a test case is a mapping with `name`, `events`, `expect`"
            )
        self._unknown_keys(path, raw, _CASE_KEYS)
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            raise RuleTestFileError(
                (*path, "name"), "`name:` is text", f'quote it: "{_shown(name)}"'
            )
        if not isinstance(name, str) or not name:
            raise RuleTestFileError(
                path, "a test case needs a `name:`", "name it like the rule book"
            )
        before = len(self.out.problems)
        case = raw

        def override(key: str, parse: Callable[[Path, object], _T], current: _T) -> _T:
            """The case's own ``key``, else ``current``; a mistake is reported and the case
            read on, so that every mistake of it is reported in one run."""
            if key not in case:
                return current
            problems = len(self.out.problems)
            value = self._read(lambda: parse((*path, key), case[key]))
            return current if len(self.out.problems) > problems else cast(_T, value)

        no_params: dict[str, object] = {}
        merged = {**params, **override("params", self._params, no_params)}
        start = override("start", lambda at, v: self._time(at, v, None), start)
        account = override("account", self._int, account)
        balance = override("balance", self._money, balance)
        tick = override("tick", self._tick, tick)
        unknown_after = override("unknown_after", self._unknown_after, unknown_after)
        none_enabled: tuple[str, ...] = ()
        enable = (*enable, *override("enable", self._strings, none_enabled))
        contracts: dict[str, ContractInfo] = {}
        builder = EventBuilder(self, start, account, balance, contracts)
        events_raw = raw.get("events", [])
        if not isinstance(events_raw, list):
            raise RuleTestFileError((*path, "events"), "`events:` must be a list")
        events: list[TimedEvent] = []
        for index, item in enumerate(events_raw):
            epath: Path = (*path, "events", index)
            try:
                for event in builder.build(epath, item):
                    if event.at < start:
                        raise _before_start((*epath, "at"), event.at, start)
                    if events and event.at < events[-1].event.at:
                        raise RuleTestFileError(
                            (*epath, "at"),
                            "events must be in time order",
                            f"the previous event is at {events[-1].event.at.isoformat()}",
                        )
                    events.append(TimedEvent(event, self.doc.at(epath).line))
            except RuleTestFileError as exc:
                self.problem(exc.path, exc.message, exc.hint)
        expect_raw = raw.get("expect")
        if not isinstance(expect_raw, list) or not expect_raw:
            raise RuleTestFileError(
                (*path, "expect"),
                "a test case needs a non-empty `expect:` list",
                "a test that expects nothing cannot fail",
            )
        expectations: list[Expectation] = []
        for index, item in enumerate(expect_raw):
            xpath: Path = (*path, "expect", index)
            try:
                expectation = self._expectation(xpath, item, start)
            except RuleTestFileError as exc:
                self.problem(exc.path, exc.message, exc.hint)
                continue
            if expectation.at < start:
                early = _before_start((*xpath, "at"), expectation.at, start)
                self.problem(early.path, early.message, early.hint)
                continue
            if expectations and expectation.at < expectations[-1].at:
                self.problem((*xpath, "at"), "expectations must be in time order")
                continue
            expectations.append(expectation)
        if len(self.out.problems) > before:
            return None
        return RuleTestCase(
            name=name,
            file=self.doc.file,
            line=self.doc.at(path).line,
            ruleset=ruleset,
            params=merged,
            param_places=self._places([("params",), (*path, "params")], merged),
            start=start,
            account=account,
            balance=balance,
            tick=tick,
            contracts=tuple(contracts.values()),
            events=tuple(events),
            expectations=tuple(expectations),
            enable=enable,
            unknown_after=unknown_after,
        )

    def _expectation(self, path: Path, raw: object, start: datetime) -> Expectation:
        if not isinstance(raw, dict):
            raise RuleTestFileError(
                path, "an expectation is a mapping with `at:` and what to check"
            )
        self._unknown_keys(path, raw, _EXPECT_KEYS)
        if "at" not in raw:
            raise RuleTestFileError(path, "an expectation needs `at:`")
        checks = [k for k in _EXPECT_KEYS if k != "at" and k in raw]
        if not checks:
            raise RuleTestFileError(
                path,
                "an expectation must check something",
                "fired, not_fired, intents, pending, lockouts or locked",
            )
        at = self._time((*path, "at"), raw["at"], start)
        fired: tuple[str, ...] | None = None
        if "fired" in raw:
            fired = () if raw["fired"] is None else self._strings((*path, "fired"), raw["fired"])
        not_fired = (
            self._strings((*path, "not_fired"), raw["not_fired"]) if "not_fired" in raw else ()
        )
        intents: tuple[str, ...] | None = None
        if "intents" in raw:
            intents = (
                () if raw["intents"] is None else self._strings((*path, "intents"), raw["intents"])
            )
        pending: tuple[str, ...] | None = None
        if "pending" in raw:
            pending = (
                () if raw["pending"] is None else self._strings((*path, "pending"), raw["pending"])
            )
        lockouts: tuple[LockExpectation, ...] | None = None
        if "lockouts" in raw:
            lockouts = self._lockouts((*path, "lockouts"), raw["lockouts"], start)
        locked: bool | None = None
        if "locked" in raw:
            if not isinstance(raw["locked"], bool):
                raise RuleTestFileError((*path, "locked"), "`locked:` is true or false")
            locked = raw["locked"]
        return Expectation(
            at, self.doc.at(path).line, fired, not_fired, intents, lockouts, locked, pending
        )

    def _lockouts(self, path: Path, raw: object, start: datetime) -> tuple[LockExpectation, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise RuleTestFileError(
                path, "`lockouts:` is a list of {scope, symbol, rule, until | while}"
            )
        out = []
        for index, item in enumerate(raw):
            lpath: Path = (*path, index)
            if not isinstance(item, dict):
                raise RuleTestFileError(
                    lpath, "a lockout is a mapping {scope, symbol, rule, until | while}"
                )
            self._unknown_keys(lpath, item, _LOCK_KEYS)
            scope = item.get("scope")
            if scope not in (None, "account", "symbol"):
                raise RuleTestFileError((*lpath, "scope"), "scope is account or symbol")
            until = self._time((*lpath, "until"), item["until"], start) if "until" in item else None
            while_ = item.get("while")
            if while_ is not None and not isinstance(while_, bool):
                raise RuleTestFileError((*lpath, "while"), "`while: true` expects a while-lock")
            symbol = item.get("symbol")
            rule = item.get("rule")
            out.append(
                LockExpectation(
                    scope=str(scope) if scope is not None else None,
                    symbol=str(symbol) if symbol is not None else None,
                    rule=str(rule) if rule is not None else None,
                    until=until,
                    while_=while_,
                    line=self.doc.at(lpath).line,
                )
            )
        return tuple(out)


def _before_start(path: Path, at: datetime, start: datetime) -> RuleTestFileError:
    """An event or expectation timed before its case starts: nothing is played or seen there
    (the engine starts at the case's start), so the case could only fail or pass for nothing."""
    return RuleTestFileError(
        path,
        f"{at.astimezone(start.tzinfo).isoformat()} is before the case's start {start.isoformat()}",
        "times are a duration after the start (90s, 1h30m) or an ISO time at or after it; "
        "check the date and the UTC offset",
    )
