"""The organization details page and what each of its tabs shows: settings (with the
branding), members, machine-to-machine applications, invitations, just-in-time provisioning.

One renderer for every tab, so a refused form in any of them is answered with the whole page
(its values and error in place, console.js opening the tab holding the error) and the handler
modules (``organizations``, ``organization_apps``, ``organization_invitations``,
``organization_jit``) share it without importing each other. Candidates to add (users,
applications) are searched on the server and at most ``PICK_LIMIT`` offered."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from portico.services import organization_invitations as invitations
from portico.services import organization_jit as jit
from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.storage import applications as app_repo
from portico.storage import organizations as org_repo
from portico.storage import search as search_sql
from portico.storage import users as user_repo
from portico.storage.database import now_ms
from portico.web.console.context import Console
from portico.web.console.paging import page_count, page_number

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

SECTION = "organizations"
KIND = "organizations"
PAGE_SIZE = 20
PICK_LIMIT = 100  # users or applications offered in an "add" list
MAX_IDS = 100  # ids one form may carry, as /api's bodies allow
ROLE_LIMIT = 500  # organization roles one picker lists (a template is small)
# /api's limits (``CreateOrganization``); the form's fields say the same with ``maxlength``.
NAME_MAX, DESCRIPTION_MAX, CUSTOM_DATA_MAX = 128, 256, 65536
# Which tab a GET's query belongs to (its search box): that tab opens first.
_TAB_OF_QUERY = {"find": "org-members", "page": "org-members", "find_app": "org-apps"}


def search_of(term: str) -> search_sql.Search | None:
    """A search box as Logto's console sends it: ``search=%term%``."""
    term = term.strip()
    return search_sql.parse([("search", f"%{term}%")]) if term else None


def gone(error: ServiceError) -> bool:
    """Whether the organization itself is unknown (the console's 404 page, not a form error)."""
    return error.status == 404 and error.message.startswith("The organization with ID")


def ids(ctx: Console, name: str) -> list[str]:
    """The ids a form posts under ``name``, bounded as /api bounds them."""
    return [value[:128] for value in ctx.values(name)][:MAX_IDS]


def user_label(user: dict[str, Any]) -> str:
    """How a user is offered in a picker: a name and the id (names repeat)."""
    shown = user.get("name") or user.get("username") or user.get("primary_email")
    return f"{shown or user.get('primary_phone') or user['id']} ({user['id']})"


def _choices(roles: list[dict[str, Any]], held: set[str] | None = None) -> list[Any]:
    """Picker groups of ``roles`` not in ``held``."""
    return [(None, [(r["id"], r["name"]) for r in roles if r["id"] not in (held or set())])]


async def _roles_of_type(ctx: Console, conn: AsyncConnection, kind: str) -> list[dict[str, Any]]:
    _, roles = await org_repo.find(conn, "organization_roles", ctx.tenant, limit=ROLE_LIMIT)
    return [r for r in roles if r["type"] == kind]


# Tabs --------------------------------------------------------------------------------------
async def _members(ctx: Console, conn: AsyncConnection, org_id: str) -> dict[str, Any]:
    """This page of members with their roles, and the users ``?find=`` offers to add."""
    find = ctx.request.query_params.get("find", "").strip()[:128]
    number = page_number(ctx)
    total, members = await user_repo.find_users(
        conn, ctx.tenant, organization_id=org_id, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    held = await org_repo.member_roles_of(conn, org_id, [m["id"] for m in members])
    _, candidates = await user_repo.find_users(
        conn, ctx.tenant, exclude_organization_id=org_id, search=search_of(find), limit=PICK_LIMIT
    )
    roles = await _roles_of_type(ctx, conn, orgs.ROLE_USER)  # users hold User roles only
    listed = [
        {
            **m,
            "roles": held[m["id"]],
            "role_groups": _choices(roles, {r["id"] for r in held[m["id"]]}),
        }
        for m in members
    ]
    return {
        "members": listed,
        "member_total": total,
        "page": number,
        "pages": page_count(total, PAGE_SIZE),
        "find": find,
        "candidates": candidates,
        "candidate_groups": [(None, [(c["id"], user_label(c)) for c in candidates])],
        "all_role_groups": _choices(roles),
        "user_roles": roles,
    }


async def _apps(ctx: Console, conn: AsyncConnection, org_id: str) -> dict[str, Any]:
    """The member applications with their roles, and the machine-to-machine applications
    ``?find_app=`` offers (members left out of what the search found)."""
    find = ctx.request.query_params.get("find_app", "").strip()[:128]
    _, members = await org_repo.find_app_members(conn, ctx.tenant, org_id, limit=ROLE_LIMIT)
    held = await org_repo.held_roles_of(
        conn, org_repo.APPLICATIONS, org_id, [a["id"] for a in members]
    )
    _, found = await app_repo.find_applications(
        conn, ctx.tenant, types=["MachineToMachine"], search=search_of(find), limit=PICK_LIMIT
    )
    present = await org_repo.app_member_ids(conn, org_id, [a["id"] for a in found])
    roles = await _roles_of_type(ctx, conn, orgs.ROLE_MACHINE_TO_MACHINE)
    listed = [
        {
            **a,
            "roles": held[a["id"]],
            "role_groups": _choices(roles, {r["id"] for r in held[a["id"]]}),
        }
        for a in members
    ]
    candidates = [a for a in found if a["id"] not in present]
    return {
        "apps": listed,
        "find_app": find,
        "app_candidates": [(None, [(a["id"], f"{a['name']} ({a['id']})") for a in candidates])],
        "app_role_groups": _choices(roles),
    }


async def _invitations(ctx: Console, conn: AsyncConnection, org_id: str) -> dict[str, Any]:
    rows = await invitations.list_invitations(conn, ctx.tenant, organization_id=org_id)
    return {"invitations": rows, "pending": invitations.PENDING}


async def _jit(
    ctx: Console, conn: AsyncConnection, org_id: str, roles: list[Any]
) -> dict[str, Any]:
    _, domains = await jit.email_domains(conn, ctx.tenant, org_id)
    _, defaults = await jit.roles(conn, ctx.tenant, org_id)
    return {
        "jit_domains": [d["email_domain"] for d in domains],
        "jit_roles": defaults,
        "jit_role_groups": _choices(roles, {r["id"] for r in defaults}),
    }


def settings_values(org: dict[str, Any]) -> dict[str, Any]:
    """The settings form's values as stored (colour and branding members may be missing:
    they fall back to the sign-in experience's)."""
    color, branding = org.get("color") or {}, org.get("branding") or {}
    return {
        "name": org["name"],
        "description": org.get("description") or "",
        "custom_data": json.dumps(org.get("custom_data") or {}, indent=2, ensure_ascii=False),
        "is_mfa_required": bool(org["is_mfa_required"]),
        "is_trusted_device_allowed": bool(org.get("is_trusted_device_allowed", True)),
        "primary_color": color.get("primaryColor") or "",
        "dark_primary_color": color.get("darkPrimaryColor") or "",
        "dark_mode": bool(color.get("isDarkModeEnabled")),
        "logo_url": branding.get("logoUrl") or "",
        "dark_logo_url": branding.get("darkLogoUrl") or "",
        "favicon": branding.get("favicon") or "",
        "dark_favicon": branding.get("darkFavicon") or "",
        "custom_css": org.get("custom_css") or "",
    }


def _default_tab(ctx: Console, values: dict[str, Any]) -> str | None:
    if values.get("tab"):
        return str(values["tab"])
    return next(
        (tab for key, tab in _TAB_OF_QUERY.items() if key in ctx.request.query_params), None
    )


async def render(ctx: Console, org_id: str, status: int = 200, **values: Any) -> Response:
    """The page with every tab; ``values``: ``errors`` (by field or tab), the settings form's
    ``values`` as typed, what a refused form had (``invite``...), and ``tab`` to open."""
    async with ctx.read() as conn:
        org = await orgs.get(conn, KIND, ctx.tenant, org_id)
        members = await _members(ctx, conn, org_id)
        apps = await _apps(ctx, conn, org_id)
        invited = await _invitations(ctx, conn, org_id)
        provisioning = await _jit(ctx, conn, org_id, members["user_roles"])
    shown = values.pop("values", None) or settings_values(org)
    return await ctx.render(
        "organization.html",
        status=status,
        section=SECTION,
        org=org,
        values=shown,
        default_tab=_default_tab(ctx, values),
        errors=values.pop("errors", {}),
        now_ms=now_ms(),
        **members,
        **apps,
        **invited,
        **provisioning,
        **{k: v for k, v in values.items() if k != "tab"},
    )
