"""Derived facts (``derive:`` of a ruleset): named facts the engine computes before the rules.

:class:`Derivations` is the engine's one object for them (``facts.py``); the running
aggregates over periods and sliding windows are in ``aggregates.py``.
"""

from simple_risk.engine.derive.facts import Derivations, DerivedFacts

__all__ = ["Derivations", "DerivedFacts"]
