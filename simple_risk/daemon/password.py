"""The admin password: a bcrypt hash in a file only the daemon's user can read.

Why a file and not a configuration key: the configuration is shown, copied and diffed; the
hash is kept apart, mode 0600, so nothing that displays the configuration displays it, and a
trader who can read the configuration still cannot guess the password offline
(architecture.md §5, "Who can change the rules"). The file may be missing — no password set yet; the
status server then answers ``no_password_set``.

bcrypt reads at most 72 bytes of a password and silently ignores the rest, so a longer
password would be weaker than it looks: :func:`hash_password` refuses it (and an empty one)
instead of truncating. :func:`check_password` never raises on what a client sends: a password
that could not have been set is simply wrong.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import bcrypt

if TYPE_CHECKING:
    from simple_risk.daemon.config import DaemonConfig

#: bcrypt's own limit: bytes beyond it are ignored by the algorithm
MAX_PASSWORD_BYTES = 72
DEFAULT_ROUNDS = 12
_HASH = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")


class PasswordFileError(ValueError):
    """The password file exists but cannot be used (unreadable, open to others, not a hash)."""


def validate_password(password: str) -> None:
    """Raise ``ValueError`` for a password bcrypt cannot hash faithfully (empty, > 72 bytes)."""
    if not password:
        raise ValueError("the admin password must not be empty")
    size = len(password.encode("utf-8"))
    if size > MAX_PASSWORD_BYTES:
        raise ValueError(
            f"the admin password is {size} bytes in UTF-8; bcrypt uses at most"
            f" {MAX_PASSWORD_BYTES} and would ignore the rest: choose a shorter one"
        )


def is_bcrypt_hash(text: str) -> bool:
    """True for a ``$2a$``/``$2b$``/``$2y$`` bcrypt hash."""
    return _HASH.match(text) is not None


def hash_password(password: str, *, rounds: int = DEFAULT_ROUNDS) -> str:
    """The bcrypt hash of a UTF-8 password (``rounds`` is the cost; tests lower it)."""
    validate_password(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed``.

    An empty or over-long password is just wrong (it could never have been set), so a client
    cannot make the server raise; a malformed *stored* hash is the operator's problem and
    raises :class:`PasswordFileError`.
    """
    if not is_bcrypt_hash(hashed):
        raise PasswordFileError("the stored admin password hash is not a bcrypt hash")
    try:
        validate_password(password)
    except ValueError:
        return False
    return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))


#: the name the ``admin`` CLI uses for :func:`check_password`
verify_password = check_password


def read_password_hash(source: DaemonConfig | Path) -> str | None:
    """The hash in the configuration's ``admin_password_file`` (or at a path); None if unset.

    Checked again on every read, not only when the configuration was loaded: the file may
    have been replaced since. Raises :class:`PasswordFileError` when the file is open to
    other users, unreadable, or holds something other than one bcrypt hash.
    """
    path = source if isinstance(source, Path) else source.admin_password_file
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise PasswordFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PasswordFileError(
            f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o}); chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise PasswordFileError(f"cannot read {path}: {reason or exc}") from None
    if not text:
        return None
    if not is_bcrypt_hash(text):
        raise PasswordFileError(f"{path} does not hold a bcrypt hash")
    return text


def write_password_hash(path: Path, hashed: str) -> None:
    """Replace the hash file atomically with mode 0600; creates nothing but the file.

    The hash goes to a temporary file in the same directory (created 0600, so it is never
    readable by others, whatever the umask), is flushed to disk, then renamed over ``path``:
    a crash leaves the old hash or the new one, never half of one. A missing directory is an
    error (``FileNotFoundError``), not something to create.
    """
    if not is_bcrypt_hash(hashed):
        raise ValueError("not a bcrypt hash; make one with hash_password()")
    directory = path.parent
    temporary = directory / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (hashed + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


__all__ = [
    "MAX_PASSWORD_BYTES",
    "PasswordFileError",
    "check_password",
    "hash_password",
    "is_bcrypt_hash",
    "read_password_hash",
    "validate_password",
    "verify_password",
    "write_password_hash",
]
