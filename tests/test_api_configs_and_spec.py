"""Signing and cookie keys through ``/api/configs/oidc``; ``/api/status``; ``/api/swagger.json``
as a valid OpenAPI 3 document listing every route; and the guard on every guarded operation
(401 without a token, 403 without scope ``all``), driven by that document."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from joserfc import jwt
from openapi_spec_validator import validate

from portico.protocol.provider import KEY_REFRESH_SECONDS
from portico.storage import configs
from tests.management import client_with, error, invalid_fields, links, token_for
from tests.support import Server

METHODS = ("get", "post", "put", "patch", "delete")


def _spec(server: Server) -> dict:
    response = httpx.get(f"{server.endpoint}/api/swagger.json")
    assert response.status_code == 200
    return response.json()


def test_status_needs_no_token(anonymous: httpx.Client) -> None:
    response = anonymous.get("/status")
    assert response.status_code == 204 and response.content == b""


def test_swagger_is_valid_openapi_3_and_lists_every_route(server: Server) -> None:
    spec = _spec(server)
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["servers"] == [{"url": "/api"}]
    api_app = next(r for r in server._server.config.app.routes if getattr(r, "path", "") == "/api")
    declared = {
        (method.lower(), route.path)
        for route in _served_routes(api_app.app.built.routes)  # built: swagger.json was served
        if route.path != "/swagger.json"
        for method in route.methods
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(m, p) for p, item in spec["paths"].items() for m in item if m in METHODS}
    assert declared == documented
    assert len(documented) >= 78
    operation_ids = [
        op["operationId"]
        for item in spec["paths"].values()
        for m, op in item.items()
        if m in METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert {
        "ListUsers",
        "CreateUser",
        "VerifyUserPassword",
        "AssignApplicationRoles",
        "GetOidcKeys",
        "RotateOidcKeys",
        "DeleteOidcKey",
    } <= set(operation_ids)
    create_user = spec["components"]["schemas"]["CreateUser"]
    assert create_user["additionalProperties"] is False
    assert "password" in create_user["properties"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def _served_routes(routes: list) -> list:  # type: ignore[type-arg]
    """Every endpoint the API app serves, including those of included routers."""
    out = []
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's included router
            out += _served_routes(route.original_router.routes)
        elif hasattr(route, "methods"):
            out.append(route)
    return out


def _guarded_operations(server: Server) -> list[tuple[str, str]]:
    spec = _spec(server)
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS and op.get("security")
    ]


def test_every_guarded_route_answers_401_then_403(
    server: Server, anonymous: httpx.Client, weak: httpx.Client
) -> None:
    operations = _guarded_operations(server)
    assert len(operations) >= 75
    for method, path in operations:
        missing = anonymous.request(method, path)
        assert missing.status_code == 401, (method, path, missing.text)
        assert missing.json()["code"] == "auth.authorization_header_missing"
        assert missing.headers["www-authenticate"] == "Bearer"
        forbidden = weak.request(method, path)
        assert forbidden.status_code == 403, (method, path, forbidden.text)
        assert forbidden.json()["code"] == "auth.forbidden"
    public = {
        p
        for p, item in _spec(server)["paths"].items()
        for m, op in item.items()
        if m in METHODS and not op.get("security")
    }
    # The Experience API is bound to the interaction cookie instead (test_experience_api.py).
    cookie_bound = {p for p in public if p.startswith(("/experience", "/interaction/"))}
    assert public - cookie_bound == {"/status", "/.well-known/sign-in-exp"}


def test_signing_key_rotation(server: Server) -> None:
    """Own tokens: this test deletes the key that signed the module's other tokens."""
    _, token = token_for(server, ["Logto Management API access"])
    with client_with(server, token) as admin:
        keys = admin.get("/configs/oidc/private-keys")
        assert keys.status_code == 200
        [current] = keys.json()
        assert current["status"] == "Current" and current["signingKeyAlgorithm"] == "EC"
        assert "value" not in current and "PRIVATE KEY" not in keys.text
        rotated = admin.post("/configs/oidc/private-keys/rotate", json={})
        assert rotated.status_code == 200, rotated.text
        new, old = rotated.json()
        assert (new["status"], old["status"], old["id"]) == ("Current", "Previous", current["id"])
        assert "PRIVATE KEY" not in rotated.text
        time.sleep(KEY_REFRESH_SECONDS + 0.5)  # every process re-reads the keys this often
        jwks = httpx.get(f"{server.issuer}/jwks").json()
        # (keys of other algorithms, made for applications that asked for them, aside)
        assert {k["kid"] for k in jwks["keys"] if k["alg"] == "ES384"} == {new["id"], old["id"]}
        # the old key still verifies the token it signed; new tokens use the new key
        assert admin.get("/configs/oidc/private-keys").status_code == 200
        _, fresh = token_for(server, ["Logto Management API access"])
        assert (
            jwt.decode(fresh, jwks_key_set(jwks), algorithms=["ES384"]).header["kid"] == new["id"]
        )
    with client_with(server, fresh) as admin:
        error(
            admin.delete(f"/configs/oidc/private-keys/{new['id']}"),
            422,
            "oidc.only_previous_key_can_be_deleted",
        )
        error(admin.delete("/configs/oidc/private-keys/nope"), 404, "oidc.key_not_found")
        assert admin.delete(f"/configs/oidc/private-keys/{old['id']}").status_code == 204
        error(admin.delete(f"/configs/oidc/private-keys/{new['id']}"), 422, "oidc.key_required")
        assert [k["id"] for k in admin.get("/configs/oidc/private-keys").json()] == [new["id"]]
        time.sleep(KEY_REFRESH_SECONDS + 0.5)
        with client_with(server, token) as stale:
            error(stale.get("/configs/oidc/private-keys"), 401, "auth.unauthorized")
        error(
            admin.post("/configs/oidc/private-keys/rotate", json={"rotationGracePeriod": 3600}),
            422,
            "oidc.invalid_request",
        )
        assert invalid_fields(
            admin.post("/configs/oidc/private-keys/rotate", json={"signingKeyAlgorithm": "DSA"})
        ) == {"body.signingKeyAlgorithm"}
        assert invalid_fields(admin.get("/configs/oidc/public-keys")) == {"path.keyType"}


def jwks_key_set(jwks: dict):  # type: ignore[no-untyped-def]
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(jwks)


def test_cookie_keys_rotate_and_delete(admin: httpx.Client, server: Server) -> None:
    [first] = admin.get("/configs/oidc/cookie-keys").json()
    assert set(first) == {"id", "createdAt"}
    rotated = admin.post("/configs/oidc/cookie-keys/rotate").json()
    assert [k["id"] for k in rotated][1] == first["id"] and len(rotated) == 2
    again = admin.post("/configs/oidc/cookie-keys/rotate").json()
    assert len(again) == 2 and again[1]["id"] == rotated[0]["id"]  # at most two kept

    async def stored(conn):  # type: ignore[no-untyped-def]
        return await configs.get(conn, "default", "oidc.cookieKeys")

    values = [k["value"] for k in server.db(stored)]
    listed = admin.get("/configs/oidc/cookie-keys").text
    assert not any(v in listed for v in values)
    assert admin.delete(f"/configs/oidc/cookie-keys/{again[1]['id']}").status_code == 204
    error(admin.delete(f"/configs/oidc/cookie-keys/{again[0]['id']}"), 422, "oidc.key_required")
    error(
        admin.post("/configs/oidc/cookie-keys/rotate", json={"rotationGracePeriod": 0}),
        422,
        "oidc.invalid_request",
    )
    # the audit entries name the keys by id only
    logged = admin.get("/logs", params={"logKey": "ManagementApi.RotateOidcKeys"}).json()
    assert logged and not any(v in json.dumps(logged) for v in values)


@pytest.mark.parametrize("path", ["/users", "/roles", "/logs", "/resources/management-api/scopes"])
def test_wrong_token_kinds(anonymous: httpx.Client, path: str) -> None:
    basic = anonymous.get(path, headers={"Authorization": "Basic abc"})
    error(basic, 401, "auth.authorization_token_type_not_supported")
    error(anonymous.get(path, headers={"Authorization": "Bearer a.b.c"}), 401, "auth.unauthorized")


def test_every_paginated_list_pages(admin: httpx.Client, server: Server) -> None:
    """Two entries in every list, read one per page: ``Total-Number``, ``Link`` and the
    second page hold what Logto's middleware would give."""
    from tests.conftest import make_app
    from tests.support import unique

    resource = admin.post("/resources", json={"name": "p", "indicator": f"https://{unique('p')}.x"})
    rid = resource.json()["id"]
    scope_ids = [
        admin.post(f"/resources/{rid}/scopes", json={"name": n}).json()["id"] for n in ("a", "b")
    ]
    role = admin.post(
        "/roles", json={"name": unique("p"), "description": "d", "scopeIds": scope_ids}
    ).json()
    m2m_role = admin.post(
        "/roles", json={"name": unique("p"), "description": "d", "type": "MachineToMachine"}
    ).json()
    other_m2m = admin.post(
        "/roles", json={"name": unique("p"), "description": "d", "type": "MachineToMachine"}
    ).json()
    other_role = admin.post("/roles", json={"name": unique("p"), "description": "d"}).json()
    users = [admin.post("/users", json={"username": unique("p")}).json()["id"] for _ in range(2)]
    apps = [make_app(server, "MachineToMachine").id for _ in range(2)]
    admin.post(f"/roles/{role['id']}/users", json={"userIds": users})
    admin.post(f"/roles/{m2m_role['id']}/applications", json={"applicationIds": apps})
    admin.post(f"/users/{users[0]}/roles", json={"roleIds": [other_role["id"]]})
    admin.post(f"/applications/{apps[0]}/roles", json={"roleIds": [other_m2m["id"]]})
    lists = {
        "/applications": {"types": "MachineToMachine"},
        "/users": {},
        "/roles": {},
        "/resources": {},
        "/logs": {},
        f"/users/{users[0]}/roles": {},
        f"/applications/{apps[0]}/roles": {},
        f"/roles/{role['id']}/users": {},
        f"/roles/{m2m_role['id']}/applications": {},
        f"/roles/{role['id']}/scopes": {},
        f"/resources/{rid}/scopes": {},
    }
    for path, params in lists.items():
        first = admin.get(path, params={**params, "page_size": 1})
        assert first.status_code == 200, (path, first.text)
        total = int(first.headers["total-number"])
        assert total >= 2 and len(first.json()) == 1, path
        rel = links(first)
        assert "page=1" in rel["first"]
        assert f"page={total}" in rel["last"] and "page=2" in rel["next"] and "prev" not in rel
        second = admin.get(path, params={**params, "page_size": 1, "page": 2})
        assert len(second.json()) == 1 and second.json() != first.json(), path
        assert "page=1" in links(second)["prev"]
        error(admin.get(path, params={"page_size": 1000}), 400, "guard.invalid_pagination")
        # An offset past 64 bits was a driver OverflowError (500) on SQLite.
        error(admin.get(path, params={"page": 10**18}), 400, "guard.invalid_pagination")
