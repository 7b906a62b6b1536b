"""Subject tokens (Logto's ``POST /api/subject-tokens``): a back end your organisation runs
asks for a short-lived, single-use token naming a user, and an application allowed token
exchange trades it for that user's access token (impersonation, RFC 8693). Kept as an
artifact: only the digest of the token is stored."""

from __future__ import annotations

import secrets
from typing import Any

from portico.ids import digest
from portico.storage.artifacts import ArtifactStore

SUBJECT_TOKEN = "SubjectToken"
PREFIX = "sub_"
TTL = 600


async def create(
    store: ArtifactStore, user_id: str, context: dict[str, Any], creator: str | None
) -> dict[str, Any]:
    """``{subjectToken, expiresIn}`` (Logto's answer)."""
    value = PREFIX + secrets.token_urlsafe(24)
    payload = {"accountId": user_id, "context": context, "creatorId": creator}
    await store.save(SUBJECT_TOKEN, digest(value), payload, TTL)
    return {"subjectToken": value, "expiresIn": TTL}


async def take(store: ArtifactStore, value: str) -> dict[str, Any] | None:
    """The payload of an unexpired, unused subject token, spent now (single use)."""
    if not value.startswith(PREFIX) or len(value) > 128:
        return None
    key = digest(value)
    found = await store.find(SUBJECT_TOKEN, key)
    if found is None or not await store.consume(SUBJECT_TOKEN, key):
        return None
    return found.payload
