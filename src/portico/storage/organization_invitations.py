"""SQL for organization invitations (Logto's RFC 0003) and the organization roles they carry.

A Pending invitation whose ``expires_at`` has passed is read as ``Expired`` without being
rewritten (as Logto's queries do): no background job is needed for the status to be right. The
stored status catches up only where it matters, before a new invitation for the same invitee
and organization is inserted (the partial unique index counts stored Pending rows).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage.tables import (
    organization_invitation_role_relations,
    organization_invitations,
    organization_roles,
    organization_user_relations,
    users,
)

PENDING, EXPIRED = "Pending", "Expired"
invitations = organization_invitations
invitation_roles = organization_invitation_role_relations


def _status(now: int) -> Any:
    stale = (invitations.c.status == PENDING) & (invitations.c.expires_at < now)
    return case((stale, literal(EXPIRED)), else_=invitations.c.status).label("status")


async def find(
    conn: AsyncConnection,
    tenant_id: str,
    now: int,
    *,
    invitation_id: str | None = None,
    organization_id: str | None = None,
    inviter_id: str | None = None,
    invitee: str | None = None,
) -> list[dict[str, Any]]:
    """Invitations newest first, their status as of ``now``, each with ``organization_roles``
    (``id``, ``name``, by name). Every filter given must match."""
    columns = [c for c in invitations.c if c.name != "status"]
    conditions = [invitations.c.tenant_id == tenant_id]
    for column, value in (
        (invitations.c.id, invitation_id),
        (invitations.c.organization_id, organization_id),
        (invitations.c.inviter_id, inviter_id),
        (invitations.c.invitee, invitee),
    ):
        if value is not None:
            conditions.append(column == value)
    query = (
        select(*columns, _status(now))
        .where(*conditions)
        .order_by(invitations.c.created_at.desc(), invitations.c.id)
    )
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    roles = await _roles_of(conn, [r["id"] for r in rows])
    return [{**r, "organization_roles": roles[r["id"]]} for r in rows]


async def _roles_of(conn: AsyncConnection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await conn.execute(
        select(
            invitation_roles.c.organization_invitation_id,
            organization_roles.c.id,
            organization_roles.c.name,
        )
        .join(
            organization_roles, organization_roles.c.id == invitation_roles.c.organization_role_id
        )
        .where(invitation_roles.c.organization_invitation_id.in_(ids))
        .order_by(organization_roles.c.name, organization_roles.c.id)
    )
    for row in rows:
        out[row.organization_invitation_id].append({"id": row.id, "name": row.name})
    return out


async def insert_invitation(
    conn: AsyncConnection, row: dict[str, Any], role_ids: list[str]
) -> None:
    await conn.execute(insert(invitations).values(row))
    if role_ids:
        await conn.execute(
            insert(invitation_roles),
            [
                {
                    "tenant_id": row["tenant_id"],
                    "organization_invitation_id": row["id"],
                    "organization_role_id": r,
                }
                for r in role_ids
            ],
        )


def _pending_for(tenant_id: str, organization_id: str, invitee: str) -> list[Any]:
    return [
        invitations.c.tenant_id == tenant_id,
        invitations.c.organization_id == organization_id,
        invitations.c.invitee == invitee,
        invitations.c.status == PENDING,
    ]


async def has_pending(
    conn: AsyncConnection, tenant_id: str, organization_id: str, invitee: str, now: int
) -> bool:
    """Whether an unexpired Pending invitation for ``invitee`` to the organization exists."""
    query = select(invitations.c.id).where(
        *_pending_for(tenant_id, organization_id, invitee), invitations.c.expires_at >= now
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def expire_pending(
    conn: AsyncConnection, tenant_id: str, organization_id: str, invitee: str, now: int
) -> None:
    """Store ``Expired`` on the invitee's lapsed Pending invitations to the organization."""
    await conn.execute(
        update(invitations)
        .where(*_pending_for(tenant_id, organization_id, invitee), invitations.c.expires_at < now)
        .values(status=EXPIRED, updated_at=now)
    )


async def end_pending(
    conn: AsyncConnection,
    tenant_id: str,
    invitation_id: str,
    status: str,
    accepted_user_id: str | None,
    now: int,
) -> bool:
    """Move a Pending, unexpired invitation to ``status``; False when it was not (any more)
    Pending. One conditional statement: of two requests at once, exactly one succeeds."""
    result = await conn.execute(
        update(invitations)
        .where(
            invitations.c.tenant_id == tenant_id,
            invitations.c.id == invitation_id,
            invitations.c.status == PENDING,
            invitations.c.expires_at >= now,
        )
        .values(status=status, accepted_user_id=accepted_user_id, updated_at=now)
    )
    return result.rowcount == 1


async def delete_invitation(conn: AsyncConnection, tenant_id: str, invitation_id: str) -> bool:
    """Its role rows go with it (the foreign key cascades)."""
    result = await conn.execute(
        delete(invitations).where(
            invitations.c.tenant_id == tenant_id, invitations.c.id == invitation_id
        )
    )
    return result.rowcount == 1


async def has_member_with_email(conn: AsyncConnection, organization_id: str, email: str) -> bool:
    """Whether a member of the organization has ``email`` as primary email."""
    members = organization_user_relations
    query = select(
        exists().where(
            members.c.organization_id == organization_id,
            members.c.user_id == users.c.id,
            users.c.primary_email == email,
        )
    )
    return bool((await conn.execute(query)).scalar())


async def role_types(conn: AsyncConnection, tenant_id: str, role_ids: list[str]) -> dict[str, str]:
    """Organization role id -> its type (``User``, ``MachineToMachine``), for those that exist."""
    rows = await conn.execute(
        select(organization_roles.c.id, organization_roles.c.type).where(
            organization_roles.c.tenant_id == tenant_id, organization_roles.c.id.in_(role_ids)
        )
    )
    return {r.id: r.type for r in rows}
