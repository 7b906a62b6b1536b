"""Signing-key rotation with ``portico key rotate``: a running server signs with the new key
within seconds, keeps publishing the previous one (tokens it signed still verify), and the
next rotation retires it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import App, make_app
from tests.support import Server, create_database

API = "https://default.logto.app/api"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    url, drop = create_database(str(tmp_path))
    server = Server(url, str(tmp_path)).start()
    try:
        yield server
    finally:
        server.stop()
        drop()


def _key(server: Server, *args: str) -> dict | list:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, "-m", "portico.cli.main", "key", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": server.database_url},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _token(server: Server, app: App) -> str:
    response = httpx.post(
        f"{server.issuer}/token",
        data={"grant_type": "client_credentials", "resource": API, "scope": "all"},
        headers=app.basic(),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _kid(token: str) -> str:
    """The ``kid`` in a JWT's protected header (read, not verified)."""
    segment = token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"])


def _jwks(server: Server) -> KeySet:
    return KeySet.import_key_set(httpx.get(f"{server.issuer}/jwks").json())


def test_rotation_reaches_the_running_server_and_old_tokens_still_verify(
    own_server: Server,
) -> None:
    server = own_server
    app = make_app(server, "MachineToMachine", roles=["Logto Management API access"])
    [original] = _key(server, "list")
    assert original["status"] == "Current" and original["signingKeyAlgorithm"] == "EC"
    before = _token(server, app)

    rotated = _key(server, "rotate")["keys"]  # type: ignore[index]
    new_kid = rotated[0]["id"]  # a signing key's id is its kid (RFC 7638 thumbprint)
    assert [k["id"] for k in rotated] == [new_kid, original["id"]]
    assert [k["status"] for k in rotated] == ["Current", "Previous"]

    deadline = time.time() + 15  # processes re-read the key ring every few seconds
    while (after := _token(server, app)) and _kid(after) != new_kid:
        assert time.time() < deadline, "the server did not pick up the new key"
        time.sleep(0.5)
    keys = _jwks(server)
    assert {k.kid for k in keys} == {new_kid, original["id"]}
    for token in (before, after):  # signed by the previous key, and by the new one
        assert jwt.decode(token, keys, algorithms=["ES384"]).claims["aud"] == API

    # Rotating again keeps the original published while tokens it signed may live (Logto
    # #4452: a second rotation used to drop it at once, failing those tokens).
    _key(server, "rotate")
    latest = _key(server, "list")
    assert len(latest) == 3 and original["id"] in {k["id"] for k in latest}
    assert all(k["publishUntil"] > time.time() for k in latest if k["status"] == "Previous")
    assert jwt.decode(before, _jwks(server), algorithms=["ES384"]).claims["aud"] == API


def test_retired_keys_stay_published_until_their_tokens_expire(own_server: Server) -> None:
    """Logto #4452: two rotations in a row kept only one old key, so tokens signed two keys
    ago failed before they expired. Now a retired key stays while it may have signed a
    living token, and goes at the first rotation after that."""
    from portico.services import keys
    from portico.storage import configs

    server = own_server

    async def rotate(conn: Any) -> list[dict[str, Any]]:
        return await keys.rotate(conn, "default", keys.KeyType.PRIVATE_KEYS)

    async def stored(conn: Any) -> list[dict[str, Any]]:
        return list(await configs.get(conn, "default", keys.PRIVATE_KEYS) or [])

    first = server.db(stored)[0]["id"]
    server.db(rotate)
    server.db(rotate)
    kept = server.db(stored)
    assert first in {k["id"] for k in kept} and len(kept) == 3
    assert all(k["publishUntil"] >= time.time() + 3600 - 60 for k in kept[1:])

    async def expire_first(conn: Any) -> None:
        entries = await stored(conn)
        for entry in entries:
            if entry["id"] == first:
                entry["publishUntil"] = int(time.time()) - 1
        await configs.put(conn, "default", keys.PRIVATE_KEYS, entries)

    server.db(expire_first)
    server.db(rotate)
    after = {k["id"] for k in server.db(stored)}
    assert first not in after and len(after) == 3
