"""The console's foundation: first-run set-up, sign-in, sessions (cookie flags, rotation, idle
timeout), CSRF, lockout, re-authentication, several admins, security headers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from portico.ids import digest
from portico.storage.tables import logs, oidc_model_instances, users
from tests.console import (
    ADMIN,
    ADMIN_PASSWORD,
    ConsoleClient,
    create_first_admin,
    flash_of,
    setup_code,
    start_server,
)
from tests.support import Server, browser_client, csrf_of, unique

STRONG = "quartz-meadow-fiddle-38"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory, "portico-console-fresh")


def admin_rows(server: Server) -> list[Any]:
    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(users.c.id, users.c.username).where(users.c.tenant_id == "admin")
        )
        return rows.all()

    return server.db(work)


def log_keys(server: Server, tenant: str) -> list[str]:
    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(select(logs.c.key).where(logs.c.tenant_id == tenant))
        return [r.key for r in rows]

    return server.db(work)


def test_first_visit_creates_the_admin_account_once(fresh: Server) -> None:
    visitor = ConsoleClient(fresh)
    first = visitor.get("/console")
    assert first.status_code == 303
    assert visitor.get(first.headers["location"]).headers.get("location") == "/console/welcome"
    code = setup_code(fresh)
    assert code and len(code.replace("-", "")) == 24
    # Without the set-up code printed by `portico serve`, nobody becomes the admin.
    for wrong in ("", "AAAAA-BBBBB-CCCCC-DDDDD-EEEE", code[:-1]):
        refused = visitor.submit(
            "/console/welcome",
            "/console/welcome",
            {"username": "scanner", "password": STRONG, "confirm": STRONG, "setup": wrong},
        )
        assert refused.status_code == 403 and "set-up code is not right" in refused.text
    assert admin_rows(fresh) == []
    # The link fills the code in; case, spaces and dashes do not matter.
    assert f'value="{code}"' in visitor.get(f"/console/welcome?setup={code}").text
    weak = visitor.submit(
        "/console/welcome",
        "/console/welcome",
        {"username": ADMIN, "password": "short", "confirm": "short",
         "setup": code.lower().replace("-", " ")},
    )  # fmt: skip
    assert weak.status_code == 400 and "at least 8" in weak.text
    assert admin_rows(fresh) == []

    created = create_first_admin(visitor)
    assert created.status_code == 303 and created.headers["location"] == "/console/get-started"
    assert "Get started" in visitor.get("/console/get-started").text
    assert [r.username for r in admin_rows(fresh)] == [ADMIN]
    assert "Console.CreateAdmin" in log_keys(fresh, "admin")
    assert setup_code(fresh) is None  # worthless once there is an admin

    # Set-up is over: another visitor is sent to sign-in and cannot post the form.
    other = ConsoleClient(fresh)
    assert other.get("/console/welcome").headers["location"] == "/console/sign-in"
    shown = other.get("/console/sign-in")
    late = other.post(
        "/console/welcome",
        {
            "csrf_token": csrf_of(shown.text),
            "username": "intruder",
            "password": STRONG,
            "confirm": STRONG,
        },
    )
    assert late.status_code == 303 and late.headers["location"] == "/console/sign-in"
    assert len(admin_rows(fresh)) == 1


def test_pages_require_sign_in(console_server: Server) -> None:
    anonymous = ConsoleClient(console_server)
    for path in ("/console/get-started", "/console/admins", "/console/users"):
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/console/sign-in?next={path}"
    refused = anonymous.post("/console/admins", {"username": "x", "password": STRONG})
    assert refused.status_code == 303 and refused.headers["location"].startswith("/console/sign-in")


def test_sign_in_sets_strict_host_cookie_and_rotates_the_session(console_server: Server) -> None:
    visitor = ConsoleClient(console_server)
    shown = visitor.get("/console/sign-in?next=/console/admins")
    before = visitor.cookie
    assert before
    response = visitor.post(
        "/console/sign-in",
        {
            "csrf_token": csrf_of(shown.text),
            "username": ADMIN,
            "password": ADMIN_PASSWORD,
            "next": "/console/admins",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/admins"
    header = next(
        h
        for h in response.headers.get_list("set-cookie")
        if h.startswith("__Host-portico-console=")
    )
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    assert visitor.cookie != before
    assert visitor.get("/console/admins").status_code == 200


def test_sign_in_never_redirects_off_the_console(console_server: Server) -> None:
    visitor = ConsoleClient(console_server)
    shown = visitor.get("/console/sign-in")
    response = visitor.post(
        "/console/sign-in",
        {
            "csrf_token": csrf_of(shown.text),
            "username": ADMIN,
            "password": ADMIN_PASSWORD,
            "next": "//evil.example/console",
        },
    )
    assert response.headers["location"] == "/console"


def test_wrong_password_is_refused_and_recorded(console_server: Server) -> None:
    visitor = ConsoleClient(console_server)
    response = visitor.submit(
        "/console/sign-in", "/console/sign-in", {"username": ADMIN, "password": "wrong-password-1"}
    )
    assert response.status_code == 401 and "Wrong username or password." in response.text
    assert visitor.get("/console/admins").status_code == 303
    assert "Console.SignIn" in log_keys(console_server, "admin")


def test_csrf_token_is_required(console: ConsoleClient) -> None:
    name = unique("nocsrf")
    for token in ("", "forged"):
        response = console.post(
            "/console/admins", {"csrf_token": token, "username": name, "password": STRONG}
        )
        assert response.status_code == 403 and "Request refused" in response.text
    assert name not in [r.username for r in admin_rows(console.server)]


def test_security_headers(console: ConsoleClient) -> None:
    response = console.get("/console/get-started")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "no-store" in response.headers["cache-control"]
    assert console.get("/static/console.js").status_code == 200


def test_idle_session_expires(console: ConsoleClient) -> None:
    assert console.get("/console/admins").status_code == 200
    handle = console.cookie
    assert handle

    async def idle(conn):  # type: ignore[no-untyped-def]
        key = digest(handle)
        t = oidc_model_instances
        payload = (await conn.execute(select(t.c.payload).where(t.c.id == key))).scalar_one()
        payload = {**payload, "lastSeen": payload["lastSeen"] - 31 * 60 * 1000}
        await conn.execute(update(t).where(t.c.id == key).values(payload=payload))

    console.server.db(idle)
    response = console.get("/console/admins")
    assert response.status_code == 303 and "/console/sign-in" in response.headers["location"]


def test_sign_out_ends_the_session(console: ConsoleClient) -> None:
    handle = console.cookie
    page = console.get("/console/get-started")
    response = console.post("/console/sign-out", {"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    console.client.portico_cookies.values["__Host-portico-console"] = handle  # type: ignore[attr-defined]
    assert console.get("/console/get-started").status_code == 303


def _attempt(visitor: ConsoleClient, token: str, username: str, password: str) -> httpx.Response:
    return visitor.post(
        "/console/sign-in", {"csrf_token": token, "username": username, "password": password}
    )


def test_failures_slow_down_their_address_and_never_lock_the_owner_out(
    console_server: Server,
) -> None:
    """Ten wrong passwords for the admin's name used to lock the real admin out for ten
    minutes; now they slow down only the address they came from."""
    stranger = ConsoleClient(
        console_server, browser_client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    )
    token = csrf_of(stranger.get("/console/sign-in").text)
    for _ in range(5):
        response = _attempt(stranger, token, ADMIN, "nope-nope-1")
        assert response.status_code == 401 and "Wrong username or password." in response.text
    # The sixth at once waits, even with the right password (it is not even checked).
    for password in ("nope-nope-1", ADMIN_PASSWORD):
        response = _attempt(stranger, token, ADMIN, password)
        assert response.status_code == 401
        assert "Too many failed attempts from this address. Try again in 1 second." in (
            response.text
        )
    # The owner, from another address, signs in at once.
    owner = ConsoleClient(console_server)
    owner.sign_in()
    # The delay doubles with each failure after it has passed.
    time.sleep(1.1)
    assert "Wrong username or password." in _attempt(stranger, token, ADMIN, "nope-2").text
    assert "Try again in 2 seconds." in _attempt(stranger, token, ADMIN, "nope-3").text
    # Unknown usernames are counted the same way (nothing tells them apart).
    ghost = unique("ghost")
    for _ in range(5):
        assert "Wrong username" in _attempt(stranger, token, ghost, "nope-nope-1").text
    assert "Try again in 1 second." in _attempt(stranger, token, ghost, "nope-nope-1").text


def test_admins_add_admins_and_deleting_one_needs_the_password_again(
    console: ConsoleClient,
) -> None:
    name = unique("second")
    weak = console.submit(
        "/console/admins", "/console/admins", {"username": name, "password": "123"}
    )
    assert weak.status_code == 400 and "at least 8" in weak.text
    created = console.submit(
        "/console/admins", "/console/admins", {"username": name, "password": STRONG}
    )
    assert created.status_code == 303
    assert any(name in text for text in flash_of(console.get("/console/admins").text))
    second = ConsoleClient(console.server)
    second.sign_in(name, STRONG)
    admin_id = next(r.id for r in admin_rows(console.server) if r.username == name)

    # A session older than five minutes is asked for the password before a deletion.
    async def age(conn):  # type: ignore[no-untyped-def]
        key = digest(console.cookie or "")
        t = oidc_model_instances
        payload = (await conn.execute(select(t.c.payload).where(t.c.id == key))).scalar_one()
        payload = {**payload, "reauthAt": payload["reauthAt"] - 6 * 60 * 1000}
        await conn.execute(update(t).where(t.c.id == key).values(payload=payload))

    console.server.db(age)
    asked = console.submit("/console/admins", f"/console/admins/{admin_id}/delete")
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    wrong = console.post(
        f"/console/admins/{admin_id}/delete",
        {"csrf_token": csrf_of(asked.text), "reauth_password": "not-my-password"},
    )
    assert wrong.status_code == 401 and name in [r.username for r in admin_rows(console.server)]
    done = console.post(
        f"/console/admins/{admin_id}/delete",
        {"csrf_token": csrf_of(asked.text), "reauth_password": ADMIN_PASSWORD},
    )
    assert done.status_code == 303
    assert name not in [r.username for r in admin_rows(console.server)]
    assert {"Console.CreateAdmin", "Console.DeleteAdmin"} <= set(log_keys(console.server, "admin"))
    # The deleted admin's session is gone with the account.
    assert second.get("/console/admins").status_code == 303


def test_invitation_link_works_once(console: ConsoleClient) -> None:
    shown = console.submit("/console/admins", "/console/admins/invitations")
    link = shown.text.split('id="invitation-link">', 1)[1].split("<", 1)[0]
    path = link.removeprefix(console.server.endpoint)
    invited = ConsoleClient(console.server)
    name = unique("invited")
    joined = invited.submit(path, path, {"username": name, "password": STRONG, "confirm": STRONG})
    assert joined.status_code == 303 and invited.get("/console/admins").status_code == 200
    again = ConsoleClient(console.server)
    assert again.get(path).status_code == 410
    assert name in [r.username for r in admin_rows(console.server)]


@pytest.fixture(scope="module")
def untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose sign-in experience is still the seed (the shared one's is edited)."""
    for srv in start_server(tmp_path_factory, "portico-console-untouched"):
        first = ConsoleClient(srv)
        assert create_first_admin(first).status_code == 303
        first.close()
        yield srv


def step_done(html: str, href: str) -> bool:
    found = re.search(rf'<li class="([^"]*)"><a href="{href}">', html)
    assert found, href
    return found.group(1) == "done"


def test_get_started_ticks_the_sign_in_experience_once_saved(untouched: Server) -> None:
    from tests.test_console_sign_in_experience import PAGE, form

    console = ConsoleClient(untouched)
    console.sign_in()
    try:
        before = console.get("/console/get-started")
        assert "<title>Get started · Portico Console</title>" in before.text
        assert not step_done(before.text, "/console/sign-in-experience")
        saved = console.post(PAGE, form(csrf_of(console.get(PAGE).text), primary_color="#0a7d5b"))
        assert saved.status_code == 303, saved.text[:500]
        after = console.get("/console/get-started").text
        assert step_done(after, "/console/sign-in-experience")
        assert not step_done(after, "/console/applications/new")
    finally:
        console.close()


def test_favicon_is_served(console: ConsoleClient) -> None:
    moved = console.get("/favicon.ico")
    assert moved.status_code == 301
    icon = console.get(moved.headers["location"])
    assert icon.status_code == 200 and icon.content.startswith(b"\x00\x00\x01\x00")
    assert icon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")


def test_framework_cards_have_logos(console: ConsoleClient) -> None:
    for page in ("/console/get-started", "/console/applications/new"):
        logos = re.findall(
            r'<img class="logo" src="(/static/frameworks/\w+\.svg)"', console.get(page).text
        )
        assert logos, page
        for logo in logos:
            served = console.get(logo)
            assert served.status_code == 200 and served.headers["content-type"] == "image/svg+xml"
            assert served.text.startswith("<svg")
