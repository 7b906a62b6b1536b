"""A Portico cluster for reliability tests: real ``portico serve`` processes on different ports
sharing one database and one Redis, with TCP proxies in front of PostgreSQL and Redis for the
first process so a test can cut (and restore) its connections, and a real SMTP mailbox.

Process ``a`` reaches PostgreSQL and Redis through :class:`TcpProxy`; process ``b`` directly.
Both have the same public endpoint (as behind a load balancer), so tokens and cookies issued
by one are valid on the other.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.storage import configs
from tests.smtp_server import Recorder
from tests.support import (
    LOOPBACK_TARGETS,
    LoopbackCookies,
    csrf_of,
    free_port,
    in_transaction,
    pkce_pair,
    query_of,
)

REDIS_URL = os.environ.get("PORTICO_TEST_REDIS", "redis://127.0.0.1:6379/0")
PORTICO = str(Path(sys.executable).with_name("portico"))
CODE_RE = re.compile(r"\b(\d{6})\b")


# --- TCP proxy ------------------------------------------------------------------------------


class TcpProxy:
    """Forwards a local port to ``target``. ``down()`` closes the listener and every open
    connection (the peer sees a reset, later connects are refused), like a stopped server;
    ``up()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers.difference_update((writer, up_writer))

    async def _up(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def up(self) -> TcpProxy:
        """Listen (again); a no-op when listening."""
        self._call(self._up())
        return self

    def down(self) -> None:
        self._call(self._down())

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def url_for(self, url: str) -> str:
        """``url`` with its host:port replaced by this proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))


# --- server processes -----------------------------------------------------------------------


@dataclass
class Process:
    """One ``portico serve`` in its own process group (so its workers stop with it)."""

    name: str
    port: int
    env: dict[str, str] = field(repr=False)
    log: Path = field(repr=False)
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self, timeout: float = 60) -> Process:
        args = [PORTICO, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.time() + timeout
        with httpx.Client(timeout=2) as client:
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/api/status").status_code == 204:
                        return self
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """``kill -9`` of the server process (and its workers, if any)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    database_url: str
    data_dir: Path
    redis_url: str | None
    mail: Recorder
    endpoint: str = ""
    processes: dict[str, Process] = field(default_factory=dict)
    db_proxy: TcpProxy | None = None
    redis_proxy: TcpProxy | None = None
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    redirect_uri: str = "http://localhost:3000/callback"

    @property
    def a(self) -> Process:
        return self.processes["a"]

    @property
    def b(self) -> Process:
        return self.processes["b"]

    @property
    def issuer(self) -> str:
        return f"{self.endpoint}/oidc"

    def db(self, work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """Run ``work`` in one committed transaction (same contract as ``Server.db``)."""
        return in_transaction(self.database_url, work)

    def api(self, process: Process) -> httpx.Client:
        return httpx.Client(
            base_url=process.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def configure(self, process: Process, **patch: Any) -> dict[str, Any]:
        with self.api(process) as api:
            response = api.patch("/api/sign-in-exp", json=patch)
        assert response.status_code == 200, response.text
        return response.json()

    def restart(self, name: str) -> Process:
        process = self.processes[name]
        if not process.alive():
            process.start()
        return process

    def code_for(self, address: str, after: int = 0, timeout: float = 15) -> str:
        """The code in the first message to ``address`` among messages ``after`` onwards."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for message in self.mail.messages[after:]:
                if address.lower() in str(message["To"]).lower():
                    body = message.get_body(("plain", "html"))
                    assert body is not None
                    match = CODE_RE.search(body.get_content())
                    assert match, body.get_content()
                    return match.group(1)
            time.sleep(0.02)
        raise AssertionError(f"no message reached {address}")

    def subscribers(self) -> int:
        """Processes subscribed to the installation's invalidation channel, as Redis counts
        them (see ``portico.coherence``)."""
        import redis

        async def installation(conn: AsyncConnection) -> Any:
            return await configs.get(conn, "default", "portico.installation")

        channel = f"portico:{self.db(installation)['id']}:invalidate"
        with redis.Redis.from_url(REDIS_URL) as client:
            return int(dict(client.pubsub_numsub(channel))[channel.encode()])

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        for proxy in (self.db_proxy, self.redis_proxy):
            if proxy is not None:
                proxy.close()


def start_cluster(
    database_url: str,
    data_dir: Path,
    mail: Recorder,
    *,
    redis: bool = True,
    proxies: bool = True,
    names: tuple[str, ...] = ("a", "b"),
) -> Cluster:
    """Start the processes; ``a`` goes through the proxies when ``proxies`` is set."""
    cluster = Cluster(database_url, data_dir, REDIS_URL if redis else None, mail)
    ports = {name: free_port() for name in names}
    cluster.endpoint = f"http://localhost:{ports[names[0]]}"
    if proxies and database_url.startswith("postgresql"):
        parts = urlsplit(database_url)
        cluster.db_proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).up()
    if proxies and redis:
        parts = urlsplit(REDIS_URL)
        cluster.redis_proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379).up()
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    for index, name in enumerate(names):
        proxied = index == 0
        env = {
            **os.environ,
            "PORTICO_ENDPOINT": cluster.endpoint,
            "DATABASE_URL": cluster.db_proxy.url_for(database_url)
            if proxied and cluster.db_proxy
            else database_url,
            "PORTICO_DATA_DIR": str(data_dir),
            "PORTICO_ENCRYPTION_KEY": key,
            "PORTICO_LOG_LEVEL": "warning",
            "PORTICO_ALLOW_PRIVATE_TARGETS": LOOPBACK_TARGETS,
        }
        env.pop("REDIS_URL", None)
        env.pop("PORTICO_REDIS_URL", None)
        if redis:
            env["PORTICO_REDIS_URL"] = (
                cluster.redis_proxy.url_for(REDIS_URL)
                if proxied and cluster.redis_proxy
                else REDIS_URL
            )
        cluster.processes[name] = Process(name, ports[name], env, data_dir / f"{name}.log")
    try:
        # The first start migrates and seeds; the others then start in parallel with it done.
        first, *others = cluster.processes.values()
        first.start()
        for process in others:
            process.start()
    except Exception:
        cluster.stop()
        raise
    return cluster


# --- a browser that may talk to any process -------------------------------------------------


class Agent:
    """A user agent with one cookie store, sending each request to the process it is told
    (as a load balancer without sticky sessions would)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.cookies = LoopbackCookies()
        self.client = httpx.Client(
            follow_redirects=False,
            timeout=30,
            event_hooks={
                "request": [self.cookies.on_request],
                "response": [self.cookies.on_response],
            },
        )
        self.verifier = ""
        self.app = ClientApp(cluster.app_id, cluster.app_secret, cluster.redirect_uri)

    def close(self) -> None:
        self.client.close()

    def get(self, process: Process, path: str) -> httpx.Response:
        return self.client.get(f"{process.url}{path}")

    def post(
        self, process: Process, path: str, page: httpx.Response, **data: str
    ) -> httpx.Response:
        """Submit the form of ``page`` (its CSRF token) with ``data``."""
        return self.client.post(
            f"{process.url}{path}", data={"csrf_token": csrf_of(page.text), **data}
        )

    def follow(self, process: Process, response: httpx.Response) -> httpx.Response:
        """Follow redirects inside Portico, on ``process``; stop at the client's redirect."""
        while response.status_code in (302, 303):
            location = response.headers["location"]
            if location.startswith(self.cluster.endpoint):
                location = location[len(self.cluster.endpoint) :]
            if not location.startswith("/"):
                break
            response = self.get(process, location)
        return response

    def authorize(
        self, process: Process, scope: str = "openid profile email", app: Any = None,
        **params: str,
    ) -> httpx.Response:  # fmt: skip
        """Start an authorization request for ``app`` (default: the cluster's Traditional
        app); the first page shown, or the redirect to the client."""
        self.app = app or ClientApp(
            self.cluster.app_id, self.cluster.app_secret, self.cluster.redirect_uri
        )
        self.verifier, challenge = pkce_pair()
        query = {
            "client_id": self.app.id, "redirect_uri": self.app.redirect_uri,
            "response_type": "code", "scope": scope, "state": secrets.token_urlsafe(8),
            "code_challenge": challenge, "code_challenge_method": "S256", **params,
        }  # fmt: skip
        response = self.client.get(f"{process.url}/oidc/auth", params=query)
        return self.follow(process, response)

    def code_from(self, response: httpx.Response) -> str:
        assert response.status_code == 303, (response.status_code, response.text[:300])
        query = query_of(response.headers["location"])
        assert "code" in query, response.headers["location"]
        return query["code"]

    def token_request(self, **data: str) -> dict[str, str]:
        """Token endpoint form data for the app of the last :meth:`authorize`."""
        data["client_id"] = self.app.id
        if self.app.secret:
            data["client_secret"] = self.app.secret
        return data

    def redeem(self, process: Process, code: str) -> httpx.Response:
        return self.client.post(
            f"{process.url}/oidc/token",
            data=self.token_request(
                grant_type="authorization_code", code=code,
                redirect_uri=self.app.redirect_uri, code_verifier=self.verifier,
            ),
        )  # fmt: skip


@dataclass
class ClientApp:
    id: str
    secret: str | None
    redirect_uri: str


@contextlib.contextmanager
def agent(cluster: Cluster) -> Iterator[Agent]:
    user_agent = Agent(cluster)
    try:
        yield user_agent
    finally:
        user_agent.close()
