"""``admin set-password --config FILE`` goes through the daemon that configuration names.

A password changed behind a running daemon's back would leave no trace in its audit trail; so
the command asks the daemon at the configuration's ``status_socket`` first, writes locally
only when no daemon runs (and audits that in the store), and refuses when a daemon holds the
store's leases but does not answer.
"""

from __future__ import annotations

import os
import pwd
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the groups)
)
from simple_risk.daemon.password import read_password_hash, verify_password
from simple_risk.store import Store
from tests.daemon.conftest import ACCOUNT, PASSWORD, Start

NEW = "a brand new horse"


def _config(directory: Path, gateway: str, password_file: Path) -> Path:
    path = directory / "cli-config.yaml"
    path.write_text(
        f"gateway: {gateway}\n"
        "credentials: {username: demo, api_key: '${SR_KEY}'}\n"
        f"accounts: [{ACCOUNT}]\n"
        f"ruleset: {directory / 'ruleset.yaml'}\n"
        f"data_dir: {directory}\n"
        f"status_socket: {directory / 's.sock'}\n"
        f"admin_password_file: {password_file}\n",
        encoding="utf-8",
    )
    return path


def _set_password(config: Path, *, old: str | None) -> Result:
    env = {"SR_KEY": "k", "SIMPLE_RISK_NEW_ADMIN_PASSWORD": NEW, "SIMPLE_RISK_SOCKET": ""}
    if old is not None:
        env["SIMPLE_RISK_ADMIN_PASSWORD"] = old
    return CliRunner().invoke(cli, ["admin", "set-password", "--config", str(config)], env=env)


def _audits(database: Path) -> list[tuple[str, str]]:
    with Store.open(f"sqlite:///{database}") as store:
        return [(a.action, a.result) for a in store.admin_actions()]


def test_with_a_running_daemon_the_change_goes_through_it_and_is_audited(start: Start) -> None:
    running = start()
    daemon = running.daemon
    config = _config(running.directory, running.sim.base_url, daemon.config.admin_password_file)
    result = _set_password(config, old=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "changed (by the daemon, audited)" in result.output
    hashed = read_password_hash(daemon.config.admin_password_file)
    assert hashed is not None and verify_password(NEW, hashed)
    assert ("set_password", "changed") in [
        (a.action, a.result) for a in daemon.store.admin_actions()
    ]


def test_the_wrong_current_password_changes_nothing(start: Start) -> None:
    running = start()
    daemon = running.daemon
    config = _config(running.directory, running.sim.base_url, daemon.config.admin_password_file)
    result = _set_password(config, old="not the password")
    assert result.exit_code == 1
    hashed = read_password_hash(daemon.config.admin_password_file)
    assert hashed is not None and verify_password(PASSWORD, hashed)


def test_without_a_daemon_the_first_password_is_written_and_audited_locally(
    tmp_path: Path,
) -> None:
    password_file = tmp_path / "admin.bcrypt"
    config = _config(tmp_path, "http://127.0.0.1:1", password_file)
    result = _set_password(config, old=None)
    assert result.exit_code == 0, result.output
    assert "admin password set" in result.output
    hashed = read_password_hash(password_file)
    assert hashed is not None and verify_password(NEW, hashed)
    assert _audits(tmp_path / "simple-risk.db") == [("set_password", "set")]
    with Store.open(f"sqlite:///{tmp_path / 'simple-risk.db'}") as store:
        [row] = store.admin_actions()
    assert row.why == "admin password written locally: no daemon running"


def test_the_first_password_of_a_running_daemon_is_audited_as_such(start: Start) -> None:
    """A daemon started before any password was set: the first one is written locally, and
    the audit (engine history) read "admin password written locally (no daemon running)" —
    while the daemon ran and guarded. It says why it was written locally."""
    running = start(password=None)
    daemon = running.daemon
    config = _config(running.directory, running.sim.base_url, daemon.config.admin_password_file)
    result = _set_password(config, old=None)
    assert result.exit_code == 0, result.output
    [row] = [a for a in daemon.store.admin_actions() if a.action == "set_password"]
    assert (row.why, row.result) == (
        "admin password written locally: the running daemon had none yet",
        "set",
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be the wrong user")
def test_as_root_over_the_daemon_users_configuration_nothing_is_written(tmp_path: Path) -> None:
    """`sudo simple-risk admin set-password --config /etc/simple-risk/config.yaml` — the
    `-u simple-risk` of the install step forgotten — wrote the hash as root, mode 0600: the
    daemon, running as simple-risk, could not read it, and every admin command then failed
    ("admin password file cannot be used"). Root is told whose the folder is and what to
    type; nothing is written."""
    folder = tmp_path / "etc"
    folder.mkdir()
    nobody = 65534
    os.chown(folder, nobody, nobody)
    password_file = folder / "admin.bcrypt"
    config = _config(folder, "http://127.0.0.1:1", password_file)
    result = _set_password(config, old=None)
    assert result.exit_code == 1, result.output
    owner = pwd.getpwuid(nobody).pw_name
    assert (
        f"you are root, and {folder} belongs to {owner}: a password hash root writes there"
        " is one the daemon cannot read; run it as the daemon's user:"
        f" sudo -u {owner} simple-risk admin set-password --config {config}"
    ) in result.output
    assert not password_file.exists()
    assert not (folder / "simple-risk.db").exists()


def test_the_store_the_install_step_creates_is_owner_only_whatever_the_umask(
    tmp_path: Path,
) -> None:
    """The install step (``sudo -u simple-risk simple-risk admin set-password --config``,
    under sudo's usual umask 022) is what first creates the daemon's database, to audit the
    new password; it was left readable by every user (0644, and SQLite gives its -wal and
    -shm files the same mode), where the daemon itself creates everything owner-only."""
    config = _config(tmp_path, "http://127.0.0.1:1", tmp_path / "admin.bcrypt")
    before = os.umask(0o022)
    try:
        result = _set_password(config, old=None)
    finally:
        os.umask(before)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "simple-risk.db").stat().st_mode) == 0o600


def test_a_daemon_that_holds_the_store_but_does_not_answer_blocks_a_local_write(
    tmp_path: Path,
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'simple-risk.db'}") as store:
        assert store.acquire_lease(
            ACCOUNT, "other-host:/x", timedelta(minutes=5), datetime.now(UTC)
        )
    password_file = tmp_path / "admin.bcrypt"
    config = _config(tmp_path, "http://127.0.0.1:1", password_file)
    result = _set_password(config, old=None)
    assert result.exit_code == 1
    assert "holds the lease of account" in result.output
    assert "nothing was written" in result.output
    assert not password_file.exists()
