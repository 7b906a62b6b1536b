"""Console sessions: one server-side row per signed-in admin, named by an opaque cookie.

The row lives in the artifact store of the ``admin`` tenant (kind ``ConsoleSession``, keyed by
the SHA-256 of the cookie value, as every browser-held secret). It expires 12 hours after
sign-in whatever happens (absolute) and is dropped after 30 minutes without a request (idle),
both shorter than an end user's session because a console session can change everything.

The cookie value doubles as the CSRF secret: every form carries ``HMAC(cookie key, value)``.
Before sign-in the cookie holds a random value that names no row, so the sign-in and set-up
forms are protected the same way (login CSRF) without writing anything; signing in replaces
it with a new value (session fixation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from portico.ids import digest, opaque_token
from portico.services.bootstrap import ADMIN_TENANT
from portico.storage.artifacts import ArtifactStore
from portico.storage.database import now_ms
from portico.web.runtime import Runtime

KIND = "ConsoleSession"
ABSOLUTE_TTL = 12 * 3600
IDLE_TIMEOUT = 30 * 60
REAUTH_WINDOW = 5 * 60
# A request refreshes ``lastSeen`` only when it is older than this: one write per minute at
# most, not one per page view.
TOUCH_EVERY = 60
_PURPOSE = "console-csrf"


@dataclass
class ConsoleSession:
    handle: str
    admin_id: str
    created_at: int
    last_seen: int
    reauth_at: int
    flashes: list[dict[str, str]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {
            "adminId": self.admin_id,
            # What ``storage/artifacts.revoke_account`` ends an account's artifacts by: a new
            # password or a deleted admin ends their console sessions too.
            "accountId": self.admin_id,
            "createdAt": self.created_at,
            "lastSeen": self.last_seen,
            "reauthAt": self.reauth_at,
            "flashes": self.flashes,
        }

    @property
    def recently_authenticated(self) -> bool:
        return now_ms() - self.reauth_at < REAUTH_WINDOW * 1000


def store(runtime: Runtime) -> ArtifactStore:
    assert runtime.engine is not None
    return ArtifactStore(runtime.engine, ADMIN_TENANT)


async def csrf_token(runtime: Runtime, handle: str) -> str:
    return await runtime.mac(_PURPOSE, handle)


async def csrf_ok(runtime: Runtime, handle: str | None, posted: str) -> bool:
    """Checked against every cookie key still in the ring (constant time), so a form
    rendered before a key rotation is still accepted after it."""
    if not handle or not posted:
        return False
    return await runtime.mac_matches(_PURPOSE, handle, posted)


def cookie_handle(runtime: Runtime, request: Request) -> str | None:
    return request.cookies.get(runtime.console_cookie) or None


def set_cookie(runtime: Runtime, response: Response, handle: str, max_age: int) -> None:
    runtime.set_cookie(response, runtime.console_cookie, handle, max_age, samesite="strict")


def clear_cookie(runtime: Runtime, response: Response) -> None:
    response.delete_cookie(
        runtime.console_cookie,
        path="/",
        secure=runtime.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


async def load(runtime: Runtime, handle: str | None) -> ConsoleSession | None:
    """The live session the cookie names; an idle one is destroyed on the way."""
    if not handle:
        return None
    found = await store(runtime).find(KIND, digest(handle))
    if found is None:
        return None
    p = found.payload
    now = now_ms()
    if now - p["lastSeen"] > IDLE_TIMEOUT * 1000:
        await store(runtime).destroy(KIND, digest(handle))
        return None
    session = ConsoleSession(
        handle, p["adminId"], p["createdAt"], p["lastSeen"], p["reauthAt"], p.get("flashes", [])
    )
    if now - session.last_seen > TOUCH_EVERY * 1000:
        session.last_seen = now
        await save(runtime, session)
    return session


async def save(runtime: Runtime, session: ConsoleSession) -> None:
    await store(runtime).replace(KIND, digest(session.handle), session.payload())


async def start(runtime: Runtime, admin_id: str, old_handle: str | None) -> ConsoleSession:
    """A new session under a new handle; whatever the old cookie named is destroyed."""
    if old_handle:
        await store(runtime).destroy(KIND, digest(old_handle))
    now = now_ms()
    session = ConsoleSession(opaque_token(), admin_id, now, now, now)
    await store(runtime).save(KIND, digest(session.handle), session.payload(), ABSOLUTE_TTL)
    return session


async def end(runtime: Runtime, handle: str) -> None:
    await store(runtime).destroy(KIND, digest(handle))
