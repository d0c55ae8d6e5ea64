"""The admin password: bcrypt hashing, its limits, and the owner-only hash file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from simple_risk.daemon.config import load_config
from simple_risk.daemon.password import (
    PasswordFileError,
    check_password,
    hash_password,
    read_password_hash,
    write_password_hash,
)

ENV = {"HOME": "/home/trader", "PROJECTX_USERNAME": "alice", "PROJECTX_API_KEY": "k-123456"}


def _hash(password: str) -> str:
    return hash_password(password, rounds=4)


def test_a_hash_checks_its_own_password_only() -> None:
    hashed = _hash("correct horse battery staple")
    assert hashed.startswith("$2b$04$")
    assert check_password("correct horse battery staple", hashed)
    assert not check_password("correct horse battery stapler", hashed)


def test_passwords_are_utf8() -> None:
    hashed = _hash("pässwört ✓")
    assert check_password("pässwört ✓", hashed)
    assert not check_password("passwort ✓", hashed)


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        hash_password("")


def test_a_password_bcrypt_would_truncate_is_refused() -> None:
    assert check_password("x" * 72, _hash("x" * 72))
    with pytest.raises(ValueError, match=r"73 bytes in UTF-8; bcrypt uses at most 72"):
        hash_password("x" * 73)
    with pytest.raises(ValueError, match=r"74 bytes"):  # 37 two-byte characters
        hash_password("ä" * 37)


def test_a_client_cannot_make_the_check_raise() -> None:
    hashed = _hash("x" * 72)
    assert not check_password("", hashed)
    assert not check_password("x" * 73, hashed)  # bcrypt 5 raises; older ones truncate


def test_a_malformed_stored_hash_is_an_error_not_a_mismatch() -> None:
    with pytest.raises(PasswordFileError, match="not a bcrypt hash"):
        check_password("pw", "plain-text-password")


def test_the_hash_file_is_written_atomically_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "admin-password.bcrypt"
    old_umask = os.umask(0)
    try:
        write_password_hash(target, _hash("first"))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_password_hash(target, _hash("second"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["admin-password.bcrypt"]
    stored = read_password_hash(target)
    assert stored is not None and check_password("second", stored)


def test_writing_creates_no_directory_and_refuses_what_is_not_a_hash(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_password_hash(tmp_path / "missing" / "admin.hash", _hash("pw"))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="not a bcrypt hash"):
        write_password_hash(tmp_path / "admin.hash", "hunter2")
    assert list(tmp_path.iterdir()) == []


def test_reading_through_the_configuration(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "gateway: http://127.0.0.1:8700\n"
        "credentials: {username: alice, api_key: k}\n"
        "accounts: [1]\n",
        encoding="utf-8",
    )
    config = load_config(config_file, ENV)
    assert read_password_hash(config) is None  # no password set yet
    hashed = _hash("pw")
    write_password_hash(config.admin_password_file, hashed)
    assert read_password_hash(config) == hashed
    config.admin_password_file.write_text("", encoding="ascii")
    assert read_password_hash(config) is None


def test_a_hash_file_that_became_readable_or_garbled_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "admin.hash"
    write_password_hash(target, _hash("pw"))
    target.chmod(0o644)
    with pytest.raises(PasswordFileError, match=r"open to other users \(mode 644\); chmod 600"):
        read_password_hash(target)
    target.chmod(0o600)
    target.write_text("not a hash\n", encoding="ascii")
    with pytest.raises(PasswordFileError, match="does not hold a bcrypt hash"):
        read_password_hash(target)
