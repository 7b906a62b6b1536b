"""Console API resources and roles: creation with the service's errors on the form, scopes,
the default API, the read-only Management API, role permissions and holders, deletion behind
re-authentication, audit entries, and a machine-to-machine token carrying what the console
granted."""

from __future__ import annotations

import base64
import json

import httpx
from sqlalchemy import select

from portico.services.bootstrap import MANAGEMENT_API_INDICATOR
from portico.storage.tables import logs, resources, roles, roles_scopes, scopes
from tests.conftest import make_app, make_user
from tests.console import ADMIN_PASSWORD, ConsoleClient
from tests.support import browser_client, unique
from tests.test_console_applications import age_reauth


def rows(console: ConsoleClient, query):  # type: ignore[no-untyped-def]
    async def work(conn):  # type: ignore[no-untyped-def]
        return (await conn.execute(query)).all()

    return console.server.db(work)


def audit_of(console: ConsoleClient, key: str) -> list[dict]:
    found = [r.payload for r in rows(console, select(logs.c.payload).where(logs.c.key == key))]
    assert all(p["actor"]["type"] == "console" for p in found)
    return found


def new_resource(console: ConsoleClient, **fields: str) -> str:
    indicator = fields.pop("indicator", f"https://{unique('api').lower()}.example.com")
    response = console.submit(
        "/console/api-resources",
        "/console/api-resources",
        {"name": "Books API", "indicator": indicator, "access_token_ttl": "600", **fields},
    )
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[1]


def new_role(console: ConsoleClient, kind: str = "User") -> str:
    response = console.submit(
        "/console/roles", "/console/roles", {"name": unique("role"), "type": kind}
    )
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[1]


def test_pages_need_a_signed_in_admin_and_csrf(console: ConsoleClient) -> None:
    with browser_client() as anonymous:
        for path in ("/console/api-resources", "/console/roles"):
            assert anonymous.get(console.url(path)).status_code == 303
    for path in ("/console/api-resources", "/console/roles"):
        refused = console.post(path, {"csrf_token": "forged", "name": "x"})
        assert refused.status_code == 403


def test_resource_create_validation_and_scopes(console: ConsoleClient) -> None:
    bad = console.submit(
        "/console/api-resources",
        "/console/api-resources",
        {"name": "Bad", "indicator": "not a uri", "access_token_ttl": "600"},
    )
    assert bad.status_code == 400 and "must be an absolute URI" in bad.text
    ttl = console.submit(
        "/console/api-resources",
        "/console/api-resources",
        {"name": "Bad", "indicator": "https://ttl.example.com", "access_token_ttl": "0"},
    )
    assert ttl.status_code == 400 and "token lifetime" in ttl.text
    indicator = f"https://{unique('books').lower()}.example.com"
    resource_id = new_resource(console, indicator=indicator)
    again = console.submit(
        "/console/api-resources",
        "/console/api-resources",
        {"name": "Dup", "indicator": indicator, "access_token_ttl": "600"},
    )
    assert again.status_code == 400 and "already exists" in again.text
    stored = rows(console, select(resources).where(resources.c.indicator == indicator))
    assert len(stored) == 1 and stored[0].access_token_ttl == 600
    page = f"/console/api-resources/{resource_id}"
    spaced = console.submit(page, f"{page}/scopes", {"name": "read books"})
    assert spaced.status_code == 400 and "contains a space" in spaced.text
    added = console.submit(page, f"{page}/scopes", {"name": "read:books", "description": "Read"})
    assert added.status_code == 303
    scope_id = rows(console, select(scopes.c.id).where(scopes.c.resource_id == resource_id))[0].id
    assert "read:books" in console.get(page).text
    made_default = console.submit(page, f"{page}/default", {"is_default": "true"})
    assert made_default.status_code == 303
    assert rows(console, select(resources.c.is_default).where(resources.c.id == resource_id))[0][0]
    deleted = console.submit(page, f"{page}/scopes/{scope_id}/delete")
    assert deleted.status_code == 303
    assert rows(console, select(scopes.c.id).where(scopes.c.id == scope_id)) == []
    for key in (
        "CreateResource",
        "CreateResourceScope",
        "UpdateResourceIsDefault",
        "DeleteResourceScope",
    ):
        assert audit_of(console, f"ManagementApi.{key}")
    # Leave no default behind for the other tests.
    console.submit(page, f"{page}/default", {"is_default": "false"})


def test_management_api_is_read_only(console: ConsoleClient) -> None:
    (row,) = rows(
        console, select(resources.c.id).where(resources.c.indicator == MANAGEMENT_API_INDICATOR)
    )
    page = f"/console/api-resources/{row.id}"
    shown = console.get(page).text
    assert "read-only" in shown and f"{page}/delete" not in shown and "Add permission" not in shown
    refused = console.submit(page, page, {"name": "Mine now", "access_token_ttl": "60"})
    assert refused.status_code == 400 and "cannot be modified" in refused.text
    gone = console.submit(page, f"{page}/delete", {"reauth_password": ADMIN_PASSWORD})
    assert gone.status_code == 400 and "cannot be deleted" in gone.text


def test_resource_delete_needs_the_password(console: ConsoleClient) -> None:
    """And its name typed again, as Logto's console asks: a wrong name deletes nothing."""
    resource_id = new_resource(console)
    age_reauth(console)
    page = f"/console/api-resources/{resource_id}"
    name = "Books API"
    asked = console.submit(page, f"{page}/delete", {"confirm_name": name})
    assert "Confirm it is you" in asked.text
    assert rows(console, select(resources.c.id).where(resources.c.id == resource_id))
    typo = {"reauth_password": ADMIN_PASSWORD, "confirm_name": "books api"}
    wrong = console.submit(page, f"{page}/delete", typo)
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert rows(console, select(resources.c.id).where(resources.c.id == resource_id))
    done = console.submit(page, f"{page}/delete",
                          {"reauth_password": ADMIN_PASSWORD, "confirm_name": name})  # fmt: skip
    assert done.status_code == 303
    assert rows(console, select(resources.c.id).where(resources.c.id == resource_id)) == []
    assert any(
        p["params"] == {"id": resource_id}
        for p in audit_of(console, "ManagementApi.DeleteResource")
    )


def test_role_create_validation_and_user_holders(console: ConsoleClient) -> None:
    no_type = console.submit("/console/roles", "/console/roles", {"name": unique("r")})
    assert no_type.status_code == 400 and "Pick the role type" in no_type.text
    role_id = new_role(console)
    (row,) = rows(console, select(roles).where(roles.c.id == role_id))
    taken = console.submit("/console/roles", "/console/roles", {"name": row.name, "type": "User"})
    assert taken.status_code == 400 and "already in use" in taken.text
    page = f"/console/roles/{role_id}"
    # Management API permissions are not offered to (nor grantable to) a User role.
    (mapi,) = rows(
        console,
        select(scopes.c.id)
        .join(resources, resources.c.id == scopes.c.resource_id)
        .where(resources.c.indicator == MANAGEMENT_API_INDICATOR)
        .limit(1),
    )
    assert mapi.id not in console.get(page).text
    refused = console.submit(page, f"{page}/scopes", {"scope_id": mapi.id})
    assert refused.status_code == 400 and "cannot be granted to user roles" in refused.text
    user = make_user(console.server)
    assert user.id in console.get(page).text  # offered
    assert console.submit(page, f"{page}/holders", {"holder_id": user.id}).status_code == 303
    shown = console.get(page).text
    assert f'href="/console/users/{user.id}"' in shown
    assert console.submit(page, f"{page}/holders/{user.id}/delete").status_code == 303
    assert f'href="/console/users/{user.id}"' not in console.get(page).text
    assert audit_of(console, "ManagementApi.CreateRoleUser")
    assert any(
        p.get("userId") == user.id for p in audit_of(console, "ManagementApi.DeleteRoleUser")
    )
    age_reauth(console)
    asked = console.submit(page, f"{page}/delete", {"confirm_name": row.name})
    assert "Confirm it is you" in asked.text
    typo = {"reauth_password": ADMIN_PASSWORD, "confirm_name": row.name + "x"}
    wrong = console.submit(page, f"{page}/delete", typo)
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert console.get(page).status_code == 200  # still there
    sure = {"reauth_password": ADMIN_PASSWORD, "confirm_name": row.name}
    done = console.submit(page, f"{page}/delete", sure)
    assert done.status_code == 303 and console.get(page).status_code == 404


def test_machine_role_grants_what_the_console_picked(console: ConsoleClient) -> None:
    indicator = f"https://{unique('m2m').lower()}.example.com"
    resource_id = new_resource(console, indicator=indicator)
    rpage = f"/console/api-resources/{resource_id}"
    console.submit(rpage, f"{rpage}/scopes", {"name": "write:books"})
    console.submit(rpage, f"{rpage}/scopes", {"name": "read:books"})
    scope_rows = rows(
        console, select(scopes.c.id, scopes.c.name).where(scopes.c.resource_id == resource_id)
    )
    write = next(s.id for s in scope_rows if s.name == "write:books")
    role_id = new_role(console, "MachineToMachine")
    page = f"/console/roles/{role_id}"
    assert "write:books" in console.get(page).text
    assert console.submit(page, f"{page}/scopes", {"scope_id": write}).status_code == 303
    assert rows(
        console, select(roles_scopes.c.scope_id).where(roles_scopes.c.role_id == role_id)
    ) == [(write,)]
    app = make_app(console.server, "MachineToMachine")
    assert console.submit(page, f"{page}/holders", {"holder_id": app.id}).status_code == 303
    token = httpx.post(
        f"{console.server.issuer}/token",
        auth=(app.id, app.secret),
        data={
            "grant_type": "client_credentials",
            "resource": indicator,
            "scope": "write:books read:books",
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["aud"] == indicator and claims["scope"] == "write:books"
    assert audit_of(console, "ManagementApi.CreateRoleScope")
    assert audit_of(console, "ManagementApi.CreateRoleApplication")
    removed = console.submit(page, f"{page}/scopes/{write}/delete")
    assert removed.status_code == 303
    assert (
        rows(console, select(roles_scopes.c.scope_id).where(roles_scopes.c.role_id == role_id))
        == []
    )


def test_finding_holders_beyond_the_newest(console: ConsoleClient) -> None:
    """The picker offers the newest users without the role; ``find`` searches all of them, so
    a user beyond the newest hundred can be assigned too."""
    role_id = new_role(console)
    page = f"/console/roles/{role_id}"
    wanted = make_user(console.server)
    others = [make_user(console.server) for _ in range(2)]
    found = console.get(f"{page}?find={wanted.username}").text
    assert f'name="holder_id" value="{wanted.id}"' in found
    assert all(f'value="{o.id}"' not in found for o in others)
    assert 'class="picker-filter"' in found  # the filter box, shown by console.js
    nothing = console.get(f"{page}?find={unique('nobody')}").text
    assert 'name="holder_id"' not in nothing and "Nobody without the role matches" in nothing
    assigned = console.submit(f"{page}?find={wanted.username}", f"{page}/holders",
                              {"holder_id": wanted.id})  # fmt: skip
    assert assigned.status_code == 303
    assert f'href="/console/users/{wanted.id}"' in console.get(page).text
