"""simple-risk: a real-time risk manager for TopstepX accounts driven by YAML rulesets.

Parts (the design card): ``simple_risk.engine`` (pure rules engine: DSL, facts, evaluation,
timers), ``simple_risk.adapters`` (TopstepX REST/SignalR, the gateway simulator, replay files),
``simple_risk.cli`` (the ``simple-risk`` command).
"""

__version__ = "0.1.0"
