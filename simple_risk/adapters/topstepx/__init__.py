"""TopstepX / ProjectX Gateway adapters: the daemon's only window on the account.

* :mod:`.rest` — :class:`RestClient` (auth, typed endpoints, retries, rate limit);
* :mod:`.hubs` — :class:`UserHubClient`, :class:`MarketHubClient` on signalrcore 1.0.2, with
  the :mod:`.watchdog`;
* :mod:`.wirefields` — one field of a payload (numbers, ids, timestamps, enums) read strictly;
* :mod:`.converters` — accounts, orders, positions, trades, contracts → domain events;
* :mod:`.quotes` — market-hub quotes and trades → the last full quote per contract;
* :mod:`.hubconverter` — :class:`Converter`, the tolerant converter the hub threads use;
* :mod:`.outgoing` — intents → :class:`RestRequest` (endpoint and JSON body);
* :mod:`.exactjson` — JSON text with exact Decimal numbers;
* :mod:`.errors` — per-endpoint errorCodes and :func:`classify` (DONE / RETRY / GIVE_UP);
* :mod:`.ratelimit` — the shared priority :class:`RateLimiter`;
* :mod:`.contracts` — :class:`ContractCache`;
* :mod:`.clock` — :class:`ReceiveClock`, engine time stamped on receipt.

The same code talks to TopstepX and to ``simple-risk sim`` (reference/projectx-api.md).
"""

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.contracts import ContractCache
from simple_risk.adapters.topstepx.converters import DEFAULT_SYMBOLS
from simple_risk.adapters.topstepx.errors import (
    ApiError,
    AuthenticationError,
    Endpoint,
    Outcome,
    ProjectXError,
    TransportError,
    classify,
)
from simple_risk.adapters.topstepx.hubconverter import Converter
from simple_risk.adapters.topstepx.hubs import (
    HubConfig,
    MarketHubClient,
    UserHubClient,
    hub_urls,
)
from simple_risk.adapters.topstepx.outgoing import RestRequest
from simple_risk.adapters.topstepx.ratelimit import Budget, Priority, RateLimiter
from simple_risk.adapters.topstepx.rest import Credentials, RestClient, RestConfig
from simple_risk.adapters.topstepx.watchdog import WatchdogConfig

__all__ = [
    "DEFAULT_SYMBOLS",
    "ApiError",
    "AuthenticationError",
    "Budget",
    "ContractCache",
    "Converter",
    "Credentials",
    "Endpoint",
    "HubConfig",
    "MarketHubClient",
    "Outcome",
    "Priority",
    "ProjectXError",
    "RateLimiter",
    "ReceiveClock",
    "RestClient",
    "RestConfig",
    "RestRequest",
    "TransportError",
    "UserHubClient",
    "WatchdogConfig",
    "classify",
    "hub_urls",
]
