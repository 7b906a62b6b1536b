"""The official Logto Python SDK (PyPI ``logto``), unmodified, against Portico."""

from __future__ import annotations

import httpx
from logto import LogtoClient, LogtoConfig
from logto.Storage import MemoryStorage

from tests.conftest import App, make_user
from tests.support import Browser, Server, csrf_of


async def test_logto_python_sdk_sign_in_userinfo_resource_token_refresh_sign_out(
    server: Server, browser: Browser, web_app: App, api_resource
) -> None:
    member = make_user(server, roles=(api_resource.role,), name="SDK User")
    client = LogtoClient(
        LogtoConfig(
            endpoint=server.endpoint,
            appId=web_app.id,
            appSecret=web_app.secret,
            resources=[api_resource.indicator],
            scopes=["email", "roles", "read"],
        ),
        storage=MemoryStorage(),
    )
    sign_in_url = await client.signIn(redirectUri=web_app.redirect_uri)
    callback = browser.sign_in(sign_in_url, member.username, member.password)
    await client.handleSignInCallback(callback)
    assert client.isAuthenticated()

    id_claims = client.getIdTokenClaims()
    assert id_claims.sub == member.id
    assert id_claims.aud == web_app.id

    info = await client.fetchUserInfo()
    assert info.sub == member.id and info.email == member.email and info.name == "SDK User"

    # a JWT for the API resource, obtained through the refresh-token grant
    token = await client.getAccessToken(api_resource.indicator)
    assert token and token.count(".") == 2
    claims = await client.getAccessTokenClaims(api_resource.indicator)
    assert claims.aud == api_resource.indicator and claims.scope == "read"
    assert client.getRefreshToken()

    sign_out_url = await client.signOut(web_app.post_logout_redirect_uri)
    page = browser.client.get(sign_out_url)
    assert page.status_code == 200  # no id_token_hint: the user confirms
    done = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={
            "csrf_token": csrf_of(page.text),
            "logout": "yes",
            "client_id": web_app.id,
            "post_logout_redirect_uri": web_app.post_logout_redirect_uri,
        },
    )
    assert done.headers["location"] == web_app.post_logout_redirect_uri
    assert not client.isAuthenticated()


def test_go_sdk_shaped_requests(server: Server, browser: Browser, web_app: App) -> None:
    """What logto-io/go does: Basic + body client_id at the token endpoint, JWKS as a map of
    strings, ``aud`` a string, ``iat`` within 60 s, sign-out URL without id_token_hint, and a
    refresh-token revocation attempt without the secret (which must fail for a confidential
    client, as in Logto)."""
    import time
    from urllib.parse import unquote, urlencode

    from joserfc import jwt
    from joserfc.jwk import KeySet

    from tests.support import pkce_pair, query_of

    member = make_user(server)
    http = httpx.Client(base_url=server.endpoint)
    discovery = http.get("/oidc/.well-known/openid-configuration").json()
    verifier, challenge = pkce_pair()
    query = unquote(
        urlencode(
            {
                "client_id": web_app.id,
                "redirect_uri": web_app.redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "st",
                "response_type": "code",
                "prompt": "consent",
                "scope": "openid offline_access profile",
            }
        ).replace("+", " ")
    )
    callback = browser.sign_in(
        f"{discovery['authorization_endpoint']}?{query}", member.username, member.password
    )
    code = query_of(callback)["code"]
    tokens = http.post(
        discovery["token_endpoint"],
        headers=web_app.basic(),
        data={
            "client_id": web_app.id,
            "redirect_uri": web_app.redirect_uri,
            "code_verifier": verifier,
            "code": code,
            "grant_type": "authorization_code",
        },
    ).json()
    jwks = http.get(discovery["jwks_uri"]).json()
    assert all(isinstance(v, str) for key in jwks["keys"] for v in key.values())
    claims = jwt.decode(
        tokens["id_token"], KeySet.import_key_set(jwks), algorithms=["ES384"]
    ).claims
    assert isinstance(claims["aud"], str) and abs(claims["iat"] - time.time()) <= 60
    refreshed = http.post(
        discovery["token_endpoint"],
        headers=web_app.basic(),
        data={
            "client_id": web_app.id,
            "refresh_token": tokens["refresh_token"],
            "grant_type": "refresh_token",
        },
    )
    assert refreshed.json()["refresh_token"] == tokens["refresh_token"]
    userinfo = http.get(
        discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.json()["sub"] == member.id
    revoke = http.post(
        discovery["revocation_endpoint"],
        data={"client_id": web_app.id, "token": tokens["refresh_token"]},
    )
    assert revoke.status_code == 401  # no secret: refused, and the Go SDK ignores the error
    end = (
        f"{discovery['end_session_endpoint']}?client_id={web_app.id}"
        f"&post_logout_redirect_uri={web_app.post_logout_redirect_uri}"
    )
    assert browser.client.get(end).status_code == 200
