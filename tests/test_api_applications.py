"""``/api/applications`` through the real server: CRUD in Logto's shapes, secrets shown once
and usable at the token endpoint, custom data merge, machine-to-machine roles."""

from __future__ import annotations

import time

import httpx

from tests.management import error, invalid_fields, links
from tests.support import Server, unique


def _create(admin: httpx.Client, **body: object) -> dict:
    response = admin.post("/applications", json={"name": unique("app"), **body})
    assert response.status_code == 200, response.text
    return response.json()


def _token(server: Server, app_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{server.endpoint}/oidc/token",
        auth=(app_id, secret),
        data={
            "grant_type": "client_credentials",
            "resource": "https://default.logto.app/api",
        },
    )


def test_create_traditional_app_shows_its_secret_once(admin: httpx.Client, server: Server) -> None:
    created = _create(
        admin,
        type="Traditional",
        description="Go web app",
        oidcClientMetadata={
            "redirectUris": ["http://localhost:3000/callback"],
            "postLogoutRedirectUris": ["http://localhost:3000/"],
        },
        customClientMetadata={"corsAllowedOrigins": ["http://localhost:3000"], "idTokenTtl": 600},
        customData={"team": "web"},
    )
    assert created["type"] == "Traditional" and created["tenantId"] == "default"
    assert len(created["id"]) == 21 and len(created["secret"]) == 32
    assert created["oidcClientMetadata"]["redirectUris"] == ["http://localhost:3000/callback"]
    assert created["customClientMetadata"] == {
        "corsAllowedOrigins": ["http://localhost:3000"],
        "idTokenTtl": 600,
    }
    assert created["customData"] == {"team": "web"} and created["isThirdParty"] is False
    fetched = admin.get(f"/applications/{created['id']}").json()
    assert "secret" not in fetched and fetched["isAdmin"] is False
    assert fetched["description"] == "Go web app"
    secrets = admin.get(f"/applications/{created['id']}/secrets").json()
    assert [s["name"] for s in secrets] == ["Default secret"]
    assert "value" not in secrets[0] and secrets[0]["valueHint"] == created["secret"][-4:]
    # the secret authenticates the client for real (Traditional: the grant is refused, the
    # client authentication is not)
    refused = _token(server, created["id"], created["secret"])
    assert refused.json()["error"] == "unauthorized_client"
    wrong = _token(server, created["id"], "x" * 32)
    assert wrong.status_code == 401


def test_spa_has_no_secret_and_custom_schemes_are_native_only(admin: httpx.Client) -> None:
    spa = _create(admin, type="SPA")
    assert "secret" not in spa
    secrets = admin.post(f"/applications/{spa['id']}/secrets", json={"name": "x"})
    error(secrets, 422, "application.invalid_type")
    bad = admin.post(
        "/applications",
        json={
            "name": "x",
            "type": "SPA",
            "oidcClientMetadata": {"redirectUris": ["myapp://cb"], "postLogoutRedirectUris": []},
        },
    )
    assert "custom schemes" in error(bad, 400, "request.invalid_input")["message"]
    native = _create(
        admin,
        type="Native",
        oidcClientMetadata={"redirectUris": ["myapp://cb"], "postLogoutRedirectUris": []},
    )
    assert native["oidcClientMetadata"]["redirectUris"] == ["myapp://cb"]


def test_create_validation_errors_name_the_fields(admin: httpx.Client) -> None:
    assert invalid_fields(admin.post("/applications", json={"type": "SPA"})) == {"body.name"}
    assert "body.type" in invalid_fields(
        admin.post("/applications", json={"name": "x", "type": "Spaceship"})
    )
    unknown = admin.post("/applications", json={"name": "x", "type": "SPA", "colour": "red"})
    assert invalid_fields(unknown) == {"body.colour"}
    nested = admin.post(
        "/applications",
        json={"name": "x", "type": "SPA", "customClientMetadata": {"refreshTokenTtlInDays": 500}},
    )
    assert invalid_fields(nested) == {"body.customClientMetadata.refreshTokenTtlInDays"}
    third = admin.post(
        "/applications", json={"name": "x", "type": "MachineToMachine", "isThirdParty": True}
    )
    error(third, 400, "application.invalid_third_party_application_type")
    device = admin.post(
        "/applications",
        json={"name": "x", "type": "SPA", "customClientMetadata": {"isDeviceFlow": True}},
    )
    error(device, 422, "application.device_flow_native_only")
    assert (
        admin.post(
            "/applications", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


def test_patch_replaces_members_and_custom_data_merges(admin: httpx.Client) -> None:
    app = _create(
        admin,
        type="SPA",
        customData={"a": 1, "b": {"x": 1}},
        oidcClientMetadata={"redirectUris": ["https://a.example/cb"], "postLogoutRedirectUris": []},
    )
    patched = admin.patch(
        f"/applications/{app['id']}",
        json={
            "name": "Renamed",
            "description": None,
            "oidcClientMetadata": {
                "redirectUris": ["https://b.example/cb"],
                "postLogoutRedirectUris": ["https://b.example/"],
            },
            "customData": {"c": 3},
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Renamed" and body["description"] is None
    assert body["oidcClientMetadata"]["redirectUris"] == ["https://b.example/cb"]
    assert body["customData"] == {"c": 3}
    merged = admin.patch(f"/applications/{app['id']}/custom-data", json={"d": 4, "c": 30})
    assert merged.json() == {"c": 30, "d": 4}
    assert admin.get(f"/applications/{app['id']}").json()["customData"] == {"c": 30, "d": 4}
    bad_uri = admin.patch(
        f"/applications/{app['id']}",
        json={
            "oidcClientMetadata": {
                "redirectUris": ["http://evil.example/cb"],
                "postLogoutRedirectUris": [],
            }
        },
    )
    error(bad_uri, 400, "request.invalid_input")
    # nothing was half-written
    assert admin.get(f"/applications/{app['id']}").json()["oidcClientMetadata"]["redirectUris"] == [
        "https://b.example/cb"
    ]
    assert invalid_fields(admin.patch(f"/applications/{app['id']}", json={"type": "SPA"})) == {
        "body.type"
    }


def test_secrets_created_once_named_uniquely_and_revocable(
    admin: httpx.Client, server: Server
) -> None:
    m2m = _create(admin, type="MachineToMachine")
    made = admin.post(
        f"/applications/{m2m['id']}/secrets",
        json={"name": "ci", "expiresAt": int(time.time() * 1000) + 3_600_000},
    )
    assert made.status_code == 201, made.text
    secret = made.json()
    assert len(secret["value"]) == 32 and secret["applicationId"] == m2m["id"]
    assert secret["name"] == "ci" and secret["expiresAt"] > 0
    assert _token(server, m2m["id"], secret["value"]).status_code == 200
    listed = admin.get(f"/applications/{m2m['id']}/secrets").json()
    assert {s["name"] for s in listed} == {"Default secret", "ci"}
    assert all("value" not in s for s in listed)
    dup = admin.post(f"/applications/{m2m['id']}/secrets", json={"name": "ci"})
    error(dup, 422, "application.secret_name_exists")
    past = admin.post(f"/applications/{m2m['id']}/secrets", json={"name": "old", "expiresAt": 1})
    error(past, 400, "request.invalid_input")
    renamed = admin.patch(f"/applications/{m2m['id']}/secrets/ci", json={"name": "deploy"})
    assert renamed.json()["name"] == "deploy" and "value" not in renamed.json()
    assert admin.delete(f"/applications/{m2m['id']}/secrets/deploy").status_code == 204
    error(admin.delete(f"/applications/{m2m['id']}/secrets/deploy"), 404, "entity.not_found")
    time.sleep(1.2)  # the provider caches clients for one second
    assert _token(server, m2m["id"], secret["value"]).status_code == 401


def test_m2m_roles_assign_replace_remove(admin: httpx.Client) -> None:
    m2m = _create(admin, type="MachineToMachine")
    r1 = admin.post(
        "/roles", json={"name": unique("svc"), "description": "d", "type": "MachineToMachine"}
    ).json()
    r2 = admin.post(
        "/roles", json={"name": unique("svc"), "description": "d", "type": "MachineToMachine"}
    ).json()
    user_role = admin.post("/roles", json={"name": unique("usr"), "description": "d"}).json()
    path = f"/applications/{m2m['id']}/roles"
    added = admin.post(path, json={"roleIds": [r1["id"]]})
    assert added.status_code == 201 and added.json() == {
        "roleIds": [r1["id"]],
        "addedRoleIds": [r1["id"]],
    }
    again = admin.post(path, json={"roleIds": [r1["id"], r2["id"]]}).json()
    assert again["addedRoleIds"] == [r2["id"]]
    listed = admin.get(path)
    assert {r["id"] for r in listed.json()} == {r1["id"], r2["id"]}
    assert listed.headers["total-number"] == "2"
    error(
        admin.post(path, json={"roleIds": [user_role["id"]]}), 422, "application.invalid_role_type"
    )
    error(admin.post(path, json={"roleIds": ["nope"]}), 404, "entity.not_exists_with_id")
    replaced = admin.put(path, json={"roleIds": [r2["id"]]})
    assert replaced.status_code == 200
    assert [r["id"] for r in admin.get(path).json()] == [r2["id"]]
    assert admin.delete(f"{path}/{r2['id']}").status_code == 204
    error(admin.delete(f"{path}/{r2['id']}"), 404, "entity.not_found")
    assert admin.get(path).json() == []
    spa = _create(admin, type="SPA")
    error(admin.get(f"/applications/{spa['id']}/roles"), 422, "application.invalid_type")
    error(
        admin.post(f"/applications/{spa['id']}/roles", json={"roleIds": [r1["id"]]}),
        422,
        "application.invalid_type",
    )


def test_list_filters_search_and_paginates(admin: httpx.Client) -> None:
    tag = unique("paged")
    ids = [_create(admin, type="SPA", name=f"{tag}-{i}")["id"] for i in range(5)]
    everything = admin.get("/applications")  # Logto: unpaginated unless asked
    assert "total-number" not in everything.headers
    assert set(ids) <= {a["id"] for a in everything.json()}
    page1 = admin.get("/applications", params={"search": f"%{tag}%", "page_size": 2})
    assert page1.headers["total-number"] == "5"
    assert [a["id"] for a in page1.json()] == ids[::-1][:2]  # newest first
    rel = links(page1)
    assert set(rel) == {"first", "last", "next"}
    assert "page=3" in rel["last"] and "page_size=2" in rel["next"]
    page3 = admin.get(rel["last"].split("/api", 1)[1])
    assert [a["id"] for a in page3.json()] == [ids[0]]
    assert set(links(page3)) == {"first", "prev", "last"}
    exact = admin.get("/applications", params={"search.name": f"{tag}-3".upper(), "mode": "exact"})
    assert [a["id"] for a in exact.json()] == [ids[3]]
    sensitive = admin.get(
        "/applications",
        params={"search.name": f"{tag}-3".upper(), "mode": "exact", "isCaseSensitive": "true"},
    )
    assert sensitive.json() == []
    typed = admin.get("/applications", params={"types": "MachineToMachine", "search": f"%{tag}%"})
    assert typed.json() == []
    error(admin.get("/applications", params={"search.secret": "x"}), 400, "request.invalid_input")
    error(
        admin.get("/applications", params={"search": "x", "mode": "posix"}),
        400,
        "request.invalid_input",
    )
    error(admin.get("/applications", params={"page": 0}), 400, "guard.invalid_pagination")
    error(admin.get("/applications", params={"page_size": 101}), 400, "guard.invalid_pagination")
    error(admin.get("/applications", params={"page": "two"}), 400, "guard.invalid_pagination")


def test_unknown_ids_answer_404(admin: httpx.Client) -> None:
    for method, path, body in (
        ("GET", "/applications/nope", None),
        ("PATCH", "/applications/nope", {"name": "x"}),
        ("DELETE", "/applications/nope", None),
        ("PATCH", "/applications/nope/custom-data", {"a": 1}),
        ("GET", "/applications/nope/secrets", None),
        ("POST", "/applications/nope/secrets", {"name": "x"}),
        ("PATCH", "/applications/nope/secrets/x", {"name": "y"}),
        ("DELETE", "/applications/nope/secrets/x", None),
        ("GET", "/applications/nope/roles", None),
        ("POST", "/applications/nope/roles", {"roleIds": []}),
        ("PUT", "/applications/nope/roles", {"roleIds": []}),
        ("DELETE", "/applications/nope/roles/r", None),
    ):
        response = admin.request(method, path, json=body)
        body_out = error(response, 404, "entity.not_exists_with_id")
        assert "nope" in body_out["message"], (method, path)


def test_delete_application_takes_its_secrets(admin: httpx.Client, server: Server) -> None:
    m2m = _create(admin, type="MachineToMachine")
    assert admin.delete(f"/applications/{m2m['id']}").status_code == 204
    error(admin.get(f"/applications/{m2m['id']}"), 404, "entity.not_exists_with_id")
    time.sleep(1.2)
    assert _token(server, m2m["id"], m2m["secret"]).status_code == 401
