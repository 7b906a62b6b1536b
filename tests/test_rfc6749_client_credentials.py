"""Client credentials (RFC 6749 §4.4, Logto's rules) and the Management API guard."""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import App, make_app
from tests.support import Server

MANAGEMENT_API = "https://default.logto.app/api"


def _token(http: httpx.Client, app: App, **data: str) -> httpx.Response:
    return http.post(
        "/oidc/token", headers=app.basic(), data={"grant_type": "client_credentials", **data}
    )


def test_resource_is_required(server: Server, http: httpx.Client) -> None:
    m2m = make_app(server, "MachineToMachine")
    response = _token(http, m2m, scope="all")
    assert response.json()["error"] == "invalid_target"
    unknown = _token(http, m2m, resource="https://unknown.example")
    assert unknown.json()["error"] == "invalid_target"


def test_scopes_are_requested_intersected_with_roles(
    server: Server, http: httpx.Client, api_resource
) -> None:
    m2m = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    body = _token(http, m2m, resource=api_resource.indicator, scope="read admin").json()
    assert body["scope"] == "read"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    everything = _token(http, m2m, resource=api_resource.indicator).json()
    assert everything["scope"] == "read write"
    claims = jwt.decode(
        body["access_token"],
        KeySet.import_key_set(http.get("/oidc/jwks").json()),
        algorithms=["ES384"],
    ).claims
    assert claims["sub"] == m2m.id == claims["client_id"]
    assert claims["aud"] == api_resource.indicator
    assert claims["iss"] == server.issuer


def test_management_api_accepts_token_with_scope_all(server: Server, http: httpx.Client) -> None:
    m2m = make_app(server, "MachineToMachine", roles=["Logto Management API access"])
    token = _token(http, m2m, resource=MANAGEMENT_API, scope="all").json()["access_token"]
    response = http.get("/api/applications", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert (
        m2m.id in {a["id"] for a in response.json()} or int(response.headers["total-number"]) > 20
    )
    one = http.get(f"/api/applications/{m2m.id}", headers={"Authorization": f"Bearer {token}"})
    assert one.json()["type"] == "MachineToMachine"
    missing = http.get("/api/applications/nope", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "entity.not_exists_with_id"


def test_management_api_rejects_other_tokens_with_logto_errors(
    server: Server, http: httpx.Client, api_resource
) -> None:
    assert http.get("/api/applications").json()["code"] == "auth.authorization_header_missing"
    basic = http.get("/api/applications", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    assert basic.json()["code"] == "auth.authorization_token_type_not_supported"
    garbage = http.get("/api/applications", headers={"Authorization": "Bearer not.a.jwt"})
    assert (garbage.status_code, garbage.json()["code"]) == (401, "auth.unauthorized")
    # a valid token for another audience
    m2m = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    other = _token(http, m2m, resource=api_resource.indicator).json()["access_token"]
    wrong_aud = http.get("/api/applications", headers={"Authorization": f"Bearer {other}"})
    assert (wrong_aud.status_code, wrong_aud.json()["code"]) == (401, "auth.unauthorized")
    # the right audience without scope `all`
    no_role = make_app(server, "MachineToMachine")
    no_all = _token(http, no_role, resource=MANAGEMENT_API).json()
    assert no_all["scope"] == ""
    forbidden = http.get(
        "/api/applications", headers={"Authorization": f"Bearer {no_all['access_token']}"}
    )
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "auth.forbidden")
