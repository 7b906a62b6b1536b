"""Request objects by value (RFC 9101, JAR) against the real server: the authorization request
as a JWT the client signed with one of its registered keys, at ``/oidc/auth`` and pushed
(RFC 9126 §3); the object's parameters are the request, refusals are
``invalid_request_object``."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey

from tests.conftest import App, User, make_app
from tests.support import Browser, Server, pkce_pair, query_of

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
URN = "urn:ietf:params:oauth:request_uri:"


class Keyed:
    """A web application registered for ``private_key_jwt`` with one EC key."""

    def __init__(self, app: App, key: ECKey) -> None:
        self.app, self.key = app, key
        self.verifier, self.challenge = pkce_pair()

    def sign(self, server: Server, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A request object for a code flow; ``claims`` override (``None`` removes)."""
        now = int(time.time())
        body = {"iss": self.app.id, "aud": server.issuer, "client_id": self.app.id,
                "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex,
                "response_type": "code", "redirect_uri": self.app.redirect_uri,
                "scope": "openid profile", "state": "inner", "nonce": "n-inner",
                "code_challenge": self.challenge, "code_challenge_method": "S256",
                **claims}  # fmt: skip
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": "ES256", "kid": self.key.kid, **(header or {})}, body, self.key)

    def assertion(self, server: Server) -> dict[str, str]:
        """``private_key_jwt`` client authentication (RFC 7523) for the PAR and token calls."""
        now = int(time.time())
        claims = {"iss": self.app.id, "sub": self.app.id, "aud": server.issuer, "iat": now,
                  "exp": now + 60, "jti": uuid.uuid4().hex}  # fmt: skip
        signed = jwt.encode({"alg": "ES256", "kid": self.key.kid}, claims, self.key)
        return {"client_assertion_type": ASSERTION, "client_assertion": signed}


def _register(admin: httpx.Client, app: App, **metadata: Any) -> None:
    changed = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
        "redirectUris": [app.redirect_uri], "postLogoutRedirectUris": [], **metadata}})  # fmt: skip
    assert changed.status_code == 200, changed.text


def _keyed_app(server: Server, admin: httpx.Client, **metadata: Any) -> Keyed:
    app = make_app(server, "Traditional")
    key = ECKey.generate_key("P-256", parameters={"kid": "jar-1"})
    _register(admin, app, tokenEndpointAuthMethod="private_key_jwt",
              jwks={"keys": [key.as_dict(private=False)]}, **metadata)  # fmt: skip
    return Keyed(app, key)


@pytest.fixture
def keyed(server: Server, admin: httpx.Client) -> Keyed:
    return _keyed_app(server, admin)


def _auth_url(server: Server, **params: str) -> str:
    return f"{server.issuer}/auth?{urlencode(params)}"


def _refused_page(browser: Browser, url: str) -> str:
    """The error page (no redirect): its text, which names the error code."""
    response = browser.client.get(url)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "location" not in response.headers
    return response.text


def _error_redirect(browser: Browser, url: str) -> dict[str, str]:
    response = browser.client.get(url)
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return query_of(response.headers["location"])


def _redeem(http: httpx.Client, server: Server, keyed: Keyed, callback: str) -> httpx.Response:
    return http.post("/oidc/token", data={
        "grant_type": "authorization_code", "code": query_of(callback)["code"],
        "redirect_uri": keyed.app.redirect_uri, "code_verifier": keyed.verifier,
        "client_id": keyed.app.id, **keyed.assertion(server)})  # fmt: skip


def _id_token_claims(server: Server, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks", timeout=30).json())
    return dict(jwt.decode(id_token, keys, algorithms=["ES384"]).claims)


def test_rfc9101_6_3_a_signed_request_object_signs_in_and_yields_tokens(
    http: httpx.Client, server: Server, keyed: Keyed, user: User, browser: Browser
) -> None:
    request = keyed.sign(server, max_age=600, header={"typ": "oauth-authz-req+jwt"})
    url = _auth_url(server, client_id=keyed.app.id, request=request)
    callback = browser.sign_in(url, user.username, user.password)
    returned = query_of(callback)
    assert callback.startswith(keyed.app.redirect_uri) and returned["code"]
    assert returned["state"] == "inner" and returned["iss"] == server.issuer
    tokens = _redeem(http, server, keyed, callback)
    assert tokens.status_code == 200, tokens.text
    claims = _id_token_claims(server, tokens.json()["id_token"])
    assert claims["nonce"] == "n-inner" and claims["aud"] == keyed.app.id


def test_rfc9101_6_3_only_the_objects_parameters_are_used(
    http: httpx.Client, server: Server, keyed: Keyed, user: User, browser: Browser
) -> None:
    """Outer parameters that would fail (``prompt=none``, ``response_type=token``) or differ
    (``state``, ``nonce``, ``scope``) are ignored; only ``client_id`` is read outside."""
    url = _auth_url(server, client_id=keyed.app.id, request=keyed.sign(server),
                    response_type="token", prompt="none", state="outer", nonce="n-outer",
                    scope="openid email", redirect_uri="https://evil.example/cb")  # fmt: skip
    callback = browser.sign_in(url, user.username, user.password)
    assert callback.startswith(keyed.app.redirect_uri)
    assert query_of(callback)["state"] == "inner"
    tokens = _redeem(http, server, keyed, callback)
    assert tokens.status_code == 200, tokens.text
    assert set(tokens.json()["scope"].split()) == {"openid", "profile"}
    claims = _id_token_claims(server, tokens.json()["id_token"])
    assert claims["nonce"] == "n-inner" and "email" not in claims


def test_rfc9101_6_3_refusals_are_invalid_request_object(
    server: Server, keyed: Keyed, browser: Browser
) -> None:
    """Bad signature, claims or lifetime: ``invalid_request_object``, sent to the outer
    ``redirect_uri`` (registered) with the outer ``state``."""
    now = int(time.time())
    other_key = ECKey.generate_key("P-256", parameters={"kid": "jar-1"})
    with pytest.warns(Warning):  # joserfc warns about "none", as it should
        unsigned = jwt.encode({"alg": "none"}, {"client_id": keyed.app.id, "aud": server.issuer,
                              "exp": now + 60, "redirect_uri": keyed.app.redirect_uri}, None,
                              algorithms=["none"])  # fmt: skip
    mac = jwt.encode({"alg": "HS256"}, {"client_id": keyed.app.id, "aud": server.issuer,
                     "exp": now + 60}, OctKey.generate_key(256))  # fmt: skip
    used = keyed.sign(server)
    first = browser.client.get(_auth_url(server, client_id=keyed.app.id, request=used))
    assert first.status_code in (302, 303)  # on to the sign-in page
    cases = {
        "§10.1 alg none": unsigned,
        "§10.1 a MAC": mac,
        "§6.3 another key": Keyed(keyed.app, other_key).sign(server),
        "§6.3 wrong audience": keyed.sign(server, aud="https://other.example"),
        "§6.3 audience list without the issuer": keyed.sign(server, aud=["https://o.example"]),
        "§6.3 no audience": keyed.sign(server, aud=None),
        "§5 client_id mismatch": keyed.sign(server, client_id="someone-else"),
        "§5 no client_id claim": keyed.sign(server, client_id=None),
        "§6.3 iss another client": keyed.sign(server, iss="someone-else"),
        "§10 expired": keyed.sign(server, iat=now - 600, nbf=now - 600, exp=now - 300),
        "§10 no exp": keyed.sign(server, exp=None),
        "§10 lives too long": keyed.sign(server, iat=None, nbf=None, exp=now + 7200),
        "§10 nbf over an hour before exp": keyed.sign(server, nbf=now - 3700, exp=now + 60),
        "§10 iat in the future": keyed.sign(server, iat=now + 600, nbf=None),
        "§4 request inside": keyed.sign(server, request="x.y.z"),
        "§4 request_uri inside": keyed.sign(server, request_uri=URN + "x"),
        "§10.8 another typ": keyed.sign(server, header={"typ": "at+jwt"}),
        "replayed jti": used,
        "not a JWT": "not-a-jwt",
        "empty": "",
    }  # fmt: skip
    for name, request in cases.items():
        url = _auth_url(server, client_id=keyed.app.id, request=request,
                        redirect_uri=keyed.app.redirect_uri, state="outer")  # fmt: skip
        query = _error_redirect(browser, url)
        assert query["error"] == "invalid_request_object", (name, query)
        assert query["state"] == "outer" and query["iss"] == server.issuer, (name, query)


def test_rfc9101_6_3_an_unverified_objects_redirect_uri_is_not_used(
    server: Server, admin: httpx.Client, browser: Browser
) -> None:
    """Without an outer ``redirect_uri`` a bad object is answered on the error page, even
    when the ``redirect_uri`` inside it is registered: nothing in it is trusted yet."""
    keyed = _keyed_app(server, admin)
    forged = Keyed(keyed.app, ECKey.generate_key("P-256", parameters={"kid": "jar-1"}))
    url = _auth_url(server, client_id=keyed.app.id, request=forged.sign(server))
    assert "invalid_request_object" in _refused_page(browser, url)
    # An outer redirect_uri the client did not register is no better.
    url = _auth_url(server, client_id=keyed.app.id, request=forged.sign(server),
                    redirect_uri="https://evil.example/cb")  # fmt: skip
    assert "invalid_request_object" in _refused_page(browser, url)


def test_rfc9101_6_3_the_objects_own_redirect_uri_is_checked(
    server: Server, keyed: Keyed, browser: Browser
) -> None:
    """A valid object naming an unregistered ``redirect_uri``: error page; a valid object with
    a later problem: redirected to its (registered) ``redirect_uri`` with its ``state``."""
    bad_uri = keyed.sign(server, redirect_uri="https://evil.example/cb")
    page = _refused_page(browser, _auth_url(server, client_id=keyed.app.id, request=bad_uri))
    assert "invalid_request" in page
    bad_type = keyed.sign(server, response_type="token")
    query = _error_redirect(browser, _auth_url(server, client_id=keyed.app.id, request=bad_type))
    assert query["error"] == "unsupported_response_type" and query["state"] == "inner"


def test_rfc9101_5_the_outer_client_id_is_required(
    server: Server, keyed: Keyed, browser: Browser
) -> None:
    page = _refused_page(browser, _auth_url(server, request=keyed.sign(server)))
    assert "invalid_request" in page and "client_id" in page


def test_rfc9101_5_request_and_request_uri_must_not_be_used_together(
    http: httpx.Client, server: Server, keyed: Keyed, browser: Browser
) -> None:
    url = _auth_url(server, client_id=keyed.app.id, request=keyed.sign(server),
                    request_uri="https://client.example/r.jwt",
                    redirect_uri=keyed.app.redirect_uri, state="outer")  # fmt: skip
    query = _error_redirect(browser, url)
    assert query["error"] == "invalid_request" and query["state"] == "outer"
    assert query["error_description"] == (
        "request and request_uri parameters MUST NOT be used together"
    )
    pushed = http.post("/oidc/request", data={"request": keyed.sign(server),
                                              **keyed.assertion(server)})  # fmt: skip
    assert pushed.status_code == 201, pushed.text
    url = _auth_url(server, client_id=keyed.app.id, request_uri=pushed.json()["request_uri"],
                    request=keyed.sign(server))  # fmt: skip
    page = _refused_page(browser, url)
    assert "invalid_request" in page and "MUST NOT be used together" in page


def test_rfc9101_a_client_without_keys_cannot_sign_a_request_object(
    server: Server, web_app: App, browser: Browser
) -> None:
    stranger = Keyed(web_app, ECKey.generate_key("P-256", parameters={"kid": "jar-1"}))
    url = _auth_url(server, client_id=web_app.id, request=stranger.sign(server),
                    redirect_uri=web_app.redirect_uri)  # fmt: skip
    assert _error_redirect(browser, url)["error"] == "invalid_request_object"


def test_rfc9101_10_4_a_request_uri_by_reference_is_still_refused(
    server: Server, keyed: Keyed, browser: Browser
) -> None:
    url = _auth_url(server, client_id=keyed.app.id, redirect_uri=keyed.app.redirect_uri,
                    response_type="code", scope="openid", code_challenge=keyed.challenge,
                    code_challenge_method="S256",
                    request_uri="https://client.example/r.jwt")  # fmt: skip
    assert _error_redirect(browser, url)["error"] == "request_uri_not_supported"


def test_rfc9126_3_a_pushed_request_may_be_a_request_object(
    http: httpx.Client, server: Server, keyed: Keyed, user: User, browser: Browser
) -> None:
    """The push carries only ``request`` (and client authentication); the pushed request is
    the object's contents."""
    pushed = http.post("/oidc/request", data={"request": keyed.sign(server),
                                              **keyed.assertion(server)})  # fmt: skip
    assert pushed.status_code == 201, pushed.text
    url = _auth_url(server, client_id=keyed.app.id, request_uri=pushed.json()["request_uri"])
    callback = browser.sign_in(url, user.username, user.password)
    assert callback.startswith(keyed.app.redirect_uri)
    assert query_of(callback)["state"] == "inner"
    assert _redeem(http, server, keyed, callback).status_code == 200
    # A bad object is answered to the client, as JSON.
    refused = http.post("/oidc/request", data={
        "request": keyed.sign(server, aud="https://other.example"),
        **keyed.assertion(server)})  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request_object"


def test_rfc9101_10_5_a_client_may_require_signed_request_objects(
    http: httpx.Client, server: Server, admin: httpx.Client, browser: Browser
) -> None:
    keyed = _keyed_app(server, admin, requireSignedRequestObject=True)
    plain = _auth_url(server, client_id=keyed.app.id, redirect_uri=keyed.app.redirect_uri,
                      response_type="code", scope="openid", state="s",
                      code_challenge=keyed.challenge, code_challenge_method="S256")  # fmt: skip
    query = _error_redirect(browser, plain)
    assert query["error"] == "invalid_request" and "request object" in query["error_description"]
    push = {"response_type": "code", "redirect_uri": keyed.app.redirect_uri, "scope": "openid",
            "code_challenge": keyed.challenge, "code_challenge_method": "S256"}  # fmt: skip
    plain_push = http.post("/oidc/request", data={**push, **keyed.assertion(server)})
    assert plain_push.status_code == 400 and plain_push.json()["error"] == "invalid_request"
    signed = _auth_url(server, client_id=keyed.app.id, request=keyed.sign(server))
    assert browser.client.get(signed).status_code in (302, 303)  # on to the sign-in page
    pushed = http.post("/oidc/request", data={"request": keyed.sign(server),
                                              **keyed.assertion(server)})  # fmt: skip
    assert pushed.status_code == 201, pushed.text
    through = _auth_url(server, client_id=keyed.app.id, request_uri=pushed.json()["request_uri"])
    response = browser.client.get(through)
    assert response.status_code in (302, 303)
    assert not response.headers["location"].startswith(keyed.app.redirect_uri)


def test_rfc9101_discovery_announces_request_objects(http: httpx.Client) -> None:
    doc = http.get("/oidc/.well-known/openid-configuration").json()
    assert doc["request_parameter_supported"] is True
    assert doc["request_uri_parameter_supported"] is False
    assert "ES256" in doc["request_object_signing_alg_values_supported"]
    assert "none" not in doc["request_object_signing_alg_values_supported"]
