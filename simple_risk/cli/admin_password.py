"""``simple-risk admin set-password``: set or change the admin password.

A running daemon that has a password changes its own hash (after the current password) and
audits it. The first password, or a change while no daemon runs, is written here as a bcrypt
hash to the configuration's ``admin_password_file`` and audited in the daemon's store: the
install step, done as the daemon's user. Kept apart from :mod:`simple_risk.cli.admin` (the
commands that talk to a running daemon) because most of it is about the local file: who may
write it, and when a daemon that holds the store must be asked instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from simple_risk.cli.admin import (
    EXIT_CODES,
    NEW_PASSWORD_ENV,
    PASSWORD_ENV,
    admin,
    admin_context,
    config_option,
    daemon_hello,
    read_password,
    refuse,
)
from simple_risk.daemon.control.client import Connection
from simple_risk.daemon.service import OWNER_ONLY_UMASK


@admin.command("set-password", epilog=EXIT_CODES)
@config_option(
    help="The daemon's configuration: the daemon it names (its status_socket) is asked "
    "first, whatever $SIMPLE_RISK_SOCKET says (--socket before the sub-command overrides "
    "it); and its admin_password_file, for the first password or when no daemon is running.",
)
def set_password(config_path: str | None) -> None:
    """Set or change the admin password.

    With --config, the daemon that configuration names (its status_socket) is asked first.
    With a running daemon that has a password: asks the current one, then the new one
    twice, and the daemon changes its hash and audits the change. The first password (or
    any change while no daemon runs) is written locally as a bcrypt hash to the
    configuration's admin_password_file and audited in the daemon's store — this needs
    write access to the daemon's configuration directory, so run it as the daemon's user
    (the install step); changing an existing hash this way still needs the current
    password. While a daemon holds the store's account leases but does not answer on its
    socket, nothing is written. For automation: $SIMPLE_RISK_ADMIN_PASSWORD is the current
    password, $SIMPLE_RISK_NEW_ADMIN_PASSWORD the new one.

    \b
    Examples:
      sudo -u simple-risk simple-risk admin set-password \\
          --config /etc/simple-risk/config.yaml
      simple-risk admin set-password
    """
    context = admin_context(config_path)
    config = context.config
    address = context.address
    hello = daemon_hello(address)
    if hello is not None and hello.get("admin_password_set"):
        old = context.password()
        new = read_password(NEW_PASSWORD_ENV, "New admin password", confirm=True)
        with context.errors(), Connection(address) as connection:
            connection.request(
                "set_password", {"new_password": new}, password=old, operator=context.operator
            )
        click.echo("admin password changed (by the daemon, audited)")
        return
    if config is None:
        reason = "no daemon is running" if hello is None else "no admin password is set yet"
        raise click.UsageError(
            f"{reason}: give --config FILE to write the password hash as the daemon's user"
        )
    _refuse_if_root_over_another_users(config, config_path)
    # the store read and written here may be created now (the install step creates it):
    # owner-only, as the daemon creates its files, whatever umask sudo passed on
    before = os.umask(OWNER_ONLY_UMASK)
    try:
        if hello is None:
            _refuse_if_a_daemon_holds_the_store(config, address)
        why = "no daemon running" if hello is None else "the running daemon had none yet"
        _set_password_locally(config, context.operator, why)
    finally:
        os.umask(before)


def _refuse_if_root_over_another_users(config: Any, config_path: str | None) -> None:
    """Root writing the hash (and the audit's store) into the daemon user's folder leaves
    files that user cannot read (0600, root's): the daemon could then check no password."""
    if os.geteuid() != 0:
        return
    folder = Path(config.admin_password_file).parent
    try:
        owner = folder.stat().st_uid
    except OSError:
        return  # said by the write itself
    if owner == 0:
        return
    import pwd

    try:
        name = pwd.getpwuid(owner).pw_name
    except KeyError:
        name = str(owner)
    refuse(
        f"you are root, and {folder} belongs to {name}: a password hash root writes there is"
        " one the daemon cannot read; run it as the daemon's user:"
        f" sudo -u {name} simple-risk admin set-password --config {config_path}"
    )


def _refuse_if_a_daemon_holds_the_store(config: Any, address: str) -> None:
    """A live lease in the store means a daemon guards these accounts: a password changed
    behind its back (and unaudited by it) is refused until it answers on its socket."""
    from datetime import UTC, datetime

    from simple_risk.store import Store, StoreError

    try:
        with Store.open(config.database) as store:
            leases = [store.lease(account) for account in config.accounts]
    except StoreError:
        return  # no store yet: no daemon has ever run here
    now = datetime.now(UTC)
    live = [lease for lease in leases if lease is not None and lease.expires_at > now]
    if live:
        lease = live[0]
        refuse(
            f"a daemon ({lease.owner}) holds the lease of account {lease.account} until "
            f"{lease.expires_at.astimezone():%H:%M:%S} but does not answer on {address}; "
            "change the password through it once it answers (nothing was written)"
        )


def _audit_locally(config: Any, operator: str, result: str, why: str) -> None:
    """The local write goes into the daemon's audit trail like any admin action."""
    import getpass as users
    from datetime import UTC, datetime

    from simple_risk.store import Store, StoreError

    try:
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with Store.open(config.database) as store:
            store.record_admin_action(
                at=datetime.now(UTC),
                who=f"{operator} (local, uid {os.getuid()}, user {users.getuser()})",
                action="set_password",
                why=f"admin password written locally: {why}",
                result=result,
                account=None,
                args={"peer": {"transport": "local", "uid": os.getuid(), "pid": os.getpid()}},
            )
    except (StoreError, OSError) as exc:
        click.echo(f"warning: the change could not be audited in the store: {exc}", err=True)


def _set_password_locally(config: Any, operator: str, why: str) -> None:
    from simple_risk.daemon import password as passwords
    from simple_risk.daemon.control.auth import MIN_PASSWORD_LENGTH

    target = config.admin_password_file
    try:
        existing = passwords.read_password_hash(target)
    except passwords.PasswordFileError as exc:
        refuse(str(exc))
    if existing is not None:
        old = read_password(PASSWORD_ENV, "Current admin password")
        if not passwords.verify_password(old, existing):
            refuse("wrong password; the hash was not changed")
    new = read_password(NEW_PASSWORD_ENV, "New admin password", confirm=True)
    if len(new) < MIN_PASSWORD_LENGTH:  # as the daemon holds a change through it
        refuse(f"the admin password needs at least {MIN_PASSWORD_LENGTH} characters")
    try:
        hashed = passwords.hash_password(new)
    except ValueError as exc:
        refuse(str(exc))
    try:
        passwords.write_password_hash(target, hashed)
    except PermissionError:
        refuse(
            f"cannot write {target}: permission denied — run this as the daemon's user "
            "(the owner of its configuration directory)"
        )
    except OSError as exc:
        refuse(f"cannot write {target}: {exc.strerror or exc}")
    done = "changed" if existing else "set"
    _audit_locally(config, operator, done, why)
    click.echo(f"admin password {done} ({target})")
