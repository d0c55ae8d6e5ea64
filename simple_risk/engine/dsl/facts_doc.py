"""``docs/facts.md`` and ``simple-risk rules facts``: every name a rule expression may use.

Rendered from :mod:`simple_risk.engine.namespace` (and the action registry) so the reference
authors read is the same declaration lint and the engine use; a test keeps the checked-in file
equal to this output.
"""

from __future__ import annotations

from simple_risk.engine import namespace
from simple_risk.engine.dsl.actions import ACTIONS


def _binding(family: namespace.Family) -> str:
    if family.lock_only:
        return "only inside a lockout's `while:`"
    if family.bound_by_triggers is None:
        return "always"
    how = f"when every trigger is one of: {', '.join(sorted(family.bound_by_triggers))}"
    if family.iterable:
        how += f"; or with `each: {family.name}`"
    if family.name == "symbol":
        how += (
            " / `each: position` / `each: order`; in a symbol lockout's `while:`, the locked symbol"
        )
    return how


def render_facts_markdown() -> str:
    """The whole reference as Markdown (deterministic)."""
    lines: list[str] = [
        "# Rule expression reference",
        "",
        "Generated from `simple_risk/engine/namespace.py` by `simple-risk rules facts`;"
        " do not edit by hand.",
        "",
        "Types: `money` and `price` are exact decimals, `decimal` an exact ratio, `seconds` a"
        " decimal number of seconds. An *optional* fact is unknown (`None`) when the daemon does"
        " not have it yet (no quote, no contract metadata); every use must be guarded with"
        " `known(x)`, e.g. `known(position.unrealized_pnl) and position.unrealized_pnl <= -300`."
        " Actions and messages of a rule may use what its `when:` guarded.",
        "",
        "Besides facts, an expression may use `params.NAME`, list names (`x in blocked_symbols`),"
        " macro names, `True`, `False`, numbers and strings, `and`/`or`/`not`, comparisons,"
        " `+ - * / // %` and `a if cond else b`. Decimal literals (`0.5`) and division are exact.",
        "",
        f"Triggers: {', '.join(f'`{t}`' for t in namespace.TRIGGERS)}."
        f" `each:` may be {', '.join(f'`{e}`' for e in namespace.EACH_KINDS)}.",
        "",
        "## Functions",
        "",
        "| Call | Meaning |",
        "|---|---|",
    ]
    for function in namespace.FUNCTIONS.values():
        lines.append(f"| `{function.signature}` | {function.meaning} |")
    for family in namespace.FAMILIES.values():
        lines += [
            "",
            f"## `{family.name}`",
            "",
            f"{family.meaning} Bound: {_binding(family)}.",
        ]
        if not namespace.family_members(family.name):
            lines += ["", "Its names are the ruleset's own: see the ruleset's `derive:`."]
            continue
        lines += [
            "",
            "| Name | Type | Optional | Meaning |",
            "|---|---|---|---|",
        ]
        for fact in namespace.family_facts(family.name):
            optional = "yes" if fact.optional else ""
            lines.append(f"| `{fact.name}` | {fact.type.value} | {optional} | {fact.meaning} |")
        for method in namespace.METHODS.values():
            if method.family != family.name:
                continue
            args = ", ".join(f"{p.rstrip('=')}=…" if p.endswith("=") else p for p in method.params)
            optional = "yes" if method.optional else ""
            extra = ' Durations such as `"60s"`.' if method.duration_args else ""
            lines.append(
                f"| `{method.name}({args})` | {method.returns.value} | {optional} |"
                f" {method.meaning}{extra} |"
            )
    lines += ["", "## Actions", "", "| Action | Meaning | Example |", "|---|---|---|"]
    for action in ACTIONS.values():
        example = action.example.replace("|", "\\|")
        lines.append(f"| `{action.name}` | {action.summary} | `{example}` |")
    return "\n".join(lines) + "\n"
