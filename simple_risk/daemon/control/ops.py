"""The operations of the status protocol (docs/status-protocol.md), daemon side.

:class:`Operations` checks each request's shape, has every admin request's password verified
by :class:`~simple_risk.daemon.control.auth.Authenticator` first, and answers. Whatever
reads or changes engine state runs on the engine thread through :meth:`ControlTarget.on_engine`
(between two events, never concurrently with one), by way of the
:class:`~simple_risk.daemon.control.gate.EngineGate` that bounds it (reads coalesced and
paced, admin work one at a time); store reads (``history``, one at a time) and file work
(``config_put``'s lint) run on the connection's thread. Every admin action that changes
something — reload, configuration change, lockout clear, enforcement on or off, new password,
stop — is audited in
the store with who (the peer's credentials and the operator's name), why, and the result,
and announced on ``monitor``. A password never appears in a result, the audit or a log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import queue
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simple_risk.adapters.topstepx.secrets import register_secret
from simple_risk.daemon.config import (
    ConfigError,
    DaemonConfig,
    load_config,
    load_rulesets,
    ruleset_warnings,
)
from simple_risk.daemon.control import views
from simple_risk.daemon.control.auth import MIN_PASSWORD_LENGTH, Authenticator, Peer, Throttle
from simple_risk.daemon.control.gate import Encoded, EngineGate
from simple_risk.daemon.control.history import DEFAULT_HISTORY_LIMIT, stored_history
from simple_risk.daemon.control.protocol import (
    ADMIN_OPS,
    PROTOCOL_VERSION,
    READ_OPS,
    ErrorCode,
    ProtocolError,
    encode,
    encode_value,
)
from simple_risk.daemon.control.server import Broadcaster, Streaming, Subscriber, ThenRun
from simple_risk.daemon.filemodes import open_to_others
from simple_risk.daemon.logging import LogRing, install_log_ring, level_number, log_ring
from simple_risk.daemon.observe import ENFORCE_ACTION
from simple_risk.daemon.password import (
    hash_password,
    read_password_hash,
    validate_password,
    write_password_hash,
)
from simple_risk.daemon.service import supervisor_of
from simple_risk.engine.dsl import RulesetError, load_ruleset
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.model import Ruleset
from simple_risk.engine.operations import mandatory_violations, ruleset_changes
from simple_risk.resources import default_ruleset_path
from simple_risk.store import StoreError
from simple_risk.store.records import HISTORY_KINDS

if TYPE_CHECKING:
    from simple_risk.daemon.control.server import StatusServer
    from simple_risk.daemon.control.target import ControlTarget

log = logging.getLogger(__name__)

#: ``type`` values a ``subscribe`` may ask for (``dropped`` always comes)
MONITOR_KINDS = frozenset({"event", "firing", "call", "result", "alert", "admin"})
#: a reload rebuilds every account's engine: give it more time than a read
RELOAD_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Request:
    """One request, after its shape and (for admin ops) its password were checked."""

    op: str
    args: Mapping[str, Any]
    peer: Peer
    operator: str | None

    @property
    def who(self) -> str:
        return self.peer.describe(self.operator)


def _bad(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST.value, message)


def _refused(message: str, problems: list[dict[str, Any]] | None = None) -> ProtocolError:
    return ProtocolError(ErrorCode.REFUSED.value, message, problems=tuple(problems or ()))


def _mandatory_dropped(
    before: Mapping[int, Ruleset], after: Mapping[int, Ruleset]
) -> dict[str, list[str]]:
    """Per account, the rules mandatory before a reload and kept by it, but no longer
    mandatory: a later reload may disable them."""
    dropped: dict[str, list[str]] = {}
    for account, ruleset in sorted(after.items()):
        old = before.get(account)
        if old is None:
            continue
        now = {rule.id: rule.mandatory for rule in ruleset.rules}
        rules = [rule.id for rule in old.rules if rule.mandatory and now.get(rule.id) is False]
        if rules:
            dropped[str(account)] = rules
    return dropped


def _problems(
    found: list[Problem], rename: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    out = []
    for problem in found:
        entry = dict(problem.as_json())
        if rename and entry.get("file") in rename:
            entry["file"] = rename[str(entry["file"])]
        out.append(entry)
    return out


class _Subscription:
    """A monitor subscriber that leaves the broadcaster when its stream ends."""

    def __init__(self, broadcaster: Broadcaster, subscriber: Subscriber) -> None:
        self._broadcaster = broadcaster
        self._subscriber = subscriber

    def take(self, timeout: float) -> list[bytes]:
        return self._subscriber.take(timeout)

    def close(self) -> None:
        self._broadcaster.unsubscribe(self._subscriber)


class _LogFollower:
    """``logs`` with ``follow``: new log lines as ``{"stream": "logs", "line": ...}``."""

    def __init__(self, ring: LogRing, level: int) -> None:
        self._ring = ring
        self._queue = ring.follow(level)

    def take(self, timeout: float) -> list[bytes]:
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        lines = [first]
        while True:
            try:
                lines.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return [encode({"stream": "logs", "line": line}) for line in lines]

    def close(self) -> None:
        self._ring.unfollow(self._queue)


class Operations:
    """Every op of the protocol, for one daemon."""

    def __init__(self, daemon: ControlTarget, server: StatusServer) -> None:
        self.daemon = daemon
        self.server = server
        options = server.options
        self.auth = Authenticator(
            lambda: read_password_hash(self.daemon.config),
            daemon.store,
            daemon.clock.now,
            throttle=Throttle(options.throttle_base, options.throttle_cap),
        )
        #: who starts it again: a systemd unit (Restart=always), or nobody; decided at start,
        #: while the parent is still the one that started the daemon
        self.service = supervisor_of()
        self.gate = EngineGate(
            lambda fn, timeout: daemon.on_engine(fn, timeout=timeout),
            spacing=options.engine_read_spacing,
        )
        self._handlers: dict[str, Callable[[Request], object]] = {
            "hello": self.hello,
            "status": self.status,
            "explain": self.explain,
            "history": self.history,
            "subscribe": self.subscribe,
            "auth_check": self.auth_check,
            "reload": self.reload,
            "config_get": self.config_get,
            "config_put": self.config_put,
            "lockout_list": self.lockout_list,
            "lockout_clear": self.lockout_clear,
            "enforce": self.enforce,
            "logs": self.logs,
            "set_password": self.set_password,
            "stop": self.stop,
        }
        install_log_ring()

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, message: Mapping[str, Any], peer: Peer) -> object:
        """The result of one request (or a :class:`Streaming` / :class:`ThenRun`)."""
        op = message.get("op")
        if not isinstance(op, str) or not op:
            raise _bad("a request needs an op")
        args = message.get("args")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise _bad("args must be an object")
        operator = message.get("operator")
        operator = str(operator) if isinstance(operator, str | int) else None
        handler = self._handlers.get(op)
        if handler is None or op not in READ_OPS | ADMIN_OPS:
            raise ProtocolError(ErrorCode.UNKNOWN_OP.value, f"unknown op {op!r}")
        if op in ADMIN_OPS:
            auth = message.get("auth")
            password = auth.get("password") if isinstance(auth, dict) else None
            self.auth.check(
                peer, password, op, operator, allow_unset_for_owner=op == "set_password"
            )
        return handler(Request(op, args, peer, operator))

    # -- helpers --------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.daemon.clock.now()

    def _account(self, args: Mapping[str, Any], *, required: bool = False) -> int | None:
        raw = args.get("account")
        if raw is None:
            if required:
                raise _bad("give the account")
            return None
        try:
            account = int(raw)
        except (TypeError, ValueError):
            raise _bad(f"account must be a number, not {raw!r}") from None
        if isinstance(raw, bool) or account not in self.daemon.config.accounts:
            guarded = ", ".join(str(a) for a in self.daemon.config.accounts)
            raise ProtocolError(
                ErrorCode.NOT_FOUND.value,
                f"this daemon does not guard account {raw} (it guards {guarded})",
            )
        return account

    def _text(self, args: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
        value = args.get(name)
        if value is None or value == "":
            if required:
                raise _bad(f"give {name}")
            return None
        if not isinstance(value, str):
            raise _bad(f"{name} must be a string")
        return value

    def _reason(self, args: Mapping[str, Any]) -> str:
        reason = self._text(args, "reason")
        return " ".join(reason.split())[:500] if reason else "no reason given"

    def _audit(
        self,
        request: Request,
        action: str,
        why: str,
        result: str,
        *,
        account: int | None = None,
        args: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            self.daemon.store.record_admin_action(
                at=self._now(),
                who=request.who,
                action=action,
                why=why,
                result=result,
                account=account,
                args={"peer": request.peer.as_json(), **(args or {})},
            )
        except StoreError as exc:
            log.error("could not audit %s: %s", action, exc)

    # -- read ops -------------------------------------------------------------------------------

    def hello(self, request: Request) -> dict[str, Any]:
        daemon = self.daemon
        return {
            "version": PROTOCOL_VERSION,
            "pid": os.getpid(),
            "started_at": daemon.started_at,
            "now": self._now(),
            "accounts": list(daemon.config.accounts),
            "ruleset": {"name": daemon.ruleset_name(), "path": str(daemon.config.ruleset_path)},
            "admin_password_set": self.auth.password_set(),
            "socket": str(self.server.path),
            "tcp": self.server.address_tcp(),
            "service": self.service,
        }

    @property
    def _timeout(self) -> float:
        return self.server.options.engine_timeout

    def status(self, request: Request) -> Encoded:
        account = self._account(request.args)
        daemon = self.daemon
        wanted = [account] if account is not None else list(daemon.config.accounts)

        def build() -> dict[str, Any]:
            now = daemon.clock.now()
            return {
                "now": now,
                "daemon": views.daemon_status(daemon, now, account),
                "accounts": [
                    views.account_status(daemon, a, now) for a in wanted if a in daemon.engines
                ],
            }

        return self.gate.read(("status", account), build, self._timeout)

    def explain(self, request: Request) -> Encoded:
        rule = self._text(request.args, "rule", required=True)
        assert rule is not None
        account = self._account(request.args)
        daemon = self.daemon
        chosen = account if account is not None else daemon.config.accounts[0]

        def build() -> dict[str, Any]:
            if chosen not in daemon.engines:
                raise ProtocolError(ErrorCode.NOT_FOUND.value, f"no engine for account {chosen}")
            now = daemon.clock.now()
            try:
                # ``now``: the clock its countdowns run on (a pinned wall is not the viewer's)
                return {**views.explain(daemon, rule, chosen, now), "now": now}
            except KeyError as exc:
                ids = [r.id for r in daemon.engines[chosen].ruleset.rules]
                what = did_you_mean(rule, ids) or "the rules: " + ", ".join(ids)
                message = f"{exc.args[0]}; {what}" if rule not in ids else str(exc.args[0])
                raise ProtocolError(ErrorCode.NOT_FOUND.value, message) from None

        return self.gate.read(("explain", rule, chosen), build, self._timeout)

    def history(self, request: Request) -> Encoded:
        args = request.args
        since = self._time(args, "since") or self._now() - timedelta(hours=24)
        until = self._time(args, "until")
        rule = self._text(args, "rule")
        account = self._account(args)
        kinds = args.get("kinds")
        if kinds is not None and (
            not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)
        ):
            raise _bad("kinds must be a list of strings")
        if kinds is not None and (unknown := sorted(set(kinds) - set(HISTORY_KINDS))):
            raise _bad(f"unknown history kinds {', '.join(unknown)} (known: {HISTORY_KINDS})")
        limit = args.get("limit", DEFAULT_HISTORY_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise _bad("limit must be a positive number")

        running = {r.id for engine in self.daemon.engines.values() for r in engine.ruleset.rules}

        def read() -> Encoded:
            try:
                answer = stored_history(
                    self.daemon.store, since, until, rule, account, kinds, limit
                )
            except StoreError as exc:
                raise _bad(str(exc)) from None
            if rule is not None and not answer["items"] and rule not in running:
                # a mistyped id answered "nothing", read as "that rule never fired"
                hint = did_you_mean(rule, running) or "the rules: " + ", ".join(sorted(running))
                raise ProtocolError(
                    ErrorCode.NOT_FOUND.value,
                    f"no rule {rule} in the running ruleset, nor in the history of this "
                    f"period; {hint}",
                )
            return Encoded(encode_value(answer))

        return self.gate.store(read, self._timeout)

    def _time(self, args: Mapping[str, Any], name: str) -> datetime | None:
        raw = self._text(args, name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise _bad(f"{name} must be an ISO-8601 time, not {raw!r}") from None
        if value.tzinfo is None:
            raise _bad(f"{name} needs a UTC offset (e.g. {raw}+00:00)")
        return value

    def subscribe(self, request: Request) -> Streaming:
        kinds = request.args.get("kinds")
        if kinds is not None:
            if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
                raise _bad("kinds must be a list of strings")
            unknown = sorted(set(kinds) - MONITOR_KINDS)
            if unknown:
                raise _bad(f"unknown monitor kinds {', '.join(unknown)}")
        monitor = self.daemon.monitor
        subscriber = monitor.subscribe(kinds, self.server.options.subscriber_queue)
        return Streaming({"subscribed": True}, _Subscription(monitor, subscriber))

    # -- admin ops ------------------------------------------------------------------------------

    def auth_check(self, request: Request) -> dict[str, Any]:
        return {}

    def reload(self, request: Request) -> dict[str, Any]:
        why = self._reason(request.args)
        try:
            result = self.reload_rulesets()
        except ProtocolError as refusal:
            self._audit(
                request,
                "reload",
                why,
                f"refused: {refusal.message}",
                args={"problems": len(refusal.problems)},
            )
            raise
        self._announce_reload(request, why, result)
        return result

    def reload_on_signal(self, signal_name: str) -> dict[str, Any]:
        """A reload asked by a signal (``SIGHUP``): only the daemon's user or root can send
        one, so it needs no password; it is linted, applied and audited like ``reload``."""
        peer = Peer("signal", uid=os.getuid(), pid=None, user=signal_name)
        return self.reload(Request("reload", {"reason": signal_name}, peer, None))

    def reload_rulesets(self, config: DaemonConfig | None = None) -> dict[str, Any]:
        """Re-read the configuration (ruleset path, overlays) unless ``config`` is given,
        load and lint every account's ruleset, and swap them in on the engine thread.

        Any lint or configuration error refuses the reload with the located problems and the
        running rulesets stay. Settings other than the ruleset and overlays cannot change
        while running: they are listed in ``restart_needed``.
        """
        daemon = self.daemon
        with daemon.reload_lock:
            current = daemon.config
            restart: list[str] = []
            if config is not None:
                target = config
            elif current.source.startswith("<") or not Path(current.source).exists():
                target = current  # no file to re-read (the simulator, the demo)
            else:
                try:
                    fresh = load_config(current.source)
                except ConfigError as exc:
                    raise _refused(
                        f"the configuration has {len(exc.problems)} problem(s); "
                        "the running ruleset stays",
                        _problems(exc.problems),
                    ) from None
                restart = _restart_fields(current, fresh)
                # the accounts guarded stay those of the start: an account added to the file
                # waits for the restart (restart_needed says so) and so does its overlay; one
                # taken out is guarded until then as it was, its overlay with it
                overlays = {
                    account: fresh.overlays.get(account, current.overlays.get(account))
                    if account not in fresh.accounts
                    else fresh.overlays.get(account)
                    for account in current.accounts
                }
                target = dataclasses.replace(
                    current,
                    ruleset_path=fresh.ruleset_path,
                    overlays={a: path for a, path in overlays.items() if path is not None},
                    origins=fresh.origins,
                )
            rulesets = self._load(target)
            dropped = _mandatory_dropped(daemon.rulesets, rulesets)
            changes = self.gate.admin(
                lambda: daemon.swap_rulesets(rulesets), max(RELOAD_TIMEOUT, self._timeout)
            )
            # answered once the new state's snapshots are saved (a restart keeps it); waited
            # for here, never on the engine thread, so a slow store holds up this answer only
            daemon.saved(self._timeout)
            daemon.config = target
            # the files just read decide what is enforced until the next reload: one a user
            # other than the daemon's may write is said now, as at start (filemodes.py)
            for found in open_to_others(target):
                daemon.alerter.alert("critical", found.message(), daemon.clock.now())
        return {
            "applied": True,
            "changes": {str(account): change.as_json() for account, change in changes.items()},
            # the engine's changes leave out the flag: "no changes" would hide it
            "mandatory_dropped": dropped,
            "overlay_params": self._overlay_params(target, rulesets),
            # what rules lint warns of, said where the admin reads the reload's outcome
            "warnings": _problems(ruleset_warnings(target)),
            "restart_needed": restart,
            "ruleset": {"name": daemon.ruleset_name(), "path": str(target.ruleset_path)},
        }

    def _overlay_params(
        self, config: DaemonConfig, rulesets: Mapping[int, Ruleset]
    ) -> dict[str, dict[str, Any]]:
        """Per account with an overlay: each param it keeps at a value of its own, as
        ``[ruleset's value, account's value]``. A limit changed in the ruleset file does not
        reach an account whose overlay sets it, and "no changes" alone does not say why."""
        if not any(account in rulesets for account in config.overlays):
            return {}
        try:
            base = load_ruleset(config.ruleset_path)
        except RulesetError:  # loaded a moment ago with each overlay; not worth a refusal
            return {}
        transform = self.daemon.options.ruleset_transform
        if transform is not None:
            base = transform(base)
        held: dict[str, dict[str, Any]] = {}
        for account in sorted(config.overlays):
            ruleset = rulesets.get(account)
            if ruleset is not None:
                params = ruleset_changes(base, ruleset).as_json()["params"]
                if params:
                    held[str(account)] = params
        return held

    def _load(
        self, config: DaemonConfig, rename: Mapping[str, str] | None = None
    ) -> dict[int, Ruleset]:
        try:
            rulesets = load_rulesets(config)
        except ConfigError as exc:
            count = len(exc.problems)
            raise _refused(
                f"the ruleset has {count} error(s); the running ruleset stays",
                _problems(exc.problems, rename),
            ) from None
        transform = self.daemon.options.ruleset_transform
        if transform is not None:
            rulesets = {account: transform(ruleset) for account, ruleset in rulesets.items()}
        return rulesets

    def _announce_reload(self, request: Request, why: str, result: Mapping[str, Any]) -> None:
        changes: Mapping[str, Mapping[str, Any]] = result["changes"]
        counted = {
            kind: sorted({rule for change in changes.values() for rule in change.get(kind, [])})
            for kind in ("added", "removed", "changed", "enabled", "disabled")
        }
        params = sorted({p for change in changes.values() for p in change.get("params", {})})
        parts = [f"{kind} {len(rules)}" for kind, rules in counted.items() if rules]
        dropped = sorted({rule for rules in result["mandatory_dropped"].values() for rule in rules})
        if dropped:
            parts.append(f"no longer mandatory {len(dropped)} ({', '.join(dropped)})")
        summary = ", ".join(parts) or "no rule changed"
        if params:
            summary += f"; params {', '.join(params)}"
        self._audit(
            request,
            "reload",
            why,
            f"applied: {summary}",
            args={"rules": counted, "params": params, "restart_needed": result["restart_needed"]},
        )
        self.daemon.announce_admin(
            f"Ruleset reloaded by {request.who}: {summary} ({why})",
            {"changes": dict(changes)},
        )

    def config_get(self, request: Request) -> dict[str, Any]:
        path = self.daemon.config.ruleset_path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _refused(f"cannot read {path}: {exc}") from None
        return {"path": str(path), "text": text}

    def config_put(self, request: Request) -> dict[str, Any]:
        text = self._text(request.args, "text", required=True)
        assert text is not None
        why = self._reason(request.args)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        daemon = self.daemon
        with daemon.reload_lock:
            path = daemon.config.ruleset_path
            try:
                self._replace_ruleset(path, text)
            except ProtocolError as refusal:
                self._audit(
                    request,
                    "config_put",
                    why,
                    f"refused: {refusal.message}",
                    args={"path": str(path), "sha256": digest, "problems": len(refusal.problems)},
                )
                raise
            try:
                result = self.reload_rulesets()
            except ProtocolError as refusal:
                _restore_backup(path)
                self._audit(
                    request,
                    "config_put",
                    why,
                    f"refused at reload, file restored: {refusal.message}",
                    args={"path": str(path), "sha256": digest},
                )
                raise
        self._audit(
            request,
            "config_put",
            why,
            f"written ({len(text)} characters) and reloaded",
            args={"path": str(path), "sha256": digest, "backup": str(_backup_of(path))},
        )
        self._announce_reload(request, why, result)
        return result

    def _replace_ruleset(self, path: Path, text: str) -> None:
        """Lint ``text`` as the ruleset (with every overlay) and check it against the running
        mandatory rules; then replace ``path`` atomically, keeping ``<file>.bak``."""
        if path.resolve() == default_ruleset_path().resolve():
            raise _refused(
                f"{path} is the ruleset shipped with simple-risk; configure a ruleset file "
                "of your own to edit it"
            )
        candidate = path.with_name(f".{path.stem}.check-{os.getpid()}-{os.urandom(4).hex()}.yaml")
        daemon = self.daemon
        try:
            try:
                descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                    out.write(text)
            except OSError as exc:
                raise _refused(f"cannot write next to {path}: {exc.strerror or exc}") from None
            rulesets = self._load(
                dataclasses.replace(daemon.config, ruleset_path=candidate),
                rename={str(candidate): str(path)},
            )
            violations = self.gate.admin(
                lambda: [
                    {
                        "file": str(path),
                        "line": 0,
                        "column": 0,
                        "rule": None,
                        "message": f"account {account}: {message}",
                        "hint": "a mandatory rule stays enabled; edit it instead",
                        "check": "mandatory",
                    }
                    for account, ruleset in sorted(rulesets.items())
                    if account in daemon.rulesets
                    for message in mandatory_violations(daemon.rulesets[account], ruleset)
                ],
                self._timeout,
            )
            if violations:
                raise _refused("the new ruleset would disable a mandatory rule", violations)
            try:
                if path.exists():
                    shutil.copy2(path, _backup_of(path))
                    os.chmod(candidate, path.stat().st_mode & 0o777)
                os.replace(candidate, path)
            except OSError as exc:
                raise _refused(f"cannot replace {path}: {exc.strerror or exc}") from None
        finally:
            candidate.unlink(missing_ok=True)

    def lockout_list(self, request: Request) -> dict[str, Any]:
        account = self._account(request.args)
        daemon = self.daemon
        wanted = [account] if account is not None else list(daemon.config.accounts)

        def build() -> dict[str, Any]:
            now = daemon.clock.now()
            return {
                "lockouts": [
                    lock
                    for a in wanted
                    if a in daemon.engines
                    for lock in views.lockouts_with_account(daemon, a, now)
                ],
                "now": now,  # what "left" counts from
            }

        return self.gate.admin(build, self._timeout)

    def lockout_clear(self, request: Request) -> dict[str, Any]:
        args = request.args
        account = self._account(args, required=True)
        assert account is not None
        scope = self._text(args, "scope") or "all"
        if scope not in ("account", "symbol", "all"):
            raise _bad(f"scope is account, symbol or all, not {scope!r}")
        symbol = self._text(args, "symbol")
        reason = self._text(args, "reason")
        if reason is None or not reason.strip():
            raise _bad("clearing a lockout needs a reason")
        why = " ".join(reason.split())[:500]
        daemon = self.daemon
        cleared = self.gate.admin(
            lambda: daemon.clear_lockouts(account, scope, symbol, request.who, why), self._timeout
        )
        # answered once the clear's snapshot and audit are saved (a restart keeps the clear);
        # waited for here, never on the engine thread, so a slow store holds up this answer only
        daemon.saved(self._timeout)
        shown = [
            {
                "account": account,
                "rule": lock.rule,
                "scope": lock.scope,
                "symbol": lock.symbol,
                "kind": lock.kind,
                "reason": lock.reason,
                "set_at": lock.set_at,
                "ends_at": lock.ends_at,
            }
            for lock in cleared
        ]
        if not cleared:
            self._audit(
                request,
                "clear_lockout",
                why,
                "nothing to clear",
                account=account,
                args={"scope": scope, "symbol": symbol},
            )
        else:
            rules = ", ".join(sorted({lock.rule for lock in cleared}))
            daemon.announce_admin(
                f"Lockout cleared on {account} by {request.who}: {rules} ({why})",
                {"cleared": shown},
                account,
            )
        return {"cleared": shown}

    def enforce(self, request: Request) -> dict[str, Any]:
        """Turn enforcement of an account on (``enforce: true``) or off (observe only), now.

        Audited like any admin action, and the audit row is what a restart reads back, so the
        choice outlives the configuration: if it cannot be stored the change still applies
        until the next restart, and a critical alert says so."""
        args = request.args
        account = self._account(args, required=True)
        assert account is not None
        enforce = args.get("enforce")
        if not isinstance(enforce, bool):
            raise _bad("enforce must be true (enforce) or false (observe only)")
        reason = self._text(args, "reason")
        if reason is None or not reason.strip():
            raise _bad("turning enforcement on or off needs a reason")
        why = " ".join(reason.split())[:500]
        daemon = self.daemon
        now = self._now()
        source = f"admin {request.who} at {now.isoformat()} ({why})"
        before = self.gate.admin(
            lambda: daemon.set_enforcement(account, enforce, source), self._timeout
        )
        mode = "enforce" if enforce else "observe"
        result = f"{before.mode} → {mode}"
        try:
            daemon.store.record_admin_action(
                at=now,
                who=request.who,
                action=ENFORCE_ACTION,
                why=why,
                result=result,
                account=account,
                args={"peer": request.peer.as_json(), "enforce": enforce, "was": before.mode},
            )
        except StoreError as exc:
            daemon.alerter.alert(
                "critical",
                f"account {account}: {mode} mode could not be stored ({exc}); "
                "a restart would go back to the configured mode",
                now,
                account,
            )
        words = "enforcing" if enforce else "only observing (nothing sent)"
        daemon.announce_admin(
            f"Account {account} is now {words}, by {request.who} ({why})",
            {"mode": mode, "was": before.mode},
            account,
        )
        log.warning("account %s: %s → %s by %s (%s)", account, before.mode, mode, request.who, why)
        return {"account": account, "mode": mode, "was": before.mode}

    def logs(self, request: Request) -> object:
        args = request.args
        count = args.get("lines", 200)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _bad("lines must be a number ≥ 0")
        level = level_number(self._text(args, "level"))
        ring = log_ring()
        lines = ring.lines(count, level)
        if args.get("follow"):
            return Streaming({"lines": lines}, _LogFollower(ring, level))
        return {"lines": lines}

    def set_password(self, request: Request) -> dict[str, Any]:
        new = request.args.get("new_password")
        if not isinstance(new, str):
            raise _bad("give new_password")
        try:
            validate_password(new)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if len(new) < MIN_PASSWORD_LENGTH:
            raise _bad(f"the admin password needs at least {MIN_PASSWORD_LENGTH} characters")
        register_secret(new)
        path = self.daemon.config.admin_password_file
        try:
            write_password_hash(path, hash_password(new, rounds=self.server.options.bcrypt_rounds))
        except OSError as exc:
            self._audit(request, "set_password", "new admin password", f"failed: {exc.strerror}")
            raise _refused(f"cannot write {path}: {exc.strerror or exc}") from None
        self.auth.throttle.succeeded(request.peer)
        self._audit(request, "set_password", "new admin password", "changed")
        self.daemon.announce_admin(f"Admin password changed by {request.who}", {})
        return {}

    def stop(self, request: Request) -> ThenRun:
        # a stop leaves every guarded account unguarded: as with clearing a lockout, whoever
        # does it says why, whatever client asks (not only ``admin daemon stop --reason``)
        reason = self._text(request.args, "reason")
        if reason is None or not reason.strip():
            raise _bad("stopping the daemon needs a reason")
        why = " ".join(reason.split())[:500]
        self._audit(request, "stop", why, "stopping")
        self.daemon.announce_admin(f"Daemon stopping, asked by {request.who} ({why})", {})
        log.warning("stop requested by %s: %s", request.who, why)
        return ThenRun({"stopping": True}, lambda: self.daemon.request_stop(why))


def _backup_of(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def _restore_backup(path: Path) -> None:
    backup = _backup_of(path)
    if not backup.exists():
        return
    try:
        restored = path.with_name(f".{path.name}.restore-{os.getpid()}")
        shutil.copy2(backup, restored)
        os.replace(restored, path)
    except OSError as exc:
        log.error("could not restore %s from %s: %s", path, backup, exc)


#: settings a reload applies; any other change needs a restart
_RELOADABLE = frozenset({"ruleset_path", "overlays", "origins"})


def _restart_fields(current: DaemonConfig, fresh: DaemonConfig) -> list[str]:
    """Names of the settings that differ and only take effect after a restart."""
    return [
        f.name
        for f in dataclasses.fields(DaemonConfig)
        if f.name not in _RELOADABLE and getattr(current, f.name) != getattr(fresh, f.name)
    ]


__all__ = ["MONITOR_KINDS", "Operations", "Request"]
