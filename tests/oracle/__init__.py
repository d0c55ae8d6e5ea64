"""An independent, deliberately plain model of the twelve rules of docs/architecture.md §4.

It shares nothing with the engine but the domain events: its own P&L sums, windows, stop
checks, calendar arithmetic and lockouts, written straight from the rule table, so that a bug
in the engine's fact store or a slip in ``rulesets/topstep.yaml`` shows up as a difference.
"""
