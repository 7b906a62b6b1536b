"""What the authorization endpoint does with a valid request: ask the user to sign in (or
consent), or issue a code (RFC 6749 §4.1.2) bound to client, redirect URI and PKCE challenge."""

from __future__ import annotations

import time
from dataclasses import dataclass

from portico.ids import digest, opaque_token
from portico.protocol import acr, device, logout_propagation, tokens
from portico.protocol.authorization.request import AuthorizationRequest
from portico.protocol.authorization.response import AuthorizationResponse, build
from portico.protocol.errors import OAuthError
from portico.protocol.provider import Provider
from portico.protocol.sessions import SESSION_TTL, Session
from portico.services import consents, user_grants
from portico.services.applications import Client
from portico.storage.artifacts import NewArtifact
from portico.storage.database import now_ms

CODE_TTL = 60


@dataclass(frozen=True)
class NeedsLogin:
    pass


@dataclass(frozen=True)
class NeedsConsent:
    pass


Decision = AuthorizationResponse | NeedsLogin | NeedsConsent


@dataclass(frozen=True)
class Resumed:
    """The request comes back from the sign-in/consent pages of one interaction."""

    sid_at_start: str | None
    consented: bool


def login_required(
    request: AuthorizationRequest, session: Session | None, resumed: Resumed | None
) -> bool:
    """No session, ``prompt=login`` not yet satisfied by a new sign-in, ``max_age``
    exceeded (OpenID Connect Core §3.1.2.1), or multi-factor asked for (``acr_values``) of a
    session without it: step-up, once (the sign-in asks for a second factor; if the user has
    none to give, the ID token's ``acr`` says so and the application decides)."""
    if session is None:
        return True
    fresh = resumed is not None and session.sid != resumed.sid_at_start
    if "login" in request.prompt and not fresh:
        return True
    if acr.wants_mfa(request.acr_values) and "mfa" not in session.amr and not fresh:
        return True
    return request.max_age is not None and time.time() - session.auth_time > request.max_age


@dataclass(frozen=True)
class Asker:
    """Where the request came from, for the audit entry and webhook event of a grant
    limit (``services.user_grants``)."""

    ip: str | None = None
    user_agent: str | None = None


async def decide(
    provider: Provider,
    client: Client,
    request: AuthorizationRequest,
    session: Session | None,
    resumed: Resumed | None = None,
    asker: Asker | None = None,
) -> Decision:
    if login_required(request, session, resumed):
        if "none" in request.prompt:
            error = OAuthError("login_required", "end-user authentication is required")
            return error_response(provider, request, error)
        return NeedsLogin()
    assert session is not None
    if await consent_required(provider, client, request, session, resumed):
        if "none" in request.prompt:
            error = OAuthError("consent_required", "end-user consent is required")
            return error_response(provider, request, error)
        return NeedsConsent()
    return await issue_code(provider, client, request, session, asker or Asker())


async def consent_required(
    provider: Provider,
    client: Client,
    request: AuthorizationRequest,
    session: Session,
    resumed: Resumed | None,
) -> bool:
    """Third-party applications only (OIDC Core §3.1.2.4): unless the user has just consented
    on the page, ask when ``prompt=consent`` or when the request wants more than the user
    allowed this application before (remembered consent, ``services.consents``)."""
    if not client.is_third_party or (resumed and resumed.consented):
        return False
    if "consent" in request.prompt:
        return True
    async with provider.engine.connect() as conn:
        return not await consents.covers(
            conn, client.id, session.account_id, consent_request(request)
        )


def consent_request(request: AuthorizationRequest) -> consents.Request:
    return consents.Request(scopes=request.scopes, resources=request.resources)


async def issue_code(
    provider: Provider,
    client: Client,
    request: AuthorizationRequest,
    session: Session,
    asker: Asker,
) -> AuthorizationResponse:
    """A code (or a device's approval); ``session`` remembered for the client's logout
    notices (``logout_propagation``). The code belongs to the session's grant to the
    client, or starts one, which may take the user past the client's grant limit."""
    await logout_propagation.remember(provider, session, client)
    if request.response_mode == device.DEVICE_MODE:  # a device's sign-in: no code, no client
        approved = await device.decide(
            provider, request.extra.get("device", ""), session, asker.ip, asker.user_agent
        )
        outcome = "approved" if approved else "expired"
        return AuthorizationResponse(request.redirect_uri, "query", {"result": outcome})
    grant = await user_grants.for_authorization(
        provider.artifacts, client.id, session.account_id, session.sid, SESSION_TTL
    )
    code = opaque_token()
    code_row = NewArtifact(
        tokens.AUTHORIZATION_CODE,
        digest(code),
        {
            "clientId": request.client_id,
            "redirectUri": request.redirect_uri,
            "codeChallenge": request.code_challenge,
            "scope": " ".join(request.scopes),
            "resources": request.resources,
            "nonce": request.nonce,
            "accountId": session.account_id,
            "authTime": session.auth_time,
            "sid": session.sid,
            "amr": list(session.amr),
            "acr": acr.acr_for(request.acr_values, session.amr),
            "dpopJkt": request.dpop_jkt,
            "grantExp": grant.expires_at,
        },
        now_ms() + CODE_TTL * 1000,
        grant.grant_id,
    )
    await provider.artifacts.save_all((code_row, *grant.rows))
    if grant.is_new and client.max_allowed_grants is not None:
        await user_grants.enforce_limit(
            provider.engine, provider.artifacts, provider.tenant_id, client, session.account_id,
            ip=asker.ip, user_agent=asker.user_agent,
        )  # fmt: skip
    values = {"code": code}
    return build(
        request.redirect_uri, request.response_mode, provider.issuer, request.state, values
    )


def error_response(
    provider: Provider, request: AuthorizationRequest, error: OAuthError
) -> AuthorizationResponse:
    return build(
        request.redirect_uri,
        request.response_mode,
        provider.issuer,
        request.state,
        {"error": error.error, "error_description": error.description},
    )
