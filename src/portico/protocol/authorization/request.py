"""Parsing and validating an authorization request as a list of one-purpose checks.

The first two checks (client, redirect URI) fail without redirecting: an unknown client or an
unregistered redirect URI gets an error page (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2). Every
later check fails by redirecting the error to the client, with ``state`` and ``iss``.

A signed request object (``request``, RFC 9101) is verified right after the client and then
*is* the request: RFC 9101 §6.3 semantics, only the parameters inside it are used and every
outer one but ``client_id`` is ignored, ``response_type`` and ``scope`` included (OpenID
Connect Core §6.1 would have them repeated outside and compared; this server neither
requires nor reads them, so nothing outside the signature can change the request). An
object that fails is answered like any request whose client is known: at the outer
``redirect_uri`` if it is one of the client's, else on an error page; never at a
``redirect_uri`` inside it, which is not trusted before the object is. Once it passes, the
usual checks run on its contents.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from portico.protocol import acr, pkce, request_object
from portico.protocol.errors import OAuthError, invalid_request, invalid_target
from portico.protocol.params import Params, resources, scope_set, single
from portico.protocol.provider import Provider
from portico.services.applications import Client

RESPONSE_MODES = ("query", "form_post")
PROMPTS = {"none", "login", "consent", "select_account"}
# Logto's extra parameters, kept for the sign-in experience; unknown ones are ignored.
EXTRA_PARAMS = (
    "first_screen",
    "direct_sign_in",
    "interaction_mode",
    "organization_id",
    "identifier",
    "one_time_token",
)
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 §3.3
# Logto's reserved resource for organization tokens: every Logto tenant has it, and the Logto
# SDKs add it to the sign-in request whenever the app asks for the organizations scope. It is
# accepted here so those sign-ins work; organization tokens come from the refresh grant with
# ``organization_id`` (``protocol/grants/organization_tokens.py``).
RESERVED_ORGANIZATION_RESOURCE = "urn:logto:resource:organizations"


class RedirectError(Exception):
    """An error to deliver to the client's redirect URI."""

    def __init__(self, request: AuthorizationRequest, error: OAuthError) -> None:
        super().__init__(error.description)
        self.request = request
        self.error = error


@dataclass
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    response_mode: str = "query"
    state: str | None = None
    response_type: str | None = None
    scopes: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: str | None = None
    resources: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    acr_values: list[str] = field(default_factory=list)
    # Sent as a signed request object (RFC 9101), directly or in a pushed request.
    signed: bool = False
    # RFC 9449 §10: the code is redeemed only with a DPoP proof of this key.
    dpop_jkt: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AuthorizationRequest:
        return cls(**payload)


async def named_client(provider: Provider, params: Params) -> Client:
    """The client ``client_id`` names (an error page otherwise: nowhere to redirect to)."""
    client_id = single(params, "client_id")
    if not client_id:
        raise invalid_request("missing required parameter 'client_id'")
    client = await provider.client(client_id)
    if client is None:
        raise OAuthError("invalid_client", "client is invalid: no such client")
    return client


async def check_client(provider: Provider, params: Params) -> Client:
    client = await named_client(provider, params)
    if "authorization_code" not in client.grant_types:
        raise OAuthError(
            "unauthorized_client", "this client may not use the authorization endpoint"
        )
    return client


def check_redirect_uri(client: Client, params: Params) -> str:
    redirect_uri = single(params, "redirect_uri")
    if not redirect_uri:
        raise invalid_request("missing required parameter 'redirect_uri'")
    if not client.accepts_redirect_uri(redirect_uri):
        raise invalid_request(
            "redirect_uri did not match any of the client's registered redirect_uris"
        )
    return redirect_uri


def check_response_mode(request: AuthorizationRequest, params: Params) -> None:
    mode = single(params, "response_mode") or "query"
    if mode not in RESPONSE_MODES:
        raise invalid_request(f"unsupported response_mode '{mode}'")
    request.response_mode = mode


# OIDC Core §6 and §7.2.1: parameters that change what the request means. Going on without
# them would act on a request other than the one the client sent (a request object fetched
# from the client, say), so each is refused with its own error until it is supported.
UNSUPPORTED_PARAMETERS = {
    "request_uri": "request_uri_not_supported",  # by reference (RFC 9101); PAR's are taken
    "registration": "registration_not_supported",
}


def check_request_object_alone(params: Params) -> None:
    """RFC 9101 §5: a request object is passed by value or by reference, not both."""
    if params.get("request") and params.get("request_uri"):
        raise invalid_request("request and request_uri parameters MUST NOT be used together")


async def check_request_object(provider: Provider, client: Client, params: Params) -> Params:
    """RFC 9101 §6.3: the object's parameters in place of the outer ones; RFC 9101 §10.5: a
    client registered with ``requireSignedRequestObject`` sends nothing else (a pushed
    request carrying one counts, ``par.pull`` checks that)."""
    check_request_object_alone(params)
    if "request" in params:
        return await request_object.verify(provider, client, params)
    if client.require_signed_request_object:
        raise invalid_request("this client must send its authorization requests as a signed "
                              "request object (request)")  # fmt: skip
    return params


def check_unsupported(params: Params) -> None:
    for name, error in UNSUPPORTED_PARAMETERS.items():
        if params.get(name):
            raise OAuthError(error, f"the '{name}' parameter is not supported")


def check_response_type(request: AuthorizationRequest, params: Params) -> None:
    response_type = single(params, "response_type")
    if not response_type:
        raise invalid_request("missing required parameter 'response_type'")
    if response_type != "code":
        raise OAuthError(
            "unsupported_response_type", f"unsupported response_type '{response_type}'"
        )
    request.response_type = response_type


def check_prompt(request: AuthorizationRequest, params: Params) -> None:
    prompt = scope_set(single(params, "prompt"))
    unknown = set(prompt) - PROMPTS
    if unknown:
        raise invalid_request(f"unsupported prompt value(s) {', '.join(sorted(unknown))}")
    if "none" in prompt and len(prompt) > 1:
        raise invalid_request("prompt none must only be used alone")
    request.prompt = prompt


def check_scope(request: AuthorizationRequest, params: Params) -> None:
    """``openid`` required; ``offline_access`` kept only with ``prompt=consent`` (Logto)."""
    scopes = scope_set(single(params, "scope"))
    if any(not _SCOPE_TOKEN.match(s) for s in scopes):
        raise OAuthError("invalid_scope", "scope contains invalid characters")
    if "openid" not in scopes:
        raise invalid_request("openid scope must be requested for this request")
    if "offline_access" in scopes and "consent" not in request.prompt:
        scopes.remove("offline_access")
    request.scopes = scopes


def check_pkce(client: Client, request: AuthorizationRequest, params: Params) -> None:
    challenge = single(params, "code_challenge")
    method = single(params, "code_challenge_method")
    pkce.check_challenge(challenge, method, required=client.is_public)
    request.code_challenge = challenge
    request.code_challenge_method = method and "S256"


async def check_resources(
    provider: Provider, request: AuthorizationRequest, params: Params
) -> None:
    """RFC 8707 §2: every indicator absolute and registered."""
    indicators = resources(params)
    for indicator in indicators:
        if indicator == RESERVED_ORGANIZATION_RESOURCE:
            continue
        if "#" in indicator or await provider.resource(indicator) is None:
            raise invalid_target(f"resource indicator {indicator!r} is missing, or unknown")
    request.resources = indicators


# What a client known only by its metadata document may ask for (the user consents each time).
UNREGISTERED_CLIENT_SCOPES = ("openid", "offline_access", "profile", "email", "phone", "address")


def check_unregistered_client(client: Client, request: AuthorizationRequest) -> None:
    """A client known only by its metadata document gets OpenID Connect scopes, never an
    API resource or organizations: nobody registered it, and no admin set what it may ask."""
    if not client.metadata_document:
        return
    if request.resources:
        raise invalid_target("resource indicators are not available to unregistered clients")
    request.scopes = [s for s in request.scopes if s in UNREGISTERED_CLIENT_SCOPES]


def check_max_age(request: AuthorizationRequest, params: Params) -> None:
    value = single(params, "max_age")
    if value is None:
        return
    if not value.isdigit() or len(value) > 10:
        raise invalid_request("max_age must be a non-negative integer")
    request.max_age = int(value)


def check_acr_values(request: AuthorizationRequest, params: Params) -> None:
    """OIDC Core §3.1.2.1: voluntary; values this server does not know are ignored."""
    value = single(params, "acr_values") or ""
    if len(value) > 2048:
        raise invalid_request("'acr_values' is too long")
    request.acr_values = [v for v in scope_set(value) if v in acr.SUPPORTED]


_THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url SHA-256 (RFC 7638)


def check_dpop_jkt(request: AuthorizationRequest, params: Params) -> None:
    """RFC 9449 §10: ``dpop_jkt``, the thumbprint of the key the client will prove."""
    value = single(params, "dpop_jkt")
    if value is not None and not _THUMBPRINT.match(value):
        raise invalid_request("'dpop_jkt' must be a base64url SHA-256 JWK thumbprint")
    request.dpop_jkt = value


def check_optional_strings(request: AuthorizationRequest, params: Params) -> None:
    for name in ("nonce", "login_hint", "ui_locales"):
        value = single(params, name)
        if value is not None and len(value) > 2048:
            raise invalid_request(f"'{name}' is too long")
        setattr(request, name, value)
    request.extra = {k: v for k in EXTRA_PARAMS if (v := single(params, k)) is not None}


def outer_redirect(client: Client, params: Params, error: OAuthError) -> Exception:
    """Where an error found before the request object was trusted goes (RFC 6749 §4.1.2.1):
    to the outer ``redirect_uri`` with the outer ``state`` when the client registered it."""
    try:
        redirect_uri = check_redirect_uri(client, params)
        request = AuthorizationRequest(client.id, redirect_uri, state=single(params, "state"))
        check_response_mode(request, params)
    except OAuthError:
        return error
    return RedirectError(request, error)


async def parse(
    provider: Provider, params: Params, *, pushed: bool = False
) -> tuple[Client, AuthorizationRequest]:
    """Run the checks top to bottom; see the module docstring for how each fails.
    ``pushed``: the request came through the PAR endpoint (``authorization/par.py``)."""
    client = await check_client(provider, params)
    if client.require_pushed_authorization_requests and not pushed:
        raise invalid_request("this client must push its authorization requests (PAR)")
    signed = "request" in params
    try:
        params = await check_request_object(provider, client, params)
    except OAuthError as error:
        raise outer_redirect(client, params, error) from None
    redirect_uri = check_redirect_uri(client, params)
    request = AuthorizationRequest(client_id=client.id, redirect_uri=redirect_uri, signed=signed)
    try:
        request.state = single(params, "state")
        check_response_mode(request, params)
        check_unsupported(params)
        check_response_type(request, params)
        check_prompt(request, params)
        check_scope(request, params)
        check_pkce(client, request, params)
        await check_resources(provider, request, params)
        check_unregistered_client(client, request)
        check_max_age(request, params)
        check_acr_values(request, params)
        check_dpop_jkt(request, params)
        check_optional_strings(request, params)
    except OAuthError as error:
        raise RedirectError(request, error) from None
    return client, request
