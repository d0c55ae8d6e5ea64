"""The viewer's time zone, by name: the zone every time on the trader's screen is shown in.

A named zone (``America/Chicago``), never today's offset: each moment is shown with the offset
in force at that moment, so a lock that ends after a daylight-saving change reads as the hour
the trader's clock will show then (``Mon 17:00 CST`` seen on a Friday in CDT), and Friday's
fills read on Monday at the hour the clock showed on Friday.

The zone is the one the C library uses for this machine's local time: ``$TZ`` when it names a
zone, else ``/etc/localtime``. ``TZ`` set but empty is UTC; a ``TZ`` that names no zone the
tz database knows (``TZ=Foo``: the C library runs such a machine on UTC but calls its zone
``Foo``) is shown as what the C library makes of it now, a plain offset (``UTC``), never under
the made-up name.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: the machine's zone when ``TZ`` is not set
LOCALTIME = Path("/etc/localtime")


def viewer_zone(env: dict[str, str] | None = None) -> tzinfo:
    """The viewer's local time zone (see the module's docstring)."""
    value = (os.environ if env is None else env).get("TZ")
    if value is None:
        return _system_zone()
    name = value.lstrip(":")
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    if name.startswith("/"):
        try:
            with open(name, "rb") as file:
                return ZoneInfo.from_file(file, key=name)
        except (OSError, ValueError):
            pass
    # a POSIX rule (CST6CDT,M3.2.0,M11.1.0) or garbage: the offset the C library uses now
    offset = datetime.now().astimezone().utcoffset()
    return UTC if not offset else timezone(offset)


def _system_zone() -> tzinfo:
    """``/etc/localtime``: by the name its link gives (``Europe/Berlin``), else its data."""
    try:
        target = str(LOCALTIME.resolve())
    except OSError:
        return UTC
    _, found, name = target.partition("zoneinfo/")
    if found and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with LOCALTIME.open("rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        return UTC


def now_local() -> datetime:
    """Now, in the viewer's named zone."""
    return datetime.now(viewer_zone())


__all__ = ["LOCALTIME", "now_local", "viewer_zone"]
