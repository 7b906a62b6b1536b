"""DPoP (RFC 9449) against the real server: proofs checked as §4.3 lists (each refusal with its
exact error), server nonces (§8), DPoP-bound access tokens (``cnf.jkt``) at userinfo and in
introspection, bound refresh tokens of public clients (§5), ``dpop_jkt`` (§10) and a
per-application requirement (§5.2)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, OctKey

from tests.conftest import Api, App, User, make_app
from tests.flows import get_code
from tests.support import Browser, Server


class Holder:
    """A client's DPoP key and the proofs it makes (the server's latest nonce kept)."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")
        self.nonce: str | None = None

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(self, htm: str, htu: str, *, access_token: str | None = None,
              header: dict[str, Any] | None = None, **claims: Any) -> str:  # fmt: skip
        body: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu,
                                "iat": int(time.time())}  # fmt: skip
        if self.nonce:
            body["nonce"] = self.nonce
        if access_token:
            digest = hashlib.sha256(access_token.encode()).digest()
            body["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False),
                     **(header or {})}  # fmt: skip
        return jws.serialize_compact(protected, json.dumps(body).encode(), self.key)


def _post_token(
    http: httpx.Client,
    holder: Holder,
    server: Server,
    data: dict[str, str],
    auth: dict[str, str] | None = None,
    proof: str | None = None,
) -> httpx.Response:
    """POST to the token endpoint with a proof; once more with the nonce if asked (§8)."""
    url = f"{server.issuer}/token"
    for _ in range(2):
        value = proof or holder.proof("POST", url)
        response = http.post("/oidc/token", data=data, headers={**(auth or {}), "DPoP": value})
        if "dpop-nonce" in response.headers:
            holder.nonce = response.headers["dpop-nonce"]
        if response.status_code != 400 or response.json()["error"] != "use_dpop_nonce":
            return response
        proof = None
    return response


def _cc(api: Api) -> dict[str, str]:
    return {"grant_type": "client_credentials", "resource": api.indicator, "scope": "read"}


@pytest.fixture
def m2m(server: Server, api_resource: Api) -> App:
    return make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])


def _claims(server: Server, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["ES384"]).claims)


def test_rfc9449_8_the_token_endpoint_asks_for_a_nonce_then_binds_the_token(
    http: httpx.Client, server: Server, m2m: App, api_resource: Api
) -> None:
    holder = Holder()
    first = http.post("/oidc/token", data=_cc(api_resource), headers={
        **m2m.basic(), "DPoP": holder.proof("POST", f"{server.issuer}/token")})  # fmt: skip
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    assert first.headers["dpop-nonce"]
    holder.nonce = first.headers["dpop-nonce"]
    response = _post_token(http, holder, server, _cc(api_resource), m2m.basic())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert _claims(server, body["access_token"])["cnf"] == {"jkt": holder.jkt}  # §6.1
    assert response.headers["dpop-nonce"]
    introspected = http.post("/oidc/token/introspection", data={"token": body["access_token"]},
                             headers=m2m.basic()).json()  # fmt: skip
    assert introspected["token_type"] == "DPoP" and introspected["cnf"]["jkt"] == holder.jkt


def test_without_dpop_the_token_stays_a_bearer_token(
    http: httpx.Client, server: Server, m2m: App, api_resource: Api
) -> None:
    body = http.post("/oidc/token", data=_cc(api_resource), headers=m2m.basic()).json()
    assert body["token_type"] == "Bearer" and "cnf" not in _claims(server, body["access_token"])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("replayed", "invalid_dpop_proof"),
        ("wrong_htu", "invalid_dpop_proof"),
        ("wrong_htm", "invalid_dpop_proof"),
        ("stale_iat", "invalid_dpop_proof"),
        ("future_iat", "invalid_dpop_proof"),
        ("wrong_typ", "invalid_dpop_proof"),
        ("symmetric_alg", "invalid_dpop_proof"),
        ("private_jwk", "invalid_dpop_proof"),
        ("other_key_signed", "invalid_dpop_proof"),
        ("no_jti", "invalid_dpop_proof"),
        ("forged_nonce", "use_dpop_nonce"),
        ("two_headers", "invalid_dpop_proof"),
    ],
)
def test_rfc9449_4_3_proof_checks(
    http: httpx.Client, server: Server, m2m: App, api_resource: Api, case: str, expected: str
) -> None:
    holder = Holder()
    url = f"{server.issuer}/token"
    assert _post_token(http, holder, server, _cc(api_resource), m2m.basic()).status_code == 200
    headers = {**m2m.basic()}
    proof = holder.proof("POST", url)
    if case == "replayed":
        assert http.post("/oidc/token", data=_cc(api_resource),
                         headers={**headers, "DPoP": proof}).status_code == 200  # fmt: skip
    elif case == "wrong_htu":
        proof = holder.proof("POST", f"{server.issuer}/token/introspection")
    elif case == "wrong_htm":
        proof = holder.proof("GET", url)
    elif case == "stale_iat":
        proof = holder.proof("POST", url, iat=int(time.time()) - 3600)
    elif case == "future_iat":
        proof = holder.proof("POST", url, iat=int(time.time()) + 3600)
    elif case == "wrong_typ":
        proof = holder.proof("POST", url, header={"typ": "JWT"})
    elif case == "symmetric_alg":
        secret = OctKey.generate_key(256)
        body = json.dumps({"jti": "x1", "htm": "POST", "htu": url, "iat": int(time.time()),
                           "nonce": holder.nonce}).encode()  # fmt: skip
        proof = jws.serialize_compact({"typ": "dpop+jwt", "alg": "HS256",
                                       "jwk": secret.as_dict()}, body, secret)  # fmt: skip
    elif case == "private_jwk":
        proof = holder.proof("POST", url, header={"jwk": holder.key.as_dict(private=True)})
    elif case == "other_key_signed":
        other = ECKey.generate_key("P-256")
        proof = holder.proof("POST", url, header={"jwk": other.as_dict(private=False)})
    elif case == "no_jti":
        proof = holder.proof("POST", url, jti=None)
    elif case == "forged_nonce":
        proof = holder.proof("POST", url, nonce=f"{int(time.time()) // 300}.{'0' * 64}")
    if case == "two_headers":
        two = [("DPoP", proof), ("DPoP", holder.proof("POST", url))]
        request = http.build_request("POST", "/oidc/token", data=_cc(api_resource),
                                     headers=headers)  # fmt: skip
        request.headers = httpx.Headers([*request.headers.multi_items(), *two])
        response = http.send(request)
    else:
        response = http.post("/oidc/token", data=_cc(api_resource),
                             headers={**headers, "DPoP": proof})  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json()["error"] == expected


def _dpop_code(browser: Browser, server: Server, app: App, user: User,
               **params: str) -> tuple[str, str]:  # fmt: skip
    return get_code(browser, server, app, user, scope="openid offline_access profile",
                    prompt="consent", **params)  # fmt: skip


def _redeem(http: httpx.Client, holder: Holder, server: Server, app: App, code: str,
            verifier: str) -> httpx.Response:  # fmt: skip
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri,
            "code_verifier": verifier, "client_id": app.id}  # fmt: skip
    return _post_token(http, holder, server, data)


def test_rfc9449_7_a_bound_token_at_userinfo(
    browser: Browser, server: Server, http: httpx.Client, spa_app: App, user: User
) -> None:
    holder = Holder()
    code, verifier = _dpop_code(browser, server, spa_app, user)
    tokens = _redeem(http, holder, server, spa_app, code, verifier).json()
    assert tokens["token_type"] == "DPoP"
    access = tokens["access_token"]
    me = f"{server.issuer}/me"
    # §7.2: never as a Bearer token
    as_bearer = http.get("/oidc/me", headers={"Authorization": f"Bearer {access}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"
    assert as_bearer.headers["www-authenticate"].startswith("DPoP ")
    # without a proof, with a proof lacking ath, with another key's proof
    no_proof = http.get("/oidc/me", headers={"Authorization": f"DPoP {access}"})
    assert no_proof.status_code == 401 and no_proof.json()["error"] == "invalid_dpop_proof"
    no_ath = http.get("/oidc/me", headers={"Authorization": f"DPoP {access}",
                                           "DPoP": holder.proof("GET", me)})  # fmt: skip
    assert no_ath.status_code == 401 and no_ath.json()["error"] == "invalid_dpop_proof"
    thief = Holder()
    stolen_proof = thief.proof("GET", me, access_token=access)
    stolen = http.get("/oidc/me", headers={"Authorization": f"DPoP {access}", "DPoP": stolen_proof})
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_dpop_proof"
    good_proof = holder.proof("GET", me, access_token=access)
    good = http.get("/oidc/me", headers={"Authorization": f"DPoP {access}", "DPoP": good_proof})
    assert good.status_code == 200 and good.json()["sub"]
    introspected = http.post("/oidc/token/introspection", data={"token": access,
                             "client_id": spa_app.id}).json()  # fmt: skip
    assert introspected["cnf"] == {"jkt": holder.jkt} and introspected["token_type"] == "DPoP"


def test_rfc9449_5_a_public_clients_refresh_token_is_bound(
    browser: Browser, server: Server, http: httpx.Client, spa_app: App, user: User
) -> None:
    holder = Holder()
    code, verifier = _dpop_code(browser, server, spa_app, user)
    refresh = _redeem(http, holder, server, spa_app, code, verifier).json()["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": spa_app.id}
    plain = http.post("/oidc/token", data=data)
    assert plain.status_code == 400 and plain.json()["error"] == "invalid_grant"
    thief = Holder()
    thief.nonce = holder.nonce
    stolen = _post_token(http, thief, server, data)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    refreshed = _post_token(http, holder, server, data)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "DPoP"


def test_a_confidential_clients_refresh_token_is_not_bound(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    holder = Holder()
    code, verifier = _dpop_code(browser, server, web_app, user)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": web_app.redirect_uri,
            "code_verifier": verifier}  # fmt: skip
    tokens = _post_token(http, holder, server, data, web_app.basic()).json()
    assert tokens["token_type"] == "DPoP"
    refreshed = http.post("/oidc/token", headers=web_app.basic(), data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})  # fmt: skip
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "Bearer"


def test_rfc9449_10_dpop_jkt_binds_the_code(
    browser: Browser, server: Server, http: httpx.Client, spa_app: App, user: User
) -> None:
    holder, thief = Holder(), Holder()
    code, verifier = _dpop_code(browser, server, spa_app, user, dpop_jkt=holder.jkt)
    stolen = _redeem(http, thief, server, spa_app, code, verifier)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    code, verifier = _dpop_code(browser, server, spa_app, user, dpop_jkt=holder.jkt)
    assert _redeem(http, holder, server, spa_app, code, verifier).status_code == 200


def test_rfc9449_10_1_a_proof_at_the_par_endpoint_binds_the_code(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User
) -> None:
    holder = Holder()
    url = f"{server.issuer}/request"
    params = {"response_type": "code", "redirect_uri": web_app.redirect_uri, "scope": "openid",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "code_challenge_method": "S256"}  # fmt: skip
    first = http.post(
        "/oidc/request", data=params, headers={**web_app.basic(), "DPoP": holder.proof("POST", url)}
    )
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    holder.nonce = first.headers["dpop-nonce"]
    pushed = http.post(
        "/oidc/request", data=params, headers={**web_app.basic(), "DPoP": holder.proof("POST", url)}
    )
    assert pushed.status_code == 201, pushed.text
    proof = holder.proof("POST", url)
    mismatch = http.post("/oidc/request", data={**params, "dpop_jkt": Holder().jkt},
                         headers={**web_app.basic(), "DPoP": proof})  # fmt: skip
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_dpop_proof"


def test_rfc9449_5_2_an_application_can_require_dpop(
    http: httpx.Client, server: Server, admin: httpx.Client, m2m: App, api_resource: Api
) -> None:
    metadata = {"redirectUris": [], "postLogoutRedirectUris": [], "dpopBoundAccessTokens": True}
    changed = admin.patch(f"/applications/{m2m.id}", json={"oidcClientMetadata": metadata})
    assert changed.status_code == 200, changed.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the client cache
        refused = http.post("/oidc/token", data=_cc(api_resource), headers=m2m.basic())
        if refused.status_code == 400:
            break
        time.sleep(0.3)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    assert _post_token(http, Holder(), server, _cc(api_resource), m2m.basic()).status_code == 200


def test_discovery_lists_dpop_algorithms(http: httpx.Client) -> None:
    config = http.get("/oidc/.well-known/openid-configuration").json()
    assert "ES256" in config["dpop_signing_alg_values_supported"]
    assert "HS256" not in config["dpop_signing_alg_values_supported"]


def test_rfc9449_7_the_management_api_checks_the_binding(
    http: httpx.Client, server: Server
) -> None:
    """The Management API is a resource server too: a bound token only with its proof."""
    app = make_app(server, "MachineToMachine", roles=["Logto Management API access"])
    holder = Holder()
    data = {"grant_type": "client_credentials", "resource": "https://default.logto.app/api",
            "scope": "all"}  # fmt: skip
    body = _post_token(http, holder, server, data, app.basic()).json()
    token = body["access_token"]
    assert body["token_type"] == "DPoP"
    url = f"{server.issuer.removesuffix('/oidc')}/api/roles"
    as_bearer = http.get("/api/roles", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401
    no_proof = http.get("/api/roles", headers={"Authorization": f"DPoP {token}"})
    assert no_proof.status_code == 401
    thief = Holder().proof("GET", url, access_token=token)
    stolen = http.get("/api/roles", headers={"Authorization": f"DPoP {token}", "DPoP": thief})
    assert stolen.status_code == 401
    proof = holder.proof("GET", url, access_token=token)
    good = http.get("/api/roles", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert good.status_code == 200, good.text
    replay = http.get("/api/roles", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert replay.status_code == 401
