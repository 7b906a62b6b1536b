"""Console pages of webhooks: a hook created from the form (a bad or internal endpoint
refused with nothing stored), "Send test" arriving at a real receiver on loopback with a valid
HMAC, the signing key regenerated behind the password (the next delivery signed with the new
key), enable/disable, recent deliveries with their details, settings, deletion behind the
typed name, and the entries /api writes for the same changes.

What was stored is read back through ``/api/hooks``, the Management API the console must
agree with; deliveries are the real outbox's, sent by the console server's worker."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.storage.tables import logs
from tests.console import ADMIN_PASSWORD, ConsoleClient, flash_of
from tests.support import Server, csrf_of, unique
from tests.test_console_applications import age_reauth, management_of
from tests.webhook_receiver import Receiver, receiver

BASE = "/console/webhooks"


@pytest.fixture(scope="module")
def inbox() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


@pytest.fixture(scope="module")
def management(console_server: Server, inbox: Receiver) -> Iterator[httpx.Client]:
    """The Management API; the hooks this module made are deleted at its end (their
    receiver goes away with it)."""
    with management_of(console_server) as client:
        before = {h["id"] for h in client.get("/hooks").json()}
        yield client
        for hook in client.get("/hooks").json():
            if hook["id"] not in before:
                client.delete(f"/hooks/{hook['id']}")


def audited(console: ConsoleClient, key: str, hook_id: str | None = None) -> list[Any]:
    """Entries ``ManagementApi.<key>`` written by the console (about ``hook_id``)."""

    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.payload).where(logs.c.key == f"ManagementApi.{key}")
        )
        return [r.payload for r in rows]

    found = [p for p in console.server.db(work) if p.get("via") == "console"]
    assert all(p["actor"]["type"] == "console" for p in found)
    if hook_id is None:
        return found
    return [p for p in found if (p.get("params") or {}).get("id") == hook_id]


def form(name: str, url: str, events: list[str], **extra: list[str]) -> dict[str, Any]:
    """The form's fields (a list posts each of its values, as checkboxes and rows do)."""
    return {"name": name, "url": url, "events": events, **extra}


def create(console: ConsoleClient, fields: dict[str, Any]) -> httpx.Response:
    shown = console.get(f"{BASE}/new")
    assert shown.status_code == 200
    return console.post(f"{BASE}/new", {"csrf_token": csrf_of(shown.text), **fields})


def created(console: ConsoleClient, url: str, events: list[str], **extra: Any) -> str:
    response = create(console, form(unique("hook"), url, events, **extra))
    assert response.status_code == 303, response.text[:500]
    return str(response.headers["location"]).rsplit("/", 1)[1]


def on_page(console: ConsoleClient, hook_id: str, action: str, **fields: str) -> httpx.Response:
    page = f"{BASE}/{hook_id}"
    return console.submit(page, f"{page}{action}", fields)


def shown_key(page: str) -> str:
    match = re.search(r'<code id="signing-key">([^<]+)</code>', page)
    assert match, "no signing key on the page"
    return match.group(1)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# Create ------------------------------------------------------------------------------------------
def test_create_refuses_bad_and_internal_endpoints_storing_nothing(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    assert 'href="/console/webhooks"' in console.get("/console/users").text  # the nav
    new = console.get(f"{BASE}/new").text
    for heading in ("User", "Organization", "Organization role", "User interaction", "Security"):
        assert f'<p class="picker-group">{heading}</p>' in new
    assert 'value="Organization.Membership.Updated"' in new
    before = len(management.get("/hooks").json())
    refusals = {
        "http://example.com/hook": "must be an https URL",
        "https://10.1.2.3/hook": "10.1.2.3",
        "https://169.254.169.254/latest": "169.254.169.254",
        "https://[::1]:9/x": "::1",
        "ftp://example.com/x": "must be an absolute https URL",
    }
    for url, reason in refusals.items():
        refused = create(console, form("Bad", url, ["PostSignIn"]))
        assert refused.status_code == 400 and reason in text_of(refused.text), url
        assert f'value="{url}"' in refused.text  # the draft is kept
    cases = [
        (form("", inbox.url, ["PostSignIn"]), "Required."),
        (form("No events", inbox.url, []), "Choose at least one event."),
        (form("Nope", inbox.url, ["Nope.Event"]), "Unknown event: Nope.Event."),
        (
            form("Forged", inbox.url, ["PostSignIn"], header_name=["logto-signature-sha-256"],
                 header_value=["x"]),
            "is set by Portico",
        ),
        (
            form("Twice", inbox.url, ["PostSignIn"], header_name=["X-A", "x-a"],
                 header_value=["1", "2"]),
            "The header x-a is listed twice.",
        ),
        (
            form("Half", inbox.url, ["PostSignIn"], header_name=["X-A"], header_value=[""]),
            "Every header needs a value.",
        ),
    ]  # fmt: skip
    for fields, message in cases:
        refused = create(console, fields)
        assert refused.status_code == 400 and message in text_of(refused.text), message
    assert len(management.get("/hooks").json()) == before


def test_create_then_send_test_arrives_signed(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    name = unique("Orders")
    response = create(
        console,
        form(name, inbox.url, ["PostSignIn", "User.Created"], header_name=["X-Tenant", ""],
             header_value=["acme", ""]),
    )  # fmt: skip
    assert response.status_code == 303, response.text[:500]
    hook_id = response.headers["location"].rsplit("/", 1)[1]
    page = console.get(response.headers["location"]).text
    assert name in flash_of(page)[0]
    stored = management.get(f"/hooks/{hook_id}").json()
    assert stored["name"] == name and stored["enabled"] is True
    assert stored["events"] == ["PostSignIn", "User.Created"]
    assert stored["config"] == {"url": inbox.url, "headers": {"X-Tenant": "acme"}}
    assert shown_key(page) == stored["signingKey"]
    assert len(audited(console, "CreateHook")) >= 1
    listed = console.get(BASE).text
    assert f'href="{BASE}/{hook_id}"' in listed and inbox.url in listed

    sent = on_page(console, hook_id, "/test", event="User.Created")
    assert sent.status_code == 200
    assert "The test request to the endpoint succeeded." in sent.text
    [delivery] = inbox.wait_for(
        1, lambda d: d.payload["hookId"] == hook_id and d.payload["event"] == "User.Created"
    )
    assert delivery.signed_with(stored["signingKey"])
    assert delivery.headers["x-tenant"] == "acme"

    inbox.statuses.append(500)
    failed = on_page(console, hook_id, "/test", event="PostSignIn")
    assert failed.status_code == 200
    shown = text_of(failed.text)
    assert "The endpoint responded with an error." in shown and "Response status: 500" in shown
    assert "nope" in shown  # the endpoint's body
    tests = audited(console, "TestHook", hook_id)
    assert sorted(p["result"] for p in tests) == ["Error", "Success"]


def test_regenerated_key_behind_the_password_signs_the_next_delivery(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    hook_id = created(console, inbox.url, ["User.Created"])
    old = management.get(f"/hooks/{hook_id}").json()["signingKey"]
    page = console.get(f"{BASE}/{hook_id}").text
    assert "update the key your endpoint checks" in page  # the warning
    age_reauth(console)
    asked = on_page(console, hook_id, "/signing-key")
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert management.get(f"/hooks/{hook_id}").json()["signingKey"] == old
    wrong = console.post(
        f"{BASE}/{hook_id}/signing-key",
        {"csrf_token": csrf_of(asked.text), "reauth_password": "not-the-password"},
    )
    assert wrong.status_code == 401
    assert management.get(f"/hooks/{hook_id}").json()["signingKey"] == old
    done = console.post(
        f"{BASE}/{hook_id}/signing-key",
        {"csrf_token": csrf_of(asked.text), "reauth_password": ADMIN_PASSWORD},
    )
    assert done.status_code == 303 and done.headers["location"].endswith("#wh-signing-key")
    new = management.get(f"/hooks/{hook_id}").json()["signingKey"]
    assert new != old and shown_key(console.get(f"{BASE}/{hook_id}").text) == new
    assert len(audited(console, "UpdateHookSigningKey", hook_id)) == 1

    username = unique("signed")
    assert management.post("/users", json={"username": username}).status_code == 200
    [delivery] = inbox.wait_for(
        1, lambda d: d.payload["hookId"] == hook_id and d.payload.get("data", {}).get(
            "username") == username
    )  # fmt: skip
    assert delivery.signed_with(new) and not delivery.signed_with(old)


def test_disabled_hook_gets_nothing_until_reactivated(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    hook_id = created(console, inbox.url, ["User.Created"])
    off = on_page(console, hook_id, "/enabled", enabled="false")
    assert off.status_code == 303
    page = console.get(off.headers["location"]).text
    assert "The webhook has been disabled." in flash_of(page) and "Reactivate webhook" in page
    assert management.get(f"/hooks/{hook_id}").json()["enabled"] is False
    assert "Not in use" in console.get(BASE).text
    quiet = unique("quiet")
    management.post("/users", json={"username": quiet})

    on = on_page(console, hook_id, "/enabled", enabled="true")
    assert on.status_code == 303
    assert management.get(f"/hooks/{hook_id}").json()["enabled"] is True
    loud = unique("loud")
    management.post("/users", json={"username": loud})
    mine = inbox.wait_for(1, lambda d: d.payload["hookId"] == hook_id)
    assert [d.payload["data"]["username"] for d in mine] == [loud]
    assert len(audited(console, "UpdateHook", hook_id)) == 2


def recent(console: ConsoleClient, hook_id: str, query: str = "") -> str:
    """The hook's page once its Recent deliveries tab lists an attempt and its statistics
    count it (the worker logs each one just after the receiver answers; the page reads the
    statistics and the list one after the other, so a page can fall between the two)."""
    deadline = time.time() + 10
    while True:
        page = console.get(f"{BASE}/{hook_id}{query}").text
        listed = f"{BASE}/{hook_id}/deliveries/" in page
        counted = "Attempts in the last 24 hours: 0" not in text_of(page)
        if (listed and counted) or time.time() > deadline:
            return page
        time.sleep(0.1)


def test_recent_deliveries_listed_filtered_and_detailed(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    hook_id = created(console, inbox.url, ["User.Created", "PostSignIn"])
    username = unique("listed")
    management.post("/users", json={"username": username})
    inbox.wait_for(1, lambda d: d.payload["hookId"] == hook_id)
    page = recent(console, hook_id)
    links = re.findall(rf'href="{BASE}/{hook_id}/deliveries/([^"]+)"', page)
    assert len(links) == 1
    row = text_of(page.split(f"deliveries/{links[0]}")[1].split("</tr>")[0])
    assert "Success" in row and "200" in row and "User.Created" in row and " ms" in row
    assert "Attempts in the last 24 hours: 1" in text_of(page)

    filtered = console.get(f"{BASE}/{hook_id}?event=PostSignIn").text
    assert "/deliveries/" not in filtered and "No delivery in the last 24 hours." in filtered
    assert 'data-default-tab="wh-deliveries"' in filtered
    kept = console.get(f"{BASE}/{hook_id}?event=User.Created").text
    assert f"deliveries/{links[0]}" in kept

    details = console.get(f"{BASE}/{hook_id}/deliveries/{links[0]}")
    assert details.status_code == 200
    shown = text_of(details.text)
    assert username in shown and '"event": "User.Created"' in shown  # the request body
    assert '"ok": true' in shown and "200" in shown  # the endpoint's answer
    other = created(console, inbox.url, ["PostSignIn"])
    assert console.get(f"{BASE}/{other}/deliveries/{links[0]}").status_code == 404
    assert console.get(f"{BASE}/{hook_id}/deliveries/nope").status_code == 404


def test_settings_saved_whole_and_refused_without_a_change(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    hook_id = created(console, inbox.url, ["PostSignIn"], header_name=["X-Old"],
                      header_value=["1"])  # fmt: skip
    page = f"{BASE}/{hook_id}"
    fields = form("Renamed", inbox.url + "?v=2", ["Role.Created", "Role.Deleted"],
                  header_name=["X-New"], header_value=["2"])  # fmt: skip
    shown = console.get(page)
    saved = console.post(page, {"csrf_token": csrf_of(shown.text), **fields})
    assert saved.status_code == 303 and saved.headers["location"].endswith("#wh-settings")
    stored = management.get(f"/hooks/{hook_id}").json()
    assert stored["name"] == "Renamed" and stored["events"] == ["Role.Created", "Role.Deleted"]
    assert stored["config"] == {"url": inbox.url + "?v=2", "headers": {"X-New": "2"}}
    assert 'value="Role.Deleted" checked' in console.get(page).text

    bad = form("Renamed again", "https://10.0.0.7/x", ["PostSignIn"])
    refused = console.post(page, {"csrf_token": csrf_of(shown.text), **bad})
    assert refused.status_code == 400 and "10.0.0.7" in text_of(refused.text)
    assert management.get(f"/hooks/{hook_id}").json() == stored
    assert len(audited(console, "UpdateHook", hook_id)) == 1


def test_delete_needs_the_typed_name(
    console: ConsoleClient, management: httpx.Client, inbox: Receiver
) -> None:
    name = unique("Doomed")
    response = create(console, form(name, inbox.url, ["PostSignIn"]))
    hook_id = response.headers["location"].rsplit("/", 1)[1]
    wrong = on_page(console, hook_id, "/delete", confirm_name="something else")
    assert wrong.status_code == 400 and "nothing was deleted" in text_of(wrong.text)
    assert management.get(f"/hooks/{hook_id}").status_code == 200
    gone = on_page(console, hook_id, "/delete", confirm_name=name)
    assert gone.status_code == 303 and gone.headers["location"] == BASE
    assert f"Webhook {name} deleted." in flash_of(console.get(BASE).text)
    assert management.get(f"/hooks/{hook_id}").status_code == 404
    assert len(audited(console, "DeleteHook", hook_id)) == 1
    assert console.get(f"{BASE}/{hook_id}").status_code == 404
