"""Who may run an admin operation (daemon/control/auth.py): the password checked by the
daemon, guessing throttled per peer, and every failure audited — without letting a guesser
write the store as fast as it can send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simple_risk.adapters.topstepx import secrets
from simple_risk.adapters.topstepx.secrets import redact_text
from simple_risk.daemon.control.auth import Authenticator, Peer, Throttle
from simple_risk.daemon.control.protocol import ProtocolError
from simple_risk.daemon.password import hash_password
from simple_risk.store import Store

PASSWORD = "correct horse battery"
TRADER = Peer("unix", uid=1001, pid=4242, user="trader")


class Clock:
    """The throttle's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'audit.db'}")
    yield opened
    opened.close()


def authenticator(store: Store, clock: Clock) -> Authenticator:
    hashed = hash_password(PASSWORD, rounds=4)
    return Authenticator(
        lambda: hashed,
        store,
        lambda: datetime(2027, 1, 13, 16, 0, tzinfo=UTC),
        throttle=Throttle(base=1.0, cap=300.0, clock=clock),
    )


def refusal(auth: Authenticator, password: str) -> str:
    with pytest.raises(ProtocolError) as caught:
        auth.check(TRADER, password, "lockout_clear", "trader")
    return caught.value.code


def test_tries_while_throttled_are_refused_unchecked_and_audited_once_per_wait(
    store: Store,
) -> None:
    """A trader who sends guesses in a loop while throttled is refused each time, but the
    audit gets one ``throttled`` row per wait, not one per try: otherwise thousands of rows a
    second fill the daemon's disk and bury the real attempts under noise."""
    clock = Clock()
    auth = authenticator(store, clock)
    assert refusal(auth, "a wrong guess") == "auth_failed"
    for _ in range(500):
        assert refusal(auth, PASSWORD) == "throttled"  # even the right one, unchecked
    clock.now += 1.0  # the first wait is over
    assert refusal(auth, "another wrong guess") == "auth_failed"
    for _ in range(500):
        assert refusal(auth, "a third wrong guess") == "throttled"
    actions = [action.action for action in store.admin_actions()]
    assert actions == ["auth_failed", "throttled", "auth_failed", "throttled"]
    throttled = [a for a in store.admin_actions() if a.action == "throttled"]
    assert "trader (uid 1001, pid 4242)" in throttled[0].who
    assert "until the wait ends" in throttled[0].result


def test_the_right_password_after_the_wait_passes_and_is_not_throttled(store: Store) -> None:
    clock = Clock()
    auth = authenticator(store, clock)
    assert refusal(auth, "a wrong guess") == "auth_failed"
    assert refusal(auth, PASSWORD) == "throttled"
    clock.now += 1.0
    auth.check(TRADER, PASSWORD, "lockout_clear", "desk")
    assert refusal(auth, "a wrong guess") == "auth_failed"  # counted afresh: 1 s again
    clock.now += 1.0
    auth.check(TRADER, PASSWORD, "lockout_clear", "desk")


def test_the_name_a_client_gives_reaches_the_audit_without_terminal_controls(
    store: Store,
) -> None:
    """``operator`` is free text from whoever is on the socket. Escape sequences in it went
    into the audit as they were and then to the admin's terminal in ``engine history``: a
    trader could erase the lines above (ESC [1A ESC [2K), recolour or retitle what the admin
    reads. Each control character becomes a space; the name is kept, on one line."""
    clock = Clock()
    auth = authenticator(store, clock)
    sneaky = "desk-lead\x1b[1A\x1b[2K\x1b]0;title\x07\x9b2K\rcleared\x7f"
    with pytest.raises(ProtocolError):
        auth.check(TRADER, "a wrong guess", "lockout_clear", sneaky)
    (failed,) = store.admin_actions()
    assert failed.who == "desk-lead [1A [2K ]0;title 2K cleared via trader (uid 1001, pid 4242)"
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in failed.who)


@pytest.fixture
def registered_secrets() -> Iterator[None]:
    """The log's registry of secret values, as it was before the test (it is the process's)."""
    before = set(secrets._registered)
    yield
    with secrets._lock:
        secrets._registered.intersection_update(before)


@pytest.mark.usefixtures("registered_secrets")
def test_a_wrong_guess_does_not_become_a_word_the_log_hides(store: Store) -> None:
    """Anyone on the socket chooses what they send as a password. A wrong one of 8
    characters or more was registered as a secret, and every later line of the daemon's log
    had it replaced by ``***``: a trader who "guessed" the account id and the daily loss
    rule's id read, in ``admin logs`` and the log file, ``FIRING *** account=***`` for the
    breach that flattened them. Only the password the daemon accepts is a secret."""
    clock = Clock()
    auth = authenticator(store, clock)
    line = "FIRING daily-realized-loss account=20100001: daily loss limit"
    for guess in ("20100001", "daily-realized-loss"):
        assert refusal(auth, guess) == "auth_failed"
        clock.now += 300.0  # past the throttle's wait
    assert redact_text(line) == line
    auth.check(TRADER, PASSWORD, "lockout_clear", "desk")
    assert redact_text(f"{line} ({PASSWORD})") == f"{line} (***)"


def test_a_wait_almost_over_is_never_told_as_zero_seconds(store: Store) -> None:
    """An admin who mistyped, then typed the password again just under a second later, was
    told "too many wrong passwords; try again in 0.0s": refused, and told to wait for nothing.
    What is left of the wait is rounded up, never to zero."""
    clock = Clock()
    auth = authenticator(store, clock)
    assert refusal(auth, "a wrong guess") == "auth_failed"
    clock.now += 0.97
    with pytest.raises(ProtocolError) as caught:
        auth.check(TRADER, PASSWORD, "lockout_list", "desk")
    assert caught.value.code == "throttled"
    assert caught.value.message == "too many wrong passwords; try again in 0.1s"
