"""``/api/roles`` and ``/api/resources`` through the real server: what a role grants shows up
in real access tokens, the default resource is used when a client names none, and the
Management API resource cannot be altered."""

from __future__ import annotations

import time

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import make_app
from tests.management import MANAGEMENT_API, error, invalid_fields, links
from tests.support import Server, unique


def _resource(admin: httpx.Client, **body: object) -> dict:
    response = admin.post(
        "/resources",
        json={"name": "API", "indicator": f"https://{unique('api')}.example.com", **body},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _scope(admin: httpx.Client, resource_id: str, name: str) -> dict:
    response = admin.post(f"/resources/{resource_id}/scopes", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def _m2m_token(server: Server, app_id: str, secret: str, resource: str) -> dict:
    response = httpx.post(
        f"{server.issuer}/token",
        auth=(app_id, secret),
        data={"grant_type": "client_credentials", "resource": resource},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_resource_crud_and_scopes(admin: httpx.Client) -> None:
    resource = _resource(admin, accessTokenTtl=600)
    assert resource["scopes"] == [] and resource["accessTokenTtl"] == 600
    assert resource["isDefault"] is False and len(resource["id"]) == 21
    dup = admin.post("/resources", json={"name": "x", "indicator": resource["indicator"]})
    error(dup, 422, "resource.resource_identifier_in_use")
    assert invalid_fields(admin.post("/resources", json={"name": "x"})) == {"body.indicator"}
    error(
        admin.post("/resources", json={"name": "x", "indicator": "not a uri"}),
        400,
        "request.invalid_input",
    )
    patched = admin.patch(
        f"/resources/{resource['id']}", json={"name": "Renamed", "accessTokenTtl": 120}
    )
    assert patched.json()["name"] == "Renamed" and patched.json()["accessTokenTtl"] == 120
    assert invalid_fields(
        admin.patch(f"/resources/{resource['id']}", json={"indicator": "https://x"})
    ) == {"body.indicator"}
    read = _scope(admin, resource["id"], "read")
    assert read["resourceId"] == resource["id"] and read["description"] is None
    error(
        admin.post(f"/resources/{resource['id']}/scopes", json={"name": "read"}),
        422,
        "scope.name_exists",
    )
    error(
        admin.post(f"/resources/{resource['id']}/scopes", json={"name": "a b"}),
        400,
        "scope.name_with_space",
    )
    _scope(admin, resource["id"], "write")
    renamed = admin.patch(
        f"/resources/{resource['id']}/scopes/{read['id']}",
        json={"name": "read:all", "description": "Read it all"},
    )
    assert renamed.json()["name"] == "read:all" and renamed.json()["description"] == "Read it all"
    listed = admin.get(f"/resources/{resource['id']}/scopes")
    assert [s["name"] for s in listed.json()] == ["read:all", "write"]
    assert listed.headers["total-number"] == "2"
    found = admin.get(f"/resources/{resource['id']}/scopes", params={"search": "%WRI%"})
    assert [s["name"] for s in found.json()] == ["write"]
    with_scopes = {
        r["id"]: r for r in admin.get("/resources", params={"includeScopes": "true"}).json()
    }
    assert {s["name"] for s in with_scopes[resource["id"]]["scopes"]} == {"read:all", "write"}
    assert "scopes" not in admin.get("/resources").json()[0]
    assert admin.delete(f"/resources/{resource['id']}/scopes/{read['id']}").status_code == 204
    error(
        admin.delete(f"/resources/{resource['id']}/scopes/{read['id']}"),
        404,
        "entity.not_exists_with_id",
    )
    assert admin.delete(f"/resources/{resource['id']}").status_code == 204
    error(admin.get(f"/resources/{resource['id']}"), 404, "entity.not_exists_with_id")


def test_management_api_resource_is_protected(admin: httpx.Client) -> None:
    mgmt = next(r for r in admin.get("/resources").json() if r["indicator"] == MANAGEMENT_API)
    assert mgmt["id"] == "management-api"
    error(
        admin.patch("/resources/management-api", json={"name": "x"}),
        400,
        "resource.cannot_modify_management_api",
    )
    error(admin.delete("/resources/management-api"), 400, "resource.cannot_delete_management_api")
    error(
        admin.post("/resources/management-api/scopes", json={"name": "more"}),
        400,
        "resource.cannot_modify_management_api",
    )
    error(
        admin.delete("/resources/management-api/scopes/management-api-all"),
        400,
        "resource.cannot_modify_management_api",
    )
    name = unique("r")
    user_role = admin.post(
        "/roles", json={"name": name, "description": "d", "scopeIds": ["management-api-all"]}
    )
    error(user_role, 400, "role.management_api_scopes_not_assignable_to_user_role")
    # nothing half-written: the role was not created without its scopes
    assert admin.get("/roles", params={"search.name": name, "mode": "exact"}).json() == []


def test_default_resource_is_used_when_none_is_named(admin: httpx.Client) -> None:
    first = _resource(admin)
    second = _resource(admin)
    assert (
        admin.patch(f"/resources/{first['id']}/is-default", json={"isDefault": True}).json()[
            "isDefault"
        ]
        is True
    )
    assert (
        admin.patch(f"/resources/{second['id']}/is-default", json={"isDefault": True}).json()[
            "isDefault"
        ]
        is True
    )
    defaults = [r["id"] for r in admin.get("/resources").json() if r["isDefault"]]
    assert defaults == [second["id"]]
    assert (
        admin.patch(f"/resources/{second['id']}/is-default", json={"isDefault": False}).json()[
            "isDefault"
        ]
        is False
    )
    assert not [r for r in admin.get("/resources").json() if r["isDefault"]]
    assert invalid_fields(admin.patch(f"/resources/{first['id']}/is-default", json={})) == {
        "body.isDefault"
    }
    error(
        admin.patch("/resources/nope/is-default", json={"isDefault": True}),
        404,
        "entity.not_exists_with_id",
    )


def test_role_grants_reach_access_tokens(admin: httpx.Client, server: Server) -> None:
    resource = _resource(admin)
    read = _scope(admin, resource["id"], "read")
    write = _scope(admin, resource["id"], "write")
    role = admin.post(
        "/roles",
        json={
            "name": unique("svc"),
            "description": "service",
            "type": "MachineToMachine",
            "scopeIds": [read["id"]],
        },
    )
    assert role.status_code == 200, role.text
    role = role.json()
    assert role["type"] == "MachineToMachine" and role["isDefault"] is False
    app = make_app(server, "MachineToMachine")
    assert (
        admin.post(
            f"/roles/{role['id']}/applications", json={"applicationIds": [app.id]}
        ).status_code
        == 201
    )
    assert app.secret
    keys = KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks").json())
    token = _m2m_token(server, app.id, app.secret, resource["indicator"])
    assert token["scope"] == "read"
    claims = jwt.decode(token["access_token"], keys, algorithms=["ES384"]).claims
    assert claims["aud"] == resource["indicator"] and claims["scope"] == "read"
    granted = admin.post(f"/roles/{role['id']}/scopes", json={"scopeIds": [write["id"]]})
    assert granted.status_code == 201
    assert {s["name"] for s in granted.json()} == {"read", "write"}
    error(
        admin.post(f"/roles/{role['id']}/scopes", json={"scopeIds": [write["id"]]}),
        422,
        "role.scope_exists",
    )
    error(
        admin.post(f"/roles/{role['id']}/scopes", json={"scopeIds": ["nope"]}),
        404,
        "entity.not_exists_with_id",
    )
    scopes = admin.get(f"/roles/{role['id']}/scopes").json()
    assert {s["resource"]["indicator"] for s in scopes} == {resource["indicator"]}
    time.sleep(1.2)  # the provider caches an application's scopes for one second
    assert _m2m_token(server, app.id, app.secret, resource["indicator"])["scope"] == "read write"
    assert admin.delete(f"/roles/{role['id']}/scopes/{read['id']}").status_code == 204
    error(admin.delete(f"/roles/{role['id']}/scopes/{read['id']}"), 404, "entity.not_found")
    assert admin.delete(f"/roles/{role['id']}/applications/{app.id}").status_code == 204
    time.sleep(1.2)
    assert _m2m_token(server, app.id, app.secret, resource["indicator"])["scope"] == ""


def test_role_crud_users_and_list_counts(admin: httpx.Client) -> None:
    name = unique("editor")
    role = admin.post("/roles", json={"name": name, "description": "Edits"})
    assert role.status_code == 200
    role = role.json()
    assert role["type"] == "User" and role["isDefault"] is False
    error(
        admin.post("/roles", json={"name": name, "description": "again"}), 422, "role.name_in_use"
    )
    assert invalid_fields(admin.post("/roles", json={"name": "x"})) == {"body.description"}
    assert invalid_fields(
        admin.post("/roles", json={"name": "x", "description": "d", "type": "Admin"})
    ) == {"body.type"}
    users = [admin.post("/users", json={"username": unique("m")}).json() for _ in range(4)]
    added = admin.post(f"/roles/{role['id']}/users", json={"userIds": [u["id"] for u in users]})
    assert added.status_code == 201 and added.content == b""
    error(
        admin.post(f"/roles/{role['id']}/users", json={"userIds": [users[0]["id"]]}),
        422,
        "role.user_exists",
    )
    error(
        admin.post(f"/roles/{role['id']}/users", json={"userIds": ["nope"]}),
        404,
        "entity.not_exists_with_id",
    )
    assert invalid_fields(admin.post(f"/roles/{role['id']}/users", json={"userIds": []})) == {
        "body.userIds"
    }
    page = admin.get(f"/roles/{role['id']}/users", params={"page_size": 3})
    assert page.headers["total-number"] == "4" and len(page.json()) == 3
    assert set(links(page)) == {"first", "last", "next"}
    listed = admin.get("/roles", params={"search.name": name, "mode": "exact"}).json()
    assert len(listed) == 1 and listed[0]["usersCount"] == 4
    assert [u["id"] for u in listed[0]["featuredUsers"]] == [u["id"] for u in users[:3]]
    assert listed[0]["applicationsCount"] == 0 and listed[0]["featuredApplications"] == []
    excluded = admin.get(
        "/roles", params={"excludeUserId": users[0]["id"], "search.name": name, "mode": "exact"}
    ).json()
    assert excluded == []
    m2m_only = admin.get("/roles", params={"type": "MachineToMachine"}).json()
    assert all(r["type"] == "MachineToMachine" for r in m2m_only) and m2m_only
    patched = admin.patch(
        f"/roles/{role['id']}", json={"description": "Edits a lot", "isDefault": False}
    )
    assert patched.json()["description"] == "Edits a lot" and patched.json()["isDefault"] is False
    taken = admin.post("/roles", json={"name": unique("other"), "description": "d"}).json()
    error(admin.patch(f"/roles/{taken['id']}", json={"name": name}), 422, "role.name_in_use")
    assert admin.delete(f"/roles/{role['id']}/users/{users[0]['id']}").status_code == 204
    error(admin.delete(f"/roles/{role['id']}/users/{users[0]['id']}"), 404, "entity.not_found")
    m2m_app = admin.post("/applications", json={"name": "svc", "type": "MachineToMachine"}).json()
    error(
        admin.post(f"/roles/{role['id']}/applications", json={"applicationIds": [m2m_app["id"]]}),
        422,
        "application.invalid_role_type",
    )
    assert admin.get(f"/users/{users[1]['id']}/roles").json()[0]["id"] == role["id"]
    assert admin.delete(f"/roles/{role['id']}").status_code == 204
    assert admin.get(f"/users/{users[1]['id']}/roles").json() == []
    for method, path, body in (
        ("GET", f"/roles/{role['id']}", None),
        ("PATCH", f"/roles/{role['id']}", {"name": "x"}),
        ("DELETE", f"/roles/{role['id']}", None),
        ("GET", f"/roles/{role['id']}/users", None),
        ("POST", f"/roles/{role['id']}/users", {"userIds": [users[1]["id"]]}),
        ("DELETE", f"/roles/{role['id']}/users/{users[1]['id']}", None),
        ("GET", f"/roles/{role['id']}/applications", None),
        ("POST", f"/roles/{role['id']}/applications", {"applicationIds": ["a"]}),
        ("DELETE", f"/roles/{role['id']}/applications/a", None),
        ("GET", f"/roles/{role['id']}/scopes", None),
        ("POST", f"/roles/{role['id']}/scopes", {"scopeIds": ["s"]}),
        ("DELETE", f"/roles/{role['id']}/scopes/s", None),
        ("GET", "/resources/nope", None),
        ("PATCH", "/resources/nope", {"name": "x"}),
        ("DELETE", "/resources/nope", None),
        ("GET", "/resources/nope/scopes", None),
        ("POST", "/resources/nope/scopes", {"name": "x"}),
        ("PATCH", "/resources/nope/scopes/s", {"name": "x"}),
        ("DELETE", "/resources/nope/scopes/s", None),
    ):
        error(admin.request(method, path, json=body), 404, "entity.not_exists_with_id")


def test_role_applications_list(admin: httpx.Client, server: Server) -> None:
    role = admin.post(
        "/roles", json={"name": unique("svc"), "description": "d", "type": "MachineToMachine"}
    ).json()
    apps = [make_app(server, "MachineToMachine").id for _ in range(3)]
    assert (
        admin.post(f"/roles/{role['id']}/applications", json={"applicationIds": apps}).status_code
        == 201
    )
    error(
        admin.post(f"/roles/{role['id']}/applications", json={"applicationIds": apps[:1]}),
        422,
        "role.application_exists",
    )
    listed = admin.get(f"/roles/{role['id']}/applications", params={"page_size": 2})
    assert listed.headers["total-number"] == "3" and len(listed.json()) == 2
    assert all("secret" not in a for a in listed.json())
    counted = admin.get("/roles", params={"search.id": role["id"], "mode": "exact"}).json()[0]
    assert counted["applicationsCount"] == 3 and len(counted["featuredApplications"]) == 3
    assert counted["featuredApplications"][0]["type"] == "MachineToMachine"
    excluded = admin.get(
        "/applications", params={"excludeRoleId": role["id"], "types": "MachineToMachine"}
    ).json()
    assert not set(apps) & {a["id"] for a in excluded}


def test_default_roles_go_to_new_users(admin: httpx.Client) -> None:
    role = admin.post(
        "/roles", json={"name": unique("member"), "description": "d", "isDefault": True}
    ).json()
    try:
        assert role["isDefault"] is True
        user = admin.post("/users", json={"username": unique("new")}).json()
        assert [r["id"] for r in admin.get(f"/users/{user['id']}/roles").json()] == [role["id"]]
    finally:
        off = admin.patch(f"/roles/{role['id']}", json={"isDefault": False})
        assert off.json()["isDefault"] is False
    later = admin.post("/users", json={"username": unique("new")}).json()
    assert admin.get(f"/users/{later['id']}/roles").json() == []


def test_get_one_role_and_resource_and_patch_validation(admin: httpx.Client) -> None:
    role = admin.post("/roles", json={"name": unique("one"), "description": "d"}).json()
    assert admin.get(f"/roles/{role['id']}").json() == role
    assert invalid_fields(admin.patch(f"/roles/{role['id']}", json={"name": "x" * 129})) == {
        "body.name"
    }
    assert invalid_fields(admin.patch(f"/roles/{role['id']}", json={"type": "User"})) == {
        "body.type"
    }
    resource = _resource(admin)
    fetched = admin.get(f"/resources/{resource['id']}").json()
    assert fetched == {k: v for k, v in resource.items() if k != "scopes"}
    scopes = f"/resources/{resource['id']}/scopes"
    assert invalid_fields(admin.post(scopes, json={})) == {"body.name"}
    scope = _scope(admin, resource["id"], "s1")
    _scope(admin, resource["id"], "s2")
    assert invalid_fields(admin.patch(f"{scopes}/{scope['id']}", json={"resourceId": "x"})) == {
        "body.resourceId"
    }
    error(admin.patch(f"{scopes}/{scope['id']}", json={"name": "s2"}), 422, "scope.name_exists")
    assert invalid_fields(admin.post(f"/roles/{role['id']}/scopes", json={"scopeIds": []})) == {
        "body.scopeIds"
    }
    assert invalid_fields(
        admin.patch(f"/resources/{resource['id']}", json={"accessTokenTtl": 0})
    ) == {"body.accessTokenTtl"}
