"""One-time verification codes sent by email or SMS (ASVS 6.5, OWASP MFA cheat sheet).

A code is 6 digits from the OS CSPRNG, stored only as an HMAC (a plain hash of a 6-digit
value would be reversed by trying all of them), bound to the interaction, the recipient and
the purpose, single use, and expires after the policy's duration. Each guess first takes one
attempt with a guarded ``UPDATE … WHERE try_count < max`` (``storage/passcodes.py``), which
both databases apply atomically, so parallel wrong guesses can never exceed the limit.
Issuing a new code deletes the previous one of the same interaction and purpose.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portico.ids import standard_id
from portico.services.cookie_keys import CookieKeys
from portico.storage import passcodes
from portico.storage.database import now_ms

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class CodeError(Exception):
    """Why a code was not accepted; ``code`` is Logto's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Recipient:
    """Where a code goes: ``kind`` is ``email`` or ``phone``; ``value`` is normalised."""

    kind: str
    value: str


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


class VerificationCodes:
    def __init__(self, engine: AsyncEngine, keys: Callable[[], Awaitable[CookieKeys]]) -> None:
        """``keys``: the current cookie-key ring (re-read when it rotates): a code is MACed
        with the newest key and checked against all, so one issued just before a rotation
        still works after it."""
        self._engine = engine
        self._keys = keys

    @staticmethod
    def _message(code: str, row_id: str) -> str:
        # The row id salts the MAC, so two equal codes never share a stored value.
        return f"{row_id}:{code}"

    async def issue(
        self, tenant_id: str, jti: str, recipient: Recipient, purpose: str, ttl: int
    ) -> str:
        """A fresh code for (interaction, purpose), replacing any earlier one."""
        code = new_code()
        row_id = standard_id()
        mac = (await self._keys()).sign(self._message(code, row_id))
        now = now_ms()
        await passcodes.replace(
            self._engine,
            tenant_id,
            jti,
            purpose,
            row_id=row_id,
            email=recipient.value if recipient.kind == "email" else None,
            phone=recipient.value if recipient.kind == "phone" else None,
            mac=mac,
            created_at=now,
            expires_at=now + ttl * 1000,
        )
        return code

    async def verify(
        self,
        tenant_id: str,
        jti: str,
        recipient: Recipient,
        purpose: str,
        code: str,
        max_attempts: int,
    ) -> None:
        """Accept ``code`` once, or raise :class:`CodeError` with Logto's code:
        ``verification_code.not_found|expired|exceed_max_try|code_mismatch|email_mismatch|
        phone_mismatch``."""
        found = await passcodes.find_open(self._engine, tenant_id, jti, purpose)
        if found is None:
            raise CodeError("verification_code.not_found")
        target = found.email if recipient.kind == "email" else found.phone
        if target != recipient.value:
            raise CodeError(f"verification_code.{recipient.kind}_mismatch")
        if found.expires_at <= now_ms():
            raise CodeError("verification_code.expired")
        if not await passcodes.take_attempt(self._engine, found.id, max_attempts):
            raise CodeError("verification_code.exceed_max_try")
        cleaned = code.strip().replace(" ", "")
        if not (await self._keys()).verify(self._message(cleaned, found.id), found.mac):
            raise CodeError("verification_code.code_mismatch")
        if not await passcodes.consume(self._engine, found.id):
            raise CodeError("verification_code.not_found")
