"""Contract metadata cache: tick size, tick value, root and weight per contract id.

The engine needs a contract's tick size and value to compute P&L and its weight to count
contracts; a missing entry is an unknown fact (architecture.md §3), so the cache is filled
eagerly at startup — ``Contract/available``, then every contract the accounts hold or work
orders in, from the startup reconciles' answers — and lazily afterwards with
``Contract/searchById`` on a background thread. Lookups are dictionary
reads: the engine thread never waits for the network. Each newly known contract is announced as
a :class:`ContractLoaded` event on the sink. The cache is persisted as JSON in a directory so a
restart knows yesterday's contracts (including expired ones) before the first request.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from simple_risk.adapters.topstepx.clock import ReceiveClock
from simple_risk.adapters.topstepx.errors import ProjectXError
from simple_risk.adapters.topstepx.rest import RestClient
from simple_risk.adapters.topstepx.secrets import install_log_filter
from simple_risk.engine.events import ContractInfo, ContractLoaded, Event

log = logging.getLogger(__name__)
install_log_filter(__name__)

CACHE_FILE = "contracts.json"
_FORMAT_VERSION = 1


def _to_json(info: ContractInfo) -> dict[str, Any]:
    return {
        "contract_id": info.contract_id,
        "symbol_id": info.symbol_id,
        "root": info.root,
        "name": info.name,
        "tick_size": str(info.tick_size),
        "tick_value": str(info.tick_value),
        "units": info.units,
        "active": info.active,
        "description": info.description,
    }


def _from_json(raw: dict[str, Any]) -> ContractInfo:
    return ContractInfo(
        contract_id=str(raw["contract_id"]),
        symbol_id=str(raw["symbol_id"]),
        root=str(raw["root"]),
        name=str(raw["name"]),
        tick_size=Decimal(str(raw["tick_size"])),
        tick_value=Decimal(str(raw["tick_value"])),
        units=int(raw["units"]),
        active=bool(raw.get("active", True)),
        description=str(raw.get("description", "")),
    )


class ContractCache:
    """Thread-safe contract metadata; lookups never block, misses load in the background."""

    def __init__(
        self,
        client: RestClient | None,
        directory: Path | str | None = None,
        *,
        sink: queue.Queue[Event] | None = None,
        clock: ReceiveClock | None = None,
    ) -> None:
        self._client = client
        self._path = Path(directory) / CACHE_FILE if directory is not None else None
        self._sink = sink
        self._clock = clock or (client.clock if client is not None else ReceiveClock())
        self._contracts: dict[str, ContractInfo] = {}
        self._lock = threading.Lock()
        #: one :meth:`load` at a time: two accounts holding one unknown contract ask once
        self._loading = threading.Lock()
        self._pending: set[str] = set()
        self._missing: set[str] = set()  # the gateway said ContractNotFound
        self._work: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._load_file()

    # -- persistence ----------------------------------------------------------------------------

    def _load_file(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            document = json.loads(self._path.read_text(encoding="utf-8"))
            if not isinstance(document, dict) or document.get("version") != _FORMAT_VERSION:
                log.warning("ignoring contract cache %s: unknown version", self._path)
                return
            for raw in document.get("contracts", []):
                info = _from_json(raw)
                self._contracts[info.contract_id] = info
        except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as error:
            log.warning("ignoring unreadable contract cache %s: %s", self._path, error)

    def save(self) -> None:
        """Write the cache atomically (temp file + rename) so a crash never leaves half a file."""
        if self._path is None:
            return
        with self._lock:
            document = {
                "version": _FORMAT_VERSION,
                "contracts": [_to_json(info) for _, info in sorted(self._contracts.items())],
            }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self._path.parent, prefix=".contracts-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=1)
            os.replace(temp, self._path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    # -- lookups --------------------------------------------------------------------------------

    def get(self, contract_id: str) -> ContractInfo | None:
        """The contract if known; otherwise None now, and a background load is queued."""
        with self._lock:
            info = self._contracts.get(contract_id)
        if info is None:
            self.request(contract_id)
        return info

    def known(self) -> dict[str, ContractInfo]:
        with self._lock:
            return dict(self._contracts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._contracts)

    def add(self, infos: Iterable[ContractInfo], *, announce: bool = True) -> int:
        """Store contracts; announce the new or changed ones. Returns how many changed."""
        changed: list[ContractInfo] = []
        with self._lock:
            for info in infos:
                if self._contracts.get(info.contract_id) != info:
                    self._contracts[info.contract_id] = info
                    changed.append(info)
                self._missing.discard(info.contract_id)
        if announce and self._sink is not None:
            for info in changed:
                self._sink.put(ContractLoaded(at=self._clock.now(), contract=info))
        return len(changed)

    # -- loading --------------------------------------------------------------------------------

    def load_catalogue(self) -> None:
        """At startup, before the hubs deliver events: the list of available contracts, then
        every known contract announced (the engine starts empty). The contracts the accounts
        hold or work orders in are loaded from the startup reconcile's own answers
        (:meth:`load`): reading them here too cost two calls per account more."""
        if self._client is None:
            raise RuntimeError("load_catalogue needs a REST client")
        self._load_available()
        self._announce_known()

    def _load_available(self) -> None:
        assert self._client is not None
        try:
            self.add(self._client.available_contracts(), announce=False)
        except ProjectXError as error:
            # the list only warms the cache: the accounts' contracts load one by one, any
            # other as it is seen — the accounts are guarded meanwhile
            log.warning(
                "startup contracts: could not list the available contracts (%s); "
                "loading each contract as it is seen",
                error,
            )

    def _announce_known(self) -> None:
        if self._sink is not None:
            for info in self.known().values():
                self._sink.put(ContractLoaded(at=self._clock.now(), contract=info))
        self.save()

    def load(self, contract_ids: Iterable[str]) -> None:
        """Load now each of these contracts not yet known, announcing it: the startup
        reconcile's positions and orders, before its answer is applied (so their P&L is
        known at once). From a thread that may block; the reconciles of several accounts
        ask for a contract they share once. One the gateway cannot describe right now loads
        in the background, as any contract seen later does."""
        if self._client is None:
            return
        with self._loading:
            with self._lock:
                unknown = sorted(
                    set(contract_ids) - set(self._contracts) - self._missing - self._pending
                )
            for contract_id in unknown:
                try:
                    self._fetch(contract_id, announce=True)
                except ProjectXError as error:
                    log.warning(
                        "startup contracts: could not load %s (%s); loading it in the background",
                        contract_id,
                        error,
                    )
                    self.request(contract_id)
            if unknown:
                try:
                    self.save()
                except OSError as error:
                    log.warning("could not persist the contract cache: %s", error)

    def request(self, contract_id: str) -> None:
        """Queue a background ``searchById`` for a contract not yet known."""
        if self._client is None:
            return
        with self._lock:
            if (
                contract_id in self._contracts
                or contract_id in self._pending
                or contract_id in self._missing
            ):
                return
            self._pending.add(contract_id)
            self._idle.clear()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="contract-cache", daemon=True
                )
                self._worker.start()
        self._work.put(contract_id)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no background load is pending (for startup code and tests)."""
        return self._idle.wait(timeout)

    def _fetch(self, contract_id: str, *, announce: bool = False) -> None:
        assert self._client is not None
        info = self._client.contract_by_id(contract_id)
        if info is None:
            with self._lock:
                self._missing.add(contract_id)
            log.warning("contract %s is unknown to the gateway", contract_id)
            return
        self.add([info], announce=announce)

    def _run(self) -> None:
        while True:
            try:
                contract_id = self._work.get(timeout=5.0)
            except queue.Empty:
                with self._lock:
                    if not self._pending:
                        self._worker = None
                        return
                continue
            if contract_id is None:
                return
            try:
                assert self._client is not None
                info = self._client.contract_by_id(contract_id)
                if info is None:
                    with self._lock:
                        self._missing.add(contract_id)
                    log.warning("contract %s is unknown to the gateway", contract_id)
                else:
                    self.add([info])
                    self.save()
            except ProjectXError as error:
                log.warning("could not load contract %s: %s", contract_id, error)
            except OSError as error:
                log.warning("could not persist the contract cache: %s", error)
            finally:
                with self._lock:
                    self._pending.discard(contract_id)
                    if not self._pending:
                        self._idle.set()

    def close(self) -> None:
        """Stop the background loader (pending loads are dropped)."""
        self._work.put(None)


__all__ = ["CACHE_FILE", "ContractCache"]
