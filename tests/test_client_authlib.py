"""Interoperability with Authlib's OAuth 2.0 / OpenID Connect client (httpx integration):
client credentials for an M2M app, and the authorization code flow with PKCE and nonce
followed by userinfo, refresh, introspection (RFC 7662) and revocation (RFC 7009); client
authentication with ``PrivateKeyJWT`` (RFC 7523); the device authorization grant (RFC 8628)
polled with ``fetch_token`` while the user approves on the hosted /device page."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE
from authlib.oidc.core import CodeIDToken, UserInfo
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jws import JWSRegistry

from tests.conftest import Api, App, User, make_app
from tests.support import Browser, Server, csrf_of, query_of

OIDC_SCOPE = "openid profile email offline_access"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


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
    # ES384 (the tenant key's) first; the others an application may register.
    assert meta["id_token_signing_alg_values_supported"] == ["ES384", "ES256", "RS256", "EdDSA"]
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


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's ``PrivateKeyJWT`` with assertions valid for 60 seconds, through Authlib's own
    ``private_key_jwt_sign(..., expires_in=)`` (short-lived assertions, as RFC 7523bis
    recommends; Authlib's default hour is accepted too, see the test below)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return private_key_jwt_sign(  # type: ignore[no-any-return]
            auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
            claims=self.claims, header=self.headers, alg=self.alg, expires_in=60,
        )  # fmt: skip


def register_keys(admin: httpx.Client, app: App, public_jwk: dict[str, Any]) -> None:
    registered = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [], "postLogoutRedirectUris": [],
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwks": {"keys": [public_jwk]}}})  # fmt: skip
    assert registered.status_code == 200, registered.text


def sent_assertions(requests: list[httpx.Request]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Header and claims of the client assertions in the requests Authlib sent, read without
    verification (what the client put in them); no secret went along."""
    found = []
    for request in requests:
        form = parse_qs(request.content.decode())
        assert form["client_assertion_type"] == [ASSERTION_TYPE]
        assert "client_secret" not in form and "authorization" not in request.headers
        compact = jws.extract_compact(form["client_assertion"][0].encode())
        found.append((dict(compact.protected), json.loads(compact.payload)))
    return found


def pkjwt_app(
    server: Server, admin: httpx.Client, api: Api, alg: str
) -> tuple[App, Any, dict[str, str] | None]:
    """An M2M app registered with a public key; the private key Authlib is given (a joserfc
    key: Authlib 1.9 warns that PEM text is deprecated) and the extra assertion header: the
    EC key's ``kid`` (Authlib does not add it by itself), or for RSA none at all."""
    app = make_app(server, "MachineToMachine", roles=[api.m2m_role])
    if alg == "ES256":
        key = ECKey.generate_key("P-256", parameters={"kid": "authlib-ec"})
        register_keys(admin, app, key.as_dict(private=False))
        return app, key, {"kid": "authlib-ec"}
    rsa = RSAKey.generate_key(2048)
    register_keys(admin, app, rsa.as_dict(private=False))
    return app, rsa, None


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_private_key_jwt_client_credentials_with_authlib(
    server: Server, admin: httpx.Client, api_resource: Api, alg: str
) -> None:
    """``OAuth2Client(token_endpoint_auth_method=PrivateKeyJWT(token_endpoint, alg=...))`` as
    Authlib documents it: two client_credentials grants (a fresh ``jti`` each), the access
    token verified against the JWKS; introspection with an assertion for that endpoint."""
    app, private, headers = pkjwt_app(server, admin, api_resource, alg)
    token_endpoint = f"{server.issuer}/token"
    sent: list[httpx.Request] = []
    method = ShortLivedPrivateKeyJWT(token_endpoint, headers=headers, alg=alg)
    with OAuth2Client(app.id, private, token_endpoint_auth_method=method, timeout=30,
                      event_hooks={"request": [sent.append]}) as client:  # fmt: skip
        tokens = [client.fetch_token(token_endpoint, grant_type="client_credentials",
                                     resource=api_resource.indicator, scope="read admin")
                  for _ in range(2)]  # fmt: skip

    assertions = sent_assertions(sent)
    assert len(assertions) == 2
    for header, claims in assertions:
        assert header["alg"] == alg
        assert header.get("kid") == ("authlib-ec" if alg == "ES256" else None)
        assert claims["iss"] == claims["sub"] == app.id
        assert claims["aud"] == token_endpoint  # Portico also accepts the issuer
        assert 0 < claims["exp"] - claims["iat"] <= 60
    assert assertions[0][1]["jti"] != assertions[1][1]["jti"]

    for token in tokens:
        assert token["token_type"] == "Bearer" and token["scope"] == "read"
        assert "refresh_token" not in token
        claims = verified(server, token["access_token"]).claims
        assert claims["sub"] == claims["client_id"] == app.id
        assert claims["aud"] == api_resource.indicator and claims["scope"] == "read"
    assert tokens[0]["access_token"] != tokens[1]["access_token"]

    # Introspection (RFC 7662) authenticated the same way; PrivateKeyJWT() without an
    # endpoint puts the URL it posts to in ``aud``.
    introspection = f"{server.issuer}/token/introspection"
    method = ShortLivedPrivateKeyJWT(headers=headers, alg=alg)
    with OAuth2Client(app.id, private, token_endpoint_auth_method=method, timeout=30) as client:
        response = client.introspect_token(introspection, token=tokens[0]["access_token"])
    assert response.status_code == 200, response.text
    described = response.json()
    assert described["active"] is True and described["client_id"] == app.id
    assert described["scope"] == "read"


def test_private_key_jwt_with_authlibs_defaults(
    server: Server, admin: httpx.Client, api_resource: Api
) -> None:
    """An Authlib client as its documentation sets it up: assertions valid for an hour
    (Authlib's default; FAPI 2.0's upper bound) and the token endpoint as audience at every
    endpoint, introspection included. Refused: another key, a client secret instead."""
    app, key, _ = pkjwt_app(server, admin, api_resource, "ES256")
    token_endpoint = f"{server.issuer}/token"
    grant = {"grant_type": "client_credentials", "resource": api_resource.indicator}

    def refused(client: OAuth2Client) -> str:
        with client, pytest.raises(OAuthError) as raised:
            client.fetch_token(token_endpoint, **grant)
        return f"{raised.value.error}: {raised.value.description}"

    other = ECKey.generate_key("P-256", parameters={"kid": "authlib-ec"})
    short = ShortLivedPrivateKeyJWT(alg="ES256")
    stranger = OAuth2Client(app.id, other, token_endpoint_auth_method=short, timeout=30)
    assert refused(stranger) == "invalid_client: the client assertion's signature is not valid"
    secret = OAuth2Client(app.id, "a-secret", timeout=30)
    assert refused(secret).startswith("invalid_client")

    method = PrivateKeyJWT(token_endpoint, alg="ES256")  # exp an hour ahead, aud the token URL
    with OAuth2Client(app.id, key, timeout=30, token_endpoint_auth_method=method) as client:
        token = client.fetch_token(token_endpoint, **grant)
        response = client.introspect_token(
            f"{server.issuer}/token/introspection", token=token["access_token"]
        )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True


def poll_device_token(client: OAuth2Client, url: str, device_code: str) -> dict[str, Any]:
    """One token request of the device grant (RFC 8628 §3.4) through Authlib."""
    return client.fetch_token(  # type: ignore[no-any-return]
        url, grant_type=DEVICE_CODE_GRANT_TYPE, device_code=device_code
    )


def approve_on_the_device_page(browser: Browser, server: Server, user: User, link: str,
                               user_code: str) -> None:  # fmt: skip
    """The user opens ``verification_uri_complete``, confirms the code, signs in."""
    page = browser.client.get(link)
    assert page.status_code == 200 and user_code in page.text
    checked = browser.client.post(f"{server.endpoint}/device", data={
        "csrf_token": csrf_of(page.text), "user_code": user_code})  # fmt: skip
    assert checked.status_code == 200 and "Living-room TV" in checked.text
    confirmed = browser.client.post(f"{server.endpoint}/device/confirm", data={
        "csrf_token": csrf_of(checked.text), "user_code": user_code,
        "decision": "allow"})  # fmt: skip
    assert confirmed.status_code == 303 and confirmed.headers["location"].endswith("/sign-in")
    sign_in = browser.get("/sign-in")
    done = browser.client.post(f"{server.endpoint}/sign-in", data={
        "csrf_token": csrf_of(sign_in.text), "identifier": user.username,
        "password": user.password})  # fmt: skip
    landed = browser.follow_until_external(done)
    assert str(landed.url).endswith("/device/success?result=approved"), landed.url


def test_device_flow_with_authlib(
    server: Server, browser: Browser, user: User, device_app: str
) -> None:
    """Authlib (which has no device-flow client helper) with its public-client
    authentication (``none``) posts to the device authorization endpoint, then polls with
    ``fetch_token(grant_type=urn:ietf:params:oauth:grant-type:device_code)`` at the
    interval the server gave: ``authorization_pending`` until the user approves on the
    hosted /device page, then the tokens; the refresh token works with Authlib too."""
    meta = metadata(server)
    token_endpoint = str(meta["token_endpoint"])
    assert DEVICE_CODE_GRANT_TYPE in meta["grant_types_supported"]  # type: ignore[operator]
    with OAuth2Client(device_app, token_endpoint_auth_method="none", timeout=30) as client:
        response = client.post(
            str(meta["device_authorization_endpoint"]),
            data={"scope": "openid profile offline_access"},
            auth=client.client_auth("none"),  # adds client_id to the body (RFC 8628 §3.1)
        )
        assert response.status_code == 200, response.text
        started = response.json()
        assert started["verification_uri"] == f"{server.endpoint}/device"
        interval = started["interval"]

        with pytest.raises(OAuthError) as raised:
            poll_device_token(client, token_endpoint, started["device_code"])
        assert raised.value.error == "authorization_pending"

        approve_on_the_device_page(browser, server, user, started["verification_uri_complete"],
                                   started["user_code"])  # fmt: skip

        deadline = time.monotonic() + 60
        while True:  # RFC 8628 §3.5: wait the interval, five seconds more after slow_down
            time.sleep(interval)
            try:
                token = poll_device_token(client, token_endpoint, started["device_code"])
                break
            except OAuthError as error:
                assert error.error == "slow_down", error.error
                assert time.monotonic() < deadline
                interval += 5

        assert token["token_type"] == "Bearer"
        assert set(token["scope"].split()) == {"openid", "profile", "offline_access"}
        id_token = verified(server, token["id_token"]).claims
        assert id_token["sub"] == user.id and id_token["aud"] == device_app
        assert id_token["iss"] == server.issuer
        me = client.get(f"{server.issuer}/me")  # the bearer token Authlib now holds
        assert me.status_code == 200 and me.json()["sub"] == user.id

        refreshed = client.refresh_token(token_endpoint, refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
        assert verified(server, refreshed["id_token"]).claims["sub"] == user.id

        # The device code redeems once.
        with pytest.raises(OAuthError) as raised:
            poll_device_token(client, token_endpoint, started["device_code"])
        assert raised.value.error == "invalid_grant"
