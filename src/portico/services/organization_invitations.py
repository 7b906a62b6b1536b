"""Organization invitations (Logto's RFC 0003): an email address invited to join an
organization with some organization roles, until a date; Pending, then Accepted, Revoked or
Expired, and never changed again after that.

Logto's rules and error codes kept here: one Pending invitation per invitee and organization
(422 ``entity.unique_integrity_violation``); an unknown organization, inviter or role is 422
``entity.relation_foreign_key_not_found``; inviting a member, accepting as a user whose primary
email is not the invitee, or changing an ended invitation is 422 ``request.invalid_input``;
unknown invitations and accepting users are 404 ``entity.not_found``.

Two choices of Portico's. The invitee is stored in the canonical form user emails have
(``services/emails``), so one mailbox has one Pending invitation however it is typed, and
the acceptance check is a plain comparison. And the invitation email is sent after the
checks and before the one write transaction, not inside it as Logto does: the result is the
same (no invitation is kept whose email could not be sent), but no write lock is held over an
SMTP exchange that may take seconds (SQLite has one lock for the whole database).

And one addition: Logto leaves the email's ``link`` to the caller; when it is missing and the
caller says where the server is (``endpoint``), the link is Portico's own landing page,
``{endpoint}/invitation/{id}`` (``web/invitation_pages.py``), where the invitee signs in or
registers and joins. A ``link`` the caller gives is sent as it is.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.connectors.errors import ConnectorError
from portico.connectors.types import ConnectorType, TemplateType
from portico.ids import standard_id
from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.storage import organization_invitations as repo
from portico.storage import organizations as orgs_repo
from portico.storage import users as users_repo
from portico.storage.database import now_ms

PENDING, ACCEPTED, REVOKED = "Pending", "Accepted", "Revoked"
LANDING_PATH = "/invitation/"
# Logto's answers to connector failures (koa-connector-error-handler): others are 400.
_CONNECTOR_STATUS = {"connector.not_found": 501, "connector.rate_limit_exceeded": 429}


class Database(Protocol):
    """Where the work runs: a read connection, and one write transaction."""

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


class Sender(Protocol):
    """The tenant's message connectors (``connectors.Connectors``)."""

    async def send_message(
        self,
        tenant_id: str,
        kind: ConnectorType,
        to: str,
        template_type: str,
        payload: dict[str, Any],
    ) -> None: ...


class SendLimit(Protocol):
    """The per-recipient send limit every message shares (``experience.sentinel.Sentinel``):
    the seconds until a send to ``recipient`` may go, 0 when it may go now."""

    async def send_wait(self, tenant_id: str, recipient: str) -> int: ...


@dataclass(frozen=True)
class Draft:
    """A new invitation as asked; ``invitee`` is an email address in canonical form."""

    organization_id: str
    invitee: str
    expires_at: int
    inviter_id: str | None = None
    role_ids: list[str] = field(default_factory=list)


def _not_found(invitation_id: str) -> ServiceError:
    return ServiceError(
        f"The organization invitation `{invitation_id}` does not exist.",
        code="entity.not_found",
        status=404,
    )


def _unknown(what: str, value: str) -> ServiceError:
    return ServiceError(
        f"The {what} `{value}` does not exist.",
        code="entity.relation_foreign_key_not_found",
        status=422,
    )


def _invalid(message: str, status: int = 422) -> ServiceError:
    return ServiceError(message, code="request.invalid_input", status=status)


# Reading ---------------------------------------------------------------------------------
async def list_invitations(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    organization_id: str | None = None,
    inviter_id: str | None = None,
    invitee: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first, not paginated (as Logto); ``invitee`` is the canonical address."""
    return await repo.find(
        conn,
        tenant_id,
        now_ms(),
        organization_id=organization_id,
        inviter_id=inviter_id,
        invitee=invitee,
    )


async def get_invitation(
    conn: AsyncConnection, tenant_id: str, invitation_id: str
) -> dict[str, Any]:
    found = await repo.find(conn, tenant_id, now_ms(), invitation_id=invitation_id)
    if not found:
        raise _not_found(invitation_id)
    return found[0]


@dataclass(frozen=True)
class Landing:
    """What the landing page may show of an invitation: to whom, from whom, to what."""

    id: str
    status: str  # as of now: Pending, Accepted, Revoked or Expired
    invitee: str
    organization_id: str
    organization: str
    inviter: str | None
    invitee_registered: bool  # a user already has the invitee as primary email


async def landing(conn: AsyncConnection, tenant_id: str, invitation_id: str) -> Landing | None:
    """The invitation as its landing page shows it; None when there is no such invitation."""
    found = await repo.find(conn, tenant_id, now_ms(), invitation_id=invitation_id)
    if not found:
        return None
    invitation = found[0]
    context = await _template_context(
        conn, tenant_id, invitation["organization_id"], invitation["inviter_id"]
    )
    inviter = context.get("inviter") or {}
    taken = await users_repo.taken_identifier(conn, tenant_id, email=invitation["invitee"])
    return Landing(
        id=invitation["id"],
        status=invitation["status"],
        invitee=invitation["invitee"],
        organization_id=invitation["organization_id"],
        organization=(context.get("organization") or {}).get("name", ""),
        inviter=inviter.get("name") or inviter.get("username") or inviter.get("primaryEmail"),
        invitee_registered=taken is not None,
    )


# Creating --------------------------------------------------------------------------------
async def create_invitation(
    db: Database,
    sender: Sender,
    limit: SendLimit,
    tenant_id: str,
    draft: Draft,
    message: dict[str, Any] | None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Check, send the ``OrganizationInvitation`` email when ``message`` is given (the
    tenant's Email connector, ``message`` over the organization and inviter context, its
    ``link`` the landing page when missing and ``endpoint`` is known), then store. A failed
    send stores nothing."""
    if draft.expires_at <= now_ms():
        raise _invalid("The value of `expiresAt` must be in the future.", 400)
    invitation_id = standard_id()  # known before the email, which links to it
    async with db.read() as conn:
        await _check(conn, tenant_id, draft)
        context = await _template_context(conn, tenant_id, draft.organization_id, draft.inviter_id)
    if message is not None:
        payload = with_link({**context, **message}, endpoint, invitation_id)
        await send_invitation(sender, limit, tenant_id, draft.invitee, payload)
    async with db.write() as conn:
        await _check(conn, tenant_id, draft)  # again: things may have changed meanwhile
        await _insert(conn, tenant_id, draft, invitation_id)
        return await get_invitation(conn, tenant_id, invitation_id)


async def _check(conn: AsyncConnection, tenant_id: str, draft: Draft) -> None:
    if await repo.has_member_with_email(conn, draft.organization_id, draft.invitee):
        raise _invalid("The invitee is already a member of the organization.")
    if await orgs_repo.get(conn, "organizations", tenant_id, draft.organization_id) is None:
        raise _unknown("organization", draft.organization_id)
    if draft.inviter_id is not None and not await users_repo.get_user(
        conn, tenant_id, draft.inviter_id
    ):
        raise _unknown("user", draft.inviter_id)
    await _check_roles(conn, tenant_id, draft.role_ids)
    if await repo.has_pending(conn, tenant_id, draft.organization_id, draft.invitee, now_ms()):
        raise _duplicate()


async def _check_roles(conn: AsyncConnection, tenant_id: str, role_ids: list[str]) -> None:
    """Every role exists and is one a user may hold (Logto's database refuses a
    machine-to-machine role for a user with 422 ``entity.db_constraint_violated``, at
    acceptance; refusing it here keeps an invitation from promising what cannot be given)."""
    types = await repo.role_types(conn, tenant_id, role_ids)
    for role_id in role_ids:
        if role_id not in types:
            raise _unknown("organization role", role_id)
    await orgs.require_role_type(conn, tenant_id, role_ids, orgs.ROLE_USER)


def _duplicate() -> ServiceError:
    return ServiceError(
        "A pending invitation for this invitee and organization already exists.",
        code="entity.unique_integrity_violation",
        status=422,
    )


async def _insert(conn: AsyncConnection, tenant_id: str, draft: Draft, invitation_id: str) -> None:
    now = now_ms()
    await repo.expire_pending(conn, tenant_id, draft.organization_id, draft.invitee, now)
    row = {
        "tenant_id": tenant_id,
        "id": invitation_id,
        "inviter_id": draft.inviter_id,
        "invitee": draft.invitee,
        "accepted_user_id": None,
        "organization_id": draft.organization_id,
        "status": PENDING,
        "created_at": now,
        "updated_at": now,
        "expires_at": draft.expires_at,
    }
    try:
        async with conn.begin_nested():
            await repo.insert_invitation(conn, row, list(dict.fromkeys(draft.role_ids)))
    except IntegrityError:  # a parallel request inserted the same Pending invitation
        raise _duplicate() from None


# Sending ---------------------------------------------------------------------------------
async def resend(
    db: Database,
    sender: Sender,
    limit: SendLimit,
    tenant_id: str,
    invitation_id: str,
    message: dict[str, Any],
    endpoint: str | None = None,
) -> None:
    """Send the invitation email again with ``message`` (Logto sends whatever the status)."""
    async with db.read() as conn:
        invitation = await get_invitation(conn, tenant_id, invitation_id)
        context = await _template_context(
            conn, tenant_id, invitation["organization_id"], invitation["inviter_id"]
        )
    payload = with_link({**context, **message}, endpoint, invitation_id)
    await send_invitation(sender, limit, tenant_id, invitation["invitee"], payload)


def with_link(payload: dict[str, Any], endpoint: str | None, invitation_id: str) -> dict[str, Any]:
    """``payload`` with Portico's landing page as its ``link`` when it has none."""
    if payload.get("link") is not None or not endpoint:
        return payload
    return {**payload, "link": f"{endpoint.rstrip('/')}{LANDING_PATH}{invitation_id}"}


async def _template_context(
    conn: AsyncConnection, tenant_id: str, organization_id: str, inviter_id: str | None
) -> dict[str, Any]:
    """What Logto adds to the payload for templates: ``organization`` (id, name, branding)
    and ``inviter`` (the public profile fields), so ``{{organization.name}}`` works."""
    context: dict[str, Any] = {}
    organization = await orgs_repo.get(conn, "organizations", tenant_id, organization_id)
    if organization is not None:
        context["organization"] = {
            "id": organization["id"],
            "name": organization["name"],
            "branding": organization.get("branding") or {},
        }
    inviter = await users_repo.get_user(conn, tenant_id, inviter_id) if inviter_id else None
    if inviter is not None:
        context["inviter"] = {
            "id": inviter["id"],
            "avatar": inviter["avatar"],
            "name": inviter["name"],
            "primaryEmail": inviter["primary_email"],
            "primaryPhone": inviter["primary_phone"],
            "username": inviter["username"],
            "profile": inviter["profile"],
        }
    return context


async def send_invitation(
    sender: Sender, limit: SendLimit, tenant_id: str, to: str, payload: dict[str, Any]
) -> None:
    """Through the tenant's Email connector; its failure becomes Logto's answer (501 when
    there is no Email connector, 400 when the send failed). Invitations count towards the
    recipient's send limit with verification codes (as Logto's message rate guard): an
    admin's script cannot flood one mailbox, and a refused send stores nothing."""
    if await limit.send_wait(tenant_id, to):
        raise ServiceError(
            "Too many messages sent to this recipient. Please try again later.",
            code="request.message_rate_limited",
            status=429,
        )
    try:
        await sender.send_message(
            tenant_id, ConnectorType.Email, to, TemplateType.OrganizationInvitation, payload
        )
    except ConnectorError as exc:
        data = (
            exc.data if exc.data is not None else ({"reason": exc.reason} if exc.reason else None)
        )
        raise ServiceError(
            exc.admin_message,
            code=exc.code,
            status=_CONNECTOR_STATUS.get(exc.code, 400),
            data=data,
        ) from None


# Ending ----------------------------------------------------------------------------------
async def update_status(
    conn: AsyncConnection,
    tenant_id: str,
    invitation_id: str,
    status: str,
    accepted_user_id: str | None = None,
) -> dict[str, Any]:
    """``Revoked``, or ``Accepted`` by a user whose primary email is the invitee: that user
    becomes a member with the invitation's roles, in the caller's transaction."""
    if status == ACCEPTED and not accepted_user_id:
        raise _invalid("The `acceptedUserId` is required when accepting an invitation.")
    invitation = await get_invitation(conn, tenant_id, invitation_id)
    if invitation["status"] != PENDING:
        raise _ended()
    if status == ACCEPTED:
        assert accepted_user_id is not None
        await _check_acceptor(conn, tenant_id, invitation, accepted_user_id)
    else:
        accepted_user_id = None
    now = now_ms()
    if not await repo.end_pending(conn, tenant_id, invitation_id, status, accepted_user_id, now):
        raise _ended()  # expired or ended by another request since it was read
    if accepted_user_id is not None:
        await _join(conn, tenant_id, invitation, accepted_user_id)
    updated = {**invitation, "status": status, "updated_at": now}
    if accepted_user_id is not None:
        updated["accepted_user_id"] = accepted_user_id
    return updated


def _ended() -> ServiceError:
    return _invalid("The status of the invitation cannot be changed anymore.")


async def _check_acceptor(
    conn: AsyncConnection, tenant_id: str, invitation: dict[str, Any], user_id: str
) -> None:
    user = await users_repo.get_user(conn, tenant_id, user_id)
    if user is None:
        raise ServiceError(
            f"The user `{user_id}` does not exist.", code="entity.not_found", status=404
        )
    if user["primary_email"] != invitation["invitee"]:
        raise _invalid("The accepted user must have the same email as the invitee.")


async def _join(
    conn: AsyncConnection, tenant_id: str, invitation: dict[str, Any], user_id: str
) -> None:
    """Membership (kept if already there) and the invitation's roles (added to any held)."""
    org_id = invitation["organization_id"]
    await orgs.add_members(conn, tenant_id, org_id, [user_id])
    role_ids = [r["id"] for r in invitation["organization_roles"]]
    if role_ids:
        await orgs.assign_member_roles(conn, tenant_id, org_id, user_id, role_ids)


async def delete_invitation(conn: AsyncConnection, tenant_id: str, invitation_id: str) -> None:
    if not await repo.delete_invitation(conn, tenant_id, invitation_id):
        raise _not_found(invitation_id)
