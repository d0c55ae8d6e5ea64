"""Several writers at once, and a writer killed with SIGKILL at any moment.

The daemon writes from its engine thread and its executor thread; on a desk several daemons
share one PostgreSQL store. Writers must queue (SQLite WAL + BEGIN IMMEDIATE + busy timeout),
never fail with "database is locked", and a process killed mid-write must leave a database
that opens, with every firing whole (its lockouts and intents, or nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from simple_risk.store import SCHEMA_VERSION, Store

from .samples import ACCOUNT, T0, daily_loss_firing, day_lockout, fills, flatten_intents


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def guarded(target: Callable[[], None]) -> None:
        try:
            start.wait()
            target()
        except BaseException as exc:  # collected and asserted on by the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return errors


def test_concurrent_writers_queue_and_lose_nothing(open_store: Callable[[], Store]) -> None:
    stores = [open_store() for _ in range(3)]
    batches = 12
    accounts = [ACCOUNT + i for i in range(4)]

    def journal(store: Store, account: int) -> Callable[[], None]:
        def write() -> None:
            for n in range(batches):
                store.append_events(account, fills(account, T0 + timedelta(minutes=n)))

        return write

    def fire(store: Store, account: int) -> Callable[[], None]:
        def write() -> None:
            for n in range(batches):
                at = T0 + timedelta(minutes=n)
                store.record_firing(
                    daily_loss_firing(account, at), [day_lockout(at)], flatten_intents(account, at)
                )

        return write

    def same_account(store: Store) -> Callable[[], None]:
        # Two writers on one account (e.g. a lease handover): seqs must still not collide.
        def write() -> None:
            for n in range(batches):
                store.append_events(ACCOUNT, fills(ACCOUNT, T0 + timedelta(hours=1, minutes=n)))

        return write

    targets = [journal(stores[i % 3], account) for i, account in enumerate(accounts)]
    targets += [fire(stores[(i + 1) % 3], account) for i, account in enumerate(accounts)]
    targets += [same_account(stores[2])]
    errors = run_threads(targets)
    assert not errors, errors

    reader = open_store()
    for account in accounts:
        expected = batches * 4 * (2 if account == ACCOUNT else 1)
        seqs = [entry.seq for entry in reader.events_since(account, 0)]
        assert seqs == list(range(1, expected + 1)), account
        assert len(reader.active_lockouts(T0 + timedelta(minutes=batches), account)) == batches
        assert len(reader.open_intents(account)) == 2 * batches


def test_readers_are_not_blocked_by_a_writer(open_store: Callable[[], Store]) -> None:
    writer, reader = open_store(), open_store()
    done = threading.Event()
    seen: list[int] = []

    def write() -> None:
        try:
            for n in range(40):
                writer.append_events(ACCOUNT, fills(ACCOUNT, T0 + timedelta(minutes=n)))
        finally:
            done.set()

    def read() -> None:
        while not done.is_set():
            seen.append(len(reader.events_since(ACCOUNT, 0)))
            reader.active_lockouts(T0)

    errors = run_threads([write, read])
    assert not errors, errors
    assert seen == sorted(seen)  # a reader only ever sees whole, growing prefixes
    assert all(n % 4 == 0 for n in seen)  # ... made of whole batches
    assert reader.last_seq(ACCOUNT) == 160


CHILD = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from tests.store.samples import T0, daily_loss_firing, day_lockout, fills, flatten_intents
    from simple_risk.store import Store

    store = Store.open(sys.argv[1])
    account = 4242
    for n in range(100000):
        at = T0 + timedelta(seconds=n)
        store.append_events(account, fills(account, at))
        store.record_firing(
            daily_loss_firing(account, at), [day_lockout(at)], flatten_intents(account, at)
        )
        print(n, flush=True)  # only after the commit: the executor would act now
    """
)


def test_a_writer_killed_at_any_moment_leaves_whole_firings(store_url: str, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    for kill_after in (3, 11, 25):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        assert child.stdout is not None
        committed = -1
        for line in child.stdout:
            committed = int(line)
            if committed >= kill_after:
                break
        # Mid-way through the next firing's writes, most likely.
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert committed >= kill_after, child.stderr.read() if child.stderr else ""

        with Store.open(store_url) as after:
            account = 4242
            journal = after.events_since(account, 0)
            assert [e.seq for e in journal] == list(range(1, len(journal) + 1))
            assert len(journal) % 4 == 0  # batches are whole
            firings = after.history(T0 - timedelta(days=1), kinds=["firing"], account=account)
            locks = after.history(T0 - timedelta(days=1), kinds=["lockout"], account=account)
            intents = after.open_intents(account)
            # Every firing the child reported is there, whole; nothing is there half-written.
            assert len(firings) > committed
            assert len(locks) == len(firings)
            assert len(intents) == 2 * len(firings)
            assert {item.details["firing_id"] for item in locks} == {
                item.details["firing_id"] for item in firings
            }
            # A replay of the whole run records no firing twice.
            for n in range(len(firings)):
                at = T0 + timedelta(seconds=n)
                again = after.record_firing(
                    daily_loss_firing(account, at), [day_lockout(at)], flatten_intents(account, at)
                )
                assert not again.created
        # The next round restarts on the same database: it replays what is there, then goes on.


def test_daemons_starting_together_create_the_schema_once(store_url: str) -> None:
    opened: list[Store] = []

    def start() -> None:
        opened.append(Store.open(store_url))

    errors = run_threads([start for _ in range(4)])
    try:
        assert not errors, errors
        assert {store.schema_version() for store in opened} == {SCHEMA_VERSION}
        opened[0].append_events(ACCOUNT, fills())
        assert opened[3].last_seq(ACCOUNT) == 4
    finally:
        for store in opened:
            store.close()
