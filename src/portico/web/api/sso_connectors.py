"""``/api/sso-connector-providers``, ``/api/sso-connectors`` and a user's SSO identity:
Logto's paths, bodies and answers (secrets masked). Rules are ``services/sso_connectors``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from portico.services import sso_connectors as sso
from portico.services import sso_idp_initiated as idp_initiated
from portico.services import sso_signing_keys as signing_keys
from portico.services import users as user_service
from portico.services.errors import ServiceError
from portico.services.urls import check_public_url
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import Body

Name = Annotated[str, Field(min_length=1, max_length=128)]
Domain = Annotated[str, Field(min_length=1, max_length=256)]


# A logo the pages show: https (http on loopback), as every configured URL (services/urls).
Logo = Annotated[str, Field(max_length=2048), AfterValidator(check_public_url)]


class Branding(Body):
    displayName: str | None = Field(None, max_length=128)
    logo: Logo | None = None
    darkLogo: Logo | None = None


class CreateSsoConnector(Body):
    providerName: Name
    connectorName: Name
    config: dict[str, Any] | None = None
    domains: list[Domain] | None = Field(None, max_length=100)
    branding: Branding | None = None
    syncProfile: bool | None = None
    enableTokenStorage: bool | None = None


class NewSigningKey(Body):
    active: bool | None = False


class SigningKeyStatus(Body):
    active: bool


class Fingerprint(BaseModel):
    formatted: str
    unformatted: str


class Fingerprints(BaseModel):
    sha256: Fingerprint


class SigningKeyOut(BaseModel):
    id: str
    certificate: str
    createdAt: int
    expiresAt: int
    active: bool
    fingerprints: Fingerprints


class PatchSsoConnector(Body):
    connectorName: Name | None = None
    config: dict[str, Any] | None = None
    domains: list[Domain] | None = Field(None, max_length=100)
    branding: Branding | None = None
    syncProfile: bool | None = None
    enableTokenStorage: bool | None = None


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value


WebUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_web_url)]


class IdpInitiatedAuthConfigBody(Body):
    """Logto's union on ``autoSendAuthorizationRequest`` (the service checks each side)."""

    defaultApplicationId: str = Field(min_length=1, max_length=21)
    autoSendAuthorizationRequest: bool
    redirectUri: WebUrl | None = None
    authParameters: dict[str, Annotated[str, Field(max_length=2048)]] | None = Field(
        None, max_length=32
    )
    clientIdpInitiatedAuthCallbackUri: WebUrl | None = None


class IdpInitiatedAuthConfigOut(BaseModel):
    tenantId: str
    connectorId: str
    defaultApplicationId: str
    redirectUri: str | None
    authParameters: dict[str, Any]
    autoSendAuthorizationRequest: bool
    clientIdpInitiatedAuthCallbackUri: str | None
    createdAt: int


class ProviderOut(BaseModel):
    providerName: str
    providerType: str
    logo: str
    logoDark: str
    description: str
    name: str


class SsoConnectorOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    tenantId: str
    id: str
    providerName: str
    connectorName: str
    config: dict[str, Any] = Field(description="confidential values masked")
    domains: list[str]
    branding: dict[str, Any]
    syncProfile: bool
    enableTokenStorage: bool
    createdAt: int


class SsoConnectorDetailOut(SsoConnectorOut):
    name: str
    providerType: str
    providerLogo: str
    providerLogoDark: str
    providerConfig: dict[str, Any] | None = None


class SsoIdentityOut(BaseModel):
    tenantId: str
    id: str
    userId: str
    issuer: str
    identityId: str
    detail: dict[str, Any]
    createdAt: int
    updatedAt: int
    ssoConnectorId: str


class UserSsoIdentityOut(BaseModel):
    ssoIdentity: SsoIdentityOut


def _locale(request: Request) -> str:
    first = request.headers.get("accept-language", "en").split(",")[0].split(";")[0].strip()
    return first[:16] or "en"


def _body(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(exclude_none=True)
    if "branding" in data:
        data["branding"] = {k: v for k, v in data["branding"].items() if v is not None}
    return data


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["SSO connectors"])
    runtime = api.runtime

    def sealer() -> Any:
        return sso.sealer_for(runtime.settings.encryption_key_bytes())

    async def detailed(stored: dict[str, Any], locale: str) -> dict[str, Any]:
        endpoint = runtime.settings.endpoint
        details = await sso.provider_details(sealer(), stored, endpoint, locale)
        return {**sso.connector_out(stored), **details}

    @router.get("/sso-connector-providers", response_model=list[ProviderOut])
    async def list_sso_connector_providers(request: Request) -> list[dict[str, Any]]:
        return sso.providers(_locale(request))

    @router.post("/sso-connectors", response_model=SsoConnectorOut)
    async def create_sso_connector(body: CreateSsoConnector) -> dict[str, Any]:
        """422 ``connector.not_found`` for an unknown provider, 400
        ``connector.invalid_config`` for a config that does not parse or whose provider
        cannot be discovered, 409 for a name in use, 422 for blocked or repeated domains."""
        async with api.write() as conn:
            stored = await sso.create(
                conn, api.tenant, sealer(), runtime.settings.endpoint, _body(body)
            )
        return sso.connector_out(stored)

    @router.get("/sso-connectors", response_model=list[SsoConnectorDetailOut])
    async def list_sso_connectors(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination(optional=True))],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            total, rows = await sso.page(conn, api.tenant, offset=page.offset, limit=page.limit)
        paginate(request, response, page, total)
        return [await detailed(r, _locale(request)) for r in rows]

    @router.get("/sso-connectors/{id}", response_model=SsoConnectorDetailOut)
    async def get_sso_connector(request: Request, id: str) -> dict[str, Any]:
        async with api.read() as conn:
            stored = await sso.row(conn, api.tenant, id)
        return await detailed(stored, _locale(request))

    @router.patch("/sso-connectors/{id}", response_model=SsoConnectorDetailOut)
    async def update_sso_connector(
        request: Request, id: str, body: PatchSsoConnector
    ) -> dict[str, Any]:
        async with api.write() as conn:
            stored = await sso.update(
                conn, api.tenant, sealer(), runtime.settings.endpoint, id, _body(body)
            )
        return await detailed(stored, _locale(request))

    @router.delete("/sso-connectors/{id}", status_code=204, response_class=Response)
    async def delete_sso_connector(id: str) -> Response:
        async with api.write() as conn:
            await sso.delete(conn, api.tenant, id)
        return Response(status_code=204)

    path = "/sso-connectors/{id}/idp-initiated-auth-config"

    @router.put(path, response_model=IdpInitiatedAuthConfigOut)
    async def put_idp_initiated_auth_config(
        id: str, body: IdpInitiatedAuthConfigBody
    ) -> dict[str, Any]:
        """400 ``single_sign_on.idp_initiated_authentication_not_supported`` for an OIDC
        connector, ``..._invalid_application_type`` or ``..._redirect_uri_not_registered``
        for an unfit application; 404 for an unknown connector or application."""
        async with api.write() as conn:
            row = await idp_initiated.put(conn, api.tenant, id, body.model_dump())
        return idp_initiated.out(row)

    @router.get(path, response_model=IdpInitiatedAuthConfigOut)
    async def get_idp_initiated_auth_config(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return idp_initiated.out(await idp_initiated.get(conn, api.tenant, id))

    @router.delete(path, status_code=204, response_class=Response)
    async def delete_idp_initiated_auth_config(id: str) -> Response:
        async with api.write() as conn:
            await idp_initiated.delete(conn, api.tenant, id)
        return Response(status_code=204)

    @router.get(
        "/users/{userId}/sso-identities/{ssoConnectorId}", response_model=UserSsoIdentityOut
    )
    async def get_user_sso_identity(userId: str, ssoConnectorId: str) -> dict[str, Any]:
        """404 ``user.enterprise_sso_identity_not_exists`` when the user has none there."""
        async with api.read() as conn:
            await user_service.get_user(conn, api.tenant, userId)
            found = await sso.user_identities(conn, api.tenant, userId)
        for identity in found:
            if identity["sso_connector_id"] == ssoConnectorId:
                return {"ssoIdentity": sso.identity_out(identity)}
        raise ServiceError(
            "The user has no identity at this SSO connector.",
            code="user.enterprise_sso_identity_not_exists",
            status=404,
        )

    keys_path = "/sso-connectors/{id}/signing-keys"

    @router.get(keys_path, response_model=list[SigningKeyOut])
    async def list_sso_connector_signing_keys(id: str) -> list[dict[str, Any]]:
        """A SAML connector's signing keys (their certificates, never the private keys)."""
        async with api.read() as conn:
            return await signing_keys.list_keys(conn, api.tenant, id)

    @router.post(keys_path, status_code=201, response_model=SigningKeyOut)
    async def create_sso_connector_signing_key(
        id: str, body: NewSigningKey | None = None
    ) -> dict[str, Any]:
        """A new key; inactive unless ``active`` (rotation: give the IdP its certificate,
        then activate it), which deactivates the current one."""
        async with api.write() as conn:
            return await signing_keys.create_key(
                conn, api.tenant, sealer(), id, active=bool(body and body.active)
            )

    @router.patch(keys_path + "/{keyId}", response_model=SigningKeyOut)
    async def update_sso_connector_signing_key(
        id: str, keyId: str, body: SigningKeyStatus
    ) -> dict[str, Any]:
        async with api.write() as conn:
            return await signing_keys.set_active(conn, api.tenant, id, keyId, body.active)

    @router.delete(keys_path + "/{keyId}", status_code=204, response_class=Response)
    async def delete_sso_connector_signing_key(id: str, keyId: str) -> Response:
        """Only an inactive key (the active one may be what the IdP trusts now)."""
        async with api.write() as conn:
            await signing_keys.delete_key(conn, api.tenant, id, keyId)
        return Response(status_code=204)

    return router
