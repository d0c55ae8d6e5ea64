"""The daemon's configuration file: strict YAML, its own JSON Schema, located errors.

``simple-risk engine run --config FILE`` reads it through the same strict loader as rulesets
(so ``on``/``yes`` are not booleans and duplicate keys are errors) and reports every mistake
as ``FILE:LINE:COL: message`` like ``rules lint`` — then refuses to start. ``${ENV}`` in any
string is replaced by the environment variable (an unset one is an error, never ""), and every
optional setting has a default (directories follow XDG).

Credentials come inline (normally ``${PROJECTX_API_KEY}``) or from a file that only its owner
may read: a secrets file readable by the group or the world is refused, because the trader's
own user must not be able to read the key the daemon enforces with.

Per-account overlay files (``overlays: {ACCOUNT: FILE}``) hold ``params:`` overrides and a
``disable:`` list of rule ids; overrides must name params that exist and disabled rules that
exist and are not ``mandatory``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from simple_risk.engine.dsl import RulesetError, load_ruleset
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.schema import json_view, problems_from_errors
from simple_risk.engine.dsl.yamlload import Document, load_document
from simple_risk.engine.model import Ruleset
from simple_risk.resources import default_ruleset_path, schema_path

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TOPSTEPX = "topstepx"


class ConfigError(Exception):
    """The configuration (or a file it names) cannot be used; every problem is located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


@dataclass(frozen=True, slots=True)
class Timing:
    """Every interval of the daemon, in seconds (tests shrink them, DESIGN.md §5)."""

    tick_interval: float = 1.0
    reconcile_interval: float = 45.0
    reconcile_after_enforcement: float = 2.0
    snapshot_interval: float = 30.0
    retry_interval: float = 1.0
    alert_after_attempts: int = 3


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    format: str = "text"
    file_max_bytes: int = 10 * 1024 * 1024
    file_backups: int = 5


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """A validated configuration; paths are absolute, secrets are held but never printed."""

    source: str
    gateway: str
    user_hub: str
    market_hub: str
    username: str
    api_key: str = field(repr=False)
    accounts: tuple[int, ...]
    ruleset_path: Path
    overlays: Mapping[int, Path]
    database: str
    data_dir: Path
    log_dir: Path
    status_socket: Path
    admin_password_hash: str | None = field(default=None, repr=False)
    alert_webhook: str | None = None
    log: LogSettings = field(default_factory=LogSettings)
    timing: Timing = field(default_factory=Timing)

    def with_timing(self, timing: Timing) -> DaemonConfig:
        """The same configuration with other intervals (the demo and tests shrink them)."""
        return dataclasses.replace(self, timing=timing)


def xdg_dir(kind: str, env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/simple-risk`` (kind ``data``) or ``$XDG_STATE_HOME/simple-risk/log``."""
    home = Path(env.get("HOME", str(Path.home())))
    if kind == "data":
        return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "simple-risk"
    if kind == "state":
        return Path(env.get("XDG_STATE_HOME") or home / ".local" / "state") / "simple-risk"
    runtime = env.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "simple-risk" if runtime else home / ".simple-risk"


def _schema_validator() -> Draft202012Validator:
    schema = json.loads(schema_path("config.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _substitute(
    doc: Document, value: object, path: tuple[object, ...], env: Mapping[str, str]
) -> tuple[object, list[Problem]]:
    """Replace ``${NAME}`` in every string; an unset variable is a located problem."""
    problems: list[Problem] = []
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                mark = doc.at(path)
                problems.append(
                    Problem(
                        doc.file,
                        mark.line,
                        mark.column,
                        f"environment variable {name} is not set",
                        "config",
                        hint=f"export {name}=... before starting the daemon",
                    )
                )
                return ""
            return env[name]

        return _ENV.sub(replace, value), problems
    if isinstance(value, dict):
        out: dict[object, object] = {}
        for key, item in value.items():
            out[key], found = _substitute(doc, item, (*path, key), env)
            problems += found
        return out, problems
    if isinstance(value, list):
        items: list[object] = []
        for index, item in enumerate(value):
            converted, found = _substitute(doc, item, (*path, index), env)
            items.append(converted)
            problems += found
        return items, problems
    return value, problems


def _located(
    doc: Document,
    path: tuple[object, ...],
    message: str,
    hint: str | None = None,
    *,
    key: bool = False,
) -> Problem:
    """A problem at the value at ``path`` (or at its key, with ``key=True``)."""
    mark = doc.key_at(path) if key else doc.at(path)
    return Problem(doc.file, mark.line, mark.column, message, "config", hint=hint)


def _read_document(path: Path) -> tuple[Document | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(str(path), 0, 0, f"cannot read file: {exc.strerror}", "file")]
    except UnicodeDecodeError:
        return None, [Problem(str(path), 1, 1, "the file is not UTF-8 text", "encoding")]
    return load_document(text, str(path))


def owner_only(path: Path) -> bool:
    """True when neither the group nor others may read the file (mode 0600 or stricter)."""
    mode = path.stat().st_mode
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)


def _credentials(
    doc: Document, data: Mapping[str, Any], base: Path
) -> tuple[str, str, list[Problem]]:
    section = data.get("credentials") or {}
    username = section.get("username")
    api_key = section.get("api_key")
    problems: list[Problem] = []
    secrets_file = section.get("file")
    if secrets_file is not None:
        path = (base / secrets_file).resolve()
        where = ("credentials", "file")
        if not path.exists():
            return "", "", [_located(doc, where, f"secrets file {path} does not exist")]
        if not owner_only(path):
            return (
                "",
                "",
                [
                    _located(
                        doc,
                        where,
                        f"secrets file {path} is readable by other users "
                        f"(mode {stat.S_IMODE(path.stat().st_mode):o})",
                        hint=f"chmod 600 {path}",
                    )
                ],
            )
        secret_doc, found = _read_document(path)
        if secret_doc is None or found:
            return "", "", found
        secret = secret_doc.data if isinstance(secret_doc.data, dict) else {}
        username = username or secret.get("username")
        api_key = api_key or secret.get("api_key")
    if not isinstance(username, str) or not username:
        problems.append(
            _located(
                doc,
                ("credentials",),
                "no username for the gateway",
                hint="set credentials.username (e.g. ${PROJECTX_USERNAME}) or credentials.file",
            )
        )
    if not isinstance(api_key, str) or not api_key:
        problems.append(
            _located(
                doc,
                ("credentials",),
                "no API key for the gateway",
                hint="set credentials.api_key: ${PROJECTX_API_KEY} or credentials.file",
            )
        )
    return str(username or ""), str(api_key or ""), problems


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> DaemonConfig:
    """Read, validate and complete a configuration file; raises :class:`ConfigError`."""
    environ = dict(os.environ if env is None else env)
    config_path = Path(path).resolve()
    shown = str(path)
    doc, problems = _read_document(config_path)
    if doc is None or problems:
        raise ConfigError([dataclasses.replace(p, file=shown) for p in problems])
    doc.file = shown
    schema_problems = problems_from_errors(
        doc, _schema_validator().iter_errors(json_view(doc.data))
    )
    if schema_problems:
        raise ConfigError(schema_problems)
    substituted, problems = _substitute(doc, doc.data, (), environ)
    if problems:
        raise ConfigError(problems)
    assert isinstance(substituted, dict)
    data: dict[str, Any] = {str(k): v for k, v in substituted.items()}
    base = config_path.parent
    username, api_key, problems = _credentials(doc, data, base)
    if problems:
        raise ConfigError(problems)

    gateway = str(data.get("gateway", TOPSTEPX))
    rest_base = "https://api.topstepx.com" if gateway == TOPSTEPX else gateway.rstrip("/")
    if gateway == TOPSTEPX:
        user_default = "https://rtc.topstepx.com/hubs/user"
        market_default = "https://rtc.topstepx.com/hubs/market"
    else:
        user_default, market_default = f"{rest_base}/hubs/user", f"{rest_base}/hubs/market"

    def resolve(value: object, default: Path) -> Path:
        return (base / str(value)).resolve() if value is not None else default

    data_dir = resolve(data.get("data_dir"), xdg_dir("data", environ))
    log_dir = resolve(data.get("log_dir"), xdg_dir("state", environ) / "log")
    log_section = data.get("log") or {}
    timing_section = data.get("timing") or {}
    return DaemonConfig(
        source=shown,
        gateway=rest_base,
        user_hub=str(data.get("user_hub", user_default)),
        market_hub=str(data.get("market_hub", market_default)),
        username=username,
        api_key=api_key,
        accounts=tuple(int(a) for a in data["accounts"]),
        ruleset_path=resolve(data.get("ruleset"), default_ruleset_path()),
        overlays={
            int(str(account)): resolve(file, Path())
            for account, file in (data.get("overlays") or {}).items()
        },
        database=str(data.get("database", f"sqlite:///{data_dir / 'simple-risk.db'}")),
        data_dir=data_dir,
        log_dir=log_dir,
        status_socket=resolve(
            data.get("status_socket"), xdg_dir("runtime", environ) / "status.sock"
        ),
        admin_password_hash=data.get("admin_password_hash"),
        alert_webhook=data.get("alert_webhook"),
        log=LogSettings(**{str(k): v for k, v in log_section.items()}),
        timing=_timing(timing_section),
    )


def _timing(section: Mapping[str, Any]) -> Timing:
    values: dict[str, Any] = {
        str(name): int(value) if name == "alert_after_attempts" else float(value)
        for name, value in section.items()
    }
    return Timing(**values)


def _apply_overlay(ruleset: Ruleset, path: Path) -> Ruleset:
    """The ruleset with one account's overlay applied (params re-compiled, rules disabled)."""
    doc, problems = _read_document(path)
    if doc is None or problems:
        raise ConfigError(problems)
    data = doc.data if isinstance(doc.data, dict) else None
    if data is None:
        raise ConfigError([_located(doc, (), "an overlay is a mapping with params: and disable:")])
    problems = []
    for key in data:
        if key not in ("params", "disable"):
            problems.append(
                _located(
                    doc, (key,), f"unknown overlay key {key!r}", "use params: or disable:", key=True
                )
            )
    params = data.get("params") or {}
    disable = data.get("disable") or []
    if not isinstance(params, dict):
        problems.append(_located(doc, ("params",), "params: must be a mapping"))
        params = {}
    if not isinstance(disable, list):
        problems.append(_located(doc, ("disable",), "disable: must be a list of rule ids"))
        disable = []
    for name in params:
        if name not in ruleset.params:
            hint = did_you_mean(str(name), [str(p) for p in ruleset.params])
            problems.append(
                _located(
                    doc, ("params", name), f"the ruleset has no param {name!r}", hint, key=True
                )
            )
    rules = {rule.id: rule for rule in ruleset.rules}
    for index, rule_id in enumerate(disable):
        rule = rules.get(str(rule_id))
        if rule is None:
            hint = did_you_mean(str(rule_id), list(rules))
            problems.append(
                _located(doc, ("disable", index), f"the ruleset has no rule {rule_id!r}", hint=hint)
            )
        elif rule.mandatory:
            problems.append(
                _located(
                    doc, ("disable", index), f"rule {rule_id!r} is mandatory and cannot be disabled"
                )
            )
    if problems:
        raise ConfigError(problems)
    compiled = ruleset
    if params:
        try:
            compiled = load_ruleset(
                ruleset.location.file,
                params={**ruleset.params, **{str(k): v for k, v in params.items()}},
            )
        except RulesetError as exc:
            raise ConfigError(list(exc.problems)) from None
    wanted_off = {str(r) for r in disable}
    return dataclasses.replace(
        compiled,
        rules=tuple(
            dataclasses.replace(rule, enabled=False) if rule.id in wanted_off else rule
            for rule in compiled.rules
        ),
    )


def load_rulesets(config: DaemonConfig) -> dict[int, Ruleset]:
    """The ruleset each guarded account runs (the base, or the base with its overlay)."""
    try:
        base = load_ruleset(config.ruleset_path)
    except RulesetError as exc:
        raise ConfigError(list(exc.problems)) from None
    unknown = sorted(set(config.overlays) - set(config.accounts))
    if unknown:
        raise ConfigError(
            [
                Problem(
                    config.source,
                    1,
                    1,
                    f"overlay for account {unknown[0]} which is not in accounts",
                    "config",
                )
            ]
        )
    return {
        account: _apply_overlay(base, config.overlays[account])
        if account in config.overlays
        else base
        for account in config.accounts
    }


#: A hook the demo and tests use to reshape a loaded ruleset (a session open now, short graces).
RulesetTransform = Callable[[Ruleset], Ruleset]

__all__ = [
    "TOPSTEPX",
    "ConfigError",
    "DaemonConfig",
    "LogSettings",
    "RulesetTransform",
    "Timing",
    "load_config",
    "load_rulesets",
    "owner_only",
    "xdg_dir",
]
