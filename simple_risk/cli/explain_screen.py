"""``engine status --explain RULE``: a rule, its last firing, and each evaluation now with
every comparison and the values it saw — the answer to "why did (or didn't) this rule act?".

Separate from the status screen because it reads another answer (``explain``,
docs/status-protocol.md) and speaks of conditions and verdicts, not of positions and limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from simple_risk.cli.formatting import (
    NONE,
    clock,
    empty_section,
    format_duration,
    plain,
    seconds_since,
    seconds_until,
    severity_style,
)


def _verdict_style(result: object) -> str:
    """A true condition is the breach (red), a false one is fine (green)."""
    if result is None:
        return "dim"
    return "bold red" if result else "green"


def comparison_text(comparison: Mapping[str, Any]) -> Text:
    """``day.net_pnl = -512.00  <=  -params.daily_loss_limit = -500  → true``."""

    def side(operand: object) -> str:
        if not isinstance(operand, Mapping):
            return plain(operand)
        text, value = operand.get("text"), operand.get("value")
        if value is None:
            return f"{text} = unknown"
        if str(text) == str(value):
            return str(text)
        return f"{text} = {value}"

    left, right = comparison.get("left"), comparison.get("right")
    result = comparison.get("result")
    if left is None and right is None:
        line = Text(str(comparison.get("text", "")))
    else:
        line = Text(f"{side(left)}  {comparison.get('op', '?')}  {side(right)}")
    outcome = "unknown" if result is None else "true" if result else "false"
    line.append(f"  → {outcome}", style=_verdict_style(result))
    return line


def explain_view(result: Mapping[str, Any], now: datetime) -> Group:
    """``engine status --explain RULE``: the rule, its last firing, each evaluation now."""
    severity = str(result.get("severity", ""))
    head = Text(f"rule {result.get('rule')}", style="bold")
    head.append(f"  {severity}", style=severity_style(severity))
    head.append("  enabled" if result.get("enabled", True) else "  DISABLED")
    if result.get("mandatory"):
        head.append("  mandatory")
    if result.get("account") is not None:
        head.append(f"  account {result['account']}")
    lines: list[RenderableType] = [head]
    if result.get("location"):
        lines.append(_indented(f"at {result['location']}", "dim"))
    if result.get("description"):
        lines.append(_indented(str(result["description"]).strip(), "dim"))
    lines.append(_indented(f"when:     {plain(result.get('when'))}"))
    hold = result.get("for")
    hold_text = format_duration(float(hold)) if isinstance(hold, int | float) else plain(hold)
    lines.append(Text(f"  for:      {hold_text}"))
    if result.get("each"):
        lines.append(Text(f"  each:     {result['each']}"))
    triggers = result.get("triggers") or []
    lines.append(Text(f"  triggers: {', '.join(map(str, triggers)) or NONE}"))
    if result.get("fires"):
        lines.append(Text(f"  refire:   {result.get('refire')} — fires {result['fires']}"))

    firing = result.get("last_firing")
    if firing:
        ago = format_duration(seconds_since(firing.get("at"), now))
        title = Text("last firing ", style="bold")
        title.append(f"{clock(firing.get('at'), now)} ({ago} ago)")
        if firing.get("item"):
            title.append(f"  item {firing['item']}")
        lines.append(title)
        said = firing.get("text") or firing.get("message") or ""
        lines.append(_indented(str(said), severity_style(severity)))
        for name, value in (firing.get("values") or {}).items():
            lines.append(Text(f"  {name} = {_value_text(value)}"))
        for intent in firing.get("intents") or []:
            lines.append(Text(f"  intent: {intent}", style="cyan"))
    else:
        lines.append(empty_section("last firing", "never fired"))

    evaluations = result.get("evaluations") or []
    lines.append(Text("evaluation now", style="bold"))
    if not evaluations:
        lines.append(Text("  nothing to evaluate (no item binds the rule now)", style="dim"))
    for evaluation in evaluations:
        lines += _evaluation_lines(evaluation, now)
    unmet = result.get("intents") or []
    if unmet:
        lines.append(Text("unmet intents", style="bold"))
        lines += [Text(f"  {intent}", style="yellow") for intent in unmet]
    return Group(*lines)


def _indented(text: str, style: str = "", level: int = 2) -> Padding:
    """A line that wraps under itself, not under the margin."""
    return Padding(Text(text, style=style), (0, 0, 0, level))


def _evaluation_lines(evaluation: Mapping[str, Any], now: datetime) -> list[Text]:
    item = evaluation.get("item") or ""
    outcome = evaluation.get("result")
    head = Text(f"  item {item}: " if item else "  ")
    verdict = "unknown" if outcome is None else "true" if outcome else "false"
    head.append(verdict, style=_verdict_style(outcome))
    state = evaluation.get("state")
    if state:
        head.append(f"  state {state}", style="yellow" if state == "pending" else "")
    if evaluation.get("since"):
        head.append(f" since {clock(evaluation['since'], now)}")
    left = seconds_until(evaluation.get("fires_at"), now, evaluation.get("remaining_s"))
    if left is not None and (evaluation.get("fires_at") or state == "pending"):
        head.append(f"  fires in {format_duration(left)}", style="bold yellow")
    lines = [head]
    if evaluation.get("error"):
        lines.append(Text(f"    error: {evaluation['error']}", style="red"))
    comparisons = evaluation.get("comparisons") or []
    for comparison in comparisons:
        line = Text("    ")
        line.append_text(comparison_text(comparison))
        lines.append(line)
    if not comparisons:  # a condition without a comparison (``not position.protected``)
        for name, value in (evaluation.get("values") or {}).items():
            lines.append(Text(f"    {name} = {_value_text(value)}"))
    return lines


def _value_text(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = [
    "comparison_text",
    "explain_view",
]
