"""The per-process connector service: stored connectors (sealed at rest), sending through the
tenant's Email/Sms connector, and the management operations the API exposes.

Reads of a tenant's active Email/Sms connector are cached for ``CACHE_TTL`` seconds: a
sign-in page sends codes often, the configuration changes rarely, and every process sees a
change within that time (the writing process at once: writes invalidate locally).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from portico.cache import TTLCache
from portico.connectors import secrets
from portico.connectors.errors import ConnectorError, not_found
from portico.connectors.http import check_provider_urls
from portico.connectors.kit import Connector, MessageConnector, SocialConnector
from portico.connectors.registry import Registry, registry
from portico.connectors.types import ConnectorType, TemplateType
from portico.connectors.views import checked_metadata, connector_view, factory_view
from portico.ids import short_id
from portico.storage import connectors as repo
from portico.storage.database import now_ms

CACHE_TTL = 1.0
TEST_PAYLOAD = {"code": "000000"}
MESSAGE_KINDS = (ConnectorType.Email, ConnectorType.Sms)
Factory = type[Connector]  # type: ignore[type-arg]

log = logging.getLogger("portico.connectors")


class Connectors:
    """Per-process connector service; built once in ``Runtime.start()``."""

    def __init__(
        self,
        engine: AsyncEngine,
        encryption_key: bytes,
        factories: Registry = registry,
        cache: TTLCache[tuple[str, str], tuple[Factory, dict[str, Any]]] | None = None,
    ) -> None:
        """``cache``: from ``Coherence.cache(CONNECTORS)``, so that a change reaches every
        process at once; a process-local ``CACHE_TTL`` cache by default."""
        self._engine = engine
        self._sealer = secrets.Sealer(encryption_key)
        self._registry = factories
        self._active: TTLCache[tuple[str, str], tuple[Factory, dict[str, Any]]] = cache or TTLCache(
            CACHE_TTL
        )
        # The social buttons share that cache (keyed by the tenant alone), so the same
        # invalidation reaches them.
        self._socials: TTLCache[str, list[dict[str, Any]]] = self._active  # type: ignore[assignment]

    # -- sending -------------------------------------------------------------------------

    async def send_message(
        self,
        tenant_id: str,
        kind: ConnectorType,
        to: str,
        template_type: str,
        payload: dict[str, Any],
    ) -> None:
        """Send through the tenant's configured Email (or Sms) connector.
        Raises ConnectorError(code="connector.not_found") when none is configured."""
        active = await self._active.get((tenant_id, kind.value), self._load_active)
        if active is None:
            raise not_found(f"No {kind.value} connector is configured.")
        factory, row = active
        await self._send(factory, row["id"], row["config"], to, template_type, payload)

    async def has(self, tenant_id: str, kind: ConnectorType) -> bool:
        return await self._active.get((tenant_id, kind.value), self._load_active) is not None

    async def test(
        self, tenant_id: str, factory_id: str, to: str, draft_config: dict[str, Any]
    ) -> None:
        """Send a test message (Generic template) through a draft configuration. Masked
        values in the draft are taken from the stored connector of the same factory."""
        factory = self._message_factory(factory_id)
        stored = [r for r in await self._rows(tenant_id) if r["connector_id"] == factory_id]
        if stored:
            draft_config = secrets.keep_masked(
                draft_config, stored[-1]["config"], self._paths(factory)
            )
        await self._send(factory, "test", draft_config, to, TemplateType.Generic, TEST_PAYLOAD)

    async def _send(
        self,
        factory: Factory,
        label: str,
        config: dict[str, Any],
        to: str,
        template_type: str,
        payload: dict[str, Any],
    ) -> None:
        connector = factory.from_config(config)
        assert isinstance(connector, MessageConnector)
        try:
            await connector.send_message(to, template_type, payload)
        except ConnectorError as exc:
            log.warning(
                "connector %s (%s) could not send: [%s] %s",
                label,
                factory.metadata.id,
                exc.reason,
                exc.admin_message,
            )
            raise

    async def _load_active(self, key: tuple[str, str]) -> tuple[Factory, dict[str, Any]] | None:
        tenant_id, kind = key
        for row in reversed(await self._rows(tenant_id)):
            factory = self._registry.find(row["connector_id"])
            if factory is not None and factory.type.value == kind:
                return factory, row
        return None

    # -- social sign-in ------------------------------------------------------------------

    async def socials(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's social connectors as the API shows them (target, name, logo...),
        oldest first; what the sign-in page's buttons are made from."""
        return await self._socials.get(tenant_id, self._load_socials) or []

    async def _load_socials(self, tenant_id: str) -> list[dict[str, Any]]:
        views = await self.list_connectors(tenant_id)
        return [v for v in views if v["type"] == ConnectorType.Social.value]

    async def social(
        self, tenant_id: str, connector_id: str
    ) -> tuple[SocialConnector, dict[str, Any]]:  # type: ignore[type-arg]
        """The configured social connector with row id ``connector_id`` and its view (whose
        ``target`` keys the user's identity)."""
        factory, row = await self._row(tenant_id, connector_id)
        if factory.type is not ConnectorType.Social:
            raise not_found(f"The connector with id {connector_id!r} is not a social connector.")
        connector = factory.from_config(row["config"])
        assert isinstance(connector, SocialConnector)
        return connector, connector_view(factory, row, row["config"])

    # -- management ----------------------------------------------------------------------

    def factories(self, kind: ConnectorType | None = None) -> list[dict[str, Any]]:
        return [factory_view(f) for f in self._registry.all(kind)]

    def factory(self, factory_id: str) -> dict[str, Any]:
        return factory_view(self._registry.get(factory_id))

    async def list_connectors(
        self, tenant_id: str, target: str | None = None
    ) -> list[dict[str, Any]]:
        views = []
        for row in await self._rows(tenant_id):
            factory = self._registry.find(row["connector_id"])
            if factory is None:
                log.warning("connector %s: %s not installed", row["id"], row["connector_id"])
                continue
            view = connector_view(factory, row, row["config"])
            if target is None or view["target"] == target:
                views.append(view)
        return views

    async def get(self, tenant_id: str, connector_id: str) -> dict[str, Any]:
        factory, row = await self._row(tenant_id, connector_id)
        return connector_view(factory, row, row["config"])

    async def create(
        self,
        tenant_id: str,
        factory_id: str,
        config: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        connector_id: str | None = None,
    ) -> dict[str, Any]:
        """Validate (provider URLs looked up: none may lead to an internal address, see
        ``connectors/http.py``), seal and store; an Email/Sms connector replaces the tenant's
        existing one of the same type (one sender per kind, as Logto)."""
        factory = self._registry.get(factory_id)
        await check_provider_urls(factory.parse_config(config))
        rows = await self._rows(tenant_id)
        row_id = connector_id or short_id()
        if any(r["id"] == row_id for r in rows):
            raise ConnectorError(
                "connector.id_taken", f"A connector with id {row_id!r} exists.", reason="conflict"
            )
        replaced = [r["id"] for r in rows if self._replaced_by(factory, r)]
        row = {
            "tenant_id": tenant_id,
            "id": row_id,
            "sync_profile": False,
            "connector_id": factory_id,
            "config": self._seal(factory, tenant_id, row_id, config),
            "metadata": checked_metadata(metadata or {}),
            "created_at": now_ms(),
        }
        async with self._engine.begin() as conn:
            await repo.delete_connectors(conn, tenant_id, replaced)
            await repo.insert_connector(conn, row)
        self._invalidate()
        return connector_view(factory, row, config)

    def _replaced_by(self, factory: Factory, row: dict[str, Any]) -> bool:
        if factory.type not in MESSAGE_KINDS:
            return False
        existing = self._registry.find(row["connector_id"])
        return existing is not None and existing.type == factory.type

    async def update(
        self,
        tenant_id: str,
        connector_id: str,
        *,
        config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        sync_profile: bool | None = None,
    ) -> dict[str, Any]:
        factory, row = await self._row(tenant_id, connector_id)
        values: dict[str, Any] = {}
        plain = row["config"]
        if config is not None:
            plain = secrets.keep_masked(config, row["config"], self._paths(factory))
            await check_provider_urls(factory.parse_config(plain))
            values["config"] = self._seal(factory, tenant_id, connector_id, plain)
        if metadata is not None:
            values["metadata"] = checked_metadata(metadata)
        if sync_profile is not None:
            values["sync_profile"] = sync_profile
        if values:
            async with self._engine.begin() as conn:
                await repo.update_connector(conn, tenant_id, connector_id, values)
            self._invalidate()
        return connector_view(factory, {**row, **values}, plain)

    async def delete(self, tenant_id: str, connector_id: str) -> None:
        async with self._engine.begin() as conn:
            if not await repo.delete_connectors(conn, tenant_id, [connector_id]):
                raise not_found(f"The connector with id {connector_id!r} does not exist.")
        self._invalidate()

    def _invalidate(self) -> None:
        self._active.invalidate()  # also the social buttons: one cache

    # -- rows, sealed and opened ------------------------------------------------------------

    def _message_factory(self, factory_id: str) -> Factory:
        factory = self._registry.get(factory_id)
        if factory.type not in MESSAGE_KINDS:
            raise ConnectorError(
                "connector.unexpected_type",
                f"{factory_id} is a {factory.type.value} connector; only Email and Sms "
                "connectors send messages.",
                reason="unexpected_type",
            )
        return factory

    @staticmethod
    def _paths(factory: Factory) -> frozenset[secrets.Path]:
        return _confidential_paths(factory)

    def _seal(
        self, factory: Factory, tenant_id: str, row_id: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        return self._sealer.seal(config, self._paths(factory), f"{tenant_id}/{row_id}")

    def _open(self, row: dict[str, Any]) -> dict[str, Any]:
        factory = self._registry.find(row["connector_id"])
        if factory is None:
            return row
        context = f"{row['tenant_id']}/{row['id']}"
        return {**row, "config": self._sealer.open(row["config"], self._paths(factory), context)}

    async def _rows(self, tenant_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await repo.list_connectors(conn, tenant_id)
        return [self._open(r) for r in rows]

    async def _row(self, tenant_id: str, connector_id: str) -> tuple[Factory, dict[str, Any]]:
        async with self._engine.connect() as conn:
            row = await repo.get_connector(conn, tenant_id, connector_id)
        if row is None:
            raise not_found(f"The connector with id {connector_id!r} does not exist.")
        return self._registry.get(row["connector_id"]), self._open(row)


@functools.cache
def _confidential_paths(factory: Factory) -> frozenset[secrets.Path]:
    """Per connector class, once: building its JSON schema costs milliseconds, and every
    connector read (each verification code sent, every cache refill) needs the paths."""
    return frozenset(secrets.confidential_paths(factory.config_schema()))
