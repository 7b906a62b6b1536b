"""The Management API guard, as Logto's ``koaAuth``: a JWT bearer issued by this tenant, for
audience ``https://default.logto.app/api``, whose ``scope`` holds ``all``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPBearer

from portico.protocol import tokens
from portico.protocol.provider import Provider
from portico.services.bootstrap import MANAGEMENT_API_INDICATOR
from portico.web.api.errors import ApiError


@dataclass(frozen=True)
class Auth:
    type: str  # "app" or "user"
    id: str


async def verify_management_token(provider: Provider, authorization: str | None) -> Auth:
    if not authorization:
        raise ApiError(401, "auth.authorization_header_missing", "Authorization header is missing.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "auth.authorization_token_type_not_supported",
            "Authorization type is not supported. Only Bearer is supported.",
        )
    claims = await tokens.verify_jwt_access_token(
        provider, token.strip(), audience=MANAGEMENT_API_INDICATOR
    )
    if claims is None:
        raise ApiError(
            401, "auth.unauthorized", "Unauthorized. Please check credentials and its scope."
        )
    if not claims.get("sub"):
        raise ApiError(401, "auth.jwt_sub_missing", "Missing `sub` in JWT.")
    if "all" not in str(claims.get("scope", "")).split():
        raise ApiError(403, "auth.forbidden", "Forbidden. Please check your permissions.")
    return Auth("app" if claims["sub"] == claims.get("client_id") else "user", claims["sub"])


# Declared so that swagger.json documents the bearer scheme; the header is read below, since
# Logto answers a non-Bearer scheme with its own error code.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="Management API token")


def guard(runtime_provider) -> object:  # type: ignore[no-untyped-def]
    """A FastAPI dependency bound to the running provider."""

    async def dependency(request: Request, _: Annotated[Any, Security(_bearer)] = None) -> Auth:
        auth = await verify_management_token(
            runtime_provider(), request.headers.get("authorization")
        )
        request.state.auth = auth  # the actor, for the audit log (web/api/audit.py)
        return auth

    return dependency
