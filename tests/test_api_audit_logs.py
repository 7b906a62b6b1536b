"""The audit log through the real server: token exchanges (granted and refused) and every
Management API write leave Logto-shaped entries with actor, IP, user agent and result, never a
secret; ``/api/logs`` filters and paginates them."""

from __future__ import annotations

import json

import httpx

from portico.services import audit
from portico.storage.tables import logs
from tests.conftest import App, make_app
from tests.management import error, links
from tests.support import Browser, Server, authorize_url, browser_client, query_of, unique

PASSWORD = "audit-password-123"


def _entries(admin: httpx.Client, **params: str) -> list[dict]:
    response = admin.get("/logs", params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_client_credentials_exchanges_are_logged_without_secrets(
    admin: httpx.Client, server: Server
) -> None:
    app = make_app(server, "MachineToMachine")
    assert app.secret
    ok = httpx.post(
        f"{server.issuer}/token",
        auth=(app.id, app.secret),
        headers={"User-Agent": "audit-test/2"},
        data={"grant_type": "client_credentials", "resource": "https://default.logto.app/api"},
    )
    assert ok.status_code == 200
    bad = httpx.post(
        f"{server.issuer}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.id,
            "client_secret": "wrong-" + app.secret,
            "resource": "https://default.logto.app/api",
        },
    )
    assert bad.status_code == 401
    entries = _entries(admin, applicationId=app.id)
    assert [e["key"] for e in entries] == ["ExchangeTokenBy.ClientCredentials"] * 2
    failed, granted = entries  # newest first
    assert granted["payload"]["result"] == "Success"
    assert granted["payload"]["applicationId"] == app.id
    assert granted["payload"]["userAgent"] == "audit-test/2"
    assert granted["payload"]["ip"] == "127.0.0.1"
    assert granted["payload"]["tokenTypes"] == ["AccessToken"]
    assert granted["payload"]["params"] == {
        "grant_type": "client_credentials",
        "resource": "https://default.logto.app/api",
    }
    assert failed["payload"]["result"] == "Error"
    assert failed["payload"]["error"]["code"] == "oidc.invalid_client"
    assert failed["payload"]["params"]["client_id"] == app.id
    text = json.dumps(entries)
    assert app.secret not in text and ok.json()["access_token"] not in text
    one = admin.get(f"/logs/{granted['id']}")
    assert one.json() == granted


def test_user_grants_log_the_user(admin: httpx.Client, server: Server, web_app: App) -> None:
    username = unique("aud")
    created = admin.post("/users", json={"username": username, "password": PASSWORD}).json()
    with browser_client() as client:
        location = Browser(server, client).sign_in(
            authorize_url(
                server,
                web_app.id,
                web_app.redirect_uri,
                scope="openid offline_access",
                prompt="consent",
            ),
            username,
            PASSWORD,
        )
    code = query_of(location)["code"]
    tokens = httpx.post(
        f"{server.issuer}/token",
        auth=(web_app.id, web_app.secret or ""),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
        },
    ).json()
    refreshed = httpx.post(
        f"{server.issuer}/token",
        auth=(web_app.id, web_app.secret or ""),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 200
    replay = httpx.post(
        f"{server.issuer}/token",
        auth=(web_app.id, web_app.secret or ""),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": web_app.redirect_uri,
        },
    )
    assert replay.json()["error"] == "invalid_grant"
    entries = _entries(admin, userId=created["id"])
    keys = [e["key"] for e in entries if e["key"].startswith("ExchangeTokenBy")]
    assert keys == ["ExchangeTokenBy.RefreshToken", "ExchangeTokenBy.AuthorizationCode"]
    by_code = next(e for e in entries if e["key"] == "ExchangeTokenBy.AuthorizationCode")
    assert by_code["payload"]["applicationId"] == web_app.id
    assert set(by_code["payload"]["tokenTypes"]) == {"AccessToken", "RefreshToken", "IdToken"}
    assert "offline_access" in by_code["payload"]["scope"]
    replayed = _entries(admin, applicationId=web_app.id, logKey="ExchangeTokenBy.AuthorizationCode")
    assert any(
        e["payload"]["result"] == "Error" and e["payload"]["error"]["code"] == "oidc.invalid_grant"
        for e in replayed
    )
    everything = json.dumps(_entries(admin, applicationId=web_app.id))
    for secret in (code, tokens["refresh_token"], tokens["access_token"], web_app.secret or "-"):
        assert secret not in everything


def test_management_writes_are_logged_with_actor_and_result(admin: httpx.Client) -> None:
    username = unique("w")
    created = admin.post("/users", json={"username": username, "password": PASSWORD})
    user_id = created.json()["id"]
    clash = admin.post("/users", json={"username": username})
    assert clash.status_code == 422
    assert (
        admin.patch(f"/users/{user_id}/password", json={"password": PASSWORD + "x"}).status_code
        == 200
    )
    mine = _entries(admin, userId=user_id)
    assert [e["key"] for e in mine] == [
        "ManagementApi.UpdateUserPassword",
        "ManagementApi.CreateUser",
    ]
    create = mine[1]["payload"]
    assert create["result"] == "Success" and create["status"] == 200
    assert create["actor"] == {"type": "app", "id": admin.app_id}  # type: ignore[attr-defined]
    assert create["method"] == "POST" and create["path"] == "/api/users"
    assert create["matchedRoute"] == "/users" and create["userAgent"] == "portico-tests/1"
    assert mine[0]["payload"]["params"] == {"userId": user_id}
    failures = [
        e
        for e in _entries(admin, logKey="ManagementApi.CreateUser")
        if e["payload"]["result"] == "Error"
    ]
    assert failures[0]["payload"]["error"]["code"] == "user.username_already_in_use"
    assert failures[0]["payload"]["status"] == 422
    assert PASSWORD not in json.dumps(_entries(admin, logKey="ManagementApi.UpdateUserPassword"))
    app = admin.post("/applications", json={"name": "logged", "type": "MachineToMachine"}).json()
    app_entries = _entries(admin, applicationId=app["id"])
    assert [e["key"] for e in app_entries] == ["ManagementApi.CreateApplication"]
    assert app["secret"] not in json.dumps(app_entries)
    # writes through the pre-existing routers are audited too
    assert admin.put("/custom-phrases/en", json={"action": {"sign_in": "Go"}}).status_code == 200
    assert admin.delete("/custom-phrases/en").status_code == 204
    assert _entries(admin, logKey="ManagementApi.PutPhrases")[0]["payload"]["params"] == {
        "languageTag": "en"
    }
    # reads are not logged
    assert _entries(admin, logKey="ManagementApi.ListUsers") == []


def test_requests_without_valid_token_are_not_logged(
    admin: httpx.Client, anonymous: httpx.Client, weak: httpx.Client
) -> None:
    before = admin.get("/logs", params={"logKey": "ManagementApi.CreateRole"}).headers[
        "total-number"
    ]
    assert anonymous.post("/roles", json={"name": "x", "description": "d"}).status_code == 401
    assert weak.post("/roles", json={"name": "x", "description": "d"}).status_code == 403
    after = admin.get("/logs", params={"logKey": "ManagementApi.CreateRole"}).headers[
        "total-number"
    ]
    assert before == after


def test_record_drops_credentials_whatever_the_caller_passes(server: Server) -> None:
    async def work(conn):  # type: ignore[no-untyped-def]
        row = await audit.record(
            conn,
            "default",
            "Interaction.SignIn.Verification.Password.Submit",
            result=audit.LogResult.ERROR,
            user_id="u1",
            ip="203.0.113.9",
            error={"code": "session.invalid_credentials", "message": "wrong password"},
            params={"identifier": "alice", "password": "hunter22", "client_secret": "s"},
            verificationCode="123456",
        )
        stored = (await conn.execute(logs.select().where(logs.c.id == row["id"]))).one()
        return dict(stored._mapping)

    stored = server.db(work)
    assert stored["payload"]["params"] == {"identifier": "alice"}
    assert "verificationCode" not in stored["payload"] and stored["user_id"] == "u1"
    assert stored["payload"]["error"]["code"] == "session.invalid_credentials"
    assert "hunter22" not in json.dumps(stored["payload"])


def test_logs_filters_pagination_and_errors(admin: httpx.Client) -> None:
    names = [unique("lg") for _ in range(3)]
    for name in names:
        assert admin.post("/roles", json={"name": name, "description": "d"}).status_code == 200
    page = admin.get("/logs", params={"logKey": "ManagementApi.CreateRole", "page_size": 2})
    total = int(page.headers["total-number"])
    assert total >= 3 and len(page.json()) == 2
    assert {"first", "next", "last"} <= set(links(page))
    newest = page.json()[0]
    assert newest["key"] == "ManagementApi.CreateRole" and newest["tenantId"] == "default"
    window = admin.get(
        "/logs", params={"start_time": newest["createdAt"], "end_time": newest["createdAt"]}
    ).json()
    assert newest["id"] in {e["id"] for e in window}
    assert (
        admin.get(
            "/logs",
            params={"start_time": newest["createdAt"] + 1, "logKey": "ManagementApi.CreateRole"},
        ).json()
        == []
    )
    error(admin.get("/logs", params={"start_time": "yesterday"}), 400, "request.invalid_input")
    error(admin.get("/logs", params={"start_time": 5, "end_time": 1}), 400, "request.invalid_input")
    # more than 64 bits: a clear 400, not the database's overflow
    error(admin.get("/logs", params={"end_time": "9" * 25}), 400, "request.invalid_input")
    error(admin.get("/logs", params={"page": -1}), 400, "guard.invalid_pagination")
    error(admin.get("/logs/nope"), 404, "entity.not_exists_with_id")
    assert admin.get("/logs", params={"userId": "nobody"}).json() == []
