"""``python -m simple_risk`` is the same as the ``simple-risk`` command."""

from simple_risk.cli import main

main()
