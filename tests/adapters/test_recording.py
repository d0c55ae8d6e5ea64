"""What ``engine run --record DIR`` writes: private files, no secrets, one file per run and day."""

from __future__ import annotations

import errno
import os
import stat
import string
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_risk.adapters.replay import RecordingDir, read_records, replay
from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.engine.events import ContractLoaded, OrderUpdate

START = datetime(2026, 8, 19, 23, 59, 58, tzinfo=UTC)
ORDER = {
    "action": 1,
    "data": {
        "id": 9001,
        "accountId": 7,
        "contractId": "CON.F.US.MNQ.U26",
        "creationTimestamp": "2026-08-19T23:59:58.1234567+00:00",
        "status": 1,
        "type": 1,
        "side": 0,
        "size": 1,
        "limitPrice": 23000.25,
        "fillVolume": 0,
    },
}
CONTRACT = {
    "success": True,
    "errorCode": 0,
    "errorMessage": None,
    "contract": {
        "id": "CON.F.US.MNQ.U26",
        "name": "MNQU6",
        "description": "Micro E-mini Nasdaq-100: September 2026",
        "tickSize": 0.25,
        "tickValue": 0.5,
        "activeContract": True,
        "symbolId": "F.US.MNQ",
    },
}


@pytest.fixture
def open_umask() -> object:
    previous = os.umask(0o000)  # the most permissive umask: the files must stay private anyway
    yield previous
    os.umask(previous)


def test_recording_files_are_owner_only_whatever_the_umask(
    tmp_path: Path, open_umask: object
) -> None:
    recording = RecordingDir(tmp_path / "rec", started_at=START)
    recording.record_hub(START, "user", "GatewayUserOrder", [ORDER])
    recording.close()
    (path,) = recording.paths
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "rec").stat().st_mode) == 0o700


def test_a_new_utc_day_starts_a_new_file_and_both_replay(tmp_path: Path) -> None:
    recording = RecordingDir(tmp_path, started_at=START)
    recording.record_rest(START, "Contract/searchById", {"contractId": "x"}, CONTRACT)
    recording.record_hub(START + timedelta(seconds=3), "user", "GatewayUserOrder", [ORDER])
    recording.close()
    assert [p.name for p in recording.paths] == [
        "2026-08-19-235958.jsonl",
        "2026-08-20-235958.jsonl",
    ]
    first = list(replay(recording.paths[0]))
    second = list(replay(recording.paths[1]))
    assert isinstance(first[0], ContractLoaded) and first[0].contract.root == "MNQ"
    assert isinstance(second[0], OrderUpdate) and second[0].at == START + timedelta(seconds=3)


def test_secrets_never_reach_a_recording(tmp_path: Path) -> None:
    api_key = "k3y-Registered-Secret-Value"
    register_secret(api_key)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl"
    recording = RecordingDir(tmp_path, started_at=START)
    recording.record_rest(
        START,
        "Order/searchOpen",
        {"accountId": 7, "apiKey": api_key},
        {"success": True, "orders": [], "note": f"Bearer {jwt}", "echo": f"key={api_key}"},
    )
    recording.record_hub(START, "user", "GatewayLogout", [{"reason": jwt}])
    recording.close()
    text = recording.paths[0].read_text()
    assert api_key not in text and jwt not in text
    assert text.count("***") >= 4
    assert len(list(read_records(recording.paths[0]))) == 2


def test_each_line_is_on_disk_once_written(tmp_path: Path) -> None:
    """No buffering beyond the line in flight: what was written is readable before close."""
    recording = RecordingDir(tmp_path, started_at=START)
    recording.record_hub(START, "user", "GatewayUserOrder", [ORDER])
    deadline = time.monotonic() + 5
    while recording.written < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recording.written == 1
    assert len(list(read_records(recording.paths[0]))) == 1
    recording.close()
    recording.record_hub(START, "user", "GatewayUserOrder", [ORDER])  # after close: dropped
    assert len(list(read_records(recording.paths[0]))) == 1


def test_an_unusable_directory_is_reported_before_anything_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError):
        RecordingDir(blocker / "recordings", started_at=START)


def test_a_day_file_that_cannot_be_opened_never_stops_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recording = RecordingDir(tmp_path, started_at=START)
    (tmp_path / "2026-08-20-235958.jsonl").mkdir()  # the next day's file cannot be opened
    later = START + timedelta(seconds=3)
    recording.record_hub(later, "user", "GatewayUserOrder", [ORDER])  # must not raise
    recording.close()
    assert "cannot start the recording of 2026-08-20" in caplog.text
    assert [p.name for p in recording.paths] == ["2026-08-19-235958.jsonl"]
    (record,) = read_records(recording.paths[0])
    assert record.at == later
    assert recording.written == 1


def test_a_payload_that_cannot_be_written_is_skipped_and_recording_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recording = RecordingDir(tmp_path, started_at=START)
    recording.record_hub(START, "user", "GatewayUserOrder", [object()])
    recording.record_hub(START, "user", "GatewayUserOrder", [ORDER])
    recording.close()
    assert "not recorded" in caplog.text
    assert len(list(read_records(recording.paths[0]))) == 1


_SECRET_KEYS = {"apikey", "token", "newtoken", "password", "authorization", "access_token"}
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,_", max_size=12)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=7, min_value=-(10**9), max_value=10**9
    )
    | _TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_TEXT.filter(lambda k: k.lower() not in _SECRET_KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arguments=st.lists(_JSON, max_size=3))
def test_any_hub_payload_comes_back_exactly_with_its_receive_time(
    arguments: list[object], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """What was received is what a replay reads: same values (decimals exact), same time."""
    directory = tmp_path_factory.mktemp("rec")
    recording = RecordingDir(directory, started_at=START)
    recording.record_hub(START, "market", "GatewayQuote", arguments)
    recording.close()
    (record,) = read_records(recording.paths[0])
    assert record.at == START and record.target == "GatewayQuote"
    assert record.payload == arguments


class _FullDisk:
    """A recording file on a disk that is full until told otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.full = True
        self.refused = 0

    def write(self, text: str) -> int:
        if self.full:
            self.refused += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


def test_a_full_disk_is_said_once_and_the_recording_goes_on_when_it_has_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A day's recording on a full disk: one error, not one per hub message (thousands a
    minute), then a line saying how many were lost once the disk has room again."""
    recording = RecordingDir(tmp_path, started_at=START)
    recorder = recording._current
    disk = recorder._stream = _FullDisk(recorder._stream)
    for _ in range(50):
        recording.record_hub(START, "user", "GatewayUserOrder", [ORDER])
    deadline = time.monotonic() + 5
    while disk.refused < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    disk.full = False
    recording.record_hub(START, "user", "GatewayUserOrder", [ORDER])
    recording.close()
    assert caplog.text.count("recording to") == 2, caplog.text
    assert "what arrives meanwhile is not recorded" in caplog.text
    assert "50 records were not recorded" in caplog.text
    assert recording.written == 1
    assert len(list(read_records(recording.paths[0]))) == 1
