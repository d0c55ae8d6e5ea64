"""Red team, issue #12 item 5: a member of the status socket's group tries to shut the admin
out and to slow enforcement by flooding the socket — against a real daemon and the simulator.

Every attack here comes from the test's own user, as a hostile group member's would from
theirs: the caps are per user, so one user is all an attack needs to show them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner

from simple_risk.cli import cli
from simple_risk.cli import commands as _commands  # noqa: F401  (registers the groups)
from simple_risk.daemon.config import StatusLimits
from simple_risk.daemon.control.admission import ADMIN, ORDINARY, PROBATION
from simple_risk.daemon.control.client import Connection, DaemonNotRunning
from simple_risk.daemon.control.protocol import ProtocolError, decode, encode
from simple_risk.daemon.sim import wait_until
from tests.daemon.conftest import ACCOUNT, PASSWORD, Running, Start, short_dir, start

__all__ = ["short_dir", "start"]  # the real-daemon fixtures of tests/daemon

BUSY = "the daemon is busy (too many connections)"

#: small numbers, so that one test can take every slot
LIMITS = StatusLimits(
    max_connections=8, per_user_connections=3, admin_reserved_connections=2, idle_timeout=30.0
)


def raw(run: Running) -> socket.socket:
    """A connection that has said nothing yet."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10.0)
    sock.connect(str(run.socket))
    return sock


def raw_tcp(run: Running, source: str = "127.0.0.1") -> socket.socket:
    """The same over the loopback TCP listener (another peer than the test's Unix user),
    from the loopback address ``source``."""
    assert run.daemon.server is not None and run.daemon.server.tcp_address is not None
    return socket.create_connection(
        run.daemon.server.tcp_address, timeout=10.0, source_address=(source, 0)
    )


def ask(sock: socket.socket, op: str, **extra: Any) -> dict[str, Any]:
    sock.sendall(encode({"id": 1, "op": op, "args": {}, **extra}))
    return read_line(sock, 65536)


def read_line(sock: socket.socket, chunk_size: int) -> dict[str, Any]:
    """The next line the daemon sends on ``sock``, read ``chunk_size`` bytes at a time."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(chunk_size)
        if not chunk:
            break
        line += chunk
    return decode(line)


def hung_up(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def counts(run: Running) -> dict[str, int]:
    assert run.daemon.server is not None
    return run.daemon.server.admission.counts()


def wait_counts(run: Running, expected: dict[str, int]) -> None:
    if not wait_until(lambda: counts(run) == expected, 10.0):
        assert counts(run) == expected


def error_of(call: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    return caught.value


@contextmanager
def spamming(run: Running, connections: list[socket.socket]) -> Iterator[list[int]]:
    """Each connection asks ``status`` in a loop until the block ends; yields the answers."""
    stop = threading.Event()
    answered = [0]

    def spam(sock: socket.socket) -> None:
        while not stop.is_set():
            try:
                reply = ask(sock, "status")
            except (OSError, ValueError, ProtocolError):
                return
            if reply.get("ok"):
                answered[0] += 1

    threads = [threading.Thread(target=spam, args=(sock,), daemon=True) for sock in connections]
    for thread in threads:
        thread.start()
    try:
        yield answered
    finally:
        stop.set()
        for sock in connections:
            sock.close()
        for thread in threads:
            thread.join(10)


def cli_run(run: Running, *args: str) -> Any:
    environment = {
        "SIMPLE_RISK_SOCKET": str(run.socket),
        "COLUMNS": "200",
        "SIMPLE_RISK_ADMIN_PASSWORD": PASSWORD,
    }
    return CliRunner().invoke(cli, list(args), env=environment)


# -- per-user caps -----------------------------------------------------------------------------


def test_one_user_holds_at_most_its_cap_and_is_told_the_daemon_is_busy(start: Start) -> None:
    run = start(status_limits=LIMITS)
    held = [raw(run) for _ in range(3)]
    for sock in held:
        assert ask(sock, "hello")["ok"] is True
    wait_counts(run, {ORDINARY: 3, PROBATION: 0, ADMIN: 0})

    # the 4th gets a slot kept for admin operations, on probation: a read is refused there
    refused = error_of(lambda: run.request("status"))
    assert refused.code == "busy"
    assert refused.message.startswith(BUSY)
    wait_counts(run, {ORDINARY: 3, PROBATION: 0, ADMIN: 0})  # and its connection closed
    # while one of its connections is on probation, the user gets no other at all
    silent = raw(run)
    wait_counts(run, {ORDINARY: 3, PROBATION: 1, ADMIN: 0})
    refused = error_of(lambda: run.request("hello"))
    assert refused.code == "busy"
    assert "already holds 3, the most one user may" in refused.message
    # the CLI says so — not "no daemon is running"
    for command in (["engine", "status"], ["admin", "set-password"]):
        result = cli_run(run, *command)
        assert result.exit_code == 1, command
        assert BUSY in result.output
        assert "no daemon is running" not in result.output

    held.pop().close()
    silent.close()
    wait_counts(run, {ORDINARY: 2, PROBATION: 0, ADMIN: 0})
    assert run.status()["id"] == ACCOUNT


def test_changing_loopback_address_does_not_make_another_user(start: Start) -> None:
    run = start(status_limits=LIMITS, status_tcp=("127.0.0.1", 0))
    held = [raw_tcp(run, f"127.0.0.{n}") for n in (1, 2, 3)]
    for sock in held:
        assert ask(sock, "hello")["ok"] is True
    silent = raw_tcp(run, "127.0.0.4")  # on probation
    wait_counts(run, {ORDINARY: 3, PROBATION: 1, ADMIN: 0})
    refused = error_of(
        lambda: Connection(f"tcp:{run.daemon.server.address_tcp()}").request("hello")
    )
    assert refused.code == "busy"
    for sock in [*held, silent]:
        sock.close()


# -- the admin's reserve -----------------------------------------------------------------------


def test_the_admin_gets_through_a_socket_full_of_status_spam(start: Start) -> None:
    limits = dataclasses.replace(LIMITS, per_user_connections=6)
    run = start(status_limits=limits, status_tcp=("127.0.0.1", 0))
    # the attacker (over TCP: another peer than the admin's Unix user) takes every ordinary
    # slot, asks status on each as fast as it is answered, and holds a reserved one silently
    flood = [raw_tcp(run) for _ in range(6)]
    with spamming(run, flood) as answered:
        silent = raw_tcp(run)
        wait_counts(run, {ORDINARY: 6, PROBATION: 1, ADMIN: 0})
        assert (
            error_of(
                lambda: Connection(f"tcp:{run.daemon.server.address_tcp()}").request("hello")
            ).code
            == "busy"
        )  # it gets nothing more
        run.wait(lambda: answered[0] > 10, "the spam to be answered")

        listed = run.admin("lockout_list")
        assert listed["lockouts"] == []
        wait_counts(run, {ORDINARY: 6, PROBATION: 1, ADMIN: 0})  # its connection closed
        result = cli_run(run, "admin", "lockout", "list")
        assert result.exit_code == 0, result.output
        wait_counts(run, {ORDINARY: 6, PROBATION: 1, ADMIN: 0})
        # an admin connection stays the admin's: more admin requests on it are served
        with run.connect() as admin:
            assert admin.request("auth_check", password=PASSWORD) == {}
            wait_counts(run, {ORDINARY: 6, PROBATION: 1, ADMIN: 1})
            assert admin.request("status", {"account": ACCOUNT})["accounts"][0]["id"] == ACCOUNT
        silent.close()


def test_a_reserved_slot_is_not_kept_without_the_right_password(start: Start) -> None:
    limits = dataclasses.replace(LIMITS, per_user_connections=6)
    run = start(status_limits=limits)
    flood = [raw(run) for _ in range(6)]
    with Connection(str(run.socket)) as guesser:
        assert guesser.request("hello")["version"] == 1  # hello is answered on probation
        wrong = error_of(lambda: guesser.request("lockout_list", password="not the password"))
        assert wrong.code == "auth_failed"
        with pytest.raises(DaemonNotRunning):
            guesser.request("hello")  # and then it is closed
    wait_counts(run, {ORDINARY: 6, PROBATION: 0, ADMIN: 0})
    sock = raw(run)
    reply = ask(sock, "lockout_list")  # no password at all (or throttled after the guess)
    assert reply["error"]["code"] in ("auth_required", "throttled")
    assert hung_up(sock)
    for held in flood:
        held.close()


def test_hellos_do_not_keep_a_reserved_slot(start: Start) -> None:
    run = start(status_limits=dataclasses.replace(LIMITS, per_user_connections=1, idle_timeout=0.5))
    ordinary = raw(run)
    assert ask(ordinary, "hello")["ok"] is True
    squatter = raw(run)
    wait_counts(run, {ORDINARY: 1, PROBATION: 1, ADMIN: 0})

    def keeps_saying_hello() -> bool:
        try:
            return ask(squatter, "hello")["ok"] is True
        except OSError:
            return False

    # hello is answered on probation, but the admin operation is due within one idle timeout
    # of connecting: however often the squatter says hello, it is closed by then
    assert wait_until(lambda: not keeps_saying_hello(), 5.0, interval=0.1)
    wait_counts(run, {ORDINARY: 0, PROBATION: 0, ADMIN: 0})  # the silent ordinary one too
    ordinary.close()
    squatter.close()


# -- idle connections --------------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(start: Start) -> None:
    run = start(status_limits=dataclasses.replace(LIMITS, idle_timeout=0.3))
    silent = raw(run)
    wait_counts(run, {ORDINARY: 1, PROBATION: 0, ADMIN: 0})
    notice = decode(silent.makefile("rb").readline())
    assert notice["id"] is None
    assert notice["error"] == {"code": "unavailable", "message": "closed: no request for 0.3s"}
    assert hung_up(silent)
    wait_counts(run, {ORDINARY: 0, PROBATION: 0, ADMIN: 0})
    # a client that keeps asking is never idle
    talking = raw(run)
    for _ in range(8):
        assert ask(talking, "hello")["ok"] is True
        assert not wait_until(lambda: False, 0.1)
    wait_counts(run, {ORDINARY: 1, PROBATION: 0, ADMIN: 0})
    talking.close()
    wait_counts(run, {ORDINARY: 0, PROBATION: 0, ADMIN: 0})


def test_a_monitor_is_not_idle_but_one_that_never_reads_is_dropped(start: Start) -> None:
    run = start(status_limits=dataclasses.replace(LIMITS, idle_timeout=0.5))
    monitor = run.daemon.monitor
    with run.connect() as watcher:
        assert watcher.request("subscribe", {"kinds": ["admin"]}) == {"subscribed": True}
        assert not wait_until(lambda: False, 1.0)  # twice the idle timeout without a word
        monitor.publish("admin", {"text": "still here"})
        assert watcher.receive()["text"] == "still here"

        texts: list[str] = []

        def read() -> None:
            with contextlib.suppress(DaemonNotRunning, ProtocolError):
                while True:
                    texts.append(watcher.receive().get("text", ""))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deaf = raw(run)
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert ask(deaf, "subscribe")["ok"] is True
        wait_counts(run, {ORDINARY: 2, PROBATION: 0, ADMIN: 0})
        filler = "x" * 8000
        # the deaf client's buffers fill; the daemon's writer waits, then drops it
        for _ in range(400):
            monitor.publish("admin", {"text": filler})
        wait_counts(run, {ORDINARY: 1, PROBATION: 0, ADMIN: 0})
        monitor.publish("admin", {"text": "the listener still listens"})
        run.wait(lambda: "the listener still listens" in texts, "the reading monitor's message")
        deaf.close()


# -- the engine is not crowded -----------------------------------------------------------------


def test_a_status_flood_shares_engine_reads_and_enforcement_goes_on(start: Start) -> None:
    limits = dataclasses.replace(LIMITS, per_user_connections=6)
    run = start(status_limits=limits)
    assert run.daemon.server is not None
    gate = run.daemon.server.ops.gate
    built = gate.reads_built
    with spamming(run, [raw(run) for _ in range(6)]) as answered:
        run.wait(lambda: answered[0] >= 60, "60 status answers")
        # a blocked symbol opened under the flood is still closed
        run.trader.buy(ACCOUNT, "RTY")
        run.wait(lambda: run.trader.size(ACCOUNT) == 0, "the RTY position to be closed")
    served = answered[0]
    engine_reads = gate.reads_built - built
    assert engine_reads < served / 2, (engine_reads, served)


# -- long lines ---------------------------------------------------------------------------------

#: a request line of 4 MiB of empty JSON lists: parsing it holds the interpreter for ~0.2 s
LONG_LINE = b'{"id": 1, "op": "hello", "x": [' + b"[]," * ((4 * 1024 * 1024 - 64) // 3) + b"0]}\n"


def ask_nothing(sock: socket.socket) -> dict[str, Any]:
    """The next line the daemon sends on ``sock``, a byte at a time (nothing beyond it)."""
    return read_line(sock, 1)


def time_to_close(run: Running) -> float:
    """Seconds from the trader buying a blocked RTY to the daemon having closed it."""
    began = time.monotonic()
    run.trader.buy(ACCOUNT, "RTY")
    run.wait(lambda: run.trader.size(ACCOUNT) == 0, "the RTY position to be closed")
    return time.monotonic() - began


@contextmanager
def sending_long_lines(run: Running, connections: int) -> Iterator[None]:
    """Each of ``connections`` threads sends ``LONG_LINE`` in a loop (a new connection
    whenever the daemon hangs up) until the block ends."""
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            try:
                with raw(run) as sock:
                    while not stop.is_set():
                        sock.sendall(LONG_LINE)
                        sock.recv(65536)
            except OSError:
                continue

    threads = [threading.Thread(target=send, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def test_a_long_line_from_a_connection_no_admin_has_proven_is_not_parsed(start: Start) -> None:
    """Parsing a JSON line holds the interpreter the engine needs, and a line may be 4 MiB
    (a ruleset sent by ``admin config edit``). Any member of the socket's group could send
    4 MiB of ``[],`` — 0.2 s of parsing each — from six connections in a loop: a blocked RTY
    the trader bought was closed after 0.5 to 1.3 s instead of 25 ms. A line longer than
    64 KiB is now read only on a connection where an admin operation has succeeded; anywhere
    else it is answered ``bad_request``, unparsed, and the connection is closed."""
    run = start(status_limits=dataclasses.replace(LIMITS, per_user_connections=6))
    sock = raw(run)
    with contextlib.suppress(BrokenPipeError):  # the daemon hangs up before the end of it
        sock.sendall(LONG_LINE)
    answer = ask_nothing(sock)
    assert answer["error"]["code"] == "bad_request"
    assert "longer than 64 KiB" in answer["error"]["message"]
    assert hung_up(sock)
    with sending_long_lines(run, 6):
        for _ in range(3):
            closed_in = time_to_close(run)
            assert closed_in < 0.25, f"a blocked RTY was closed after {closed_in:.2f} s"
    # the admin, once the password has passed on the connection, may send a long line
    with run.connect() as connection:
        connection.request("auth_check", password=PASSWORD, operator="desk-lead")
        assert connection.request("hello", {"padding": "x" * 200_000})["pid"] > 0


def test_a_users_long_requests_wait_their_turn_by_their_size(start: Start) -> None:
    """A user's requests are paced at 200 a second after a burst of 200, and a request counts
    once per KiB of its line: ten lines of 60 KiB are 600 requests' worth, so the last of
    them waits about 2 s (before, they took the interpreter as fast as they were sent)."""
    run = start()
    line = encode({"id": 1, "op": "hello", "args": {"padding": "x" * 60 * 1024}})
    sock = raw(run)
    began = time.monotonic()
    for _ in range(10):
        sock.sendall(line)
        assert ask_nothing(sock)["ok"]
    assert time.monotonic() - began >= 1.5
