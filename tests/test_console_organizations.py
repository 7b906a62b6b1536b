"""Console organizations: the list (search, pages, empty state aside), creation, settings with
custom data refused when it is not a JSON object, members found on the server and their
organization roles, the organization template's roles and permissions, deletions behind the
typed name, and the audit entries /api writes for the same changes."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from portico.services import organizations as orgs
from portico.services import users as user_service
from portico.services.bootstrap import DEFAULT_TENANT
from portico.storage.tables import (
    logs,
    organization_role_scope_relations,
    organization_role_user_relations,
    organization_roles,
    organization_scopes,
    organization_user_relations,
    organizations,
)
from tests.console import ADMIN_PASSWORD, ConsoleClient, flash_of
from tests.support import csrf_of, unique
from tests.test_console_applications import age_reauth

TEMPLATE = "/console/organization-template"


def create(console: ConsoleClient, **fields: str) -> httpx.Response:
    return console.submit("/console/organizations", "/console/organizations", fields)


def created(console: ConsoleClient, **fields: str) -> str:
    response = create(console, **fields)
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[1]


def row(console: ConsoleClient, table: Any, row_id: str) -> Any:
    async def work(conn):  # type: ignore[no-untyped-def]
        return (await conn.execute(select(table).where(table.c.id == row_id))).first()

    return console.server.db(work)


def relations(console: ConsoleClient, table: Any, **where: str) -> list[Any]:
    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        return (await conn.execute(query)).all()

    return console.server.db(work)  # type: ignore[no-any-return]


def audited(console: ConsoleClient, key: str, **params: str) -> list[dict[str, Any]]:
    """Entries ``ManagementApi.<key>`` whose path parameters include ``params``."""

    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.payload).where(logs.c.key == f"ManagementApi.{key}")
        )
        return [r.payload for r in rows]

    found = [
        p for p in console.server.db(work) if params.items() <= (p.get("params") or {}).items()
    ]
    assert all(p["actor"]["type"] == "console" and p["via"] == "console" for p in found)
    return found


def make_users(console: ConsoleClient, marker: str, count: int) -> list[str]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return [
            (await user_service.create_user(conn, DEFAULT_TENANT, username=f"{marker}_{i}"))["id"]
            for i in range(count)
        ]

    return console.server.db(work)  # type: ignore[no-any-return]


def make_role(console: ConsoleClient, name: str) -> str:
    async def work(conn):  # type: ignore[no-untyped-def]
        return (await orgs.create_role(conn, DEFAULT_TENANT, name=name))["id"]

    return console.server.db(work)  # type: ignore[no-any-return]


def test_create_refuses_an_empty_name_and_audits(console: ConsoleClient) -> None:
    page = console.get("/console/organizations")
    assert page.status_code == 200 and 'data-dialog="create-org"' in page.text
    assert (
        console.post("/console/organizations", {"name": "x", "csrf_token": "forged"}).status_code
        == 403
    )
    empty = create(console, name="  ", description="kept")
    assert (
        empty.status_code == 400 and "Enter a name." in empty.text and 'value="kept"' in empty.text
    )
    name = unique("Acme")
    org_id = created(console, name=name, description="Widgets")
    shown = console.get(f"/console/organizations/{org_id}")
    assert name in shown.text and "Organization " + name + " created." in flash_of(shown.text)
    stored = row(console, organizations, org_id)
    assert stored.description == "Widgets" and stored.custom_data == {}
    assert not stored.is_mfa_required
    assert len(audited(console, "CreateOrganization", id=org_id)) == 1
    assert console.get("/console/organizations/new").status_code == 200
    assert console.get("/console/organizations/no-such-org").status_code == 404


def test_search_and_pages(console: ConsoleClient) -> None:
    marker = unique("pagedorg").lower()

    async def work(conn):  # type: ignore[no-untyped-def]
        return [
            (await orgs.create_organization(conn, DEFAULT_TENANT, name=f"{marker} {i}"))["id"]
            for i in range(22)
        ]

    ids = console.server.db(work)
    first = console.get(f"/console/organizations?search={marker}").text
    assert "Matching organizations: 22" in first and "Page 1 of 2" in first
    assert f'href="/console/organizations/{ids[-1]}"' in first  # newest first
    second = console.get(f"/console/organizations?search={marker}&page=2").text
    assert f'href="/console/organizations/{ids[0]}"' in second
    assert f"/console/organizations/{ids[-1]}" not in second
    assert f"search={marker}&amp;page=1" in second
    by_id = console.get(f"/console/organizations?search={ids[5]}").text
    assert "Matching organizations: 1" in by_id and f"/console/organizations/{ids[5]}" in by_id
    assert "No organizations match" in console.get("/console/organizations?search=zz-none-zz").text


def test_settings_refuse_bad_custom_data_and_save_nothing(console: ConsoleClient) -> None:
    name = unique("Settings")
    org_id = created(console, name=name)
    page = console.get(f"/console/organizations/{org_id}")
    path, token = f"/console/organizations/{org_id}", csrf_of(page.text)
    for bad in ('{"plan": ', '["not", "an object"]', "42"):
        refused = console.post(
            path, {"csrf_token": token, "name": "Renamed", "custom_data": bad,
                   "is_mfa_required": "on"},
        )  # fmt: skip
        assert refused.status_code == 400, bad
        assert "Custom data must be a JSON object" in refused.text
        assert 'id="custom_data-error"' in refused.text and 'value="Renamed"' in refused.text
        stored = row(console, organizations, org_id)
        assert stored.name == name and stored.custom_data == {} and not stored.is_mfa_required
    too_long = console.post(path, {"csrf_token": token, "name": "n" * 129, "custom_data": ""})
    assert too_long.status_code == 400 and "At most 128 characters." in too_long.text
    saved = console.post(
        path,
        {"csrf_token": token, "name": name, "description": "Paying customer",
         "custom_data": '{"plan": "pro", "seats": 12}', "is_mfa_required": "on"},
    )  # fmt: skip
    assert saved.status_code == 303
    stored = row(console, organizations, org_id)
    assert stored.custom_data == {"plan": "pro", "seats": 12} and stored.is_mfa_required
    assert stored.description == "Paying customer"
    page = console.get(path).text
    assert "&#34;seats&#34;: 12" in page and "MFA required" in page
    console.post(path, {"csrf_token": token, "name": name, "description": "", "custom_data": ""})
    stored = row(console, organizations, org_id)
    assert stored.description is None and not stored.is_mfa_required and stored.custom_data == {}
    assert len(audited(console, "UpdateOrganization", id=org_id)) == 2


def test_members_are_found_on_the_server_and_get_roles(console: ConsoleClient) -> None:
    marker = unique("member").lower()
    alice, bob, carol = make_users(console, marker, 3)
    admin_role, viewer_role = (
        make_role(console, unique("Admin")),
        make_role(console, unique("Viewer")),
    )
    org_id = created(console, name=unique("Members"))
    path = f"/console/organizations/{org_id}"
    found = console.get(f"{path}?find={marker}_1").text
    assert f'value="{bob}"' in found and f'value="{alice}"' not in found
    assert 'data-default-tab="org-members"' in found
    token = csrf_of(found)
    nobody = console.post(f"{path}/members", {"csrf_token": token})
    assert nobody.status_code == 400 and "Pick at least one user." in nobody.text
    # One request, one transaction: an unknown role adds no member either.
    unknown = console.post(
        f"{path}/members", {"csrf_token": token, "user_id": alice, "role_id": "no-such-role"}
    )
    assert unknown.status_code == 400 and "does not exist" in unknown.text
    assert relations(console, organization_user_relations, organization_id=org_id) == []
    added = console.post(
        f"{path}/members",
        {"csrf_token": token, "user_id": [alice, bob], "role_id": admin_role},
    )
    assert added.status_code == 303 and added.headers["location"].endswith("#org-members")
    members = {
        r.user_id for r in relations(console, organization_user_relations, organization_id=org_id)
    }
    assert members == {alice, bob}
    held = relations(console, organization_role_user_relations, organization_id=org_id)
    assert {(r.user_id, r.organization_role_id) for r in held} == {
        (alice, admin_role),
        (bob, admin_role),
    }
    page = console.get(path).text
    assert "Members: 2" in page and f'href="/console/users/{alice}"' in page
    assert f'value="{alice}"' not in console.get(f"{path}?find={marker}").text  # members hidden
    outsider = console.post(
        f"{path}/members/{carol}/roles", {"csrf_token": token, "role_id": viewer_role}
    )
    assert outsider.status_code == 400 and "is not a member of the organization" in outsider.text
    assigned = console.post(
        f"{path}/members/{alice}/roles", {"csrf_token": token, "role_id": viewer_role}
    )
    assert assigned.status_code == 303
    removed = console.post(
        f"{path}/members/{alice}/roles/{admin_role}/delete", {"csrf_token": token}
    )
    assert removed.status_code == 303
    held = relations(
        console, organization_role_user_relations, organization_id=org_id, user_id=alice
    )
    assert [r.organization_role_id for r in held] == [viewer_role]
    gone = console.post(f"{path}/members/{bob}/delete", {"csrf_token": token})
    assert gone.status_code == 303
    assert (
        relations(console, organization_user_relations, organization_id=org_id, user_id=bob) == []
    )
    assert (
        relations(console, organization_role_user_relations, organization_id=org_id, user_id=bob)
        == []
    )
    assert len(audited(console, "AddOrganizationUsers", id=org_id)) == 1
    assert len(audited(console, "AssignOrganizationUserRoles", id=org_id, userId=alice)) == 2
    assert audited(
        console, "DeleteOrganizationUserRole", id=org_id, userId=alice, roleId=admin_role
    )
    entry = audited(console, "DeleteOrganizationUser", id=org_id, userId=bob)[0]
    assert entry["userId"] == bob


def test_template_roles_and_permissions(console: ConsoleClient) -> None:
    page = console.get(TEMPLATE)
    assert page.status_code == 200 and 'href="#org-permissions"' in page.text
    token = csrf_of(page.text)
    read = unique("read").lower()
    spaced = console.post(f"{TEMPLATE}/permissions", {"csrf_token": token, "name": "read all"})
    assert spaced.status_code == 400 and "Scope name can not contain space." in spaced.text
    assert (
        console.post(f"{TEMPLATE}/permissions", {"csrf_token": token, "name": read}).status_code
        == 303
    )
    taken = console.post(f"{TEMPLATE}/permissions", {"csrf_token": token, "name": read})
    assert taken.status_code == 400 and "is already in use" in taken.text
    scopes = relations(console, organization_scopes, name=read)
    assert len(scopes) == 1 and relations(console, organization_scopes, name="read all") == []
    scope_id = scopes[0].id
    assert (
        console.post(
            f"{TEMPLATE}/permissions", {"csrf_token": token, "name": f"{read}_w"}
        ).status_code
        == 303
    )
    write_id = relations(console, organization_scopes, name=f"{read}_w")[0].id
    role_name = unique("Editor")
    made = console.post(
        f"{TEMPLATE}/roles", {"csrf_token": token, "name": role_name, "scope_id": scope_id}
    )
    assert made.status_code == 303
    role_id = made.headers["location"].rsplit("/", 1)[1]
    granted = relations(console, organization_role_scope_relations, organization_role_id=role_id)
    assert [r.organization_scope_id for r in granted] == [scope_id]
    listed = console.get(TEMPLATE).text
    assert role_name in listed and f"<code>{read}</code>" in listed
    role_page = f"{TEMPLATE}/roles/{role_id}"
    assert (
        console.post(
            role_page, {"csrf_token": token, "name": f"{role_name}2", "description": "d"}
        ).status_code
        == 303
    )
    assert row(console, organization_roles, role_id).name == f"{role_name}2"
    assert (
        console.post(f"{role_page}/scopes", {"csrf_token": token, "scope_id": write_id}).status_code
        == 303
    )
    assert (
        console.post(f"{role_page}/scopes/{scope_id}/delete", {"csrf_token": token}).status_code
        == 303
    )
    granted = relations(console, organization_role_scope_relations, organization_role_id=role_id)
    assert [r.organization_scope_id for r in granted] == [write_id]
    scope_page = f"{TEMPLATE}/permissions/{write_id}"
    renamed = console.post(scope_page, {"csrf_token": token, "name": "has space"})
    assert (
        renamed.status_code == 400
        and row(console, organization_scopes, write_id).name == f"{read}_w"
    )
    refused = console.post(f"{scope_page}/delete", {"csrf_token": token, "confirm_name": "wrong"})
    assert refused.status_code == 400 and "Type the permission&#39;s name exactly" in refused.text
    assert (
        console.post(
            f"{scope_page}/delete", {"csrf_token": token, "confirm_name": f"{read}_w"}
        ).status_code
        == 303
    )
    assert row(console, organization_scopes, write_id) is None
    assert relations(console, organization_role_scope_relations, organization_role_id=role_id) == []
    for key, params in (
        ("CreateOrganizationScope", {"id": scope_id}),
        ("CreateOrganizationRole", {"id": role_id}),
        ("UpdateOrganizationRole", {"id": role_id}),
        ("AddOrganizationRoleScopes", {"id": role_id}),
        ("DeleteOrganizationRoleScope", {"id": role_id, "scopeId": scope_id}),
        ("DeleteOrganizationScope", {"id": write_id}),
    ):
        assert len(audited(console, key, **params)) == 1, key


def test_deletions_ask_for_the_password_and_the_typed_name(console: ConsoleClient) -> None:
    name = unique("Doomed Org")
    org_id = created(console, name=name)
    (user_id,) = make_users(console, unique("leaver").lower(), 1)
    role_id = make_role(console, unique("Doomed role"))

    async def join(conn):  # type: ignore[no-untyped-def]
        await orgs.add_members(conn, DEFAULT_TENANT, org_id, [user_id])
        await orgs.assign_member_roles(conn, DEFAULT_TENANT, org_id, user_id, [role_id])

    console.server.db(join)
    age_reauth(console)
    page = console.get(f"/console/organizations/{org_id}")
    assert f"Type <strong>{name}</strong> to confirm" in page.text
    action, token = f"/console/organizations/{org_id}/delete", csrf_of(page.text)
    asked = console.post(action, {"csrf_token": token, "confirm_name": name})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    for typed in ("", name.upper(), org_id):
        refused = console.post(
            action, {"csrf_token": token, "reauth_password": ADMIN_PASSWORD, "confirm_name": typed}
        )
        assert refused.status_code == 400, typed
        assert "Type the organization&#39;s name exactly as shown" in refused.text
        assert row(console, organizations, org_id) is not None
    gone = console.post(action, {"csrf_token": token, "confirm_name": f" {name} "})
    assert gone.status_code == 303 and row(console, organizations, org_id) is None
    assert relations(console, organization_user_relations, organization_id=org_id) == []
    assert relations(console, organization_role_user_relations, organization_id=org_id) == []
    assert len(audited(console, "DeleteOrganization", id=org_id)) == 1
    role_page = f"{TEMPLATE}/roles/{role_id}"
    wrong = console.post(f"{role_page}/delete", {"csrf_token": token, "confirm_name": "nope"})
    assert wrong.status_code == 400 and row(console, organization_roles, role_id) is not None
    role_name = row(console, organization_roles, role_id).name
    done = console.post(f"{role_page}/delete", {"csrf_token": token, "confirm_name": role_name})
    assert done.status_code == 303 and row(console, organization_roles, role_id) is None
    assert len(audited(console, "DeleteOrganizationRole", id=role_id)) == 1
