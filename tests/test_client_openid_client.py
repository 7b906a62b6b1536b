"""Interoperability with openid-client v6 (Node.js, panva): tests/node/openid_client_flow.mjs
runs each step with openid-client's own validation (discovery, PKCE, nonce, state, RFC 9207
``iss``, ID token signature and claims, userinfo subject) and prints JSON; the browser part of
the authorization code flow is played here with ``browser.sign_in``.

Without ``node`` the tests skip locally and fail when ``CI`` is set (tests/node_runtime.py)."""

from __future__ import annotations

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
