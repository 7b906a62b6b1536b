"""``/api/users``: CRUD, search, password set/verify, suspension, custom data, profile, roles
and social identities (Logto's paths, bodies and status codes).

Passwords are hashed with Argon2id (``services/passwords.py``). As in Logto, an administrator
setting a password is not held to the sign-in experience's password policy (that policy
applies where end users choose one); Portico still asks for 8 to 256 characters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from portico.services import rbac
from portico.services import users as service
from portico.services.errors import ServiceError
from portico.storage import rbac as rbac_repo
from portico.storage import users as repo
from portico.storage.search import Search
from portico.web.api.audit import AuditedRoute
from portico.web.api.context import ApiContext
from portico.web.api.guard import Auth
from portico.web.api.pagination import Page, paginate, pagination
from portico.web.api.schemas import (
    Body,
    Identity,
    RoleIds,
    RoleIdsAdded,
    RoleIdsOut,
    RoleOut,
    UserOut,
    UserProfile,
    role_out,
    user_out,
)
from portico.web.api.search import search_query

USERNAME = service.USERNAME_RE.pattern
EMAIL = service.EMAIL_RE.pattern
PHONE = service.PHONE_RE.pattern
URL = r"^(|https?://\S+)$"
PASSWORD = Field(min_length=service.MIN_PASSWORD_LENGTH, max_length=256)
# A connector's target (``google``, ``kakao``...): also a JSON key in ``users.identities``.
Target = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,128}$")]


class CreateUser(Body):
    primaryPhone: str | None = Field(None, pattern=PHONE)
    primaryEmail: str | None = Field(None, pattern=EMAIL, max_length=128)
    username: str | None = Field(None, pattern=USERNAME, max_length=128)
    password: Annotated[str, PASSWORD] | None = None
    passwordDigest: str | None = Field(None, max_length=256)
    passwordAlgorithm: Literal["Argon2i", "Argon2id", "Argon2d"] | None = None
    name: str | None = Field(None, max_length=128)
    avatar: str | None = Field(None, pattern=URL, max_length=2048)
    customData: dict[str, Any] | None = None
    profile: UserProfile | None = None


class UpdateUser(Body):
    """``""`` or ``null`` clears a member."""

    username: str | None = Field(None, pattern=rf"{USERNAME}|^$", max_length=128)
    primaryEmail: str | None = Field(None, pattern=rf"{EMAIL}|^$", max_length=128)
    primaryPhone: str | None = Field(None, pattern=rf"{PHONE}|^$")
    name: str | None = Field(None, max_length=128)
    avatar: str | None = Field(None, pattern=URL, max_length=2048)
    customData: dict[str, Any] | None = None
    profile: UserProfile | None = None


class CustomDataBody(Body):
    customData: dict[str, Any]


class ProfileBody(Body):
    profile: UserProfile


class PasswordBody(Body):
    password: Annotated[str, PASSWORD]


class VerifyPasswordBody(Body):
    password: str = Field(min_length=1, max_length=256)


class SuspendedBody(Body):
    isSuspended: bool


class HasPassword(BaseModel):
    hasPassword: bool


class IdentityOut(BaseModel):
    identity: dict[str, Any]


_COLUMNS = {
    "username": "username",
    "primaryEmail": "primary_email",
    "primaryPhone": "primary_phone",
    "name": "name",
    "avatar": "avatar",
    "customData": "custom_data",
}


def _profile(model: UserProfile | None) -> dict[str, Any]:
    return model.model_dump(exclude_none=True) if model else {}


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(dependencies=[authorized], route_class=AuditedRoute, tags=["Users"])

    @router.get("/users", response_model=list[UserOut])
    async def list_users(
        request: Request,
        response: Response,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
        excludeRoleId: Annotated[str | None, Query(max_length=128)] = None,
    ) -> list[dict[str, Any]]:
        """Newest first. ``search=%ali%`` matches id, username, primary email and phone, and
        name; ``search.primaryEmail=alice@example.com&mode=exact`` one field exactly."""
        async with api.read() as conn:
            total, rows = await repo.find_users(
                conn,
                api.tenant,
                search=search,
                exclude_role_id=excludeRoleId,
                offset=page.offset or 0,
                limit=page.size,
            )
        paginate(request, response, page, total)
        return [user_out(r) for r in rows]

    @router.post("/users", response_model=UserOut)
    async def create_user(body: CreateUser) -> dict[str, Any]:
        async with api.write() as conn:
            row = await service.create_user(
                conn,
                api.tenant,
                username=body.username,
                email=body.primaryEmail,
                phone=body.primaryPhone,
                password=body.password,
                name=body.name,
                avatar=body.avatar or None,
                custom_data=body.customData,
                profile=_profile(body.profile),
                password_digest=body.passwordDigest,
                password_algorithm=body.passwordAlgorithm,
            )
        return user_out(row)

    @router.get("/users/{userId}", response_model=UserOut)
    async def get_user(userId: str, includeSsoIdentities: str | None = None) -> Any:
        """``includeSsoIdentities=true``: with the user's enterprise SSO identities."""
        from fastapi.responses import JSONResponse

        from portico.services import sso_connectors

        async with api.read() as conn:
            shown = user_out(await service.get_user(conn, api.tenant, userId))
            if (includeSsoIdentities or "").lower() not in ("true", "1", "yes", "y"):
                return shown
            found = await sso_connectors.user_identities(conn, api.tenant, userId)
        body = UserOut.model_validate(shown).model_dump(mode="json")
        identities = [sso_connectors.identity_out(row) for row in found]
        return JSONResponse({**body, "ssoIdentities": identities})

    @router.patch("/users/{userId}", response_model=UserOut)
    async def update_user(userId: str, body: UpdateUser) -> dict[str, Any]:
        """Members given replace the stored ones."""
        changes: dict[str, Any] = {
            _COLUMNS[k]: getattr(body, k) for k in body.model_fields_set if k in _COLUMNS
        }
        if "customData" in changes:
            changes["custom_data"] = changes.get("custom_data") or {}
        if "profile" in body.model_fields_set:
            changes["profile"] = _profile(body.profile)
        async with api.write() as conn:
            return user_out(await service.update_user(conn, api.tenant, userId, changes))

    @router.delete("/users/{userId}", status_code=204, response_class=Response)
    async def delete_user(request: Request, userId: str) -> Response:
        """Also ends the user's sessions and revokes their refresh tokens."""
        auth: Auth = request.state.auth
        if auth.type == "user" and auth.id == userId:
            raise ServiceError("You cannot delete yourself.", code="user.cannot_delete_self")
        async with api.write() as conn:
            await service.delete_user(conn, api.tenant, userId)
        return Response(status_code=204)

    @router.get("/users/{userId}/custom-data")
    async def list_user_custom_data(userId: str) -> dict[str, Any]:
        async with api.read() as conn:
            return dict((await service.get_user(conn, api.tenant, userId))["custom_data"])

    @router.patch("/users/{userId}/custom-data")
    async def update_user_custom_data(userId: str, body: CustomDataBody) -> dict[str, Any]:
        """Top-level members replace those of ``customData``; the others stay."""
        async with api.write() as conn:
            return await service.merge_custom_data(conn, api.tenant, userId, body.customData)

    @router.patch("/users/{userId}/profile")
    async def update_user_profile(userId: str, body: ProfileBody) -> dict[str, Any]:
        """Top-level members replace those of ``profile``; the others stay."""
        async with api.write() as conn:
            user = await service.get_user(conn, api.tenant, userId, for_update=True)
            merged = {**(user["profile"] or {}), **_profile(body.profile)}
            updated = await service.update_user(conn, api.tenant, userId, {"profile": merged})
        return dict(updated["profile"])

    @router.patch("/users/{userId}/password", response_model=UserOut)
    async def update_user_password(userId: str, body: PasswordBody) -> dict[str, Any]:
        async with api.write() as conn:
            return user_out(await service.set_password(conn, api.tenant, userId, body.password))

    @router.post("/users/{userId}/password/verify", status_code=204, response_class=Response)
    async def verify_user_password(userId: str, body: VerifyPasswordBody) -> Response:
        """204 when right; 422 ``session.invalid_credentials`` when wrong or unset."""
        async with api.read() as conn:
            await service.check_password(conn, api.tenant, userId, body.password)
        return Response(status_code=204)

    @router.get("/users/{userId}/has-password", response_model=HasPassword)
    async def get_user_has_password(userId: str) -> dict[str, Any]:
        async with api.read() as conn:
            user = await service.get_user(conn, api.tenant, userId)
        return {"hasPassword": bool(user["password_encrypted"])}

    @router.patch("/users/{userId}/is-suspended", response_model=UserOut)
    async def update_user_is_suspended(userId: str, body: SuspendedBody) -> dict[str, Any]:
        """Suspending also ends the user's sessions and revokes their refresh tokens."""
        async with api.write() as conn:
            return user_out(await service.set_suspended(conn, api.tenant, userId, body.isSuspended))

    # Roles ------------------------------------------------------------------------------------
    @router.get("/users/{userId}/roles", response_model=list[RoleOut])
    async def list_user_roles(
        request: Request,
        response: Response,
        userId: str,
        page: Annotated[Page, Depends(pagination())],
        search: Annotated[Search, Depends(search_query)],
    ) -> list[dict[str, Any]]:
        async with api.read() as conn:
            await service.get_user(conn, api.tenant, userId)
            total, rows = await rbac_repo.find_roles(
                conn,
                api.tenant,
                search=search,
                user_id=userId,
                offset=page.offset or 0,
                limit=page.size,
            )
        paginate(request, response, page, total)
        return [role_out(r) for r in rows]

    @router.post("/users/{userId}/roles", response_model=RoleIdsAdded, status_code=201)
    async def assign_user_roles(userId: str, body: RoleIds) -> dict[str, Any]:
        """Roles already held are skipped; ``addedRoleIds`` lists what changed."""
        async with api.write() as conn:
            added = await rbac.assign_roles(conn, api.tenant, "user", userId, body.roleIds)
        return {"roleIds": body.roleIds, "addedRoleIds": added}

    @router.put("/users/{userId}/roles", response_model=RoleIdsOut)
    async def replace_user_roles(userId: str, body: RoleIds) -> dict[str, Any]:
        """The user holds exactly these roles afterwards."""
        async with api.write() as conn:
            await rbac.assign_roles(conn, api.tenant, "user", userId, body.roleIds, replace=True)
        return {"roleIds": list(dict.fromkeys(body.roleIds))}

    @router.delete("/users/{userId}/roles/{roleId}", status_code=204, response_class=Response)
    async def delete_user_role(userId: str, roleId: str) -> Response:
        async with api.write() as conn:
            await rbac.unassign_role(conn, api.tenant, "user", userId, roleId)
        return Response(status_code=204)

    # Social identities ------------------------------------------------------------------------
    @router.get("/users/{userId}/identities/{target}", response_model=IdentityOut)
    async def get_user_identity(userId: str, target: Target) -> dict[str, Any]:
        async with api.read() as conn:
            user = await service.get_user(conn, api.tenant, userId)
        return {"identity": service.identity_of(user, target)}

    @router.put("/users/{userId}/identities/{target}")
    async def replace_user_identity(
        userId: str, target: Target, body: Identity, response: Response
    ) -> dict[str, Any]:
        """Link the identity the user has at ``target`` (a connector's target, e.g.
        ``google``); 201 when it is new, 200 when it replaces one. Returns all identities."""
        async with api.write() as conn:
            identities, created = await service.put_identity(
                conn, api.tenant, userId, target, body.model_dump(exclude_none=True)
            )
        response.status_code = 201 if created else 200
        return identities

    @router.delete("/users/{userId}/identities/{target}", response_model=UserOut)
    async def delete_user_identity(userId: str, target: Target) -> dict[str, Any]:
        async with api.write() as conn:
            return user_out(await service.delete_identity(conn, api.tenant, userId, target))

    return router
