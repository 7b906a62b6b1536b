"""Identifiers and secrets in Logto's formats, all from the OS CSPRNG."""

from __future__ import annotations

import hashlib
import secrets
import string

_LOWER_ALNUM = string.digits + string.ascii_lowercase
_ALNUM = string.digits + string.ascii_letters


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


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
