"""The daemon's configuration file: strict YAML, its own JSON Schema, located errors.

``simple-risk engine run --config FILE`` reads it through the same strict loader as rulesets
(so ``on``/``yes`` are not booleans and duplicate keys are errors) and reports every mistake
as ``FILE:LINE:COL: message`` like ``rules lint`` — then refuses to start. ``${ENV}`` in any
string is replaced by the environment variable (an unset one is an error, never ""), and every
optional setting has a default (directories follow XDG).

Credentials come inline (normally ``${PROJECTX_API_KEY}``) or from a file that only its owner
may read: a secrets file readable by the group or the world is refused, because the trader's
own user must not be able to read the key the daemon enforces with.

Each entry of ``accounts:`` is an id (the account is enforced) or ``{id: ID, enforce: false}``:
the account is only *observed* — every rule is evaluated and every firing journaled and shown
as what would be done, but nothing is sent to the gateway (``engine run --observe`` observes
every account). An admin's ``simple-risk admin enforce`` choice, kept in the store, outlives
this setting (docs/daemon.md, "Observe mode").

Per-account overlay files (``overlays: {ACCOUNT: FILE}``) hold ``params:`` overrides, a
``disable:`` list of rule ids and ``rules:`` to add; the DSL applies them
(``load_ruleset(base, overlay=FILE)``), so an overlay's mistakes are located in the overlay
exactly as ``rules lint --base`` reports them.

The status/admin server's settings are checked before anything starts too
(:mod:`~simple_risk.daemon.config_access`: the socket's mode and group, the loopback-only TCP
addresses, the admin password *file* — a bcrypt hash kept out of the configuration so the
configuration can be shown, and refused when other users can read it; the file may be
missing: no password has been set yet), and so are the notification channels
(:mod:`~simple_risk.daemon.config_notify`). The settings themselves are plain values
(:mod:`~simple_risk.daemon.settings`); :mod:`~simple_risk.daemon.config_problems` words and
locates the problems.
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

from simple_risk.daemon.config_access import (
    DASHBOARD_WHY,
    loopback_address,
    password_file_problems,
    socket_group,
    socket_mode,
    socket_path,
    status_tcp_address,
)
from simple_risk.daemon.config_notify import (
    masked_url,
    notify_settings,
    webhook_schemes,
    without_notify_tokens,
)
from simple_risk.daemon.config_problems import config_wording, located
from simple_risk.daemon.settings import (
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SOCKET_MODE,
    LogSettings,
    NotifySettings,
    Origin,
    StatusLimits,
    Timing,
    retention_days,
)
from simple_risk.engine.dsl import RulesetError, analyse_overlay, analyse_text, load_ruleset
from simple_risk.engine.dsl.problems import Problem, sort_problems
from simple_risk.engine.dsl.schema import json_view, problems_from_errors
from simple_risk.engine.dsl.yamlload import Document, load_document
from simple_risk.engine.model import Ruleset
from simple_risk.paths import xdg_dir
from simple_risk.resources import default_ruleset_path, schema_path

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
TOPSTEPX = "topstepx"
#: the admin password hash file's name, next to the configuration file unless configured
PASSWORD_FILE_NAME = "admin-password.bcrypt"


class ConfigError(Exception):
    """The configuration (or a file it names) cannot be used; every problem is located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


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
    #: bcrypt hash of the admin password (may not exist yet: ``no_password_set``)
    admin_password_file: Path
    #: the configuration file's directory (relative paths in it are resolved against it)
    config_dir: Path
    #: permission bits of the status socket (0o600: the daemon's user only; 0o660 + a group)
    status_socket_mode: int = DEFAULT_SOCKET_MODE
    status_socket_group: str | None = None
    #: optional loopback TCP listener (host, port); the host is always a loopback address
    status_tcp: tuple[str, int] | None = None
    #: the trader's read-only dashboard (host, port), loopback only; None: not served
    dashboard: tuple[str, int] | None = None
    #: hold the CPUs' wake-up latency at most this many µs while running (``daemon.cpuwake``);
    #: None: leave the machine's power management alone
    cpu_latency_us: int | None = None
    status_limits: StatusLimits = field(default_factory=StatusLimits)
    notify: NotifySettings = field(default_factory=NotifySettings)
    #: deprecated alias of ``notify.webhook`` (kept equal to it) until every reader moves
    alert_webhook: str | None = None
    log: LogSettings = field(default_factory=LogSettings)
    timing: Timing = field(default_factory=Timing)
    #: trading days of journal and own-order records kept; None: everything, forever
    retention_days: int | None = DEFAULT_RETENTION_DAYS
    #: accounts only observed (``enforce: false``; ``engine run --observe`` is
    #: :attr:`RuntimeOptions.observe <simple_risk.daemon.runtime.RuntimeOptions.observe>`)
    observed: frozenset[int] = frozenset()
    #: where the file settings (``ruleset``, ``overlays.ACCOUNT``) were written; empty for a
    #: configuration built in code (the simulator, tests)
    origins: Mapping[str, Origin] = field(default_factory=dict)

    def with_timing(self, timing: Timing) -> DaemonConfig:
        """The same configuration with other intervals (the demo and tests shrink them)."""
        return dataclasses.replace(self, timing=timing)


def account_id(entry: object) -> int:
    """The id of one ``accounts:`` entry (an id, or ``{id: ID, enforce: …}``)."""
    if isinstance(entry, Mapping):
        return int(entry["id"])
    return int(str(entry))


def _observed_accounts(entries: list[object]) -> frozenset[int]:
    return frozenset(
        account_id(entry)
        for entry in entries
        if isinstance(entry, Mapping) and entry.get("enforce") is False
    )


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


#: what an empty configuration file should hold (the YAML loader's own hint names a ruleset)
CONFIG_HINT = (
    "a configuration is a mapping with gateway:, credentials:, accounts:, ruleset:;"
    " simple-risk init DIR writes one to edit"
)
#: ... and an empty secrets file (``credentials: {file: ...}``)
SECRETS_HINT = "a secrets file is a mapping with username: and api_key:"


def _read_document(path: Path, hint: str) -> tuple[Document | None, list[Problem]]:
    """Load ``path`` as YAML; an empty file's problem carries ``hint`` (what belongs in it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(str(path), 0, 0, f"cannot read file: {exc.strerror}", "file")]
    except UnicodeDecodeError:
        return None, [Problem(str(path), 1, 1, "the file is not UTF-8 text", "encoding")]
    doc, problems = load_document(text, str(path))
    return doc, [
        dataclasses.replace(p, hint=hint) if p.check == "empty-file" else p for p in problems
    ]


def owner_only(path: Path) -> bool:
    """True when neither the group nor others may read the file (mode 0600 or stricter)."""
    mode = path.stat().st_mode
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)


def _configured_path(value: object, base: Path, home: Path) -> Path:
    """A path written in the configuration: ``~`` is the home directory, as in a shell (before,
    ``~/data`` became a directory named ``~`` next to the file); a relative path is relative to
    the configuration file's directory."""
    text = str(value)
    if text == "~" or text.startswith("~/"):
        text = str(home) + text[1:]
    return (base / text).resolve()


def _resolution(written: str, path: Path) -> str:
    """How a relative path was resolved (the daemon may run from any working directory)."""
    if Path(written).is_absolute() or written == "~" or written.startswith("~/"):
        return ""
    return f" (resolved from '{written}' relative to the configuration's folder {path})"


def unreadable_file(path: Path) -> tuple[str, str] | None:
    """Why ``path`` cannot be read as a file and what to do (None when it can): missing, a
    directory, or not readable by this user."""
    try:
        with path.open("rb"):
            return None
    except FileNotFoundError:
        return "no such file", "fix the path, or create the file"
    except IsADirectoryError:
        return "is a directory, not a file", "name the file inside it"
    except PermissionError:
        return (
            f"not readable by this user (uid {os.getuid()})",
            "let the daemon's user read it (chown or chmod), or fix the path",
        )
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})", "fix the path"


def _file_problem(
    source: str, origin: Origin, setting: str, path: Path, base: Path
) -> Problem | None:
    """A located problem when the file a setting names cannot be read."""
    unreadable = unreadable_file(path)
    if unreadable is None:
        return None
    why, hint = unreadable
    resolution = _resolution(origin.written, base)
    return Problem(
        source,
        origin.line,
        origin.column,
        f"{setting}: {why}: {path}{resolution}",
        "config",
        hint=hint,
    )


def _origin(doc: Document, path: tuple[object, ...], written: object) -> Origin:
    mark = doc.at(path)
    return Origin(mark.line, mark.column, str(written))


def _credentials(
    doc: Document, data: Mapping[str, Any], base: Path, home: Path
) -> tuple[str, str, list[Problem]]:
    section = data.get("credentials") or {}
    username = section.get("username")
    api_key = section.get("api_key")
    problems: list[Problem] = []
    secrets_file = section.get("file")
    if secrets_file is not None:
        path = _configured_path(secrets_file, base, home)
        where = ("credentials", "file")
        missing = _file_problem(
            doc.file, _origin(doc, where, secrets_file), "credentials.file", path, base
        )
        if missing is not None:
            return "", "", [missing]
        if not owner_only(path):
            return (
                "",
                "",
                [
                    located(
                        doc,
                        where,
                        f"secrets file {path} is readable by other users "
                        f"(mode {stat.S_IMODE(path.stat().st_mode):o})",
                        hint=f"chmod 600 {path}",
                    )
                ],
            )
        secret_doc, found = _read_document(path, SECRETS_HINT)
        if secret_doc is None or found:
            return "", "", found
        secret = secret_doc.data if isinstance(secret_doc.data, dict) else {}
        username = username or secret.get("username")
        api_key = api_key or secret.get("api_key")
    # no username or key holds whitespace at an end: what a Windows editor's CRLF (a "\r"
    # at the end of an environment file's line) or a paste leaves would fail the login
    username = username.strip() if isinstance(username, str) else username
    api_key = api_key.strip() if isinstance(api_key, str) else api_key
    if not isinstance(username, str) or not username:
        problems.append(
            located(
                doc,
                ("credentials",),
                "no username for the gateway",
                hint="set credentials.username (e.g. ${PROJECTX_USERNAME}) or credentials.file",
            )
        )
    if not isinstance(api_key, str) or not api_key:
        problems.append(
            located(
                doc,
                ("credentials",),
                "no API key for the gateway",
                hint="set credentials.api_key: ${PROJECTX_API_KEY} or credentials.file",
            )
        )
    return str(username or ""), str(api_key or ""), problems


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, *, credentials: bool = True
) -> DaemonConfig:
    """Read, validate and complete a configuration file; raises :class:`ConfigError`.

    ``credentials=False``: for the commands that only find the daemon's socket, store or
    password file through it (``engine history``, ``admin …``): the ``credentials:`` section is
    neither read nor required (the API key lives in the daemon's environment file, which an
    admin's ``sudo -u simple-risk`` does not load), and the config's username and API key are
    empty."""
    environ = dict(os.environ if env is None else env)
    config_path = Path(path).resolve()
    shown = str(path)
    doc, problems = _read_document(config_path, CONFIG_HINT)
    if doc is None or problems:
        raise ConfigError([dataclasses.replace(p, file=shown) for p in problems])
    doc.file = shown
    schema_problems = webhook_schemes(doc) + [
        without_notify_tokens(config_wording(p), doc.data)
        for p in problems_from_errors(doc, _schema_validator().iter_errors(json_view(doc.data)))
    ]
    said = {(p.line, p.column) for p in schema_problems if p.check == "webhook-scheme"}
    schema_problems = [
        p for p in schema_problems if p.check == "webhook-scheme" or (p.line, p.column) not in said
    ]
    if schema_problems:
        raise ConfigError(schema_problems)
    source = doc.data
    if not credentials and isinstance(source, dict):
        source = {key: value for key, value in source.items() if key != "credentials"}
    substituted, problems = _substitute(doc, source, (), environ)
    if problems:
        raise ConfigError(problems)
    assert isinstance(substituted, dict)
    data: dict[str, Any] = {str(k): v for k, v in substituted.items()}
    base = config_path.parent
    home = Path(environ.get("HOME", str(Path.home())))
    username, api_key = "", ""
    if credentials:
        username, api_key, problems = _credentials(doc, data, base, home)
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
        return _configured_path(value, base, home) if value is not None else default

    data_dir = resolve(data.get("data_dir"), xdg_dir("data", environ))
    log_dir = resolve(data.get("log_dir"), xdg_dir("state", environ) / "log")
    log_section = data.get("log") or {}
    timing_section = data.get("timing") or {}
    password_file = resolve(data.get("admin_password_file"), base / PASSWORD_FILE_NAME)
    mode, problems = socket_mode(doc, data)
    problems += socket_group(doc, data, mode)
    status_tcp, found = status_tcp_address(doc, data.get("status_tcp"))
    problems += found
    dashboard, found = loopback_address(doc, "dashboard", data.get("dashboard"), DASHBOARD_WHY)
    problems += found
    notify, found = notify_settings(doc, data)
    problems += found
    limits, found = _status_limits(doc, data.get("status_limits") or {})
    problems += found
    problems += password_file_problems(doc, data, password_file)
    status_socket = resolve(data.get("status_socket"), xdg_dir("runtime", environ) / "status.sock")
    problems += socket_path(doc, data, status_socket)
    problems += _overlay_accounts(doc, data)
    problems += _repeated_accounts(doc, data)
    if problems:
        raise ConfigError(problems)
    return DaemonConfig(
        source=shown,
        gateway=rest_base,
        user_hub=str(data.get("user_hub", user_default)),
        market_hub=str(data.get("market_hub", market_default)),
        username=username,
        api_key=api_key,
        accounts=tuple(account_id(a) for a in data["accounts"]),
        ruleset_path=resolve(data.get("ruleset"), default_ruleset_path()),
        overlays={
            int(str(account)): resolve(file, Path())
            for account, file in (data.get("overlays") or {}).items()
        },
        database=str(data.get("database", f"sqlite:///{data_dir / 'simple-risk.db'}")),
        data_dir=data_dir,
        log_dir=log_dir,
        status_socket=status_socket,
        admin_password_file=password_file,
        config_dir=base,
        status_socket_mode=mode,
        status_socket_group=data.get("status_socket_group"),
        status_tcp=status_tcp,
        dashboard=dashboard,
        cpu_latency_us=data.get("cpu_latency_us"),
        status_limits=limits,
        notify=notify,
        alert_webhook=notify.webhook,
        log=LogSettings(**{str(k): v for k, v in log_section.items()}),
        timing=_timing(timing_section),
        retention_days=retention_days(data.get("retention_days")),
        observed=_observed_accounts(list(data["accounts"])),
        origins=_file_origins(doc, data),
    )


def _file_origins(doc: Document, data: Mapping[str, Any]) -> dict[str, Origin]:
    """Where ``ruleset:`` and each ``overlays:`` entry are written (see :class:`Origin`)."""
    origins: dict[str, Origin] = {}
    if data.get("ruleset") is not None:
        origins["ruleset"] = _origin(doc, ("ruleset",), data["ruleset"])
    for account, file in (data.get("overlays") or {}).items():
        origins[f"overlays.{account}"] = _origin(doc, ("overlays", account), file)
    return origins


def _named_file_problems(config: DaemonConfig) -> list[Problem]:
    """Every file the configuration names that cannot be read, at the line naming it."""
    named = [("ruleset", config.ruleset_path)] + [
        (f"overlays.{account}", path) for account, path in config.overlays.items()
    ]
    problems: list[Problem] = []
    for setting, path in named:
        origin = config.origins.get(setting)
        if origin is None:
            continue
        problem = _file_problem(config.source, origin, setting, path, config.config_dir)
        if problem is not None:
            problems.append(problem)
    return problems


def _overlay_accounts(doc: Document, data: Mapping[str, Any]) -> list[Problem]:
    """Every overlay belongs to a guarded account (a typo would silently guard nobody)."""
    accounts = {account_id(a) for a in data.get("accounts") or []}
    return [
        located(
            doc,
            ("overlays", key),
            f"overlay for account {key}, which is not in accounts",
            hint="add it to accounts: or fix the account id",
            key=True,
        )
        for key in (data.get("overlays") or {})
        if int(str(key)) not in accounts
    ]


def _repeated_accounts(doc: Document, data: Mapping[str, Any]) -> list[Problem]:
    """An account listed twice (``1`` and ``{id: 1, enforce: false}``) has no one mode."""
    seen: set[int] = set()
    problems: list[Problem] = []
    for index, entry in enumerate(data.get("accounts") or []):
        account = account_id(entry)
        if account in seen:
            problems.append(
                located(
                    doc,
                    ("accounts", index),
                    f"account {account} is listed twice",
                    hint="list each account once (with enforce: false to only observe it)",
                )
            )
        seen.add(account)
    return problems


def _status_limits(doc: Document, section: Mapping[str, Any]) -> tuple[StatusLimits, list[Problem]]:
    """``status_limits``: the schema checks each number; the slots kept for admin operations
    must leave some for everyone else."""
    values: dict[str, Any] = {
        str(name): float(value) if name == "idle_timeout" else int(value)
        for name, value in section.items()
    }
    limits = StatusLimits(**values)
    if limits.admin_reserved_connections >= limits.max_connections:
        key = "admin_reserved_connections"
        where = ("status_limits", key) if key in section else ("status_limits",)
        return limits, [
            located(
                doc,
                where,
                f"admin_reserved_connections ({limits.admin_reserved_connections}) leaves no "
                f"connection of max_connections ({limits.max_connections}) for anyone else",
                hint="keep a few (4) for admin operations, below max_connections",
            )
        ]
    return limits, []


def _timing(section: Mapping[str, Any]) -> Timing:
    values: dict[str, Any] = {
        str(name): int(value) if name == "alert_after_attempts" else float(value)
        for name, value in section.items()
    }
    return Timing(**values)


def load_rulesets(config: DaemonConfig) -> dict[int, Ruleset]:
    """The ruleset each guarded account runs (the base, or the base with its overlay).

    An overlay is applied by the DSL (``load_ruleset(base, overlay=FILE)``): its params
    override, its ``disable:`` rules are switched off (never a ``mandatory`` one), its
    ``rules:`` are compiled in the base's scope and appended; every mistake is located in the
    overlay file. A file that cannot be read is reported at the configuration line naming it.
    """
    unreadable = _named_file_problems(config)
    if unreadable:
        raise ConfigError(unreadable)
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
    rulesets: dict[int, Ruleset] = {}
    problems: list[Problem] = []
    for account in config.accounts:
        overlay = config.overlays.get(account)
        if overlay is None:
            rulesets[account] = base
            continue
        try:
            rulesets[account] = load_ruleset(config.ruleset_path, overlay=overlay)
        except RulesetError as exc:
            problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise ConfigError(problems)
    return rulesets


def ruleset_warnings(config: DaemonConfig) -> list[Problem]:
    """What ``rules lint`` (without ``--strict``) warns of in the ruleset and each account's
    overlay, located: the daemon loads a ruleset with warnings, and one may mean a limit
    other than the one meant (an overlay's map that leaves keys out, overlay-map-keys). Files
    that cannot be read are for :func:`load_rulesets` to report; here they are skipped."""
    try:
        base = config.ruleset_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    base_name = str(config.ruleset_path)
    found = list(analyse_text(base, base_name).problems)
    for account in config.accounts:
        overlay = config.overlays.get(account)
        if overlay is None:
            continue
        try:
            text = overlay.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found += analyse_overlay(base, base_name, text, str(overlay)).problems
    return sort_problems(p for p in found if p.severity == "warning")


#: A hook the demo and tests use to reshape a loaded ruleset (a session open now, short graces).
RulesetTransform = Callable[[Ruleset], Ruleset]

__all__ = [
    "TOPSTEPX",
    "ConfigError",
    "DaemonConfig",
    "LogSettings",
    "NotifySettings",
    "Origin",
    "RulesetTransform",
    "StatusLimits",
    "Timing",
    "account_id",
    "load_config",
    "load_rulesets",
    "masked_url",
    "owner_only",
    "ruleset_warnings",
]
