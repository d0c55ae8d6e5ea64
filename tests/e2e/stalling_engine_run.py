"""``simple-risk engine run`` whose engine thread a test can hold up from outside.

The chaos schedule runs the daemon as a subprocess; to hold up its engine thread alone — a
long command, a restore, a login the gateway keeps waiting — while every other thread (the
lease's, the reconcile workers, the hubs) runs on, it starts the daemon through this script.
On SIGUSR1 the engine thread runs ``time.sleep(seconds)`` between two events, ``seconds``
read from the file named by ``SIMPLE_RISK_STALL_FILE``. Nothing else differs from
``python -m simple_risk``, but for the leases' time to live, which
``SIMPLE_RISK_TEST_LEASE_TTL`` (seconds) may shorten.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from simple_risk.cli import main
from simple_risk.daemon import runtime

STALL_FILE = "SIMPLE_RISK_STALL_FILE"
LEASE_TTL = "SIMPLE_RISK_TEST_LEASE_TTL"
_daemons: list[runtime.Daemon] = []
_made = runtime.Daemon.__init__


def _kept(self: runtime.Daemon, *args: Any, **kwargs: Any) -> None:
    ttl = os.environ.get(LEASE_TTL)
    if ttl is not None:
        kwargs["options"] = dataclasses.replace(kwargs["options"], lease_ttl=float(ttl))
    _made(self, *args, **kwargs)
    _daemons.append(self)


def _stall(signum: int, frame: object) -> None:
    seconds = float(Path(os.environ[STALL_FILE]).read_text(encoding="utf-8"))
    daemon = _daemons[-1]

    def hold() -> None:
        daemon.on_engine(lambda: time.sleep(seconds), seconds + 60.0)

    threading.Thread(target=hold, name="stall", daemon=True).start()


if __name__ == "__main__":
    runtime.Daemon.__init__ = _kept  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, _stall)
    main()
