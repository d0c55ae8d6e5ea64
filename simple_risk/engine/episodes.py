"""Breach episodes: what makes a rule that stays broken fire again, decided once per rule.

A rule fires when its ``when:`` becomes true and not again while it stays true: the
(rule, account, item) is one *breach episode*. Without ``refire:`` the item is inferred from
what the rule reads, which is today's behaviour and the documented default:

- ``each:`` rules: one episode per item of the family (``position:<contract>`` …);
- a rule that reads ``trade.*`` and is woken by fills: one episode per *order* filled (the
  fills of one order share it) — ``fill-order:<order id>``;
- a rule that reads ``order.*``, ``position.*`` or ``symbol.*``: one per order, position or
  root the event is about;
- anything else (account-wide facts only): one episode for the account.

``refire:`` states it instead:

- ``episode`` — the default above, written out;
- ``day`` — at most once per trading day (per item): an episode that ends does not re-arm
  the rule before the daily reset;
- ``{every: DURATION}`` — again at the first evaluation ``DURATION`` or more after its
  previous firing, while the rule stays true;
- ``fill`` — every fill its own episode (``fill:<trade id>``; the rule is woken by ``trade``);
- ``order`` — every order its own episode (``fill-order:<order id>`` for a fill,
  ``order:<id>`` for an order update; the rule is woken by ``trade`` or ``order``).

``describe`` is the sentence ``--explain`` and ``rules lint --format json`` show, so authors
see what a rule will do without reading the engine.
"""

from __future__ import annotations

from simple_risk.engine.model import REFIRE_TRIGGERS, Rule

_ITEM_WORDS = {
    "position": "position",
    "order": "order",
    "symbol": "symbol root",
    "trade": "filled order (its fills share one)",
    "fill": "fill",
    "order-of-event": "order (a fill's order, or the updated order)",
    "": "account",
}


def item_mode(rule: Rule) -> str:
    """What identifies one episode of ``rule``: an item family, ``trade`` (the filled order),
    ``fill``, ``order-of-event``, or ``""`` (the account)."""
    if rule.refire.kind == "fill":
        return "fill"
    if rule.refire.kind == "order":
        return "order-of-event"
    if rule.each is not None:
        return rule.each
    families = {name.split(".", 1)[0] for name in rule.when.names}
    if "trade" in families and "trade" in rule.triggers:
        return "trade"
    for family in ("order", "position", "symbol"):
        if family in families:
            return family
    return ""


def describe(rule: Rule) -> str:
    """``once per breach episode of each position (inferred)`` and the like."""
    from simple_risk.engine.dsl.durations import format_duration  # the DSL imports the engine

    mode = item_mode(rule)
    per = f"each {_ITEM_WORDS[mode]}" if mode else "the account"
    kind = rule.refire.kind
    if kind == "day":
        return f"once per trading day for {per}"
    if kind == "every" and rule.refire.every is not None:
        every = format_duration(rule.refire.every)
        return f"once per breach episode of {per}, again every {every} while still true"
    if kind in REFIRE_TRIGGERS:
        return f"once for {per}"
    return f"once per breach episode of {per}"


def as_text(rule: Rule) -> str:
    """The ``refire:`` value as written (``episode`` when absent): for JSON reports."""
    from simple_risk.engine.dsl.durations import format_duration  # the DSL imports the engine

    if rule.refire.kind == "every" and rule.refire.every is not None:
        return f"every {format_duration(rule.refire.every)}"
    return rule.refire.kind
