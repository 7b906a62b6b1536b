"""Purging expired rows: what goes, what stays, several purgers at once, and the server's own
background task (SQLite, or PostgreSQL with ``PORTICO_TEST_DB=postgresql``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from portico.ids import digest, opaque_token, standard_id
from portico.services.bootstrap import ensure_ready
from portico.services.purge import (
    DAY_MS,
    PASSCODE_GRACE_MS,
    SENTINEL_RETENTION_MS,
    purge_expired,
)
from portico.storage.database import create_engine, now_ms
from portico.storage.tables import logs, oidc_model_instances, passcodes, sentinel_activities
from tests.conftest import make_app, make_user
from tests.support import Browser, Server, authorize_url, browser_client, create_database

MODELS = (
    "AuthorizationCode",
    "AccessToken",
    "RefreshToken",
    "ClientCredentials",
    "Session",
    "Interaction",
    "Grant",
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, so that counts are exact."""
    url, drop = create_database(str(tmp_path))

    async def ready() -> None:
        engine = create_engine(url, pool=False)
        await ensure_ready(engine)
        await engine.dispose()

    asyncio.run(ready())
    try:
        yield url
    finally:
        drop()


def _artifact(model: str, expires_at: int) -> dict[str, object]:
    return {
        "tenant_id": "default",
        "model_name": model,
        "id": digest(opaque_token()),
        "payload": {"accountId": "u1"},
        "expires_at": expires_at,
        "grant_id": standard_id(),
    }


def _passcode(expires_at: int) -> dict[str, object]:
    return {
        "tenant_id": "default",
        "id": standard_id(),
        "interaction_jti": opaque_token(),
        "email": "a@example.com",
        "type": "SignIn",
        "code": "mac",
        "consumed": False,
        "try_count": 0,
        "created_at": expires_at - 600_000,
        "expires_at": expires_at,
    }


def _event(created_at: int, decision_expires_at: int = 0) -> dict[str, object]:
    return {
        "tenant_id": "default",
        "id": standard_id(),
        "target_type": "User",
        "target_hash": "h",
        "action": "SignIn",
        "action_result": "Failed",
        "payload": {},
        "decision": "Blocked" if decision_expires_at else "Allowed",
        "decision_expires_at": decision_expires_at,
        "created_at": created_at,
    }


async def _insert(url: str, table, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(url, pool=False)
    async with engine.begin() as conn:
        await conn.execute(insert(table), rows)
    await engine.dispose()


async def _ids(url: str, table, ids: list[str]) -> set[str]:  # type: ignore[no-untyped-def]
    engine = create_engine(url, pool=False)
    async with engine.connect() as conn:
        found = await conn.execute(select(table.c.id).where(table.c.id.in_(ids)))
        result = {row.id for row in found}
    await engine.dispose()
    return result


async def test_expired_rows_of_every_kind_go_and_unexpired_rows_stay(database: str) -> None:
    now = now_ms()
    expired = [_artifact(m, now - 1) for m in MODELS] + [
        _artifact(m, now - 86_400_000) for m in MODELS
    ]
    # valid a minute more, and expiring exactly now (not before now: kept)
    alive = [_artifact(m, now + 60_000) for m in MODELS] + [_artifact(m, now) for m in MODELS]
    # consumed but unexpired (a used code must stay for replay detection until it expires)
    alive.append({**_artifact("AuthorizationCode", now + 60_000), "consumed_at": now - 5})
    await _insert(database, oidc_model_instances, expired + alive)

    old_code = _passcode(now - PASSCODE_GRACE_MS - 1)
    late_code = _passcode(now - 1_000)  # expired, within the grace hour: still says "expired"
    live_code = _passcode(now + 300_000)
    await _insert(database, passcodes, [old_code, late_code, live_code])

    old_event = _event(now - SENTINEL_RETENTION_MS - 1)
    recent_event = _event(now - 3_600_000)
    old_but_blocking = _event(now - SENTINEL_RETENTION_MS - 1, decision_expires_at=now + 60_000)
    await _insert(database, sentinel_activities, [old_event, recent_event, old_but_blocking])

    engine = create_engine(database, pool=False)
    report = await purge_expired(engine, now=now, batch=3)  # small batches: many rounds
    await engine.dispose()

    assert report.artifacts == len(expired)
    assert report.passcodes == 1 and report.sentinel_activities == 1
    all_ids = [str(r["id"]) for r in expired + alive]
    assert await _ids(database, oidc_model_instances, all_ids) == {str(r["id"]) for r in alive}
    assert await _ids(
        database, passcodes, [str(old_code["id"]), str(late_code["id"]), str(live_code["id"])]
    ) == {late_code["id"], live_code["id"]}
    assert await _ids(
        database,
        sentinel_activities,
        [str(old_event["id"]), str(recent_event["id"]), str(old_but_blocking["id"])],
    ) == {recent_event["id"], old_but_blocking["id"]}


def _log(created_at: int) -> dict[str, object]:
    return {
        "tenant_id": "default",
        "id": standard_id(),
        "key": "ManagementApi.CreateUser",
        "payload": {"result": "Success"},
        "created_at": created_at,
    }


async def test_audit_log_entries_older_than_the_retention_go_and_recent_ones_stay(
    database: str,
) -> None:
    now = now_ms()
    old = [_log(now - 31 * DAY_MS), _log(now - 400 * DAY_MS)]
    recent = [_log(now - 29 * DAY_MS), _log(now - 60_000)]
    await _insert(database, logs, old + recent)
    all_ids = [str(r["id"]) for r in old + recent]

    engine = create_engine(database, pool=False)
    kept_forever = await purge_expired(engine, now=now)  # retention 0: keep everything
    assert kept_forever.logs == 0
    assert await _ids(database, logs, all_ids) == set(all_ids)

    report = await purge_expired(engine, now=now, batch=1, log_retention_days=30)
    await engine.dispose()
    assert report.logs == 2 and report.as_dict()["logs"] == 2
    assert await _ids(database, logs, all_ids) == {str(r["id"]) for r in recent}


def test_cli_purge_applies_the_log_retention_setting(database: str, tmp_path: Path) -> None:
    now = now_ms()
    old, recent = _log(now - 91 * DAY_MS), _log(now - 89 * DAY_MS)
    asyncio.run(_insert(database, logs, [old, recent]))
    process = _cli_purge(database, tmp_path)  # default PORTICO_LOG_RETENTION_DAYS: 90
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert json.loads(out)["logs"] == 1
    assert asyncio.run(_ids(database, logs, [str(old["id"]), str(recent["id"])])) == {
        str(recent["id"])
    }


def _cli_purge(url: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "portico.cli.main", "purge", "--json", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
    )


async def test_concurrent_purges_delete_each_row_once_without_errors(
    database: str, tmp_path: Path
) -> None:
    now = now_ms()
    expired = [_artifact(MODELS[i % len(MODELS)], now - 10_000 - i) for i in range(6000)]
    alive = [_artifact(MODELS[i % len(MODELS)], now + 600_000) for i in range(300)]
    await _insert(database, oidc_model_instances, expired + alive)

    # two other processes (the CLI) and four purgers in this one, all at the same time
    processes = [_cli_purge(database, tmp_path), _cli_purge(database, tmp_path)]
    engines = [create_engine(database, pool=False) for _ in range(4)]
    reports = await asyncio.gather(*(purge_expired(e, batch=40) for e in engines))
    for engine in engines:
        await engine.dispose()
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    cli_deleted = sum(json.loads(out)["oidcModelInstances"] for out, _ in outputs)

    # every expired row deleted exactly once across all purgers
    assert sum(r.artifacts for r in reports) + cli_deleted == len(expired)
    engine = create_engine(database, pool=False)
    async with engine.connect() as conn:
        left_expired = (
            await conn.execute(
                select(func.count())
                .select_from(oidc_model_instances)
                .where(oidc_model_instances.c.expires_at < now)
            )
        ).scalar_one()
    await engine.dispose()
    assert left_expired == 0
    assert await _ids(database, oidc_model_instances, [str(r["id"]) for r in alive]) == {
        str(r["id"]) for r in alive
    }


def test_each_server_process_purges_in_the_background(tmp_path: Path) -> None:
    """A server with a one-second interval removes expired rows on its own, while a signed-in
    browser keeps its session and signs in again silently (prompt=none) afterwards."""
    url, drop = create_database(str(tmp_path))
    server = Server(url, str(tmp_path), purge_interval=1).start()
    try:
        app = make_app(server, "Traditional")
        user = make_user(server)
        with browser_client() as client:
            browser = Browser(server, client)
            first = browser.sign_in(
                authorize_url(server, app.id, app.redirect_uri), user.username, user.password
            )
            assert "code=" in first
            now = now_ms()
            stale = [_artifact(m, now - 1) for m in MODELS]
            asyncio.run(_insert(url, oidc_model_instances, stale))
            stale_ids = [str(r["id"]) for r in stale]
            deadline = time.time() + 20
            while asyncio.run(_ids(url, oidc_model_instances, stale_ids)):
                assert time.time() < deadline, "the background purge did not run"
                time.sleep(0.2)
            silent = browser.follow_until_external(
                client.get(authorize_url(server, app.id, app.redirect_uri, prompt="none"))
            )
            assert silent.status_code == 303 and "code=" in silent.headers["location"]
    finally:
        server.stop()
        drop()
