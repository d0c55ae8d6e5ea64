"""The configuration of who reaches the daemon: the status socket's path, mode and group, the
loopback-only TCP addresses (``status_tcp``, ``dashboard``) and the admin password file.

Checked before anything starts, each mistake located: a socket path too long to bind, a mode
that opens the socket to every local user, a group that does not exist, a status port or a
dashboard reachable from the network (anyone could try admin passwords, or read the account),
a password hash other users can read (it invites offline guessing).
"""

from __future__ import annotations

import grp
import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simple_risk.daemon.config_problems import located
from simple_risk.daemon.settings import DEFAULT_SOCKET_MODE
from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.yamlload import Document

_MODE = re.compile(r"^0?[0-7]{3}$")


_TCP = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>[0-9]{1,5})$")


def socket_mode(doc: Document, data: Mapping[str, Any]) -> tuple[int, list[Problem]]:
    """``status_socket_mode``: an octal string; the world never gets the socket."""
    raw = data.get("status_socket_mode")
    where = ("status_socket_mode",)
    if raw is None:
        return DEFAULT_SOCKET_MODE, []
    if not isinstance(raw, str):
        # YAML reads an unquoted 0660 as the decimal number 660: never guess what was meant
        return DEFAULT_SOCKET_MODE, [
            located(
                doc,
                where,
                f"status_socket_mode must be an octal string, got the number {raw}",
                hint='quote it: status_socket_mode: "0660"',
            )
        ]
    if not _MODE.match(raw):
        return DEFAULT_SOCKET_MODE, [
            located(
                doc,
                where,
                f'status_socket_mode "{raw}" is not an octal mode',
                hint='"0600" (the daemon\'s user only) or "0660" (with status_socket_group)',
            )
        ]
    mode = int(raw, 8)
    if mode & 0o007:
        message = f'status_socket_mode "{raw}" opens the socket to every local user'
        hint = 'use "0660" with status_socket_group for the trader\'s group'
    elif mode & 0o600 != 0o600:
        message = f'status_socket_mode "{raw}" does not let the daemon\'s own user connect'
        hint = 'the owner needs read and write: "0600" or "0660"'
    elif mode & 0o070 and not mode & 0o020:
        message = f'status_socket_mode "{raw}" gives the group no write permission'
        hint = 'connecting to a socket needs write permission: "0660"'
    else:
        return mode, []
    return DEFAULT_SOCKET_MODE, [located(doc, where, message, hint=hint)]


def socket_path(doc: Document, data: Mapping[str, Any], path: Path) -> list[Problem]:
    """The status socket's path must fit a Unix socket address (107 bytes): found here, not
    when ``engine run`` binds it after ``--check`` said all was well."""
    from simple_risk.daemon.control.server import MAX_SOCKET_PATH

    size = len(os.fsencode(path))
    if size <= MAX_SOCKET_PATH:
        return []
    where: tuple[object, ...] = ("status_socket",) if "status_socket" in data else ()
    return [
        located(
            doc,
            where,
            f"the status socket path {path} is {size} bytes, longer than a Unix socket"
            f" address may be ({MAX_SOCKET_PATH})",
            hint="set status_socket to a shorter path, e.g. /run/simple-risk/status.sock",
        )
    ]


def socket_group(doc: Document, data: Mapping[str, Any], mode: int) -> list[Problem]:
    """``status_socket_group`` must exist here, and the mode must let it in."""
    group = data.get("status_socket_group")
    if group is None:
        return []
    where = ("status_socket_group",)
    try:
        grp.getgrnam(str(group))
    except KeyError:
        return [
            located(
                doc,
                where,
                f'there is no group "{group}" on this machine',
                hint=f"create it (groupadd {group}) or name an existing group",
            )
        ]
    if not mode & 0o070:
        return [
            located(
                doc,
                where,
                f'status_socket_group "{group}" is set but status_socket_mode gives groups'
                " no access",
                hint='status_socket_mode: "0660"',
            )
        ]
    return []


#: why each loopback-only address is loopback-only (said when another host is given)
STATUS_TCP_WHY = "the status port must not be reachable from the network"


DASHBOARD_WHY = "the dashboard shows the account to anyone who can reach it"


def status_tcp_address(doc: Document, raw: object) -> tuple[tuple[str, int] | None, list[Problem]]:
    """``status_tcp``: a loopback ``HOST:PORT``; ``localhost`` becomes 127.0.0.1 (no DNS)."""
    return loopback_address(doc, "status_tcp", raw, STATUS_TCP_WHY)


def loopback_address(
    doc: Document, key: str, raw: object, why: str
) -> tuple[tuple[str, int] | None, list[Problem]]:
    """A loopback ``HOST:PORT`` setting (``status_tcp``, ``dashboard``); ``localhost`` becomes
    127.0.0.1 (no DNS). Any other host is a located problem that says ``why``."""
    if raw is None:
        return None, []
    where = (key,)
    hint = "127.0.0.1:PORT, [::1]:PORT or localhost:PORT"
    match = _TCP.match(str(raw))
    if match is None:
        return None, [located(doc, where, f'{key} "{raw}" is not HOST:PORT', hint=hint)]
    host = match.group("v6") or match.group("host")
    port = int(match.group("port"))
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if match.group("v6") is not None and ":" not in host:
        loopback = False  # [127.0.0.1]:PORT is not how an IPv4 address is written
    if not loopback:
        return None, [
            located(
                doc,
                where,
                f'{key} host "{host}" is not a loopback address: {why}',
                hint=hint,
            )
        ]
    if not 1 <= port <= 65535:
        return None, [located(doc, where, f"{key} port {port} is not in 1-65535", hint=hint)]
    return (host, port), []


def password_file_problems(doc: Document, data: Mapping[str, Any], path: Path) -> list[Problem]:
    """The admin hash file may be missing (no password yet); if present, owner-only."""
    where: tuple[object, ...] = ("admin_password_file",) if "admin_password_file" in data else ()
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        return [
            located(doc, where, f"cannot check admin password file {path}: {exc.strerror or exc}")
        ]
    if not stat.S_ISREG(info.st_mode):
        return [located(doc, where, f"admin password file {path} is not a regular file")]
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            located(
                doc,
                where,
                f"admin password file {path} is open to other users"
                f" (mode {stat.S_IMODE(info.st_mode):o}); a readable hash invites offline"
                " guessing",
                hint=f"chmod 600 {path}",
            )
        ]
    return []


__all__ = [
    "DASHBOARD_WHY",
    "STATUS_TCP_WHY",
    "loopback_address",
    "password_file_problems",
    "socket_group",
    "socket_mode",
    "socket_path",
    "status_tcp_address",
]
