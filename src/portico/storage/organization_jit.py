"""SQL for just-in-time provisioning: each organization's email domains and default roles
(``organization_jit_email_domains``, ``organization_jit_roles``), and the one query a sign-in
asks: which organizations should this user join?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import relations
from portico.storage.tables import (
    organization_jit_email_domains,
    organization_jit_roles,
    organization_jit_sso_connectors,
    organization_roles,
    organization_user_relations,
    sso_connectors,
    users,
)

domains = organization_jit_email_domains
jit_sso = organization_jit_sso_connectors
jit_roles = organization_jit_roles
members = organization_user_relations


# Email domains ------------------------------------------------------------------------------
async def email_domains(
    conn: AsyncConnection,
    tenant_id: str,
    organization_id: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, rows)`` by domain; ``limit=None`` returns every row."""
    where = (domains.c.tenant_id == tenant_id, domains.c.organization_id == organization_id)
    query = select(domains).where(*where).order_by(domains.c.email_domain)
    return await relations.page(conn, query, offset=offset, limit=limit)


async def add_email_domains(
    conn: AsyncConnection, tenant_id: str, organization_id: str, email_domains: list[str]
) -> None:
    """A domain the organization already has raises the primary key's IntegrityError."""
    rows = [
        {"tenant_id": tenant_id, "organization_id": organization_id, "email_domain": d}
        for d in email_domains
    ]
    if rows:
        await conn.execute(insert(domains).values(rows))


async def delete_email_domains(
    conn: AsyncConnection,
    tenant_id: str,
    organization_id: str,
    email_domains: list[str] | None = None,
) -> int:
    """``email_domains=None``: all of the organization's domains."""
    fixed = {"tenant_id": tenant_id, "organization_id": organization_id}
    return await relations.unlink(conn, domains, fixed, "email_domain", email_domains)


# Default roles ------------------------------------------------------------------------------
async def roles(
    conn: AsyncConnection,
    organization_id: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, organization role rows)`` by name; ``limit=None`` returns every row."""
    joined = organization_roles.join(
        jit_roles, jit_roles.c.organization_role_id == organization_roles.c.id
    )
    query = (
        select(organization_roles)
        .select_from(joined)
        .where(jit_roles.c.organization_id == organization_id)
        .order_by(organization_roles.c.name, organization_roles.c.id)
    )
    return await relations.page(conn, query, offset=offset, limit=limit)


async def add_roles(
    conn: AsyncConnection, tenant_id: str, organization_id: str, role_ids: list[str]
) -> None:
    """Roles already there are skipped."""
    fixed = {"tenant_id": tenant_id, "organization_id": organization_id}
    await relations.link(conn, jit_roles, fixed, "organization_role_id", role_ids)


async def delete_roles(
    conn: AsyncConnection, tenant_id: str, organization_id: str, role_ids: list[str] | None = None
) -> int:
    """``role_ids=None``: all of the organization's default roles."""
    fixed = {"tenant_id": tenant_id, "organization_id": organization_id}
    return await relations.unlink(conn, jit_roles, fixed, "organization_role_id", role_ids)


# Provisioning -------------------------------------------------------------------------------
def _pending_query(dialect: str) -> Select[tuple[str, str | None]]:
    """The user's organizations-to-join: JIT domains equal to the domain of the user's
    primary email (stored emails hold exactly one ``@`` and are lower case, as domains are),
    minus those the user is a member of, with their default roles. The domain is computed
    from the user row found by primary key, so the domains are found by their index
    (``tenant_id, email_domain``), however many the tenant has."""
    position = func.strpos if dialect == "postgresql" else func.instr  # same meaning
    email = users.c.primary_email
    email_domain = func.substr(email, position(email, "@") + 1)
    not_member = ~exists().where(
        members.c.organization_id == domains.c.organization_id, members.c.user_id == users.c.id
    )
    return (
        select(domains.c.organization_id, jit_roles.c.organization_role_id)
        .select_from(
            users.join(
                domains,
                and_(
                    domains.c.tenant_id == users.c.tenant_id, domains.c.email_domain == email_domain
                ),
            ).outerjoin(jit_roles, jit_roles.c.organization_id == domains.c.organization_id)
        )
        .where(
            users.c.tenant_id == bindparam("tenant_id"),
            users.c.id == bindparam("user_id"),
            not_member,
        )
    )


_PENDING = {dialect: _pending_query(dialect) for dialect in ("sqlite", "postgresql")}


async def pending_organizations(
    conn: AsyncConnection, tenant_id: str, user_id: str
) -> dict[str, list[str]]:
    """Organization id -> its default role ids, for each organization whose JIT domains
    hold the domain of the user's primary email and which the user is not a member of. One
    statement of index lookups: what a sign-in pays when the tenant has no JIT domains."""
    query = _PENDING[conn.dialect.name]
    pending: dict[str, list[str]] = {}
    for row in await conn.execute(query, {"tenant_id": tenant_id, "user_id": user_id}):
        held = pending.setdefault(row.organization_id, [])
        if row.organization_role_id is not None:
            held.append(row.organization_role_id)
    return pending


# SSO connectors -----------------------------------------------------------------------------
async def sso_connectors_of(
    conn: AsyncConnection,
    tenant_id: str,
    organization_id: str,
    *,
    offset: int | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total, sso_connectors rows)`` by name; ``limit=None`` returns every row."""
    joined = sso_connectors.join(jit_sso, jit_sso.c.sso_connector_id == sso_connectors.c.id)
    where = (jit_sso.c.tenant_id == tenant_id, jit_sso.c.organization_id == organization_id)
    query = (
        select(sso_connectors)
        .select_from(joined)
        .where(*where)
        .order_by(sso_connectors.c.connector_name, sso_connectors.c.id)
    )
    return await relations.page(conn, query, offset=offset, limit=limit)


async def add_sso_connectors(
    conn: AsyncConnection, tenant_id: str, organization_id: str, connector_ids: list[str]
) -> None:
    """Connectors already there are skipped."""
    fixed = {"tenant_id": tenant_id, "organization_id": organization_id}
    await relations.link(conn, jit_sso, fixed, "sso_connector_id", connector_ids)


async def delete_sso_connectors(
    conn: AsyncConnection,
    tenant_id: str,
    organization_id: str,
    connector_ids: list[str] | None = None,
) -> int:
    """``connector_ids=None``: all of the organization's connectors."""
    fixed = {"tenant_id": tenant_id, "organization_id": organization_id}
    return await relations.unlink(conn, jit_sso, fixed, "sso_connector_id", connector_ids)


async def existing_sso_connectors(
    conn: AsyncConnection, tenant_id: str, connector_ids: list[str]
) -> set[str]:
    query = select(sso_connectors.c.id).where(
        sso_connectors.c.tenant_id == tenant_id, sso_connectors.c.id.in_(connector_ids)
    )
    return {row.id for row in await conn.execute(query)}


async def pending_by_sso_connector(
    conn: AsyncConnection, tenant_id: str, user_id: str, connector_id: str
) -> dict[str, list[str]]:
    """Organization id -> its default role ids, for each organization that provisions the
    users of ``connector_id`` and which the user is not a member of yet."""
    not_member = ~exists().where(
        members.c.organization_id == jit_sso.c.organization_id, members.c.user_id == user_id
    )
    query = (
        select(jit_sso.c.organization_id, jit_roles.c.organization_role_id)
        .select_from(
            jit_sso.outerjoin(jit_roles, jit_roles.c.organization_id == jit_sso.c.organization_id)
        )
        .where(
            jit_sso.c.tenant_id == tenant_id, jit_sso.c.sso_connector_id == connector_id, not_member
        )
    )
    pending: dict[str, list[str]] = {}
    for row in await conn.execute(query):
        held = pending.setdefault(row.organization_id, [])
        if row.organization_role_id is not None:
            held.append(row.organization_role_id)
    return pending
