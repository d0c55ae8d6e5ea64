"""The customTags of the daemon's own orders: tags nobody without the installation's secret
can make.

Lockouts and the order-side contract rules let the daemon's own orders pass (a protective
stop placed while locked must survive), so "own" must not be something a trader can claim.
An order is the engine's ``order.own`` only when the daemon recorded placing it (the
``OwnOrder`` events it journals); this module makes the tags it places them with, and
recognises them again when the journal lost the record (a crash between the place and the
journal write): each tag carries a random nonce and an HMAC of it under a per-installation
secret, so a tag that only looks like the daemon's (``sr-`` and anything) grants nothing.

The secret is 32 random bytes generated once into the data directory, owner-only (0600).
Tags stay short (27 characters): long customTags are reported to upset the gateway.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from simple_risk.engine.facts.orders import OWN_TAG_PREFIX

log = logging.getLogger(__name__)

SECRET_FILE_NAME = "own-tags.key"
_SECRET_BYTES = 32
_NONCE_HEX = 8
_MAC_HEX = 16


class OwnTagError(Exception):
    """The secret file cannot be created or read (the message says which and why)."""


class OwnTags:
    """Makes and checks the daemon's order tags for one installation (thread safe)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise OwnTagError("the own-order secret is too short")
        self._secret = secret

    @classmethod
    def load(cls, data_dir: Path) -> OwnTags:
        """The installation's secret from ``data_dir``, generated there on first use."""
        path = data_dir / SECRET_FILE_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            with contextlib.suppress(FileExistsError):  # made on an earlier start
                _write_secret(path)
            secret = path.read_bytes()
            if len(secret) != _SECRET_BYTES:
                raise OwnTagError(
                    f"{path} is not a simple-risk secret ({len(secret)} bytes); "
                    "remove it to have a new one generated"
                )
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                # it may have been read: whoever holds it makes tags that verify, and an order
                # so tagged passes a lockout as the daemon's own. A new secret replaces it
                log.warning(
                    "%s was readable by others (mode %o): replaced by a new owner-only secret",
                    path,
                    mode,
                )
                fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
                _write_secret(fresh)
                os.replace(fresh, path)
                secret = path.read_bytes()
        except OSError as exc:
            raise OwnTagError(f"cannot use the own-order secret {path}: {exc}") from exc
        return cls(secret)

    def installation(self) -> str:
        """A short name of this installation (its data directory), derived from the secret:
        the same across restarts, another for another machine's data directory, the secret
        not recoverable from it."""
        return hmac.new(self._secret, b"installation", hashlib.sha256).hexdigest()[:12]

    def _mac(self, account: int, nonce: str) -> str:
        message = f"{account}:{nonce}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:_MAC_HEX]

    def new_tag(self, account: int) -> str:
        """A fresh tag for one order the daemon places in ``account`` (never reused)."""
        nonce = secrets.token_hex(_NONCE_HEX // 2)
        return f"{OWN_TAG_PREFIX}{nonce}{self._mac(account, nonce)}"

    def verify(self, account: int, tag: str | None) -> bool:
        """Whether ``tag`` was made by :meth:`new_tag` of this installation for ``account``."""
        if tag is None or not tag.startswith(OWN_TAG_PREFIX):
            return False
        body = tag[len(OWN_TAG_PREFIX) :]
        if len(body) != _NONCE_HEX + _MAC_HEX:
            return False
        nonce, mac = body[:_NONCE_HEX], body[_NONCE_HEX:]
        return hmac.compare_digest(mac, self._mac(account, nonce))


def _write_secret(path: Path) -> None:
    """Create ``path`` (never over an existing file) holding a new secret, owner-only.

    The secret is written aside and linked in place whole: a write a full disk cuts short
    leaves no empty ``path`` behind, which every later start would refuse."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(_SECRET_BYTES))
            out.flush()
            os.fsync(out.fileno())
        os.link(aside, path)  # FileExistsError when another start made it first
    finally:
        aside.unlink(missing_ok=True)


__all__ = ["SECRET_FILE_NAME", "OwnTagError", "OwnTags"]
