"""Trusted devices ("remember this device for N days"): after a second factor, a browser
may be spared the next ones. The browser keeps a random token in a cookie; the server keeps
only its digest, bound to the user and to the user's factors as they were (a digest of their
ids), for the sign-in experience's ``trustedDevice.durationDays``.

The trust ends when the user's factors change (one added, removed or reset: the digest no
longer matches), when the password is reset (every artifact of the account is revoked), or
when it expires. An application that asks for multi-factor (``acr_values``) is never
answered from a trusted device.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from portico.ids import digest, opaque_token

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from portico.experience.mfa import UserMfa
    from portico.experience.turn import Turn

TRUSTED_DEVICE = "TrustedDevice"


def fingerprint(factor_ids: list[str]) -> str:
    """What the user's factors were when the device was trusted."""
    return hashlib.sha256("\n".join(sorted(factor_ids)).encode()).hexdigest()


async def trusted(turn: Turn, user_id: str, user: UserMfa) -> bool:
    """This browser was trusted by this user, with the factors the user has now."""
    token = turn.device
    if not token or not turn.sie.trustedDevice.enabled:
        return False
    found = await turn.provider.artifacts.find(TRUSTED_DEVICE, digest(token))
    if found is None:
        return False
    payload = found.payload
    return bool(payload.get("accountId") == user_id and payload.get("factors") == user.fingerprint)


async def remember(turn: Turn, user_id: str, user: UserMfa, conn: AsyncConnection) -> str:
    """Trust this browser for the user (in the sign-in's transaction); the cookie's token."""
    token = opaque_token()
    payload = {
        "accountId": user_id,
        "factors": user.fingerprint,
        "userAgent": (turn.origin.user_agent or "")[:256],
    }
    ttl = turn.sie.trustedDevice.days * 86400
    await turn.provider.artifacts.save(TRUSTED_DEVICE, digest(token), payload, ttl, conn=conn)
    return token
