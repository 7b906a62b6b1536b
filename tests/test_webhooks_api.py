"""``/api/hooks`` (Logto's shapes and codes) and the events a real receiver gets: data events
from Management API writes, interaction events from sign-in, each delivery's HMAC checked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portico.services import webhooks
from portico.services.webhooks import HookSealer
from portico.storage import webhooks as repo
from portico.storage.database import create_engine
from portico.transfer.exporter import export
from tests.conftest import make_user
from tests.console import ConsoleClient
from tests.flows import get_code
from tests.management import error
from tests.support import Browser, Server, unique
from tests.webhook_receiver import Receiver, receiver


@pytest.fixture(scope="module")
def inbox() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def create_hook(admin: httpx.Client, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    body = {
        "name": unique("hook"),
        "events": events,
        "config": {"url": url, "headers": {"x-tenant": "acme"}},
        **extra,
    }
    created = admin.post("/hooks", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def deliveries_of(server: Server, hook_id: str) -> list[dict[str, Any]]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return await repo.delivery_states(conn, "default", hook_id)

    return list(server.db(work))


# CRUD ----------------------------------------------------------------------------------------
def test_create_get_update_delete_as_logto(admin: httpx.Client, inbox: Receiver) -> None:
    hook = create_hook(admin, inbox.url, ["PostRegister"])
    assert hook["events"] == ["PostRegister"] and hook["enabled"] is True
    assert hook["config"] == {"url": inbox.url, "headers": {"x-tenant": "acme"}}
    assert len(hook["signingKey"]) == 32 and hook["event"] is None
    assert admin.get(f"/hooks/{hook['id']}").json() == hook
    assert hook in admin.get("/hooks").json()
    updated = admin.patch(f"/hooks/{hook['id']}", json={"events": ["PostSignIn"]})
    assert updated.status_code == 200 and updated.json() == {**hook, "events": ["PostSignIn"]}
    assert admin.delete(f"/hooks/{hook['id']}").status_code == 204
    error(admin.get(f"/hooks/{hook['id']}"), 404, "entity.not_exists_with_id")


def test_legacy_single_event_and_pagination(admin: httpx.Client, inbox: Receiver) -> None:
    created = admin.post(
        "/hooks", json={"event": "PostRegister", "config": {"url": inbox.url, "retries": 2}}
    )
    assert created.status_code == 201, created.text
    assert created.json()["event"] == "PostRegister" and created.json()["events"] == []
    page = admin.get("/hooks", params={"page": 1, "page_size": 20})
    assert page.status_code == 200 and int(page.headers["total-number"]) >= 1
    admin.delete(f"/hooks/{created.json()['id']}")


def test_logto_errors(admin: httpx.Client, inbox: Receiver) -> None:
    config = {"url": inbox.url}
    error(admin.post("/hooks", json={"name": "h", "config": config}), 400, "hook.missing_events")
    error(
        admin.post("/hooks", json={"name": "", "events": ["PostSignIn"], "config": config}),
        400,
        "guard.invalid_input",
    )
    error(
        admin.post("/hooks", json={"events": ["Nope"], "config": config}),
        400,
        "guard.invalid_input",
    )
    error(admin.post("/hooks", json={"events": [], "config": config}), 400, "guard.invalid_input")
    error(admin.patch("/hooks/invalid_id", json={"name": "x"}), 404, "entity.not_exists")
    error(admin.patch("/hooks/invalid_id/signing-key"), 404, "entity.not_exists")
    error(admin.delete("/hooks/invalid_id"), 404, "entity.not_exists_with_id")
    test = {"events": ["PostSignIn"], "config": config}
    error(admin.post("/hooks/invalid_id/test", json=test), 404, "entity.not_exists_with_id")


def test_targets_https_unless_allowed_and_never_internal(admin: httpx.Client) -> None:
    """http only for hosts PORTICO_ALLOW_PRIVATE_TARGETS lists; internal addresses it does
    not list refused; reserved headers cannot be replaced."""
    for url in (
        "http://example.com/hook",
        "ftp://example.com/x",
        "not_work_url",
        "https://169.254.169.254/latest",
        "https://10.1.2.3/hook",
        "https://[::1]:9/x",
    ):
        response = admin.post("/hooks", json={"events": ["PostSignIn"], "config": {"url": url}})
        error(response, 400, "guard.invalid_input")
    bad = {"url": "https://example.com/h", "headers": {"logto-signature-sha-256": "forged"}}
    error(
        admin.post("/hooks", json={"events": ["PostSignIn"], "config": bad}),
        400,
        "guard.invalid_input",
    )


def test_signing_key_regenerated_and_sealed_at_rest(
    admin: httpx.Client, server: Server, inbox: Receiver
) -> None:
    hook = create_hook(admin, inbox.url, ["PostSignIn"])
    again = admin.patch(f"/hooks/{hook['id']}/signing-key")
    assert again.status_code == 200
    assert again.json()["signingKey"] != hook["signingKey"]

    async def stored(conn):  # type: ignore[no-untyped-def]
        return await repo.get_hook(conn, "default", hook["id"])

    row = server.db(stored)
    assert again.json()["signingKey"] not in str(row["signing_key"])
    admin.delete(f"/hooks/{hook['id']}")


# Send test -----------------------------------------------------------------------------------
def test_send_test_payload(admin: httpx.Client, inbox: Receiver) -> None:
    hook = create_hook(admin, inbox.url, ["PostRegister"])
    body = {"events": ["PostSignIn", "User.Created"], "config": {"url": inbox.url}}
    assert admin.post(f"/hooks/{hook['id']}/test", json=body).status_code == 204
    sent = inbox.wait_for(2, lambda d: d.payload["hookId"] == hook["id"])
    assert {d.payload["event"] for d in sent} == {"PostSignIn", "User.Created"}
    assert all(d.signed_with(hook["signingKey"]) for d in sent)
    inbox.statuses.append(500)
    failed = admin.post(f"/hooks/{hook['id']}/test", json=body)
    assert error(failed, 422, "hook.endpoint_responded_with_error")["data"] == {
        "responseStatus": 500,
        "responseBody": "nope",
    }
    unreachable = {"events": ["PostSignIn"], "config": {"url": "http://127.0.0.1:9/hook"}}
    error(
        admin.post(f"/hooks/{hook['id']}/test", json=unreachable),
        422,
        "hook.send_test_payload_failed",
    )
    admin.delete(f"/hooks/{hook['id']}")


# Events --------------------------------------------------------------------------------------
def test_user_data_events_reach_the_receiver_signed(
    admin: httpx.Client, server: Server, inbox: Receiver
) -> None:
    hook = create_hook(admin, inbox.url, ["User.Created", "User.Data.Updated", "User.Deleted"])
    created = admin.post("/users", json={"username": unique("wh")})
    assert created.status_code == 200, created.text
    user_id = created.json()["id"]
    admin.patch(f"/users/{user_id}", json={"name": "Ada"})
    assert admin.delete(f"/users/{user_id}").status_code == 204
    mine = inbox.wait_for(3, lambda d: d.payload["hookId"] == hook["id"])
    by_event = {d.payload["event"]: d for d in mine}
    assert all(d.signed_with(hook["signingKey"]) for d in mine)
    assert all(d.headers["x-tenant"] == "acme" for d in mine)
    assert len({d.headers["idempotency-key"] for d in mine}) == 3
    made = by_event["User.Created"].payload
    assert made["data"]["id"] == user_id and made["status"] == 200
    assert (made["method"], made["path"], made["matchedRoute"]) == ("POST", "/users", "/users")
    assert made["userAgent"] == "portico-tests/1" and made["createdAt"].endswith("Z")
    changed = by_event["User.Data.Updated"].payload
    assert changed["data"]["name"] == "Ada" and changed["params"] == {"userId": user_id}
    assert changed["matchedRoute"] == "/users/:userId"
    gone = by_event["User.Deleted"].payload
    assert gone["data"]["id"] == user_id and gone["status"] == 204
    assert "hasPassword" not in gone["data"]  # Logto's userInfoSelectFields
    logs = admin.get(f"/hooks/{hook['id']}/recent-logs")
    assert logs.status_code == 200 and logs.headers["total-number"] == "3"
    assert {entry["key"] for entry in logs.json()} == {
        "TriggerHook.User.Created",
        "TriggerHook.User.Data.Updated",
        "TriggerHook.User.Deleted",
    }
    entry = logs.json()[0]["payload"]
    assert entry["result"] == "Success" and entry["hookId"] == hook["id"]
    assert entry["response"]["statusCode"] == 200 and entry["hookRequest"]["body"]["event"]
    only = admin.get(
        f"/hooks/{hook['id']}/recent-logs", params={"logKey": "TriggerHook.User.Deleted"}
    )
    assert [e["key"] for e in only.json()] == ["TriggerHook.User.Deleted"]
    stats = admin.get(f"/hooks/{hook['id']}", params={"includeExecutionStats": "true"}).json()
    assert stats["executionStats"] == {"requestCount": 3, "successCount": 3}
    listed = admin.get("/hooks", params={"includeExecutionStats": "true"}).json()
    assert next(h for h in listed if h["id"] == hook["id"])["executionStats"]["requestCount"] == 3
    assert "executionStats" not in admin.get(f"/hooks/{hook['id']}").json()
    admin.delete(f"/hooks/{hook['id']}")


def test_organization_membership_updated_for_every_way_members_change(
    admin: httpx.Client, server: Server, inbox: Receiver
) -> None:
    """Logto's ``Organization.Membership.Updated`` with the delta: users added and removed
    through the API, machine-to-machine applications, and JIT provisioning at sign-in."""
    from tests.conftest import make_app, make_user

    hook = create_hook(admin, inbox.url, ["Organization.Membership.Updated"])
    org = admin.post("/organizations", json={"name": unique("Org")}).json()
    first, second = make_user(server), make_user(server)
    base = f"/organizations/{org['id']}"
    assert admin.post(f"{base}/users", json={"userIds": [first.id]}).status_code == 201
    assert admin.post(f"{base}/users", json={"userIds": [first.id]}).status_code == 201  # none
    assert admin.put(f"{base}/users", json={"userIds": [second.id]}).status_code == 204
    assert admin.delete(f"{base}/users/{second.id}").status_code == 204
    app = make_app(server, "MachineToMachine")
    assert admin.post(f"{base}/applications", json={"applicationIds": [app.id]}).status_code == 201
    mine = inbox.wait_for(4, lambda d: d.payload["hookId"] == hook["id"])
    deltas = [
        {k: v for k, v in d.payload.items() if k.endswith("Ids")}
        for d in sorted(mine, key=lambda d: d.payload["createdAt"])
    ]
    assert all(d.payload["organizationId"] == org["id"] for d in mine)
    assert all(d.signed_with(hook["signingKey"]) for d in mine)
    assert {"addedUserIds": [first.id]} in deltas
    assert {"addedUserIds": [second.id], "removedUserIds": [first.id]} in deltas
    assert {"removedUserIds": [second.id]} in deltas
    assert {"addedApplicationIds": [app.id]} in deltas
    time.sleep(1)  # a fifth (for the member added again) would have arrived by now
    again = [d for d in inbox.of("Organization.Membership.Updated")
             if d.payload["hookId"] == hook["id"]]  # fmt: skip
    assert len(again) == 4  # re-adding a member changed nothing, so said nothing
    admin.delete(f"/hooks/{hook['id']}")


def test_a_path_of_any_character_pages_without_a_500(admin: httpx.Client) -> None:
    """The pagination's Link headers carry the path percent-encoded (a header is Latin-1):
    schemathesis found ``/hooks/Ā/recent-logs`` answering 500."""
    answer = admin.get("/hooks/%C4%80/recent-logs", params={"page": 1, "page_size": 5})
    assert answer.status_code < 500, answer.text
    for link in answer.headers.get_list("link"):
        assert link.isascii() and "%C4%80" in link


def test_a_refused_change_sends_nothing(
    admin: httpx.Client, server: Server, inbox: Receiver
) -> None:
    """The handler's transaction rolled back (username taken): no outbox row, no delivery."""
    hook = create_hook(admin, inbox.url, ["User.Created"])
    name = unique("taken")
    assert admin.post("/users", json={"username": name}).status_code == 200
    error(admin.post("/users", json={"username": name}), 422, "user.username_already_in_use")
    inbox.wait_for(1, lambda d: d.payload["hookId"] == hook["id"])
    assert len(deliveries_of(server, hook["id"])) == 1
    admin.delete(f"/hooks/{hook['id']}")


def test_disabled_and_unsubscribed_hooks_get_nothing(
    admin: httpx.Client, server: Server, inbox: Receiver
) -> None:
    off = create_hook(admin, inbox.url, ["Role.Created"], enabled=False)
    other = create_hook(admin, inbox.url, ["Scope.Created"])
    on = create_hook(admin, inbox.url, ["Role.Created"])
    role = admin.post("/roles", json={"name": unique("role"), "description": "d"})
    assert role.status_code == 200, role.text
    sent = inbox.wait_for(1, lambda d: d.payload["hookId"] == on["id"])
    assert sent[0].payload["data"]["id"] == role.json()["id"]
    assert deliveries_of(server, off["id"]) == [] and deliveries_of(server, other["id"]) == []
    for hook in (off, other, on):
        admin.delete(f"/hooks/{hook['id']}")


def test_post_sign_in_from_the_sign_in_page(
    admin: httpx.Client, server: Server, browser: Browser, web_app: Any, inbox: Receiver
) -> None:
    hook = create_hook(admin, inbox.url, ["PostSignIn"])
    user = make_user(server)
    get_code(browser, server, web_app, user)
    sent = inbox.wait_for(1, lambda d: d.payload["hookId"] == hook["id"])[0]
    payload = sent.payload
    assert sent.signed_with(hook["signingKey"])
    assert payload["event"] == "PostSignIn" and payload["interactionEvent"] == "SignIn"
    assert payload["userId"] == user.id and payload["user"]["username"] == user.username
    assert payload["application"]["id"] == web_app.id and payload["sessionId"]
    admin.delete(f"/hooks/{hook['id']}")


def test_lockout_and_rate_limit_exception_events(
    admin: httpx.Client, server: Server, browser: Browser, web_app: Any, inbox: Receiver
) -> None:
    """Logto's exception events from the sign-in engine: ``Identifier.Lockout`` when wrong
    passwords lock the account (here after 2, the sentinel policy set for the test), and
    ``Message.RateLimited`` when a recipient's code budget is spent."""
    from portico.experience.sentinel import SEND_LIMIT
    from portico.storage.sentinel import clear_failures
    from tests.support import authorize_url, csrf_of

    hook = create_hook(admin, inbox.url, ["Identifier.Lockout", "Message.RateLimited"])
    user = make_user(server)
    sign_in = admin.get("/sign-in-exp").json()["signIn"]
    by_code = {"identifier": "email", "password": False, "verificationCode": True,
               "isPasswordPrimary": False}  # fmt: skip
    changed = admin.patch("/sign-in-exp", json={
        "sentinelPolicy": {"maxAttempts": 2},
        "signIn": {"methods": [*sign_in["methods"], by_code]},
    })  # fmt: skip
    assert changed.status_code == 200, changed.text
    try:
        page = browser.follow_until_external(
            browser.client.get(authorize_url(server, web_app.id, web_app.redirect_uri))
        )
        for _ in range(3):
            browser.client.post(
                f"{server.endpoint}/sign-in",
                data={"csrf_token": csrf_of(page.text), "identifier": user.username,
                      "password": "not-the-password"},
            )  # fmt: skip
        locked = inbox.wait_for(1, lambda d: d.payload["hookId"] == hook["id"])[0].payload
        assert locked["event"] == "Identifier.Lockout"
        assert (locked["type"], locked["value"]) == ("username", user.username)
        # A recipient's codes: the 11th within the window is refused, and said.
        start = browser.client.put(f"{server.endpoint}/api/experience",
                                   json={"interactionEvent": "SignIn"})  # fmt: skip
        assert start.status_code == 204, start.text
        address = f"{unique('rl')}@example.com"
        for _ in range(SEND_LIMIT + 1):
            browser.client.post(
                f"{server.endpoint}/api/experience/verification/verification-code",
                json={"identifier": {"type": "email", "value": address},
                      "interactionEvent": "SignIn"},
            )  # fmt: skip
        limited = inbox.wait_for(
            1,
            lambda d: (
                d.payload["hookId"] == hook["id"] and d.payload["event"] == "Message.RateLimited"
            ),
        )[0].payload
        assert limited == {**limited, "action": "VerificationCodeSend", "recipient": address}
        assert all(d.signed_with(hook["signingKey"]) for d in inbox.of("Identifier.Lockout"))
    finally:
        admin.patch("/sign-in-exp", json={"sentinelPolicy": {}, "signIn": sign_in})
        server.db(lambda conn: clear_failures(conn, "default"))
        admin.delete(f"/hooks/{hook['id']}")


def test_console_writes_emit_the_same_events(console: ConsoleClient, inbox: Receiver) -> None:
    sealer = HookSealer(console.server.settings.encryption_key_bytes())

    async def work(conn):  # type: ignore[no-untyped-def]
        return await webhooks.create(
            conn,
            "default",
            sealer,
            {"name": "console", "events": ["User.Created"], "config": {"url": inbox.url}},
        )

    hook = console.server.db(work)
    key = sealer.open("default", hook["id"], hook["signing_key"])
    name = unique("console_wh")
    made = console.submit("/console/users", "/console/users", {"username": name})
    assert made.status_code == 303, made.text[:300]
    [sent] = inbox.wait_for(1, lambda d: d.payload["hookId"] == hook["id"])
    assert sent.signed_with(key) and sent.payload["event"] == "User.Created"
    assert sent.payload["data"]["username"] == name


def test_export_carries_hooks_with_the_key_sealed(
    admin: httpx.Client, server: Server, inbox: Receiver, tmp_path: Any
) -> None:
    hook = create_hook(admin, inbox.url, ["PostSignIn"])

    async def run() -> str:
        engine = create_engine(server.database_url, pool=False)
        out = io.StringIO()
        try:
            await export(
                engine, "default", out, encryption_key=server.settings.encryption_key_bytes
            )
        finally:
            await engine.dispose()
        return out.getvalue()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        text = pool.submit(asyncio.run, run()).result()
    lines = [json.loads(line) for line in text.splitlines()]
    [record] = [
        r["data"] for r in lines if r.get("type") == "hook" and r["data"]["id"] == hook["id"]
    ]
    assert record["events"] == ["PostSignIn"] and record["config"]["url"] == inbox.url
    assert "$sealed" in record["signingKey"]["signingKey"] and hook["signingKey"] not in text
    assert lines[0]["encryptionKeyCheck"]
    admin.delete(f"/hooks/{hook['id']}")

    # Imported elsewhere under another key (the source's given): the key is re-sealed and
    # opens there to the same signing key.
    import os

    from sqlalchemy import select

    from portico.services.bootstrap import ensure_ready
    from portico.services.webhooks import HookSealer
    from portico.storage.tables import hooks
    from portico.transfer.importer import ImportOptions, import_stream
    from tests.support import create_database

    url, drop = create_database(str(tmp_path))
    target_key, source_key = os.urandom(32), server.settings.encryption_key_bytes()

    async def load() -> dict[str, Any]:
        engine = create_engine(url, pool=False)
        try:
            await ensure_ready(engine)
            options = ImportOptions(encryption_key=lambda: target_key, reencrypt_from=source_key)
            await import_stream(engine, "default", io.BytesIO(text.encode()), options)
            async with engine.connect() as conn:
                row = (await conn.execute(select(hooks).where(hooks.c.id == hook["id"]))).one()
            return dict(row._mapping)
        finally:
            await engine.dispose()

    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            row = pool.submit(asyncio.run, load()).result()
    finally:
        drop()
    opened = HookSealer(target_key).open("default", hook["id"], row["signing_key"])
    assert opened == hook["signingKey"]
