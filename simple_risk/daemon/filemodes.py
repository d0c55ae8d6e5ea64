"""Files that decide, and whether a user other than the daemon's could change them.

The daemon's user owns what decides (docs/admin.md, "The security model"): the configuration,
the ruleset and its overlays, the admin password hash, and the store with its data directory.
A trader who can write one of them — the file itself, or any folder above it, where a file can
be renamed away and replaced — can loosen a limit, switch an account to observe, set a
password of their own or delete a lockout, and the daemon takes it at the next reload or
restart without a word. So the daemon says so, loudly,
at every start (and ``engine run --check`` reports it as a problem); it does not refuse to
start, which would leave the accounts unguarded.

"Another user could write it": the owner is neither the daemon's user nor root, or others may
write it, or its group may and is not the daemon's own group. A folder that others may write
but that has the sticky bit (``/tmp``) lets nobody rename what they do not own, and the owner
of what is inside is checked in turn.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

if TYPE_CHECKING:
    from simple_risk.daemon.config import DaemonConfig


@dataclass(frozen=True, slots=True)
class OpenFile:
    """A deciding file another user could change, and why."""

    what: str  # "the ruleset", "the overlay of account 20100001", ...
    #: the configuration setting that names it (``--check`` lines start with it)
    key: str
    path: Path
    why: str

    def message(self) -> str:
        return (
            f"{self.what} {self.path} can be changed by a user other than the daemon's "
            f"({self.why}): whoever can write it can loosen the rules at the next reload or "
            "restart; chown it (and its folders) to the daemon's user or root and chmod go-w"
        )


def deciding_files(config: DaemonConfig) -> list[tuple[str, str, Path]]:
    """The files whose contents decide what the daemon enforces, as (what, key, path)."""
    files: list[tuple[str, str, Path]] = []
    if config.source and not config.source.startswith("<"):
        files.append(("the configuration", "--config", Path(config.source)))
    files.append(("the ruleset", "ruleset", config.ruleset_path))
    files.extend(
        (f"the overlay of account {account}", f"overlays.{account}", path)
        for account, path in sorted(config.overlays.items())
    )
    files.append(("the admin password file", "admin_password_file", config.admin_password_file))
    # the store keeps the lockouts and the journal a restart replays; the data directory the
    # own-order secret (an order tagged with it passes a lockout) and the call ledger
    database = _sqlite_file(config.database)
    if database is not None:
        files.append(("the database", "database", database))
    if database is None or Path(os.path.abspath(config.data_dir)) not in database.parents:
        files.append(("the data directory", "data_dir", config.data_dir))
    return files


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``database:`` URL (None for another database, or in memory)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    return Path(os.path.abspath(name))


def open_to_others(
    config: DaemonConfig, *, uid: int | None = None, gid: int | None = None
) -> list[OpenFile]:
    """Every deciding file that a user other than the daemon's (``uid``/``gid``: this
    process's) could change, through itself or a folder above it."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    found: list[OpenFile] = []
    for what, key, path in deciding_files(config):
        why = _writable_by_others(Path(os.path.abspath(path)), uid, gid)
        if why is not None:
            found.append(OpenFile(what, key, path, why))
    return found


def _writable_by_others(path: Path, uid: int, gid: int) -> str | None:
    """Why another user could change ``path`` (None when nobody else can)."""
    for place in (path, *path.parents):
        try:
            info = place.lstat()
        except FileNotFoundError:
            continue  # not there (an admin hash not set yet): its folder decides
        except OSError:
            return None  # the daemon cannot look: it cannot read the file either
        if stat.S_ISLNK(info.st_mode):
            try:
                target = place.resolve(strict=True)
            except OSError:
                continue
            why = _writable_by_others(target, uid, gid)
            if why is not None:
                return why
        name = "" if place == path else f"its folder {place}: "
        if info.st_uid not in (uid, 0):
            return f"{name}owned by {_user(info.st_uid)}"
        folder = stat.S_ISDIR(info.st_mode)
        sticky = folder and bool(info.st_mode & stat.S_ISVTX)
        if info.st_mode & stat.S_IWOTH and not sticky:
            return f"{name}writable by every user (mode {stat.S_IMODE(info.st_mode):o})"
        if info.st_mode & stat.S_IWGRP and info.st_gid != gid and not sticky:
            return (
                f"{name}writable by the group {_group(info.st_gid)} "
                f"(mode {stat.S_IMODE(info.st_mode):o})"
            )
    return None


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


__all__ = ["OpenFile", "deciding_files", "open_to_others"]
