"""Per-application ID-token signing algorithm (RFC 7591 ``id_token_signed_response_alg`` as
``oidcClientMetadata.idTokenSignedResponseAlg``): ES384 by default, RS256, ES256 or EdDSA on
request, each with its own key published in the JWKS; retired keys stay published until the
tokens they signed have expired."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import User, make_app
from tests.flows import tokens_for
from tests.support import Browser, Server

ALL = ["ES384", "ES256", "RS256", "EdDSA"]


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def _jwks(server: Server) -> KeySet:
    return KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks").json())


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_an_application_gets_id_tokens_in_its_algorithm(
    browser: Browser, server: Server, http: httpx.Client, user: User, alg: str
) -> None:
    app = make_app(server, "Traditional", oidc_extras={"idTokenSignedResponseAlg": alg})
    deadline = time.monotonic() + 5
    while True:  # the key ring is re-read within a second of the new key
        tokens = tokens_for(browser, server, http, app, user)
        header = _header(tokens["id_token"])
        if header["alg"] == alg or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert header["alg"] == alg
    keys = _jwks(server)
    assert header["kid"] in {k.kid for k in keys}
    claims = jwt.decode(tokens["id_token"], keys, algorithms=[alg]).claims
    assert claims["aud"] == app.id
    # at_hash with the algorithm's hash (SHA-512 for Ed25519, OIDC errata)
    hash_ = {"RS256": hashlib.sha256, "ES256": hashlib.sha256, "EdDSA": hashlib.sha512}[alg]
    full = hash_(tokens["access_token"].encode()).digest()
    expected = base64.urlsafe_b64encode(full[: len(full) // 2]).rstrip(b"=").decode()
    assert claims["at_hash"] == expected
    # other applications keep the tenant's ES384
    other = make_app(server, "Traditional")
    assert _header(tokens_for(browser, server, http, other, user)["id_token"])["alg"] == "ES384"


def test_an_unknown_algorithm_is_refused(admin: httpx.Client, server: Server) -> None:
    app = make_app(server, "Traditional")
    for alg in ("HS256", "none", "RS512"):
        refused = admin.patch(f"/applications/{app.id}", json={"oidcClientMetadata": {
            "redirectUris": [app.redirect_uri], "postLogoutRedirectUris": [],
            "idTokenSignedResponseAlg": alg}})  # fmt: skip
        assert refused.status_code == 400 and "idTokenSignedResponseAlg" in refused.text


def test_discovery_lists_every_algorithm(http: httpx.Client) -> None:
    config = http.get("/oidc/.well-known/openid-configuration").json()
    assert config["id_token_signing_alg_values_supported"][0] == "ES384"  # the tenant key first
    assert set(ALL) <= set(config["id_token_signing_alg_values_supported"])
