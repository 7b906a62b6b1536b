"""Console audit logs (filters, pages, details as JSON, a token exchange shows at once) and
signing keys (listed without key material, rotation and deletion behind re-authentication,
the JWKS following, audit entries)."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from portico.services.keys import PRIVATE_KEYS
from portico.storage import configs
from portico.storage.tables import applications, logs
from tests.conftest import make_app
from tests.console import ADMIN_PASSWORD, ConsoleClient
from tests.management import client_with, token_for
from tests.support import browser_client, unique
from tests.test_console_applications import age_reauth


def test_pages_need_a_signed_in_admin_and_csrf(console: ConsoleClient) -> None:
    with browser_client() as anonymous:
        for path in ("/console/audit-logs", "/console/signing-keys"):
            shown = anonymous.get(console.url(path))
            assert shown.status_code == 303 and "/console/sign-in" in shown.headers["location"]
    refused = console.post("/console/signing-keys/cookie-keys/rotate", {"csrf_token": "forged"})
    assert refused.status_code == 403


def test_a_token_exchange_shows_with_filters_and_details(console: ConsoleClient) -> None:
    app = make_app(console.server, "MachineToMachine")
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    token = httpx.post(
        f"{console.server.issuer}/token",
        auth=(app.id, app.secret),
        data={"grant_type": "client_credentials"},
    )
    assert token.status_code in (200, 400)
    listed = console.get(f"/console/audit-logs?application_id={app.id}")
    assert listed.status_code == 200
    assert (
        "ExchangeTokenBy.ClientCredentials" in listed.text and "1 entries matching" in listed.text
    )
    log_id = re.search(r'href="/console/audit-logs/([A-Za-z0-9]+)"', listed.text).group(1)  # type: ignore[union-attr]
    detail = console.get(f"/console/audit-logs/{log_id}")
    shown = html.unescape(
        re.search(r'<pre class="json" id="payload">(.*?)</pre>', detail.text, re.S).group(1)
    )  # type: ignore[union-attr]
    payload = json.loads(shown)
    assert payload["key"] == "ExchangeTokenBy.ClientCredentials"
    assert payload["applicationId"] == app.id and '\n  "key"' in shown  # formatted
    assert app.secret not in detail.text
    by_key = console.get(
        f"/console/audit-logs?key=ExchangeTokenBy.ClientCredentials&application_id={app.id}"
        f"&start={before}"
    )
    assert log_id in by_key.text
    later = console.get(f"/console/audit-logs?application_id={app.id}&start=2999-01-01T00:00")
    assert log_id not in later.text and "No entries match" in later.text
    earlier = console.get(f"/console/audit-logs?application_id={app.id}&end=2000-01-01T00:00")
    assert log_id not in earlier.text
    other_key = console.get(f"/console/audit-logs?application_id={app.id}&key=ManagementApi.X")
    assert log_id not in other_key.text
    bad = console.get("/console/audit-logs?start=yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.text
    upside_down = console.get("/console/audit-logs?start=2020-01-02T00:00&end=2020-01-01T00:00")
    assert upside_down.status_code == 400 and "is after" in upside_down.text
    assert console.get("/console/audit-logs/nonexistent").status_code == 404


def test_console_changes_are_listed_by_user_newest_first(console: ConsoleClient) -> None:
    created = console.submit("/console/users", "/console/users", {"username": unique("logged")})
    user_id = created.headers["location"].rsplit("/", 1)[1]
    time.sleep(0.01)
    console.submit(
        f"/console/users/{user_id}",
        f"/console/users/{user_id}/suspension",
        {"suspended": "true"},
    )
    page = console.get(f"/console/audit-logs?user_id={user_id}").text
    keys = re.findall(r'href="/console/audit-logs/[A-Za-z0-9]+">([^<]+)<', page)
    assert keys == ["ManagementApi.UpdateUserIsSuspended", "ManagementApi.CreateUser"]
    assert "2 entries matching" in page


def _cells(page: str, key: str) -> list[str]:
    """The text of each cell of the first row listing ``key``."""
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if f">{key}<" in r)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells]


def _application_name(console: ConsoleClient, app_id: str) -> str:
    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(applications.c.name).where(applications.c.id == app_id)
        return (await conn.execute(query)).scalar_one()

    return console.server.db(work)  # type: ignore[no-any-return]


def test_entries_name_who_acted_and_about_whom_at_a_readable_time(
    console: ConsoleClient,
) -> None:
    username = unique("named")
    created = console.submit("/console/users", "/console/users", {"username": username})
    user_id = created.headers["location"].rsplit("/", 1)[1]
    page = console.get(f"/console/audit-logs?user_id={user_id}").text
    _, _, actor, user, _, when = _cells(page, "ManagementApi.CreateUser")
    assert actor == "root_admin Console admin"
    assert user == f"{username} {user_id}"
    stamp = re.search(r'<time datetime="([^"]+)" data-ms="(\d+)">([^<]+)</time>', page)
    assert stamp is not None
    moment = datetime.fromtimestamp(int(stamp.group(2)) / 1000, UTC)
    assert when == stamp.group(3) == moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert stamp.group(1) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    # A Management API caller is named by its application; names are today's.
    app_id, token = token_for(console.server, ["Logto Management API access"])
    app_name = _application_name(console, app_id)
    with client_with(console.server, token) as api:
        assert api.patch(f"/users/{user_id}", json={"name": "Ada Named"}).status_code == 200
    page = console.get(f"/console/audit-logs?user_id={user_id}").text
    _, _, actor, user, _, _ = _cells(page, "ManagementApi.UpdateUser")
    assert actor == f"{app_name} Management API, application"
    assert user == f"Ada Named {user_id}"
    tokens = console.get(f"/console/audit-logs?application_id={app_id}").text
    application = _cells(tokens, "ExchangeTokenBy.ClientCredentials")[4]
    assert application == f"{app_name} {app_id}"
    log_id = re.search(r'href="/console/audit-logs/(\w+)">ManagementApi.CreateUser<', page)
    detail = console.get(f"/console/audit-logs/{log_id.group(1)}").text  # type: ignore[union-attr]
    assert "root_admin" in detail and "Ada Named" in detail


def test_filters_are_one_row_of_a_plain_get_form(console: ConsoleClient) -> None:
    page = console.get("/console/audit-logs").text
    found = re.search(
        r'<form method="get" action="/console/audit-logs"[^>]*>(.*?)</form>', page, re.S
    )
    assert found is not None and "<script" not in found.group(1)
    assert 'class="filters"' in page  # one wrapping row of fields (console.css)
    inputs = re.findall(r'<input id="(\w+)" name="\1"', found.group(1))
    assert inputs == ["key", "user_id", "application_id", "start", "end"]
    assert '<button type="submit"' in found.group(1)


def test_logs_are_paged(console: ConsoleClient) -> None:
    marker = unique("Paged.Key")

    async def fill(conn):  # type: ignore[no-untyped-def]
        from portico.services import audit

        for _ in range(51):
            await audit.record(conn, "default", marker)

    console.server.db(fill)
    first = console.get(f"/console/audit-logs?key={marker}").text
    assert "Page 1 of 2" in first and first.count(f">{marker}<") == 50
    second = console.get(f"/console/audit-logs?key={marker}&page=2").text
    assert second.count(f">{marker}<") == 1 and f"key={marker}&amp;page=1" in second


def stored_keys(console: ConsoleClient) -> list[dict]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return await configs.get(conn, "default", PRIVATE_KEYS)

    return console.server.db(work)


def jwks_kids(console: ConsoleClient) -> set[str]:
    """The tenant keys' ids (companion keys of other algorithms, made when an application
    asks for one, aside)."""
    keys = httpx.get(f"{console.server.issuer}/jwks").json()["keys"]
    return {k["kid"] for k in keys if k["alg"] == "ES384"}


def test_signing_keys_rotate_and_delete_behind_the_password(console: ConsoleClient) -> None:
    stored = stored_keys(console)
    page = console.get("/console/signing-keys").text
    current = stored[0]["id"]
    assert current in page and "Current" in page and "ES384" in page
    material = stored[0]["value"]
    assert "PRIVATE KEY" not in page and material.splitlines()[1] not in page
    age_reauth(console)
    asked = console.submit("/console/signing-keys", "/console/signing-keys/private-keys/rotate")
    assert "Confirm it is you" in asked.text and stored_keys(console)[0]["id"] == current
    rotated = console.submit(
        "/console/signing-keys",
        "/console/signing-keys/private-keys/rotate",
        {"algorithm": "EC", "reauth_password": ADMIN_PASSWORD},
    )
    assert rotated.status_code == 303
    after = stored_keys(console)
    new_kid = after[0]["id"]
    assert new_kid != current and after[1]["id"] == current
    deadline = time.monotonic() + 10
    while jwks_kids(console) != {new_kid, current} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert jwks_kids(console) == {new_kid, current}
    shown = console.get("/console/signing-keys").text
    assert "Previous" in shown and "Current" in shown
    refused = console.submit(
        "/console/signing-keys", f"/console/signing-keys/private-keys/{new_kid}/delete"
    )
    assert refused.status_code == 422 and "only a Previous signing key" in refused.text
    age_reauth(console)
    asked = console.submit(
        "/console/signing-keys", f"/console/signing-keys/private-keys/{current}/delete"
    )
    assert "Confirm it is you" in asked.text and len(stored_keys(console)) == 2
    deleted = console.submit(
        "/console/signing-keys",
        f"/console/signing-keys/private-keys/{current}/delete",
        {"reauth_password": ADMIN_PASSWORD},
    )
    assert deleted.status_code == 303 and [k["id"] for k in stored_keys(console)] == [new_kid]
    deadline = time.monotonic() + 10
    while jwks_kids(console) != {new_kid} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert jwks_kids(console) == {new_kid}

    async def entries(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.key, logs.c.payload).where(logs.c.key.like("ManagementApi.%OidcKey%"))
        )
        return [(r.key, r.payload) for r in rows]

    found = console.server.db(entries)
    assert ("ManagementApi.RotateOidcKeys", "private-keys") in {
        (k, p["params"]["keyType"]) for k, p in found
    }
    assert any(
        k == "ManagementApi.DeleteOidcKey" and p["params"]["keyId"] == current for k, p in found
    )
    unknown = console.submit("/console/signing-keys", "/console/signing-keys/other-keys/rotate")
    assert unknown.status_code == 404


def test_cookie_keys_rotate(console: ConsoleClient) -> None:
    page = console.get("/console/signing-keys").text
    before = re.findall(r"cookie-keys/([A-Za-z0-9_-]+)/delete", page)
    rotated = console.submit(
        "/console/signing-keys",
        "/console/signing-keys/cookie-keys/rotate",
        {"reauth_password": ADMIN_PASSWORD},
    )
    assert rotated.status_code == 303
    after = console.get("/console/signing-keys").text
    kept = re.findall(r"cookie-keys/([A-Za-z0-9_-]+)/delete", after)
    assert len(kept) == 1 and kept != before
