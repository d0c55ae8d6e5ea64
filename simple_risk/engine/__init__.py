"""The pure engine: DSL, compiler, fact store, evaluation, timers. No network, no database.

Usage (the daemon, ``rules test``, replay and the benchmarks all drive it this way)::

    from simple_risk.engine import Engine
    from simple_risk.engine.dsl import load_ruleset
    from simple_risk.engine.events import ClockTick, TradeFill

    engine = Engine(load_ruleset("rulesets/topstep.yaml"))       # accounts=[...] to restrict
    for event in events:                                           # typed domain events
        for firing in engine.apply(event):                         # list[Firing], in order
            print(firing.rule_id, firing.kind, firing.item, firing.message, firing.intents)
    engine.next_deadline()        # when to send an exact ClockTick (for:, lockout end, day end)
    engine.locks(account_id)      # active lockouts; engine.unmet_intents(account_id)
    state = engine.snapshot()     # JSON-serialisable; Engine.restore(ruleset, state)

A :class:`~simple_risk.engine.engine.Firing` carries ``rule_id``, ``account``, ``item``
(``""``, ``position:<contract>``, ``order:<id>``, ``symbol:<root>``, ``fill-order:<id>``),
``at``, ``severity``, ``message``, ``values`` (every fact the rule read → its value),
``intents`` (target states from :mod:`simple_risk.engine.intents`, declared order), ``kind``
(``rule``, ``error`` or ``lockout``) and ``locks`` (lockouts it set).
"""

from simple_risk.engine.engine import Engine, Firing, LockNotice

__all__ = ["Engine", "Firing", "LockNotice"]
