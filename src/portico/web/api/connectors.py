"""``/api/connectors`` and ``/api/connector-factories``: Logto's paths, bodies and shapes.

Routes parse and respond; ``portico.connectors.Connectors`` holds the rules. Confidential
config values leave only masked; a failed test send answers 400 with the admin message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from portico.connectors import Connectors, ConnectorType
from portico.connectors.errors import ConnectorError
from portico.services import phones
from portico.web.api.audit import AuditedRoute
from portico.web.api.errors import ApiError
from portico.web.runtime import Runtime

STATUS = {
    "connector.not_found": 404,
    "connector.id_taken": 422,
    "connector.multiple_instances_not_supported": 422,
}


class FactoryOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: ConnectorType
    target: str
    platform: str | None
    name: dict[str, str]
    description: dict[str, str]
    logo: str
    logoDark: str | None
    readme: str
    isStandard: bool
    isDemo: bool
    configTemplate: str | None
    configSchema: dict[str, Any] = Field(description="JSON schema of config; console form")


class ConnectorOut(FactoryOut):
    tenantId: str
    connectorId: str = Field(description="factory id")
    config: dict[str, Any] = Field(description="confidential values masked")
    metadata: dict[str, Any]
    syncProfile: bool
    createdAt: int = Field(description="epoch milliseconds")


class CreateConnector(BaseModel):
    connectorId: str = Field(min_length=1, max_length=128)
    config: dict[str, Any]
    metadata: dict[str, Any] | None = None
    id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    syncProfile: bool | None = None


class UpdateConnector(BaseModel):
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    syncProfile: bool | None = None


class TestMessage(BaseModel):
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)
    config: dict[str, Any]
    locale: str | None = None


def connectors_of(runtime: Runtime) -> Connectors:
    """The runtime's connector service; built here on first use until ``Runtime.start()``
    builds it (then this just returns ``runtime.connectors``)."""
    service: Connectors | None = getattr(runtime, "connectors", None)
    if service is None:
        assert runtime.engine is not None
        service = Connectors(runtime.engine, runtime.settings.encryption_key_bytes())
        runtime.connectors = service  # type: ignore[attr-defined]
    return service


def api_error(exc: ConnectorError) -> ApiError:
    data = exc.data if exc.data is not None else ({"reason": exc.reason} if exc.reason else None)
    return ApiError(STATUS.get(exc.code, 400), exc.code, exc.admin_message, data)


def routes(runtime: Runtime, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute)

    def service() -> Connectors:
        return connectors_of(runtime)

    def tenant() -> str:
        assert runtime.provider is not None
        return runtime.provider.tenant_id

    @router.get("/connector-factories", response_model=list[FactoryOut])
    async def list_factories() -> list[dict[str, Any]]:
        return service().factories()

    @router.get("/connector-factories/{factory_id}", response_model=FactoryOut)
    async def get_factory(factory_id: str) -> dict[str, Any]:
        try:
            return service().factory(factory_id)
        except ConnectorError as exc:
            raise api_error(exc) from None

    @router.get("/connectors", response_model=list[ConnectorOut])
    async def list_connectors(
        target: Annotated[str | None, Query()] = None,
    ) -> list[dict[str, Any]]:
        return await service().list_connectors(tenant(), target)

    @router.post("/connectors", response_model=ConnectorOut)
    async def create_connector(body: CreateConnector) -> dict[str, Any]:
        try:
            created = await service().create(
                tenant(), body.connectorId, body.config, body.metadata, body.id
            )
            if body.syncProfile is not None:
                created = await service().update(
                    tenant(), created["id"], sync_profile=body.syncProfile
                )
            return created
        except ConnectorError as exc:
            raise api_error(exc) from None

    @router.get("/connectors/{connector_id}", response_model=ConnectorOut)
    async def get_connector(connector_id: str) -> dict[str, Any]:
        try:
            return await service().get(tenant(), connector_id)
        except ConnectorError as exc:
            raise api_error(exc) from None

    @router.patch("/connectors/{connector_id}", response_model=ConnectorOut)
    async def update_connector(connector_id: str, body: UpdateConnector) -> dict[str, Any]:
        try:
            return await service().update(
                tenant(),
                connector_id,
                config=body.config,
                metadata=body.metadata,
                sync_profile=body.syncProfile,
            )
        except ConnectorError as exc:
            raise api_error(exc) from None

    @router.delete("/connectors/{connector_id}", status_code=204, response_class=Response)
    async def delete_connector(connector_id: str) -> Response:
        try:
            await service().delete(tenant(), connector_id)
        except ConnectorError as exc:
            raise api_error(exc) from None
        return Response(status_code=204)

    @router.post("/connectors/{factory_id}/test", status_code=204, response_class=Response)
    async def test_connector(factory_id: str, body: TestMessage) -> Response:
        """Send a real message through the draft ``config`` (Generic template, code 000000)."""
        to = body.email or (body.phone and phones.normalise(body.phone))
        if not to:
            raise ApiError(
                400, "guard.invalid_input", "Either email or an E.164 phone number is required."
            )
        try:
            await service().test(tenant(), factory_id, to, body.config)
        except ConnectorError as exc:
            raise api_error(exc) from None
        return Response(status_code=204)

    return router
