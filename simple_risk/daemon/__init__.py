"""The daemon (issue #6): configuration, the engine's queue and thread, the executor, logging.

``simple-risk engine run --config FILE`` builds a :class:`~simple_risk.daemon.runtime.Daemon`
from a :mod:`~simple_risk.daemon.config` file; ``simple-risk demo`` runs one against the
in-process simulator (:mod:`~simple_risk.daemon.sim`). See ``docs/daemon.md``.
"""
