"""The provider context handed to every endpoint: issuer, keys, storage and hot caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.cache import TTLCache
from portico.coherence import APPLICATIONS, CACHE_TTL, KEYS, RBAC, Coherence
from portico.protocol.errors import OAuthError
from portico.services import client_metadata_documents as documents
from portico.services import cookie_keys
from portico.services import keys as key_service
from portico.services.applications import Client, SecretSealer, load_client
from portico.services.cookie_keys import CookieKeys
from portico.storage import configs
from portico.storage import rbac as rbac_repo
from portico.storage.artifacts import ArtifactStore

# The longest a process serves a signing key set (or client, resource) after it changed.
KEY_REFRESH_SECONDS = CACHE_SECONDS = CACHE_TTL


@dataclass
class Provider:
    """Hot reads are cached per process through ``coherence`` (see ``portico.coherence``):
    a change written by any process reaches this one within a second."""

    engine: AsyncEngine
    tenant_id: str
    endpoint: str
    artifacts: ArtifactStore
    coherence: Coherence = field(default_factory=Coherence)
    _clients: TTLCache[str, Client] = field(init=False)
    _resources: TTLCache[str, dict[str, Any]] = field(init=False)
    _app_scopes: TTLCache[tuple[str, str], frozenset[str]] = field(init=False)
    _organization_grants: TTLCache[str, dict[str, bool]] = field(init=False)
    _keys: TTLCache[str, key_service.KeyRing] = field(init=False)
    _key_entries: list[dict[str, Any]] | None = field(default=None, init=False)
    _keyring: key_service.KeyRing | None = field(default=None, init=False)
    _cookie_keys: TTLCache[str, CookieKeys] = field(init=False)
    _cimd: TTLCache[str, bool] = field(init=False)
    # Opens client_secret_jwt applications' sealed secrets (set by the runtime; none: no
    # such client can authenticate).
    secret_sealer: SecretSealer | None = field(default=None, init=False)
    # The JWT customizers' configuration, cached (made by ``protocol/custom_claims.py``).
    jwt_customizers: TTLCache[str, dict[str, Any]] | None = field(default=None, init=False)
    _documents: documents.DocumentCache = field(init=False)

    def __post_init__(self) -> None:
        self._clients = self.coherence.cache(APPLICATIONS)
        self._resources = self.coherence.cache(RBAC)
        self._app_scopes = self.coherence.cache(RBAC)
        self._organization_grants = self.coherence.cache(RBAC, max_entries=1)
        self._keys = self.coherence.cache(KEYS, max_entries=1)
        # The cookie-key ring is configuration like the signing keys: the ``keys`` topic,
        # re-read everywhere within 0.5 s of a rotation (at once with Redis).
        self._cookie_keys = self.coherence.cache(KEYS, max_entries=1)
        self._cimd = self.coherence.cache(APPLICATIONS, max_entries=1)
        self._documents = documents.DocumentCache()

    @property
    def issuer(self) -> str:
        return f"{self.endpoint}/oidc"

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        tenant_id: str,
        endpoint: str,
        coherence: Coherence | None = None,
    ) -> Provider:
        provider = cls(
            engine=engine,
            tenant_id=tenant_id,
            endpoint=endpoint.rstrip("/"),
            artifacts=ArtifactStore(engine, tenant_id),
            coherence=coherence or Coherence(),
        )
        await provider.current_keys()  # no keys: fail at start, not at the first token
        await provider.cookie_keys()
        return provider

    async def client(self, client_id: str) -> Client | None:
        """The registered application, or, when Client ID Metadata Documents are on, the
        client an https ``client_id`` describes (``invalid_client`` or
        ``invalid_client_metadata`` when its document cannot be had)."""
        if documents.is_document_url(client_id):
            return await self._document_client(client_id)

        async def load(cid: str) -> Client | None:
            async with self.engine.connect() as conn:
                return await load_client(conn, self.tenant_id, cid)

        return await self._clients.get(client_id, load)

    async def metadata_documents_enabled(self) -> bool:
        async def load(_: str) -> bool:
            async with self.engine.connect() as conn:
                return await documents.enabled(conn, self.tenant_id)

        return bool(await self._cimd.get("enabled", load))

    async def _document_client(self, client_id: str) -> Client | None:
        if not await self.metadata_documents_enabled():
            return None
        try:
            client = await self._documents.client(client_id)
        except documents.InvalidClientDocument as problem:
            raise OAuthError(problem.error, problem.description) from None
        alg = client.id_token_signed_response_alg
        if alg and alg not in (await self.current_keys()).by_alg:
            raise OAuthError(  # an algorithm no key of this tenant signs with (yet)
                "invalid_client_metadata", f"id_token_signed_response_alg {alg} is not offered"
            )
        return client

    async def resource(self, indicator: str) -> dict[str, Any] | None:
        async def load(ind: str) -> dict[str, Any] | None:
            async with self.engine.connect() as conn:
                return await rbac_repo.get_resource_by_indicator(conn, self.tenant_id, ind)

        return await self._resources.get(indicator, load)

    async def default_resource(self) -> dict[str, Any] | None:
        # Boxed, so that "no default resource" (the usual case, asked on every user token)
        # is cached too: the cache keeps no misses.
        async def load(_: str) -> dict[str, Any]:
            async with self.engine.connect() as conn:
                return {"resource": await rbac_repo.get_default_resource(conn, self.tenant_id)}

        box = await self._resources.get("\x00default", load)
        return box["resource"] if box else None

    async def application_scopes(self, app_id: str, resource_id: str) -> frozenset[str]:
        """Scopes of a resource granted to an application by its machine-to-machine roles."""

        async def load(key: tuple[str, str]) -> frozenset[str]:
            async with self.engine.connect() as conn:
                return frozenset(await rbac_repo.application_scope_names(conn, *key))

        return await self._app_scopes.get((app_id, resource_id), load) or frozenset()

    async def organization_roles_grant_api_scopes(self) -> bool:
        """Whether any organization role of the tenant grants an API scope: when none does
        (the usual case), a user's token for an API needs only the user's own roles."""

        async def load(_: str) -> dict[str, bool]:
            async with self.engine.connect() as conn:
                found = await rbac_repo.organization_roles_grant_api_scopes(conn, self.tenant_id)
            return {"any": found}

        box = await self._organization_grants.get("any", load)
        return bool(box and box["any"])

    async def current_keys(self) -> key_service.KeyRing:
        """The key ring; a rotation reaches every process through the ``keys`` topic."""
        ring = await self._keys.get("ring", self._load_keyring)
        assert ring is not None
        return ring

    async def _load_keyring(self, _: str) -> key_service.KeyRing:
        async with self.engine.connect() as conn:
            entries = await configs.get(conn, self.tenant_id, key_service.PRIVATE_KEYS)
            companions = await configs.get(conn, self.tenant_id, key_service.COMPANION_KEYS)
        if not entries:
            raise RuntimeError(
                f"tenant {self.tenant_id!r} has no signing keys; run 'portico db upgrade'"
            )
        both = [*entries, *(companions or [])]
        if both != self._key_entries or self._keyring is None:
            # Parsing PEM keys is the costly part; re-reads that find the same keys skip it.
            self._keyring = key_service.load_keyring(entries, companions)
            self._key_entries = both
        return self._keyring

    async def cookie_keys(self) -> CookieKeys:
        """The tenant's MAC keys (cookies, CSRF tokens, DPoP nonces): newest signs, all
        verify."""

        async def load(_: str) -> CookieKeys:
            async with self.engine.connect() as conn:
                return await cookie_keys.load(conn, self.tenant_id)

        ring = await self._cookie_keys.get("cookie", load)
        assert ring is not None
        return ring

    async def sign(
        self, claims: dict[str, Any], typ: str | None = None, alg: str | None = None
    ) -> str:
        """``alg``: an application's ID-token algorithm (the tenant key's when None)."""
        ring = await self.current_keys()
        key, used = ring.signer(alg)
        header: dict[str, Any] = {"alg": used, "kid": key.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key, algorithms=[used])
