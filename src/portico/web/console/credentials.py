"""Checking console passwords: the admin tenant's password policy for new ones, and sign-in
(also re-authentication) with lockout.

Failed sign-ins are counted by ``experience/sentinel.py`` per username (so an unknown
username locks the same way): :data:`MAX_FAILURES` within :data:`LOCKOUT_SECONDS` lock that
username for the rest of the window.
"""

from __future__ import annotations

from typing import Any

from portico.experience.sentinel import Locked
from portico.services import users as user_service
from portico.services.bootstrap import ADMIN_TENANT
from portico.services.password_policy import PasswordPolicy, check_password
from portico.web.i18n import DEFAULT, translator
from portico.web.runtime import Runtime

MAX_FAILURES = 10
LOCKOUT_SECONDS = 10 * 60


async def policy_error(runtime: Runtime, password: str, username: str) -> str | None:
    """The first rule of the admin tenant's password policy that ``password`` breaks."""
    assert runtime.experiences is not None
    sie = await runtime.experiences.get(ADMIN_TENANT)
    rejections = check_password(
        password, PasswordPolicy.from_config(sie.passwordPolicy), {"username": username}
    )
    if not rejections:
        return None
    first = rejections[0]
    return translator(DEFAULT)(first.code, **first.data)


async def verify(runtime: Runtime, username: str, password: str) -> dict[str, Any] | str:
    """The admin whose password this is, or why not (wrong, or locked out)."""
    assert runtime.sentinel is not None and runtime.engine is not None
    target = f"console:{username.strip().lower()}"
    reserved = await runtime.sentinel.reserve(ADMIN_TENANT, target, MAX_FAILURES, LOCKOUT_SECONDS)
    if isinstance(reserved, Locked):
        return f"Too many failed attempts. Try again in {reserved.minutes_left()} minutes."
    admin = await user_service.authenticate(runtime.engine, ADMIN_TENANT, username, password)
    if admin is None:
        return "Wrong username or password."
    await runtime.sentinel.release(reserved)
    await runtime.sentinel.succeeded(ADMIN_TENANT, target)
    return admin


async def check_own_password(runtime: Runtime, admin: dict[str, Any], password: str) -> str | None:
    """Re-authentication: None when ``password`` is ``admin``'s."""
    result = await verify(runtime, admin["username"] or "", password)
    if isinstance(result, str):
        return result
    return None if result["id"] == admin["id"] else "Wrong password."
