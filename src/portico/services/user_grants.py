"""A user's grants to applications, and the concurrent device limit.

A grant is what signing in to an application left behind: the authorization code and every
token issued from it (``grant_id`` on each). Portico keeps one ``Grant`` artifact per grant
(``storage.artifacts.GRANT``, Logto's payload: ``jti``, ``kind``, ``accountId``,
``clientId``, ``iat``, ``exp``) so that an admin can list and revoke a user's grants
(``/api/users/:id/grants``) and an application can cap them (Logto's
``customClientMetadata.maxAllowedGrants``).

As in oidc-provider, a browser session that signs in to the same application again keeps
its grant (a ``SessionGrant`` pointer per session and application, deleted with the grant),
so silent re-authorizations neither multiply rows nor count as new devices. A grant lives
180 days (Logto's ``Grant`` TTL); no refresh token outlives it (``grantExp``). When a new
grant takes a user past the application's limit, the oldest grants are revoked (every token
of theirs deleted), the ``RevokeGrants`` audit entry names them and the
``Grant.LimitExceeded`` webhook event reports it, with Logto's payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from portico.ids import digest, standard_id
from portico.services import audit, webhook_events
from portico.services.applications import Client
from portico.services.errors import ServiceError
from portico.storage import applications as applications_repo
from portico.storage.artifacts import GRANT, ArtifactStore, NewArtifact, account_group
from portico.storage.database import now_ms

GRANT_TTL = 180 * 86400  # seconds: Logto's (oidc-provider's ``ttl.Grant``)
SESSION_GRANT = "SessionGrant"
LIMIT_EVENT = "Grant.LimitExceeded"
FIRST_PARTY, THIRD_PARTY = "firstParty", "thirdParty"


@dataclass(frozen=True)
class GrantChoice:
    """The grant an authorization issues under: ``rows`` to store with its code (empty
    when the session's grant for the application goes on)."""

    grant_id: str
    expires_at: int  # epoch ms: no token of the grant may outlive it
    rows: tuple[NewArtifact, ...] = ()

    @property
    def is_new(self) -> bool:
        return bool(self.rows)


async def for_authorization(
    artifacts: ArtifactStore, client_id: str, account_id: str, sid: str, session_ttl: int
) -> GrantChoice:
    """The session's live grant to ``client_id``, or a new one (not yet stored)."""
    pointer_id = digest(f"{sid}:{client_id}")  # a client id may be a long URL
    pointer = await artifacts.find(SESSION_GRANT, pointer_id)
    if pointer is not None and pointer.grant_id and pointer.payload["accountId"] == account_id:
        return GrantChoice(pointer.grant_id, int(pointer.payload["grantExp"]))
    grant = new_grant(client_id, account_id)
    pointer_row = {"accountId": account_id, "clientId": client_id, "grantExp": grant.expires_at}
    pointer = NewArtifact(
        SESSION_GRANT,
        pointer_id,
        pointer_row,
        min(grant.expires_at, now_ms() + session_ttl * 1000),
        grant.grant_id,  # revoking the grant deletes the pointer too
    )
    return GrantChoice(grant.grant_id, grant.expires_at, (*grant.rows, pointer))


def new_grant(client_id: str, account_id: str) -> GrantChoice:
    """A grant of its own (a device's sign-in: each device is one), not yet stored."""
    grant_id = standard_id()
    now = now_ms()
    expires_at = now + GRANT_TTL * 1000
    grant = {"jti": grant_id, "kind": GRANT, "accountId": account_id, "clientId": client_id,
             "iat": now // 1000, "exp": expires_at // 1000}  # fmt: skip
    row = NewArtifact(GRANT, grant_id, grant, expires_at, account_group(account_id))
    return GrantChoice(grant_id, expires_at, (row,))


async def enforce_limit(
    engine: AsyncEngine,
    artifacts: ArtifactStore,
    tenant_id: str,
    client: Client,
    account_id: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> list[str]:
    """After a new grant: revoke the user's oldest grants to ``client`` beyond its
    ``maxAllowedGrants``; the ids revoked. Two sign-ins at once agree on which are oldest,
    so together they keep the newest ones."""
    limit = client.max_allowed_grants
    if limit is None:
        return []
    grants = await artifacts.grants_of(account_id)
    active = [grant for grant in grants if grant.payload["clientId"] == client.id]
    excess = len(active) - limit
    if excess <= 0:
        return []
    revoked = [grant.id for grant in active[:excess]]  # oldest first
    for grant_id in revoked:
        await artifacts.revoke_grant(grant_id)
    async with engine.begin() as conn:
        await audit.record(
            conn, tenant_id, "RevokeGrants", user_id=account_id, application_id=client.id,
            ip=ip, user_agent=user_agent, revokeGrantIds=revoked,
            reason="maxAllowedGrants limit reached",
        )  # fmt: skip
        details = {
            "userId": account_id,
            "applicationId": client.id,
            "revokedGrantIds": revoked,
            "maxAllowedGrants": limit,
            "preRevocationActiveGrantCount": len(active),
        }
        await webhook_events.emit_exception(
            conn, tenant_id, LIMIT_EVENT, details, ip=ip, user_agent=user_agent
        )
    return revoked


# The Management API ----------------------------------------------------------------------------
async def list_grants(
    engine: AsyncEngine,
    artifacts: ArtifactStore,
    tenant_id: str,
    user_id: str,
    app_type: str | None = None,
) -> list[dict[str, Any]]:
    """The user's live grants with their application (Logto's ``GET /users/:id/grants``);
    ``app_type``: ``firstParty`` or ``thirdParty`` only. A client known only by its
    metadata document (an https URL) is third-party and named by its URL."""
    grants = await artifacts.grants_of(user_id)
    ids = sorted({grant.payload["clientId"] for grant in grants})
    async with engine.connect() as conn:
        known = await applications_repo.names_of(conn, tenant_id, ids)
    listed = []
    for grant in grants:
        client_id = grant.payload["clientId"]
        name, third_party = known.get(client_id, (client_id, True))
        if client_id not in known and not client_id.startswith("https://"):
            continue  # the application is gone: nothing of the grant can be used
        if app_type is not None and third_party != (app_type == THIRD_PARTY):
            continue
        listed.append({
            "id": grant.id,
            "payload": grant.payload,
            "expiresAt": grant.expires_at,
            "application": {"id": client_id, "name": name},
        })  # fmt: skip
    return listed


async def revoke(artifacts: ArtifactStore, user_id: str, grant_id: str) -> None:
    """Revoke one of the user's grants (every token of it); 404 ``oidc.invalid_grant`` when
    it is not a live grant of this user's."""
    grant = await artifacts.find(GRANT, grant_id) if grant_id else None
    if grant is None or grant.payload.get("accountId") != user_id:
        raise ServiceError("Grant request is invalid.", code="oidc.invalid_grant", status=404)
    await artifacts.revoke_grant(grant_id)
