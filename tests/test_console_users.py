"""Console users: search and pages, creation with the service's errors on the form, profile
edits, password reset shown once, suspension, identities, roles, deletion behind
re-authentication, and the audit entries /api writes for the same changes."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from portico.services import identities, rbac
from portico.services.bootstrap import DEFAULT_TENANT
from portico.storage.tables import logs, users, users_roles
from tests.console import ADMIN_PASSWORD, ConsoleClient
from tests.support import browser_client, csrf_of, unique
from tests.test_console_applications import age_reauth


def create(console: ConsoleClient, **fields: str) -> httpx.Response:
    return console.submit("/console/users", "/console/users", fields)


def created(console: ConsoleClient, **fields: str) -> str:
    response = create(console, **fields)
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"].rsplit("/", 1)[1]


def user_row(console: ConsoleClient, user_id: str):  # type: ignore[no-untyped-def]
    async def work(conn):  # type: ignore[no-untyped-def]
        return (await conn.execute(select(users).where(users.c.id == user_id))).first()

    return console.server.db(work)


def audit_keys(console: ConsoleClient, user_id: str) -> list[str]:
    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.key, logs.c.payload).where(logs.c.user_id == user_id)
        )
        return [(r.key, r.payload) for r in rows]

    entries = console.server.db(work)
    assert all(p["actor"]["type"] == "console" and p["via"] == "console" for _, p in entries)
    return [k for k, _ in entries]


def test_users_need_a_signed_in_admin(console: ConsoleClient) -> None:
    with browser_client() as anonymous:
        shown = anonymous.get(console.url("/console/users"))
        assert shown.status_code == 303 and "/console/sign-in" in shown.headers["location"]
        posted = anonymous.post(console.url("/console/users"), data={"username": "x"})
        assert posted.status_code == 303


def test_create_needs_csrf_and_shows_service_errors(console: ConsoleClient) -> None:
    name = unique("csrf_user")
    refused = console.post("/console/users", {"username": name, "csrf_token": "forged"})
    assert refused.status_code == 403
    bad = create(console, username="9starts_with_digit", email="")
    assert bad.status_code == 400 and "username must start with a letter" in bad.text
    assert 'value="9starts_with_digit"' in bad.text  # kept on the form
    short = create(console, username=unique("short_pw"), password="short")
    assert short.status_code == 400 and "8 to 256 characters" in short.text
    first = created(console, username=name, email=f"{name}@example.com")
    taken = create(console, username=name)
    assert taken.status_code == 400 and "already" in taken.text

    async def count(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(select(users.c.id).where(users.c.username == name))
        return len(rows.all())

    assert console.server.db(count) == 1
    assert audit_keys(console, first) == ["ManagementApi.CreateUser"]


def test_search_and_pagination(console: ConsoleClient) -> None:
    marker = unique("srch").lower()
    ids = [created(console, username=f"{marker}_{i}") for i in range(22)]
    page1 = console.get(f"/console/users?search={marker}").text
    assert "22 matching" in page1 and "Page 1 of 2" in page1
    assert f'href="/console/users/{ids[-1]}"' in page1  # newest first
    page2 = console.get(f"/console/users?search={marker}&page=2").text
    assert f'href="/console/users/{ids[0]}"' in page2 and f"/console/users/{ids[-1]}" not in page2
    assert f"search={marker}&amp;page=1" in page2
    one = console.get(f"/console/users?search={marker}_7").text
    assert "1 matching" in one and f'href="/console/users/{ids[7]}"' in one
    assert "No users match" in console.get("/console/users?search=zz-nobody-zz").text


def test_profile_edit_and_password_reset(console: ConsoleClient) -> None:
    name = unique("profile")
    user_id = created(console, username=name, password="initial-password-1")
    page = console.get(f"/console/users/{user_id}")
    token = csrf_of(page.text)
    bad = console.post(
        f"/console/users/{user_id}",
        {
            "csrf_token": token,
            "username": name,
            "email": "not-an-email",
            "phone": "",
            "name": "",
            "avatar": "",
        },
    )
    assert bad.status_code == 400 and "email is not a valid address" in bad.text
    saved = console.post(
        f"/console/users/{user_id}",
        {
            "csrf_token": token,
            "username": name,
            "email": f"{name}@Example.COM",
            "phone": "4915112345678",
            "name": "Pat Doe",
            "avatar": "https://example.com/a.png",
        },
    )
    assert saved.status_code == 303
    row = user_row(console, user_id)
    assert row.primary_email == f"{name}@example.com" and row.name == "Pat Doe"
    assert row.primary_phone == "4915112345678"
    generated = console.post(f"/console/users/{user_id}/password", {"csrf_token": token})
    assert generated.status_code == 200
    password = re.search(r'id="new-password">([^<]+)<', generated.text).group(1)  # type: ignore[union-attr]
    assert password not in console.get(f"/console/users/{user_id}").text  # shown once

    async def check(conn):  # type: ignore[no-untyped-def]
        from portico.services import users as service

        await service.check_password(conn, DEFAULT_TENANT, user_id, password)

    console.server.db(check)
    chosen = console.post(
        f"/console/users/{user_id}/password", {"csrf_token": token, "password": "x"}
    )
    assert chosen.status_code == 400 and "8 to 256 characters" in chosen.text
    assert audit_keys(console, user_id).count("ManagementApi.UpdateUserPassword") == 1
    assert "ManagementApi.UpdateUser" in audit_keys(console, user_id)


def test_suspend_identities_and_roles(console: ConsoleClient) -> None:
    user_id = created(console, username=unique("suspend"))
    role_name = unique("Reader")

    async def setup(conn):  # type: ignore[no-untyped-def]
        role = await rbac.create_role(conn, DEFAULT_TENANT, name=role_name)
        await identities.link(conn, DEFAULT_TENANT, user_id, "google", "g-12345", None)
        return role["id"]

    role_id = console.server.db(setup)
    page = console.get(f"/console/users/{user_id}")
    assert "g-12345" in page.text and role_name in page.text
    token = csrf_of(page.text)
    assert (
        console.post(
            f"/console/users/{user_id}/suspension", {"csrf_token": token, "suspended": "true"}
        ).status_code
        == 303
    )
    assert user_row(console, user_id).is_suspended is True
    assert "suspended" in console.get(f"/console/users/{user_id}").text
    console.post(
        f"/console/users/{user_id}/suspension", {"csrf_token": token, "suspended": "false"}
    )
    assert user_row(console, user_id).is_suspended is False
    assigned = console.post(
        f"/console/users/{user_id}/roles", {"csrf_token": token, "role_id": role_id}
    )
    assert assigned.status_code == 303

    async def held(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(users_roles.c.role_id).where(users_roles.c.user_id == user_id)
        )
        return {r.role_id for r in rows}

    assert role_id in console.server.db(held)
    console.post(f"/console/users/{user_id}/roles/{role_id}/delete", {"csrf_token": token})
    assert role_id not in console.server.db(held)
    unlinked = console.post(
        f"/console/users/{user_id}/identities/google/delete", {"csrf_token": token}
    )
    assert unlinked.status_code == 303
    assert user_row(console, user_id).identities == {}
    keys = audit_keys(console, user_id)
    for key in ("UpdateUserIsSuspended", "AssignUserRoles", "DeleteUserRole", "DeleteUserIdentity"):
        assert f"ManagementApi.{key}" in keys


def test_delete_asks_for_the_password_and_the_name(console: ConsoleClient) -> None:
    name = unique("doomed")
    user_id = created(console, username=name)
    age_reauth(console)
    page = console.get(f"/console/users/{user_id}")
    assert f"Type <strong>{name}</strong> to confirm" in page.text
    action = f"/console/users/{user_id}/delete"
    asked = console.post(action, {"csrf_token": csrf_of(page.text), "confirm_name": name})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert user_row(console, user_id) is not None
    wrong = console.post(
        action,
        {"csrf_token": csrf_of(page.text), "reauth_password": "wrong-password",
         "confirm_name": name},
    )  # fmt: skip
    assert wrong.status_code == 401 and user_row(console, user_id) is not None
    for typed in ("", name.upper(), user_id):
        refused = console.post(
            action,
            {"csrf_token": csrf_of(page.text), "reauth_password": ADMIN_PASSWORD,
             "confirm_name": typed},
        )  # fmt: skip
        assert refused.status_code == 400, typed
        assert "Type the user&#39;s name exactly as shown" in refused.text
        assert user_row(console, user_id) is not None
    gone = console.post(
        action,
        {"csrf_token": csrf_of(page.text), "reauth_password": ADMIN_PASSWORD,
         "confirm_name": f" {name} "},
    )  # fmt: skip
    assert gone.status_code == 303 and user_row(console, user_id) is None
    assert console.get(f"/console/users/{user_id}").status_code == 404
    assert "ManagementApi.DeleteUser" in audit_keys(console, user_id)


def test_setting_a_password_and_adding_admins_ask_for_the_password(
    console: ConsoleClient,
) -> None:
    """A session alone (borrowed, stolen) must not take over an account or add a way in."""
    user_id = created(console, username=unique("target"))
    age_reauth(console)
    page = console.get(f"/console/users/{user_id}")
    asked = console.post(
        f"/console/users/{user_id}/password",
        {"csrf_token": csrf_of(page.text), "password": "Another-Harbor-Lantern-58"},
    )
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    admins = console.get("/console/admins")
    name = unique("intruder")
    asked = console.post(
        "/console/admins",
        {"csrf_token": csrf_of(admins.text), "username": name,
         "password": "Another-Harbor-Lantern-58"},
    )  # fmt: skip
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert name not in console.get("/console/admins").text
    invited = console.post("/console/admins/invitations", {"csrf_token": csrf_of(admins.text)})
    assert invited.status_code == 200 and "Confirm it is you" in invited.text
