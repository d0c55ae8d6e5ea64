"""The ``simple-risk`` command line: one click group per part (rules, engine, admin, sim).

Each sub-group lives in its own module and registers here; a module that fails to import is a
bug, so there is no optional loading.
"""

from __future__ import annotations

import click

from simple_risk import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="simple-risk")
def cli() -> None:
    """simple-risk — a real-time risk manager for TopstepX accounts.

    Risk rules are YAML rulesets: lint them with `simple-risk rules lint`, test them with
    `simple-risk rules test`, and run a local ProjectX Gateway simulator with `simple-risk sim`.
    """


def main() -> None:
    from simple_risk.cli import commands  # noqa: F401  (registers the sub-groups)

    cli(prog_name="simple-risk")
