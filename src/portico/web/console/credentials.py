"""Checking console passwords: the admin tenant's password policy for new ones, and sign-in
(also re-authentication) with throttling.

Failed sign-ins are counted by ``experience/sentinel.py`` per username *and client address*
(an unknown username the same way), and slow down rather than lock: after
:data:`BACKOFF`'s free attempts each one waits a delay that doubles, up to five minutes. A
lock per username alone let anyone lock the owner out of the console by typing the admin's
name ten times; throttled per address, a stranger's guesses only slow the stranger down,
while the owner signs in from their own address at once. Someone with the server at hand
always has ``portico admin reset-password``, which also forgets every failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from portico.experience.sentinel import Backoff, Locked
from portico.services import admins
from portico.services import users as user_service
from portico.services.bootstrap import ADMIN_TENANT
from portico.services.errors import ServiceError
from portico.web.i18n import DEFAULT, translator
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

BACKOFF = Backoff(free=5, first=1, longest=300)
WINDOW_SECONDS = 3600
# Per username and address in the window: with the backoff about 25 fit in an hour, so this
# ceiling (ASVS's 100 an hour) only holds if the delays are ever shortened.
MAX_FAILURES = 100


async def create_admin(
    conn: AsyncConnection, username: str, password: str, lang: str = DEFAULT
) -> dict[str, Any]:
    """``services/admins.create_admin`` (the admin tenant's password policy applies), its
    refusal put in words for the console's forms, in ``lang``: the hosted pages' phrases for
    the same rules."""
    try:
        return await admins.create_admin(conn, username, password)
    except admins.PasswordRejected as rejected:
        phrase = translator(lang)(rejected.rejection.code, **rejected.rejection.data)
        raise ServiceError(phrase, code="password.rejected") from None


def _wait(locked: Locked, t: Callable[..., str]) -> str:
    seconds = locked.seconds_left()
    if seconds == 1:
        return t("sign_in.wait_one_second")
    if seconds < 120:
        return t("sign_in.wait_seconds", count=seconds)
    return t("sign_in.wait_minutes", count=locked.minutes_left())


async def verify(
    runtime: Runtime, username: str, password: str, address: str, t: Callable[..., str]
) -> dict[str, Any] | str:
    """The admin whose password this is, or why not (wrong, or wait) in the admin's language
    ``t``; ``address``: the client's IP address, part of what failures count against."""
    assert runtime.sentinel is not None and runtime.engine is not None
    target = f"console:{username.strip().lower()}@{address}"
    reserved = await runtime.sentinel.reserve(
        ADMIN_TENANT, target, MAX_FAILURES, WINDOW_SECONDS, BACKOFF
    )
    if isinstance(reserved, Locked):
        return _wait(reserved, t)
    admin = await user_service.authenticate(runtime.engine, ADMIN_TENANT, username, password)
    if admin is None:
        return t("sign_in.wrong_credentials")
    await runtime.sentinel.release(reserved)
    await runtime.sentinel.succeeded(ADMIN_TENANT, target)
    return admin


async def check_own_password(
    runtime: Runtime, admin: dict[str, Any], password: str, address: str, t: Callable[..., str]
) -> str | None:
    """Re-authentication: None when ``password`` is ``admin``'s."""
    result = await verify(runtime, admin["username"] or "", password, address, t)
    if isinstance(result, str):
        return result
    return None if result["id"] == admin["id"] else t("reauth.wrong_password")
