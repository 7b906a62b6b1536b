"""The Management API guard, as Logto's ``koaAuth``: a JWT bearer issued by this tenant, for
audience ``https://default.logto.app/api``, whose ``scope`` holds ``all``.

A DPoP-bound token (``cnf.jkt``, RFC 9449) comes with the ``DPoP`` scheme and a proof of its
key for this request (§7), never as a Bearer token: the API is a resource server like any
other."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPBearer

from portico.protocol import dpop, tokens
from portico.protocol.errors import OAuthError
from portico.protocol.provider import Provider
from portico.services.bootstrap import MANAGEMENT_API_INDICATOR
from portico.web.api.errors import ApiError


@dataclass(frozen=True)
class Auth:
    type: str  # "app" or "user"
    id: str


async def verify_management_token(
    provider: Provider,
    authorization: str | None,
    *,
    dpop_proof: str | None = None,
    method: str = "GET",
    url: str = "",
) -> Auth:
    if not authorization:
        raise ApiError(401, "auth.authorization_header_missing", "Authorization header is missing.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not token:
        raise ApiError(
            401,
            "auth.authorization_token_type_not_supported",
            "Authorization type is not supported. Only Bearer and DPoP are supported.",
        )
    claims = await tokens.verify_jwt_access_token(
        provider, token.strip(), audience=MANAGEMENT_API_INDICATOR
    )
    if claims is None:
        raise ApiError(
            401, "auth.unauthorized", "Unauthorized. Please check credentials and its scope."
        )
    await _check_binding(provider, claims, scheme.lower() == "dpop", token.strip(),
                         dpop_proof, method, url)  # fmt: skip
    if not claims.get("sub"):
        raise ApiError(401, "auth.jwt_sub_missing", "Missing `sub` in JWT.")
    if "all" not in str(claims.get("scope", "")).split():
        raise ApiError(403, "auth.forbidden", "Forbidden. Please check your permissions.")
    return Auth("app" if claims["sub"] == claims.get("client_id") else "user", claims["sub"])


async def _check_binding(
    provider: Provider,
    claims: dict[str, Any],
    scheme_dpop: bool,
    token: str,
    proof: str | None,
    method: str,
    url: str,
) -> None:
    jkt = (claims.get("cnf") or {}).get("jkt")
    if jkt is None:
        if scheme_dpop:
            raise ApiError(401, "auth.unauthorized", "The access token is not DPoP-bound.")
        return
    if not scheme_dpop or proof is None:
        raise ApiError(
            401, "auth.unauthorized", "A DPoP-bound token needs the DPoP scheme and a proof."
        )
    try:
        checked = await dpop.check(
            provider, proof, method=method, url=url, access_token=token, status=401
        )
    except OAuthError as error:
        raise ApiError(401, "auth.unauthorized", error.description) from None
    if not hmac.compare_digest(checked.jkt, str(jkt)):
        raise ApiError(401, "auth.unauthorized", "The DPoP proof is not of the token's key.")


# Declared so that swagger.json documents the bearer scheme; the header is read below, since
# Logto answers a non-Bearer scheme with its own error code.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="Management API token")


def _proof(request: Request) -> str | None:
    try:
        return dpop.single_header(request.headers.getlist("dpop"))
    except OAuthError as error:
        raise ApiError(401, "auth.unauthorized", error.description) from None


def guard(runtime_provider) -> object:  # type: ignore[no-untyped-def]
    """A FastAPI dependency bound to the running provider."""

    async def dependency(request: Request, _: Annotated[Any, Security(_bearer)] = None) -> Auth:
        provider = runtime_provider()
        auth = await verify_management_token(
            provider,
            request.headers.get("authorization"),
            dpop_proof=_proof(request),
            method=request.method,
            url=f"{provider.endpoint}{request.url.path}",
        )
        request.state.auth = auth  # the actor, for the audit log (web/api/audit.py)
        return auth

    return dependency
