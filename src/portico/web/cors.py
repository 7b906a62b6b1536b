"""CORS for the OpenID endpoints a browser app calls directly (token, userinfo, revocation,
introspection, discovery, JWKS), never for the authorization endpoint (RFC 9700 §2.6).

An origin is allowed when it is the origin of a registered redirect URI or listed in an
application's ``corsAllowedOrigins`` (as Logto's client-based CORS).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from portico.storage.applications import all_client_metadata
from portico.web.runtime import Runtime

PUBLIC_PATHS = ("/oidc/.well-known/", "/oidc/jwks")


def _origin_of(uri: str) -> str | None:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


async def allowed_origins(runtime: Runtime) -> frozenset[str]:
    async def load(_: str) -> frozenset[str]:
        assert runtime.engine is not None
        async with runtime.engine.connect() as conn:
            rows = await all_client_metadata(conn, runtime.provider.tenant_id)  # type: ignore[union-attr]
        found: set[str] = set()
        for row in rows:
            for uri in (row["oidc_client_metadata"] or {}).get("redirectUris", []):
                if origin := _origin_of(uri):
                    found.add(origin)
            found.update((row["custom_client_metadata"] or {}).get("corsAllowedOrigins", []))
        return frozenset(found)

    assert runtime.cors_origins is not None  # a cache of the applications topic
    return await runtime.cors_origins.get("all", load) or frozenset()


async def cors_headers(runtime: Runtime, request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin:
        return {}
    if request.url.path.startswith(PUBLIC_PATHS):
        return {"Access-Control-Allow-Origin": "*"}
    if origin in await allowed_origins(runtime):
        # RFC 9449 §8: a browser client reads the server's nonce from ``DPoP-Nonce``.
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Expose-Headers": "DPoP-Nonce, WWW-Authenticate",
        }
    return {}


async def preflight(runtime: Runtime, request: Request) -> Response:
    headers = await cors_headers(runtime, request)
    if headers:
        headers.update(
            {
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, DPoP",
                "Access-Control-Max-Age": "600",
            }
        )
    return Response(status_code=204, headers=headers)
