"""Organizations of the ``default`` tenant: search and pages, creation, the details page's
settings (custom data, the "MFA required" and trusted-device switches, the branding: logos,
favicons, colours, custom CSS) and members with their organization roles, deletion with the
name typed again. The other tabs: ``organization_apps``, ``organization_invitations``,
``organization_jit``; the page itself: ``organization_details``.

Each change writes the audit entry ``/api/organizations`` writes for it. Members are found
on the server (``?find=``), as the role page finds its users: an organization's page never
lists every user of the tenant. Colours and URLs are checked by the rules /api's body uses
(``HEX_COLOR``, ``urls.check_public_url``); a refused form saves nothing."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.services.sign_in_experience import HEX_COLOR
from portico.services.urls import check_public_url
from portico.storage import organizations as org_repo
from portico.web.console.context import Console, form, page
from portico.web.console.organization_details import (
    CUSTOM_DATA_MAX,
    DESCRIPTION_MAX,
    KIND,
    NAME_MAX,
    PAGE_SIZE,
    SECTION,
    gone,
    ids,
    render,
    search_of,
)
from portico.web.console.paging import page_count, page_number
from portico.web.runtime import Runtime

CUSTOM_CSS_MAX = 65536  # /api's ``customCss`` limit
_COLORS = (("primary_color", "primaryColor"), ("dark_primary_color", "darkPrimaryColor"))
_LOGOS = (("logo_url", "logoUrl"), ("dark_logo_url", "darkLogoUrl"), ("favicon", "favicon"),
          ("dark_favicon", "darkFavicon"))  # fmt: skip


async def _list(ctx: Console) -> Response:
    term = ctx.request.query_params.get("search", "")[:128]
    number = page_number(ctx)
    async with ctx.read() as conn:
        total, rows = await org_repo.find(
            conn,
            KIND,
            ctx.tenant,
            search=search_of(term),
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    return await ctx.render(
        "organizations.html",
        section=SECTION,
        organizations=rows,
        total=total,
        search=term,
        page=number,
        pages=page_count(total, PAGE_SIZE),
    )


async def index(ctx: Console) -> Response:
    return await _list(ctx)


async def _new(ctx: Console, status: int = 200, **values: Any) -> Response:
    """The create form on a page of its own: where the list's dialog leads without
    console.js, and where a refused creation is answered."""
    return await ctx.render("organization_new.html", status=status, section=SECTION, **values)


async def new(ctx: Console) -> Response:
    return await _new(ctx)


def _checked_text(ctx: Console, name: str, description: str) -> dict[str, str]:
    """The field errors /api's body model gives for the same values, in the admin's words."""
    errors = {}
    if not name:
        errors["name"] = ctx.t("organization.name_required")
    elif len(name) > NAME_MAX:
        errors["name"] = ctx.t("organization.too_long", count=NAME_MAX)
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = ctx.t("organization.too_long", count=DESCRIPTION_MAX)
    return errors


async def create(ctx: Console) -> Response:
    name = ctx.field("name", NAME_MAX + 1).strip()
    description = ctx.field("description", DESCRIPTION_MAX + 1).strip()
    errors = _checked_text(ctx, name, description)
    if errors:
        new = {"name": name, "description": description}
        return await _new(ctx, 400, errors=errors, new=new)
    async with ctx.write() as conn:
        org = await orgs.create_organization(
            conn, ctx.tenant, name=name, description=description or None
        )
        await ctx.audit(conn, "CreateOrganization", params={"id": org["id"]}, status=201)
    ctx.flash(ctx.t("organizations.created", name=name))
    return await ctx.redirect(f"/console/organizations/{org['id']}")


async def details(ctx: Console) -> Response:
    return await render(ctx, ctx.request.path_params["id"])


def _custom_data(ctx: Console, text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The custom data object, or why the text is not one (nothing is saved then)."""
    if len(text) > CUSTOM_DATA_MAX:
        return None, ctx.t("organization.too_long", count=CUSTOM_DATA_MAX)
    if not text.strip():
        return {}, None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None, ctx.t("organization.custom_data_invalid")
    if not isinstance(parsed, dict):
        return None, ctx.t("organization.custom_data_invalid")
    return parsed, None


def _branding(ctx: Console, errors: dict[str, str]) -> dict[str, Any]:
    """``color``, ``branding`` and ``custom_css`` as /api stores them: only what is filled in
    (the rest falls back to the sign-in experience's), each value checked by /api's rule."""
    color: dict[str, Any] = {}
    for name, key in _COLORS:
        value = ctx.field(name, 16).strip()
        if value and not re.match(HEX_COLOR, value):
            errors[name] = ctx.t("sie.colour_like")
        elif value:
            color[key] = value
    if color or ctx.checked("dark_mode"):
        color["isDarkModeEnabled"] = ctx.checked("dark_mode")
    branding = {}
    for name, key in _LOGOS:
        value = ctx.field(name, 4096).strip()
        try:
            if value:
                branding[key] = check_public_url(value)
        except ValueError:
            errors[name] = ctx.t("organization.url_refused")
    css = ctx.field("custom_css", CUSTOM_CSS_MAX + 1)
    if len(css) > CUSTOM_CSS_MAX:
        errors["custom_css"] = ctx.t("organization.too_long", count=CUSTOM_CSS_MAX)
    return {"color": color, "branding": branding, "custom_css": css.strip() or None}


def _typed(ctx: Console) -> dict[str, Any]:
    """The settings form as typed, to show it again next to its errors."""
    limits = {"name": NAME_MAX, "description": DESCRIPTION_MAX, "custom_data": CUSTOM_DATA_MAX,
              "custom_css": CUSTOM_CSS_MAX}  # fmt: skip
    shown: dict[str, Any] = {name: ctx.field(name, limit + 1) for name, limit in limits.items()}
    for name, _ in (*_COLORS, *_LOGOS):
        shown[name] = ctx.field(name, 4096)
    for name in ("is_mfa_required", "is_trusted_device_allowed", "dark_mode"):
        shown[name] = ctx.checked(name)
    return shown


async def update(ctx: Console) -> Response:
    org_id = ctx.request.path_params["id"]
    name = ctx.field("name", NAME_MAX + 1).strip()
    description = ctx.field("description", DESCRIPTION_MAX + 1).strip()
    errors = _checked_text(ctx, name, description)
    custom_data, problem = _custom_data(ctx, ctx.field("custom_data", CUSTOM_DATA_MAX + 1))
    if problem:
        errors["custom_data"] = problem
    look = _branding(ctx, errors)
    if errors:
        return await render(ctx, org_id, 400, errors=errors, values=_typed(ctx), tab="org-settings")
    changes = {
        "name": name,
        "description": description or None,
        "custom_data": custom_data,
        "is_mfa_required": ctx.checked("is_mfa_required"),
        "is_trusted_device_allowed": ctx.checked("is_trusted_device_allowed"),
        **look,
    }
    async with ctx.write() as conn:
        await orgs.update_organization(conn, ctx.tenant, org_id, changes)
        await ctx.audit(conn, "UpdateOrganization", params={"id": org_id}, status=200)
    ctx.flash(ctx.t("organization.saved"))
    return await ctx.redirect(f"/console/organizations/{org_id}")


async def delete(ctx: Console) -> Response:
    """Only with the organization's name typed again: its members lose their membership and
    roles in it at once."""
    org_id = ctx.request.path_params["id"]
    async with ctx.read() as conn:
        org = await orgs.get(conn, KIND, ctx.tenant, org_id)
    if not ctx.name_typed(org["name"]):
        refused = ctx.t("organization.delete_refused")
        return await render(ctx, org_id, 400, errors={"confirm_name": refused})
    async with ctx.write() as conn:
        await orgs.delete(conn, KIND, ctx.tenant, org_id)
        await ctx.audit(conn, "DeleteOrganization", params={"id": org_id}, status=204)
    ctx.flash(ctx.t("organization.deleted", name=org["name"]))
    return await ctx.redirect("/console/organizations")


# Members -----------------------------------------------------------------------------------
async def _to_members(ctx: Console, org_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"/console/organizations/{org_id}#org-members")


async def add_members(ctx: Console) -> Response:
    """The users picked join, each with the organization roles picked alongside (as /api:
    one ``AddOrganizationUsers``, then one ``AssignOrganizationUserRoles`` per member)."""
    org_id = ctx.request.path_params["id"]
    user_ids = ids(ctx, "user_id")
    role_ids = ids(ctx, "role_id")
    try:
        if not user_ids:
            raise ServiceError(ctx.t("organization.pick_user"))
        async with ctx.write() as conn:
            await orgs.add_members(conn, ctx.tenant, org_id, user_ids)
            await ctx.audit(conn, "AddOrganizationUsers", params={"id": org_id}, status=201)
            for user_id in user_ids if role_ids else []:
                await orgs.assign_member_roles(conn, ctx.tenant, org_id, user_id, role_ids)
                await ctx.audit(
                    conn, "AssignOrganizationUserRoles", user_id=user_id,
                    params={"id": org_id, "userId": user_id}, status=201,
                )  # fmt: skip
    except ServiceError as error:
        if gone(error):
            raise
        return await render(ctx, org_id, 400, errors={"members": error.message})
    return await _to_members(ctx, org_id, ctx.t("organization.members_added"))


async def remove_member(ctx: Console) -> Response:
    org_id, user_id = ctx.request.path_params["id"], ctx.request.path_params["user"]
    async with ctx.write() as conn:
        await orgs.remove_member(conn, ctx.tenant, org_id, user_id)
        await ctx.audit(
            conn, "DeleteOrganizationUser", user_id=user_id,
            params={"id": org_id, "userId": user_id}, status=204,
        )  # fmt: skip
    return await _to_members(ctx, org_id, ctx.t("organization.member_removed"))


async def assign_roles(ctx: Console) -> Response:
    org_id, user_id = ctx.request.path_params["id"], ctx.request.path_params["user"]
    role_ids = ids(ctx, "role_id")
    try:
        if not role_ids:
            raise ServiceError(ctx.t("user.pick_role"))
        async with ctx.write() as conn:
            await orgs.assign_member_roles(conn, ctx.tenant, org_id, user_id, role_ids)
            await ctx.audit(
                conn, "AssignOrganizationUserRoles", user_id=user_id,
                params={"id": org_id, "userId": user_id}, status=201,
            )  # fmt: skip
    except ServiceError as error:
        if gone(error):
            raise
        return await render(ctx, org_id, 400, errors={"members": error.message})
    return await _to_members(ctx, org_id, ctx.t("user.roles_assigned"))


async def remove_role(ctx: Console) -> Response:
    params = ctx.request.path_params
    org_id, user_id, role_id = params["id"], params["user"], params["role"]
    async with ctx.write() as conn:
        await orgs.remove_member_role(conn, ctx.tenant, org_id, user_id, role_id)
        await ctx.audit(
            conn, "DeleteOrganizationUserRole", user_id=user_id,
            params={"id": org_id, "userId": user_id, "roleId": role_id}, status=204,
        )  # fmt: skip
    return await _to_members(ctx, org_id, ctx.t("user.role_removed"))


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/organizations/{id}"
    member = f"{base}/members/{{user}}"
    return [
        Route("/console/organizations", page(runtime, index), methods=["GET"]),
        Route("/console/organizations", form(runtime, create), methods=["POST"]),
        Route("/console/organizations/new", page(runtime, new), methods=["GET"]),
        Route(base, page(runtime, details), methods=["GET"]),
        Route(base, form(runtime, update), methods=["POST"]),
        Route(f"{base}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
        Route(f"{base}/members", form(runtime, add_members), methods=["POST"]),
        Route(f"{member}/delete", form(runtime, remove_member), methods=["POST"]),
        Route(f"{member}/roles", form(runtime, assign_roles), methods=["POST"]),
        Route(f"{member}/roles/{{role}}/delete", form(runtime, remove_role), methods=["POST"]),
    ]
