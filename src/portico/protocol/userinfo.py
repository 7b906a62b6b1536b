"""UserInfo (OpenID Connect Core §5.3): opaque access tokens only, as Logto."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from portico.ids import digest
from portico.protocol import dpop, tokens
from portico.protocol.claims import organization_claims, user_claims, wants_organizations
from portico.protocol.errors import OAuthError, invalid_token
from portico.protocol.provider import Provider
from portico.storage import rbac as rbac_repo


def bearer_token(authorization: str | None) -> str | None:
    """RFC 6750 §2.1."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def dpop_token(authorization: str | None) -> str | None:
    """RFC 9449 §7.1: ``Authorization: DPoP <token>``."""
    if authorization and authorization[:5].lower() == "dpop ":
        return authorization[5:].strip() or None
    return None


@dataclass(frozen=True)
class Presented:
    """How the access token came: as a Bearer token, or with the ``DPoP`` scheme and the
    proof for this request (``method`` and ``url`` as the client called them)."""

    token: str | None
    dpop_proof: str | None = None
    scheme_dpop: bool = False
    method: str = "GET"
    url: str = ""


async def userinfo(provider: Provider, presented: Presented | str | None) -> dict[str, Any]:
    if not isinstance(presented, Presented):
        presented = Presented(presented)
    token = presented.token
    if not token:
        raise invalid_token("no access token provided")
    if token.count(".") == 2:
        raise invalid_token("token audience prevents accessing the userinfo endpoint")
    stored, user = await provider.artifacts.find_with_account(tokens.ACCESS_TOKEN, digest(token))
    if stored is None:
        raise invalid_token("access token is invalid or expired")
    await _check_binding(provider, presented, token, (stored.payload.get("extra") or {}))
    scopes = stored.payload["scope"].split()
    if "openid" not in scopes:
        raise OAuthError("insufficient_scope", "access token lacks the openid scope", 403)
    if user is None or user["is_suspended"]:
        raise invalid_token("the user of this token no longer exists or is suspended")
    roles: list[str] = []
    organizations = None
    if "roles" in scopes or wants_organizations(scopes):  # few clients ask for these
        async with provider.engine.connect() as conn:
            if "roles" in scopes:
                roles = await rbac_repo.user_role_names(conn, user["id"])
            organizations = await organization_claims(
                provider, conn, user["id"], stored.payload["clientId"], scopes
            )
    return user_claims(user, scopes, roles, for_id_token=False, organizations=organizations)


async def _check_binding(
    provider: Provider, presented: Presented, token: str, extra: dict[str, Any]
) -> None:
    """RFC 9449 §7: a DPoP-bound token only with the ``DPoP`` scheme and a proof of its key
    (never as a Bearer token: that is what binding is for); the ``DPoP`` scheme only with a
    bound token."""
    cnf = extra.get("cnf")
    if not cnf:
        if presented.scheme_dpop:
            raise invalid_token("the access token is not DPoP-bound")
        return
    if not presented.scheme_dpop:
        raise OAuthError(
            "invalid_token",
            "a DPoP-bound access token must be sent with the DPoP scheme and a proof",
            401,
            {"WWW-Authenticate": f'DPoP error="invalid_token", algs="{" ".join(dpop.ALGORITHMS)}"'},
        )
    if presented.dpop_proof is None:
        raise dpop.invalid_proof("a DPoP proof is required with this access token", 401)
    proof = await dpop.check(
        provider,
        presented.dpop_proof,
        method=presented.method,
        url=presented.url,
        access_token=token,
        status=401,
    )
    if not hmac.compare_digest(proof.jkt, str(cnf.get("jkt"))):
        raise dpop.invalid_proof("the DPoP proof's key is not the one the token is bound to", 401)
