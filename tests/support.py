"""Test support: a real Portico server in a thread, a browser-like HTTP client, and helpers
that write test data through the same services the CLI uses."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import html
import os
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.settings import load_settings
from portico.storage.database import create_engine
from portico.web.app import create_app
from portico.web.http_protocol import CoalescingHttpToolsProtocol

PG_ADMIN_URL = os.environ.get("PORTICO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# PORTICO_ALLOW_PRIVATE_TARGETS of the test servers: connectors may call fakes on loopback.
LOOPBACK_TARGETS = "127.0.0.1,localhost"


def test_database_kind() -> str:
    return os.environ.get("PORTICO_TEST_DB", "sqlite")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pg_admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL, pool=False)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


def create_database(tmp_dir: str) -> tuple[str, Callable[[], None]]:
    """A fresh database for one test session, and how to drop it."""
    if test_database_kind() == "postgresql":
        name = f"portico_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        return url, lambda: asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return f"sqlite:///{tmp_dir}/portico.db", lambda: None


class Server:
    """``uvicorn`` serving ``create_app`` in a background thread on a free port."""

    def __init__(
        self, database_url: str, data_dir: str, host: str = "localhost", **settings: Any
    ) -> None:
        """``host``: how the server is named; a second Portico playing an identity provider
        is ``127.0.0.1``, another site than ``localhost`` for the browser, which would
        otherwise let the two servers' cookies (same names, ports ignored) overwrite each
        other's."""
        self.port = free_port()
        self.endpoint = f"http://{host}:{self.port}"
        self.database_url = database_url
        self.settings = load_settings(
            {
                "endpoint": self.endpoint,
                "database_url": database_url,
                "data_dir": data_dir,
                "port": self.port,
                # Fake providers (tests/fake_kakao.py, a second Portico...) listen here.
                "allow_private_targets": LOOPBACK_TARGETS,
                **settings,
            },
            environ={},
        )
        config = uvicorn.Config(
            create_app(self.settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            http=CoalescingHttpToolsProtocol,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def issuer(self) -> str:
        return f"{self.endpoint}/oidc"

    def start(self) -> Server:
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started:
            if time.time() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def db(self, work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """Run ``work`` in one committed transaction on the server's database."""
        return in_transaction(self.database_url, work)


def in_transaction(database_url: str, work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
    """``work`` in one committed transaction on the database at ``database_url``."""

    async def run() -> Any:
        engine = create_engine(database_url, pool=False)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    # A thread of its own, so that async tests (with a running loop) can call it too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


class LoopbackCookies:
    """The cookie handling of a browser on a loopback origin: ``Secure`` cookies are kept and
    sent over http://localhost (httpx's jar would drop them). One host, name -> value."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def on_request(self, request: httpx.Request) -> None:
        if self.values:
            request.headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.values.items())

    def on_response(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            pair, _, attributes = header.partition(";")
            name, _, value = pair.strip().partition("=")
            expired = "max-age=0" in attributes.lower().replace(" ", "")
            if expired or not value.strip('"'):
                self.values.pop(name, None)
            else:
                self.values[name] = value


def browser_client(**kwargs: Any) -> httpx.Client:
    cookies = LoopbackCookies()
    client = httpx.Client(
        follow_redirects=False,
        timeout=30,
        event_hooks={"request": [cookies.on_request], "response": [cookies.on_response]},
        **kwargs,
    )
    client.portico_cookies = cookies  # type: ignore[attr-defined]
    return client


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
META_REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=(/[^"]*)">')


def onward(response: httpx.Response) -> str:
    """Where the server sends the browser next: a redirect's location, or the target of a
    page that goes on by itself (after an identity provider's callback); "" for neither."""
    if response.status_code in (302, 303):
        return response.headers["location"]
    found = META_REFRESH.search(response.text) if response.status_code == 200 else None
    return html.unescape(found.group(1)) if found else ""


def as_redirect(response: httpx.Response) -> httpx.Response:
    """A page that goes on by itself, as the 303 it stands for (other answers unchanged)."""
    if response.status_code == 200 and (target := onward(response)):
        return httpx.Response(303, headers={"location": target}, request=response.request)
    return response


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@dataclass
class Browser:
    """Plays the user agent: follows the provider's redirects and fills in its forms."""

    server: Server
    client: httpx.Client

    def get(self, url: str) -> httpx.Response:
        return self.client.get(urljoin(self.server.endpoint, url))

    def follow_until_external(self, response: httpx.Response) -> httpx.Response:
        """Follow the server's own redirects, and its pages that go on by themselves (a
        meta refresh to one of its paths: after an identity provider's callback)."""
        while True:
            location = response.headers.get("location", "")
            if response.status_code in (302, 303) and location.startswith(
                ("/", self.server.endpoint)
            ):
                response = self.get(location)
            elif response.status_code == 200 and (found := META_REFRESH.search(response.text)):
                response = self.get(html.unescape(found.group(1)))
            else:
                return response

    def sign_in(self, authorize_url: str, identifier: str, password: str) -> str:
        """Start at ``authorize_url``, sign in, return the redirect to the client."""
        response = self.follow_until_external(self.client.get(authorize_url))
        if response.status_code == 200 and "csrf_token" in response.text:
            response = self.client.post(
                f"{self.server.endpoint}/sign-in",
                data={
                    "csrf_token": csrf_of(response.text),
                    "identifier": identifier,
                    "password": password,
                },
            )
            assert response.status_code == 303, response.text
            response = self.follow_until_external(response)
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return response.headers["location"]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def authorize_url(server: Server, client_id: str, redirect_uri: str, **params: str) -> str:
    base = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
    }
    base.update(params)
    return f"{server.issuer}/auth?{urlencode(base)}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
