"""Identifiers and secrets in Logto's formats, all from the OS CSPRNG."""

from __future__ import annotations

import hashlib
import secrets
import string

_LOWER_ALNUM = string.digits + string.ascii_lowercase
_ALNUM = string.digits + string.ascii_letters


def _random(alphabet: str, length: int) -> str:
    """Uniform characters by rejection sampling of CSPRNG bytes: one ``os.urandom`` call per
    id instead of one ``secrets.choice`` (a system call) per character."""
    size = len(alphabet)
    limit = 256 - 256 % size  # bytes at or above this would favour the first characters
    out: list[str] = []
    while len(out) < length:
        out += [alphabet[b % size] for b in secrets.token_bytes(length * 2) if b < limit]
    return "".join(out[:length])


def standard_id() -> str:
    """21 characters of ``[0-9a-z]`` (applications, resources, scopes, roles)."""
    return _random(_LOWER_ALNUM, 21)


def short_id() -> str:
    """12 characters of ``[0-9a-z]`` (users, connectors)."""
    return _random(_LOWER_ALNUM, 12)


def standard_secret() -> str:
    """32 characters of ``[0-9a-zA-Z]`` (~190 bits): application secrets, cookie keys."""
    return _random(_ALNUM, 32)


def opaque_token() -> str:
    """43 URL-safe characters (256 bits): tokens, codes, session and interaction handles."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """SHA-256 hex digest: how high-entropy secrets are stored and looked up."""
    return hashlib.sha256(value.encode()).hexdigest()
