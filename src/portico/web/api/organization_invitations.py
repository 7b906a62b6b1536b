"""``/api/organization-invitations``: Logto's paths, bodies, shapes and status codes. The rules
are in ``services/organization_invitations.py``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from portico.services import emails
from portico.services import organization_invitations as invitations
from portico.web.api.audit import AuditedRoute
from portico.web.api.connectors import connectors_of
from portico.web.api.context import ApiContext
from portico.web.api.schemas import Body, Id, NamedRef
from portico.web.runtime import Runtime

LATEST_DATE = 8_640_000_000_000_000  # epoch ms of the last date JavaScript can represent


class MessagePayload(BaseModel):
    """Logto's ``SendMessagePayload``: known string members, and any others for templates."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None
    link: str | None = None
    locale: str | None = None
    uiLocales: str | None = None


class CreateInvitation(Body):
    invitee: str = Field(max_length=256, description="email address")
    organizationId: Id
    expiresAt: int = Field(gt=0, le=LATEST_DATE, description="epoch milliseconds")
    inviterId: Id | None = None
    organizationRoleIds: list[Id] = Field(default_factory=list, max_length=100)
    messagePayload: MessagePayload | Literal[False] = Field(
        False, description="false: no email; an object: the OrganizationInvitation email's payload"
    )

    @field_validator("invitee")
    @classmethod
    def _email(cls, value: str) -> str:
        address = emails.normalise(value)
        if address is None:
            raise ValueError("must be an email address")
        return address


class UpdateStatus(Body):
    status: Literal["Accepted", "Revoked"]
    acceptedUserId: Id | None = None


class InvitationOut(BaseModel):
    tenantId: str
    id: str
    inviterId: str | None
    invitee: str
    acceptedUserId: str | None
    organizationId: str
    status: str = Field(description="Pending, Accepted, Expired or Revoked")
    createdAt: int
    updatedAt: int
    expiresAt: int
    organizationRoles: list[NamedRef]


def invitation_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenantId": row["tenant_id"],
        "id": row["id"],
        "inviterId": row["inviter_id"],
        "invitee": row["invitee"],
        "acceptedUserId": row["accepted_user_id"],
        "organizationId": row["organization_id"],
        "status": row["status"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "expiresAt": row["expires_at"],
        "organizationRoles": row["organization_roles"],
    }


def _payload(message: MessagePayload) -> dict[str, Any]:
    return message.model_dump(exclude_unset=True)


def routes(api: ApiContext, authorized: Any) -> APIRouter:
    router = APIRouter(
        prefix="/organization-invitations",
        dependencies=[authorized],
        route_class=AuditedRoute,
        tags=["Organization invitations"],
    )

    @router.get("", response_model=list[InvitationOut])
    async def list_organization_invitations(
        organizationId: str | None = None, inviterId: str | None = None, invitee: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, not paginated; ``invitee`` matches however the address is cased."""
        async with api.read() as conn:
            rows = await invitations.list_invitations(
                conn,
                api.tenant,
                organization_id=organizationId,
                inviter_id=inviterId,
                invitee=None if invitee is None else emails.canonical(invitee) or invitee,
            )
        return [invitation_out(r) for r in rows]

    @router.post("", response_model=InvitationOut, status_code=201)
    async def create_organization_invitation(body: CreateInvitation) -> dict[str, Any]:
        """With ``messagePayload``, the invitation is kept only if its email was sent."""
        draft = invitations.Draft(
            organization_id=body.organizationId,
            invitee=body.invitee,
            expires_at=body.expiresAt,
            inviter_id=body.inviterId,
            role_ids=body.organizationRoleIds,
        )
        message = None if body.messagePayload is False else _payload(body.messagePayload)
        row = await invitations.create_invitation(
            api, connectors_of(api.runtime), _send_limit(api.runtime), api.tenant, draft, message,
            api.runtime.settings.endpoint,
        )  # fmt: skip
        return invitation_out(row)

    @router.get("/{id}", response_model=InvitationOut)
    async def get_organization_invitation(id: str) -> dict[str, Any]:
        async with api.read() as conn:
            return invitation_out(await invitations.get_invitation(conn, api.tenant, id))

    @router.delete("/{id}", status_code=204, response_class=Response)
    async def delete_organization_invitation(id: str) -> Response:
        async with api.write() as conn:
            await invitations.delete_invitation(conn, api.tenant, id)
        return Response(status_code=204)

    @router.post("/{id}/message", status_code=204, response_class=Response)
    async def create_organization_invitation_message(id: str, body: MessagePayload) -> Response:
        """Send the invitation email again, with this payload."""
        await invitations.resend(
            api, connectors_of(api.runtime), _send_limit(api.runtime), api.tenant, id,
            _payload(body), api.runtime.settings.endpoint,
        )  # fmt: skip
        return Response(status_code=204)

    @router.put("/{id}/status", response_model=InvitationOut)
    async def replace_organization_invitation_status(id: str, body: UpdateStatus) -> dict[str, Any]:
        """Only a Pending, unexpired invitation changes; accepting adds the membership and
        the invitation's roles in the same transaction."""
        async with api.write() as conn:
            row = await invitations.update_status(
                conn, api.tenant, id, body.status, body.acceptedUserId
            )
        return invitation_out(row)

    return router


def _send_limit(runtime: Runtime) -> invitations.SendLimit:
    """The sentinel's per-recipient send limit, shared with verification codes."""
    assert runtime.sentinel is not None
    return runtime.sentinel
