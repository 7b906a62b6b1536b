"""Logto's user rows as Portico user records.

What is read is one row of Logto's ``users`` table per line, either as PostgreSQL's
``row_to_json`` writes it (snake_case keys, timestamps as ISO 8601 strings) or in the camelCase
of Logto's Management API (timestamps as epoch milliseconds). ``passwordEncrypted`` and
``passwordEncryptionMethod`` carry over unchanged: ``services/passwords.py`` verifies every
method Logto stores and the first successful sign-in replaces the hash with Argon2id.

Columns Portico has no place for (``mfaVerifications``, ``logtoConfig``, ``applicationId``,
``tenantId``, ...) are ignored; the summary counts the users that had MFA factors, so an
operator knows who must enrol again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portico.storage.database import now_ms

# Logto user fields that become the Portico record's fields (same names).
FIELDS = (
    "id",
    "username",
    "primaryEmail",
    "primaryPhone",
    "passwordEncrypted",
    "passwordEncryptionMethod",
    "name",
    "avatar",
    "profile",
    "identities",
    "customData",
    "isSuspended",
    "lastSignInAt",
    "createdAt",
    "updatedAt",
)
_OBJECTS = ("profile", "identities", "customData")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _millis(value: Any, field: str) -> int | None:
    """Epoch milliseconds from a number or an ISO 8601 string (UTC when no offset given)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            raise ValueError(f"{field}: {value!r} is not an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    raise ValueError(f"{field}: must be epoch milliseconds or an ISO 8601 string")


def user_data(row: Any) -> tuple[dict[str, Any], bool]:
    """The ``user`` record data for one Logto row, and whether the user had MFA factors.
    Raises ValueError naming the field when a value cannot be carried over."""
    if not isinstance(row, dict):
        raise ValueError("a Logto user must be a JSON object")
    row = {_camel(key): value for key, value in row.items()}
    data = {field: row.get(field) for field in FIELDS}
    for field in _OBJECTS:
        if data[field] is None:
            data[field] = {}
    data["isSuspended"] = bool(data["isSuspended"])
    now = now_ms()
    for field in ("lastSignInAt", "createdAt", "updatedAt"):
        data[field] = _millis(data[field], field)
    data["createdAt"] = data["createdAt"] or now
    data["updatedAt"] = data["updatedAt"] or data["createdAt"]
    had_mfa = bool(row.get("mfaVerifications"))
    return data, had_mfa
