"""Users of the ``default`` tenant: search and pages, creation, the details page (profile,
password reset shown once, suspension, deletion, social identities, roles, two-step
verification: the user's factors, removing one, resetting all, the user's MFA choices).

Each change writes the audit entry ``/api/users`` writes for it (``ManagementApi.<Op>``).
Changes that weaken the user's two-step verification ask for the admin's password again,
as a password reset does (``destructive``)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.experience.mfa import IMPLICIT
from portico.services import mfa, phones, rbac
from portico.services import users as user_service
from portico.services.errors import ServiceError
from portico.storage import rbac as rbac_repo
from portico.storage import search as search_sql
from portico.storage import users as user_repo
from portico.web.console.context import Console, form, page
from portico.web.console.paging import page_count, page_number
from portico.web.console.sign_in_experience import MFA_FACTORS
from portico.web.runtime import Runtime

SECTION = "users"
PAGE_SIZE = 20
# The factors with a name among the console's phrases (``mfa.factor.<type>``).
KNOWN_FACTORS = frozenset(str(factor) for factor in MFA_FACTORS)
# ``logto_config.mfa`` members the page edits (the form's names) and those a reset clears so
# that the user is asked to set up a factor again.
CHOICES = {"mfa_skipped": "skipped", "mfa_skip_on_sign_in": "skipMfaOnSignIn"}
CLEARED_BY_RESET = ("skipped", "additionalBindingSuggestionSkipped")


def _search(term: str) -> search_sql.Search | None:
    """The search box as Logto's console sends it: ``search=%term%`` over every field."""
    term = term.strip()
    return search_sql.parse([("search", f"%{term}%")]) if term else None


async def _list(ctx: Console, status: int = 200, **values: Any) -> Response:
    term = ctx.request.query_params.get("search", "")[:128]
    number = page_number(ctx)
    async with ctx.read() as conn:
        total, rows = await user_repo.find_users(
            conn,
            ctx.tenant,
            search=_search(term),
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    return await ctx.render(
        "users.html",
        status=status,
        section=SECTION,
        users=rows,
        total=total,
        search=term,
        page=number,
        pages=page_count(total, PAGE_SIZE),
        **values,
    )


async def index(ctx: Console) -> Response:
    return await _list(ctx)


def _optional(ctx: Console, name: str, limit: int = 256) -> str | None:
    return ctx.field(name, limit).strip() or None


def _phone(ctx: Console) -> str:
    """The typed phone number in the stored E.164 form; as typed when it is not one (the
    service then says what is wrong)."""
    typed = ctx.field("phone", 32).strip()
    return (phones.normalise(typed) or typed) if typed else ""


async def create(ctx: Console) -> Response:
    values = {
        "username": _optional(ctx, "username", 128),
        "email": _optional(ctx, "email", 128),
        "phone": _phone(ctx) or None,
        "name": _optional(ctx, "name", 128),
    }
    password = ctx.field("password", 1024) or None
    try:
        if password is not None:
            user_service.check_admin_set_password(password)
        async with ctx.write() as conn:
            user = await user_service.create_user(conn, ctx.tenant, password=password, **values)
            await ctx.audit(conn, "CreateUser", user_id=user["id"], status=200)
    except ServiceError as error:
        return await _list(ctx, 400, error=error.message, new=values)
    ctx.flash(ctx.t("users.created"))
    return await ctx.redirect(f"/console/users/{user['id']}")


async def _details(ctx: Console, user_id: str, status: int = 200, **values: Any) -> Response:
    assert ctx.runtime.experiences is not None
    async with ctx.read() as conn:
        user = await user_service.get_user(conn, ctx.tenant, user_id)
        _, held = await rbac_repo.find_roles(conn, ctx.tenant, user_id=user_id, limit=200)
        _, others = await rbac_repo.find_roles(
            conn, ctx.tenant, exclude_user_id=user_id, role_type="User", limit=200
        )
        factors = await mfa.factors(conn, ctx.tenant, user_id)
    sie = await ctx.runtime.experiences.get(ctx.tenant)
    # Logto's implicit factors: a code to the user's own address, when enabled.
    implicit = [
        {"type": str(factor), "address": user[f"primary_{kind}"]}
        for kind, factor in IMPLICIT.items()
        if factor in sie.mfa.factors and user.get(f"primary_{kind}")
    ]
    return await ctx.render(
        "user.html",
        status=status,
        section=SECTION,
        user=user,
        shown_name=shown_name(user),
        roles=held,
        other_roles=others,
        role_groups=[(None, [(r["id"], r["name"]) for r in others])],
        factors=factors,
        implicit_factors=implicit,
        known_factors=KNOWN_FACTORS,
        enabled_factors=[str(f) for f in sie.mfa.factors],
        choices=(user.get("logto_config") or {}).get("mfa") or {},
        **values,
    )


async def details(ctx: Console) -> Response:
    return await _details(ctx, ctx.request.path_params["id"])


async def update(ctx: Console) -> Response:
    user_id = ctx.request.path_params["id"]
    changes = {
        "username": ctx.field("username", 128).strip(),
        "primary_email": ctx.field("email", 128).strip(),
        "primary_phone": _phone(ctx),
        "name": ctx.field("name", 128).strip(),
        "avatar": ctx.field("avatar", 2048).strip(),
    }
    try:
        user_service.check_avatar(changes["avatar"])
        async with ctx.write() as conn:
            await user_service.update_user(conn, ctx.tenant, user_id, changes)
            await ctx.audit(conn, "UpdateUser", user_id=user_id, status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(ctx, user_id, 400, error=error.message, edited=changes)
    ctx.flash(ctx.t("user.profile_saved"))
    return await ctx.redirect(f"/console/users/{user_id}")


async def reset_password(ctx: Console) -> Response:
    """Set the given password, or generate one; either way it is shown on this response
    only (never in a redirect or a flash)."""
    user_id = ctx.request.path_params["id"]
    password = ctx.field("password", 1024)
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    try:
        user_service.check_admin_set_password(password)
        async with ctx.write() as conn:
            await user_service.set_password(conn, ctx.tenant, user_id, password)
            await ctx.audit(conn, "UpdateUserPassword", user_id=user_id, status=200)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(ctx, user_id, 400, error=error.message)
    return await _details(
        ctx, user_id, new_password=password if generated else None, password_set=True
    )


async def suspend(ctx: Console) -> Response:
    user_id = ctx.request.path_params["id"]
    suspended = ctx.field("suspended") == "true"
    async with ctx.write() as conn:
        await user_service.set_suspended(conn, ctx.tenant, user_id, suspended)
        await ctx.audit(conn, "UpdateUserIsSuspended", user_id=user_id, status=200)
    ctx.flash(ctx.t("user.suspended" if suspended else "user.reactivated"))
    return await ctx.redirect(f"/console/users/{user_id}")


def shown_name(user: dict[str, Any]) -> str:
    """What the user's page calls the user (its heading), and so what deleting asks for."""
    for key in ("name", "username", "primary_email", "primary_phone"):
        if user.get(key):
            return str(user[key])
    return str(user["id"])


async def delete(ctx: Console) -> Response:
    """Only with the user's shown name typed again: a wrong or missing name deletes nothing
    (the account, its identities, sessions and grants go at once)."""
    user_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        user = await user_service.get_user(conn, ctx.tenant, user_id)
    if not ctx.name_typed(shown_name(user)):
        refused = ctx.t("user.delete_refused")
        return await _details(ctx, user_id, 400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await user_service.delete_user(conn, ctx.tenant, user_id)
        await ctx.audit(conn, "DeleteUser", user_id=user_id, status=204)
    ctx.flash(ctx.t("user.deleted"))
    return await ctx.redirect("/console/users")


async def unlink(ctx: Console) -> Response:
    user_id, target = ctx.request.path_params["id"], ctx.request.path_params["target"]
    async with ctx.write() as conn:
        await user_service.delete_identity(conn, ctx.tenant, user_id, target)
        await ctx.audit(
            conn, "DeleteUserIdentity", user_id=user_id, params={"target": target}, status=200
        )
    ctx.flash(ctx.t("user.unlinked", target=target))
    return await ctx.redirect(f"/console/users/{user_id}")


async def assign_roles(ctx: Console) -> Response:
    user_id = ctx.request.path_params["id"]
    role_ids = [r[:128] for r in ctx.values("role_id")][:100]
    if not role_ids:
        return await _details(ctx, user_id, 400, error=ctx.t("user.pick_role"))
    try:
        async with ctx.write() as conn:
            await rbac.assign_roles(conn, ctx.tenant, "user", user_id, role_ids)
            await ctx.audit(conn, "AssignUserRoles", user_id=user_id, status=201)
    except ServiceError as error:
        if error.status == 404:
            raise
        return await _details(ctx, user_id, 400, error=error.message)
    ctx.flash(ctx.t("user.roles_assigned"))
    return await ctx.redirect(f"/console/users/{user_id}")


async def remove_role(ctx: Console) -> Response:
    user_id, role_id = ctx.request.path_params["id"], ctx.request.path_params["role"]
    async with ctx.write() as conn:
        await rbac.unassign_role(conn, ctx.tenant, "user", user_id, role_id)
        await ctx.audit(
            conn, "DeleteUserRole", user_id=user_id, params={"roleId": role_id}, status=204
        )
    ctx.flash(ctx.t("user.role_removed"))
    return await ctx.redirect(f"/console/users/{user_id}")


# Two-step verification ---------------------------------------------------------------------
async def remove_factor(ctx: Console) -> Response:
    user_id, factor_id = ctx.request.path_params["id"], ctx.request.path_params["factor"]
    async with ctx.write() as conn:
        await user_service.get_user(conn, ctx.tenant, user_id)
        found = [r for r in await mfa.factors(conn, ctx.tenant, user_id) if r["id"] == factor_id]
        await mfa.remove(conn, ctx.tenant, user_id, factor_id)  # 404 when it is not theirs
        await ctx.audit(
            conn, "DeleteUserMfaVerification", user_id=user_id,
            params={"verificationId": factor_id}, status=204,
        )  # fmt: skip
    kind = found[0]["type"] if found else None
    if kind in KNOWN_FACTORS:
        ctx.flash(ctx.t("user.factor_removed", name=ctx.t(f"mfa.factor.{kind}")))
    else:
        ctx.flash(ctx.t("user.a_factor_removed"))
    return await ctx.redirect(f"/console/users/{user_id}#mfa")


async def reset_mfa(ctx: Console) -> Response:
    """Remove every factor and forget that the user skipped setting one up, so that the
    sign-in experience's policy asks them again (as /api would: one ``DeleteUserMfa…``
    entry per factor, one ``UpdateUserLogtoConfig``)."""
    user_id = ctx.request.path_params["id"]
    async with ctx.write() as conn:
        await user_service.get_user(conn, ctx.tenant, user_id)
        rows = await mfa.factors(conn, ctx.tenant, user_id)
        for row in rows:
            await mfa.remove(conn, ctx.tenant, user_id, row["id"])
            await ctx.audit(
                conn, "DeleteUserMfaVerification", user_id=user_id,
                params={"verificationId": row["id"]}, status=204,
            )  # fmt: skip
        await mfa.record_choices(conn, ctx.tenant, user_id, dict.fromkeys(CLEARED_BY_RESET))
        await ctx.audit(conn, "UpdateUserLogtoConfig", user_id=user_id, status=200)
    one = len(rows) == 1
    ctx.flash(ctx.t("user.mfa_reset_one" if one else "user.mfa_reset", count=len(rows)))
    return await ctx.redirect(f"/console/users/{user_id}#mfa")


async def update_choices(ctx: Console) -> Response:
    user_id = ctx.request.path_params["id"]
    enabled = {"on": True, "off": False, "": None}.get(ctx.field("mfa_enabled", 8))
    if enabled is None and ctx.field("mfa_enabled", 8):
        return await _details(ctx, user_id, 400, error=ctx.t("user.choose_mfa_enabled"))
    changes: dict[str, bool | None] = {"enabled": enabled}
    changes.update({key: ctx.checked(name) for name, key in CHOICES.items()})
    async with ctx.write() as conn:
        await mfa.record_choices(conn, ctx.tenant, user_id, changes)
        await ctx.audit(conn, "UpdateUserLogtoConfig", user_id=user_id, status=200)
    ctx.flash(ctx.t("user.mfa_choices_saved"))
    return await ctx.redirect(f"/console/users/{user_id}#mfa")


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/users/{id}"
    return [
        Route("/console/users", page(runtime, index), methods=["GET"]),
        Route("/console/users", form(runtime, create), methods=["POST"]),
        Route(base, page(runtime, details), methods=["GET"]),
        Route(base, form(runtime, update), methods=["POST"]),
        # Setting someone's password takes over their account: password asked again.
        Route(
            f"{base}/password", form(runtime, reset_password, destructive=True), methods=["POST"]
        ),
        Route(f"{base}/suspension", form(runtime, suspend), methods=["POST"]),
        Route(f"{base}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
        Route(f"{base}/identities/{{target}}/delete", form(runtime, unlink), methods=["POST"]),
        Route(f"{base}/roles", form(runtime, assign_roles), methods=["POST"]),
        Route(f"{base}/roles/{{role}}/delete", form(runtime, remove_role), methods=["POST"]),
        # Weakening someone's two-step verification: password asked again.
        Route(f"{base}/mfa/reset", form(runtime, reset_mfa, destructive=True), methods=["POST"]),
        Route(
            f"{base}/mfa/choices", form(runtime, update_choices, destructive=True), methods=["POST"]
        ),
        Route(
            f"{base}/mfa/{{factor}}/delete",
            form(runtime, remove_factor, destructive=True),
            methods=["POST"],
        ),
    ]
