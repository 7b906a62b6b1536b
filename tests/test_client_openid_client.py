"""Interoperability with openid-client v6 (Node.js, panva): tests/node/openid_client_flow.mjs
runs each step with openid-client's own validation (discovery, PKCE, nonce, state, RFC 9207
``iss``, ID token signature and claims, userinfo subject) and prints JSON; the browser part of
the authorization code flow is played here with ``browser.sign_in``.

Without ``node`` the tests skip locally and fail when ``CI`` is set (tests/node_runtime.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from joserfc.jws import JWSRegistry

from tests.conftest import Api, App, User, lab_user, make_app
from tests.lab import Lab, submit
from tests.node_runtime import NODE_DIR, node_binary
from tests.support import Browser, Server, csrf_of, query_of

SCRIPT = NODE_DIR / "openid_client_flow.mjs"
OIDC_SCOPE = "openid profile email offline_access"


@pytest.fixture(scope="module")
def node() -> str:
    """The ``node`` binary, with tests/node/node_modules installed from the lock file."""
    return node_binary()


def run_step(node: str, step: str, **config: Any) -> dict[str, Any]:
    """One step of the script; its JSON output (a ``failed`` member when it threw)."""
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps({"step": step, **config}),
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip(), f"no output from {step}: {done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    assert (done.returncode == 0) == ("failed" not in result), (done.returncode, result)
    return result


def ok_step(node: str, step: str, **config: Any) -> dict[str, Any]:
    result = run_step(node, step, **config)
    assert "failed" not in result, (result, step)
    return result


def client_config(server: Server, app: App) -> dict[str, Any]:
    return {
        "issuer": server.issuer,
        "clientId": app.id,
        "clientSecret": app.secret,
        "redirectUri": app.redirect_uri,
        "postLogoutRedirectUri": app.post_logout_redirect_uri,
    }


def verified(server: Server, token: str) -> jwt.Token:
    """Signature checked here too, against the provider's JWKS, ES384 only."""
    response = httpx.get(f"{server.issuer}/jwks", timeout=30)
    assert response.status_code == 200
    keys = KeySet.import_key_set(response.json())
    return jwt.decode(token, keys, registry=JWSRegistry(algorithms=["ES384"]))


def sign_in(
    node: str, server: Server, app: App, user: User, browser: Browser, **extra: Any
) -> tuple[dict[str, Any], str]:
    """The authorize-url step, then the user agent; the step's output and the callback URL."""
    start = ok_step(
        node,
        "authorize-url",
        **client_config(server, app),
        scope=OIDC_SCOPE,
        prompt="consent",
        **extra,
    )
    callback = browser.sign_in(start["url"], user.username, user.password)
    return start, callback


def test_client_credentials(node: str, server: Server, api_resource: Api) -> None:
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    result = ok_step(
        node,
        "client-credentials",
        issuer=server.issuer,
        clientId=app.id,
        clientSecret=app.secret,
        resource=api_resource.indicator,
        scope="read admin",
    )
    assert result["token_type"] == "bearer"  # openid-client lower-cases "Bearer"
    assert result["scope"] == "read"
    assert result["has_refresh_token"] is False
    assert result["has_id_token"] is False
    assert 0 < result["expires_in"] <= 3600

    decoded = verified(server, result["access_token"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.claims["sub"] == app.id
    assert decoded.claims["client_id"] == app.id
    assert decoded.claims["aud"] == api_resource.indicator
    assert decoded.claims["iss"] == server.issuer
    assert decoded.claims["scope"] == "read"


def test_client_credentials_without_resource_is_invalid_target(
    node: str, server: Server, api_resource: Api
) -> None:
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    result = run_step(
        node,
        "client-credentials",
        issuer=server.issuer,
        clientId=app.id,
        clientSecret=app.secret,
        resource="https://unknown.example.com",
    )
    assert result["failed"]["error"] == "invalid_target"
    assert result["failed"]["status"] == 400


def test_authorization_code_flow_end_to_end(
    node: str, server: Server, web_app: App, user: User, browser: Browser
) -> None:
    start, callback = sign_in(node, server, web_app, user, browser)

    meta = start["server_metadata"]
    assert meta["issuer"] == server.issuer
    assert meta["authorization_response_iss_parameter_supported"] is True
    url = urlsplit(start["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{server.issuer}/auth"
    sent = query_of(start["url"])
    assert sent["client_id"] == web_app.id
    assert sent["redirect_uri"] == web_app.redirect_uri
    assert sent["response_type"] == "code"
    assert sent["code_challenge"] == start["code_challenge"]
    assert sent["code_challenge_method"] == "S256"
    assert sent["nonce"] == start["nonce"] and sent["state"] == start["state"]

    returned = query_of(callback)
    assert callback.startswith(web_app.redirect_uri + "?")
    assert returned["iss"] == server.issuer and returned["state"] == start["state"]

    result = ok_step(
        node,
        "callback",
        **client_config(server, web_app),
        callbackUrl=callback,
        codeVerifier=start["codeVerifier"],
        nonce=start["nonce"],
        state=start["state"],
        logoutState="bye",
    )

    grant = result["grant"]
    assert grant["token_type"] == "bearer"
    assert set(grant["scope"].split()) == set(OIDC_SCOPE.split())
    assert grant["refresh_token"]
    assert grant["expires_in"] > 0
    claims = grant["claims"]  # validated by openid-client
    assert claims["iss"] == server.issuer
    assert claims["aud"] == web_app.id
    assert claims["sub"] == user.id
    assert claims["nonce"] == start["nonce"]
    assert claims["email"] == user.email
    assert claims["email_verified"] is True
    assert claims["username"] == user.username
    assert claims["name"] == "Alice Example"
    assert claims["at_hash"]
    assert claims["sid"]
    assert abs(claims["auth_time"] - time.time()) < 60
    assert verified(server, grant["id_token"]).header["alg"] == "ES384"

    userinfo = result["userinfo"]
    assert userinfo["sub"] == user.id
    assert userinfo["email"] == user.email
    assert userinfo["email_verified"] is True
    assert userinfo["username"] == user.username
    assert userinfo["name"] == "Alice Example"

    refresh = result["refresh"]
    assert refresh["access_token"] != grant["access_token"]
    assert refresh["refresh_token"] == grant["refresh_token"]  # confidential: no rotation yet
    assert set(refresh["scope"].split()) == set(OIDC_SCOPE.split())
    assert refresh["claims"]["sub"] == user.id
    assert refresh["claims"]["aud"] == web_app.id
    assert refresh["claims"]["sid"] == claims["sid"]
    assert "nonce" not in refresh["claims"]
    assert result["userinfo_after_refresh"]["sub"] == user.id
    assert result["userinfo_after_refresh"]["email"] == user.email
    assert result["userinfo_wrong_subject"]["failed"] is True
    assert result["userinfo_wrong_subject"]["code"] == "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED"

    access = result["introspect_access"]
    assert access["active"] is True
    assert access["client_id"] == web_app.id
    assert access["sub"] == user.id
    assert access["token_type"] == "Bearer"
    assert access["iss"] == server.issuer
    assert access["exp"] > time.time()
    assert set(access["scope"].split()) == set(OIDC_SCOPE.split())
    refresh_info = result["introspect_refresh"]
    assert refresh_info["active"] is True
    assert refresh_info["token_type"] == "refresh_token"
    assert refresh_info["client_id"] == web_app.id
    assert refresh_info["sub"] == user.id

    assert result["revoked"] is True
    after = result["refresh_after_revocation"]
    assert after["failed"] is True
    assert after["error"] == "invalid_grant"
    assert after["status"] == 400
    assert result["introspect_refresh_after_revocation"] == {"active": False}
    assert result["introspect_access_after_revocation"] == {"active": False}
    assert result["userinfo_after_revocation"]["failed"] is True
    assert result["userinfo_after_revocation"]["status"] == 401

    end = urlsplit(result["end_session_url"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{server.issuer}/session/end"
    logout = query_of(result["end_session_url"])
    assert logout["client_id"] == web_app.id
    assert logout["post_logout_redirect_uri"] == web_app.post_logout_redirect_uri
    assert logout["id_token_hint"] == grant["id_token"]
    assert logout["state"] == "bye"

    # The browser that signed in follows the end-session URL: the hint names the session's
    # user, so Portico ends the session and redirects at once.
    response = browser.get(result["end_session_url"])
    assert response.status_code == 303
    assert response.headers["location"] == f"{web_app.post_logout_redirect_uri}?state=bye"


def test_wrong_nonce_is_rejected_by_openid_client(
    node: str, server: Server, web_app: App, user: User, browser: Browser
) -> None:
    start, callback = sign_in(node, server, web_app, user, browser)
    result = run_step(
        node,
        "callback",
        **client_config(server, web_app),
        callbackUrl=callback,
        codeVerifier=start["codeVerifier"],
        nonce="not-the-nonce",
        state=start["state"],
        stopAfterGrant=True,
    )
    assert result["failed"]["code"] == "OAUTH_JWT_CLAIM_COMPARISON_FAILED"
    assert result["failed"]["claim"] == "nonce"
    assert result["failed"]["cause_message"] == 'unexpected ID Token "nonce" claim value'


def test_forged_iss_in_the_authorization_response_is_rejected(
    node: str, server: Server, web_app: App, user: User, browser: Browser
) -> None:
    """RFC 9207: openid-client compares ``iss`` before redeeming the code."""
    start, callback = sign_in(node, server, web_app, user, browser)
    forged = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example.com%2F", 1)
    result = run_step(
        node,
        "callback",
        **client_config(server, web_app),
        callbackUrl=forged,
        codeVerifier=start["codeVerifier"],
        nonce=start["nonce"],
        state=start["state"],
        stopAfterGrant=True,
    )
    assert result["failed"]["code"] == "OAUTH_INVALID_RESPONSE"
    assert result["failed"]["cause_message"] == 'unexpected "iss" (issuer) response parameter value'
    # The code was not spent: the genuine response still redeems.
    result = ok_step(
        node,
        "callback",
        **client_config(server, web_app),
        callbackUrl=callback,
        codeVerifier=start["codeVerifier"],
        nonce=start["nonce"],
        state=start["state"],
        stopAfterGrant=True,
    )
    assert result["grant"]["claims"]["sub"] == user.id


def test_acr_values_step_up_reaches_openid_client(node: str, lab: Lab) -> None:
    """openid-client asks for multi-factor with ``acr_values``; the user proves a second
    factor on the pages; the ID token openid-client validates says so (``amr``, ``acr``)."""
    key = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXT"
    web_app, user, browser = make_app(lab.server, "Traditional"), lab_user(lab), lab.browser()
    lab.configure(mfa={"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"})
    given = lab.api.post(f"/api/users/{user.id}/mfa-verifications",
                         json={"type": "Totp", "secret": key})  # fmt: skip
    assert given.status_code == 200, given.text
    mfa = "urn:portico:acr:mfa"
    start = ok_step(node, "authorize-url", **client_config(lab.server, web_app),
                    scope=OIDC_SCOPE, prompt="consent", acrValues=mfa)  # fmt: skip
    assert query_of(start["url"])["acr_values"] == "urn:portico:acr:mfa"
    page = browser.follow_until_external(browser.client.get(start["url"]))
    done = submit(browser, page, "/sign-in", identifier=user.username, password=user.password)
    page = browser.follow_until_external(done)
    assert str(page.url).endswith("/mfa/verify")
    code = pyotp.TOTP(key).at(time.time() + 30)
    done = submit(browser, page, "/mfa/verify", factor="Totp", code=code)
    callback = browser.follow_until_external(done).headers["location"]
    result = ok_step(node, "callback", **client_config(lab.server, web_app), callbackUrl=callback,
                     codeVerifier=start["codeVerifier"], nonce=start["nonce"],
                     state=start["state"], logoutState="bye")  # fmt: skip
    claims = result["grant"]["claims"]
    assert claims["acr"] == "urn:portico:acr:mfa"
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_par_with_openid_client(
    node: str, server: Server, web_app: App, user: User, browser: Browser
) -> None:
    """openid-client pushes its request (RFC 9126) and the browser carries only the
    ``request_uri``; the code it gets back redeems as usual."""
    start = ok_step(node, "par-url", **client_config(server, web_app), scope=OIDC_SCOPE,
                    prompt="consent")  # fmt: skip
    sent = query_of(start["url"])
    assert set(sent) == {"client_id", "request_uri"}
    assert sent["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    callback = browser.sign_in(start["url"], user.username, user.password)
    result = ok_step(node, "callback", **client_config(server, web_app), callbackUrl=callback,
                     codeVerifier=start["codeVerifier"], nonce=start["nonce"],
                     state=start["state"], logoutState="bye")  # fmt: skip
    assert result["grant"]["claims"]["sub"] == user.id


def test_private_key_jwt_with_openid_client(
    node: str, server: Server, admin: httpx.Client, api_resource: Api
) -> None:
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    key = ECKey.generate_key("P-256", parameters={"kid": "oc-1"})
    registered = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [], "postLogoutRedirectUris": [],
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False)]}}})  # fmt: skip
    assert registered.status_code == 200, registered.text
    result = ok_step(node, "private-key-jwt-cc", issuer=server.issuer, clientId=app.id,
                     privateJwk=key.as_dict(private=True), resource=api_resource.indicator,
                     scope="read")  # fmt: skip
    assert result["scope"] == "read" and result["access_token"]


def test_device_flow_with_openid_client(
    node: str, server: Server, admin: httpx.Client, user: User, browser: Browser
) -> None:
    """openid-client starts a device authorization, the user confirms on the device page
    and signs in, openid-client's polling gets the tokens (ID token validated by it)."""
    created = admin.post("/applications", json={
        "name": "CLI", "type": "Native",
        "oidcClientMetadata": {"redirectUris": [], "postLogoutRedirectUris": []},
        "customClientMetadata": {"isDeviceFlow": True}})  # fmt: skip
    client_id = created.json()["id"]
    config = {"issuer": server.issuer, "clientId": client_id, "clientSecret": ""}
    started = ok_step(node, "device-start", **config, scope="openid offline_access")
    response = started["response"]
    assert started["server_metadata"]["device_authorization_endpoint"].endswith("/device/auth")
    page = browser.get(f"/device?user_code={response['user_code']}")
    checked = browser.client.post(f"{server.endpoint}/device", data={
        "csrf_token": csrf_of(page.text), "user_code": response["user_code"]})  # fmt: skip
    confirmed = browser.client.post(f"{server.endpoint}/device/confirm", data={
        "csrf_token": csrf_of(checked.text), "user_code": response["user_code"],
        "decision": "allow"})  # fmt: skip
    assert confirmed.headers["location"].endswith("/sign-in")
    sign_in = browser.get("/sign-in")
    browser.follow_until_external(browser.client.post(f"{server.endpoint}/sign-in", data={
        "csrf_token": csrf_of(sign_in.text), "identifier": user.username,
        "password": user.password}))  # fmt: skip
    polled = ok_step(node, "device-poll", **config, response=response)
    assert polled["claims"]["sub"] == user.id and polled["has_refresh_token"]


@pytest.mark.parametrize("pushed", [False, True], ids=["by-value", "pushed"])
def test_jar_with_openid_client(
    node: str, server: Server, admin: httpx.Client, user: User, browser: Browser, pushed: bool
) -> None:
    """openid-client signs its request as a request object (RFC 9101) with the client's key,
    sent in the URL or pushed (RFC 9126); the code redeems with private_key_jwt, and the ID
    token (validated by openid-client) carries the nonce from inside the object."""
    app = make_app(server, "Traditional")
    key = ECKey.generate_key("P-256", parameters={"kid": "jar-oc"})
    registered = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [app.redirect_uri], "postLogoutRedirectUris": [],
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False)]}}})  # fmt: skip
    assert registered.status_code == 200, registered.text
    config = {"issuer": server.issuer, "clientId": app.id, "redirectUri": app.redirect_uri,
              "privateJwk": key.as_dict(private=True)}  # fmt: skip
    start = ok_step(node, "jar-url", **config, scope="openid profile", pushed=pushed)
    sent = query_of(start["url"])
    assert set(sent) == {"client_id", "request_uri" if pushed else "request"}
    if not pushed:
        header = jwt.decode(sent["request"], KeySet([key]), algorithms=["ES256"]).header
        assert header["typ"] == "oauth-authz-req+jwt"
    callback = browser.sign_in(start["url"], user.username, user.password)
    assert query_of(callback)["state"] == start["state"]
    result = ok_step(node, "callback", **config, callbackUrl=callback,
                     codeVerifier=start["codeVerifier"], nonce=start["nonce"],
                     state=start["state"], stopAfterGrant=True)  # fmt: skip
    assert result["grant"]["claims"]["sub"] == user.id
    assert result["grant"]["claims"]["nonce"] == start["nonce"]


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of the public JWK openid-client exported, computed here."""
    return ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y")}).thumbprint()


def ath(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_requests(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in trace if entry["path"] == "/oidc/token"]


def assert_proof(entry: dict[str, Any], jwk: dict[str, Any], htm: str, htu: str) -> None:
    """A DPoP proof as RFC 9449 §4.2 has it, made with the key openid-client was given."""
    header, payload = entry["proof"]["header"], entry["proof"]["payload"]
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert {k: header["jwk"][k] for k in ("kty", "crv", "x", "y")} == {
        k: jwk[k] for k in ("kty", "crv", "x", "y")
    }
    assert "d" not in header["jwk"]
    assert payload["htm"] == htm and payload["htu"] == htu
    assert payload["jti"] and abs(payload["iat"] - time.time()) < 60


def assert_nonce_retry(trace: list[dict[str, Any]], jwk: dict[str, Any], url: str,
                       success: int = 200) -> None:  # fmt: skip
    """RFC 9449 §8: the proof without nonce is refused with use_dpop_nonce and a DPoP-Nonce
    header; openid-client retries once on its own, with that nonce, and succeeds."""
    assert [(e["method"], e["status"]) for e in trace] == [("POST", 400), ("POST", success)]
    refused, accepted = trace
    assert refused["error"] == "use_dpop_nonce" and refused["dpop_nonce"]
    assert "nonce" not in refused["proof"]["payload"]
    assert accepted["proof"]["payload"]["nonce"] == refused["dpop_nonce"]
    assert accepted["proof"]["payload"]["jti"] != refused["proof"]["payload"]["jti"]
    for entry in trace:
        assert_proof(entry, jwk, "POST", url)


def test_dpop_client_credentials_with_openid_client(
    node: str, server: Server, api_resource: Api
) -> None:
    """openid-client's DPoP handle (getDPoPHandle, randomDPoPKeyPair) at the token endpoint:
    it retries on ``use_dpop_nonce`` by itself, then keeps the nonce for the next grant; the
    access token is bound to its key (``cnf.jkt``, RFC 9449 §6.1)."""
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    result = ok_step(node, "dpop-client-credentials", **client_config(server, app),
                     resource=api_resource.indicator, scope="read")  # fmt: skip
    jwk, url = result["public_jwk"], f"{server.issuer}/token"
    first, second = result["first"], result["second"]

    assert_nonce_retry(first["trace"], jwk, url)
    assert first["trace"][1]["token_type"] == "DPoP"  # on the wire
    assert first["token_type"] == "dpop"  # openid-client lower-cases it
    assert first["scope"] == "read"
    claims = verified(server, first["access_token"]).claims
    assert claims["cnf"] == {"jkt": thumbprint(jwk)}
    assert claims["sub"] == app.id and claims["aud"] == api_resource.indicator

    # The nonce the server sent with the token is reused: one request this time.
    [only] = second["trace"]
    assert only["status"] == 200 and only["token_type"] == "DPoP"
    assert only["proof"]["payload"]["nonce"] == first["trace"][1]["dpop_nonce"]
    assert_proof(only, jwk, "POST", url)
    assert verified(server, second["access_token"]).claims["cnf"] == {"jkt": thumbprint(jwk)}


def introspect(http: httpx.Client, app: App, token: str) -> dict[str, Any]:
    auth = app.basic() if app.secret else {}
    data = {"token": token} if app.secret else {"token": token, "client_id": app.id}
    response = http.post("/oidc/token/introspection", data=data, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("app_type", ["SPA", "Traditional"])
def test_dpop_authorization_code_userinfo_and_refresh_with_openid_client(
    node: str, server: Server, http: httpx.Client, user: User, browser: Browser, app_type: str
) -> None:
    """Authorization code + PKCE redeemed with a DPoP proof (nonce retry by openid-client);
    ``fetchUserInfo`` with the DPoP handle sends ``Authorization: DPoP`` and a proof with
    ``ath`` (RFC 9449 §7.1); ``refreshTokenGrant`` with the handle. A public client's refresh
    token is bound to the key (§5); a confidential client's is not."""
    app = make_app(server, app_type)
    public = app.secret is None
    start, callback = sign_in(node, server, app, user, browser)
    result = ok_step(node, "dpop-callback", **client_config(server, app), callbackUrl=callback,
                     codeVerifier=start["codeVerifier"], nonce=start["nonce"],
                     state=start["state"])  # fmt: skip
    jwk, jkt = result["public_jwk"], thumbprint(result["public_jwk"])

    grant = result["grant"]
    assert grant["failed"] is False
    assert_nonce_retry(token_requests(grant["trace"]), jwk, f"{server.issuer}/token")
    assert token_requests(grant["trace"])[1]["token_type"] == "DPoP"
    tokens = grant["value"]
    assert tokens["token_type"] == "dpop"
    assert tokens["claims"]["sub"] == user.id and tokens["claims"]["nonce"] == start["nonce"]
    access = tokens["access_token"]
    described = introspect(http, app, access)
    assert described["active"] is True and described["token_type"] == "DPoP"
    assert described["cnf"] == {"jkt": jkt}

    # Userinfo: the DPoP scheme, a proof for GET /me with the token's hash.
    assert result["userinfo"]["sub"] == user.id
    assert result["userinfo"]["email"] == user.email
    [me] = result["userinfo_trace"]
    assert me["method"] == "GET" and me["status"] == 200 and me["auth_scheme"] == "DPoP"
    assert_proof(me, jwk, "GET", f"{server.issuer}/me")
    assert me["proof"]["payload"]["ath"] == ath(access)
    # Sent as a Bearer token (§7.2), or with another key's proof: refused.
    as_bearer, other_key = result["userinfo_as_bearer"], result["userinfo_other_key"]
    assert as_bearer["failed"] is True and as_bearer["status"] == 401
    assert as_bearer["code"] == "OAUTH_WWW_AUTHENTICATE_CHALLENGE"
    assert [(c["scheme"], c["parameters"]["error"]) for c in as_bearer["challenges"]] == [
        ("dpop", "invalid_token")
    ]
    assert other_key["failed"] is True and other_key["status"] == 401
    assert [(c["scheme"], c["parameters"]["error"]) for c in other_key["challenges"]] == [
        ("dpop", "invalid_dpop_proof")
    ]

    # Refresh with the key: the nonce is already known, one request, a DPoP-bound token.
    refresh = result["refresh"]
    [refreshed] = token_requests(refresh["trace"])
    assert refreshed["status"] == 200 and refreshed["token_type"] == "DPoP"
    assert refreshed["proof"]["payload"]["nonce"]
    assert_proof(refreshed, jwk, "POST", f"{server.issuer}/token")
    assert refresh["token_type"] == "dpop" and refresh["access_token"] != access
    assert introspect(http, app, refresh["access_token"])["cnf"] == {"jkt": jkt}
    assert result["userinfo_after_refresh"]["sub"] == user.id

    without, other = result["refresh_without_dpop"], result["refresh_other_key"]
    if public:  # §5: the refresh token is bound to the key the client proved
        assert (without["failed"], without["error"]) == (True, "invalid_grant")
        assert (other["failed"], other["error"]) == (True, "invalid_grant")
    else:  # bound by client authentication instead: plain or another key both work
        assert without["failed"] is False and without["value"]["token_type"] == "bearer"
        assert other["failed"] is False and other["value"]["token_type"] == "dpop"
        assert "cnf" not in introspect(http, app, without["value"]["access_token"])
        assert introspect(http, app, other["value"]["access_token"])["cnf"] != {"jkt": jkt}
    again = result["refresh_again"]
    assert again["failed"] is False and again["value"]["token_type"] == "dpop"
    assert introspect(http, app, again["value"]["access_token"])["cnf"] == {"jkt": jkt}


def test_par_with_a_dpop_proof_binds_the_code_with_openid_client(
    node: str, server: Server, http: httpx.Client, web_app: App, user: User, browser: Browser
) -> None:
    """``buildAuthorizationUrlWithPAR`` with a DPoP handle: the PAR endpoint asks for a
    nonce and openid-client retries; the code is bound to that key (RFC 9449 §10.1), so it
    redeems with the key's proof only."""
    config = {**client_config(server, web_app), "scope": "openid profile offline_access",
              "prompt": "consent", "dpop": True}  # fmt: skip
    start = ok_step(node, "par-url", **config)
    jwk = start["dpopJwk"]
    assert_nonce_retry(start["trace"], jwk, f"{server.issuer}/request", success=201)
    callback = browser.sign_in(start["url"], user.username, user.password)
    checks = {"codeVerifier": start["codeVerifier"], "nonce": start["nonce"],
              "state": start["state"]}  # fmt: skip
    result = ok_step(node, "dpop-callback", **client_config(server, web_app),
                     callbackUrl=callback, **checks, dpopJwk=jwk)  # fmt: skip
    assert result["grant"]["failed"] is False
    assert thumbprint(result["public_jwk"]) == thumbprint(jwk)
    bound = introspect(http, web_app, result["grant"]["value"]["access_token"])
    assert bound["cnf"] == {"jkt": thumbprint(jwk)}
    assert result["userinfo"]["sub"] == user.id

    start = ok_step(node, "par-url", **config)
    callback = browser.sign_in(start["url"], user.username, user.password)
    checks = {"codeVerifier": start["codeVerifier"], "nonce": start["nonce"],
              "state": start["state"]}  # fmt: skip
    stolen = ok_step(node, "dpop-callback", **client_config(server, web_app),
                     callbackUrl=callback, **checks, dpopJwk=start["dpopJwk"],
                     redeemWithOtherKey=True)  # fmt: skip
    assert stolen["grant"]["failed"] is True
    assert stolen["grant"]["error"] == "invalid_grant" and stolen["grant"]["status"] == 400
