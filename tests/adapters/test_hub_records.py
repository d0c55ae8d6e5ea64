"""Hub-protocol records as a server may cut them: the text of a WebSocket message is not
always whole records.

The rule book: every record is read once, whole — several in one message, or one cut across
two messages (the server flushed mid-record): the cut record is kept until its end arrives,
never parsed in halves and dropped. A cut left over from a connection that ended is no part
of the next connection's first record.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from simple_risk.adapters.topstepx.hubwire import WireProtocol

RS = "\x1e"
ORDER = (
    '{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,"data":{"id":2934939764,'
    '"accountId":704,"contractId":"CON.F.US.MNQ.U26","status":1,"type":4,"side":1,"size":2,'
    '"stopPrice":29380.5}}]}'
)
FILL = (
    '{"type":1,"target":"GatewayUserTrade","arguments":[{"action":0,"data":{"id":8604,'
    '"accountId":704,"contractId":"CON.F.US.MNQ.U26","orderId":2934939764,"price":29398.5,'
    '"profitAndLoss":-49,"fees":0.36,"side":1,"size":1}}]}'
)
PING = '{"type":6}'


def _targets(messages: list[object]) -> list[str]:
    return [getattr(m, "target", "ping") for m in messages]


def test_a_record_cut_across_two_messages_is_read_once_whole() -> None:
    protocol = WireProtocol(lambda: None)
    text = ORDER + RS
    assert protocol.parse_messages(text[:57]) == []
    [order] = protocol.parse_messages(text[57:])
    assert order.arguments[0]["data"]["stopPrice"] == Decimal("29380.5")


@given(st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_any_cutting_of_a_stream_of_records_reads_every_record_in_order(cuts: list[int]) -> None:
    protocol = WireProtocol(lambda: None)
    stream = ORDER + RS + PING + RS + FILL + RS + ORDER + RS
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    read: list[object] = []
    for start, end in itertools.pairwise(bounds):
        read.extend(protocol.parse_messages(stream[start:end]))
    assert _targets(read) == ["GatewayUserOrder", "ping", "GatewayUserTrade", "GatewayUserOrder"]


def test_a_last_record_without_its_separator_is_still_read() -> None:
    protocol = WireProtocol(lambda: None)
    assert _targets(protocol.parse_messages(PING + RS + FILL)) == ["ping", "GatewayUserTrade"]
    assert _targets(protocol.parse_messages(RS + ORDER + RS)) == ["GatewayUserOrder"]


def test_a_cut_left_by_a_connection_that_ended_is_no_part_of_the_next_one() -> None:
    protocol = WireProtocol(lambda: None)
    assert protocol.parse_messages(ORDER[:40]) == []
    _, messages = protocol.decode_handshake("{}" + RS + FILL + RS)  # a reconnect's handshake
    assert _targets(messages) == ["GatewayUserTrade"]


def test_an_event_with_an_invocation_id_headers_or_stream_ids_is_still_an_event() -> None:
    protocol = WireProtocol(lambda: None)
    odd = (
        '{"type":1,"invocationId":"7","headers":{"x":"y"},"streamIds":[],"target":'
        '"GatewayUserTrade","arguments":[{"action":0,"data":{"id":1}}],"newField":1}'
    )
    [message] = protocol.parse_messages(odd + RS + PING + RS)[:1]
    assert (message.target, message.arguments) == (
        "GatewayUserTrade",
        [{"action": 0, "data": {"id": 1}}],
    )


def test_an_unreadable_record_is_told_and_the_records_beside_it_are_read() -> None:
    told: list[str] = []
    protocol = WireProtocol(lambda: None, told.append)
    frame = ORDER + RS + '{"type":1,"target":"GatewayUserOrder"}' + RS + "{oops" + RS + FILL + RS
    assert _targets(protocol.parse_messages(frame)) == ["GatewayUserOrder", "GatewayUserTrade"]
    assert len(told) == 2


def test_a_target_in_another_letter_case_reaches_its_handler() -> None:
    # SignalR's own clients match targets whatever their case: so does this one
    protocol = WireProtocol(lambda: None, targets=("GatewayUserOrder", "GatewayUserTrade"))
    lowered = ORDER.replace("GatewayUserOrder", "gatewayuserorder")
    shouted = FILL.replace("GatewayUserTrade", "GATEWAYUSERTRADE")
    frame = lowered + RS + shouted + RS + '{"type":1,"target":"SomethingNew","arguments":[]}' + RS
    assert _targets(protocol.parse_messages(frame)) == [
        "GatewayUserOrder",
        "GatewayUserTrade",
        "SomethingNew",
    ]
