"""The daemon as a service: systemd's notify protocol, SIGHUP reload, owner-only files.

``Type=notify`` lets systemd know when the daemon really guards its accounts (``READY=1`` after
every account reconciled, not when the process started), restart it when it stops answering
(``WATCHDOG=1`` only while the engine thread is alive and the daemon has no fatal error) and
show what it is doing (``STATUS=``). The protocol is one datagram per message to the socket
named by ``NOTIFY_SOCKET``; a leading ``@`` names an abstract socket. Outside systemd the
variable is unset and every call is a no-op, so the same code runs in a terminal.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

#: ``engine run``'s exit status after ``admin daemon stop``: the unit lists it in
#: ``RestartPreventExitStatus=`` (and ``SuccessExitStatus=``), so a stop the admin asked for
#: stays a stop under ``Restart=always`` — which restarts the daemon after anything else
ADMIN_STOP_EXIT = 4


def parent_name() -> str:
    """The name of the process that started this one (``systemd`` for a unit's), from /proc;
    empty when it cannot be read."""
    try:
        return Path(f"/proc/{os.getppid()}/comm").read_text().strip()
    except OSError:
        return ""


def supervisor_of(env: Mapping[str, str] | None = None, parent: str | None = None) -> str | None:
    """``systemd`` when a systemd unit runs this process, else None: started by hand, by
    ``admin daemon start`` or a test. systemd sets ``INVOCATION_ID`` for each run of a
    service, but every process on such a machine is in some unit, and a shell inherits it
    from its own (a desktop's terminal server, a serial console's login): the unit runs this
    process only when the service manager started it too (``parent``, the parent process's
    name; :func:`parent_name` when None). Asked at start: a daemon whose starter exited (``admin
    daemon start``) has init — systemd — for its parent from then on."""
    source = os.environ if env is None else env
    if not source.get("INVOCATION_ID"):
        return None
    return "systemd" if (parent_name() if parent is None else parent) == "systemd" else None


#: file mode bits the daemon never grants: whatever umask it was started with, the database,
#: snapshots, status.json, recordings and logs are its user's alone
OWNER_ONLY_UMASK = 0o077


class Notifier:
    """Sends sd_notify messages when run under systemd; silently nothing otherwise."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        source = os.environ if env is None else env
        address = source.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        usec = source.get("WATCHDOG_USEC", "")
        pid = source.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        #: seconds between watchdog pings (half systemd's WatchdogSec), or None when off
        self.watchdog_interval: float | None = (
            int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 and mine else None
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram; False when not under systemd or failed."""
        if self._address is None:
            return False
        message = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self._address)
        except OSError as exc:
            log.warning("could not notify systemd (%s): %s", fields[0] if fields else "", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str = "stopping") -> bool:
        return self.send("STOPPING=1", f"STATUS={status}")

    def reloading(self) -> bool:
        return self.send("RELOADING=1", "STATUS=reloading the ruleset")


def owner_only(*directories: Path) -> None:
    """Make new files owner-only (umask 077) and tighten the daemon's own directories.

    systemd's ``UMask=0077`` does the first under the shipped unit; a daemon started from a
    shell with umask 022 would otherwise leave the database and the logs world-readable.
    Directories that already exist and belong to this user lose group and other access.
    """
    os.umask(OWNER_ONLY_UMASK)
    for directory in directories:
        try:
            info = directory.stat()
        except OSError:
            continue
        if info.st_uid == os.getuid() and info.st_mode & 0o077:
            try:
                directory.chmod(info.st_mode & 0o700)
            except OSError as exc:
                log.warning("could not make %s owner-only: %s", directory, exc)


__all__ = ["OWNER_ONLY_UMASK", "Notifier", "owner_only"]
