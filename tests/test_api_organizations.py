"""``/api/organizations``, ``/api/organization-roles``, ``/api/organization-scopes``,
``/api/users/:id/organizations`` and a third-party application's consent organizations,
through the real server: Logto's shapes, status codes and error codes."""

from __future__ import annotations

import httpx

from tests.conftest import make_app, make_user
from tests.management import error, invalid_fields, links
from tests.support import Server, unique


def _org(admin: httpx.Client, **body: object) -> dict:
    response = admin.post("/organizations", json={"name": unique("Org"), **body})
    assert response.status_code == 201, response.text
    return response.json()


def _scope(admin: httpx.Client, name: str | None = None) -> dict:
    response = admin.post("/organization-scopes", json={"name": name or unique("read")})
    assert response.status_code == 201, response.text
    return response.json()


def _role(admin: httpx.Client, **body: object) -> dict:
    response = admin.post("/organization-roles", json={"name": unique("member"), **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_organization_crud(admin: httpx.Client) -> None:
    org = _org(admin, description="Acme Inc.", customData={"tier": "gold"})
    assert org["description"] == "Acme Inc." and org["customData"] == {"tier": "gold"}
    assert org["isMfaRequired"] is False and len(org["id"]) == 21 and org["tenantId"] == "default"
    assert admin.get(f"/organizations/{org['id']}").json() == org
    patched = admin.patch(
        f"/organizations/{org['id']}",
        json={"name": "Renamed", "description": None, "isMfaRequired": True},
    ).json()
    assert patched["name"] == "Renamed" and patched["description"] is None
    assert patched["isMfaRequired"] is True and patched["customData"] == {"tier": "gold"}
    assert admin.get(f"/organizations/{org['id']}").json() == patched
    assert admin.delete(f"/organizations/{org['id']}").status_code == 204
    error(admin.get(f"/organizations/{org['id']}"), 404, "entity.not_exists_with_id")
    error(admin.delete(f"/organizations/{org['id']}"), 404, "entity.not_exists_with_id")
    error(admin.patch(f"/organizations/{org['id']}", json={"name": "x"}), 404,
          "entity.not_exists_with_id")  # fmt: skip


def test_organization_bodies_are_checked_field_by_field(admin: httpx.Client) -> None:
    assert invalid_fields(admin.post("/organizations", json={})) == {"body.name"}
    assert invalid_fields(admin.post("/organizations", json={"name": ""})) == {"body.name"}
    assert invalid_fields(
        admin.post("/organizations", json={"name": "x", "description": "d" * 257, "extra": 1})
    ) == {"body.description", "body.extra"}
    org = _org(admin)
    assert invalid_fields(admin.patch(f"/organizations/{org['id']}", json={"customData": []})) == {
        "body.customData"
    }
    assert invalid_fields(
        admin.post(f"/organizations/{org['id']}/users", json={"userIds": "abc"})
    ) == {"body.userIds"}


def test_organization_list_pagination_and_search(admin: httpx.Client) -> None:
    tag = unique("page")
    made = [_org(admin, name=f"{tag}-{i}") for i in range(3)]
    everything = admin.get("/organizations")
    assert everything.status_code == 200 and "total-number" not in everything.headers
    first = admin.get("/organizations", params={"search": f"%{tag}%", "page_size": 2})
    assert first.headers["total-number"] == "3"
    assert [o["id"] for o in first.json()] == [made[2]["id"], made[1]["id"]]  # newest first
    assert "next" in links(first)
    second = admin.get(links(first)["next"].replace(str(admin.base_url), ""))
    assert [o["id"] for o in second.json()] == [made[0]["id"]]
    exact = admin.get("/organizations", params={"search.name": f"{tag}-1", "mode": "exact"})
    assert [o["id"] for o in exact.json()] == [made[1]["id"]]
    error(admin.get("/organizations", params={"page": "0"}), 400, "guard.invalid_pagination")
    error(admin.get("/organizations", params={"search.nope": "x"}), 400, "request.invalid_input")


def test_organization_routes_need_a_management_token(
    admin: httpx.Client, weak: httpx.Client, anonymous: httpx.Client
) -> None:
    org = _org(admin)
    for path in ("/organizations", f"/organizations/{org['id']}/users", "/organization-roles",
                 "/organization-scopes"):  # fmt: skip
        assert anonymous.get(path).status_code == 401
        assert weak.get(path).status_code == 403
    assert anonymous.post("/organizations", json={"name": "x"}).status_code == 401
    assert weak.post("/organization-scopes", json={"name": "x"}).status_code == 403


def test_members_and_their_organization_roles(server: Server, admin: httpx.Client) -> None:
    org, other = _org(admin), _org(admin, name=unique("Aaa"))
    alice, bob = make_user(server), make_user(server)
    read, write = _scope(admin), _scope(admin)
    role = _role(admin, organizationScopeIds=[read["id"], write["id"]])
    admin_role = _role(admin)
    assert admin.post(f"/organizations/{org['id']}/users",
                      json={"userIds": [alice.id, bob.id]}).status_code == 201  # fmt: skip
    # adding again is harmless
    assert admin.post(f"/organizations/{org['id']}/users",
                      json={"userIds": [alice.id]}).status_code == 201  # fmt: skip
    error(admin.post(f"/organizations/{org['id']}/users", json={"userIds": ["nobody"]}), 404,
          "entity.not_exists_with_id")  # fmt: skip
    error(admin.post("/organizations/nope/users", json={"userIds": [alice.id]}), 404,
          "entity.not_exists_with_id")  # fmt: skip
    members = admin.get(f"/organizations/{org['id']}/users")
    assert members.headers["total-number"] == "2"
    assert {m["id"] for m in members.json()} == {alice.id, bob.id}
    assert all(m["organizationRoles"] == [] for m in members.json())

    path = f"/organizations/{org['id']}/users/{alice.id}/roles"
    assert admin.post(path, json={"organizationRoleIds": [role["id"]]}).status_code == 201
    assert [r["id"] for r in admin.get(path).json()] == [role["id"]]
    error(admin.post(path, json={"organizationRoleIds": ["nope"]}), 404,
          "entity.not_exists_with_id")  # fmt: skip
    outsider = make_user(server)
    error(admin.post(f"/organizations/{org['id']}/users/{outsider.id}/roles",
                     json={"organizationRoleIds": [role["id"]]}),
          422, "organization.require_membership")  # fmt: skip
    assert admin.put(path, json={"organizationRoleIds": [admin_role["id"]]}).status_code == 204
    assert [r["id"] for r in admin.get(path).json()] == [admin_role["id"]]
    assert admin.post(path, json={"organizationRoleIds": [role["id"]]}).status_code == 201
    assert admin.delete(f"{path}/{admin_role['id']}").status_code == 204
    error(admin.delete(f"{path}/{admin_role['id']}"), 404, "entity.not_exists_with_id")
    listed = admin.get(f"/organizations/{org['id']}/users", params={"search": alice.username})
    assert [(m["id"], m["organizationRoles"]) for m in listed.json()] == [
        (alice.id, [{"id": role["id"], "name": role["name"]}])
    ]

    assert admin.post(f"/organizations/{other['id']}/users",
                      json={"userIds": [alice.id]}).status_code == 201  # fmt: skip
    mine = admin.get(f"/users/{alice.id}/organizations").json()
    assert {o["id"]: [r["id"] for r in o["organizationRoles"]] for o in mine} == {
        org["id"]: [role["id"]],
        other["id"]: [],
    }
    error(admin.get("/users/nobody/organizations"), 404, "entity.not_exists_with_id")

    # replacing the members removes bob; removing alice drops her roles with her membership
    assert admin.put(f"/organizations/{org['id']}/users",
                     json={"userIds": [alice.id]}).status_code == 204  # fmt: skip
    assert [m["id"] for m in admin.get(f"/organizations/{org['id']}/users").json()] == [alice.id]
    assert admin.delete(f"/organizations/{org['id']}/users/{alice.id}").status_code == 204
    error(admin.delete(f"/organizations/{org['id']}/users/{alice.id}"), 422,
          "organization.require_membership")  # fmt: skip
    assert admin.post(f"/organizations/{org['id']}/users",
                      json={"userIds": [alice.id]}).status_code == 201  # fmt: skip
    assert admin.get(path).json() == []


def test_organization_scopes_crud(admin: httpx.Client) -> None:
    scope = _scope(admin)
    assert scope["description"] is None and set(scope) == {"tenantId", "id", "name", "description"}
    error(admin.post("/organization-scopes", json={"name": scope["name"]}), 422,
          "entity.unique_integrity_violation")  # fmt: skip
    error(admin.post("/organization-scopes", json={"name": "read all"}), 400,
          "scope.name_with_space")  # fmt: skip
    assert invalid_fields(admin.post("/organization-scopes", json={"name": "x" * 129})) == {
        "body.name"
    }
    body = {"name": unique("write"), "description": "Write"}
    renamed = admin.patch(f"/organization-scopes/{scope['id']}", json=body).json()
    assert renamed["description"] == "Write"
    assert admin.get(f"/organization-scopes/{scope['id']}").json() == renamed
    other = _scope(admin)
    error(admin.patch(f"/organization-scopes/{scope['id']}", json={"name": other["name"]}),
          422, "entity.unique_integrity_violation")  # fmt: skip
    paged = admin.get("/organization-scopes", params={"page_size": 1})
    assert len(paged.json()) == 1 and int(paged.headers["total-number"]) >= 2
    assert admin.delete(f"/organization-scopes/{scope['id']}").status_code == 204
    error(admin.get(f"/organization-scopes/{scope['id']}"), 404, "entity.not_exists_with_id")


def test_organization_roles_crud_and_scopes(admin: httpx.Client) -> None:
    read, write = _scope(admin), _scope(admin)
    role = _role(admin, description="Members", organizationScopeIds=[read["id"]])
    assert role["type"] == "User" and role["description"] == "Members"
    error(admin.post("/organization-roles", json={"name": role["name"]}), 422,
          "entity.unique_integrity_violation")  # fmt: skip
    error(admin.post("/organization-roles", json={"name": unique("r"),
                                                  "organizationScopeIds": ["nope"]}),
          404, "entity.not_exists_with_id")  # fmt: skip
    assert invalid_fields(admin.post("/organization-roles", json={"name": 5})) == {"body.name"}
    scopes = f"/organization-roles/{role['id']}/scopes"
    assert [s["id"] for s in admin.get(scopes).json()] == [read["id"]]
    assert admin.post(scopes, json={"organizationScopeIds": [write["id"]]}).status_code == 201
    assert {s["id"] for s in admin.get(scopes).json()} == {read["id"], write["id"]}
    listed = admin.get("/organization-roles", params={"search": role["name"]}).json()
    assert [{s["id"] for s in r["scopes"]} for r in listed] == [{read["id"], write["id"]}]
    assert admin.put(scopes, json={"organizationScopeIds": [write["id"]]}).status_code == 204
    assert [s["id"] for s in admin.get(scopes).json()] == [write["id"]]
    assert admin.delete(f"{scopes}/{write['id']}").status_code == 204
    error(admin.delete(f"{scopes}/{write['id']}"), 404, "entity.not_exists_with_id")
    patched = admin.patch(f"/organization-roles/{role['id']}", json={"name": unique("n")})
    assert patched.status_code == 200 and patched.json()["description"] == "Members"
    assert admin.delete(f"/organization-roles/{role['id']}").status_code == 204
    error(admin.get(scopes), 404, "entity.not_exists_with_id")


def test_consent_organizations_of_a_third_party_application(
    server: Server, admin: httpx.Client
) -> None:
    third = make_app(server, "Traditional", is_third_party=True)
    first = make_app(server, "Traditional")
    user = make_user(server)
    org, other = _org(admin), _org(admin)
    admin.post(f"/organizations/{org['id']}/users", json={"userIds": [user.id]})
    admin.post(f"/organizations/{other['id']}/users", json={"userIds": [user.id]})
    base = f"/applications/{third.id}/users/{user.id}/consent-organizations"
    assert admin.get(base).json() == []
    assert admin.post(base, json={"organizationIds": [org["id"]]}).status_code == 201
    assert [o["id"] for o in admin.get(base).json()] == [org["id"]]
    assert admin.put(base, json={"organizationIds": [other["id"]]}).status_code == 204
    assert [o["id"] for o in admin.get(base).json()] == [other["id"]]
    stranger = _org(admin)
    error(admin.post(base, json={"organizationIds": [stranger["id"]]}), 422,
          "organization.require_membership")  # fmt: skip
    error(admin.post(base, json={"organizationIds": ["nope"]}), 404, "entity.not_exists_with_id")
    assert invalid_fields(admin.post(base, json={"organizationIds": None})) == {
        "body.organizationIds"
    }
    error(admin.get(f"/applications/{first.id}/users/{user.id}/consent-organizations"), 422,
          "application.third_party_application_only")  # fmt: skip
    error(admin.get(f"/applications/{third.id}/users/nobody/consent-organizations"), 404,
          "entity.not_exists_with_id")  # fmt: skip
    assert admin.delete(f"{base}/{other['id']}").status_code == 204
    error(admin.delete(f"{base}/{other['id']}"), 404, "entity.not_exists_with_id")
    assert admin.delete(f"/applications/{third.id}/users/{user.id}/consent").status_code == 204
