"""``client_secret_jwt`` (OpenID Connect Core §9, RFC 7523): the client MACs its assertion with
one of its secrets, which the server keeps sealed for that (secrets are otherwise stored as
digests only). Driven by Authlib's ``ClientSecretJWT`` and by hand-made assertions."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import ClientSecretJWT
from joserfc import jwt
from joserfc.jwk import OctKey

from tests.conftest import Api, make_app
from tests.support import Server

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _m2m(admin: httpx.Client, api: Api) -> tuple[str, str]:
    """A machine-to-machine application registered for client_secret_jwt: (id, secret)."""
    created = admin.post("/applications", json={
        "name": "Nightly job", "type": "MachineToMachine",
        "oidcClientMetadata": {"redirectUris": [], "postLogoutRedirectUris": [],
                               "tokenEndpointAuthMethod": "client_secret_jwt"}})  # fmt: skip
    assert created.status_code == 200, created.text
    app_id, secret = created.json()["id"], created.json()["secret"]
    role = admin.get("/roles", params={"search.name": api.m2m_role}).json()
    assert admin.post(f"/roles/{role[0]['id']}/applications",
                      json={"applicationIds": [app_id]}).status_code == 201  # fmt: skip
    return app_id, secret


def _assertion(server: Server, app_id: str, secret: str, alg: str = "HS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": app_id, "sub": app_id, "aud": server.issuer, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    return jwt.encode({"alg": alg}, body, OctKey.import_key(secret), algorithms=[alg])


def _token(http: httpx.Client, api: Api, assertion: str, **extra: str) -> httpx.Response:
    return http.post("/oidc/token", data={
        "grant_type": "client_credentials", "resource": api.indicator, "scope": "read",
        "client_assertion_type": ASSERTION, "client_assertion": assertion, **extra})  # fmt: skip


def test_authlib_client_secret_jwt(server: Server, admin: httpx.Client, api_resource: Api) -> None:
    app_id, secret = _m2m(admin, api_resource)
    token_endpoint = f"{server.issuer}/token"
    method = ClientSecretJWT(token_endpoint)
    with OAuth2Client(app_id, secret, token_endpoint_auth_method=method, timeout=30) as client:
        token = client.fetch_token(token_endpoint, grant_type="client_credentials",
                                   resource=api_resource.indicator, scope="read")  # fmt: skip
        again = client.fetch_token(token_endpoint, grant_type="client_credentials",
                                   resource=api_resource.indicator, scope="read")  # fmt: skip
    assert token["scope"] == "read" and again["access_token"] != token["access_token"]


def test_refusals_are_invalid_client(
    http: httpx.Client, server: Server, admin: httpx.Client, api_resource: Api
) -> None:
    app_id, secret = _m2m(admin, api_resource)
    used = _assertion(server, app_id, secret)
    assert _token(http, api_resource, used).status_code == 200
    unsigned = jwt.encode({"alg": "none"}, {"iss": app_id, "sub": app_id, "aud": server.issuer,
                          "exp": int(time.time()) + 60, "jti": "n"}, None,
                          algorithms=["none"])  # fmt: skip
    for name, assertion in {
        "replayed jti": used,
        "another secret": _assertion(server, app_id, "x" * 32),
        "alg none": unsigned,
        "expired": _assertion(server, app_id, secret, iat=int(time.time()) - 600,
                              exp=int(time.time()) - 300),
        "wrong audience": _assertion(server, app_id, secret, aud="https://elsewhere.example"),
    }.items():  # fmt: skip
        reply = _token(http, api_resource, assertion)
        assert reply.status_code == 401, (name, reply.text)
        assert reply.json()["error"] == "invalid_client", name
    # the secret itself is not enough: this client signs assertions only
    basic = http.post("/oidc/token", auth=(app_id, secret), data={
        "grant_type": "client_credentials", "resource": api_resource.indicator})  # fmt: skip
    assert basic.status_code == 401 and "client_secret_jwt" in basic.text


def test_secrets_made_before_the_switch_do_not_sign(
    http: httpx.Client, server: Server, admin: httpx.Client, api_resource: Api
) -> None:
    """Older secrets were kept as digests only: a new secret is needed, and it works."""
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    assert app.secret is not None
    switched = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [], "postLogoutRedirectUris": [],
        "tokenEndpointAuthMethod": "client_secret_jwt"}})  # fmt: skip
    assert switched.status_code == 200, switched.text
    time.sleep(1.2)  # the client cache
    old = _token(http, api_resource, _assertion(server, app.id, app.secret))
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    made = admin.post(f"/applications/{app.id}/secrets", json={"name": "jwt"})
    assert made.status_code == 201, made.text
    assert "valueSealed" not in made.text and "sealed" not in made.text
    time.sleep(1.2)
    fresh = _token(http, api_resource, _assertion(server, app.id, made.json()["value"]))
    assert fresh.status_code == 200, fresh.text


def test_a_public_client_cannot_use_it(admin: httpx.Client) -> None:
    refused = admin.post("/applications", json={
        "name": "SPA", "type": "SPA",
        "oidcClientMetadata": {"redirectUris": [], "postLogoutRedirectUris": [],
                               "tokenEndpointAuthMethod": "client_secret_jwt"}})  # fmt: skip
    assert refused.status_code == 400


@pytest.mark.parametrize("path", ["/oidc/.well-known/openid-configuration"])
def test_discovery_lists_client_secret_jwt(http: httpx.Client, path: str) -> None:
    config = http.get(path).json()
    assert "client_secret_jwt" in config["token_endpoint_auth_methods_supported"]
    assert "HS256" in config["token_endpoint_auth_signing_alg_values_supported"]


def test_authlib_sees_a_refusal(server: Server, admin: httpx.Client, api_resource: Api) -> None:
    app_id, _ = _m2m(admin, api_resource)
    method = ClientSecretJWT(f"{server.issuer}/token")
    with OAuth2Client(app_id, "not-the-secret-" * 3, token_endpoint_auth_method=method,
                      timeout=30) as client, pytest.raises(OAuthError) as raised:  # fmt: skip
        client.fetch_token(f"{server.issuer}/token", grant_type="client_credentials",
                           resource=api_resource.indicator)  # fmt: skip
    assert raised.value.error == "invalid_client"
