"""A seeded chaos schedule: faults nobody scripted.

A real ``simple-risk engine run`` (recording the day) guards one account on the simulator,
a scripted trader trades a compressed session, and a schedule drawn from one seed mixes the
trader's moves with every fault hook the simulator has — 429/500/timeout bursts, a 429 or
503 carrying Retry-After, late answers, hub drops, refused hub connects and subscriptions,
lost connections, revoked session tokens, GatewayLogout — a store another writer holds, and
``kill -9`` of the daemon at random moments. A ``--runslow`` schedule also draws the faults
that outlast the account lease (15 s): the store held past it, the daemon's process stopped
(SIGSTOP) and its engine thread alone held up (the daemon then runs through
``stalling_engine_run.py``). Whatever the draw, once the gateway answers again:

* ``enforced``: every breach of a mandatory rule is enforced within :data:`BOUND` s — an
  unprotected position is closed (no-stop-loss-grace), nothing is open or working under the
  day's loss lock (daily-realized-loss), and no blocked symbol is held;
* ``nothing_unasked``: the trader's legal MNQ positions (each under its stop) and MNQ
  resting orders are never closed, reduced or cancelled before the day's loss reaches its
  limit (on the venue's clock); no
  position is reduced at all (the trader never holds more than a limit);
* ``locks_survive`` and ``pnl_matches`` after every kill (the crash test's checks);
* at the end: every breach of a mandatory rule that the recording replays to
  (``simple-risk replay``) was fired by the daemon too; no part of the daemon died (its
  status, its log); the store is consistent (journal sequences without gaps, every intent
  finished and tied to its firing, every lockout to its firing, no firing twice).

Two seeds in CI (seven steps and at least one kill each, under 30 s together).
``SIMPLE_RISK_CHAOS_SEEDS=N`` runs N seeds, ``--runslow`` makes each schedule 60 steps long,
and ``SIMPLE_RISK_CHAOS_SEED=S`` runs seed S alone (a failure names its seed and every step of
its schedule).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from simple_risk.adapters.simulator import Simulator
from simple_risk.daemon.sim import wait_until
from simple_risk.engine.events import WORKING_STATUSES, OrderSide, OrderType

from .test_crash import ACCOUNT, DaemonProcess, Day, _locks, start_system

DAILY_LOSS_LIMIT = Decimal(500)  # the shipped ruleset's
#: the no-stop grace: shorter than the REST faults drawn — a refused order subscription leaves
#: a position's stop to the next reconcile, which a timeout or a late answer holds up to 3 s,
#: and the close the grace asks for meanwhile must wait for REST's orders (seed 2)
GRACE = 1
BOUND = 10.0  # s from the gateway answering again to every breach enforced
MANDATORY = ("daily-realized-loss", "no-stop-loss-grace")
LEASE_TTL = 15.0  # s: the daemon's account lease (RuntimeOptions.lease_ttl)
RETRY_AFTER_MAX = 4  # s: the longest Retry-After drawn (enforcement waits it out, in BOUND)
LATE_ENDPOINTS = (
    "Position/closeContract",
    "Order/cancel",
    "Order/searchOpen",
    "Position/searchOpen",
    "Trade/search",
)


def _seeds() -> list[int]:
    chosen = os.environ.get("SIMPLE_RISK_CHAOS_SEED")
    if chosen:
        return [int(chosen)]
    return list(range(1, 1 + int(os.environ.get("SIMPLE_RISK_CHAOS_SEEDS", "2"))))


class Schedule(Day):
    """The trader's compressed session and the faults drawn from one seed."""

    def __init__(
        self, sim: Simulator, daemon: DaemonProcess, rng: random.Random, long: bool = False
    ) -> None:
        super().__init__(sim, daemon, rng)
        #: a --runslow schedule: it may also draw the faults that take longer than a lease
        self.long = long
        self.steps: list[str] = []
        self.losses = 0
        self.protected_lots = 0
        self.resting = 0
        #: the store's blockers, with when each lets go (monotonic)
        self.blocks: list[tuple[float, sqlite3.Connection]] = []

    def log(self, what: str) -> None:
        self.steps.append(f"{self.sim.clock().time().isoformat(timespec='milliseconds')} {what}")

    # -- the trader ----------------------------------------------------------------------------

    def unprotected_buy(self) -> None:
        root = self.rng.choice(["MES", "EP"])
        size = self.rng.randint(1, 2) if root == "MES" else 1
        self.log(f"trader: buys {size} {root} without a stop")
        self.trader.buy(ACCOUNT, root, size)

    def protected_buy(self) -> None:
        """1 MNQ under its own stop: legal until the day's loss lock."""
        if self.protected_lots >= 4:
            return self.idle()
        self.log("trader: buys 1 MNQ under a stop")
        price = self.trader.price("MNQ")
        self.trader.stop(ACCOUNT, "MNQ", OrderSide.SELL, 1, price - 20)
        self.trader.buy(ACCOUNT, "MNQ")
        self.protected_lots += 1
        return None

    def resting_limit(self) -> None:
        if self.resting >= 2:
            return self.idle()
        self.log("trader: rests a buy limit of 1 MNQ far below")
        self.trader.limit(ACCOUNT, "MNQ", OrderSide.BUY, 1, self.trader.price("MNQ") - 400)
        self.resting += 1
        return None

    def blocked_buy(self) -> None:
        self.log("trader: buys 1 RTY (blocked)")
        self.trader.buy(ACCOUNT, "RTY")

    def losing_trade(self) -> None:
        """1 ES under a wide stop, then ES falls 7 points (-350): the open loss is closed by
        daily-unrealized-loss; the second such loss reaches the day's limit."""
        if self.losses >= 2:
            return self.idle()
        self.log("trader: buys 1 ES under a wide stop, ES falls 7 points")
        self.losses += 1
        self.loss()
        return None

    def idle(self) -> None:
        self.log("trader: waits")

    # -- the gateway misbehaving ---------------------------------------------------------------

    def burst(self) -> None:
        kind = self.rng.choice([429, 500, "timeout"])
        count = self.rng.randint(1, 5 if kind != "timeout" else 2)
        self.log(f"gateway: the next {count} calls answer {kind}")
        self.sim.fail_next(count, kind)  # type: ignore[arg-type]

    def asked_to_wait(self) -> None:
        """A 429 or 503 carrying Retry-After: the daemon holds every call of that kind (its
        rate-limit bucket) that long, enforcement's included, and retries when it ends."""
        status = self.rng.choice([429, 503])
        seconds = self.rng.randint(1, RETRY_AFTER_MAX)
        count = self.rng.randint(1, 3)
        self.log(f"gateway: the next {count} calls answer {status}, Retry-After {seconds} s")
        self.sim.fail_next(count, status, retry_after=str(seconds))

    def late(self) -> None:
        endpoint = self.rng.choice(LATE_ENDPOINTS)
        seconds = round(self.rng.uniform(0.2, 2.0), 2)
        count = self.rng.randint(1, 2)
        self.log(f"gateway: the next {count} {endpoint} answer {seconds} s late")
        self.sim.answer_late(endpoint, seconds, count)

    def hub_drop(self) -> None:
        self.log("gateway: drops every hub connection")
        self.sim.drop_connections()

    def hub_refused(self) -> None:
        seconds = round(self.rng.uniform(0.3, 2.0), 2)
        self.log(f"gateway: drops the hubs and refuses hub connects for {seconds} s")
        self.sim.refuse_hub_connections(seconds)
        self.sim.drop_connections()

    def connections_lost(self) -> None:
        count = self.rng.randint(1, 3)
        self.log(f"gateway: drops the hubs, the next {count} connects are not found")
        self.sim.lose_connections(count)
        self.sim.drop_connections()

    def subscriptions_refused(self) -> None:
        count = self.rng.randint(1, 2)
        self.log(f"gateway: drops the hubs, refuses the next {count} subscriptions")
        self.sim.refuse_subscriptions(count)
        self.sim.drop_connections()

    def tokens_revoked(self) -> None:
        self.log("gateway: revokes every session token")
        self.sim.revoke_tokens()

    def logout(self) -> None:
        hub = self.rng.choice(["user", "market", None])
        self.log(f"gateway: sends GatewayLogout on {hub or 'both'} hub(s)")
        self.sim.send_logout(hub)

    def store_blocked(self) -> None:
        """Another writer holds the daemon's database: its writes wait (enforcement goes on
        from memory) until the block ends."""
        seconds = round(self.rng.uniform(0.3, 2.5), 2)
        self.log(f"store: blocked for {seconds} s")
        if self.blocks:  # already held: for longer
            until, blocker = self.blocks[0]
            self.blocks[0] = (max(until, time.monotonic() + seconds), blocker)
            return
        database = self.daemon.status_path.parent / "simple-risk.db"
        blocker = sqlite3.connect(database, isolation_level=None, timeout=10.0)
        blocker.execute("BEGIN IMMEDIATE")
        self.blocks.append((time.monotonic() + seconds, blocker))

    def store_held_past_the_lease(self) -> None:
        """Another writer holds the database longer than the lease lives: no renewal gets
        through, so the daemon stops enforcing a sixth of the lease before its end (it cannot
        know that nobody took the account), takes the lease back once the store answers, and
        reconciles. The trader trades meanwhile."""
        seconds = round(self.rng.uniform(LEASE_TTL + 1, LEASE_TTL + 4), 1)
        self.log(f"store: held for {seconds} s, past the lease's {LEASE_TTL:g} s")
        ends = time.monotonic() + seconds
        database = self.daemon.status_path.parent / "simple-risk.db"
        blocker = sqlite3.connect(database, isolation_level=None, timeout=10.0)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            time.sleep(self.rng.uniform(0.5, seconds - 0.5))
            self.rest_calm()
            self._draw([(self.unprotected_buy, 2), (self.blocked_buy, 1), (self.idle, 1)])()
            time.sleep(max(ends - time.monotonic(), 0.0))
        finally:
            blocker.rollback()
            blocker.close()

    def paused(self) -> None:
        """The daemon's process stands still (SIGSTOP: a virtual machine paused, a host
        starved): every thread of it, the engine's and the lease's, longer than the lease's
        last sixth; it must come back to guard the account."""
        seconds = round(self.rng.uniform(LEASE_TTL * 5 / 6, LEASE_TTL + 3), 1)
        self.log(f"daemon: stopped (SIGSTOP) for {seconds} s")
        self.daemon.pause(seconds)

    def engine_stalled(self) -> None:
        """The engine thread alone is held up (a long command, a restore, a login the gateway
        keeps waiting) past the lease's life; the lease thread keeps the account's lease, and
        the engine enforces what happened meanwhile once it gets back."""
        seconds = round(self.rng.uniform(LEASE_TTL * 5 / 6, LEASE_TTL + 3), 1)
        self.log(f"daemon: its engine thread held up for {seconds} s")
        ends = time.monotonic() + seconds
        self.daemon.stall_engine(seconds)
        time.sleep(self.rng.uniform(0.5, seconds - 0.5))
        self.rest_calm()
        self._draw([(self.unprotected_buy, 2), (self.blocked_buy, 1), (self.idle, 1)])()
        time.sleep(max(ends - time.monotonic(), 0.0))

    def unblock(self, everything: bool = False) -> None:
        now = time.monotonic()
        for entry in list(self.blocks):
            if everything or entry[0] <= now:
                entry[1].rollback()
                entry[1].close()
                self.blocks.remove(entry)

    def kill(self) -> None:
        self.log("daemon: kill -9, then started again")
        before = self.daemon.status() or {}
        self.daemon.kill()
        self.healed()
        self.daemon.start()
        self.check(before)  # locks_survive, pnl_matches, never_twice

    # -- the schedule --------------------------------------------------------------------------

    def step(self) -> None:
        moves: list[tuple[Callable[[], None], int]] = [
            (self.unprotected_buy, 3),
            (self.protected_buy, 3),
            (self.resting_limit, 1),
            (self.blocked_buy, 2),
            (self.losing_trade, 2),
            (self.idle, 1),
        ]
        faults: list[tuple[Callable[[], None], int]] = [
            (self.burst, 4),
            (self.late, 3),
            (self.hub_drop, 2),
            (self.hub_refused, 1),
            (self.connections_lost, 1),
            (self.subscriptions_refused, 1),
            (self.tokens_revoked, 1),
            (self.logout, 1),
            (self.store_blocked, 2),
            (self.kill, 2),
            (self.asked_to_wait, 2),
        ]
        if self.long:  # a schedule of --runslow: faults that last past the lease's life
            faults += [
                (self.store_held_past_the_lease, 1),
                (self.paused, 1),
                (self.engine_stalled, 1),
            ]
        trading = [move for move, _ in moves]
        chosen = [self._draw(faults) for _ in range(self.rng.randint(0, 2))]
        chosen.insert(self.rng.randint(0, len(chosen)), self._draw(moves))
        for action in chosen:
            if action in trading:
                self.rest_calm()
            action()
            time.sleep(self.rng.uniform(0.0, 0.3))
            self.unblock()
        self.healed()
        self.enforced()
        self.nothing_unasked()

    def rest_calm(self) -> None:
        """The trader's own calls meet none of the REST faults meant for the daemon: the
        daemon takes them first (its reconciles), and what it has not taken in 3 s goes."""
        wait_until(lambda: not self.sim.faults.pending, 3.0, interval=0.05)
        self.sim._call(self.sim.faults.pending.clear)

    def _draw(self, weighted: list[tuple[Callable[[], None], int]]) -> Callable[[], None]:
        actions, weights = zip(*weighted, strict=True)
        return self.rng.choices(actions, weights)[0]

    def healed(self) -> None:
        """The gateway answers again: faults the daemon has not met by now are withdrawn,
        and the store is free again."""
        self.unblock(everything=True)

        def clear() -> None:
            self.sim.faults.pending.clear()
            self.sim.faults.late.clear()
            self.sim.hubs.refuse_until = 0.0
            self.sim.hubs.lost_connections = 0
            self.sim.hubs.refused_subscriptions = 0

        self.sim._call(clear)

    # -- the invariants ------------------------------------------------------------------------

    def breaches(self) -> list[str]:
        venue = self.sim.venue
        found = []
        status = self.daemon.status() or {}
        day_locked = any(lock[0] == "daily-realized-loss" for lock in _locks(status))
        orders = venue.open_orders(ACCOUNT)
        for position in venue.open_positions(ACCOUNT):
            root = position.contract_id.split(".")[3]
            if day_locked:
                found.append(f"{root} {position.size} open under the day's loss lock")
            if root == "RTY":
                found.append(f"{position.size} RTY (blocked) held")
            covered = sum(
                o.size
                for o in orders
                if o.contract_id == position.contract_id
                and o.type == OrderType.STOP
                and o.status in WORKING_STATUSES
            )
            if covered < position.size:
                found.append(f"{root} {position.size} with stops for {covered} only")
        if day_locked and orders:
            found.append(f"{len(orders)} orders working under the day's loss lock")
        return found

    def enforced(self) -> None:
        assert wait_until(lambda: not self.breaches(), BOUND, interval=0.1), (
            f"enforced: {self.breaches()} {BOUND} s after the gateway answered again"
        )

    def day_pnl_at(self, at: datetime) -> Decimal:
        """The account's net realized P&L from the fills the venue made up to ``at``."""
        return sum(
            (
                (t.profit_and_loss or Decimal(0)) - t.fees - t.commissions
                for t in self.sim.venue.trades(ACCOUNT)
                if not t.voided and t.creation_timestamp <= at
            ),
            Decimal(0),
        )

    def nothing_unasked(self) -> None:
        """No MNQ position closed and no MNQ order cancelled before the day's loss reached its
        limit (on the venue's clock); no position reduced."""
        mnq = self.trader.contract("MNQ")
        mnq_orders = {o.id for o in self.sim.venue.orders(ACCOUNT) if o.contract_id == mnq}
        for request in self.sim.requests_log():
            path = request.path.lower()
            body = request.body if isinstance(request.body, dict) else {}
            assert path != "/api/position/partialclosecontract", (
                f"nothing_unasked: a reduction no limit asked for: {body}"
            )
            touches = (path == "/api/position/closecontract" and body.get("contractId") == mnq) or (
                path == "/api/order/cancel" and body.get("orderId") in mnq_orders
            )
            if touches and self.day_pnl_at(request.time) > -DAILY_LOSS_LIMIT:
                raise AssertionError(
                    f"nothing_unasked: {request.path} {body} at {request.time.isoformat()}, "
                    f"the day's P&L then {self.day_pnl_at(request.time)}"
                )

    def replayed(self, recording: Path, ruleset: Path) -> None:
        """The recording replays to the daemon's day: the day's loss limit reached as often
        (once), and every unprotected position the replay closes the daemon closed too.

        The replay may see less than the daemon did (a kill loses the recording's last lines;
        a restart re-derives a tick's firing the journal cannot place), more while no daemon
        ran (:func:`dead_spells`: its firings there are not compared), and more when a
        reconcile was slow: the replay applies each of its answers when it came, the daemon
        the whole reconcile once its last answer is in, so positions listed seconds before
        the orders holding their stops replay as unprotected in between. Grace firings are
        compared only when every REST answer came within a second of its request."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "simple_risk",
                "replay",
                str(recording),
                "--ruleset",
                str(ruleset),
                "--tick",
                "0.2",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        replay = json.loads(done.stdout)
        dead = dead_spells(recording)
        replayed = Counter(
            (f["rule"], f["item"] or "")
            for f in replay["firings"]
            if f["rule"] in MANDATORY
            and f["kind"] == "rule"
            and not any(start < datetime.fromisoformat(f["at"]) < end for start, end in dead)
        )
        database = self.daemon.status_path.parent / "simple-risk.db"
        with closing(sqlite3.connect(database)) as db:
            rows = db.execute(
                "SELECT rule_id, item_key FROM firings WHERE rule_id IN (?, ?)", MANDATORY
            ).fetchall()
        recorded = Counter((rule, item) for rule, item in rows)
        day = ("daily-realized-loss", "")
        assert replayed[day] == recorded[day], (
            f"replayed: the day's loss limit {replayed[day]} time(s), the daemon {recorded[day]}"
        )
        if slowest_answer(recording) < 1.0:  # the replay saw the reconciles as the daemon did
            missed = replayed - recorded
            assert not missed, f"replayed: {missed} fired in the replay, never in the daemon"
        print(f"\nchaos schedule: {self.daemon.kills} kills, {len(self.steps)} steps; {recorded}")

    def settled_down(self) -> None:
        """Every intent finished: nothing awaits an answer or a confirmation any more."""

        def idle() -> bool:
            status = self.daemon.status() or {}
            return status.get("intents_open") == 0 and status.get("queue_depth") == 0

        assert wait_until(idle, BOUND, interval=0.1), (
            f"settled_down: {self.daemon.status()} {BOUND} s after the gateway answered again"
        )

    def nothing_died(self) -> None:
        status = self.daemon.status() or {}
        failed = [part for part in status.get("parts", []) if part["failures"] or part["degraded"]]
        assert not failed, f"nothing_died: {failed}; alerts {status.get('alerts')}"
        log = self.daemon.log.read_text(errors="replace")
        for sign in ("Traceback", "thread failed", "died"):
            assert sign not in log, f"nothing_died: {sign!r} in the daemon's log"

    def store_consistent(self) -> None:
        database = self.daemon.status_path.parent / "simple-risk.db"
        with closing(sqlite3.connect(database)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            seqs = [s for (s,) in db.execute("SELECT seq FROM journal ORDER BY seq")]
            assert seqs == list(range(1, len(seqs) + 1)), "the journal's sequence has gaps"
            open_intents = db.execute(
                "SELECT key, state FROM intents WHERE state NOT IN ('done', 'gave_up')"
            ).fetchall()
            assert not open_intents, f"intents left unfinished: {open_intents}"
            orphans = db.execute(
                "SELECT key FROM intents WHERE firing_id IS NOT NULL"
                " AND firing_id NOT IN (SELECT id FROM firings)"
            ).fetchall()
            assert not orphans, f"intents of no firing: {orphans}"
            lock_orphans = db.execute(
                "SELECT id FROM lockouts WHERE firing_id IS NOT NULL"
                " AND firing_id NOT IN (SELECT id FROM firings)"
            ).fetchall()
            assert not lock_orphans, f"lockouts of no firing: {lock_orphans}"
            twice = db.execute(
                "SELECT rule_id, item_key, fired_at, count(*) FROM firings"
                " GROUP BY rule_id, account, item_key, fired_at HAVING count(*) > 1"
            ).fetchall()
            assert not twice, f"firings recorded twice: {twice}"


def dead_spells(recording: Path) -> list[tuple[datetime, datetime]]:
    """When no daemon ran: from the last line a killed daemon recorded to the first line of
    the next one (each start records to a file of its own). The replay holds what the killed
    daemon recorded last through that spell — a close it sent, not the hub's word that the
    position is gone, which the kill cut off — and its clock runs on, so a for: rule ripens
    there on a position long closed; the daemon, started again, reads the gateway instead."""
    runs = []
    for path in sorted(recording.glob("*.jsonl")):
        stamps = [
            datetime.fromisoformat(json.loads(line)["at"])
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        if stamps:
            runs.append((min(stamps), max(stamps)))
    return [(runs[i][1], runs[i + 1][0]) for i in range(len(runs) - 1)]


def slowest_answer(recording: Path) -> float:
    """The longest a recorded REST answer took after its request was sent, in seconds."""
    slowest = 0.0
    for path in recording.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("kind") == "rest" and record.get("sent"):
                took = datetime.fromisoformat(record["at"]) - datetime.fromisoformat(record["sent"])
                slowest = max(slowest, took.total_seconds())
    return slowest


@pytest.fixture
def schedule(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Schedule]:
    seed = request.node.callspec.params["seed"]
    sim, daemon = start_system(
        tmp_path,
        seed=seed,
        name="CHAOS-50K",
        args=("--record", str(tmp_path / "recording")),
        grace=GRACE,
        stallable=bool(request.config.getoption("--runslow")),
    )
    sim.faults.timeout_seconds = 1.5  # a "timeout" answers 504 after 1.5 s, not 30
    long = bool(request.config.getoption("--runslow"))
    scheduled = Schedule(sim, daemon, random.Random(seed), long)
    try:
        yield scheduled
    finally:
        scheduled.unblock(everything=True)
        daemon.stop()
        scheduled.trader.close()
        sim.stop()


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seed", _seeds())
def test_a_seeded_chaos_schedule_keeps_every_invariant(
    schedule: Schedule, seed: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    steps = 60 if request.config.getoption("--runslow") else 7
    try:
        for _ in range(steps):
            schedule.step()
        if not schedule.daemon.kills:
            schedule.kill()  # every schedule kills the daemon at least once
        schedule.healed()
        schedule.enforced()
        schedule.settled_down()
        schedule.nothing_died()
        schedule.daemon.stop()
        schedule.nothing_unasked()
        schedule.store_consistent()
        schedule.replayed(tmp_path / "recording", tmp_path / "ruleset.yaml")
    except AssertionError as failed:
        raise AssertionError(
            f"seed {seed} (SIMPLE_RISK_CHAOS_SEED={seed}):\n  "
            + "\n  ".join(schedule.steps)
            + f"\n{failed}"
        ) from None
