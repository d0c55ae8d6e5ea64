"""The SignalR JSON protocol as the hubs read it: frames, records, exact numbers.

What a server may send that signalrcore's own reader gets wrong: non-integer numbers (read
as exact ``Decimal``), a record cut across two WebSocket messages, an event target in another
letter case, a record no message can be made of (told, not dropped unsaid). Kept apart from
:mod:`simple_risk.adapters.topstepx.hubs` (the connections' life: build, subscribe, watch,
rebuild), whose connections each read with one of these.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from signalrcore.protocol.json_hub_protocol import JsonHubProtocol

log = logging.getLogger(__name__)


#: the most text of one record kept while its end has not arrived (a cut record longer than
#: this is no record the gateway sends: it is dropped, said)
_MAX_CUT_RECORD = 4 * 1024 * 1024


class WireProtocol(JsonHubProtocol):  # type: ignore[misc]
    """JSON hub protocol v1 that reports every frame (liveness) and parses exact Decimals.

    A WebSocket message holds whole records as a rule, but a server that flushes mid-record
    cuts one across two messages: the text after the last separator is kept and read with
    the next message (a tail that is whole JSON already is a record whose separator was left
    off, read at once). A new connection's handshake forgets what the last one left.

    A record no message can be made of is skipped, logged and told to ``on_unreadable``
    (with why): what it said is lost, and only the hub knows whether that matters. An event's
    target is matched to ``targets`` whatever its letter case, as SignalR's own clients
    match it (signalrcore matches exactly, and drops the rest unsaid)."""

    def __init__(
        self,
        on_frame: Callable[[], None],
        on_unreadable: Callable[[str], None] | None = None,
        targets: Iterable[str] = (),
    ) -> None:
        super().__init__(version=1)
        self._on_frame = on_frame
        self._on_unreadable = on_unreadable
        self._targets = {target.lower(): target for target in targets}
        self._cut = ""

    def _unreadable(self, why: str) -> None:
        if self._on_unreadable is None:
            return
        try:
            self._on_unreadable(why)
        except Exception:  # the listener's failure must not cost the frame its other records
            log.exception("the listener of an unreadable hub record failed")

    def decode_handshake(self, raw_message: str) -> Any:
        self._cut = ""
        return super().decode_handshake(raw_message)

    def parse_messages(self, raw: str) -> list[Any]:
        self._on_frame()
        *records, tail = (self._cut + raw).split(self.record_separator)
        self._cut = ""
        if tail:
            if _whole_json(tail):
                records.append(tail)
            elif len(tail) <= _MAX_CUT_RECORD:
                self._cut = tail
            else:
                log.warning("dropped a hub record cut longer than %d: %.500s", len(tail), tail)
                self._unreadable(f"a record cut longer than {_MAX_CUT_RECORD}")
        messages: list[Any] = []
        for record in records:
            if not record.strip():
                continue
            try:
                parsed = json.loads(record, parse_float=Decimal)
                if isinstance(parsed, dict) and parsed:
                    messages.append(self._canonical(self.get_message(parsed)))
            except (ValueError, TypeError, KeyError, RecursionError) as error:
                log.warning("skipped an unreadable hub record (%s): %.500s", error, record)
                self._unreadable(str(error))
        return messages

    def _canonical(self, message: Any) -> Any:
        """The message, its target spelled as the handler's when only the case differs."""
        target = getattr(message, "target", None)
        if isinstance(target, str):
            message.target = self._targets.get(target.lower(), target)
        return message


def _whole_json(text: str) -> bool:
    """Whether ``text`` is one whole JSON value (not the first part of a cut record)."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


__all__ = ["WireProtocol"]
