"""Delivery from the outbox: retries then success, give-up visible, targets refused at delivery,
redirects not followed; and with real ``portico serve`` processes on one database, a kill -9
between commit and delivery still delivers after a restart, and two processes deliver each
event exactly once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico.ids import standard_id
from portico.services.webhooks import HookSealer
from portico.storage import webhooks as repo
from portico.storage.database import now_ms
from tests.cluster import Cluster, Process, start_cluster
from tests.conftest import prepare_cluster
from tests.management import client_with, token_for
from tests.smtp_server import Recorder
from tests.support import Server, create_database, free_port, unique
from tests.webhook_receiver import Receiver, receiver

FAST = {"webhook_poll_interval": 0.05, "webhook_retry_base": 0.05, "webhook_max_attempts": 3}


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose worker looks every 50 ms and retries after 50 ms, 3 attempts at most."""
    data_dir = str(tmp_path_factory.mktemp("webhooks"))
    url, drop = create_database(data_dir)
    server = Server(url, data_dir, **FAST).start()
    try:
        yield server
    finally:
        server.stop()
        drop()


@pytest.fixture(scope="module")
def api(fast: Server) -> Iterator[httpx.Client]:
    _, token = token_for(fast, ["Logto Management API access"])
    with client_with(fast, token) as client:
        yield client


@pytest.fixture(scope="module")
def inbox() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def hook_for(api: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    created = api.post(
        "/hooks", json={"name": unique("h"), "events": events, "config": {"url": url}}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def states(server: Server | Cluster, hook_id: str) -> list[dict[str, Any]]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return await repo.delivery_states(conn, "default", hook_id)

    return list(server.db(work))


def settled(server: Server, hook_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = states(server, hook_id)
        if rows and all(r["status"] != "Pending" for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(states(server, hook_id))


def test_retries_with_back_off_then_success(
    api: httpx.Client, fast: Server, inbox: Receiver
) -> None:
    hook = hook_for(api, inbox.url, ["Role.Created"])
    inbox.statuses.extend([503, 500])
    assert api.post("/roles", json={"name": unique("r"), "description": "d"}).status_code == 200
    [row] = settled(fast, hook["id"])
    assert row["status"] == "Succeeded" and row["attempts"] == 3
    sent = inbox.wait_for(3, lambda d: d.payload["hookId"] == hook["id"])
    assert len({d.headers["idempotency-key"] for d in sent}) == 1  # one delivery, three tries
    assert all(d.signed_with(hook["signingKey"]) and d.raw == sent[0].raw for d in sent)
    logs = api.get(f"/hooks/{hook['id']}/recent-logs").json()
    assert [e["payload"]["result"] for e in logs] == ["Success", "Error", "Error"]
    assert logs[-1]["payload"]["response"]["statusCode"] == 503


def test_give_up_after_the_bound_is_visible(
    api: httpx.Client, fast: Server, inbox: Receiver
) -> None:
    hook = hook_for(api, inbox.url, ["Scope.Created"])
    resource = api.post(
        "/resources", json={"name": unique("api"), "indicator": f"https://{unique('x')}.example"}
    )
    assert resource.status_code in (200, 201), resource.text
    inbox.statuses.extend([500, 500, 500])
    scope = api.post(f"/resources/{resource.json()['id']}/scopes", json={"name": unique("s")})
    assert scope.status_code in (200, 201), scope.text
    [row] = settled(fast, hook["id"])
    assert row["status"] == "Failed" and row["attempts"] == 3 and row["last_status"] == 500
    stats = api.get(f"/hooks/{hook['id']}", params={"includeExecutionStats": "1"}).json()
    assert stats["executionStats"] == {"requestCount": 3, "successCount": 0}
    logs = api.get(f"/hooks/{hook['id']}/recent-logs").json()
    assert all(e["payload"]["result"] == "Error" for e in logs) and len(logs) == 3


def test_redirects_are_not_followed(api: httpx.Client, fast: Server, inbox: Receiver) -> None:
    hook = hook_for(api, inbox.url, ["Organization.Created"])
    inbox.statuses.append(307)
    inbox.headers[307] = {"location": f"{inbox.url}/elsewhere"}
    assert api.post("/organizations", json={"name": unique("org")}).status_code == 201
    [row] = settled(fast, hook["id"])
    assert row["status"] == "Failed" and row["attempts"] == 1 and row["last_status"] == 307
    time.sleep(0.3)
    assert not [d for d in inbox.deliveries if d.path.endswith("/elsewhere")]


def test_an_internal_target_is_refused_at_delivery(fast: Server) -> None:
    """A hook saved before the allow-list changed (written here directly): the guard resolves
    and refuses at delivery, without retrying."""
    hook_id, delivery_id = standard_id(), standard_id()
    sealer = HookSealer(fast.settings.encryption_key_bytes())

    async def work(conn):  # type: ignore[no-untyped-def]
        await repo.insert_hook(
            conn,
            {
                "tenant_id": "default",
                "id": hook_id,
                "name": "old",
                "event": None,
                "events": ["User.Created"],
                "config": {"url": "https://10.20.30.40/hook"},
                "signing_key": sealer.seal("default", hook_id, "k" * 32),
                "enabled": True,
                "created_at": now_ms(),
            },
        )
        await repo.insert_deliveries(
            conn,
            [
                {
                    "tenant_id": "default",
                    "id": delivery_id,
                    "hook_id": hook_id,
                    "event": "User.Created",
                    "payload": {"event": "User.Created", "hookId": hook_id},
                    "status": "Pending",
                    "attempts": 0,
                    "next_attempt_at": now_ms(),
                    "created_at": now_ms(),
                    "updated_at": now_ms(),
                }
            ],
        )

    fast.db(work)
    [row] = settled(fast, hook_id)
    assert row["status"] == "Failed" and row["attempts"] == 1 and row["last_status"] is None
    assert "PORTICO_ALLOW_PRIVATE_TARGETS" in row["last_error"]


# Real processes ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two ``portico serve`` processes on one database (PostgreSQL, or a SQLite file)."""
    data_dir = tmp_path_factory.mktemp("webhook-cluster")
    url, drop = create_database(str(data_dir))
    saved = {k: os.environ.get(k) for k in ("PORTICO_WEBHOOK_POLL_INTERVAL",)}
    os.environ["PORTICO_WEBHOOK_POLL_INTERVAL"] = "0.05"
    try:
        running = start_cluster(url, Path(data_dir), Recorder(), redis=False, proxies=False)
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    try:
        prepare_cluster(running)
        yield running
    finally:
        running.stop()
        drop()


def test_two_processes_deliver_each_event_exactly_once(pair: Cluster, inbox: Receiver) -> None:
    with pair.api(pair.a) as api:
        hook = api.post(
            "/api/hooks", json={"events": ["User.Created"], "config": {"url": inbox.url}}
        ).json()
    count = 24
    made = []
    for index in range(count):
        with pair.api(pair.a if index % 2 else pair.b) as api:
            created = api.post("/api/users", json={"username": unique("pair")})
            assert created.status_code == 200, created.text
            made.append(created.json()["id"])
    sent = inbox.wait_for(count, lambda d: d.payload["hookId"] == hook["id"])
    time.sleep(0.5)  # a second delivery of any of them would have arrived by now
    sent = [d for d in inbox.deliveries if d.payload["hookId"] == hook["id"]]
    assert sorted(d.payload["data"]["id"] for d in sent) == sorted(made)
    assert len({d.headers["idempotency-key"] for d in sent}) == count
    assert all(d.signed_with(hook["signingKey"]) for d in sent)


def test_kill_9_between_commit_and_delivery_still_delivers(pair: Cluster, inbox: Receiver) -> None:
    for process in (pair.a, pair.b):
        process.stop()
    paused = Process(
        "paused",
        free_port(),
        {**pair.a.env, "DATABASE_URL": pair.database_url, "PORTICO_WEBHOOK_POLL_INTERVAL": "0"},
        pair.data_dir / "paused.log",
    )
    paused.start()
    with pair.api(paused) as api:
        hook = api.post(
            "/api/hooks", json={"events": ["User.Created"], "config": {"url": inbox.url}}
        ).json()
        created = api.post("/api/users", json={"username": unique("kill")})
    assert created.status_code == 200
    [row] = states(pair, hook["id"])
    assert row["status"] == "Pending" and row["payload"]["data"]["id"] == created.json()["id"]
    paused.kill()
    assert not [d for d in inbox.deliveries if d.payload.get("hookId") == hook["id"]]
    pair.a.start()
    [sent] = inbox.wait_for(1, lambda d: d.payload["hookId"] == hook["id"])
    assert sent.payload["data"]["id"] == created.json()["id"]
    assert sent.signed_with(hook["signingKey"])
