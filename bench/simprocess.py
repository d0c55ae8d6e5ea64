"""The latency bench's gateway in a process of its own: ``python -m bench.simprocess``.

A deployed daemon never shares its interpreter with the gateway: sharing one (the simulator
started in-process) makes the simulator's event loop and the daemon's threads take turns on
one GIL, which measured about 1.4 ms of the loopback p50 on an idle machine. This runs the
same simulator as :func:`bench.latency.bench_daemon` (one big account, no price ticks, no
rate limit worth the name), prints one JSON line — ``url``, ``username``, ``api_key`` and the
active ``RTY`` and ``ES`` contracts — and serves until its standard input closes.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from simple_risk.adapters.simulator import AccountSpec, RateLimits, Simulator, WanDelay
from simple_risk.daemon.sim import Trader

#: the bench's one account (the same as :data:`bench.latency.ACCOUNT`)
ACCOUNT = 20100001


def simulator(wan: WanDelay | None = None) -> Simulator:
    """The bench's simulator, not started (``wan``: its answers and frames delayed)."""
    return Simulator(
        port=0,
        ping_interval=1.0,
        price_interval=None,
        accounts=[AccountSpec(ACCOUNT, "BENCH-50K", Decimal(10_000_000))],
        rate_limits=RateLimits(general=(1_000_000, 60.0), bars=(50, 30.0)),
        wan=wan,
    )


def main() -> int:
    sim = simulator().start()
    try:
        details = {
            "url": sim.base_url,
            "username": sim.username,
            "api_key": sim.api_key,
            "rty": Trader(sim).contract("RTY"),
            "es": Trader(sim).contract("EP"),
        }
        print(json.dumps(details), flush=True)
        sys.stdin.read()  # until the bench closes it (or ends)
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
