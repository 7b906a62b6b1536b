"""``/api/users/:userId/mfa-verifications`` and ``/api/users/:userId/logto-configs``: a
user's MFA factors and MFA choices, in Logto's shapes (``services/mfa.py``).

As in Logto, an administrator may give a user a TOTP factor or backup codes (their secrets
are answered once) whatever the sign-in experience enables, and remove any factor; nothing
secret is ever listed."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Response
from pydantic import Field

from portico.services import mfa
from portico.services import users as user_service
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.schemas import Body


class TotpBody(Body):
    type: Literal["Totp"]
    secret: str | None = Field(None, max_length=64)


class BackupCodeBody(Body):
    type: Literal["BackupCode"]
    codes: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=32)


class MfaConfig(Body):
    enabled: bool | None = None
    skipped: bool | None = None
    additionalBindingSuggestionSkipped: bool | None = None  # accepted and ignored, as Logto
    skipMfaOnSignIn: bool | None = None


class PasskeyConfig(Body):
    skipped: bool | None = None


class ConfigPatch(Body):
    mfa: MfaConfig | None = None
    passkeySignIn: PasskeyConfig | None = None


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Users"])

    def keys() -> mfa.MfaKeys:
        assert api.runtime.mfa_keys is not None
        return api.runtime.mfa_keys

    @router.get("/users/{userId}/mfa-verifications")
    async def list_user_mfa_verifications(userId: str) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await user_service.get_user(conn, api.tenant, userId)
            return [mfa.factor_view(row) for row in await mfa.factors(conn, api.tenant, userId)]

    @router.post("/users/{userId}/mfa-verifications")
    async def create_user_mfa_verification(
        userId: str, body: Annotated[TotpBody | BackupCodeBody, Field(discriminator="type")]
    ) -> dict[str, Any]:
        """``Totp`` → ``{type, secret, secretQrCode}``; ``BackupCode`` → ``{type, codes}``."""
        async with api.write() as conn:
            user = await user_service.get_user(conn, api.tenant, userId)
            if isinstance(body, TotpBody):
                issuer = urlsplit(api.runtime.settings.endpoint).hostname or "portico"
                return await mfa.add_totp(
                    conn, api.tenant, user, keys(), issuer=issuer, secret=body.secret
                )
            return await mfa.add_backup_codes(conn, api.tenant, userId, keys(), body.codes)

    @router.delete(
        "/users/{userId}/mfa-verifications/{verificationId}",
        status_code=204,
        response_class=Response,
    )
    async def delete_user_mfa_verification(userId: str, verificationId: str) -> Response:
        async with api.write() as conn:
            await user_service.get_user(conn, api.tenant, userId)
            await mfa.remove(conn, api.tenant, userId, verificationId)
        return Response(status_code=204)

    @router.get("/users/{userId}/logto-configs")
    async def get_user_logto_config(userId: str) -> dict[str, Any]:
        async with api.read() as conn:
            return mfa.config_view(await mfa.read_config(conn, api.tenant, userId))

    @router.patch("/users/{userId}/logto-configs")
    async def update_user_logto_config(userId: str, body: ConfigPatch) -> dict[str, Any]:
        patch = body.model_dump(exclude_none=True)
        async with api.write() as conn:
            return mfa.config_view(await mfa.patch_config(conn, api.tenant, userId, patch))

    return router
