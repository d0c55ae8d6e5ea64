"""What the gateway's answers say about time: how long a session token lives, and how long
a refused call must wait (``Retry-After``).

Both are read against this host's clock only where the answer leaves no other way, because
the gateway's clock and this host's need not agree (:func:`token_lifetime` explains how a
token's own issue instant avoids it). Pure functions, kept apart from the REST session
(:mod:`.session`) that acts on them.
"""

from __future__ import annotations

import base64
import email.utils
import json
from datetime import UTC


def _jwt_claims(token: str) -> dict[str, object] | None:
    """The claims of a JWT, or None if ``token`` is not a readable one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def _instant(claims: dict[str, object], name: str) -> float | None:
    value = claims.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def token_lifetime(token: str, wall: float, longest: float) -> tuple[float, float | None]:
    """How long ``token`` lives from the moment it arrived, and how far this host's clock is
    ahead of the gateway's if the token shows it (else None); never more than ``longest``.

    A JWT's ``exp`` is on the gateway's clock. ``exp`` minus this host's clock is wrong by as
    much as the two clocks disagree: a host a day ahead would see every fresh token already
    expired, and refresh the session (and rebuild both hubs) every second. So the lifetime is
    ``exp`` minus the token's own issue instant (``iat``, else ``nbf``) when it carries one,
    which no clock here can skew. Otherwise it is ``exp`` minus ``wall`` (this host's time); a
    token that would be expired on arrival says the host's clock is ahead, and gets ``longest``
    (a token that does die sooner ends in a 401, and the session logs in again).
    """
    claims = _jwt_claims(token)
    expiry = _instant(claims, "exp") if claims is not None else None
    if claims is None or expiry is None:
        return longest, None
    issued = _instant(claims, "iat")
    if issued is None:
        issued = _instant(claims, "nbf")
    if issued is not None and expiry > issued:
        return min(longest, expiry - issued), None
    if expiry <= wall:
        return longest, wall - expiry
    return min(longest, expiry - wall), None


def retry_after_seconds(value: str | None, wall: float) -> float | None:
    """The seconds a ``Retry-After`` header asks for — a number of seconds, or an HTTP date
    (then from ``wall``, this host's time); 0 for a date already past; None when there is no
    header or it cannot be read (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit() and text.isascii():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as every HTTP date is
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - wall, 0.0)


__all__ = ["retry_after_seconds", "token_lifetime"]
