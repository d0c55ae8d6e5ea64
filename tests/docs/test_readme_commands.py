"""Every command line README.md shows is one the CLI accepts as written.

Each ``simple-risk …`` line of the README's shell blocks (its ``[…]`` options each taken, a
``a|b`` sub-command each way, the placeholders FILE, DIR and ACCOUNT given a value) is parsed
by the real command tree — sub-commands, option names, choices, types and the options a
command requires — without running it: a user who copies a line never gets "No such option"
or "Missing option" where the README promised a command.
"""

from __future__ import annotations

import re
import shlex
import warnings
from itertools import product
from pathlib import Path

import click
import pytest

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the sub-groups)

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
# what the README writes for a file of the user's own, given one that exists here
PLACEHOLDERS = {
    "FILE": "examples/config.yaml",
    "my.yaml": "examples/config.yaml",
    "~/risk/config.yaml": "examples/config.yaml",
    "DIR": "rulesets",
    "ACCOUNT": "20100001",
}


def _lines() -> list[str]:
    """The README's ``simple-risk`` lines, comments cut and continuations joined."""
    found: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL):
        text = re.sub(r"\\\n\s*", " ", block)
        for raw in text.splitlines():
            line = re.sub(r"\s+#.*$", "", raw).strip()
            if line.startswith("simple-risk "):
                found.append(line)
    return found


def _variants(line: str) -> list[list[str]]:
    """Each way of writing ``line``: every ``[…]`` option in, every ``a|b`` word each way."""
    words = shlex.split(re.sub(r"\[([^]]*)\]", r"\1", line))[1:]
    words = [PLACEHOLDERS.get(word, word) for word in words]
    choices = [
        word.split("|") if re.fullmatch(r"[a-z-]+(\|[a-z-]+)+", word) else [word] for word in words
    ]
    return [list(choice) for choice in product(*choices)]


def _parse(args: list[str]) -> None:
    """Resolve ``args`` through the command tree and parse the leaf's options (not run)."""
    command: click.Command = cli
    parent: click.Context | None = None
    name = "simple-risk"
    while True:
        context = command.make_context(name, list(args), parent=parent, resilient_parsing=False)
        if not isinstance(command, click.Group):
            return
        with warnings.catch_warnings():  # click 8.2 deprecates the name, not the split
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*context.protected_args, *context.args]
        if not rest:
            return
        name, sub, args = command.resolve_command(context, rest)
        assert sub is not None
        command, parent = sub, context


def test_the_readme_shows_the_commands_it_promises() -> None:
    lines = _lines()
    assert len(lines) >= 30
    assert any(line.startswith("simple-risk admin daemon stop") for line in lines)


@pytest.mark.parametrize("line", _lines())
def test_each_readme_command_line_parses_as_written(
    line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("EDITOR", "true")
    for args in _variants(line):
        try:
            _parse(args)
        except click.ClickException as exc:
            pytest.fail(f"{' '.join(args)!r}: {exc.format_message()}")
