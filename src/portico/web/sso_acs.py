"""The assertion consumer service of SAML SSO connectors (Logto's path:
``POST /api/authn/single-sign-on/saml/{connectorId}``), where the IdP's page posts the
``SAMLResponse`` (Bindings §3.5, HTTP-POST).

That post comes from the IdP's origin, so it carries no SameSite cookie: the response is
checked here (``SamlProvider.consume``: signature, audience, recipient, times...), its
assertion ID entered in a replay cache every process shares (``artifacts.save_once``, kept
until the assertion expires), and then:

- with a ``RelayState`` (Portico sent the request): the checked assertion is kept, once,
  under the RelayState's digest, and the browser goes on to ``/callback/sso/{id}`` — a
  GET, which carries the interaction cookie; there the interaction must hold a sign-in
  whose RelayState this is and whose request the assertion answers
  (``web/experience/sso.py``);
- without (IdP-initiated, allowed only when the connector has an IdP-initiated config):
  the assertion is kept under a random session named by a cookie, and the browser goes to
  an authorization request of the configured application (``direct_sign_in=sso:<id>``),
  whose sign-in page takes it, or to the client's callback URI (Logto's flow).

Every refusal is an audit entry with the check's ``reason`` and a page saying so.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.experience.sentinel import Locked
from portico.ids import digest
from portico.services import audit
from portico.services import sso_connectors as sso
from portico.services import sso_idp_initiated as idp_initiated
from portico.services.bootstrap import DEFAULT_TENANT
from portico.services.errors import ServiceError
from portico.sso import SsoError
from portico.sso.saml import SSO_PATH, SamlProvider
from portico.sso.saml_response import CLOCK_SKEW, Assertion
from portico.web.http import client_address, page, redirect
from portico.web.runtime import Runtime

RESULT = "SsoSamlResult"  # a checked assertion waiting for its browser, by RelayState
SEEN = "SsoSamlAssertionId"  # the replay cache
IDP_SESSION = "IdpInitiatedSamlSsoSession"
IDP_COOKIE = "portico_idp_saml_sso"  # Logto's ``_logto_idp_saml_sso_session_id``
RESULT_TTL = 600  # Logto's ten minutes for an IdP-initiated session
MAX_FORM = 384 * 1024
MAX_RELAY_STATE = 80  # Bindings §3.5.3
SUBMIT = "Interaction.SignIn.Identifier.SingleSignOn.Submit"
REFUSALS, LOCKOUT_SECONDS = 30, 15 * 60  # refused responses per address, then a pause
IDP_CREATE = "Interaction.SignIn.Verification.IdpInitiatedSso.Create"


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.reason = status, code, message, reason


def routes(runtime: Runtime) -> list[Route]:
    async def acs(request: Request) -> Response:
        """Anyone may POST here: refusals count per address (the sentinel's reservation, as
        device-code guesses), and past the limit the address is refused at once, with no
        audit entry, so a flood neither probes on nor fills the audit log."""
        connector_id = request.path_params["connector_id"]
        assert runtime.sentinel is not None
        attempt = await runtime.sentinel.reserve(
            DEFAULT_TENANT, f"saml-acs:{client_address(request)}", REFUSALS, LOCKOUT_SECONDS
        )
        if isinstance(attempt, Locked):
            refusal = Refusal(
                429,
                "session.verification_blocked_too_many_attempts",
                "Too many refused SAML responses from this address.",
                "locked",
            )
            return await _page(runtime, request, refusal)
        try:
            posted, relay = await _form(request)
            provider = await _provider(runtime, connector_id)
            if relay:
                answer = await _solicited(runtime, provider, posted, relay)
            else:
                answer = await _unsolicited(runtime, request, provider, posted)
        except Refusal as refusal:  # the reserved refusal stands
            await _record(runtime, request, SUBMIT, connector_id, refusal)
            return await _page(runtime, request, refusal)
        await runtime.sentinel.release(attempt)
        return answer

    return [Route(f"/api/authn/{SSO_PATH}/saml/{{connector_id}}", acs, methods=["POST"])]


async def _form(request: Request) -> tuple[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refusal(413, "guard.invalid_input", "The SAMLResponse is too large.", "too_large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise Refusal(400, "guard.invalid_input", "The form is not UTF-8.", "malformed") from None
    posted = (fields.get("SAMLResponse") or [""])[0]
    relay = (fields.get("RelayState") or [""])[0]
    if not posted:
        raise Refusal(400, "guard.invalid_input", "`SAMLResponse` is required.", "malformed")
    if len(relay) > MAX_RELAY_STATE:
        raise Refusal(400, "guard.invalid_input", "`RelayState` is too long.", "malformed")
    return posted, relay


async def _provider(runtime: Runtime, connector_id: str) -> SamlProvider:
    assert runtime.engine is not None
    endpoint = runtime.settings.endpoint
    try:
        async with runtime.engine.connect() as conn:
            row = await sso.row(conn, DEFAULT_TENANT, connector_id)
        provider = sso.instance(
            sso.sealer_for(runtime.settings.encryption_key_bytes()), row, endpoint
        )
    except ServiceError as error:
        raise Refusal(error.status, error.code, error.message, "not_found") from None
    except SsoError as error:
        raise Refusal(500, error.code, error.message, error.reason) from None
    if not isinstance(provider, SamlProvider):
        raise Refusal(400, "connector.unexpected_type", "Not a SAML connector.", "not_saml")
    return provider


async def _checked(
    runtime: Runtime, provider: SamlProvider, posted: str, solicited: bool
) -> Assertion:
    """The checked assertion, seen for the first time (the replay cache)."""
    try:
        assertion = await provider.consume(posted, solicited=solicited)
    except SsoError as error:
        status = 500 if error.code != "connector.authorization_failed" else 400
        raise Refusal(status, error.code, error.message, error.reason) from None
    assert runtime.provider is not None
    now = time.time()
    ttl = int((assertion.not_on_or_after or now + RESULT_TTL) - now) + CLOCK_SKEW
    seen = digest(f"{provider.connector_id}\n{assertion.issuer}\n{assertion.id}")
    if not await runtime.provider.artifacts.save_once(SEEN, seen, {}, max(ttl, 60)):
        raise Refusal(
            400, "connector.authorization_failed", "The assertion was already used.", "replayed"
        )
    return assertion


async def _solicited(runtime: Runtime, provider: SamlProvider, posted: str, relay: str) -> Response:
    assertion = await _checked(runtime, provider, posted, solicited=True)
    assert runtime.provider is not None
    kept = {"connectorId": provider.connector_id, "assertion": assertion.to_json()}
    if not await runtime.provider.artifacts.save_once(RESULT, digest(relay), kept, RESULT_TTL):
        raise Refusal(
            400,
            "connector.authorization_failed",
            "This sign-in already has a response.",
            "replayed",
        )
    query = urlencode({"RelayState": relay})
    return redirect(f"/callback/sso/{provider.connector_id}?{query}")


async def _unsolicited(
    runtime: Runtime, request: Request, provider: SamlProvider, posted: str
) -> Response:
    assert runtime.engine is not None and runtime.provider is not None
    connector_id = provider.connector_id
    async with runtime.engine.connect() as conn:
        config = await idp_initiated.find(conn, DEFAULT_TENANT, connector_id)
    if config is None:
        raise Refusal(
            404,
            "session.connector_validation_session_not_found",
            "IdP-initiated sign-in is not enabled for this connector.",
            "unsolicited",
        )
    assertion = await _checked(runtime, provider, posted, solicited=False)
    token = secrets.token_urlsafe(32)
    ttl = RESULT_TTL
    if assertion.not_on_or_after is not None:
        ttl = max(1, min(ttl, int(assertion.not_on_or_after - time.time())))
    kept = {"connectorId": connector_id, "assertion": assertion.to_json()}
    await runtime.provider.artifacts.save(IDP_SESSION, digest(token), kept, ttl)
    try:
        async with runtime.engine.connect() as conn:
            target = await idp_initiated.destination(
                conn, DEFAULT_TENANT, config, runtime.provider.issuer
            )
    except ServiceError as error:
        raise Refusal(error.status, error.code, error.message, "idp_initiated_config") from None
    async with runtime.engine.begin() as conn:
        await audit.record(
            conn, DEFAULT_TENANT, IDP_CREATE, ip=client_address(request),
            user_agent=request.headers.get("user-agent"), connectorId=connector_id,
            issuer=assertion.issuer, identityId=assertion.name_id,
        )  # fmt: skip
    response = redirect(target)
    runtime.set_cookie(response, IDP_COOKIE, token, ttl)
    return response


async def take(runtime: Runtime, kind: str, secret: str) -> dict[str, Any] | None:
    """A kept assertion (:data:`RESULT` or :data:`IDP_SESSION`), once."""
    assert runtime.provider is not None
    artifacts = runtime.provider.artifacts
    found = await artifacts.find(kind, digest(secret))
    if found is None or found.consumed_at is not None:
        return None
    if not await artifacts.consume(kind, digest(secret)):
        return None
    return found.payload


async def _record(
    runtime: Runtime, request: Request, key: str, connector_id: str, refusal: Refusal
) -> None:
    assert runtime.engine is not None
    async with runtime.engine.begin() as conn:
        await audit.record(
            conn, DEFAULT_TENANT, key, result=audit.LogResult.ERROR,
            error={"code": refusal.code, "message": refusal.message},
            ip=client_address(request), user_agent=request.headers.get("user-agent"),
            connectorId=connector_id[:128], reason=refusal.reason,
        )  # fmt: skip


async def _page(runtime: Runtime, request: Request, refusal: Refusal) -> Response:
    t = await runtime.translator(request)
    return page(
        "error.html", status=refusal.status, t=t, title=t("error.sso_failed_title"),
        message=t("error.sso_saml_refused"), code=refusal.code, detail=refusal.message,
    )  # fmt: skip
