"""Per-tenant overrides of the pages' phrases (Logto's custom phrases), cached (see
``portico.coherence``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.cache import TTLCache
from portico.coherence import CACHE_TTL
from portico.ids import standard_id
from portico.storage.database import insert_ignore
from portico.storage.tables import custom_phrases


def flatten(nested: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"action": {"sign_in": "Log in"}}`` → ``{"action.sign_in": "Log in"}``."""
    flat: dict[str, str] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, str):
            flat[name] = value
    return flat


class CustomPhrases:
    def __init__(
        self, engine: AsyncEngine, cache: TTLCache[tuple[str, str], dict[str, str]] | None = None
    ) -> None:
        """``cache``: from ``Coherence.cache(CUSTOM_PHRASES)`` (see ``SignInExperiences``)."""
        self._engine = engine
        self._cache: TTLCache[tuple[str, str], dict[str, str]] = cache or TTLCache(CACHE_TTL)

    async def get(self, tenant_id: str, language_tag: str) -> dict[str, str]:
        """Flat overrides for one language; empty when the tenant has none."""
        return await self._cache.get((tenant_id, language_tag), self._load) or {}

    async def _load(self, key: tuple[str, str]) -> dict[str, str]:
        tenant_id, tag = key
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(
                    select(custom_phrases.c.translation).where(
                        custom_phrases.c.tenant_id == tenant_id,
                        custom_phrases.c.language_tag == tag,
                    )
                )
            ).scalar_one_or_none()
        # An empty dict, not None, when there are none: the cache keeps no None, and every
        # page would otherwise query for phrases that do not exist (the usual case).
        return flatten(value) if value else {}

    async def list(self, tenant_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(custom_phrases).where(custom_phrases.c.tenant_id == tenant_id)
            )
            return [
                {
                    "tenantId": r.tenant_id,
                    "id": r.id,
                    "languageTag": r.language_tag,
                    "translation": r.translation,
                }
                for r in rows
            ]

    async def put(self, tenant_id: str, tag: str, translation: dict[str, Any]) -> dict[str, Any]:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(custom_phrases).where(
                    custom_phrases.c.tenant_id == tenant_id, custom_phrases.c.language_tag == tag
                )
            )
            row = {
                "tenant_id": tenant_id,
                "id": standard_id(),
                "language_tag": tag,
                "translation": translation,
            }
            await insert_ignore(conn, custom_phrases, [row])
        self._cache.invalidate((tenant_id, tag))
        return {
            "tenantId": tenant_id,
            "id": row["id"],
            "languageTag": tag,
            "translation": translation,
        }

    async def delete(self, tenant_id: str, tag: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(custom_phrases).where(
                    custom_phrases.c.tenant_id == tenant_id, custom_phrases.c.language_tag == tag
                )
            )
        self._cache.invalidate((tenant_id, tag))
        return result.rowcount > 0
