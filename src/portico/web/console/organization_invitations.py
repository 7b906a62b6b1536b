"""The "Invitations" tab of an organization: invite an email address with User organization
roles until a date (7 days unless the admin says otherwise), the list with each invitation's
status as of now, and resend, revoke, delete.

The console sends the ``OrganizationInvitation`` email as Logto's does, with an empty
``messagePayload``: the service fills in the organization, and the link to Portico's landing
page (``/invitation/<id>``, as for /api). A failed send keeps nothing (the service's rule).
Each change writes the audit entry ``/api/organization-invitations`` writes for it, in the
change's own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import Route

from portico.services import emails
from portico.services import organization_invitations as invitations
from portico.services import organizations as orgs
from portico.services.errors import ServiceError
from portico.storage.database import now_ms
from portico.web.console.context import Console, form
from portico.web.console.organization_details import KIND, gone, ids, render
from portico.web.runtime import Runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

TAB = "org-invitations"
DEFAULT_DAYS, MAX_DAYS = 7, 365
DAY_MS = 86_400_000


@dataclass
class _Audited:
    """The service's database, whose one write transaction also holds the audit entry
    (naming the invitation it created)."""

    ctx: Console
    draft: invitations.Draft

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.ctx.read()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.ctx.write() as conn:
            yield conn
            made = await invitations.list_invitations(
                conn, self.ctx.tenant, organization_id=self.draft.organization_id,
                invitee=self.draft.invitee,
            )  # fmt: skip
            await self.ctx.audit(
                conn, "CreateOrganizationInvitation", params={"id": made[0]["id"]}, status=201
            )


async def _back(ctx: Console, org_id: str, message: str) -> Response:
    ctx.flash(message)
    return await ctx.redirect(f"/console/organizations/{org_id}#{TAB}")


def _days(ctx: Console, errors: dict[str, str]) -> int:
    typed = ctx.field("expires_in_days", 8).strip() or str(DEFAULT_DAYS)
    if not typed.isdigit() or not 1 <= int(typed) <= MAX_DAYS:
        errors["expires_in_days"] = ctx.t("organization.invite_days", count=MAX_DAYS)
        return DEFAULT_DAYS
    return int(typed)


async def invite(ctx: Console) -> Response:
    org_id = ctx.request.path_params["id"]
    typed = ctx.field("invitee", 256).strip()
    errors: dict[str, str] = {}
    invitee = emails.normalise(typed) if typed else None
    if invitee is None:
        errors["invitee"] = ctx.t("organization.invite_email")
    days = _days(ctx, errors)
    shown = {"invitee": typed, "expires_in_days": ctx.field("expires_in_days", 8)}
    if not errors and invitee is not None:
        draft = invitations.Draft(
            organization_id=org_id,
            invitee=invitee,
            expires_at=now_ms() + days * DAY_MS,
            role_ids=ids(ctx, "role_id"),
        )
        try:
            async with ctx.read() as conn:
                await orgs.get(conn, KIND, ctx.tenant, org_id)
            assert ctx.runtime.connectors is not None and ctx.runtime.sentinel is not None
            await invitations.create_invitation(
                _Audited(ctx, draft), ctx.runtime.connectors, ctx.runtime.sentinel, ctx.tenant,
                draft, {}, ctx.endpoint,
            )  # fmt: skip
        except ServiceError as error:
            if gone(error):
                raise
            errors["invitations"] = error.message
    if errors:
        return await render(ctx, org_id, 400, errors=errors, invite=shown, tab=TAB)
    return await _back(ctx, org_id, ctx.t("organization.invited", email=invitee))


async def _of_organization(ctx: Console) -> tuple[str, str]:
    """The organization and invitation of the path; 404 when the invitation is another
    organization's (the console never acts on one through a page it is not on)."""
    org_id, invitation_id = ctx.request.path_params["id"], ctx.request.path_params["invitation"]
    async with ctx.read() as conn:
        found = await invitations.get_invitation(conn, ctx.tenant, invitation_id)
    if found["organization_id"] != org_id:
        raise ServiceError(ctx.t("organization.invitation_elsewhere"), status=404)
    return org_id, invitation_id


async def resend(ctx: Console) -> Response:
    """The email again, whatever the status (as /api's ``/message``)."""
    org_id, invitation_id = await _of_organization(ctx)
    assert ctx.runtime.connectors is not None and ctx.runtime.sentinel is not None
    try:
        await invitations.resend(
            ctx, ctx.runtime.connectors, ctx.runtime.sentinel, ctx.tenant, invitation_id, {},
            ctx.endpoint,
        )  # fmt: skip
    except ServiceError as error:
        return await render(ctx, org_id, 400, errors={"invitations": error.message}, tab=TAB)
    async with ctx.write() as conn:
        await ctx.audit(
            conn, "CreateOrganizationInvitationMessage", params={"id": invitation_id}, status=204
        )
    return await _back(ctx, org_id, ctx.t("organization.invitation_resent"))


async def revoke(ctx: Console) -> Response:
    org_id, invitation_id = await _of_organization(ctx)
    try:
        async with ctx.write() as conn:
            await invitations.update_status(conn, ctx.tenant, invitation_id, invitations.REVOKED)
            await ctx.audit(
                conn, "ReplaceOrganizationInvitationStatus", params={"id": invitation_id},
                status=200,
            )  # fmt: skip
    except ServiceError as error:
        return await render(ctx, org_id, 400, errors={"invitations": error.message}, tab=TAB)
    return await _back(ctx, org_id, ctx.t("organization.invitation_revoked"))


async def delete(ctx: Console) -> Response:
    org_id, invitation_id = await _of_organization(ctx)
    async with ctx.write() as conn:
        await invitations.delete_invitation(conn, ctx.tenant, invitation_id)
        await ctx.audit(
            conn, "DeleteOrganizationInvitation", params={"id": invitation_id}, status=204
        )
    return await _back(ctx, org_id, ctx.t("organization.invitation_deleted"))


def routes(runtime: Runtime) -> list[Route]:
    base = "/console/organizations/{id}/invitations"
    one = f"{base}/{{invitation}}"
    return [
        Route(base, form(runtime, invite), methods=["POST"]),
        Route(f"{one}/resend", form(runtime, resend), methods=["POST"]),
        Route(f"{one}/revoke", form(runtime, revoke), methods=["POST"]),
        Route(f"{one}/delete", form(runtime, delete, destructive=True), methods=["POST"]),
    ]
