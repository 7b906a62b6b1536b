"""Logto's user rows (``row_to_json`` of its ``users`` table, or its API's camelCase) imported
with ``portico import --from logto-users``: every hash method signs in through the real
server with the old password, and is Argon2id afterwards."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from portico.storage.tables import users
from tests.conftest import App
from tests.flows import get_code
from tests.support import Browser, Server, authorize_url, browser_client, csrf_of, unique
from tests.test_passwords import SECRET, foreign_hashes


def _row(method: str, encoded: str, *, snake: bool) -> dict[str, Any]:
    """One Logto user row, as ``psql -c "select row_to_json(u) from users u"`` prints it
    (snake_case, ISO timestamps) or as Logto's API shapes it (camelCase, epoch ms)."""
    username = unique("logto")
    row = {
        "tenantId": "default",
        "id": secrets.token_hex(6),
        "username": username,
        "primaryEmail": f"{username.upper()}@Example.com",
        "primaryPhone": None,
        "passwordEncrypted": encoded,
        "passwordEncryptionMethod": method,
        "name": "From Logto",
        "avatar": None,
        "profile": {"givenName": "Lo"},
        "applicationId": None,
        "lastSignInAt": None,
        "createdAt": 1_700_000_000_123,
        "updatedAt": 1_700_000_000_456,
        "customData": {"tier": 2},
        "identities": {},
        "logtoConfig": {},
        "mfaVerifications": [],
        "isSuspended": False,
    }
    if snake:
        row = {
            "".join(f"_{c.lower()}" if c.isupper() else c for c in key): value
            for key, value in row.items()
        }
        row["created_at"] = "2023-11-14T22:13:20.123+00:00"
        row["updated_at"] = "2023-11-14T22:13:20.456"  # no offset: UTC
        row["custom_data"] = {"tier": 2}
    return row


def _import(server: Server, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico.cli.main", "import", str(path), "--from", "logto-users",
         "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DATABASE_URL": server.database_url},
    )  # fmt: skip


def _stored(server: Server, user_id: str) -> dict[str, Any]:
    async def work(conn):  # type: ignore[no-untyped-def]
        return dict((await conn.execute(select(users).where(users.c.id == user_id))).one()._mapping)

    return server.db(work)


def _wrong_password_is_refused(server: Server, app: App, username: str) -> None:
    with browser_client() as client:
        browser = Browser(server, client)
        page = browser.follow_until_external(
            client.get(authorize_url(server, app.id, app.redirect_uri))
        )
        response = client.post(
            f"{server.endpoint}/sign-in",
            data={"csrf_token": csrf_of(page.text), "identifier": username, "password": "nope!"},
        )
    assert response.status_code == 422


def test_logto_users_sign_in_with_their_old_passwords(
    server: Server, web_app: App, tmp_path: Path
) -> None:
    rows = [
        _row(method, encoded, snake=index % 2 == 0)
        for index, (method, encoded) in enumerate(foreign_hashes(SECRET).values())
    ]
    rows[1]["mfaVerifications"] = [{"id": "m1", "type": "Totp", "key": "k", "createdAt": "x"}]
    path = tmp_path / "logto-users.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = _import(server, path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["imported"] == {"user": len(rows)}
    assert any("1 user(s) had MFA factors" in note for note in summary["notes"])

    first = _stored(server, rows[0]["id"])
    assert first["created_at"] == 1_700_000_000_123 and first["updated_at"] == 1_700_000_000_456
    assert first["primary_email"] == rows[0]["primary_email"].lower()
    assert first["custom_data"] == {"tier": 2} and first["profile"] == {"givenName": "Lo"}

    _wrong_password_is_refused(server, web_app, rows[2]["username"])
    assert _stored(server, rows[2]["id"])["password_encrypted"] == rows[2]["password_encrypted"]

    for row in rows:
        before = row.get("passwordEncrypted", row.get("password_encrypted"))
        with browser_client() as client:  # signs in with the password Logto stored
            browser = Browser(server, client)
            user = SimpleNamespace(username=row["username"], password=SECRET)
            assert get_code(browser, server, web_app, user)[0]
        stored = _stored(server, row["id"])
        assert stored["password_encryption_method"] == "Argon2id", row["username"]
        assert stored["password_encrypted"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert stored["password_encrypted"] != before
        # and the new hash signs in too
        with browser_client() as client:
            browser = Browser(server, client)
            user = SimpleNamespace(username=row["username"], password=SECRET)
            assert get_code(browser, server, web_app, user)[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"passwordEncryptionMethod": "Scrypt"}, "unknown passwordEncryptionMethod 'Scrypt'"),
        ({"createdAt": "yesterday"}, "createdAt: 'yesterday' is not an ISO 8601 date-time"),
        ({"username": "1nvalid-name"}, "user.username: must start with a letter"),
    ],
)
def test_bad_logto_rows_are_refused_by_line(
    server: Server, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    good = _row("MD5", "0" * 32, snake=False)
    bad = {**_row("MD5", "1" * 32, snake=False), **change}
    path = tmp_path / "rows.ndjson"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    result = _import(server, path)
    assert result.returncode == 1
    assert f"line 3: {message}" in result.stderr or f"line 3: user: {message}" in result.stderr
    assert SECRET not in result.stderr

    async def count(conn):  # type: ignore[no-untyped-def]
        found = await conn.execute(select(users.c.id).where(users.c.id == good["id"]))
        return len(found.all())

    assert server.db(count) == 0
