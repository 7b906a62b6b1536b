"""Console test support: a server of its own (the console's first run changes global state:
the first admin), and an HTTP client that signs in and fills in console forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from portico.services import admins
from tests.support import Server, browser_client, create_database, csrf_of

ADMIN = "root_admin"
ADMIN_PASSWORD = "ochre-lantern-velvet-71"


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    data_dir = str(tmp_path_factory.mktemp(name))
    url, drop = create_database(data_dir)
    srv = Server(url, data_dir).start()
    try:
        yield srv
    finally:
        srv.stop()
        drop()


@dataclass
class ConsoleClient:
    server: Server
    client: httpx.Client = field(default_factory=browser_client)

    def url(self, path: str) -> str:
        return f"{self.server.endpoint}{path}"

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.url(path))

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> httpx.Response:
        return self.client.post(self.url(path), data=data)

    def submit(self, page: str, action: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """GET ``page`` for its CSRF token, then POST ``data`` to ``action``."""
        shown = self.get(page)
        assert shown.status_code == 200, (shown.status_code, shown.text[:300])
        return self.post(action, {"csrf_token": csrf_of(shown.text), **(data or {})})

    @property
    def cookie(self) -> str | None:
        return self.client.portico_cookies.values.get("__Host-portico-console")  # type: ignore[attr-defined]

    def sign_in(self, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> httpx.Response:
        response = self.submit(
            "/console/sign-in", "/console/sign-in", {"username": username, "password": password}
        )
        assert response.status_code == 303, response.text[:500]
        return response

    def close(self) -> None:
        self.client.close()


def setup_code(server: Server) -> str | None:
    """The console's set-up code, as ``portico serve`` prints it (None once it has an admin)."""

    async def work(conn):  # type: ignore[no-untyped-def]
        return await admins.setup_code(conn)

    return server.db(work)  # type: ignore[no-any-return]


def create_first_admin(console: ConsoleClient) -> httpx.Response:
    return console.submit(
        "/console/welcome",
        "/console/welcome",
        {"username": ADMIN, "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD,
         "setup": setup_code(console.server) or ""},
    )  # fmt: skip


def flash_of(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", m).strip()
        for m in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', html, re.S)
    ]
