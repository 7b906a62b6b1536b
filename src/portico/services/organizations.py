"""Organizations (Logto's RFC 0001): organizations and their members, one template of
organization roles and scopes shared by all of them, and what a member may carry in tokens.

Logto's rules kept here: organization role and scope names are unique per tenant, scope names
contain no whitespace (they travel in a ``scope`` string), roles are assigned to members only,
and a third-party application sees only the organizations the user granted it on the consent
page. Writes take the caller's connection so that one request is one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id
from portico.services import users as user_service
from portico.services import webhook_events
from portico.services.errors import NotFound, ServiceError
from portico.services.sign_in_experience import Branding, Color, SignInExperience
from portico.storage import applications as app_repo
from portico.storage import mfa as mfa_repo
from portico.storage import organizations as repo
from portico.storage.database import now_ms

ROLE_USER = "User"
ROLE_MACHINE_TO_MACHINE = "MachineToMachine"
SCOPE_ORGANIZATIONS = "urn:logto:scope:organizations"
SCOPE_ORGANIZATION_ROLES = "urn:logto:scope:organization_roles"
TOKEN_AUDIENCE_PREFIX = "urn:logto:organization:"
_WHITESPACE = re.compile(r"\s")
_ENTITY = {
    "organizations": "organization",
    "organization_roles": "organization role",
    "organization_scopes": "organization scope",
}


class InvalidOrganization(ServiceError):
    """An organization, organization role or scope value is unacceptable."""


async def get(conn: AsyncConnection, kind: str, tenant_id: str, row_id: str) -> dict[str, Any]:
    """An organization, organization role or organization scope; 404 when unknown."""
    row = await repo.get(conn, kind, tenant_id, row_id)
    if row is None:
        raise NotFound(_ENTITY[kind], row_id)
    return row


async def _checked_ids(
    conn: AsyncConnection, kind: str, tenant_id: str, ids: list[str]
) -> list[str]:
    unique = list(dict.fromkeys(ids))
    missing = set(unique) - await repo.existing_ids(conn, kind, tenant_id, unique)
    if missing:
        raise NotFound(_ENTITY[kind], sorted(missing)[0])
    return unique


def _name_taken(kind: str, name: str) -> InvalidOrganization:
    return InvalidOrganization(
        f"The {_ENTITY[kind]} name {name!r} is already in use.",
        code="entity.unique_integrity_violation",
        status=422,
    )


async def _insert_named(conn: AsyncConnection, kind: str, row: dict[str, Any]) -> None:
    """Insert a role or scope whose name must be free; a parallel insert of the same name
    is caught by the unique constraint and reported the same way."""
    if kind != "organizations" and await repo.get_by_name(
        conn, kind, row["tenant_id"], row["name"]
    ):
        raise _name_taken(kind, row["name"])
    try:
        async with conn.begin_nested():
            await repo.insert_row(conn, kind, row)
    except IntegrityError:
        raise _name_taken(kind, row["name"]) from None


async def _update_named(
    conn: AsyncConnection, kind: str, tenant_id: str, row_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    row = await get(conn, kind, tenant_id, row_id)
    name = changes.get("name")
    renamed = kind != "organizations" and name and name != row["name"]
    if renamed and await repo.get_by_name(conn, kind, tenant_id, str(name)):
        raise _name_taken(kind, str(name))
    if changes:
        try:
            async with conn.begin_nested():
                await repo.update_row(conn, kind, tenant_id, row_id, changes)
        except IntegrityError:
            raise _name_taken(kind, name or row["name"]) from None
    return {**row, **changes}


async def delete(conn: AsyncConnection, kind: str, tenant_id: str, row_id: str) -> None:
    """Memberships, role assignments and consents go with it (foreign keys cascade)."""
    if not await repo.delete_row(conn, kind, tenant_id, row_id):
        raise NotFound(_ENTITY[kind], row_id)


# Organizations -----------------------------------------------------------------------------
async def create_organization(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    name: str,
    description: str | None = None,
    custom_data: dict[str, Any] | None = None,
    is_mfa_required: bool = False,
    is_trusted_device_allowed: bool = True,
    color: dict[str, Any] | None = None,
    branding: dict[str, Any] | None = None,
    custom_css: str | None = None,
) -> dict[str, Any]:
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "name": name,
        "description": description,
        "custom_data": custom_data or {},
        "is_mfa_required": is_mfa_required,
        "is_trusted_device_allowed": is_trusted_device_allowed,
        "color": color or {},
        "branding": branding or {},
        "custom_css": custom_css,
        "created_at": now_ms(),
    }
    await repo.insert_row(conn, "organizations", row)
    return row


async def update_organization(
    conn: AsyncConnection, tenant_id: str, org_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """``changes``: ``name``, ``description``, ``custom_data``, ``color``, ``branding`` (each
    replaced whole), ``custom_css``, ``is_mfa_required``, ``is_trusted_device_allowed``."""
    return await _update_named(conn, "organizations", tenant_id, org_id, changes)


# Members -----------------------------------------------------------------------------------
async def add_members(
    conn: AsyncConnection, tenant_id: str, org_id: str, user_ids: list[str]
) -> None:
    """Existing members are left as they are (adding is idempotent, as in Logto)."""
    await get(conn, "organizations", tenant_id, org_id)
    wanted = await _checked_users(conn, tenant_id, user_ids)
    present = await repo.member_ids(conn, org_id, wanted)
    added = [u for u in wanted if u not in present]
    await repo.add_members(conn, tenant_id, org_id, added)
    await webhook_events.emit_membership(conn, tenant_id, org_id, added_users=added)


async def replace_members(
    conn: AsyncConnection, tenant_id: str, org_id: str, user_ids: list[str]
) -> None:
    await get(conn, "organizations", tenant_id, org_id)
    wanted = await _checked_users(conn, tenant_id, user_ids)
    present = await repo.member_ids(conn, org_id)
    removed, added = sorted(present - set(wanted)), [u for u in wanted if u not in present]
    await repo.remove_members(conn, org_id, removed)
    await repo.add_members(conn, tenant_id, org_id, added)
    await webhook_events.emit_membership(
        conn, tenant_id, org_id, added_users=added, removed_users=removed
    )


async def remove_member(conn: AsyncConnection, tenant_id: str, org_id: str, user_id: str) -> None:
    await get(conn, "organizations", tenant_id, org_id)
    if not await repo.remove_members(conn, org_id, [user_id]):
        raise _not_member(user_id)
    await webhook_events.emit_membership(conn, tenant_id, org_id, removed_users=[user_id])


async def _checked_users(conn: AsyncConnection, tenant_id: str, user_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(user_ids))
    for user_id in unique:
        await user_service.get_user(conn, tenant_id, user_id)
    return unique


def _not_member(user_id: str) -> ServiceError:
    return ServiceError(
        f"The user `{user_id}` is not a member of the organization.",
        code="organization.require_membership",
        status=422,
    )


async def _member(conn: AsyncConnection, tenant_id: str, org_id: str, user_id: str) -> None:
    await get(conn, "organizations", tenant_id, org_id)
    if not await repo.is_member(conn, org_id, user_id):
        raise _not_member(user_id)


async def member_roles(
    conn: AsyncConnection, tenant_id: str, org_id: str, user_id: str
) -> list[dict[str, Any]]:
    await _member(conn, tenant_id, org_id, user_id)
    ids = await repo.member_role_ids(conn, org_id, user_id)
    roles = [await get(conn, "organization_roles", tenant_id, r) for r in ids]
    return sorted(roles, key=lambda r: (r["name"], r["id"]))


async def assign_member_roles(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    user_id: str,
    role_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    """Give roles to a member (roles already held are kept); ``replace``: exactly these."""
    await _member(conn, tenant_id, org_id, user_id)
    wanted = await _checked_ids(conn, "organization_roles", tenant_id, role_ids)
    await require_role_type(conn, tenant_id, wanted, ROLE_USER)
    held = await repo.member_role_ids(conn, org_id, user_id)
    if replace:
        await repo.unassign_member_roles(conn, org_id, user_id, sorted(held - set(wanted)))
    await repo.assign_member_roles(
        conn, tenant_id, org_id, user_id, [r for r in wanted if r not in held]
    )


async def remove_member_role(
    conn: AsyncConnection, tenant_id: str, org_id: str, user_id: str, role_id: str
) -> None:
    await _member(conn, tenant_id, org_id, user_id)
    if not await repo.unassign_member_roles(conn, org_id, user_id, [role_id]):
        raise NotFound("organization role", role_id)


async def user_organizations(
    conn: AsyncConnection, tenant_id: str, user_id: str
) -> list[dict[str, Any]]:
    """``/api/users/:id/organizations``: each organization with the user's roles in it."""
    await user_service.get_user(conn, tenant_id, user_id)
    _, rows = await repo.find(conn, "organizations", tenant_id, user_id=user_id)
    out = []
    for row in rows:
        roles = await repo.member_roles_of(conn, row["id"], [user_id])
        out.append({**row, "organization_roles": roles[user_id]})
    return out


async def require_role_type(
    conn: AsyncConnection, tenant_id: str, role_ids: list[str], kind: str
) -> None:
    """Users hold ``User`` organization roles, applications ``MachineToMachine`` ones (the
    check constraint of Logto's schema, answered with its code): the one check behind role
    assignments, invitations and JIT default roles."""
    for role_id in role_ids:
        role = await get(conn, "organization_roles", tenant_id, role_id)
        if role["type"] != kind:
            raise ServiceError(
                f"The organization role {role['name']!r} is a {role['type']} role; "
                f"only {kind} roles can be assigned here.",
                code="entity.db_constraint_violated",
                status=422,
            )


# Applications as members (machine-to-machine) ------------------------------------------------
def _relation_missing(what: str, value: str) -> ServiceError:
    return ServiceError(
        f"The {what} `{value}` does not exist.",
        code="entity.relation_foreign_key_not_found",
        status=422,
    )


async def _checked_m2m_apps(conn: AsyncConnection, tenant_id: str, app_ids: list[str]) -> list[str]:
    """Only machine-to-machine applications join organizations (Logto's rule)."""
    unique = list(dict.fromkeys(app_ids))
    for app_id in unique:
        app = await app_repo.get_application(conn, tenant_id, app_id)
        if app is None:
            raise _relation_missing("application", app_id)
        if app["type"] != "MachineToMachine":
            raise ServiceError(
                f"The application `{app_id}` is not a machine-to-machine application.",
                code="entity.db_constraint_violated",
                status=422,
            )
    return unique


async def add_app_members(
    conn: AsyncConnection, tenant_id: str, org_id: str, app_ids: list[str]
) -> list[str]:
    """Add machine-to-machine applications (members already are stay as they are); the
    ids actually added."""
    if await repo.get(conn, "organizations", tenant_id, org_id) is None:
        raise _relation_missing("organization", org_id)
    wanted = await _checked_m2m_apps(conn, tenant_id, app_ids)
    present = await repo.app_member_ids(conn, org_id, wanted)
    added = [a for a in wanted if a not in present]
    await repo.add_holders(conn, repo.APPLICATIONS, tenant_id, org_id, added)
    await webhook_events.emit_membership(conn, tenant_id, org_id, added_applications=added)
    return added


async def replace_app_members(
    conn: AsyncConnection, tenant_id: str, org_id: str, app_ids: list[str]
) -> None:
    if await repo.get(conn, "organizations", tenant_id, org_id) is None:
        raise _relation_missing("organization", org_id)
    wanted = await _checked_m2m_apps(conn, tenant_id, app_ids)
    present = await repo.app_member_ids(conn, org_id)
    removed, added = sorted(present - set(wanted)), [a for a in wanted if a not in present]
    await repo.remove_holders(conn, repo.APPLICATIONS, org_id, removed)
    await repo.add_holders(conn, repo.APPLICATIONS, tenant_id, org_id, added)
    await webhook_events.emit_membership(
        conn, tenant_id, org_id, added_applications=added, removed_applications=removed
    )


async def remove_app_member(
    conn: AsyncConnection, tenant_id: str, org_id: str, app_id: str
) -> None:
    if not await repo.remove_holders(conn, repo.APPLICATIONS, org_id, [app_id]):
        raise NotFound("organization application", app_id)
    await webhook_events.emit_membership(conn, tenant_id, org_id, removed_applications=[app_id])


def _app_not_member(app_id: str) -> ServiceError:
    return ServiceError(
        f"The application `{app_id}` is not a member of the organization.",
        code="organization.require_membership",
        status=422,
    )


async def app_roles(
    conn: AsyncConnection, tenant_id: str, org_id: str, app_id: str
) -> list[dict[str, Any]]:
    if not await repo.app_member_ids(conn, org_id, [app_id]):
        raise _app_not_member(app_id)
    ids = await repo.held_role_ids(conn, repo.APPLICATIONS, org_id, app_id)
    roles = [await get(conn, "organization_roles", tenant_id, r) for r in ids]
    return sorted(roles, key=lambda r: (r["name"], r["id"]))


async def assign_app_roles(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    app_ids: list[str],
    role_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    """Give machine-to-machine organization roles to member applications (held ones are
    kept); ``replace``: exactly these (one application)."""
    unique_roles = list(dict.fromkeys(role_ids))
    for role_id in unique_roles:
        if await repo.get(conn, "organization_roles", tenant_id, role_id) is None:
            raise _relation_missing("organization role", role_id)
    await require_role_type(conn, tenant_id, unique_roles, ROLE_MACHINE_TO_MACHINE)
    for app_id in dict.fromkeys(app_ids):
        if not await repo.app_member_ids(conn, org_id, [app_id]):
            raise _app_not_member(app_id)
        held = await repo.held_role_ids(conn, repo.APPLICATIONS, org_id, app_id)
        if replace:
            await repo.unassign_held_roles(
                conn, repo.APPLICATIONS, org_id, app_id, sorted(held - set(unique_roles))
            )
        await repo.assign_held_roles(
            conn,
            repo.APPLICATIONS,
            tenant_id,
            org_id,
            app_id,
            [r for r in unique_roles if r not in held],
        )


async def remove_app_role(
    conn: AsyncConnection, tenant_id: str, org_id: str, app_id: str, role_id: str
) -> None:
    if not await repo.app_member_ids(conn, org_id, [app_id]):
        raise _app_not_member(app_id)
    if not await repo.unassign_held_roles(conn, repo.APPLICATIONS, org_id, app_id, [role_id]):
        raise NotFound("organization role", role_id)


# Roles and scopes --------------------------------------------------------------------------
def _checked_scope_name(name: str) -> str:
    if _WHITESPACE.search(name):
        raise InvalidOrganization("Scope name can not contain space.", code="scope.name_with_space")
    return name


async def create_role(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    name: str,
    description: str | None = None,
    role_type: str = ROLE_USER,
    scope_ids: list[str] | None = None,
    resource_scope_ids: list[str] | None = None,
) -> dict[str, Any]:
    if role_type not in (ROLE_USER, ROLE_MACHINE_TO_MACHINE):
        raise InvalidOrganization(f"Unknown organization role type {role_type!r}.")
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "name": name,
        "description": description,
        "type": role_type,
    }
    await _insert_named(conn, "organization_roles", row)
    if scope_ids:
        await set_role_scopes(conn, tenant_id, row["id"], scope_ids)
    if resource_scope_ids:
        await set_role_resource_scopes(conn, tenant_id, row["id"], resource_scope_ids)
    return row


async def update_role(
    conn: AsyncConnection, tenant_id: str, role_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    return await _update_named(conn, "organization_roles", tenant_id, role_id, changes)


async def set_role_scopes(
    conn: AsyncConnection,
    tenant_id: str,
    role_id: str,
    scope_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    """Grant scopes to a role (granted ones are kept); ``replace``: exactly these."""
    await get(conn, "organization_roles", tenant_id, role_id)
    wanted = await _checked_ids(conn, "organization_scopes", tenant_id, scope_ids)
    held = await repo.role_scope_ids(conn, role_id)
    if replace:
        await repo.unlink_role_scopes(conn, role_id, sorted(held - set(wanted)))
    await repo.link_role_scopes(conn, tenant_id, role_id, [s for s in wanted if s not in held])


async def remove_role_scope(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_id: str
) -> None:
    await get(conn, "organization_roles", tenant_id, role_id)
    if not await repo.unlink_role_scopes(conn, role_id, [scope_id]):
        raise NotFound("organization scope", scope_id)


async def set_role_resource_scopes(
    conn: AsyncConnection,
    tenant_id: str,
    role_id: str,
    scope_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    """Grant API-resource scopes to an organization role (granted ones are kept);
    ``replace``: exactly these. Members then get them in tokens for the organization."""
    await get(conn, "organization_roles", tenant_id, role_id)
    wanted = list(dict.fromkeys(scope_ids))
    missing = set(wanted) - await repo.existing_resource_scope_ids(conn, tenant_id, wanted)
    if missing:
        raise NotFound("scope", sorted(missing)[0])
    held = await repo.role_resource_scope_ids(conn, role_id)
    if replace:
        await repo.unlink_role_resource_scopes(conn, role_id, sorted(held - set(wanted)))
    await repo.link_role_resource_scopes(
        conn, tenant_id, role_id, [s for s in wanted if s not in held]
    )


async def remove_role_resource_scope(
    conn: AsyncConnection, tenant_id: str, role_id: str, scope_id: str
) -> None:
    await get(conn, "organization_roles", tenant_id, role_id)
    if not await repo.unlink_role_resource_scopes(conn, role_id, [scope_id]):
        raise NotFound("scope", scope_id)


async def create_scope(
    conn: AsyncConnection, tenant_id: str, *, name: str, description: str | None = None
) -> dict[str, Any]:
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "name": _checked_scope_name(name),
        "description": description,
    }
    await _insert_named(conn, "organization_scopes", row)
    return row


async def update_scope(
    conn: AsyncConnection, tenant_id: str, scope_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    if "name" in changes:
        _checked_scope_name(changes["name"])
    return await _update_named(conn, "organization_scopes", tenant_id, scope_id, changes)


# Tokens ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claims:
    """What the ``organizations``, ``organization_data`` and ``organization_roles`` claims
    say about one user for one application."""

    organizations: list[dict[str, Any]]
    roles: list[str]


async def claims_for(
    conn: AsyncConnection, user_id: str, *, app_id: str, is_third_party: bool
) -> Claims:
    """A third-party application sees only the organizations the user granted it."""
    only = await repo.consented_ids(conn, app_id, user_id) if is_third_party else None
    organizations = await repo.user_organizations(conn, user_id, only)
    visible = {o["id"] for o in organizations}
    roles = [
        f"{org}:{name}" for org, name in await repo.user_role_pairs(conn, user_id) if org in visible
    ]
    return Claims(organizations, roles)


async def token_refusal(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    user_id: str,
    *,
    app_id: str,
    is_third_party: bool,
) -> str | None:
    """Why ``user_id`` may not have a token for ``org_id`` through this application, or
    None. An organization that requires MFA refuses members who have no factor (Logto's
    rule, whatever the sign-in experience's policy)."""
    org = await repo.get(conn, "organizations", tenant_id, org_id)
    if org is None or not await repo.is_member(conn, org_id, user_id):
        return "user is not a member of the organization"
    if is_third_party and org_id not in await repo.consented_ids(conn, app_id, user_id):
        return "organization access is not granted to the application"
    if org["is_mfa_required"] and not await mfa_repo.list_factors(conn, tenant_id, user_id):
        return "organization requires MFA but user has no MFA configured"
    return None


async def token_scopes(conn: AsyncConnection, org_id: str, user_id: str) -> set[str]:
    """Organization scopes the user's roles in ``org_id`` grant."""
    return await repo.user_scope_names(conn, org_id, user_id)


async def app_token_refusal(
    conn: AsyncConnection, tenant_id: str, org_id: str, app_id: str
) -> str | None:
    """Why a machine-to-machine application may not have a token for ``org_id``, or None."""
    if not await repo.app_member_ids(conn, org_id, [app_id]):
        return "app has not associated with the organization"
    return None


# The hosted pages ----------------------------------------------------------------------------
async def branded_experience(
    conn: AsyncConnection, tenant_id: str, sie: SignInExperience, org_id: str
) -> SignInExperience:
    """The sign-in experience as the pages show it when the authorization request names
    ``organization_id`` (Logto's organization branding): the organization's colours, logos
    and custom CSS over the tenant's, field by field; unchanged for an unknown organization."""
    org = await repo.get(conn, "organizations", tenant_id, org_id)
    if org is None or not (org["color"] or org["branding"] or org["custom_css"]):
        return sie
    color = Color(**{**sie.color.model_dump(), **(org["color"] or {})})
    branding = Branding(**{**sie.branding.model_dump(), **(org["branding"] or {})})
    return sie.model_copy(
        update={
            "color": color,
            "branding": branding,
            "customCss": org["custom_css"] or sie.customCss,
        }
    )
