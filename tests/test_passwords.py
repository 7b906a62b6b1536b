"""Password hashing: Argon2id at OWASP parameters; Logto's Argon2i hashes still verify."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.low_level import Type

from portico.services.passwords import hash_password, verify_password


async def test_new_hashes_are_argon2id_owasp_parameters() -> None:
    encoded, method = await hash_password("correct horse battery staple")
    assert method == "Argon2id"
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await verify_password(encoded, method, "correct horse battery staple")
    assert not await verify_password(encoded, method, "wrong")


async def test_logto_argon2i_hash_verifies() -> None:
    logto = PasswordHasher(time_cost=8, memory_cost=8192, parallelism=1, hash_len=32, type=Type.I)
    encoded = logto.hash("from-logto")
    assert encoded.startswith("$argon2i$")
    assert await verify_password(encoded, "Argon2i", "from-logto")


async def test_unknown_user_and_overlong_password_are_rejected() -> None:
    assert not await verify_password(None, None, "anything")
    encoded, method = await hash_password("x" * 256)
    assert not await verify_password(encoded, method, "x" * 257)
