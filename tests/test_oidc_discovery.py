"""OpenID Connect Discovery 1.0 §3/§4, RFC 8414, RFC 7517/7638 (JWKS), Logto's route rules."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from tests.support import Server

DISCOVERY_PATHS = [
    "/oidc/.well-known/openid-configuration",
    "/oidc/.well-known/oauth-authorization-server",
    "/.well-known/oauth-authorization-server",
]


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
def test_discovery_documents_issuer_and_endpoints(
    server: Server, http: httpx.Client, path: str
) -> None:
    doc = http.get(path).json()
    issuer = server.issuer
    assert doc["issuer"] == issuer
    assert doc["authorization_endpoint"] == f"{issuer}/auth"
    assert doc["token_endpoint"] == f"{issuer}/token"
    assert doc["userinfo_endpoint"] == f"{issuer}/me"
    assert doc["jwks_uri"] == f"{issuer}/jwks"
    assert doc["end_session_endpoint"] == f"{issuer}/session/end"
    assert doc["revocation_endpoint"] == f"{issuer}/token/revocation"
    assert doc["introspection_endpoint"] == f"{issuer}/token/introspection"
    # the tenant key's first; the others for applications that register one
    assert doc["id_token_signing_alg_values_supported"] == ["ES384", "ES256", "RS256", "EdDSA"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert "urn:logto:scope:organizations" in doc["scopes_supported"]
    assert {"username", "created_at", "roles"} <= set(doc["claims_supported"])


def test_jwks_members_are_strings_and_kid_is_rfc7638_thumbprint(http: httpx.Client) -> None:
    keys = http.get("/oidc/jwks").json()["keys"]
    # the tenant key (others appear when an application asks for another algorithm)
    [key] = [k for k in keys if k["alg"] == "ES384"]
    assert all(isinstance(v, str) for k in keys for v in k.values())
    assert all(isinstance(v, str) for v in key.values())  # the Go SDK's map[string]string
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-384", "ES384")
    assert "d" not in key
    canonical = json.dumps({m: key[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert key["kid"] == thumbprint.decode()


def test_unknown_oidc_route_is_json_404(http: httpx.Client) -> None:
    response = http.get("/oidc/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_request"
    assert response.json()["code"] == "oidc.invalid_request"


def test_status_endpoint_answers_204(http: httpx.Client) -> None:
    assert http.get("/api/status").status_code == 204


def test_discovery_allows_any_origin_for_browser_apps(http: httpx.Client) -> None:
    response = http.get(DISCOVERY_PATHS[0], headers={"Origin": "https://spa.example"})
    assert response.headers["access-control-allow-origin"] == "*"
