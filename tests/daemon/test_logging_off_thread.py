"""The daemon's log lines are written off the enforcement path, and none is lost on the way."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import time_machine

from simple_risk.adapters.topstepx.secrets import REDACTED, register_secret
from simple_risk.daemon.logging import OffThreadHandler, configure_logging, remove_handlers

log = logging.getLogger("simple_risk.test_logging")


@pytest.fixture(autouse=True)
def _root_level_restored() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


class _Writers(io.StringIO):
    """A console that remembers which threads wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def write(self, text: str) -> int:
        self.threads.add(threading.current_thread().name)
        return super().write(text)


def test_the_logging_thread_writes_every_line_in_order_and_the_caller_none() -> None:
    console = _Writers()
    handlers = configure_logging(level="info", stream=console)
    try:
        assert [type(h) for h in handlers] == [OffThreadHandler]
        for n in range(500):
            log.info("line %d", n)
    finally:
        remove_handlers(handlers)  # writes what is still queued
    mine = [line for line in console.getvalue().splitlines() if log.name in line]
    numbers = [line.rsplit(" ", 1)[1] for line in mine]  # other threads of the session log too
    assert numbers == [str(n) for n in range(500)]
    assert threading.current_thread().name not in console.threads


def test_an_argument_changed_after_the_call_is_logged_as_it_was() -> None:
    console = io.StringIO()
    handlers = configure_logging(level="info", stream=console)
    try:
        held = ["as it was"]
        log.info("value %s", held)
        held[0] = "changed later"
    finally:
        remove_handlers(handlers)
    assert "['as it was']" in console.getvalue()
    assert "changed later" not in console.getvalue()


def test_json_lines_keep_the_exception_apart_and_every_secret_redacted() -> None:
    secret = "tok-4f9a6c1e-never-shown"
    register_secret(secret)
    console = io.StringIO()
    handlers = configure_logging(level="info", log_format="json", stream=console)
    try:
        try:
            raise ValueError(f"refused {secret}")
        except ValueError:
            log.exception("refresh failed for %s", secret)
    finally:
        remove_handlers(handlers)
    entry = next(
        json.loads(line) for line in console.getvalue().splitlines() if "refresh failed" in line
    )
    assert entry["message"] == f"refresh failed for {REDACTED}"
    assert "ValueError" in entry["exception"] and REDACTED in entry["exception"]
    assert secret not in console.getvalue()


def test_lines_below_the_level_are_not_written() -> None:
    console = io.StringIO()
    handlers = configure_logging(level="warning", stream=console)
    try:
        log.info("quiet")
        log.warning("loud")
    finally:
        remove_handlers(handlers)
    assert "loud" in console.getvalue() and "quiet" not in console.getvalue()


def test_a_text_line_carries_its_utc_offset_so_the_repeated_autumn_hour_reads_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chicago's clocks go back at 02:00 CDT on 2026-11-01: 01:30 happens at 06:30 and at 07:30
    # UTC; a line that says only "01:30" cannot tell the two apart, nor the order of events
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    console = io.StringIO()
    handlers = configure_logging(level="info", stream=console)
    try:
        for instant in ("2026-11-01T06:30:00+00:00", "2026-11-01T07:30:00+00:00"):
            with time_machine.travel(datetime.fromisoformat(instant).timestamp(), tick=False):
                log.info("at %s", instant)
    finally:
        remove_handlers(handlers)
        monkeypatch.undo()
        time.tzset()
    mine = [line for line in console.getvalue().splitlines() if log.name in line]
    assert mine[0].startswith("2026-11-01 01:30:00.000-05:00 INFO")
    assert mine[1].startswith("2026-11-01 01:30:00.000-06:00 INFO")
