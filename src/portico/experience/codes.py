"""One-time verification codes sent by email or SMS (ASVS 6.5, OWASP MFA cheat sheet).

A code is 6 digits from the OS CSPRNG, stored only as an HMAC (a plain hash of a 6-digit
value would be reversed by trying all of them), bound to the interaction, the recipient and
the purpose, single use, and expires after the policy's duration. Each guess first takes one
attempt with a guarded ``UPDATE … WHERE try_count < max``, which both databases apply
atomically, so parallel wrong guesses can never exceed the limit. Issuing a new code deletes
the previous one of the same interaction and purpose.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.ids import standard_id
from portico.services.cookie_keys import CookieKeys
from portico.storage.database import now_ms
from portico.storage.tables import passcodes


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
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(passcodes).where(
                    passcodes.c.tenant_id == tenant_id,
                    passcodes.c.interaction_jti == jti,
                    passcodes.c.type == purpose,
                )
            )
            await conn.execute(
                passcodes.insert().values(
                    tenant_id=tenant_id,
                    id=row_id,
                    interaction_jti=jti,
                    email=recipient.value if recipient.kind == "email" else None,
                    phone=recipient.value if recipient.kind == "phone" else None,
                    type=purpose,
                    code=mac,
                    consumed=False,
                    try_count=0,
                    created_at=now,
                    expires_at=now + ttl * 1000,
                )
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
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    select(passcodes).where(
                        passcodes.c.tenant_id == tenant_id,
                        passcodes.c.interaction_jti == jti,
                        passcodes.c.type == purpose,
                        passcodes.c.consumed.is_(False),
                    )
                )
            ).first()
            if row is None:
                raise CodeError("verification_code.not_found")
            target = row.email if recipient.kind == "email" else row.phone
            if target != recipient.value:
                raise CodeError(f"verification_code.{recipient.kind}_mismatch")
            if row.expires_at <= now_ms():
                raise CodeError("verification_code.expired")
            taken = await conn.execute(
                update(passcodes)
                .where(
                    and_(
                        passcodes.c.id == row.id,
                        passcodes.c.consumed.is_(False),
                        passcodes.c.try_count < max_attempts,
                    )
                )
                .values(try_count=passcodes.c.try_count + 1)
            )
        if taken.rowcount != 1:
            raise CodeError("verification_code.exceed_max_try")
        cleaned = code.strip().replace(" ", "")
        if not (await self._keys()).verify(self._message(cleaned, row.id), row.code):
            raise CodeError("verification_code.code_mismatch")
        async with self._engine.begin() as conn:
            used = await conn.execute(
                update(passcodes)
                .where(passcodes.c.id == row.id, passcodes.c.consumed.is_(False))
                .values(consumed=True)
            )
        if used.rowcount != 1:
            raise CodeError("verification_code.not_found")
