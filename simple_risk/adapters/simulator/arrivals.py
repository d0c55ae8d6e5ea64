"""When a request's bytes reached the simulator: the stamp of its entry in the request log.

aiohttp hands a request to its handler an event-loop iteration or two after the request's
bytes arrived: the connection's task wakes, the request object is built and routed. On an idle
machine that is 0.2 ms and more of the simulator's own time (``python -m bench.latency``,
bench/RESULTS.md), and a latency measured on the log's stamps counted it as the client's. The
hubs date an event when its frame is written to the connection (when it left the venue); a
request is dated, symmetrically, when its first bytes are read from the connection (when it
reached the venue).

:class:`ArrivalRunner` is aiohttp's application runner whose protocol factory puts a thin
:class:`_Stamping` protocol in front of each connection's own: it notes the first arrival of
bytes since the connection's last request ended and forwards everything unchanged. The
server's dispatch takes the note when a request starts (:meth:`Arrivals.take`) and clears it
when the request ends (:meth:`Arrivals.end`): bytes read while a request is being served are
its body (or a pipelined request, which then gets the later stamp of its own start, never an
earlier one than it deserves).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web


class Arrivals:
    """The first arrival, per connection, of bytes not yet claimed by a request."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        #: connection (aiohttp's protocol) → when its unclaimed bytes first arrived
        self._first: dict[object, datetime] = {}

    def arrived(self, connection: object) -> None:
        """Bytes came in on ``connection``: the first since its last request is kept."""
        if connection not in self._first:
            self._first[connection] = self._clock()

    def take(self, request: web.BaseRequest) -> datetime | None:
        """When the bytes of ``request`` (starting now) began to arrive; None when unknown
        (a request made without the runner, as tests of the handlers do)."""
        return self._first.pop(request.protocol, None)

    def end(self, request: web.BaseRequest) -> None:
        """``request`` was answered: what its connection read meanwhile was the request's."""
        self.forget(request.protocol)

    def forget(self, connection: object) -> None:
        """``connection`` closed, or its unclaimed bytes were claimed."""
        self._first.pop(connection, None)

    def __len__(self) -> int:
        return len(self._first)


class _Stamping(asyncio.Protocol):
    """One connection's aiohttp protocol, fronted: every call forwarded, arrivals noted."""

    def __init__(self, inner: asyncio.Protocol, arrivals: Arrivals) -> None:
        self._inner = inner
        self._arrivals = arrivals

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._arrivals.arrived(self._inner)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arrivals.forget(self._inner)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class ArrivalRunner(web.AppRunner):
    """aiohttp's :class:`~aiohttp.web.AppRunner`, its sites' connections stamped on arrival."""

    def __init__(self, app: web.Application, arrivals: Arrivals, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.arrivals = arrivals

    @property
    def server(self) -> Callable[[], asyncio.Protocol] | None:  # type: ignore[override]
        inner = super().server
        if inner is None:
            return None
        arrivals = self.arrivals

        def protocol() -> asyncio.Protocol:
            return _Stamping(inner(), arrivals)

        # A site only calls it, to make each connection's protocol (``loop.create_server``);
        # the runner's own shutdown uses the real server (its ``_server``).
        return protocol
