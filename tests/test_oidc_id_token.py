"""ID token contents: OpenID Connect Core §2, §3.1.3.6 (at_hash), Logto's claims (§2.8)."""

from __future__ import annotations

import base64
import hashlib
import time

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import App, make_user
from tests.flows import tokens_for
from tests.support import Browser, Server


def _decode(http: httpx.Client, token: str) -> jwt.Token:
    return jwt.decode(
        token, KeySet.import_key_set(http.get("/oidc/jwks").json()), algorithms=["ES384"]
    )


def test_id_token_claims_for_logto_sdks_and_authjs(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, api_resource
) -> None:
    member = make_user(server, roles=(api_resource.role,), name="Ada Lovelace")
    body = tokens_for(
        browser,
        server,
        http,
        web_app,
        member,
        scope="openid profile email roles",
        nonce="n-0S6_WzA2Mj",
    )
    token = _decode(http, body["id_token"])
    claims = token.claims
    assert token.header["alg"] == "ES384"
    assert token.header["kid"] == http.get("/oidc/jwks").json()["keys"][0]["kid"]
    assert claims["iss"] == server.issuer
    assert claims["aud"] == web_app.id  # a string, not an array
    assert claims["sub"] == member.id
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert isinstance(claims["auth_time"], int) and claims["sid"]
    digest = hashlib.sha384(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:24]).rstrip(b"=").decode()
    assert claims["name"] == "Ada Lovelace"
    assert claims["username"] == member.username
    assert claims["email"] == member.email and claims["email_verified"] is True
    assert claims["created_at"] > 10**12  # epoch milliseconds
    assert claims["roles"] == [api_resource.role]


def test_userinfo_releases_claims_of_granted_scopes_only(
    browser: Browser, server: Server, http: httpx.Client, web_app: App
) -> None:
    member = make_user(server)
    body = tokens_for(
        browser, server, http, web_app, member, scope="openid email custom_data identities"
    )
    info = http.get("/oidc/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info["sub"] == member.id
    assert info["email"] == member.email
    assert info["custom_data"] == {} and info["identities"] == {}
    assert "username" not in info  # profile was not requested


def test_userinfo_rejects_jwt_and_unknown_tokens(http: httpx.Client) -> None:
    jwt_like = http.get("/oidc/me", headers={"Authorization": "Bearer a.b.c"})
    assert jwt_like.status_code == 401
    assert "audience" in jwt_like.json()["error_description"]
    assert jwt_like.headers["www-authenticate"].startswith("Bearer")
    assert http.get("/oidc/me").status_code == 401
