"""The console's admins (users of the ``admin`` tenant): who may claim a fresh server, and what
``portico admin`` does for someone at the server's shell.

A fresh server has no admin, and the first one to submit ``/console/welcome`` becomes it. On
a public interface that is a race a scanner wins, so the form also asks for a set-up code
that only someone with the server in hand can read: ``portico serve`` prints it at start
while no admin exists, and ``portico admin setup-link`` prints it again. The code is derived
from the admin tenant's stable secret (a random value in the database, never rotated), so
every process and machine of one installation prints and accepts the same code, nothing
new is stored, and it is worthless once the first admin exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.services import sign_in_experience
from portico.services import users as user_service
from portico.services.bootstrap import ADMIN_TENANT
from portico.services.cookie_keys import STABLE_SECRET
from portico.services.errors import ServiceError
from portico.services.password_policy import PasswordPolicy, Rejection, check_password
from portico.storage import configs
from portico.storage import sentinel as sentinel_repo
from portico.storage import users as user_repo

_SETUP_LABEL = b"portico/console-setup/v1"
_GROUP = 5


async def setup_code(conn: AsyncConnection) -> str | None:
    """The set-up code while the console has no admin (``XXXXX-XXXXX-…``, 120 bits), else
    None."""
    if await user_repo.count_users(conn, ADMIN_TENANT) > 0:
        return None
    stored = await configs.get(conn, ADMIN_TENANT, STABLE_SECRET)
    if not stored:
        raise RuntimeError("no stable secret; run 'portico db upgrade'")
    mac = hmac.new(str(stored["value"]).encode(), _SETUP_LABEL, hashlib.sha256).digest()
    letters = base64.b32encode(mac[:15]).decode()  # 24 letters and digits, no padding
    return "-".join(letters[i : i + _GROUP] for i in range(0, len(letters), _GROUP))


def _plain(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


async def setup_code_matches(conn: AsyncConnection, given: str) -> bool:
    """Whether ``given`` is the set-up code (spaces, dashes and case ignored; constant time).
    False once an admin exists."""
    expected = await setup_code(conn)
    if expected is None:
        return False
    return hmac.compare_digest(_plain(expected).encode(), _plain(given)[:64].encode())


class PasswordRejected(ServiceError):
    """The admin tenant's password policy refuses the password; ``rejection`` says which rule
    (a phrase key and its parameters, for the caller to put in words)."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.code, code="password.rejected")
        self.rejection = rejection


async def _check_policy(conn: AsyncConnection, password: str, username: str) -> None:
    sie = await sign_in_experience.read(conn, ADMIN_TENANT)
    rejections = check_password(
        password, PasswordPolicy.from_config(sie.passwordPolicy), {"username": username}
    )
    if rejections:
        raise PasswordRejected(rejections[0])


async def create_admin(conn: AsyncConnection, username: str, password: str) -> dict[str, Any]:
    """A new admin with ``password`` (which must keep the admin tenant's policy)."""
    await _check_policy(conn, password, username)
    return await user_service.create_user(conn, ADMIN_TENANT, username=username, password=password)


async def reset_password(conn: AsyncConnection, username: str, password: str) -> dict[str, Any]:
    """The recovery path from the shell: a new password for the admin ``username``; their
    console sessions end with the old one (``users.set_password`` ends every artifact of the
    account), and every console sign-in failure is forgotten (whoever runs this at the
    server needs no counter against them)."""
    admin = await user_repo.find_by_identifier(conn, ADMIN_TENANT, username)
    if admin is None:
        raise ServiceError(f"No admin is named {username!r}.", code="entity.not_found", status=404)
    await _check_policy(conn, password, username)
    updated = await user_service.set_password(conn, ADMIN_TENANT, admin["id"], password)
    await sentinel_repo.clear_failures(conn, ADMIN_TENANT)
    return updated
