"""A warning for a rule that fires on a quiet day: before any trade, position or order.

The day's and the week's aggregates start at 0 (no P&L, no fees, no trades), and so do an
account's counts of what it holds and works. A rule whose ``when:`` reads only those (and
params, lists and constants) and is true at 0 fires at the first event of every day —
usually a limit compared with the wrong sign: a loss is negative, so ``day.realized_pnl <=
500`` holds at a P&L of 0 and locks the account before its first trade, while the author
meant ``<= -500``. Lint said SUCCESS, and the trader found out at the open.

Rules that read anything else (a position, an order, the balance, the session, a derived
fact) are not judged here: their quiet values are not known to lint. A rule meant to hold
on every quiet day (``max_trades_per_day: 0`` for a day off) gets the warning too: it says
what the rule does (a day off is better said by a rule that reads a param alone, ``when:
params.day_off``, which this check does not judge).

WARN::

    - id: daily-loss
      when: day.realized_pnl <= params.daily_loss_limit   # 0 <= 500: fires before any trade

PASS::

    - id: daily-loss
      when: day.realized_pnl <= -params.daily_loss_limit  # 0 <= -500 is false
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from simple_risk.engine import namespace
from simple_risk.engine.dsl.checks.base import CheckDef, rule_whens
from simple_risk.engine.dsl.checks.sample_evaluation import sample_env, sample_of
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.reference import family_object

#: the account's facts that are known on a quiet day: nothing open, nothing working
_ACCOUNT_AT_REST: dict[str, object] = {
    "open_contracts": Decimal(0),
    "open_units": 0,
    "open_contracts_raw": 0,
    "working_orders": 0,
    "open_positions": 0,
    "working_buy_orders": 0,
    "working_sell_orders": 0,
    "locked": False,
    "can_trade": True,
    "unrealized_pnl": Decimal(0),
}
#: the families whose every fact (and method) is 0 on a quiet day
_ZERO_FAMILIES = ("day", "week", "trades")


def _zero(fact_type: namespace.FactType) -> object:
    return 0 if fact_type == namespace.FactType.INT else Decimal(0)


def _at_rest() -> dict[str, object]:
    """The quiet day's families: the aggregates at 0, the account holding and working nothing."""
    families: dict[str, object] = {}
    for family in _ZERO_FAMILIES:
        values = {f.attr: _zero(f.type) for f in namespace.family_facts(family)}
        methods = {
            m.attr: _zero(m.returns) for m in namespace.METHODS.values() if m.family == family
        }
        families[family] = family_object(family, values, methods)
    families["account"] = family_object("account", _ACCOUNT_AT_REST)
    return families


def _quiet_names() -> frozenset[str]:
    names = {f"account.{attr}" for attr in _ACCOUNT_AT_REST}
    for family in _ZERO_FAMILIES:
        names |= {f.name for f in namespace.family_facts(family)}
        names |= {f"{family}.{m.attr}" for m in namespace.METHODS.values() if m.family == family}
    return frozenset(names)


def _quiet_word(name: str) -> str:
    """A fact's quiet value as a rule's author writes it."""
    value = _ACCOUNT_AT_REST.get(name.removeprefix("account."), 0)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "0"


_MONEY = frozenset(
    fact.name for fact in namespace.FACTS.values() if fact.type == namespace.FactType.MONEY
)


def _hint(facts: list[str]) -> str:
    if any(name in _MONEY for name in facts):
        return (
            "a loss is negative: compare with the limit's negative, e.g. "
            "day.realized_pnl <= -params.daily_loss_limit"
        )
    return (
        "a count is 0 before anything happens: a limit of N is broken by the one after it "
        "(day.trade_count > params.max_trades_per_day); a day with no trading at all is a "
        "rule that reads a param alone (when: params.day_off)"
    )


def run(compilation: Compilation) -> Iterator[Problem]:
    if any(problem.severity == "error" for problem in compilation.problems):
        return  # a broken part stands in for something else: judge once it is fixed
    doc = compilation.doc
    quiet = _quiet_names()
    env: dict[str, object] | None = None
    for rule_id, mark, checked in rule_whens(compilation):
        facts = [name for name in checked.compiled.names if not name.startswith("params.")]
        if not facts or any(name not in quiet for name in facts):
            continue
        if env is None:
            env = {**sample_env(compilation), **_at_rest()}
        if sample_of(checked.tree.body, env) is not True:
            continue
        read = ", ".join(f"{name} is {_quiet_word(name)}" for name in sorted(facts))
        yield Problem(
            doc.file,
            mark.line,
            mark.column,
            f'"when" is true on a quiet day, before any trade, position or order ({read}): '
            "the rule fires at the first event of every day",
            "fires-at-rest",
            rule_id,
            _hint(facts),
            "warning",
        )


CHECK = CheckDef("fires-at-rest", "A rule's when: is false on a quiet day (a warning).", run)
