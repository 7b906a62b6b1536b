"""The provider context handed to every endpoint: issuer, keys, storage and hot caches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.cache import TTLCache
from portico.services import keys as key_service
from portico.services.applications import Client, load_client
from portico.storage import configs
from portico.storage import rbac as rbac_repo
from portico.storage.artifacts import ArtifactStore

# How long a process may serve a cached client, resource or key set after it changed.
CACHE_SECONDS = 1.0
KEY_REFRESH_SECONDS = 5.0


@dataclass
class Provider:
    engine: AsyncEngine
    tenant_id: str
    endpoint: str
    keyring: key_service.KeyRing
    artifacts: ArtifactStore
    _clients: TTLCache[str, Client] = field(default_factory=lambda: TTLCache(CACHE_SECONDS))
    _resources: TTLCache[str, dict[str, Any]] = field(
        default_factory=lambda: TTLCache(CACHE_SECONDS)
    )
    _app_scopes: TTLCache[tuple[str, str], frozenset[str]] = field(
        default_factory=lambda: TTLCache(CACHE_SECONDS)
    )
    _keys_loaded_at: float = field(default_factory=time.monotonic)

    @property
    def issuer(self) -> str:
        return f"{self.endpoint}/oidc"

    @classmethod
    async def open(cls, engine: AsyncEngine, tenant_id: str, endpoint: str) -> Provider:
        return cls(
            engine=engine,
            tenant_id=tenant_id,
            endpoint=endpoint.rstrip("/"),
            keyring=await _load_keyring(engine, tenant_id),
            artifacts=ArtifactStore(engine, tenant_id),
        )

    async def client(self, client_id: str) -> Client | None:
        async def load(cid: str) -> Client | None:
            async with self.engine.connect() as conn:
                return await load_client(conn, self.tenant_id, cid)

        return await self._clients.get(client_id, load)

    async def resource(self, indicator: str) -> dict[str, Any] | None:
        async def load(ind: str) -> dict[str, Any] | None:
            async with self.engine.connect() as conn:
                return await rbac_repo.get_resource_by_indicator(conn, self.tenant_id, ind)

        return await self._resources.get(indicator, load)

    async def default_resource(self) -> dict[str, Any] | None:
        async def load(_: str) -> dict[str, Any] | None:
            async with self.engine.connect() as conn:
                return await rbac_repo.get_default_resource(conn, self.tenant_id)

        return await self._resources.get("\x00default", load)

    async def application_scopes(self, app_id: str, resource_id: str) -> frozenset[str]:
        """Scopes of a resource granted to an application by its machine-to-machine roles."""

        async def load(key: tuple[str, str]) -> frozenset[str]:
            async with self.engine.connect() as conn:
                return frozenset(await rbac_repo.application_scope_names(conn, *key))

        return await self._app_scopes.get((app_id, resource_id), load) or frozenset()

    async def current_keys(self) -> key_service.KeyRing:
        """The key ring, re-read now and then so that a rotation reaches every process."""
        if time.monotonic() - self._keys_loaded_at > KEY_REFRESH_SECONDS:
            self.keyring = await _load_keyring(self.engine, self.tenant_id)
            self._keys_loaded_at = time.monotonic()
        return self.keyring

    async def sign(self, claims: dict[str, Any], typ: str | None = None) -> str:
        ring = await self.current_keys()
        header: dict[str, Any] = {"alg": ring.alg, "kid": ring.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, ring.signing_key, algorithms=[ring.alg])


async def _load_keyring(engine: AsyncEngine, tenant_id: str) -> key_service.KeyRing:
    async with engine.connect() as conn:
        entries = await configs.get(conn, tenant_id, key_service.PRIVATE_KEYS)
    if not entries:
        raise RuntimeError(f"tenant {tenant_id!r} has no signing keys; run 'portico db upgrade'")
    return key_service.load_keyring(entries)
