"""Client authentication with a signed JWT (RFC 7523 §2.2 and §3; OpenID Connect Core §9
``private_key_jwt``; draft-ietf-oauth-rfc7523bis on the audience) against the real server,
with keys registered inline or published at a ``jwksUri``."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.conftest import Api, App, make_app
from tests.support import Server

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid})


def _public(key: ECKey) -> dict[str, Any]:
    return key.as_dict(private=False)


def _register(admin: httpx.Client, app: App, **keys: Any) -> httpx.Response:
    return admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [], "postLogoutRedirectUris": [],
        "tokenEndpointAuthMethod": "private_key_jwt", **keys}})  # fmt: skip


def _assertion(server: Server, app: App, key: ECKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": app.id, "sub": app.id, "aud": server.issuer, "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)


def _token(http: httpx.Client, api: Api, assertion: str, **extra: str) -> httpx.Response:
    return http.post("/oidc/token", data={
        "grant_type": "client_credentials", "resource": api.indicator, "scope": "read",
        "client_assertion_type": ASSERTION, "client_assertion": assertion, **extra})  # fmt: skip


@pytest.fixture
def keyed(server: Server, admin: httpx.Client, api_resource: Api) -> tuple[App, ECKey]:
    """A machine-to-machine application that authenticates with its EC key."""
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    key = _key("k1")
    registered = _register(admin, app, jwks={"keys": [_public(key)]})
    assert registered.status_code == 200, registered.text
    return app, key


def test_rfc7523_2_2_a_signed_assertion_authenticates_the_client(
    http: httpx.Client, server: Server, api_resource: Api, keyed: tuple[App, ECKey]
) -> None:
    app, key = keyed
    reply = _token(http, api_resource, _assertion(server, app, key))
    assert reply.status_code == 200, reply.text
    assert reply.json()["scope"] == "read"
    # The token endpoint's URL as audience is accepted too (clients that still send it).
    reply = _token(http, api_resource, _assertion(server, app, key, aud=f"{server.issuer}/token"))
    assert reply.status_code == 200, reply.text


def test_rfc7523_3_refusals_are_invalid_client(
    http: httpx.Client, server: Server, api_resource: Api, keyed: tuple[App, ECKey]
) -> None:
    app, key = keyed
    now = int(time.time())
    wrong_key = _key("k1")
    cases = {
        "replayed jti": None,
        "wrong audience": _assertion(server, app, key, aud=f"{server.issuer}/token/revocation"),
        "audience list with another": _assertion(server, app, key,
                                                 aud=[server.issuer, "https://other.example"]),
        "expired": _assertion(server, app, key, iat=now - 600, exp=now - 300),
        "no exp": _assertion(server, app, key, exp=None),
        "lives too long": _assertion(server, app, key, exp=now + 7200),
        "no jti": _assertion(server, app, key, jti=None),
        "iss is not sub": _assertion(server, app, key, sub="someone"),
        "another key": _assertion(server, app, wrong_key),
        "future iat": _assertion(server, app, key, iat=now + 600),
    }  # fmt: skip
    used = _assertion(server, app, key)
    assert _token(http, api_resource, used).status_code == 200
    cases["replayed jti"] = used
    for name, assertion in cases.items():
        reply = _token(http, api_resource, assertion)
        assert reply.status_code == 401, (name, reply.text)
        assert reply.json()["error"] == "invalid_client", (name, reply.text)
    with pytest.warns(Warning):  # joserfc warns about "none", as it should
        unsigned = jwt.encode({"alg": "none"}, {"iss": app.id, "sub": app.id,
                              "aud": server.issuer, "exp": now + 60, "jti": "x"}, None,
                              algorithms=["none"])  # fmt: skip
    assert _token(http, api_resource, unsigned).status_code == 401


def test_rfc7523_a_key_registered_client_may_not_use_a_secret(
    http: httpx.Client, api_resource: Api, keyed: tuple[App, ECKey]
) -> None:
    app, _ = keyed
    reply = http.post("/oidc/token", headers=app.basic(), data={
        "grant_type": "client_credentials", "resource": api_resource.indicator})  # fmt: skip
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


def test_registration_takes_public_keys_only(server: Server, admin: httpx.Client) -> None:
    app = make_app(server, "MachineToMachine")
    private = _key("p1").as_dict(private=True)
    for keys, reason in (
        ({"jwks": {"keys": [private]}}, "public keys only"),
        ({"jwks": {"keys": []}}, "key set"),
        ({}, "jwks or jwksUri"),
        ({"jwks": {"keys": [_public(_key("a"))]}, "jwksUri": "https://x.example/jwks"}, "one of"),
        ({"jwksUri": "http://x.example/jwks"}, "jwksUri"),
    ):
        refused = _register(admin, app, **keys)
        assert refused.status_code == 400 and reason in refused.text, (keys, refused.text)
    spa = make_app(server, "SPA")
    refused = _register(admin, spa, jwks={"keys": [_public(_key("s"))]})
    assert refused.status_code == 400 and "confidential" in refused.text


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A local HTTP server publishing a key set (its URL, and the set to change)."""
    published: dict[str, Any] = {"keys": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(published).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/jwks", published
    finally:
        httpd.shutdown()


def test_oidc_9_keys_published_at_a_jwks_uri(
    http: httpx.Client, server: Server, admin: httpx.Client, api_resource: Api,
    jwks_server: tuple[str, dict[str, Any]],
) -> None:  # fmt: skip
    url, published = jwks_server
    key = _key("pub-1")
    published["keys"] = [_public(key)]
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    # Registered through the service (the API refuses http URLs; loopback is the test's).
    from portico.services import applications

    async def work(conn: Any) -> None:
        row = await applications.get_application(conn, "default", app.id)
        oidc = {**row["oidc_client_metadata"], "tokenEndpointAuthMethod": "private_key_jwt",
                "jwksUri": url}  # fmt: skip
        from portico.storage import applications as repo

        await repo.update_application(conn, "default", app.id, {"oidc_client_metadata": oidc})

    server.db(work)
    time.sleep(1.2)  # the client cache (1 s)
    assert _token(http, api_resource, _assertion(server, app, key)).status_code == 200
    # A rotated key: the new kid makes the server fetch the set again (at most once a minute).
    rotated = _key("pub-2")
    published["keys"] = [_public(rotated)]
    reply = _token(http, api_resource, _assertion(server, app, rotated))
    assert reply.status_code in (200, 401)  # within the minute: refetched or not, never a 5xx


def test_discovery_lists_private_key_jwt(http: httpx.Client) -> None:
    doc = http.get("/oidc/.well-known/openid-configuration").json()
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert "ES256" in doc["token_endpoint_auth_signing_alg_values_supported"]
