"""``/api/configs/oidc/:keyType``: the tenant's signing keys (``private-keys``) and cookie
keys (``cookie-keys``): list (never key material), rotate, delete. ``/api/configs/cimd``:
Client ID Metadata Documents on or off (Logto's shape).

A rotated signing key takes over within seconds on every process (``Provider.current_keys``);
the previous one stays published in the JWKS so tokens it signed still verify, until it is
deleted. Logto's staged rotation (``rotationGracePeriod`` > 0) is not offered.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from portico.services import client_metadata_documents as documents
from portico.services import keys
from portico.services.errors import ServiceError
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.schemas import Body

KeyTypeParam = Annotated[
    keys.KeyType, Path(description="`private-keys` (signing keys) or `cookie-keys`")
]


class RotateBody(Body):
    signingKeyAlgorithm: Literal["EC", "RSA"] = Field(
        "EC", description="EC P-384 (ES384) or RSA 4096 (RS256); signing keys only."
    )
    rotationGracePeriod: int | None = Field(
        None, ge=0, description="Seconds before the new key signs; only 0 is supported."
    )


class KeyOut(BaseModel):
    id: str
    createdAt: int = Field(description="epoch seconds, as Logto stores it")
    status: Literal["Current", "Previous", "Next"] | None = None
    signingKeyAlgorithm: Literal["EC", "RSA"] | None = None
    publishUntil: int | None = Field(
        None, description="Previous keys: published until then (epoch seconds), Portico's"
    )


class CimdConfig(Body):
    enabled: bool = Field(description="Client ID Metadata Documents: https client ids")


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Configs"])
    exclude_unset: dict[str, Any] = {"response_model_exclude_unset": True}

    @router.get("/configs/oidc/{keyType}", response_model=list[KeyOut], **exclude_unset)
    async def get_oidc_keys(keyType: KeyTypeParam) -> list[dict[str, Any]]:
        async with api.read() as conn:
            return await keys.list_keys(conn, api.tenant, keyType)

    @router.post("/configs/oidc/{keyType}/rotate", response_model=list[KeyOut], **exclude_unset)
    async def rotate_oidc_keys(
        keyType: KeyTypeParam, body: RotateBody | None = None
    ) -> list[dict[str, Any]]:
        """A new key in front; signing keys: the old Current stays as Previous."""
        body = body or RotateBody()
        if body.rotationGracePeriod:
            raise ServiceError(
                "staged rotation (rotationGracePeriod > 0) is not supported; rotate with 0",
                code="oidc.invalid_request",
                status=422,
            )
        if keyType is keys.KeyType.COOKIE_KEYS and body.rotationGracePeriod is not None:
            raise ServiceError(
                "rotationGracePeriod applies to signing keys only",
                code="oidc.invalid_request",
                status=422,
            )
        async with api.write() as conn:
            return await keys.rotate(conn, api.tenant, keyType, body.signingKeyAlgorithm)

    @router.get("/configs/cimd", response_model=CimdConfig)
    async def get_cimd() -> dict[str, Any]:
        """Whether clients may be known by an https client id alone (off by default)."""
        async with api.read() as conn:
            return {"enabled": await documents.enabled(conn, api.tenant)}

    @router.patch("/configs/cimd", response_model=CimdConfig)
    async def update_cimd(body: CimdConfig) -> dict[str, Any]:
        async with api.write() as conn:
            return await documents.set_enabled(conn, api.tenant, body.enabled)

    @router.delete("/configs/oidc/{keyType}/{keyId}", status_code=204, response_class=Response)
    async def delete_oidc_key(keyType: KeyTypeParam, keyId: str) -> Response:
        """Only a Previous signing key can go, and never the last key."""
        async with api.write() as conn:
            await keys.delete(conn, api.tenant, keyType, keyId)
        return Response(status_code=204)

    return router
