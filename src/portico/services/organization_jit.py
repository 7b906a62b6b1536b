"""Just-in-time organization provisioning (Logto's organization JIT): an organization lists
email domains, enterprise SSO connectors and default organization roles; a user whose
verified email has one of those domains, or who signs in through one of those connectors
for the first time, joins it, with those roles.

Verified: in Portico a user's primary email is always one the user proved (a code sent to
it, or a social provider that marks it verified: connectors drop unverified addresses) or
one an administrator set through the Management API (trusted, as Logto trusts it). So the
rule reads the stored primary email, and an address nobody proved never reaches it.

When: Logto provisions at account creation through the sign-in experience (not through the
Management API's ``POST /users``, which its own tests pin). Portico also provisions at every
sign-in (issue 33): a user of the domain who is not a member yet joins, including one whose
email was added at profile fulfilment. An existing member is left as they are: the roles an
administrator changed are not put back at the next sign-in.

Writes take the caller's connection, so the memberships commit with the account or sign-in.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.services import emails, webhook_events
from portico.services import organizations as orgs
from portico.services.errors import NotFound, ServiceError
from portico.storage import organization_jit as repo
from portico.storage import organizations as orgs_repo

MAX_DOMAIN_LENGTH = 128  # organization_jit_email_domains.email_domain is varchar(128)
# One DNS label: letters (any script, for internationalised domains), digits and inner hyphens.
_LABEL = re.compile(r"^[^\W_](?:[^\W_]|-){0,62}(?<!-)$")


def email_domain(raw: str) -> str:
    """The stored form of a domain, the one :func:`emails.canonical` gives an address's
    domain (lower case, Unicode labels), so a domain typed as ``ACME.com`` matches
    ``bob@acme.com``. ValueError when it is not a domain of two or more labels."""
    raw = raw.strip()
    address = None if "@" in raw else emails.canonical(f"x@{raw}")
    domain = address.rpartition("@")[2] if address else ""
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("must be a domain such as example.com")
    if len(domain) > MAX_DOMAIN_LENGTH:
        raise ValueError(f"must be at most {MAX_DOMAIN_LENGTH} characters")
    return domain


def _missing_relation() -> ServiceError:
    """Logto's answer when an organization or organization role named does not exist."""
    return ServiceError(
        "Cannot find one or more foreign keys. Please check the input and ensure that all "
        "referenced entities exist.",
        code="entity.relation_foreign_key_not_found",
        status=422,
    )


def _not_found() -> ServiceError:
    return ServiceError("The resource does not exist.", code="entity.not_found", status=404)


async def _require_organization(conn: AsyncConnection, tenant_id: str, org_id: str) -> None:
    if await orgs_repo.get(conn, "organizations", tenant_id, org_id) is None:
        raise _missing_relation()


# Email domains ------------------------------------------------------------------------------
async def email_domains(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """An unknown organization has none (Logto answers ``[]`` too)."""
    return await repo.email_domains(conn, tenant_id, org_id, offset=offset, limit=limit)


async def add_email_domain(
    conn: AsyncConnection, tenant_id: str, org_id: str, domain: str
) -> dict[str, Any]:
    """422 ``entity.unique_integrity_violation`` when the organization already has it."""
    await _replace_or_add(conn, tenant_id, org_id, [domain], replace=False)
    return {"tenant_id": tenant_id, "organization_id": org_id, "email_domain": domain}


async def replace_email_domains(
    conn: AsyncConnection, tenant_id: str, org_id: str, domains: list[str]
) -> None:
    """Exactly these domains; one named twice is refused as Logto refuses it."""
    await _replace_or_add(conn, tenant_id, org_id, domains, replace=True)


async def _replace_or_add(
    conn: AsyncConnection, tenant_id: str, org_id: str, domains: list[str], *, replace: bool
) -> None:
    await _require_organization(conn, tenant_id, org_id)
    try:
        async with conn.begin_nested():
            if replace:
                await repo.delete_email_domains(conn, tenant_id, org_id)
            await repo.add_email_domains(conn, tenant_id, org_id, domains)
    except IntegrityError:  # already there, named twice, or a parallel request added it
        raise ServiceError(
            "The entity already exists. Please check the input and try again.",
            code="entity.unique_integrity_violation",
            status=422,
        ) from None


async def remove_email_domain(
    conn: AsyncConnection, tenant_id: str, org_id: str, domain: str
) -> None:
    """404 ``entity.not_found`` when the organization does not have it."""
    if not await repo.delete_email_domains(conn, tenant_id, org_id, [domain]):
        raise _not_found()


# Default roles ------------------------------------------------------------------------------
async def roles(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """404 ``entity.not_exists_with_id`` for an unknown organization."""
    if await orgs_repo.get(conn, "organizations", tenant_id, org_id) is None:
        raise NotFound("organization", org_id)
    return await repo.roles(conn, org_id, offset=offset, limit=limit)


async def add_roles(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    role_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    """Add default roles (those already there stay); ``replace``: exactly these. 422
    ``entity.relation_foreign_key_not_found`` when the organization or a role is unknown."""
    await _require_organization(conn, tenant_id, org_id)
    wanted = list(dict.fromkeys(role_ids))
    if set(wanted) - await orgs_repo.existing_ids(conn, "organization_roles", tenant_id, wanted):
        raise _missing_relation()
    await orgs.require_role_type(conn, tenant_id, wanted, orgs.ROLE_USER)  # users get them
    if replace:
        await repo.delete_roles(conn, tenant_id, org_id)
    await repo.add_roles(conn, tenant_id, org_id, wanted)


async def remove_role(conn: AsyncConnection, tenant_id: str, org_id: str, role_id: str) -> None:
    """404 ``entity.not_found`` when it is not one of the organization's default roles."""
    if not await repo.delete_roles(conn, tenant_id, org_id, [role_id]):
        raise _not_found()


# Provisioning -------------------------------------------------------------------------------
async def provision(conn: AsyncConnection, tenant_id: str, user_id: str) -> list[str]:
    """Make the user a member of every organization whose JIT domains hold their primary
    email's domain and which they have not joined yet, with its default roles; the ids of
    the organizations joined. Idempotent, and safe against a parallel sign-in (the inserts
    skip rows already there)."""
    pending = await repo.pending_organizations(conn, tenant_id, user_id)
    for org_id, role_ids in pending.items():
        await orgs_repo.add_members(conn, tenant_id, org_id, [user_id])
        await orgs_repo.assign_member_roles(conn, tenant_id, org_id, user_id, role_ids)
        await webhook_events.emit_membership(conn, tenant_id, org_id, added_users=[user_id])
    return sorted(pending)


# SSO connectors -----------------------------------------------------------------------------
async def sso_connectors(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """The connectors whose users join the organization (none for an unknown one)."""
    return await repo.sso_connectors_of(conn, tenant_id, org_id, offset=offset, limit=limit)


async def add_sso_connectors(
    conn: AsyncConnection,
    tenant_id: str,
    org_id: str,
    connector_ids: list[str],
    *,
    replace: bool = False,
) -> None:
    """Add connectors (those already there stay); ``replace``: exactly these. 422
    ``entity.relation_foreign_key_not_found`` when the organization or a connector is
    unknown."""
    await _require_organization(conn, tenant_id, org_id)
    wanted = list(dict.fromkeys(connector_ids))
    if set(wanted) - await repo.existing_sso_connectors(conn, tenant_id, wanted):
        raise _missing_relation()
    if replace:
        await repo.delete_sso_connectors(conn, tenant_id, org_id)
    await repo.add_sso_connectors(conn, tenant_id, org_id, wanted)


async def remove_sso_connector(
    conn: AsyncConnection, tenant_id: str, org_id: str, connector_id: str
) -> None:
    """404 ``entity.not_found`` when it is not one of the organization's connectors."""
    if not await repo.delete_sso_connectors(conn, tenant_id, org_id, [connector_id]):
        raise _not_found()


async def provision_sso(
    conn: AsyncConnection, tenant_id: str, user_id: str, connector_id: str
) -> list[str]:
    """Make the user a member of every organization that provisions ``connector_id``'s
    users, with its default roles (called when the user's identity there is first stored,
    as Logto does); the ids of the organizations joined."""
    pending = await repo.pending_by_sso_connector(conn, tenant_id, user_id, connector_id)
    for org_id, role_ids in pending.items():
        await orgs_repo.add_members(conn, tenant_id, org_id, [user_id])
        await orgs_repo.assign_member_roles(conn, tenant_id, org_id, user_id, role_ids)
        await webhook_events.emit_membership(conn, tenant_id, org_id, added_users=[user_id])
    return sorted(pending)
