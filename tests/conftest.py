"""Session-wide fixtures: one real server per test run (SQLite, or PostgreSQL when
``PORTICO_TEST_DB=postgresql``), and per-test applications and users."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.experience import codes as codes_module
from portico.experience import sentinel as sentinel_module
from portico.services import applications, rbac, users
from portico.services.bootstrap import ensure_ready
from portico.storage.database import create_engine
from tests.cluster import Cluster, start_cluster
from tests.console import ConsoleClient, create_first_admin, start_server
from tests.fake_kakao import FakeKakao
from tests.lab import Lab, start_lab
from tests.smtp_server import smtp_config, smtp_server
from tests.support import Browser, Server, browser_client, create_database, unique

PASSWORD = "correct horse battery staple"
# Management API clients (admin / weak / anonymous) for the test_api_* modules.
pytest_plugins = ["tests.management"]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database of the run's kind (SQLite, or PostgreSQL), dropped after the test."""
    url, drop = create_database(str(tmp_path))
    yield url
    drop()


class Clock:
    """Epoch milliseconds that move only when the test says so (the engine's clock)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The sentinel's and the verification codes' clock, moved by the test."""
    fake = Clock()
    monkeypatch.setattr(sentinel_module, "now_ms", fake)
    monkeypatch.setattr(codes_module, "now_ms", fake)
    return fake


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A pooled engine on the migrated ``database_url``, for tests below HTTP."""
    engine = create_engine(database_url)
    await ensure_ready(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = str(tmp_path_factory.mktemp("portico"))
    url, drop = create_database(data_dir)
    srv = Server(url, data_dir).start()
    try:
        yield srv
    finally:
        srv.stop()
        drop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.endpoint, timeout=30) as client:
        yield client


@pytest.fixture
def browser(server: Server) -> Iterator[Browser]:
    with browser_client() as client:
        yield Browser(server, client)


@dataclass
class App:
    id: str
    secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str

    def basic(self) -> dict[str, str]:
        raw = f"{self.id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def make_app(server: Server, app_type: str, **kwargs: Any) -> App:
    redirect_uri = kwargs.pop("redirect_uri", "http://localhost:3000/callback")
    logout_uri = kwargs.pop("post_logout_redirect_uri", "http://localhost:3000/")
    roles = kwargs.pop("roles", [])

    async def work(conn):  # type: ignore[no-untyped-def]
        created = await applications.create_application(
            conn,
            "default",
            name=unique("app"),
            app_type=applications.AppType(app_type),
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=[logout_uri],
            **kwargs,
        )
        for role in roles:
            await rbac.assign_role(conn, "default", role_name=role, app_id=created.row["id"])
        return created

    created = server.db(work)
    return App(created.row["id"], created.secret, redirect_uri, logout_uri)


@pytest.fixture
def web_app(server: Server) -> App:
    return make_app(server, "Traditional")


@pytest.fixture
def spa_app(server: Server) -> App:
    return make_app(server, "SPA")


@dataclass
class User:
    id: str
    username: str
    email: str
    password: str = PASSWORD


def make_user(server: Server, roles: tuple[str, ...] = (), **kwargs: Any) -> User:
    username = unique("user")
    email = f"{username}@example.com"

    async def work(conn):  # type: ignore[no-untyped-def]
        row = await users.create_user(
            conn, "default", username=username, email=email, password=PASSWORD, **kwargs
        )
        for role in roles:
            await rbac.assign_role(conn, "default", role_name=role, user_id=row["id"])
        return row

    row = server.db(work)
    return User(row["id"], username, email)


@pytest.fixture
def user(server: Server) -> User:
    return make_user(server, name="Alice Example")


@dataclass
class Api:
    indicator: str
    role: str
    m2m_role: str


@pytest.fixture
def api_resource(server: Server) -> Api:
    """An API resource with scopes read/write/admin; a User and an M2M role grant read+write."""
    indicator = f"https://{unique('api')}.example.com"
    role, m2m_role = unique("reader"), unique("service")

    async def work(conn):  # type: ignore[no-untyped-def]
        await rbac.create_resource(
            conn, "default", indicator=indicator, scopes=["read", "write", "admin"]
        )
        await rbac.create_role(
            conn, "default", name=role, indicator=indicator, scope_names=["read", "write"]
        )
        await rbac.create_role(
            conn,
            "default",
            name=m2m_role,
            role_type=rbac.RoleType.M2M,
            indicator=indicator,
            scope_names=["read", "write"],
        )

    server.db(work)
    return Api(indicator, role, m2m_role)


@pytest.fixture(scope="session")
def lab_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A server of its own with an SMTP connector delivering to a real aiosmtpd server."""
    data_dir = str(tmp_path_factory.mktemp("portico-lab"))
    url, drop = create_database(data_dir)
    srv = Server(url, data_dir).start()
    try:
        with smtp_server() as mail:
            m2m = make_app(srv, "MachineToMachine", roles=["Logto Management API access"])
            token = httpx.post(
                f"{srv.endpoint}/oidc/token",
                headers=m2m.basic(),
                data={
                    "grant_type": "client_credentials",
                    "resource": "https://default.logto.app/api",
                    "scope": "all",
                },
            ).json()["access_token"]
            lab = start_lab(srv, mail.port, mail.handler, token, make_app(srv, "Traditional"))
            yield lab
            lab.api.close()
    finally:
        srv.stop()
        drop()


@pytest.fixture
def lab(lab_session: Lab) -> Iterator[Lab]:
    """The lab with Logto's default sign-in experience, restored after the test."""
    yield lab_session
    lab_session.restore()


def lab_user(lab: Lab, **kwargs: Any) -> User:
    return make_user(lab.server, **kwargs)


@pytest.fixture(scope="module")
def kakao_server(lab_session: Lab) -> Iterator[tuple[FakeKakao, str]]:
    """A fake Kakao (tests/fake_kakao.py) behind a ``kakao-universal`` connector on the lab
    server; ``(fake, connector id)``."""
    fake = FakeKakao().start()
    created = lab_session.api.post(
        "/api/connectors", json={"connectorId": "kakao-universal", "config": fake.config()}
    )
    assert created.status_code == 200, created.text
    connector_id = created.json()["id"]
    fake.redirect_uris.add(f"{lab_session.server.endpoint}/callback/{connector_id}")
    yield fake, connector_id
    lab_session.api.delete(f"/api/connectors/{connector_id}")
    fake.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two ``portico serve`` processes sharing one database and Redis (see tests/cluster.py),
    an SMTP connector delivering to a real mailbox, a Traditional app and an API token."""
    data_dir = tmp_path_factory.mktemp("portico-cluster")
    url, drop = create_database(str(data_dir))
    try:
        with smtp_server() as mail:
            running = start_cluster(url, data_dir, mail.handler)
            try:
                prepare_cluster(running, mail.port)
                yield running
            finally:
                running.stop()
    finally:
        drop()


def prepare_cluster(running: Cluster, mail_port: int | None = None) -> None:
    """An API token, an SMTP connector (with ``mail_port``) and a Traditional app."""
    m2m = make_app(running, "MachineToMachine", roles=["Logto Management API access"])  # type: ignore[arg-type]
    running.token = httpx.post(
        f"{running.b.url}/oidc/token",
        headers=m2m.basic(),
        data={
            "grant_type": "client_credentials",
            "resource": "https://default.logto.app/api",
            "scope": "all",
        },
    ).json()["access_token"]
    if mail_port is not None:
        with running.api(running.b) as api:
            created = api.post(
                "/api/connectors",
                json={
                    "connectorId": "simple-mail-transfer-protocol",
                    "config": smtp_config(mail_port),
                },
            )
        assert created.status_code == 200, created.text
    web = make_app(running, "Traditional")  # type: ignore[arg-type]
    running.app_id, running.app_secret = web.id, web.secret or ""


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own whose first admin (``tests.console.ADMIN``) was created through the
    console's set-up page."""
    for srv in start_server(tmp_path_factory, "portico-console"):
        console = ConsoleClient(srv)
        assert create_first_admin(console).status_code == 303
        console.close()
        yield srv


@pytest.fixture
def console(console_server: Server) -> Iterator[ConsoleClient]:
    """A signed-in admin's browser."""
    client = ConsoleClient(console_server)
    client.sign_in()
    yield client
    client.close()
