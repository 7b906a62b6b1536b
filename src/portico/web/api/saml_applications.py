"""``/api/saml-applications``: SAML applications (Portico as the identity provider) and their
signing certificates, Logto's paths, bodies and answers; no cap on their number.

The anonymous routes (metadata, the SSO endpoint, the sign-in callback) are in
``web/saml_idp_routes.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from portico.saml_idp.formats import Binding, NameIdFormat
from portico.services import saml_applications as service
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.schemas import Body
from portico.web.saml_idp_routes import key_sealer


class AcsUrl(Body):
    binding: Binding
    url: str = Field(min_length=1, max_length=2048)


class Encryption(Body):
    encryptAssertion: bool | None = None
    encryptThenSign: bool | None = None
    certificate: str | None = Field(None, max_length=16384)


AttributeMapping = dict[str, str]


class SamlConfig(Body):
    attributeMapping: AttributeMapping | None = None
    entityId: str | None = Field(None, max_length=128)
    acsUrl: AcsUrl | None = None
    encryption: Encryption | None = None


class CreateSamlApplication(SamlConfig):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)
    customData: dict[str, Any] | None = None
    nameIdFormat: NameIdFormat = NameIdFormat.PERSISTENT


class UpdateSamlApplication(SamlConfig):
    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)
    customData: dict[str, Any] | None = None
    nameIdFormat: NameIdFormat | None = None


class SamlApplicationOut(Body):
    tenantId: str
    id: str
    name: str
    description: str | None
    type: str
    customData: dict[str, Any]
    isThirdParty: bool
    appLevelAccessControlEnabled: bool
    createdAt: int
    attributeMapping: dict[str, str]
    entityId: str | None
    acsUrl: dict[str, Any] | None
    encryption: dict[str, Any] | None
    nameIdFormat: str


class CreateSecret(Body):
    lifeSpanInYears: int = Field(ge=1, le=100)


class UpdateSecret(Body):
    active: bool


class Fingerprint(Body):
    formatted: str
    unformatted: str


class SecretOut(Body):
    id: str
    certificate: str
    createdAt: int
    expiresAt: int
    active: bool
    fingerprints: dict[str, Fingerprint]


def _config(body: SamlConfig, given: set[str]) -> dict[str, Any]:
    """The configuration members the body gives, ``null`` included (it clears them)."""
    dumped = body.model_dump(exclude_none=False)
    names = ("attributeMapping", "entityId", "acsUrl", "encryption", "nameIdFormat")
    config = {name: dumped[name] for name in names if name in given and name in dumped}
    if config.get("encryption") is not None:
        config["encryption"] = {k: v for k, v in config["encryption"].items() if v is not None}
    return config


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(
        dependencies=[authorized], route_class=AuditedRoute, tags=["SAML applications"]
    )

    @router.post("/saml-applications", response_model=SamlApplicationOut, status_code=201)
    async def create_saml_application(body: CreateSamlApplication) -> dict[str, Any]:
        """A SAML application with a first certificate, active, valid three years."""
        config = _config(body, body.model_fields_set | {"nameIdFormat"})
        sealer = key_sealer(api.runtime)
        async with api.write() as conn:
            return await service.create(
                conn, api.tenant, sealer, endpoint=api.runtime.settings.endpoint, name=body.name,
                description=body.description, custom_data=body.customData, config=config,
            )  # fmt: skip

    @router.get("/saml-applications/{id}", response_model=SamlApplicationOut)
    async def get_saml_application(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return await service.get(conn, api.tenant, id)

    @router.patch("/saml-applications/{id}", response_model=SamlApplicationOut)
    async def update_saml_application(id: str, body: UpdateSamlApplication) -> dict[str, Any]:
        """Given members replace the stored ones; ``null`` clears ``entityId``, ``acsUrl``,
        ``encryption``."""
        given = body.model_fields_set
        members = ("name", "description", "customData")
        app_changes: dict[str, Any] = {k: getattr(body, k) for k in members if k in given}
        if app_changes.get("name", "") is None:  # the name cannot be cleared: null leaves it
            del app_changes["name"]
        async with api.write() as conn:
            return await service.update(conn, api.tenant, id, app_changes, _config(body, given))

    @router.delete("/saml-applications/{id}", status_code=204, response_class=Response)
    async def delete_saml_application(id: str) -> Response:
        async with api.write() as conn:
            await service.delete(conn, api.tenant, id)
        return Response(status_code=204)

    @router.post("/saml-applications/{id}/secrets", response_model=SecretOut, status_code=201)
    async def create_saml_application_secret(id: str, body: CreateSecret) -> dict[str, Any]:
        """A new certificate, inactive: publish it to the SP, then activate it."""
        sealer = key_sealer(api.runtime)
        async with api.write() as conn:
            return await service.create_secret(conn, api.tenant, sealer, id, body.lifeSpanInYears)

    @router.get("/saml-applications/{id}/secrets", response_model=list[SecretOut])
    async def list_saml_application_secrets(id: str) -> list[dict[str, Any]]:
        async with api.read() as conn:
            return await service.list_secrets(conn, api.tenant, id)

    @router.patch("/saml-applications/{id}/secrets/{secretId}", response_model=SecretOut)
    async def update_saml_application_secret(
        id: str, secretId: str, body: UpdateSecret
    ) -> dict[str, Any]:
        """``active: true`` makes it the one active certificate (the previous one is
        deactivated, still listed until deleted)."""
        async with api.write() as conn:
            return await service.set_secret_active(conn, api.tenant, id, secretId, body.active)

    @router.delete(
        "/saml-applications/{id}/secrets/{secretId}", status_code=204, response_class=Response
    )
    async def delete_saml_application_secret(id: str, secretId: str) -> Response:
        async with api.write() as conn:
            await service.delete_secret(conn, api.tenant, id, secretId)
        return Response(status_code=204)

    return router
