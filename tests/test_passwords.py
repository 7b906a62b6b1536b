"""Password hashing: Argon2id at OWASP parameters; Logto's Argon2i hashes still verify."""

from __future__ import annotations

import asyncio
import hashlib
import re

import bcrypt
import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from portico.services.passwords import check_stored, hash_password, needs_rehash, verify_password


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


# Hashes other systems wrote (Logto's passwordEncryptionMethod values) ----------------------


SECRET = "Tr0ub4dor&3 ünïcode"


def foreign_hashes(password: str) -> dict[str, tuple[str, str]]:
    """A stored value for ``password`` in every method Logto knows, as those systems write it."""
    raw = password.encode()
    salted = hashlib.sha256(b"salt123" + raw).hexdigest()
    pbkdf2 = hashlib.pbkdf2_hmac("sha512", raw, b"saltX", 1000, 32).hex()
    bcrypt_hash = bcrypt.hashpw(raw, bcrypt.gensalt(rounds=4)).decode()
    logto = PasswordHasher(time_cost=8, memory_cost=8192, type=Type.I)
    weak = PasswordHasher(time_cost=1, memory_cost=4096)
    pbkdf2_args = '["saltX", "1000", "32", "sha512", "@"]'
    return {
        "argon2i": ("Argon2i", logto.hash(password)),
        "argon2id-weak": ("Argon2id", weak.hash(password)),
        "bcrypt-2b": ("Bcrypt", bcrypt_hash),
        "bcrypt-2y": ("Bcrypt", bcrypt_hash.replace("$2b$", "$2y$", 1)),
        "md5": ("MD5", hashlib.md5(raw).hexdigest()),
        "sha1": ("SHA1", hashlib.sha1(raw).hexdigest()),
        "sha256": ("SHA256", hashlib.sha256(raw).hexdigest().upper()),
        "legacy-sha256": ("Legacy", f'["sha256", ["salt123", "@"], "{salted}"]'),
        "legacy-pbkdf2": ("Legacy", f'["pbkdf2", {pbkdf2_args}, "{pbkdf2}"]'),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(foreign_hashes("x")))
async def test_foreign_hashes_verify_and_ask_for_argon2id(name: str) -> None:
    method, encoded = foreign_hashes(SECRET)[name]
    check_stored(encoded, method)
    assert await verify_password(encoded, method, SECRET)
    assert not await verify_password(encoded, method, SECRET + "x")
    assert not await verify_password(encoded, method, "")
    assert needs_rehash(encoded, method)


async def test_current_argon2id_needs_no_rehash_and_bcrypt_reads_72_bytes() -> None:
    encoded, method = await hash_password(SECRET)
    assert not needs_rehash(encoded, method)
    long = "p" * 100  # bcrypt itself only ever saw the first 72 bytes
    stored = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert await verify_password(stored, "Bcrypt", long)


@pytest.mark.parametrize(
    ("method", "encoded", "message"),
    [
        ("Plaintext", "x", "unknown passwordEncryptionMethod"),
        ("Argon2i", "$argon2id$v=19$m=1,t=1,p=1$x$y", "starts with $argon2i$"),
        ("Bcrypt", "$2b$10$short", "Bcrypt hash"),
        ("SHA1", "zz" * 20, "40 hexadecimal"),
        ("Legacy", "not json", "JSON array"),
        ("Legacy", '["sha256", ["salt"], "ab"]', 'must include "@"'),
        ("Legacy", '["whirlpool", ["@"], "ab"]', "unsupported Legacy hash algorithm"),
        ("Legacy", '["pbkdf2", ["s", "99999999999", "32", "sha1", "@"], "ab"]', "iterations"),
    ],
)
def test_malformed_stored_hashes_are_named(method: str, encoded: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_stored(encoded, method)
    assert not asyncio.run(verify_password(encoded, method, "anything"))
