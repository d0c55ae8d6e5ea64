"""A replay heals a hub gap as the daemon did: an order or a position that a reconcile's REST
snapshot no longer lists ended while no hub was there to say so.

The hubs drop routinely and have no replay, so a recorded day can hold a position opened on
the hub whose close was never announced: only the next ``Position/searchOpen`` (or
``Order/searchOpen``) shows it gone. Without healing, the replay would keep a phantom
position — and a rule about it (no stop loss for 30 s) would fire for something the daemon
knew was flat. As in the daemon, the snapshot speaks only when it is complete and not older
than the facts: every record readable, and never for an item the hub spoke of after its
request went out (recordings keep each request's send time, ``"sent"``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simple_risk.adapters.replay import Recorder, read_records
from simple_risk.engine.dsl import load_ruleset
from simple_risk.whatif.runner import replay_files

ROOT = Path(__file__).resolve().parents[2]
RULESET = load_ruleset(ROOT / "rulesets" / "topstep.yaml")
ACCOUNT = 7001
MNQ = "CON.F.US.MNQ.Z26"
#: a Tuesday morning in Chicago (15:00 UTC = 09:00 CST), inside the regular session
OPEN = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _at(seconds: float) -> str:
    return (OPEN + timedelta(seconds=seconds)).isoformat()


def _contracts() -> dict[str, Any]:
    return {
        "at": _at(-5),
        "kind": "rest",
        "endpoint": "Contract/available",
        "request": {"live": False},
        "response": {
            "success": True,
            "errorCode": 0,
            "errorMessage": None,
            "contracts": [
                {
                    "id": MNQ,
                    "name": "MNQZ6",
                    "description": "Micro E-mini Nasdaq-100: December 2026",
                    "tickSize": 0.25,
                    "tickValue": 0.5,
                    "activeContract": True,
                    "symbolId": "F.US.MNQ",
                }
            ],
        },
    }


def _position_opened(seconds: float) -> dict[str, Any]:
    return {
        "at": _at(seconds),
        "kind": "hub",
        "hub": "user",
        "target": "GatewayUserPosition",
        "arguments": [
            {
                "action": 1,
                "data": {
                    "id": 1,
                    "accountId": ACCOUNT,
                    "contractId": MNQ,
                    "creationTimestamp": _at(seconds),
                    "type": 1,
                    "size": 1,
                    "averagePrice": 21000,
                },
            }
        ],
    }


def _positions_snapshot(
    seconds: float, sent: float | None, positions: list[Any], success: bool = True
) -> dict[str, Any]:
    record: dict[str, Any] = {"at": _at(seconds), "kind": "rest"}
    if sent is not None:
        record["sent"] = _at(sent)
    record.update(
        endpoint="Position/searchOpen",
        request={"accountId": ACCOUNT},
        response={
            "success": success,
            "errorCode": 0 if success else 1,
            "errorMessage": None,
            "positions": positions,
        },
    )
    return record


def _replay(tmp_path: Path, *records: dict[str, Any]) -> list[str]:
    path = tmp_path / "day.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    report = replay_files([path], RULESET, account=ACCOUNT)
    return [outcome.firing.rule_id for outcome in report.outcomes]


def test_a_position_the_snapshot_no_longer_lists_is_flat_and_breaks_no_rule(
    tmp_path: Path,
) -> None:
    # opened at 0 s on the hub; its close fell in a hub gap; the reconcile at 10 s lists none
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(10, sent=9.9, positions=[]),
        _positions_snapshot(120, sent=119.9, positions=[]),
    )
    assert "no-stop-loss-grace" not in fired


def test_without_the_snapshot_the_unprotected_position_would_be_closed(tmp_path: Path) -> None:
    # the same day without the reconcile: the rule the healing keeps quiet does fire
    fired = _replay(tmp_path, _contracts(), _position_opened(0), _at_two_minutes())
    assert "no-stop-loss-grace" in fired


def test_a_snapshot_older_than_a_hub_fact_heals_nothing(tmp_path: Path) -> None:
    # the request went out at 9 s, the position was announced at 9.5 s, the answer came at
    # 10 s without it: the gateway may have answered from before the position existed
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(9.5),
        _positions_snapshot(10, sent=9, positions=[]),
        _positions_snapshot(120, sent=None, positions=[]),
    )
    assert "no-stop-loss-grace" in fired


def test_a_hub_event_about_another_item_does_not_stop_the_healing(tmp_path: Path) -> None:
    # an order of the account moved on the hub while the snapshot was on its way: the
    # snapshot is still the word for the position (else a busy account never heals)
    order_moved = {
        "at": _at(9.95),
        "kind": "hub",
        "hub": "user",
        "target": "GatewayUserOrder",
        "arguments": [
            {
                "action": 1,
                "data": {
                    "id": 77,
                    "accountId": ACCOUNT,
                    "contractId": MNQ,
                    "creationTimestamp": _at(9.95),
                    "updateTimestamp": _at(9.95),
                    "status": 3,
                    "type": 1,
                    "side": 0,
                    "size": 1,
                    "limitPrice": 20000,
                },
            }
        ],
    }
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        order_moved,
        _positions_snapshot(10, sent=9.9, positions=[]),
        _positions_snapshot(120, sent=None, positions=[]),
    )
    assert "no-stop-loss-grace" not in fired


def test_a_recording_without_send_times_heals_nothing(tmp_path: Path) -> None:
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(10, sent=None, positions=[]),
        _positions_snapshot(120, sent=None, positions=[]),
    )
    assert "no-stop-loss-grace" in fired


def test_a_refused_or_unreadable_snapshot_heals_nothing(tmp_path: Path) -> None:
    refused = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(10, sent=9.9, positions=[], success=False),
        _positions_snapshot(120, sent=None, positions=[]),
    )
    unreadable = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(10, sent=9.9, positions=[{"id": "not a position"}]),
        _positions_snapshot(120, sent=None, positions=[]),
    )
    assert "no-stop-loss-grace" in refused
    assert "no-stop-loss-grace" in unreadable


def test_a_snapshot_that_lists_the_position_keeps_it(tmp_path: Path) -> None:
    listed = _listed_position(1, opened=0, price=21000)
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(10, sent=9.9, positions=[listed]),
        _positions_snapshot(120, sent=None, positions=[listed]),
    )
    assert "no-stop-loss-grace" in fired


def test_the_recorder_keeps_when_each_request_went_out(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    sent = OPEN + timedelta(milliseconds=80)
    with Recorder(path) as recorder:
        recorder.record_rest(OPEN + timedelta(milliseconds=95), "Order/searchOpen", {}, {}, sent)
        recorder.record_rest(OPEN, "Order/searchOpen", {}, {})
    first, second = read_records(path)
    assert first.sent == sent
    assert second.sent is None


def _at_two_minutes() -> dict[str, Any]:
    """A record that only moves the replay's time on (an unrelated contract lookup)."""
    return {
        "at": _at(120),
        "kind": "rest",
        "endpoint": "Contract/searchById",
        "request": {"contractId": MNQ},
        "response": {"success": True, "errorCode": 0, "errorMessage": None, "contract": None},
    }


def _trade(voided: bool) -> dict[str, Any]:
    """A closing MNQ fill that lost 600 (over the daily loss limit of 500)."""
    return {
        "id": 77,
        "accountId": ACCOUNT,
        "contractId": MNQ,
        "creationTimestamp": _at(1),
        "price": 20700,
        "profitAndLoss": -600,
        "fees": 0.37,
        "commissions": 0.25,
        "side": 1,
        "size": 1,
        "voided": voided,
        "orderId": 5,
    }


def _trade_on_the_hub(seconds: float, voided: bool) -> dict[str, Any]:
    return {
        "at": _at(seconds),
        "kind": "hub",
        "hub": "user",
        "target": "GatewayUserTrade",
        "arguments": [{"action": 0, "data": _trade(voided)}],
    }


def _trades_answer(seconds: float, sent: float, voided: bool) -> dict[str, Any]:
    return {
        "at": _at(seconds),
        "sent": _at(sent),
        "kind": "rest",
        "endpoint": "Trade/search",
        "request": {"accountId": ACCOUNT, "startTimestamp": _at(-3600)},
        "response": {
            "success": True,
            "errorCode": 0,
            "errorMessage": None,
            "trades": [_trade(voided)],
        },
    }


def test_a_fill_the_hub_voided_after_the_trade_search_went_out_stays_voided(
    tmp_path: Path,
) -> None:
    # the fill was busted on the hub at 5 s; the Trade/search asked at 4 s and answered at 6 s
    # still shows it live: as in the daemon, the hub's newer word stands, and the voided loss
    # of 600 breaks no daily limit
    fired = _replay(
        tmp_path,
        _contracts(),
        _trade_on_the_hub(5, voided=True),
        _trades_answer(6, sent=4, voided=False),
    )
    assert "daily-realized-loss" not in fired


def test_a_fill_the_trade_search_lists_after_the_hub_spoke_is_counted(tmp_path: Path) -> None:
    # the same answer asked after the hub's last word of the fill: it is the newer word
    fired = _replay(
        tmp_path,
        _contracts(),
        _trade_on_the_hub(5, voided=True),
        _trades_answer(7, sent=6, voided=False),
    )
    assert "daily-realized-loss" in fired


def _time_passes_to(seconds: float) -> dict[str, Any]:
    """A record that only moves the replay's time on (an unrelated contract lookup)."""
    return {**_at_two_minutes(), "at": _at(seconds)}


def _listed_position(position_id: int, opened: float, price: int = 21010) -> dict[str, Any]:
    """A long 1 MNQ as ``Position/searchOpen`` lists it."""
    return {
        "id": position_id,
        "accountId": ACCOUNT,
        "contractId": MNQ,
        "creationTimestamp": _at(opened),
        "type": 1,
        "size": 1,
        "averagePrice": price,
    }


def test_a_position_listed_under_another_id_is_a_new_one_with_its_own_grace(
    tmp_path: Path,
) -> None:
    # position 1 (no stop) opened at 0 s on the hub; its close and the trader's new MNQ,
    # position 2, fell in a hub gap; the reconcile at 25 s lists position 2. As in the
    # daemon, position 1 ended unseen: the new one's 30 s grace runs from 25 s, so at 50 s
    # nothing has been closed for a grace the old position ran up
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(25, sent=24.9, positions=[_listed_position(2, opened=24)]),
        _time_passes_to(50),
    )
    assert "no-stop-loss-grace" not in fired


def test_the_same_position_listed_again_keeps_its_grace(tmp_path: Path) -> None:
    # the snapshot lists position 1 itself: its grace ran from 0 s and is over at 30 s
    fired = _replay(
        tmp_path,
        _contracts(),
        _position_opened(0),
        _positions_snapshot(25, sent=24.9, positions=[_listed_position(1, opened=0)]),
        _time_passes_to(50),
    )
    assert "no-stop-loss-grace" in fired
