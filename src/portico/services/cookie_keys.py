"""The tenant's cookie keys as a ring, and the stable key of the sentinel's digests.

Cookie keys (``oidc.cookieKeys``, newest first, Logto's shape) key what the server hands out
and later checks: verification-code MACs (``experience/codes.py``) and the sign-out form's
CSRF token. The newest key signs; every key still in the ring verifies, so a code or a form
issued just before ``POST /api/configs/oidc/cookie-keys/rotate`` still works after it (the
rotation keeps one older key), and all processes agree because the ring is read through the
coherent ``keys`` cache, never once at start.

The sentinel's target digests (``experience/sentinel.py``) must NOT follow the rotation: they
are the keys under which failed attempts are counted, so re-keying them would start every
lockout counter from zero, letting an attacker who can trigger (or wait for) a rotation
guess on. They use a key derived from a random secret of their own (``portico.stableKey``),
made once and never rotated.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_secret
from portico.services.keys import COOKIE_KEYS
from portico.storage import configs

STABLE_SECRET = "portico.stableKey"
SENTINEL_LABEL = b"portico/sentinel-targets/v1"


@dataclass(frozen=True)
class CookieKeys:
    """Newest first: ``sign`` with the newest, ``verify`` against all."""

    keys: tuple[bytes, ...]

    @classmethod
    def from_entries(cls, entries: Sequence[dict[str, Any]] | None) -> CookieKeys:
        if not entries:
            raise RuntimeError("no cookie keys configured; run 'portico db upgrade'")
        return cls(tuple(str(e["value"]).encode() for e in entries))

    def sign(self, message: str) -> str:
        return _tag(self.keys[0], message)

    def verify(self, message: str, tag: str) -> bool:
        """Constant-time against each key (no early exit on a match: same work either way)."""
        found = False
        for key in self.keys:
            found |= hmac.compare_digest(_tag(key, message).encode(), tag.encode())
        return found


def _tag(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


async def load(conn: AsyncConnection, tenant_id: str) -> CookieKeys:
    return CookieKeys.from_entries(await configs.get(conn, tenant_id, COOKIE_KEYS))


async def ensure_stable_secret(conn: AsyncConnection, tenant_id: str) -> None:
    """Made once per tenant (seeding); concurrent first starts keep one value."""
    await configs.add_if_absent(conn, tenant_id, STABLE_SECRET, {"value": standard_secret()})


async def sentinel_key(conn: AsyncConnection, tenant_id: str) -> bytes:
    """The sentinel's digest key: derived from the stable secret, unchanged by rotations."""
    stored = await configs.get(conn, tenant_id, STABLE_SECRET)
    if not stored:
        raise RuntimeError("no stable secret; run 'portico db upgrade'")
    return hmac.new(str(stored["value"]).encode(), SENTINEL_LABEL, hashlib.sha256).digest()
