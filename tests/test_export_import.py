"""``portico export`` / ``portico import``: a round trip between two instances (each on the
suite's database: SQLite, or PostgreSQL with ``PORTICO_TEST_DB=postgresql``) proven through
the real server afterwards; connector secrets kept sealed or re-sealed; line-numbered errors
that leave the target untouched; explicit conflicts."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from portico.connectors import Connectors, ConnectorType
from portico.services import organizations as orgs
from portico.services import rbac
from portico.services.custom_phrases import CustomPhrases
from portico.services.sign_in_experience import SignInExperiences
from portico.storage.database import create_engine
from portico.storage.tables import (
    connectors,
    organization_role_scope_relations,
    organization_role_user_relations,
    organizations,
    user_identities,
    users,
)
from tests.conftest import PASSWORD, App, make_app, make_user
from tests.flows import get_code, redeem
from tests.smtp_server import Running, smtp_config, smtp_server
from tests.support import Browser, Server, authorize_url, browser_client, create_database, unique

SMTP_PASSWORD = "smtp-secret-for-export"
PHRASE = "Enter the castle"


def new_key() -> str:
    return secrets.token_urlsafe(32)


def portico(
    *args: str, database_url: str, key: str, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico.cli.main", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DATABASE_URL": database_url, "PORTICO_ENCRYPTION_KEY": key},
    )


def run_db(url: str, work: Any) -> Any:
    async def go() -> Any:
        engine = create_engine(url, pool=False)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def rows(url: str, table: Any, **where: Any) -> list[dict[str, Any]]:
    async def work(engine: Any) -> list[dict[str, Any]]:
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        async with engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]

    return run_db(url, work)


@dataclass
class Source:
    url: str
    key: str
    export: Path
    web: App
    m2m: App
    username: str
    api: str
    connector_id: str
    smtp: Running


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """An instance with a bit of everything, exported with ``portico export``."""
    directory = tmp_path_factory.mktemp("export-source")
    url, drop = create_database(str(directory))
    key = new_key()
    server = Server(url, str(directory), encryption_key=key).start()
    try:
        with smtp_server(users={"mailer": SMTP_PASSWORD}) as smtp:
            api = f"https://{unique('api')}.example.com"

            async def rbac_setup(conn):  # type: ignore[no-untyped-def]
                await rbac.create_resource(conn, "default", indicator=api, scopes=["read", "write"])
                await rbac.create_role(
                    conn,
                    "default",
                    name="svc",
                    role_type=rbac.RoleType.M2M,
                    indicator=api,
                    scope_names=["read"],
                )
                await rbac.create_role(
                    conn, "default", name="reader", indicator=api, scope_names=["read", "write"]
                )

            server.db(rbac_setup)
            web = make_app(server, "Traditional")
            m2m = make_app(server, "MachineToMachine", roles=["svc"])
            user = make_user(server, roles=("reader",), name="Ada Lovelace")

            async def extras(conn):  # type: ignore[no-untyped-def]
                await conn.execute(
                    update(users)
                    .where(users.c.id == user.id)
                    .values(
                        custom_data={"plan": "gold", "seats": 3},
                        identities={"github": {"userId": "42", "details": {"login": "ada"}}},
                    )
                )

            server.db(extras)

            async def organization_setup(conn):  # type: ignore[no-untyped-def]
                org = await orgs.create_organization(conn, "default", name="Acme")
                scope = await orgs.create_scope(conn, "default", name="read:docs")
                role = await orgs.create_role(
                    conn, "default", name="editor", scope_ids=[scope["id"]]
                )
                await orgs.add_members(conn, "default", org["id"], [user.id])
                await orgs.assign_member_roles(conn, "default", org["id"], user.id, [role["id"]])

            server.db(organization_setup)

            async def configure(engine):  # type: ignore[no-untyped-def]
                service = Connectors(engine, server.settings.encryption_key_bytes())
                config = smtp_config(smtp.port, auth={"user": "mailer", "pass": SMTP_PASSWORD})
                created = await service.create("default", "simple-mail-transfer-protocol", config)
                await SignInExperiences(engine).update(
                    "default", {"color": {"primaryColor": "#123456"}}
                )
                await CustomPhrases(engine).put("default", "en", {"action": {"sign_in": PHRASE}})
                return created["id"]

            connector_id = run_db(url, configure)
            export = directory / "export.ndjson"
            result = portico(
                "export", "-o", str(export), database_url=url, key=key, data_dir=directory
            )
            assert result.returncode == 0, result.stderr
            yield Source(url, key, export, web, m2m, user.username, api, connector_id, smtp)
    finally:
        server.stop()
        drop()


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_export_file_is_private_and_holds_no_secret_in_clear(source: Source) -> None:
    assert source.export.stat().st_mode & 0o077 == 0
    text = source.export.read_text()
    assert SMTP_PASSWORD not in text and source.web.secret not in text  # type: ignore[operator]
    lines = records(source.export)
    assert lines[0]["type"] == "header" and lines[0]["version"] == 1
    assert lines[-1] == {
        "type": "end",
        "records": len(lines) - 2,
        "counts": lines[-1]["counts"],
    }
    kinds = [line["type"] for line in lines[1:-1]]
    assert {"user", "application", "applicationSecret", "connector", "signInExperience"} <= set(
        kinds
    )
    # seeded rows are every instance's own: never exported
    assert all(line["data"].get("id") != "management-api" for line in lines[1:-1])


def _sign_in_and_get_tokens(server: Server, app: App, username: str) -> dict[str, Any]:
    """The sign-in page (with the imported custom phrase), then code + PKCE for tokens."""
    with browser_client() as client, httpx.Client(base_url=server.endpoint) as http:
        browser = Browser(server, client)
        page = browser.follow_until_external(
            client.get(authorize_url(server, app.id, app.redirect_uri))
        )
        assert PHRASE in page.text
        code, verifier = get_code(browser, server, app, SimpleNamespace(
            username=username, password=PASSWORD))  # fmt: skip
        token = redeem(http, app, code, verifier)
    assert token.status_code == 200, token.text
    return token.json()


async def _send_through_connector(url: str, key: bytes) -> None:
    engine = create_engine(url, pool=False)
    try:
        await Connectors(engine, key).send_message(
            "default", ConnectorType.Email, "ada@example.com", "Generic", {"code": "777777"}
        )
    finally:
        await engine.dispose()


def test_round_trip_into_a_fresh_instance(source: Source, tmp_path: Path) -> None:
    url, drop = create_database(str(tmp_path))
    try:
        result = portico(
            "import",
            str(source.export),
            "--json",
            database_url=url,
            key=source.key,
            data_dir=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["imported"]["user"] == 1 and summary["skipped"] == {}

        target = Server(url, str(tmp_path), encryption_key=source.key).start()
        try:
            tokens = _sign_in_and_get_tokens(target, source.web, source.username)
            assert "id_token" in tokens
            # the machine-to-machine app: same secret, same role, same scope
            m2m = httpx.post(
                f"{target.issuer}/token",
                data={
                    "grant_type": "client_credentials",
                    "resource": source.api,
                    "scope": "read write",
                },
                headers=source.m2m.basic(),
            )
            assert m2m.status_code == 200, m2m.text
            assert m2m.json()["scope"] == "read"
            sie = httpx.get(f"{target.endpoint}/api/.well-known/sign-in-exp").json()
            assert sie["color"]["primaryColor"] == "#123456"
        finally:
            target.stop()

        [before] = rows(source.url, users, username=source.username)
        [after] = rows(url, users, username=source.username)
        for column in ("id", "primary_email", "name", "custom_data", "identities", "created_at"):
            assert after[column] == before[column], column
        assert after["password_encrypted"] == before["password_encrypted"]  # no rehash needed
        # the organization, its template and the membership with its role
        for table in (organizations, organization_role_user_relations,
                      organization_role_scope_relations):  # fmt: skip
            assert rows(url, table) == rows(source.url, table)
        # the social identity is found the way social sign-in looks it up
        [indexed] = rows(url, user_identities, target="github")
        assert (indexed["identity_id"], indexed["user_id"]) == ("42", before["id"])
        # the connector's sealed secret opens here and authenticates to the SMTP server
        sent = len(source.smtp.handler.messages)
        asyncio.run(_send_through_connector(url, create_key_bytes(source.key)))
        assert len(source.smtp.handler.messages) == sent + 1
    finally:
        drop()


def create_key_bytes(key: str) -> bytes:
    from portico.settings import decode_encryption_key

    return decode_encryption_key(key)


def test_connectors_need_the_same_key_or_are_resealed(source: Source, tmp_path: Path) -> None:
    url, drop = create_database(str(tmp_path))
    other_key = new_key()
    try:
        refused = portico(
            "import", str(source.export), database_url=url, key=other_key, data_dir=tmp_path
        )
        assert refused.returncode == 1
        assert "another encryption key" in refused.stderr
        assert "--reencrypt-from-key-file" in refused.stderr
        assert rows(url, users, username=source.username) == []  # nothing imported

        wrong_file = tmp_path / "wrong.key"
        wrong_file.write_text(new_key())
        wrong = portico(
            "import",
            str(source.export),
            "--reencrypt-from-key-file",
            str(wrong_file),
            database_url=url,
            key=other_key,
            data_dir=tmp_path,
        )
        assert wrong.returncode == 1 and "is not the key" in wrong.stderr

        key_file = tmp_path / "source.key"
        key_file.write_text(source.key + "\n")
        resealed = portico(
            "import",
            str(source.export),
            "--reencrypt-from-key-file",
            str(key_file),
            database_url=url,
            key=other_key,
            data_dir=tmp_path,
        )
        assert resealed.returncode == 0, resealed.stderr
        [before] = rows(source.url, connectors, id=source.connector_id)
        [after] = rows(url, connectors, id=source.connector_id)
        assert after["config"]["auth"]["pass"] != before["config"]["auth"]["pass"]
        assert SMTP_PASSWORD not in json.dumps(after["config"])
        sent = len(source.smtp.handler.messages)
        asyncio.run(_send_through_connector(url, create_key_bytes(other_key)))
        assert len(source.smtp.handler.messages) == sent + 1
        assert SMTP_PASSWORD not in resealed.stderr + refused.stderr + wrong.stderr
    finally:
        drop()


def test_conflicts_fail_or_are_skipped_explicitly(source: Source, tmp_path: Path) -> None:
    url, drop = create_database(str(tmp_path))
    try:
        first = portico(
            "import", str(source.export), database_url=url, key=source.key, data_dir=tmp_path
        )
        assert first.returncode == 0, first.stderr
        again = portico(
            "import", str(source.export), database_url=url, key=source.key, data_dir=tmp_path
        )
        assert again.returncode == 1
        assert "line 2: resource" in again.stderr and "already exists" in again.stderr
        assert "--on-conflict skip" in again.stderr
        skipped = portico(
            "import",
            str(source.export),
            "--on-conflict",
            "skip",
            "--json",
            database_url=url,
            key=source.key,
            data_dir=tmp_path,
        )
        assert skipped.returncode == 0, skipped.stderr
        summary = json.loads(skipped.stdout)
        assert summary["skipped"]["user"] == 1 and "user" not in summary["imported"]
        assert len(rows(url, users, username=source.username)) == 1
    finally:
        drop()


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def _user(username: str, **extra: Any) -> dict[str, Any]:
    data = {
        "id": secrets.token_hex(6),
        "username": username,
        "primaryEmail": f"{username}@example.com",
        "createdAt": 1,
        "updatedAt": 1,
        **extra,
    }
    return {"type": "user", "data": data}


HEADER = {"type": "header", "format": "portico-export", "version": 1, "tenantId": "default"}


def test_bad_lines_are_reported_by_number_and_nothing_is_imported(tmp_path: Path) -> None:
    url, drop = create_database(str(tmp_path))
    key = new_key()
    try:
        good = [_user(f"good{i}") for i in range(3)]
        path = _write(
            tmp_path / "bad.ndjson",
            [
                HEADER,
                good[0],
                '{"type": "user", "data": {"id": "x"',  # line 3: cut short
                good[1],
                {"type": "organizationInvitation", "data": {}},  # line 5
                _user("bademail", primaryEmail="not-an-email"),  # line 6
                _user("weakhash", passwordEncrypted="abc", passwordEncryptionMethod="MD5"),
                {"type": "userRole", "data": {"userId": "nobody", "roleId": "nothing"}},
                good[2],
                b"\xff\xfe".decode("latin-1"),  # line 10: not JSON
                {"type": "end", "records": 7},
            ],
        )
        with path.open("ab") as handle:
            handle.write(b'{"type": "user", "data": {"username": "\xff"}}\n')  # line 12
        result = portico("import", str(path), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 1
        errors = result.stderr
        assert "nothing was imported" in errors
        assert "line 3: not valid JSON" in errors
        assert "line 5: unknown record type 'organizationInvitation'" in errors
        assert "line 6: user.primaryEmail: is not a valid email address" in errors
        assert "line 7: user: a MD5 hash is 32 hexadecimal characters" in errors
        assert "line 10: not valid JSON" in errors
        assert "line 12: not valid UTF-8" in errors
        assert rows(url, users, username="good0") == []

        # a file whose only fault is its last line: earlier batches were written, then undone
        many = [_user(f"bulk{i}_{secrets.token_hex(3)}") for i in range(620)]
        clash = _user("clash", id=many[0]["data"]["id"])
        path = _write(
            tmp_path / "late.ndjson", [HEADER, *many, clash, {"type": "end", "records": 621}]
        )
        result = portico("import", str(path), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 1
        assert f"line 622: user id {many[0]['data']['id']!r} repeats line 2" in result.stderr
        assert rows(url, users, username=many[0]["data"]["username"]) == []

        truncated = _write(tmp_path / "cut.ndjson", [HEADER, good[0]])
        result = portico("import", str(truncated), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 1 and "ends without its end line" in result.stderr

        miscounted = _write(
            tmp_path / "count.ndjson", [HEADER, good[0], {"type": "end", "records": 2}]
        )
        result = portico("import", str(miscounted), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 1 and "line 3: the end line counts 2 records" in result.stderr

        dangling = _write(
            tmp_path / "ref.ndjson",
            [HEADER, {"type": "userRole", "data": {"userId": "nobody", "roleId": "r1"}},
             {"type": "end", "records": 1}],
        )  # fmt: skip
        result = portico("import", str(dangling), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 1
        assert "line 2: userRole.userId: no user 'nobody' on an earlier line" in result.stderr

        not_export = _write(tmp_path / "rows.ndjson", [{"id": "abc", "username": "x"}])
        result = portico("import", str(not_export), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 1 and "--from logto-users" in result.stderr
        assert rows(url, users) == []
    finally:
        drop()


def test_dry_run_and_progress(tmp_path: Path) -> None:
    url, drop = create_database(str(tmp_path))
    key = new_key()
    try:
        path = _write(
            tmp_path / "ok.ndjson", [HEADER, _user("dryrun"), {"type": "end", "records": 1}]
        )
        dry = portico(
            "import",
            str(path),
            "--dry-run",
            "--progress",
            database_url=url,
            key=key,
            data_dir=tmp_path,
        )
        assert dry.returncode == 0, dry.stderr
        assert "Checked (dry run, nothing written) 1 records" in dry.stdout
        assert "import" in dry.stderr and "%" in dry.stderr  # the bar, asked for
        assert rows(url, users, username="dryrun") == []
        quiet = portico("import", str(path), database_url=url, key=key, data_dir=tmp_path)
        assert quiet.returncode == 0 and "%" not in quiet.stderr  # not a TTY: no bar
        assert len(rows(url, users, username="dryrun")) == 1
    finally:
        drop()


def test_sqlite_instance_moves_to_the_suite_database(tmp_path: Path) -> None:
    """The usual migration: a single-machine SQLite instance moved to PostgreSQL (with
    ``PORTICO_TEST_DB=postgresql``; SQLite to SQLite otherwise)."""
    from portico.services.users import authenticate

    source = f"sqlite:///{tmp_path / 'single.db'}"
    key = new_key()
    made = portico(
        "user", "create", "--username", "moving", "--password", PASSWORD,
        database_url=source, key=key, data_dir=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    export = tmp_path / "single.ndjson"
    result = portico("export", "-o", str(export), database_url=source, key=key, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    url, drop = create_database(str(tmp_path / "target"))
    try:
        result = portico("import", str(export), database_url=url, key=key, data_dir=tmp_path)
        assert result.returncode == 0, result.stderr

        async def check(engine: Any) -> Any:
            return await authenticate(engine, "default", "moving", PASSWORD)

        assert run_db(url, check)["username"] == "moving"
    finally:
        drop()
