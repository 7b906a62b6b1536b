"""Consent, the last step before a third-party application gets its code: who is signed in
for this interaction, and what they allow (remembered in ``services.consents``). The consent
page and the Experience API's ``/interaction/consent`` both end here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico.protocol import sessions as sessions_mod
from portico.protocol.authorization import endpoint as authz
from portico.protocol.authorization.request import AuthorizationRequest
from portico.services import consents
from portico.services.organizations import SCOPE_ORGANIZATIONS

if TYPE_CHECKING:
    from portico.experience.turn import Turn
    from portico.services.applications import Client

MAX_ORGANIZATIONS = 100


async def signed_in_user(turn: Turn, session_handle: str | None) -> str | None:
    """The account of the browser's session (``session_handle``, from its cookie)."""
    session = await sessions_mod.find_session(turn.provider, session_handle)
    return session.account_id if session else None


async def grant(
    turn: Turn, client: Client, user_id: str, organization_ids: list[str] | None
) -> None:
    """The user allows everything the request asks for and, when it asks for
    organizations, exactly ``organization_ids`` of theirs (the others withdrawn). Kept for a
    third-party application (first-party ones are never asked); the interaction is marked
    consented so ``/oidc/auth/<uid>`` issues the code. A ``ServiceError`` names an
    organization the user cannot grant; nothing is kept then."""
    request = AuthorizationRequest.from_payload(turn.interaction["request"])
    chosen = (
        [o for o in (organization_ids or []) if o][:MAX_ORGANIZATIONS]
        if SCOPE_ORGANIZATIONS in request.scopes
        else None
    )
    if client.is_third_party and not client.metadata_document:  # nothing kept for those
        async with turn.engine.begin() as conn:
            await consents.remember(
                conn, turn.tenant, client.id, user_id, authz.consent_request(request), chosen
            )
    turn.interaction["consented"] = True
    await turn.save()
