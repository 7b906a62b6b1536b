"""Console organizations: the list (search, pages, empty state aside), creation, settings with
custom data refused when it is not a JSON object and the branding checked by /api's rules,
members found on the server and their organization roles, machine-to-machine applications and
their roles, invitations (the email received by a real SMTP server), just-in-time
provisioning, the organization template's roles (with their type and API permissions) and
permissions, deletions behind the typed name, and the audit entries /api writes for the same
changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.services import applications, rbac
from portico.services import organizations as orgs
from portico.services import users as user_service
from portico.services.bootstrap import DEFAULT_TENANT
from portico.storage.tables import (
    logs,
    organization_application_relations,
    organization_invitations,
    organization_jit_email_domains,
    organization_jit_roles,
    organization_role_application_relations,
    organization_role_resource_scope_relations,
    organization_role_scope_relations,
    organization_role_user_relations,
    organization_roles,
    organization_scopes,
    organization_user_relations,
    organizations,
    scopes,
)
from tests.console import ADMIN_PASSWORD, ConsoleClient, flash_of
from tests.smtp_server import Recorder, smtp_config, smtp_server
from tests.support import csrf_of, unique
from tests.test_console_applications import age_reauth, management_of

SMTP = "simple-mail-transfer-protocol"

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


# Second part: branding, machine-to-machine apps, invitations, JIT, API permissions ----------
def make_m2m_role(console: ConsoleClient, name: str) -> str:
    async def work(conn):  # type: ignore[no-untyped-def]
        return (
            await orgs.create_role(conn, DEFAULT_TENANT, name=name, role_type="MachineToMachine")
        )["id"]

    return console.server.db(work)  # type: ignore[no-any-return]


def make_application(console: ConsoleClient, name: str, app_type: str) -> str:
    async def work(conn):  # type: ignore[no-untyped-def]
        created = await applications.create_application(
            conn, DEFAULT_TENANT, name=name, app_type=applications.AppType(app_type),
            redirect_uris=["https://app.example/callback"],
        )  # fmt: skip
        return created.row["id"]

    return console.server.db(work)  # type: ignore[no-any-return]


def test_branding_and_trusted_devices_are_checked_as_api_checks_them(
    console: ConsoleClient,
) -> None:
    name = unique("Branded")
    org_id = created(console, name=name)
    path = f"/console/organizations/{org_id}"
    token = csrf_of(console.get(path).text)
    form = {"csrf_token": token, "name": name, "custom_data": "{}"}
    for field, bad in (
        ("primary_color", "red"),
        ("dark_primary_color", "#12345"),
        ("logo_url", "javascript:alert(1)"),
        ("favicon", "http://cdn.example/icon.png"),
        ("dark_logo_url", "https://user:pw@cdn.example/logo.png"),
    ):
        refused = console.post(
            path, {**form, field: bad, "custom_css": "body { color: red }", "description": "kept"}
        )
        assert refused.status_code == 400, field
        assert f'id="{field}-error"' in refused.text and 'value="kept"' in refused.text
        stored = row(console, organizations, org_id)
        assert stored.color == {} and stored.branding == {} and stored.custom_css is None
        assert stored.description is None and stored.is_trusted_device_allowed
    saved = console.post(
        path,
        {**form, "primary_color": "#112233", "dark_mode": "on", "dark_primary_color": "",
         "logo_url": "https://cdn.example/logo.png", "favicon": "https://cdn.example/f.ico",
         "custom_css": ".logo { height: 40px }"},
    )  # fmt: skip
    assert saved.status_code == 303
    stored = row(console, organizations, org_id)
    assert stored.color == {"primaryColor": "#112233", "isDarkModeEnabled": True}
    assert stored.branding == {
        "logoUrl": "https://cdn.example/logo.png",
        "favicon": "https://cdn.example/f.ico",
    }
    assert stored.custom_css == ".logo { height: 40px }"
    assert not stored.is_trusted_device_allowed  # the switch was left off
    page = console.get(path).text
    assert 'value="https://cdn.example/logo.png"' in page and 'value="#112233"' in page
    cleared = console.post(path, {**form, "is_trusted_device_allowed": "on"})
    assert cleared.status_code == 303
    stored = row(console, organizations, org_id)
    assert (stored.color, stored.branding, stored.custom_css) == ({}, {}, None)
    assert stored.is_trusted_device_allowed
    assert len(audited(console, "UpdateOrganization", id=org_id)) == 2


def test_machine_to_machine_apps_join_with_their_roles(console: ConsoleClient) -> None:
    marker = unique("robot").lower()
    robot = make_application(console, f"{marker} worker", "MachineToMachine")
    web = make_application(console, f"{marker} site", "Traditional")
    m2m_role, user_role = make_m2m_role(console, unique("Bot")), make_role(console, unique("Hu"))
    other_role = make_m2m_role(console, unique("Bot2"))
    org_id = created(console, name=unique("Robots"))
    path = f"/console/organizations/{org_id}"
    found = console.get(f"{path}?find_app={marker}").text
    assert f'value="{robot}"' in found and f'value="{web}"' not in found  # M2M only
    assert 'data-default-tab="org-apps"' in found
    apps_tab = found.split('id="org-apps"')[1].split("</section>")[0]
    assert f'value="{m2m_role}"' in apps_tab and f'value="{user_role}"' not in apps_tab
    token = csrf_of(found)
    add = f"{path}/applications"
    nothing = console.post(add, {"csrf_token": token})
    assert nothing.status_code == 400 and "Pick at least one application." in nothing.text
    wrong_type = console.post(add, {"csrf_token": token, "application_id": web})
    assert wrong_type.status_code == 400 and "is not a machine-to-machine" in wrong_type.text
    # A User role for an application: refused, and the application is not added either.
    user_roles = console.post(
        add, {"csrf_token": token, "application_id": robot, "role_id": user_role}
    )
    assert user_roles.status_code == 400 and "only MachineToMachine roles" in user_roles.text
    assert relations(console, organization_application_relations, organization_id=org_id) == []
    added = console.post(add, {"csrf_token": token, "application_id": robot, "role_id": m2m_role})
    assert added.status_code == 303 and added.headers["location"].endswith("#org-apps")
    members = relations(console, organization_application_relations, organization_id=org_id)
    assert [m.application_id for m in members] == [robot]
    page = console.get(path).text
    assert f'href="/console/applications/{robot}"' in page
    assert f'value="{robot}"' not in console.get(f"{path}?find_app={marker}").text
    app_path = f"{add}/{robot}"
    assert (
        console.post(f"{app_path}/roles", {"csrf_token": token, "role_id": other_role}).status_code
        == 303
    )
    assert (
        console.post(f"{app_path}/roles/{m2m_role}/delete", {"csrf_token": token}).status_code
        == 303
    )
    held = relations(console, organization_role_application_relations, organization_id=org_id)
    assert [r.organization_role_id for r in held] == [other_role]
    assert console.post(f"{app_path}/delete", {"csrf_token": token}).status_code == 303
    assert relations(console, organization_application_relations, organization_id=org_id) == []
    assert relations(console, organization_role_application_relations, organization_id=org_id) == []
    assert len(audited(console, "AddOrganizationApplications", id=org_id)) == 1
    assigned = audited(
        console, "AssignOrganizationApplicationRoles", id=org_id, applicationId=robot
    )
    assert len(assigned) == 2 and assigned[0]["applicationId"] == robot
    assert audited(
        console, "DeleteOrganizationApplicationRole", id=org_id, applicationId=robot,
        organizationRoleId=m2m_role,
    )  # fmt: skip
    assert (
        len(audited(console, "DeleteOrganizationApplication", id=org_id, applicationId=robot)) == 1
    )


INVITATION_TEMPLATE = {
    "usageType": "OrganizationInvitation",
    "contentType": "text/plain",
    "subject": "Join {{organization.name}}",
    "content": "You are invited to {{organization.name}}: {{link}}",
}


@pytest.fixture
def mailbox(console: ConsoleClient) -> Iterator[Recorder]:
    """The console server's Email connector (made through /api) delivering to a real SMTP
    server; removed after the test."""
    with smtp_server() as mail, management_of(console.server) as api:
        config = smtp_config(mail.port)
        config["templates"].append(INVITATION_TEMPLATE)
        made = api.post("/connectors", json={"connectorId": SMTP, "config": config})
        assert made.status_code == 200, made.text
        yield mail.handler
        assert api.delete(f"/connectors/{made.json()['id']}").status_code == 204


def invitation_rows(console: ConsoleClient, org_id: str) -> list[Any]:
    return relations(console, organization_invitations, organization_id=org_id)


def test_an_invitation_sent_from_the_console_arrives(
    console: ConsoleClient, mailbox: Recorder
) -> None:
    org_name = unique("Inviting")
    org_id = created(console, name=org_name)
    role = make_role(console, unique("Guest"))
    m2m_role = make_m2m_role(console, unique("Daemon"))
    path = f"/console/organizations/{org_id}"
    token = csrf_of(console.get(path).text)
    invite = f"{path}/invitations"
    address = f"{unique('newcomer').lower()}@example.com"
    for fields, expected in (
        ({"invitee": "not-an-email"}, 'id="invitee-error"'),
        ({"invitee": address, "expires_in_days": "0"}, 'id="expires_in_days-error"'),
        ({"invitee": address, "expires_in_days": "x"}, "A whole number of days from 1 to 365."),
        ({"invitee": address, "role_id": m2m_role}, "only User roles can be assigned here"),
    ):
        refused = console.post(invite, {"csrf_token": token, **fields})
        assert refused.status_code == 400 and expected in refused.text, fields
    mailbox.rcpt_reply = "550 No such mailbox"
    unsent = console.post(invite, {"csrf_token": token, "invitee": address})
    assert unsent.status_code == 400 and 'value="' + address + '"' in unsent.text
    assert invitation_rows(console, org_id) == [] and mailbox.messages == []
    mailbox.rcpt_reply = None
    before = int(time.time() * 1000)
    sent = console.post(invite, {"csrf_token": token, "invitee": address.upper(), "role_id": role})
    assert sent.status_code == 303 and sent.headers["location"].endswith("#org-invitations")
    (message,) = mailbox.messages
    assert message["To"] == address and message["Subject"] == f"Join {org_name}"
    (stored,) = invitation_rows(console, org_id)
    link = f"{console.server.endpoint}/invitation/{stored.id}"
    assert f"You are invited to {org_name}: {link}" in message.get_content()
    assert (stored.invitee, stored.status, stored.inviter_id) == (address, "Pending", None)
    week = 7 * 86_400_000
    assert before + week <= stored.expires_at <= int(time.time() * 1000) + week
    page = console.get(path).text
    assert address in page and "Pending" in page and f"Invitation sent to {address}." in page
    again = console.post(invite, {"csrf_token": token, "invitee": address})
    assert again.status_code == 400 and "already exists" in again.text
    one = f"{invite}/{stored.id}"
    assert console.post(f"{one}/resend", {"csrf_token": token}).status_code == 303
    assert len(mailbox.messages) == 2 and mailbox.messages[1]["To"] == address
    assert link in mailbox.messages[1].get_content()
    assert console.post(f"{one}/revoke", {"csrf_token": token}).status_code == 303
    assert invitation_rows(console, org_id)[0].status == "Revoked"
    twice = console.post(f"{one}/revoke", {"csrf_token": token})
    assert twice.status_code == 400 and "cannot be changed anymore" in twice.text
    elsewhere = created(console, name=unique("Elsewhere"))
    wrong = console.post(
        f"/console/organizations/{elsewhere}/invitations/{stored.id}/delete", {"csrf_token": token}
    )
    assert wrong.status_code == 404 and invitation_rows(console, org_id)
    assert console.post(f"{one}/delete", {"csrf_token": token}).status_code == 303
    assert invitation_rows(console, org_id) == []
    for key in ("CreateOrganizationInvitation", "CreateOrganizationInvitationMessage",
                "ReplaceOrganizationInvitationStatus", "DeleteOrganizationInvitation"):  # fmt: skip
        assert len(audited(console, key, id=stored.id)) == 1, key


def test_just_in_time_provisioning_domains_and_roles(console: ConsoleClient) -> None:
    org_id = created(console, name=unique("Jit"))
    user_role, m2m_role = make_role(console, unique("Staff")), make_m2m_role(console, unique("M"))
    path = f"/console/organizations/{org_id}"
    token = csrf_of(console.get(path).text)
    domains = f"{path}/jit/email-domains"
    for bad in ("bob@acme.example", "localhost", "acme..example"):
        refused = console.post(domains, {"csrf_token": token, "email_domain": bad})
        assert refused.status_code == 400 and 'id="email_domain-error"' in refused.text, bad
    domain = f"{unique('acme').lower().replace('_', '-')}.example"
    assert (
        console.post(domains, {"csrf_token": token, "email_domain": domain.upper()}).status_code
        == 303
    )
    stored = relations(console, organization_jit_email_domains, organization_id=org_id)
    assert [d.email_domain for d in stored] == [domain]
    taken = console.post(domains, {"csrf_token": token, "email_domain": domain})
    assert taken.status_code == 400 and "already has the domain" in taken.text
    roles = f"{path}/jit/roles"
    wrong = console.post(roles, {"csrf_token": token, "role_id": m2m_role})
    assert wrong.status_code == 400 and "only User roles" in wrong.text
    assert relations(console, organization_jit_roles, organization_id=org_id) == []
    assert console.post(roles, {"csrf_token": token, "role_id": user_role}).status_code == 303
    defaults = relations(console, organization_jit_roles, organization_id=org_id)
    assert [r.organization_role_id for r in defaults] == [user_role]
    page = console.get(path).text
    assert f"<code>{domain}</code>" in page
    assert console.post(f"{roles}/{user_role}/delete", {"csrf_token": token}).status_code == 303
    assert console.post(f"{domains}/{domain}/delete", {"csrf_token": token}).status_code == 303
    assert relations(console, organization_jit_roles, organization_id=org_id) == []
    assert relations(console, organization_jit_email_domains, organization_id=org_id) == []
    assert len(audited(console, "AddOrganizationJitEmailDomain", id=org_id)) == 1
    assert audited(console, "DeleteOrganizationJitEmailDomain", id=org_id, emailDomain=domain)
    assert len(audited(console, "AddOrganizationJitRoles", id=org_id)) == 1
    assert audited(console, "DeleteOrganizationJitRole", id=org_id, organizationRoleId=user_role)


def test_role_type_and_api_permissions(console: ConsoleClient) -> None:
    token = csrf_of(console.get(TEMPLATE).text)
    name = unique("Robot role")
    odd = console.post(f"{TEMPLATE}/roles", {"csrf_token": token, "name": name, "type": "Admin"})
    assert odd.status_code == 400 and relations(console, organization_roles, name=name) == []
    made = console.post(
        f"{TEMPLATE}/roles", {"csrf_token": token, "name": name, "type": "MachineToMachine"}
    )
    assert made.status_code == 303
    role_id = made.headers["location"].rsplit("/", 1)[1]
    assert row(console, organization_roles, role_id).type == "MachineToMachine"
    api_name = unique("Billing API")

    async def work(conn):  # type: ignore[no-untyped-def]
        resource = await rbac.create_resource(
            conn, DEFAULT_TENANT, indicator=f"https://{unique('billing').lower()}.example",
            name=api_name, scopes=["read:invoices", "write:invoices"],
        )  # fmt: skip
        rows = await conn.execute(select(scopes).where(scopes.c.resource_id == resource["id"]))
        return {r.name: r.id for r in rows}

    scope_ids = console.server.db(work)
    role_page = f"{TEMPLATE}/roles/{role_id}"
    page = console.get(role_page).text
    assert "API permissions" in page and api_name in page
    assert f'value="{scope_ids["read:invoices"]}"' in page
    assert "Logto Management API" not in page.split('id="api-permissions"')[1]
    grant = f"{role_page}/resource-scopes"
    assert console.post(grant, {"csrf_token": token}).status_code == 400
    unknown = console.post(grant, {"csrf_token": token, "resource_scope_id": "no-such-scope"})
    assert unknown.status_code == 400
    assert (
        relations(console, organization_role_resource_scope_relations, organization_role_id=role_id)
        == []
    )
    granted = console.post(
        grant, {"csrf_token": token, "resource_scope_id": list(scope_ids.values())}
    )
    assert granted.status_code == 303
    read = scope_ids["read:invoices"]
    assert console.post(f"{grant}/{read}/delete", {"csrf_token": token}).status_code == 303
    held = relations(
        console, organization_role_resource_scope_relations, organization_role_id=role_id
    )
    assert [r.scope_id for r in held] == [scope_ids["write:invoices"]]
    shown = console.get(role_page).text.split('id="api-permissions"')[1]
    assert "<code>write:invoices</code>" in shown and api_name in shown
    assert len(audited(console, "AddOrganizationRoleResourceScopes", id=role_id)) == 1
    assert audited(console, "DeleteOrganizationRoleResourceScope", id=role_id, scopeId=read)
    listed = console.get(TEMPLATE).text
    assert "Machine-to-machine" in listed.split(name)[1].split("</tr>")[0]
