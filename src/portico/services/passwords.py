"""Password hashing: Argon2id at OWASP's parameters, run off the event loop; the hashes other
systems wrote (Logto's ``passwordEncryptionMethod`` values) are verified so imported users
keep their passwords, and are replaced by Argon2id at their first successful sign-in.

Verifiable methods, as Logto names them:

- ``Argon2i`` / ``Argon2id`` / ``Argon2d``: the encoded hash carries variant and parameters
  (argon2-cffi reads them), so Logto's Argon2i (t=8, m=8 MiB) verifies unchanged.
- ``Bcrypt``: ``$2a$``/``$2b$``/``$2y$`` hashes (the ``bcrypt`` package). bcrypt only ever
  reads the first 72 bytes of a password; the same prefix is checked here.
- ``MD5`` / ``SHA1`` / ``SHA256``: the lowercase hex digest of the UTF-8 password, unsalted.
- ``Legacy``: Logto's JSON triple ``["<algorithm>", [args...], "<hex digest>"]`` where ``"@"``
  in ``args`` stands for the password and the digest is over the concatenated args; or
  ``pbkdf2`` with args ``[salt, iterations, key length, digest, "@"]``.

Fast unsalted digests cost next to nothing to check, which would tell an observer which
accounts still carry one; so checking them also runs the dummy Argon2id verification.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from typing import Any

import anyio.to_thread
import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type

MAX_PASSWORD_LENGTH = 256
ARGON2ID = "Argon2id"
ARGON2_METHODS = frozenset({"Argon2i", "Argon2id", "Argon2d"})
DIGEST_METHODS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}
BCRYPT = "Bcrypt"
LEGACY = "Legacy"
METHODS = frozenset({*ARGON2_METHODS, *DIGEST_METHODS, BCRYPT, LEGACY})
_FAST_METHODS = frozenset({*DIGEST_METHODS, LEGACY})
BCRYPT_MAX_BYTES = 72

# Node.js digest names (what Logto's Legacy format names) -> hashlib names.
_LEGACY_DIGESTS = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha512-224": "sha512_224",
    "sha512-256": "sha512_256",
    "sha3-224": "sha3_224",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
    "ripemd160": "ripemd160",
    "blake2b512": "blake2b",
    "blake2s256": "blake2s",
}
_PBKDF2 = frozenset({"pbkdf2", "pbkdf2sync"})
# Bounds on what an imported Legacy hash may ask of every sign-in.
MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_PBKDF2_KEY_LENGTH = 512
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BCRYPT_HASH = re.compile(r"^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$")

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


def _verify_argon2(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _parse_legacy(encoded: str) -> tuple[str, list[str], str]:
    """``(algorithm, args, expected hex)`` of a Legacy value, or ValueError saying why not."""
    try:
        value: Any = json.loads(encoded)
    except ValueError:
        raise ValueError("a Legacy password must be a JSON array") from None
    if not (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and isinstance(value[1], list)
        and all(isinstance(arg, str) for arg in value[1])
        and isinstance(value[2], str)
    ):
        raise ValueError('a Legacy password must be ["algorithm", ["arg", "@", ...], "hex"]')
    algorithm, args, expected = value[0].lower(), value[1], value[2]
    if "@" not in args:
        raise ValueError('the arguments of a Legacy password must include "@" (the password)')
    if algorithm in _PBKDF2:
        if len(args) < 4:
            raise ValueError("pbkdf2 needs [salt, iterations, key length, digest, ...]")
        iterations, length, digest = args[1], args[2], args[3].lower()
        if not (iterations.isdigit() and 0 < int(iterations) <= MAX_PBKDF2_ITERATIONS):
            raise ValueError(f"pbkdf2 iterations must be 1..{MAX_PBKDF2_ITERATIONS}")
        if not (length.isdigit() and 0 < int(length) <= MAX_PBKDF2_KEY_LENGTH):
            raise ValueError(f"pbkdf2 key length must be 1..{MAX_PBKDF2_KEY_LENGTH}")
        if digest not in _LEGACY_DIGESTS:
            raise ValueError(f"unsupported pbkdf2 digest {digest!r}")
    elif algorithm not in _LEGACY_DIGESTS:
        raise ValueError(f"unsupported Legacy hash algorithm {value[0]!r}")
    if not _HEX.match(expected):
        raise ValueError("the Legacy hash value must be hexadecimal")
    return algorithm, args, expected.lower()


def _legacy_digest(algorithm: str, args: list[str], password: str) -> str:
    resolved = [password if arg == "@" else arg for arg in args]
    if algorithm in _PBKDF2:
        salt, iterations, length, digest = resolved[:4]
        return hashlib.pbkdf2_hmac(
            _LEGACY_DIGESTS[digest.lower()],
            password.encode(),
            salt.encode(),
            int(iterations),
            int(length),
        ).hex()
    return hashlib.new(_LEGACY_DIGESTS[algorithm], "".join(resolved).encode()).hexdigest()


def check_stored(encoded: str, method: str) -> None:
    """Raise ValueError (saying what is wrong) unless ``encoded`` is a well-formed hash of
    ``method``: imports reject a user whose password could never verify."""
    if method not in METHODS:
        raise ValueError(f"unknown passwordEncryptionMethod {method!r}")
    if method in ARGON2_METHODS:
        variant = method.lower()
        if not encoded.startswith(f"${variant}$"):
            raise ValueError(f"an {method} hash starts with ${variant}$")
    elif method == BCRYPT:
        if not _BCRYPT_HASH.match(encoded):
            raise ValueError("a Bcrypt hash looks like $2b$10$ followed by 53 characters")
    elif method in DIGEST_METHODS:
        size = hashlib.new(DIGEST_METHODS[method]).digest_size * 2
        if len(encoded) != size or not _HEX.match(encoded):
            raise ValueError(f"a {method} hash is {size} hexadecimal characters")
    else:
        _parse_legacy(encoded)


def _verify_other(encoded: str, method: str, password: str) -> bool:
    """Non-Argon2 methods; never raises (a malformed stored value simply does not match)."""
    try:
        if method == BCRYPT:
            candidate = password.encode()[:BCRYPT_MAX_BYTES]
            return bcrypt.checkpw(candidate, encoded.encode())
        if method in DIGEST_METHODS:
            computed = hashlib.new(DIGEST_METHODS[method], password.encode()).hexdigest()
            return hmac.compare_digest(computed, encoded.lower())
        algorithm, args, expected = _parse_legacy(encoded)
        return hmac.compare_digest(_legacy_digest(algorithm, args, password), expected)
    except ValueError:
        return False


def _verify_sync(encoded: str | None, method: str | None, password: str) -> bool:
    if encoded is None or method not in METHODS:
        _verify_argon2(_dummy_hash(), password)
        return False
    if method in ARGON2_METHODS:
        return _verify_argon2(encoded, password)
    ok = _verify_other(encoded, method, password)
    if method in _FAST_METHODS:
        _verify_argon2(_dummy_hash(), password)
    return ok


async def verify_password(encoded: str | None, method: str | None, password: str) -> bool:
    """Check a password; unknown users cost the same work (pass ``encoded=None``)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    return await anyio.to_thread.run_sync(_verify_sync, encoded, method, password)


def needs_rehash(encoded: str, method: str) -> bool:
    """True when a verified password should be stored again as Argon2id at today's
    parameters: any other method, or Argon2id with weaker parameters."""
    if method != ARGON2ID:
        return True
    try:
        return _hasher.check_needs_rehash(encoded)
    except InvalidHashError:
        return True
