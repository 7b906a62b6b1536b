"""``/api/connectors`` and ``/api/connector-factories`` through the real server: Logto's
shapes, confidential values sealed in the database and masked in responses, Email connectors
replacing each other, and "send a test" through a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.connectors import ConnectorError, Connectors, ConnectorType
from portico.connectors.secrets import MASK
from portico.storage.database import create_engine
from portico.storage.tables import connectors as connectors_table
from tests.conftest import make_app
from tests.smtp_server import refused_port, smtp_config, smtp_server
from tests.support import Server

SMTP = "simple-mail-transfer-protocol"
PASSWORD = "api-test-password-42"


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    m2m = make_app(server, "MachineToMachine", roles=["Logto Management API access"])
    with httpx.Client(base_url=server.endpoint, timeout=30) as client:
        token = client.post(
            "/oidc/token",
            headers=m2m.basic(),
            data={
                "grant_type": "client_credentials",
                "resource": "https://default.logto.app/api",
                "scope": "all",
            },
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _raw_row(server: Server, connector_id: str) -> dict[str, Any]:
    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(connectors_table).where(connectors_table.c.id == connector_id)
        return dict((await conn.execute(query)).one()._mapping)

    return server.db(work)


def _create(admin: httpx.Client, port: int, **extra: Any) -> dict[str, Any]:
    config = smtp_config(port, auth={"user": "mailer", "pass": PASSWORD})
    response = admin.post("/api/connectors", json={"connectorId": SMTP, "config": config, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_guard_applies(http: httpx.Client) -> None:
    assert http.get("/api/connectors").status_code == 401
    assert http.get("/api/connector-factories").status_code == 401


def test_factories_list_smtp_with_its_form_schema(admin: httpx.Client) -> None:
    factories = {f["id"]: f for f in admin.get("/api/connector-factories").json()}
    smtp = factories[SMTP]
    assert (smtp["type"], smtp["target"], smtp["platform"]) == ("Email", "smtp", None)
    assert smtp["name"]["en"] == "SMTP"
    schema = smtp["configSchema"]
    assert schema["$defs"]["LoginAuth"]["properties"]["pass"]["isConfidential"] is True
    assert admin.get(f"/api/connector-factories/{SMTP}").json()["id"] == SMTP
    missing = admin.get("/api/connector-factories/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "connector.not_found")


def test_password_is_sealed_in_the_database_and_masked_in_responses(
    admin: httpx.Client, server: Server
) -> None:
    created = _create(admin, 2525, metadata={"name": {"en": "Mailer"}})
    assert created["connectorId"] == SMTP and created["type"] == "Email"
    assert created["config"]["auth"] == {"user": "mailer", "pass": MASK}
    assert created["name"] == {"en": "Mailer"} and created["syncProfile"] is False
    assert len(created["id"]) == 12 and isinstance(created["createdAt"], int)
    row = _raw_row(server, created["id"])
    assert PASSWORD not in json.dumps(row)
    assert "$sealed" in row["config"]["auth"]["pass"]
    fetched = admin.get(f"/api/connectors/{created['id']}").json()
    listed = admin.get("/api/connectors", params={"target": "smtp"}).json()
    for body in (fetched, *listed):
        assert PASSWORD not in json.dumps(body)
    assert [c["id"] for c in listed] == [created["id"]]
    assert admin.get("/api/connectors", params={"target": "kakao"}).json() == []


def test_a_new_email_connector_replaces_the_previous_one(admin: httpx.Client) -> None:
    first = _create(admin, 2525)
    second = _create(admin, 2526, id="my-mailer")
    assert second["id"] == "my-mailer"
    email = [c["id"] for c in admin.get("/api/connectors").json() if c["type"] == "Email"]
    assert email == ["my-mailer"]
    gone = admin.get(f"/api/connectors/{first['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "connector.not_found")
    assert admin.delete("/api/connectors/my-mailer").status_code == 204
    assert admin.delete("/api/connectors/my-mailer").status_code == 404


def test_invalid_config_lists_each_field(admin: httpx.Client) -> None:
    config = smtp_config(0, fromEmail="Evil\r\nBcc: x@example.net <a@example.com>")
    del config["host"]
    response = admin.post("/api/connectors", json={"connectorId": SMTP, "config": config})
    body = response.json()
    assert response.status_code == 400 and body["code"] == "connector.invalid_config"
    assert {e["path"] for e in body["data"]} == {"host", "port", "fromEmail"}


async def test_patch_keeping_the_masked_password_still_authenticates(
    admin: httpx.Client, server: Server
) -> None:
    with smtp_server(users={"mailer": PASSWORD}) as smtp:
        created = _create(admin, smtp.port)
        config = created["config"]  # as the console shows it, password masked
        config["templates"][3]["subject"] = "Changed {{code}}"
        patched = admin.patch(f"/api/connectors/{created['id']}", json={"config": config})
        assert patched.status_code == 200, patched.text
        assert patched.json()["config"]["auth"]["pass"] == MASK
        engine = create_engine(server.database_url, pool=False)
        try:
            service = Connectors(engine, server.settings.encryption_key_bytes())
            assert await service.has("default", ConnectorType.Email)
            await service.send_message(
                "default", ConnectorType.Email, "bob@example.com", "Generic", {"code": "777"}
            )
            with pytest.raises(ConnectorError) as caught:
                await service.send_message("nobody", ConnectorType.Email, "b@example.com", "", {})
        finally:
            await engine.dispose()
    assert smtp.handler.messages[0]["Subject"] == "Changed 777"
    assert caught.value.code == "connector.not_found"


def test_send_a_test_through_a_draft_config(admin: httpx.Client) -> None:
    with smtp_server() as smtp:
        path = f"/api/connectors/{SMTP}/test"
        ok = admin.post(path, json={"email": "carol@example.com", "config": smtp_config(smtp.port)})
        assert ok.status_code == 204, ok.text
    [message] = smtp.handler.messages
    assert message["To"] == "carol@example.com" and message["Subject"] == "Generic code"
    refused = admin.post(
        path, json={"email": "carol@example.com", "config": smtp_config(refused_port())}
    )
    body = refused.json()
    assert refused.status_code == 400 and body["code"] == "connector.general"
    assert "refused" in body["message"] and body["data"]["reason"] == "connection_refused"
    bad = admin.post(path, json={"email": "not an address", "config": smtp_config(25)})
    assert bad.status_code == 400 and bad.json()["data"]["reason"] == "invalid_address"
    nobody = admin.post(path, json={"config": smtp_config(25)})
    assert nobody.status_code == 400 and nobody.json()["code"] == "guard.invalid_input"
