"""``/api/sso-connector-providers``, ``/api/sso-connectors``, users' SSO identities and JIT
by SSO connector: Logto's shapes and error codes. The test server is itself an OpenID
provider, so a connector can be discovered from its own issuer (loopback is allowed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.storage.tables import sso_connectors
from tests.support import Server, unique


def _create(admin: httpx.Client, **body: Any) -> httpx.Response:
    return admin.post(
        "/sso-connectors",
        json={"providerName": "OIDC", "connectorName": unique("corp"), **body},
    )


@pytest.fixture
def connector(admin: httpx.Client) -> Any:
    created = _create(admin)
    assert created.status_code == 200, created.text
    yield created.json()
    admin.delete(f"/sso-connectors/{created.json()['id']}")


def test_providers_are_logtos_oidc_presets(admin: httpx.Client) -> None:
    found = admin.get("/sso-connector-providers")
    assert found.status_code == 200
    names = {p["providerName"]: p for p in found.json()}
    assert {"OIDC", "AzureAdOidc", "GoogleWorkspace", "Okta"} <= set(names)
    assert names["Okta"]["providerType"] == "oidc"
    assert names["OIDC"]["logo"].startswith("data:image/svg+xml")
    assert names["OIDC"]["name"] and names["OIDC"]["description"]


def test_create_without_config_answers_logtos_defaults(admin: httpx.Client, connector: Any) -> None:
    assert connector["config"] == {} and connector["domains"] == []
    assert connector["syncProfile"] is False and connector["branding"] == {}
    shown = admin.get(f"/sso-connectors/{connector['id']}").json()
    assert shown["providerType"] == "oidc" and shown["providerLogo"]
    assert "providerConfig" not in shown or shown["providerConfig"] is None  # config invalid
    listed = admin.get("/sso-connectors", params={"page": 1, "page_size": 100})
    assert listed.status_code == 200 and int(listed.headers["Total-Number"]) >= 1
    assert connector["id"] in [c["id"] for c in listed.json()]


def test_unknown_provider_duplicate_name_and_bad_domains(
    admin: httpx.Client, connector: Any
) -> None:
    unknown = _create(admin, providerName="dummy provider")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "connector.not_found")
    again = _create(admin, connectorName=connector["connectorName"])
    assert (again.status_code, again.json()["code"]) == (
        409,
        "single_sign_on.duplicate_connector_name",
    )
    blocked = _create(admin, domains=["corp.example", "Gmail.com"])
    assert (blocked.status_code, blocked.json()["code"]) == (
        422,
        "single_sign_on.forbidden_domains",
    )
    assert blocked.json()["data"] == ["gmail.com"]
    twice = _create(admin, domains=["a.example", "A.example"])
    assert (twice.status_code, twice.json()["code"]) == (422, "single_sign_on.duplicated_domains")
    lowered = _create(admin, domains=["Test.COM", "foo.org"])
    assert lowered.json()["domains"] == ["test.com", "foo.org"]
    admin.delete(f"/sso-connectors/{lowered.json()['id']}")
    storage = admin.post(
        "/sso-connectors",
        json={"providerName": "OIDC", "connectorName": unique("c"), "enableTokenStorage": True},
    )
    assert (storage.status_code, storage.json()["code"]) == (422, "request.feature_not_supported")


def test_invalid_or_unreachable_config_is_refused_and_nothing_stored(admin: httpx.Client) -> None:
    name = unique("corp")
    partial = _create(admin, connectorName=name, config={"clientId": "x"})
    assert (partial.status_code, partial.json()["code"]) == (400, "connector.invalid_config")
    plain_http = _create(
        admin,
        connectorName=name,
        config={"clientId": "x", "clientSecret": "y", "issuer": "http://idp.example"},
    )
    assert (plain_http.status_code, plain_http.json()["code"]) == (400, "connector.invalid_config")
    unreachable = _create(
        admin,
        connectorName=name,
        config={"clientId": "x", "clientSecret": "y", "issuer": "http://127.0.0.1:9/oidc"},
    )
    assert unreachable.status_code == 400, unreachable.text
    assert unreachable.json()["code"] == "connector.invalid_config"
    names = [c["connectorName"] for c in admin.get("/sso-connectors").json()]
    assert name not in names


def test_secret_is_sealed_at_rest_masked_in_answers_and_kept_on_patch(
    admin: httpx.Client, server: Server
) -> None:
    config = {"clientId": "client-1", "clientSecret": "s3cret-value", "issuer": server.issuer}
    created = _create(
        admin,
        config=config,
        domains=["corp.example"],
        syncProfile=True,
        branding={"displayName": "Corp SSO", "logo": "https://corp.example/l.png"},
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["config"]["clientSecret"] == "******" and body["config"]["clientId"] == "client-1"
    assert body["branding"] == {"displayName": "Corp SSO", "logo": "https://corp.example/l.png"}

    async def stored(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(sso_connectors.c.config).where(sso_connectors.c.id == body["id"])
        )
        return rows.scalar_one()

    raw = server.db(stored)
    assert "s3cret-value" not in str(raw) and "$sealed" in str(raw["clientSecret"])
    shown = admin.get(f"/sso-connectors/{body['id']}").json()
    assert shown["providerConfig"]["authorizationEndpoint"] == f"{server.issuer}/auth"
    assert "clientSecret" not in shown["providerConfig"]
    patched = admin.patch(
        f"/sso-connectors/{body['id']}", json={"config": {**body["config"], "scope": "groups"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["providerConfig"]["scope"] == "openid profile email groups"
    assert server.db(stored)["clientSecret"] != "******"
    assert admin.delete(f"/sso-connectors/{body['id']}").status_code == 204


def test_unknown_connector_is_404(admin: httpx.Client) -> None:
    for response in (
        admin.get("/sso-connectors/nope"),
        admin.patch("/sso-connectors/nope", json={"connectorName": "x"}),
        admin.delete("/sso-connectors/nope"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "entity.not_exists_with_id")
    bad = admin.post("/sso-connectors", json={"providerName": "OIDC"})
    assert bad.status_code == 400


def test_organization_jit_by_sso_connector(admin: httpx.Client, connector: Any) -> None:
    org = admin.post("/organizations", json={"name": unique("org")}).json()["id"]
    base = f"/organizations/{org}/jit/sso-connectors"
    assert admin.post(base, json={"ssoConnectorIds": [connector["id"]]}).status_code == 201
    listed = admin.get(base)
    assert [c["id"] for c in listed.json()] == [connector["id"]]
    missing = admin.post(base, json={"ssoConnectorIds": ["nope"]})
    assert (missing.status_code, missing.json()["code"]) == (
        422,
        "entity.relation_foreign_key_not_found",
    )
    assert admin.put(base, json={"ssoConnectorIds": []}).status_code == 204
    assert admin.get(base).json() == []
    gone = admin.delete(f"{base}/{connector['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "entity.not_found")


def test_experience_lookup_is_empty_while_sso_is_off(http: httpx.Client) -> None:
    found = http.get("/api/experience/sso-connectors", params={"email": "a@corp.example"})
    assert found.status_code == 200 and found.json() == {"connectorIds": []}
    bad = http.get("/api/experience/sso-connectors", params={"email": "not-an-email"})
    assert (bad.status_code, bad.json()["code"]) == (400, "guard.invalid_input")
