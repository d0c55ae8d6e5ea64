"""Where command output goes: a person at a terminal, or a pipe and a script.

At a terminal, rich draws tables, panels and colour at the terminal's width. Into a pipe
(``| cat``, ``| grep``, a file), rich would assume 80 columns and cut columns short or wrap a
row over several lines, which breaks every ``grep`` and ``cut`` a user writes. So when stdout
is not a terminal, a table prints as TSV — a header line, then one line per row, every cell in
full, no colour — and anything else renders without colour at a width nothing is cut at.
``--json`` is unaffected everywhere.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: the width a non-terminal is rendered at: wide enough that nothing is truncated or wrapped
PIPE_WIDTH = 1000


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def stdout_console() -> Console:
    """The console for a command's output: rich at a terminal, plain and wide elsewhere."""
    if is_terminal():
        return Console(highlight=False, soft_wrap=False)
    return Console(
        highlight=False, soft_wrap=True, width=PIPE_WIDTH, color_system=None, emoji=False
    )


def _plain(cell: RenderableType | None) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str):
        text = Text.from_markup(cell).plain
    else:
        text = str(cell)
    return " ".join(text.replace("\t", " ").split())


def table_tsv(table: Table) -> str:
    """The table as TSV: its column headers, then one line per row, cells in full."""
    columns = table.columns
    header = "\t".join(
        _plain(column.header) or f"column{i + 1}" for i, column in enumerate(columns)
    )
    cells = [list(column.cells) for column in columns]
    rows = max((len(column) for column in cells), default=0)
    lines = [header] if table.show_header else []
    for index in range(rows):
        lines.append(
            "\t".join(_plain(column[index]) if index < len(column) else "" for column in cells)
        )
    return "\n".join(lines)


def show(console: Console, renderable: RenderableType) -> None:
    """Print ``renderable``: a table as TSV into a pipe, anything else as rich renders it."""
    if isinstance(renderable, Table) and not console.is_terminal:
        console.file.write(table_tsv(renderable) + "\n")
        return
    if not console.is_terminal:  # a panel would stretch to the pipe's width: fit its content
        fitted = Measurement.get(console, console.options, renderable).maximum
        console.print(renderable, width=min(fitted, console.width))
        return
    console.print(renderable)


__all__ = ["PIPE_WIDTH", "is_terminal", "show", "stdout_console", "table_tsv"]
