"""A file that decides what the daemon enforces, writable by a user other than the daemon's,
is said at once (daemon/filemodes.py; docs/admin.md, "The security model").

The trader must not be able to loosen a rule: a ruleset, overlay, configuration or admin hash
that the trader's login may write — itself, or through a folder above it — is a limit the
trader can raise at the next reload or restart. ``uid``/``gid`` stand for the daemon's user,
so each case holds whoever runs the tests.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from simple_risk.daemon.config import DaemonConfig, load_config
from simple_risk.daemon.filemodes import open_to_others
from simple_risk.resources import default_ruleset_path

from .conftest import ACCOUNT, Start, ruleset_text

ME = os.getuid()
MY_GROUP = os.getgid()
#: a uid no account on the machine has, for a file given away (as root)
TRADER = 54321


def deployed(tmp_path: Path) -> DaemonConfig:
    """A configuration, ruleset and overlay laid out as examples/deploy/INSTALL.md does:
    the daemon's user owns them, 0640 in a 0750 folder."""
    etc = tmp_path / "etc"
    etc.mkdir(mode=0o750)
    etc.chmod(0o750)
    ruleset = etc / "topstep.yaml"
    ruleset.write_text(default_ruleset_path().read_text(encoding="utf-8"), encoding="utf-8")
    overlays = etc / "overlays"
    overlays.mkdir(mode=0o750)
    overlays.chmod(0o750)
    (overlays / "20100001.yaml").write_text("params: {daily_loss_limit: 300}\n")
    config = etc / "config.yaml"
    config.write_text(
        "gateway: http://127.0.0.1:8700\n"
        "credentials: {username: demo, api_key: demo-api-key}\n"
        "accounts: [20100001]\n"
        "ruleset: topstep.yaml\n"
        "overlays: {20100001: overlays/20100001.yaml}\n"
        f"data_dir: {tmp_path / 'lib'}\n"
        f"log_dir: {tmp_path / 'log'}\n",
        encoding="utf-8",
    )
    for path in (ruleset, overlays / "20100001.yaml", config):
        path.chmod(0o640)
    return load_config(config)


def flagged(config: DaemonConfig, **daemon: int) -> dict[str, str]:
    return {found.what: found.why for found in open_to_others(config, **daemon)}


def test_a_deployment_as_documented_has_nothing_open(tmp_path: Path) -> None:
    assert flagged(deployed(tmp_path), uid=ME, gid=MY_GROUP) == {}


def test_a_ruleset_every_user_may_write_is_said(tmp_path: Path) -> None:
    config = deployed(tmp_path)
    config.ruleset_path.chmod(0o666)
    found = open_to_others(config, uid=ME, gid=MY_GROUP)
    assert [f.what for f in found] == ["the ruleset"]
    assert found[0].why == "writable by every user (mode 666)"
    assert "can loosen the rules at the next reload or restart" in found[0].message()


def test_a_ruleset_owned_by_another_user_is_said(tmp_path: Path) -> None:
    """``simple-risk init ~/risk`` in the trader's home, then the daemon pointed at it: the
    trader owns the ruleset. (As root the test gives the file away; otherwise the daemon is
    taken to be another uid than the test's.)"""
    config = deployed(tmp_path)
    if ME == 0:
        os.chown(config.ruleset_path, TRADER, -1)
        found = flagged(config, uid=ME, gid=MY_GROUP)
        assert found == {"the ruleset": f"owned by uid {TRADER}"}
    else:
        found = flagged(config, uid=ME + 1, gid=MY_GROUP)
        assert found["the ruleset"].startswith("owned by ")


def test_a_folder_another_user_may_write_opens_every_file_in_it(tmp_path: Path) -> None:
    """Write access to a folder is enough to rename the daemon's file away and put one's own
    in its place, whatever the file's own mode."""
    config = deployed(tmp_path)
    overlays = config.overlays[20100001].parent
    overlays.chmod(0o777)
    found = flagged(config, uid=ME, gid=MY_GROUP)
    assert found == {
        "the overlay of account 20100001": f"its folder {overlays}: writable by every user "
        "(mode 777)"
    }


def test_group_write_counts_unless_the_group_is_the_daemons_own(tmp_path: Path) -> None:
    config = deployed(tmp_path)
    config.ruleset_path.chmod(0o660)
    assert flagged(config, uid=ME, gid=MY_GROUP) == {}  # the daemon's own group
    found = flagged(config, uid=ME, gid=MY_GROUP + 1)  # the file's group is another's
    assert found["the ruleset"].startswith("writable by the group ")


def test_a_missing_admin_hash_in_a_folder_others_may_write_is_said(tmp_path: Path) -> None:
    """No password set yet: whoever can create the file sets the admin password."""
    config = deployed(tmp_path)
    folder = config.admin_password_file.parent
    assert not config.admin_password_file.exists()
    folder.chmod(0o777)
    found = flagged(config, uid=ME, gid=MY_GROUP)
    assert "the admin password file" in found


def test_a_sticky_folder_such_as_tmp_protects_what_the_daemon_owns(tmp_path: Path) -> None:
    config = deployed(tmp_path)
    config.config_dir.chmod(0o1777)
    assert flagged(config, uid=ME, gid=MY_GROUP) == {}


def test_the_daemon_guards_and_alerts_when_its_ruleset_is_open_to_others(
    start: Start, short_dir: Path
) -> None:
    """A trader-writable ruleset is not refused — a daemon that does not start guards
    nothing — but every start raises a critical alert naming the file, so the admin (status,
    monitor, notifications) learns that the rules can be loosened behind their back."""
    folder = short_dir / "daemon"
    folder.mkdir()
    ruleset = folder / "ruleset.yaml"
    ruleset.write_text(ruleset_text(), encoding="utf-8")
    ruleset.chmod(0o666)
    run = start()
    alerts = run.request("status")["daemon"]["alerts"]
    (alert,) = [a for a in alerts if str(ruleset) in a["message"]]
    assert alert["level"] == "critical"
    assert "can be changed by a user other than the daemon's" in alert["message"]
    assert "writable by every user (mode 666)" in alert["message"]
    run.trader.buy(ACCOUNT, "MNQ", 60)  # over the MNQ limit of 50: still enforced
    run.wait(lambda: run.trader.size(ACCOUNT, "MNQ") <= 50, "the excess reduced")


def test_a_reload_of_a_ruleset_opened_to_others_since_the_start_is_alerted(
    start: Start, short_dir: Path
) -> None:
    """The admin reloads a ruleset someone made writable by every user after the daemon
    started: the reload applies (its rules are linted as ever), and the alert of a start is
    raised again, naming the file."""
    folder = short_dir / "daemon"
    folder.mkdir()
    ruleset = folder / "ruleset.yaml"
    ruleset.write_text(ruleset_text(), encoding="utf-8")
    ruleset.chmod(0o640)
    run = start()
    assert not [
        a for a in run.request("status")["daemon"]["alerts"] if str(ruleset) in a["message"]
    ]
    ruleset.chmod(0o666)
    assert run.admin("reload", {"reason": "new limits"})["applied"] is True
    alerts = run.request("status")["daemon"]["alerts"]
    (alert,) = [a for a in alerts if str(ruleset) in a["message"]]
    assert alert["level"] == "critical"
    assert "writable by every user (mode 666)" in alert["message"]


def test_a_data_directory_another_user_may_write_is_said(tmp_path: Path) -> None:
    """The store in the data directory keeps the lockouts, the journal a restart replays and
    the secret that makes the daemon's own orders its own. ``data_dir`` put in a folder the
    trader may write (their home, a shared /srv) let them delete the database's lockout rows
    and restart into an account no cooldown held, without a word: it is said like a ruleset
    they could edit."""
    config = deployed(tmp_path)
    shared = tmp_path / "lib"
    shared.mkdir()
    shared.chmod(0o777)
    found = flagged(config, uid=ME, gid=MY_GROUP)
    assert found == {"the database": f"its folder {shared}: writable by every user (mode 777)"}
    (message,) = [f.message() for f in open_to_others(config, uid=ME, gid=MY_GROUP)]
    assert str(shared / "simple-risk.db") in message


def test_a_database_file_another_user_may_write_is_said(tmp_path: Path) -> None:
    config = deployed(tmp_path)
    (tmp_path / "lib").mkdir(mode=0o700)
    database = tmp_path / "lib" / "simple-risk.db"
    database.write_bytes(b"")
    database.chmod(0o666)
    assert flagged(config, uid=ME, gid=MY_GROUP) == {
        "the database": "writable by every user (mode 666)"
    }


def test_with_postgresql_the_data_directory_is_still_checked(tmp_path: Path) -> None:
    """The own-order secret and the call ledger stay in the data directory."""
    config = dataclasses.replace(
        deployed(tmp_path), database="postgresql+psycopg://simple-risk@db/simple-risk"
    )
    shared = tmp_path / "lib"
    shared.mkdir()
    shared.chmod(0o777)
    found = flagged(config, uid=ME, gid=MY_GROUP)
    assert found == {"the data directory": "writable by every user (mode 777)"}
