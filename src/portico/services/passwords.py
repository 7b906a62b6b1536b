"""Password hashing: Argon2id at OWASP's parameters, run off the event loop.

Hashes Logto wrote (Argon2i, t=8, m=8 MiB) verify unchanged, because argon2-cffi reads the
variant and parameters from the encoded hash.
"""

from __future__ import annotations

import functools

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type

MAX_PASSWORD_LENGTH = 256
ARGON2ID = "Argon2id"
_VERIFIABLE_METHODS = {"Argon2i", "Argon2id", "Argon2d"}

# OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def hash_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> tuple[str, str]:
    """Return ``(encoded hash, method)`` as stored in ``users.password_encrypted/_method``."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password longer than {MAX_PASSWORD_LENGTH} characters")
    return await anyio.to_thread.run_sync(hash_sync, password), ARGON2ID


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("portico-dummy-password")


def _verify_sync(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(encoded: str | None, method: str | None, password: str) -> bool:
    """Check a password; unknown users cost the same work (pass ``encoded=None``)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    usable = encoded is not None and method in _VERIFIABLE_METHODS
    target = encoded if usable and encoded else _dummy_hash()
    ok = await anyio.to_thread.run_sync(_verify_sync, target, password)
    return ok and usable
