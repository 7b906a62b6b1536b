"""Request parsing and response helpers shared by the routes (one way to do each)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from portico.protocol.authorization.response import AuthorizationResponse
from portico.protocol.errors import OAuthError, invalid_request
from portico.protocol.params import Params
from portico.web.i18n import DEFAULT, Translate, translator
from portico.web.runtime import TEMPLATES

MAX_BODY = 56 * 1024  # Logto's limit on /oidc/token bodies
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def client_address(request: Request) -> str:
    """The client's IP address (the proxy's ``X-Forwarded-For`` when it is trusted: uvicorn
    has applied it by now); ``unknown`` for a connection without one (a test transport)."""
    return request.client.host if request.client else "unknown"


def query_params(request: Request) -> Params:
    """Raw query parsing: keeps repeats, tolerates raw spaces (the Go SDK sends them)."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_request("query string is not valid UTF-8") from None
    return parse_qs(raw, keep_blank_values=True)


async def body_params(request: Request) -> Params:
    """Form or JSON bodies; size-limited, UTF-8 only. RFC 6749 asks for form encoding, but
    Logto accepts JSON at /oidc/token too, and clients written against it may send it; a
    JSON body cannot come from a cross-site form (it needs a CORS preflight), so accepting
    it opens no CSRF path."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise OAuthError("invalid_request", "request body too large", 413)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_request("request body is not valid UTF-8") from None
    if content_type == "application/json":
        return _json_params(text)
    if content_type in ("application/x-www-form-urlencoded", ""):
        return parse_qs(text, keep_blank_values=True)
    raise invalid_request(f"unsupported content-type {content_type!r}")


def _json_params(text: str) -> Params:
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        raise invalid_request("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise invalid_request("request body must be a JSON object")
    params: Params = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise invalid_request(f"parameter {key!r} must be a string")
        params[key] = [str(v) for v in values]
    return params


def oauth_error(error: OAuthError, *, no_store: bool = True) -> JSONResponse:
    headers = {**(NO_STORE if no_store else {}), **error.headers}
    return JSONResponse(error.to_json(), status_code=error.status, headers=headers)


def page(
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    t: Translate | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page outside a sign-in interaction, in the language of ``t`` (English if None)."""
    t = t or translator(DEFAULT)
    html = TEMPLATES.get_template(name).render(t=t, lang=t("meta.lang_tag"), **context)
    return HTMLResponse(html, status_code=status, headers={**NO_STORE, **(headers or {})})


def with_image_origins(policy: str, *urls: str | None) -> str:
    """``policy`` letting images load from the origins of ``urls`` too (the admin's and an
    organization's logos, a client's logo): the pages show them, nothing else from there."""
    origins = {f"{p.scheme}://{p.netloc}" for url in urls if url and (p := urlsplit(url)).netloc}
    if not origins:
        return policy
    return policy.replace(
        "img-src 'self' data:", f"img-src 'self' data: {' '.join(sorted(origins))}"
    )


def form_target_csp(*targets: str | None) -> dict[str, str]:
    """The default CSP, but letting a form's redirect chain end at ``targets``: browsers
    apply ``form-action`` to redirects after a POST (sign-in -> /oidc/auth -> client)."""
    from portico.web.security_headers import DEFAULT_CSP

    origins = {f"{p.scheme}://{p.netloc}" for t in targets if t and (p := urlsplit(t)).netloc}
    allowed = " ".join(["'self'", *sorted(origins)])
    return {
        "Content-Security-Policy": DEFAULT_CSP.replace(
            "form-action 'self'", f"form-action {allowed}"
        )
    }


def frontchannel_csp(frame_origins: str) -> str:
    """The signed-out page of Front-Channel Logout: its script, and iframes of the
    applications' origins (each clears its session there)."""
    from portico.web.security_headers import DEFAULT_CSP

    return DEFAULT_CSP.replace("script-src 'none'", "script-src 'self'").replace(
        "default-src 'self';", f"default-src 'self'; frame-src {frame_origins};"
    )


def error_page(
    error: OAuthError, status: int | None = None, t: Translate | None = None
) -> HTMLResponse:
    """A readable error: the translated explanation of the OAuth error code when there is
    one, else the (English) description; the code itself for support."""
    t = t or translator(DEFAULT)
    key = f"oidc.{error.error}"
    message = t(key)
    return page(
        "error.html",
        status=status or error.status,
        t=t,
        title=t("error.title"),
        message=error.description if message == key else message,
        detail=None if message == key else error.description,
        code=error.error,
    )


def authorization_response(response: AuthorizationResponse) -> Response:
    if response.mode == "form_post":
        nonce = secrets.token_urlsafe(16)
        target = urlsplit(response.redirect_uri)
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; "
            f"form-action {target.scheme}://{target.netloc}; frame-ancestors 'none'"
        )
        return page(
            "form_post.html",
            headers={"Content-Security-Policy": csp},
            action=response.redirect_uri,
            params=response.params,
            nonce=nonce,
        )
    return Response(status_code=303, headers={"Location": response.location(), **NO_STORE})


def redirect(location: str) -> Response:
    return Response(status_code=303, headers={"Location": location, **NO_STORE})
