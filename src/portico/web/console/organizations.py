"""Organizations of the ``default`` tenant: search and pages, creation, the details page
(settings with custom data and the "MFA required" switch, members with their organization
roles), deletion with the name typed again.

Each change writes the audit entry ``/api/organizations`` writes for it. Members are found
on the server (``?find=``), as the role page finds its users: an organization's page never
lists every user of the tenant. Invitations, just-in-time provisioning and machine-to-machine
members get their own tabs when their services exist."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.routing import Route

from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.storage import organizations as org_repo
from portico.storage import search as search_sql
from portico.storage import users as user_repo
from portico.web.console.context import Console, form, page
from portico.web.console.paging import page_count, page_number
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

SECTION = "organizations"
KIND = "organizations"
PAGE_SIZE = 20
PICK_LIMIT = 100  # users offered in the "add members" list
MAX_IDS = 100  # ids one form may carry, as /api's bodies allow
# /api's limits (``CreateOrganization``); the form's fields say the same with ``maxlength``.
NAME_MAX, DESCRIPTION_MAX, CUSTOM_DATA_MAX = 128, 256, 65536


def _search(term: str) -> search_sql.Search | None:
    """The search box as Logto's console sends it: ``search=%term%`` (name, id, description)."""
    term = term.strip()
    return search_sql.parse([("search", f"%{term}%")]) if term else None


async def _list(ctx: Console) -> Response:
    term = ctx.request.query_params.get("search", "")[:128]
    number = page_number(ctx)
    async with ctx.read() as conn:
        total, rows = await org_repo.find(
            conn,
            KIND,
            ctx.tenant,
            search=_search(term),
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


def _gone(error: ServiceError) -> bool:
    """Whether the organization itself is unknown (the console's 404 page, not a form error)."""
    return error.status == 404 and error.message.startswith("The organization with ID")


def user_label(user: dict[str, Any]) -> str:
    """How a user is offered in the members picker: a name and the id (names repeat)."""
    shown = user.get("name") or user.get("username") or user.get("primary_email")
    return f"{shown or user.get('primary_phone') or user['id']} ({user['id']})"


# Details -----------------------------------------------------------------------------------
async def _members(ctx: Console, conn: AsyncConnection, org_id: str) -> dict[str, Any]:
    """This page of members with their roles, and the users ``?find=`` offers to add."""
    find = ctx.request.query_params.get("find", "").strip()[:128]
    number = page_number(ctx)
    total, members = await user_repo.find_users(
        conn, ctx.tenant, organization_id=org_id, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    held = await org_repo.member_roles_of(conn, org_id, [m["id"] for m in members])
    _, candidates = await user_repo.find_users(
        conn, ctx.tenant, exclude_organization_id=org_id, search=_search(find), limit=PICK_LIMIT
    )
    _, roles = await org_repo.find(conn, "organization_roles", ctx.tenant, limit=500)
    listed = []
    for member in members:
        own = {r["id"] for r in held[member["id"]]}
        offered = [(r["id"], r["name"]) for r in roles if r["id"] not in own]
        listed.append({**member, "roles": held[member["id"]], "role_groups": [(None, offered)]})
    return {
        "members": listed,
        "member_total": total,
        "page": number,
        "pages": page_count(total, PAGE_SIZE),
        "find": find,
        "candidates": candidates,
        "candidate_groups": [(None, [(c["id"], user_label(c)) for c in candidates])],
        "all_role_groups": [(None, [(r["id"], r["name"]) for r in roles])],
    }


def _settings_values(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": org["name"],
        "description": org.get("description") or "",
        "custom_data": json.dumps(org.get("custom_data") or {}, indent=2, ensure_ascii=False),
        "is_mfa_required": bool(org["is_mfa_required"]),
    }


async def _details(ctx: Console, org_id: str, status: int = 200, **values: Any) -> Response:
    async with ctx.read() as conn:
        org = await orgs.get(conn, KIND, ctx.tenant, org_id)
        members = await _members(ctx, conn, org_id)
    shown = values.pop("values", None) or _settings_values(org)
    on_members = any(k in ctx.request.query_params for k in ("find", "page"))
    return await ctx.render(
        "organization.html",
        status=status,
        section=SECTION,
        org=org,
        values=shown,
        default_tab="org-members" if on_members else None,
        errors=values.pop("errors", {}),
        **members,
        **values,
    )


async def details(ctx: Console) -> Response:
    return await _details(ctx, ctx.request.path_params["id"])


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


async def update(ctx: Console) -> Response:
    org_id = ctx.request.path_params["id"]
    name = ctx.field("name", NAME_MAX + 1).strip()
    description = ctx.field("description", DESCRIPTION_MAX + 1).strip()
    text = ctx.field("custom_data", CUSTOM_DATA_MAX + 1)
    mfa_required = ctx.checked("is_mfa_required")
    errors = _checked_text(ctx, name, description)
    custom_data, problem = _custom_data(ctx, text)
    if problem:
        errors["custom_data"] = problem
    if errors:
        shown = {"name": name, "description": description, "custom_data": text,
                 "is_mfa_required": mfa_required}  # fmt: skip
        return await _details(ctx, org_id, 400, errors=errors, values=shown)
    changes = {
        "name": name,
        "description": description or None,
        "custom_data": custom_data,
        "is_mfa_required": mfa_required,
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
        return await _details(ctx, org_id, 400, errors={"confirm_name": refused})
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
    user_ids = [u[:128] for u in ctx.values("user_id")][:MAX_IDS]
    role_ids = [r[:128] for r in ctx.values("role_id")][:MAX_IDS]
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
        if _gone(error):
            raise
        return await _details(ctx, org_id, 400, errors={"members": error.message})
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
    role_ids = [r[:128] for r in ctx.values("role_id")][:MAX_IDS]
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
        if _gone(error):
            raise
        return await _details(ctx, org_id, 400, errors={"members": error.message})
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
