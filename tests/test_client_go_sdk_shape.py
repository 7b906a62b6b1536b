"""The Logto Go SDK's requests against Portico (seed 000, examples/go-gin), made by
tests/go_sdk_client.py, which re-enacts ``github.com/logto-io/go/v2`` request for request and
decodes every answer the way Go's typed structs would."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs

import httpx
import pytest

from tests.conftest import Api, App, make_app, make_user
from tests.go_sdk_client import (
    ACCESS_TOKEN_MAP,
    GO_USER_AGENT,
    ID_TOKEN,
    ID_TOKEN_CLAIMS,
    REFRESH_TOKEN,
    TOKEN_RESPONSE,
    GoLogtoClient,
    GoSdkError,
    go_unmarshal,
    verify_id_token,
)
from tests.support import Browser, Server, csrf_of, unique


def go_client(server: Server, app: App, **kwargs) -> GoLogtoClient:
    assert app.secret
    return GoLogtoClient(server.endpoint, app.id, app.secret, storage={}, **kwargs)


def form_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode(), keep_blank_values=True)


def basic_of(request: httpx.Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    return client_id, secret


def to(client: GoLogtoClient, url: str) -> list[httpx.Request]:
    return [r for r in client.sent if str(r.url).split("?")[0] == url]


def test_sign_in_userinfo_refresh_and_sign_out(
    server: Server, browser: Browser, web_app: App, api_resource: Api
) -> None:
    member = make_user(server, roles=(api_resource.role,), name="Gin Gopher")
    client = go_client(
        server, web_app, scopes=["email", "read"], resources=[api_resource.indicator]
    )
    discovery = client.fetch_oidc_config()

    # SignIn: the query is sent unescaped, keys sorted by url.Values.Encode.
    sign_in_url = client.sign_in(web_app.redirect_uri)
    query = sign_in_url.split("?", 1)[1]
    assert f"redirect_uri={web_app.redirect_uri}&" in query
    assert "&scope=email read openid offline_access profile&" in query
    assert f"&resource={api_resource.indicator}&" in query
    keys = [pair.split("=", 1)[0] for pair in query.split("&")]
    assert keys == sorted(keys)

    # The user agent follows it (percent-encoding the spaces, as browsers do) and signs in.
    callback = browser.sign_in(sign_in_url, member.username, member.password)
    client.handle_sign_in_callback(callback)
    assert client.is_authenticated()
    code_exchange = to(client, discovery["token_endpoint"])[-1]
    assert basic_of(code_exchange) == (web_app.id, web_app.secret)
    form = form_of(code_exchange)
    assert form["client_id"] == [web_app.id] and "client_secret" not in form
    assert form["grant_type"] == ["authorization_code"]
    assert code_exchange.headers["user-agent"] == GO_USER_AGENT

    claims = client.get_id_token_claims()
    assert claims["sub"] == member.id and claims["aud"] == web_app.id
    assert claims["name"] == "Gin Gopher" and claims["email"] == member.email
    assert abs(claims["iat"] - time.time()) <= 60
    first_refresh_token = client.storage[REFRESH_TOKEN]
    assert first_refresh_token

    # FetchUserInfo with the access token from the code exchange (key "@").
    info = client.fetch_user_info()
    assert info["sub"] == member.id and info["email"] == member.email
    assert info["email_verified"] is True and info["name"] == "Gin Gopher"

    # GetAccessToken(resource): the refresh-token grant with a resource gives a JWT.
    token = client.get_access_token(api_resource.indicator)
    payload = token["token"].split(".")[1]
    access_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert access_claims["aud"] == api_resource.indicator
    assert access_claims["scope"] == "read"  # asked for read; the role also grants write
    refresh = to(client, discovery["token_endpoint"])[-1]
    assert basic_of(refresh) == (web_app.id, web_app.secret)
    assert form_of(refresh) == {
        "client_id": [web_app.id],
        "refresh_token": [first_refresh_token],
        "grant_type": ["refresh_token"],
        "resource": [api_resource.indicator],
    }
    # SetRefreshToken always overwrites: Portico echoes the (not rotated) refresh token.
    assert client.storage[REFRESH_TOKEN] == first_refresh_token

    # Once the userinfo token has expired, FetchUserInfo refreshes without a resource; the
    # refreshed ID token passes VerifyIdToken again.
    token_map = json.loads(client.storage[ACCESS_TOKEN_MAP])
    token_map["@"]["expiresAt"] = int(time.time()) - 1
    client.storage[ACCESS_TOKEN_MAP] = json.dumps(token_map)
    old_id_token = client.storage[ID_TOKEN]
    info = client.fetch_user_info()
    assert info["sub"] == member.id
    assert "resource" not in form_of(to(client, discovery["token_endpoint"])[-1])
    assert client.storage[ID_TOKEN] != old_id_token
    assert json.loads(client.storage[ACCESS_TOKEN_MAP])["@"]["token"] != token_map["@"]["token"]

    # SignOut: the revocation attempt has no secret; Portico refuses it (as Logto does for a
    # confidential client) and the SDK ignores the answer.
    sign_out_url, revocation = client.sign_out(web_app.post_logout_redirect_uri)
    assert revocation is not None
    assert revocation.status_code == 401
    assert revocation.json()["error"] == "invalid_client"
    revoke_request = to(client, discovery["revocation_endpoint"])[-1]
    assert "authorization" not in revoke_request.headers
    assert form_of(revoke_request) == {"client_id": [web_app.id], "token": [first_refresh_token]}
    assert not client.is_authenticated()
    assert sign_out_url == (
        f"{discovery['end_session_endpoint']}?client_id={web_app.id}"
        f"&post_logout_redirect_uri={web_app.post_logout_redirect_uri}"
    )

    # No id_token_hint, so the user confirms; then Portico ends the session and redirects.
    page = browser.client.get(sign_out_url)
    assert page.status_code == 200
    assert 'name="logout" value="yes"' in page.text
    done = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={
            "csrf_token": csrf_of(page.text),
            "logout": "yes",
            "client_id": web_app.id,
            "post_logout_redirect_uri": web_app.post_logout_redirect_uri,
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == web_app.post_logout_redirect_uri
    assert "__Host-portico_session" not in browser.client.portico_cookies.values

    # Signed out at Portico: the next SignIn shows the sign-in page again.
    again = browser.follow_until_external(browser.client.get(client.sign_in(web_app.redirect_uri)))
    assert again.status_code == 200 and 'name="password"' in again.text


def test_a_public_client_without_secret_revokes_at_sign_out(
    server: Server, browser: Browser
) -> None:
    """With no AppSecret the SDK sends no Basic header; PKCE carries the code exchange, and
    the secret-less revocation at sign-out does revoke the grant."""
    native = make_app(server, "Native", redirect_uri="io.portico.gin://callback")
    member = make_user(server)
    client = GoLogtoClient(server.endpoint, native.id, "", storage={})
    callback = browser.sign_in(
        client.sign_in(native.redirect_uri), member.username, member.password
    )
    client.handle_sign_in_callback(callback)
    exchange = to(client, client.fetch_oidc_config()["token_endpoint"])[-1]
    assert "authorization" not in exchange.headers
    refresh_token = client.storage[REFRESH_TOKEN]

    _, revocation = client.sign_out("")
    assert revocation is not None and revocation.status_code == 200
    refused = httpx.post(
        f"{server.issuer}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": native.id,
            "refresh_token": refresh_token,
        },
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_organizations_scope_signs_in_and_organization_tokens_are_refused(
    server: Server, browser: Browser, web_app: App, admin: httpx.Client
) -> None:
    """With the organizations scope the SDK adds Logto's reserved resource
    ``urn:logto:resource:organizations`` to the sign-in request, which Portico accepts. The
    organization claims decode as the Go structs; an organization token for one the user is
    not a member of gets Logto's answer for a non-member."""
    member = make_user(server)
    org = admin.post("/organizations", json={"name": unique("Org"), "description": "d"}).json()
    admin.post(f"/organizations/{org['id']}/users", json={"userIds": [member.id]})
    client = go_client(server, web_app, scopes=["urn:logto:scope:organizations"])
    sign_in_url = client.sign_in(web_app.redirect_uri)
    assert "&resource=urn:logto:resource:organizations&" in sign_in_url
    callback = browser.sign_in(sign_in_url, member.username, member.password)
    assert "error" not in callback, callback
    client.handle_sign_in_callback(callback)
    assert client.get_id_token_claims()["organizations"] == [org["id"]]
    info = client.fetch_user_info()
    assert info["organizations"] == [org["id"]]
    assert info["organization_data"] == [{"id": org["id"], "name": org["name"], "description": "d"}]

    with pytest.raises(GoSdkError, match="unexpected status code: 403") as refused:
        client.get_organization_token("org_1")
    assert "user is not a member of the organization" in str(refused.value)
    token_endpoint = client.fetch_oidc_config()["token_endpoint"]
    assert form_of(to(client, token_endpoint)[-1])["organization_id"] == ["org_1"]
    # The refresh token is still good for ordinary tokens.
    token_map = json.loads(client.storage[ACCESS_TOKEN_MAP])
    token_map["@"]["expiresAt"] = 0
    client.storage[ACCESS_TOKEN_MAP] = json.dumps(token_map)
    assert client.get_access_token("")["token"] != token_map["@"]["token"]


def test_go_struct_decoding_rejects_what_go_would() -> None:
    """The Go-side checks are not vacuous: an array ``aud``, a fractional ``iat`` and a
    string ``expires_in`` are refused as encoding/json would refuse them."""
    with pytest.raises(GoSdkError, match=r"IdTokenClaims\.aud of type string"):
        go_unmarshal({"aud": ["a", "b"]}, ID_TOKEN_CLAIMS, "core.IdTokenClaims")
    with pytest.raises(GoSdkError, match=r"IdTokenClaims\.iat of type int64"):
        go_unmarshal({"iat": 1700000000.5}, ID_TOKEN_CLAIMS, "core.IdTokenClaims")
    with pytest.raises(GoSdkError, match=r"expires_in of type int64"):
        go_unmarshal({"expires_in": "3600"}, TOKEN_RESPONSE, "core.CodeTokenResponse")
    assert go_unmarshal({"aud": "x", "name": None}, ID_TOKEN_CLAIMS, "c")["aud"] == "x"


def test_id_token_checks_of_the_go_sdk(server: Server, browser: Browser, web_app: App) -> None:
    """VerifyIdToken's checks applied to one of Portico's ID tokens: it passes as issued, and
    fails for another audience, another issuer and a clock 61 s off either way."""
    member = make_user(server)
    client = go_client(server, web_app)
    client.handle_sign_in_callback(
        browser.sign_in(client.sign_in(web_app.redirect_uri), member.username, member.password)
    )
    config = client.fetch_oidc_config()
    keys = client._remote_jwks(config["jwks_uri"])
    token = client.storage[ID_TOKEN]
    assert verify_id_token(token, web_app.id, config["issuer"], keys)["sub"] == member.id
    with pytest.raises(GoSdkError, match="token audience not match"):
        verify_id_token(token, "another-app", config["issuer"], keys)
    with pytest.raises(GoSdkError, match="token issuer not match"):
        verify_id_token(token, web_app.id, server.endpoint, keys)
    with pytest.raises(GoSdkError, match="token issued in the past"):
        verify_id_token(token, web_app.id, config["issuer"], keys, now=int(time.time()) + 61)
    with pytest.raises(GoSdkError, match="token issued in the future"):
        verify_id_token(token, web_app.id, config["issuer"], keys, now=int(time.time()) - 61)
