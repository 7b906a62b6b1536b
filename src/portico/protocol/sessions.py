"""Browser sessions at the provider (the "SSO session") and sign-in interactions.

The cookie holds a 256-bit random handle; the database holds only its digest. ``sid`` (the
ID token claim) is a separate random value, so an ID token never reveals the cookie.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import digest, opaque_token, standard_id
from portico.protocol.provider import Provider

SESSION = "Session"
INTERACTION = "Interaction"
SESSION_TTL = 14 * 86400
INTERACTION_TTL = 3600


@dataclass(frozen=True)
class Session:
    account_id: str
    auth_time: int
    sid: str
    amr: tuple[str, ...] = ()  # how the user signed in (RFC 8176), see ``protocol/acr.py``


async def start_session(
    provider: Provider,
    account_id: str,
    conn: AsyncConnection | None = None,
    amr: tuple[str, ...] = (),
) -> tuple[str, Session]:
    """``conn``: in the caller's transaction (sign-in writes everything it changes at once);
    ``amr``: the authentication methods the sign-in used."""
    handle = opaque_token()
    session = Session(account_id, int(time.time()), standard_id(), amr)
    payload = {"accountId": account_id, "authTime": session.auth_time, "sid": session.sid}
    if amr:
        payload["amr"] = list(amr)
    await provider.artifacts.save(SESSION, digest(handle), payload, SESSION_TTL, conn=conn)
    return handle, session


async def find_session(provider: Provider, handle: str | None) -> Session | None:
    if not handle:
        return None
    stored = await provider.artifacts.find(SESSION, digest(handle))
    if stored is None:
        return None
    p = stored.payload
    return Session(p["accountId"], int(p["authTime"]), p["sid"], tuple(p.get("amr") or ()))


async def end_session(
    provider: Provider, handle: str | None, conn: AsyncConnection | None = None
) -> None:
    if handle:
        await provider.artifacts.destroy(SESSION, digest(handle), conn)


async def start_interaction(provider: Provider, payload: dict[str, Any]) -> str:
    uid = opaque_token()
    stored = {**payload, "csrf": opaque_token(), "createdAt": int(time.time() * 1000)}
    await provider.artifacts.save(INTERACTION, digest(uid), stored, INTERACTION_TTL)
    return uid


async def find_interaction(provider: Provider, uid: str | None) -> dict[str, Any] | None:
    if not uid or len(uid) > 128:
        return None
    stored = await provider.artifacts.find(INTERACTION, digest(uid))
    return stored.payload if stored and stored.consumed_at is None else None


async def update_interaction(
    provider: Provider, uid: str, payload: dict[str, Any], conn: AsyncConnection | None = None
) -> None:
    await provider.artifacts.replace(INTERACTION, digest(uid), payload, conn)


async def finish_interaction(provider: Provider, uid: str) -> bool:
    return await provider.artifacts.consume(INTERACTION, digest(uid))
