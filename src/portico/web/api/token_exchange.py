"""``/api/subject-tokens`` and ``/api/users/:userId/personal-access-tokens``: the tokens an
application allowed token exchange trades for a user's access token (Logto's shapes;
``services/subject_tokens.py``, ``services/personal_access_tokens.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from portico.services import personal_access_tokens as pats
from portico.services import subject_tokens
from portico.services import users as user_service
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.schemas import Body


class SubjectTokenBody(Body):
    userId: str = Field(max_length=64)
    context: dict[str, Any] | None = None


class CreatePat(Body):
    name: str = Field(max_length=256)
    expiresAt: int | None = Field(None, ge=0)


class RenamePat(Body):
    currentName: str | None = Field(None, max_length=256)
    name: str = Field(max_length=256)


class NamedPat(Body):
    name: str = Field(max_length=256)


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Users"])

    @router.post("/subject-tokens", status_code=201)
    async def create_subject_token(request: Request, body: SubjectTokenBody) -> dict[str, Any]:
        """A single-use token naming the user, valid ten minutes, for token exchange."""
        async with api.read() as conn:
            await user_service.get_user(conn, api.tenant, body.userId)
        assert api.runtime.provider is not None
        auth = getattr(request.state, "auth", None)
        creator = auth.id if auth is not None else None
        return await subject_tokens.create(
            api.runtime.provider.artifacts, body.userId, body.context or {}, creator
        )

    base = "/users/{userId}/personal-access-tokens"

    @router.get(base)
    async def list_personal_access_tokens(userId: str) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await user_service.get_user(conn, api.tenant, userId)
            return await pats.list_tokens(conn, api.tenant, userId)

    @router.post(base, status_code=201)
    async def create_personal_access_token(userId: str, body: CreatePat) -> dict[str, Any]:
        async with api.write() as conn:
            await user_service.get_user(conn, api.tenant, userId)
            return await pats.create(conn, api.tenant, userId, body.name, body.expiresAt)

    @router.patch(base)
    async def update_personal_access_token(userId: str, body: RenamePat) -> dict[str, Any]:
        async with api.write() as conn:
            await user_service.get_user(conn, api.tenant, userId)
            return await pats.rename(conn, api.tenant, userId, body.currentName or body.name,
                                     body.name)  # fmt: skip

    @router.post(f"{base}/delete", status_code=204, response_class=Response)
    async def delete_personal_access_token(userId: str, body: NamedPat) -> Response:
        async with api.write() as conn:
            await pats.delete(conn, api.tenant, userId, body.name)
        return Response(status_code=204)

    @router.patch(f"{base}/{{name}}")
    async def rename_personal_access_token(userId: str, name: str, body: NamedPat) -> Any:
        async with api.write() as conn:
            return await pats.rename(conn, api.tenant, userId, name, body.name)

    @router.delete(f"{base}/{{name}}", status_code=204, response_class=Response)
    async def delete_personal_access_token_by_name(userId: str, name: str) -> Response:
        async with api.write() as conn:
            await pats.delete(conn, api.tenant, userId, name)
        return Response(status_code=204)

    return router
