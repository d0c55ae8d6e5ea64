"""Output into a pipe: tables as TSV, nothing truncated, no colour; a terminal gets rich."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from simple_risk.cli.output import show, table_tsv


def _table() -> Table:
    table = Table(title="Lockouts")
    table.add_column("Account")
    table.add_column("Rule", max_width=6)
    table.add_column("Reason", no_wrap=True)
    table.add_row("20100001", Text("daily-realized-loss", style="red"), "[bold]day\tlimit[/] hit")
    table.add_row("20100002", "x")
    return table


def test_a_table_becomes_a_header_and_one_line_per_row_with_cells_in_full() -> None:
    assert table_tsv(_table()).splitlines() == [
        "Account\tRule\tReason",
        "20100001\tdaily-realized-loss\tday limit hit",
        "20100002\tx\t",
    ]


def test_show_writes_tsv_into_a_pipe_and_rich_to_a_terminal() -> None:
    piped = io.StringIO()
    show(Console(file=piped, force_terminal=False, width=20), _table())
    assert piped.getvalue().splitlines()[0] == "Account\tRule\tReason"
    terminal = io.StringIO()
    show(Console(file=terminal, force_terminal=True, width=80), _table())
    assert "Lockouts" in terminal.getvalue() and "\t" not in terminal.getvalue()


def test_a_panel_into_a_pipe_is_as_wide_as_its_content_not_the_pipe_width() -> None:
    """`engine status > status.txt`: nothing cut, and no line padded out to 1000 columns."""
    from rich.panel import Panel

    from simple_risk.cli.output import PIPE_WIDTH

    piped = io.StringIO()
    line = ("20100001 50K-EVAL-1 · can trade · LIVE · ENFORCING · balance $49,551.60 " * 2).strip()
    show(Console(file=piped, force_terminal=False, width=PIPE_WIDTH), Panel(Text(line)))
    lines = piped.getvalue().splitlines()
    assert len(lines) == 3  # top border, the line in full, bottom border
    assert max(len(row) for row in lines) == len(line) + 4
