"""Interoperability with Authlib's OAuth 2.0 / OpenID Connect client (httpx integration):
client credentials for an M2M app, and the authorization code flow with PKCE and nonce
followed by userinfo, refresh, introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken, UserInfo
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from tests.conftest import Api, App, User, make_app
from tests.support import Browser, Server, query_of

OIDC_SCOPE = "openid profile email offline_access"


def metadata(server: Server) -> dict[str, object]:
    response = httpx.get(f"{server.issuer}/.well-known/openid-configuration", timeout=30)
    assert response.status_code == 200
    return response.json()


def key_set(server: Server) -> KeySet:
    response = httpx.get(f"{server.issuer}/jwks", timeout=30)
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


def verified(server: Server, token: str) -> jwt.Token:
    """Signature checked against the provider's JWKS, ES384 only."""
    return jwt.decode(token, key_set(server), registry=JWSRegistry(algorithms=["ES384"]))


def test_discovery_endpoints_are_the_ones_authlib_is_pointed_at(server: Server) -> None:
    meta = metadata(server)
    assert meta["issuer"] == server.issuer
    assert meta["token_endpoint"] == f"{server.issuer}/token"
    assert meta["userinfo_endpoint"] == f"{server.issuer}/me"
    assert meta["introspection_endpoint"] == f"{server.issuer}/token/introspection"
    assert meta["revocation_endpoint"] == f"{server.issuer}/token/revocation"
    assert meta["id_token_signing_alg_values_supported"] == ["ES384"]
    assert "S256" in meta["code_challenge_methods_supported"]  # type: ignore[operator]


def test_client_credentials_grants_only_the_scopes_of_the_m2m_role(
    server: Server, api_resource: Api
) -> None:
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    assert app.secret
    with OAuth2Client(
        app.id,
        app.secret,
        scope="read admin",
        token_endpoint_auth_method="client_secret_basic",
        timeout=30,
    ) as client:
        token = client.fetch_token(
            f"{server.issuer}/token",
            grant_type="client_credentials",
            resource=api_resource.indicator,
        )

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read"
    assert "refresh_token" not in token
    assert "id_token" not in token
    assert isinstance(token["expires_in"], int) and token["expires_in"] > 0

    decoded = verified(server, token["access_token"])
    assert decoded.header["alg"] == "ES384"
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"] in {k.kid for k in key_set(server).keys}
    claims = decoded.claims
    now = int(time.time())
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": server.issuer},
        aud={"essential": True, "value": api_resource.indicator},
        sub={"essential": True, "value": app.id},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    ).validate(claims)
    assert claims["aud"] == api_resource.indicator  # a string, as RFC 9068 allows
    assert claims["client_id"] == app.id
    assert claims["scope"] == "read"
    assert claims["exp"] - claims["iat"] == token["expires_in"]
    assert abs(claims["iat"] - now) <= 5


def test_client_credentials_with_client_secret_post_and_no_scope_gets_all_role_scopes(
    server: Server, api_resource: Api
) -> None:
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    with OAuth2Client(
        app.id, app.secret, token_endpoint_auth_method="client_secret_post", timeout=30
    ) as client:
        token = client.fetch_token(
            f"{server.issuer}/token",
            grant_type="client_credentials",
            resource=api_resource.indicator,
        )
    assert token["scope"] == "read write"
    assert verified(server, token["access_token"]).claims["scope"] == "read write"


def test_client_credentials_with_a_wrong_secret_is_invalid_client(
    server: Server, api_resource: Api
) -> None:
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    with (
        OAuth2Client(app.id, "not-the-secret", timeout=30) as client,
        pytest.raises(OAuthError) as raised,
    ):
        client.fetch_token(
            f"{server.issuer}/token",
            grant_type="client_credentials",
            resource=api_resource.indicator,
        )
    assert raised.value.error == "invalid_client"


def authlib_client(server: Server, app: App) -> OAuth2Client:
    return OAuth2Client(
        app.id,
        app.secret,
        scope=OIDC_SCOPE,
        redirect_uri=app.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        timeout=30,
    )


def validate_id_token(
    server: Server, app: App, id_token: str, nonce: str, access_token: str
) -> CodeIDToken:
    decoded = verified(server, id_token)
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": server.issuer},
            "aud": {"essential": True, "value": app.id},
        },
        {"nonce": nonce, "client_id": app.id, "access_token": access_token},
    )
    claims.validate(leeway=5)
    return claims


def test_authorization_code_pkce_nonce_userinfo_refresh_introspect_revoke(
    server: Server, web_app: App, user: User, browser: Browser
) -> None:
    verifier = generate_token(64)
    nonce = generate_token(24)
    token_endpoint = f"{server.issuer}/token"
    introspection = f"{server.issuer}/token/introspection"
    revocation = f"{server.issuer}/token/revocation"

    with authlib_client(server, web_app) as client:
        url, state = client.create_authorization_url(
            f"{server.issuer}/auth", code_verifier=verifier, nonce=nonce, prompt="consent"
        )
        sent = query_of(url)
        assert sent["code_challenge"] == create_s256_code_challenge(verifier)
        assert sent["code_challenge_method"] == "S256"
        assert sent["scope"] == OIDC_SCOPE
        assert sent["nonce"] == nonce and sent["state"] == state

        callback = browser.sign_in(url, user.username, user.password)
        assert callback.startswith(web_app.redirect_uri + "?")
        returned = query_of(callback)
        assert returned["state"] == state
        assert returned["iss"] == server.issuer  # RFC 9207
        assert set(returned) == {"code", "state", "iss"}

        token = client.fetch_token(
            token_endpoint, authorization_response=callback, code_verifier=verifier
        )
        assert token["token_type"] == "Bearer"
        assert set(token["scope"].split()) == set(OIDC_SCOPE.split())
        assert token["refresh_token"]
        assert token["expires_in"] > 0

        # ID token: signature (JWKS, ES384), iss, aud, exp/iat, nonce, at_hash.
        id_claims = validate_id_token(
            server, web_app, token["id_token"], nonce, token["access_token"]
        )
        assert id_claims.header["alg"] == "ES384"
        assert id_claims["sub"] == user.id
        assert id_claims["aud"] == web_app.id
        assert id_claims["nonce"] == nonce
        assert id_claims["at_hash"]
        assert id_claims["email"] == user.email
        assert id_claims["email_verified"] is True
        assert id_claims["username"] == user.username
        assert id_claims["name"] == "Alice Example"
        assert isinstance(id_claims["auth_time"], int)
        assert abs(id_claims["auth_time"] - time.time()) < 60
        assert id_claims["sid"]
        with pytest.raises(Exception, match="nonce"):
            validate_id_token(
                server, web_app, token["id_token"], "another-nonce", token["access_token"]
            )
        with pytest.raises(Exception, match="at_hash"):
            validate_id_token(server, web_app, token["id_token"], nonce, "another-token")

        # Userinfo with the bearer access token Authlib attaches.
        response = client.get(f"{server.issuer}/me")
        assert response.status_code == 200, response.text
        info = UserInfo(response.json())
        assert info["sub"] == user.id
        assert info["email"] == user.email
        assert info["username"] == user.username
        assert info["name"] == "Alice Example"
        first_access = token["access_token"]
        refresh = token["refresh_token"]

        # Refresh: a new access token and ID token (without nonce, OIDC Core §12.2).
        refreshed = client.refresh_token(token_endpoint, refresh_token=refresh)
        assert refreshed["access_token"] != first_access
        # A confidential client's refresh token is not rotated before 70 % of its lifetime.
        assert refreshed["refresh_token"] == refresh
        assert set(refreshed["scope"].split()) == set(OIDC_SCOPE.split())
        new_id = verified(server, refreshed["id_token"]).claims
        assert new_id["sub"] == user.id and new_id["aud"] == web_app.id
        assert "nonce" not in new_id
        assert new_id["sid"] == id_claims["sid"]
        response = client.get(f"{server.issuer}/me")  # now with the refreshed token
        assert response.status_code == 200
        assert response.json()["sub"] == user.id
        access = refreshed["access_token"]

        # Introspection (RFC 7662) of the access and the refresh token.
        response = client.introspect_token(
            introspection, token=access, token_type_hint="access_token"
        )
        assert response.status_code == 200, response.text
        described = response.json()
        assert described["active"] is True
        assert described["client_id"] == web_app.id
        assert described["sub"] == user.id
        assert described["iss"] == server.issuer
        assert described["token_type"] == "Bearer"
        assert described["exp"] > time.time()
        assert set(described["scope"].split()) == set(OIDC_SCOPE.split())

        response = client.introspect_token(
            introspection, token=refresh, token_type_hint="refresh_token"
        )
        assert response.status_code == 200
        described = response.json()
        assert described["active"] is True
        assert described["token_type"] == "refresh_token"
        assert described["client_id"] == web_app.id
        assert described["sub"] == user.id
        assert described["exp"] > time.time()

        # Revocation (RFC 7009) of the refresh token revokes the grant.
        response = client.revoke_token(revocation, token=refresh, token_type_hint="refresh_token")
        assert response.status_code == 200, response.text
        assert response.content == b""

        with pytest.raises(OAuthError) as raised:
            client.refresh_token(token_endpoint, refresh_token=refresh)
        assert raised.value.error == "invalid_grant"

        for value, hint in (
            (refresh, "refresh_token"),
            (access, "access_token"),
            (first_access, "access_token"),
        ):
            response = client.introspect_token(introspection, token=value, token_type_hint=hint)
            assert response.status_code == 200
            assert response.json() == {"active": False}, hint

        # The access tokens went with the grant: userinfo refuses them.
        response = httpx.get(
            f"{server.issuer}/me", timeout=30, headers={"Authorization": f"Bearer {access}"}
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"

        # Revoking again is not an error (RFC 7009 §2.2).
        response = client.revoke_token(revocation, token=refresh)
        assert response.status_code == 200


def test_code_cannot_be_redeemed_with_a_wrong_verifier(
    server: Server, web_app: App, user: User, browser: Browser
) -> None:
    with authlib_client(server, web_app) as client:
        url, _ = client.create_authorization_url(
            f"{server.issuer}/auth", code_verifier=generate_token(64), nonce=generate_token(16)
        )
        callback = browser.sign_in(url, user.username, user.password)
        with pytest.raises(OAuthError) as raised:
            client.fetch_token(
                f"{server.issuer}/token",
                authorization_response=callback,
                code_verifier=generate_token(64),
            )
    assert raised.value.error == "invalid_grant"


def test_offline_access_is_dropped_without_prompt_consent(
    server: Server, web_app: App, user: User, browser: Browser
) -> None:
    """Logto keeps ``offline_access`` only with ``prompt=consent``: no refresh token."""
    verifier = generate_token(64)
    with authlib_client(server, web_app) as client:
        url, _ = client.create_authorization_url(
            f"{server.issuer}/auth", code_verifier=verifier, nonce=generate_token(16)
        )
        callback = browser.sign_in(url, user.username, user.password)
        assert urlsplit(callback).netloc == "localhost:3000"
        token = client.fetch_token(
            f"{server.issuer}/token", authorization_response=callback, code_verifier=verifier
        )
    assert "refresh_token" not in token
    assert set(token["scope"].split()) == {"openid", "profile", "email"}
