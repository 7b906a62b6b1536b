"""``/api/users/:userId/grants``: a user's grants to applications, listed and revoked one by
one, in Logto's shapes (``services/user_grants.py``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response

from portico.services import user_grants
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Users"])

    def provider():  # type: ignore[no-untyped-def]
        assert api.runtime.provider is not None
        return api.runtime.provider

    @router.get("/users/{userId}/grants")
    async def list_user_grants(
        userId: str, appType: Literal["firstParty", "thirdParty"] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The user's live grants, each with its application (``appType``: first- or
        third-party applications only)."""
        found = await user_grants.list_grants(
            provider().engine, provider().artifacts, api.tenant, userId, appType
        )
        return {"grants": found}

    @router.delete("/users/{userId}/grants/{grantId}", status_code=204, response_class=Response)
    async def delete_user_grant(userId: str, grantId: str) -> Response:
        """Revoke the grant: its refresh tokens, codes and opaque tokens stop working."""
        await user_grants.revoke(provider().artifacts, userId, grantId)
        return Response(status_code=204)

    return router
