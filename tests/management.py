"""Management API test helpers: clients holding a real token from the token endpoint (an M2M
app with the "Logto Management API access" role, or one without it), and checks shared by the
``test_api_*`` modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import make_app
from tests.support import Server

MANAGEMENT_API = "https://default.logto.app/api"


def token_for(server: Server, roles: list[str]) -> tuple[str, str]:
    """``(application id, access token)`` for a new M2M app holding ``roles``."""
    app = make_app(server, "MachineToMachine", roles=roles)
    response = httpx.post(
        f"{server.endpoint}/oidc/token",
        headers=app.basic(),
        data={"grant_type": "client_credentials", "resource": MANAGEMENT_API, "scope": "all"},
    )
    assert response.status_code == 200, response.text
    return app.id, response.json()["access_token"]


def client_with(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.endpoint}/api",
        headers={"Authorization": f"Bearer {token}", "User-Agent": "portico-tests/1"},
        timeout=30,
    )


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    """A client whose token has scope ``all``; ``admin.app_id`` is its M2M application."""
    app_id, token = token_for(server, ["Logto Management API access"])
    with client_with(server, token) as client:
        client.app_id = app_id  # type: ignore[attr-defined]
        yield client


DEVICE_APP_NAME = "Living-room TV"


@pytest.fixture
def device_app(admin: httpx.Client) -> str:
    """A Native application for the device flow (RFC 8628), made through /api."""
    created = admin.post("/applications", json={
        "name": DEVICE_APP_NAME, "type": "Native",
        "oidcClientMetadata": {"redirectUris": [], "postLogoutRedirectUris": []},
        "customClientMetadata": {"isDeviceFlow": True}})  # fmt: skip
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def weak(server: Server) -> Iterator[httpx.Client]:
    """A valid Management API token without scope ``all`` (403)."""
    _, token = token_for(server, [])
    with client_with(server, token) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.endpoint}/api", timeout=30) as client:
        yield client


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert Logto's error shape and return the body."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def invalid_fields(response: httpx.Response) -> set[str]:
    """The body paths a 400 ``guard.invalid_input`` names (``body.name``...)."""
    body = error(response, 400, "guard.invalid_input")
    return {item["path"] for item in body["data"]}


def links(response: httpx.Response) -> dict[str, str]:
    """rel -> URL of the ``Link`` headers."""
    out = {}
    for header in response.headers.get_list("link"):
        url, _, rel = header.partition(">; rel=")
        out[rel.strip('"')] = url.lstrip("<")
    return out
