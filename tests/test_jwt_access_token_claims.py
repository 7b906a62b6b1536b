"""JWT access tokens are checked as RFC 9068 §4 and RFC 8725 ask wherever Portico accepts one
(the Management API guard, introspection): tokens signed with the server's own key, whose
claims are wrong, must be refused. Signing them needs the key, so these tests read it from
the database, as an attacker who had it would."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwt

from portico.services import keys
from portico.storage import configs
from tests.conftest import App
from tests.management import MANAGEMENT_API, error
from tests.support import Server

HOUR = 3600


@pytest.fixture(scope="module")
def sign(server: Server) -> Any:
    async def ring(conn):  # type: ignore[no-untyped-def]
        return keys.load_keyring(await configs.get(conn, "default", keys.PRIVATE_KEYS))

    key_ring = server.db(ring)

    def signed(claims: dict[str, Any], typ: str | None = "at+jwt") -> str:
        header: dict[str, Any] = {"alg": key_ring.alg, "kid": key_ring.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key_ring.signing_key, algorithms=[key_ring.alg])

    return signed


def _claims(server: Server, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "jti": "j1", "sub": "attacker-app", "client_id": "attacker-app", "iat": now,
        "exp": now + HOUR, "scope": "all", "iss": server.issuer, "aud": MANAGEMENT_API,
    }  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _api(server: Server, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.endpoint}/api/applications", headers={"Authorization": f"Bearer {token}"}
    )


def test_the_guard_refuses_tokens_whose_claims_are_wrong(server: Server, sign: Any) -> None:
    now = int(time.time())
    good = sign(_claims(server))
    assert _api(server, good).status_code == 200  # the forging itself works
    bad = {
        "nbf in the future": _claims(server, nbf=now + HOUR),
        "iat in the future": _claims(server, iat=now + HOUR, exp=now + 2 * HOUR),
        "exp in milliseconds": _claims(server, exp=(now + HOUR) * 1000),
        "no exp": _claims(server, exp=None),
        "no iat": _claims(server, iat=None),
        "exp as a string": _claims(server, exp=str(now + HOUR)),
        "exp before iat": _claims(server, iat=now, exp=now - 1),
        "expired": _claims(server, iat=now - 2 * HOUR, exp=now - HOUR),
        "another issuer": _claims(server, iss="https://evil.example/oidc"),
        "another audience": _claims(server, aud="https://api.example.com"),
    }
    for label, claims in bad.items():
        assert _api(server, sign(claims)).status_code == 401, label
    # RFC 9068 §4 / RFC 8725 §3.11: an ID token (or any JWT without typ at+jwt) is not one.
    for typ in (None, "JWT"):
        error(_api(server, sign(_claims(server), typ=typ)), 401, "auth.unauthorized")
    assert _api(server, sign(_claims(server), typ="application/at+jwt")).status_code == 200


def test_introspection_shares_the_checks(server: Server, web_app: App, sign: Any) -> None:
    now = int(time.time())

    def active(token: str) -> bool:
        response = httpx.post(
            f"{server.issuer}/token/introspection", headers=web_app.basic(), data={"token": token}
        )
        assert response.status_code == 200, response.text
        return bool(response.json()["active"])

    assert active(sign(_claims(server)))
    for claims in (
        _claims(server, nbf=now + HOUR),
        _claims(server, iat=now + HOUR, exp=now + 2 * HOUR),
        _claims(server, exp=(now + HOUR) * 1000),
        _claims(server, exp="soon"),
    ):
        assert not active(sign(claims)), claims
    assert not active(sign(_claims(server), typ=None))
