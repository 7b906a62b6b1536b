"""Console applications: framework cards, creation with the secret shown once, details,
settings validation, secret rotation and deletion behind re-authentication, audit entries."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from portico.storage.tables import application_secrets, applications, logs
from tests.console import ADMIN_PASSWORD, ConsoleClient
from tests.support import csrf_of, unique


def created_app(console: ConsoleClient, framework: str = "go") -> tuple[str, str, str]:
    """Create through the card's form: ``(app id, secret, page html)``."""
    name = unique("Bookstore")
    response = console.submit(
        f"/console/applications/new?framework={framework}",
        "/console/applications",
        {
            "framework": framework,
            "name": name,
            "redirect_uris": "http://localhost:3000/callback",
            "post_logout_redirect_uris": "http://localhost:3000/",
        },
    )
    assert response.status_code == 201, response.text[:500]
    app_id = re.search(r'id="app-id">([a-z0-9]+)<', response.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="new-secret">([A-Za-z0-9]+)<', response.text)
    return app_id, secret.group(1) if secret else "", response.text


def audit_entries(console: ConsoleClient, app_id: str) -> list[tuple[str, dict]]:
    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(logs.c.key, logs.c.payload).where(logs.c.application_id == app_id)
        )
        return [(r.key, r.payload) for r in rows]

    return console.server.db(work)


def test_framework_cards_list_every_framework(console: ConsoleClient) -> None:
    page = console.get("/console/applications/new").text
    for name in (
        "Go",
        "Auth.js / Next.js",
        "Python",
        "React / SPA",
        "Native",
        "Machine-to-machine",
        "Traditional web",
    ):
        assert f"<strong>{name}</strong>" in page


def test_create_shows_the_secret_once_and_it_works(console: ConsoleClient) -> None:
    app_id, secret, html = created_app(console)
    assert secret and "will not be shown again" in html
    # The Go guide has the real values filled in.
    assert f'AppId:     "{app_id}"' in html and f'AppSecret: "{secret}"' in html
    assert f'Endpoint:  "{console.server.endpoint}"' in html
    again = console.get(f"/console/applications/{app_id}").text
    assert secret not in again and "&lt;your-app-secret&gt;" in again
    token = httpx.post(
        f"{console.server.issuer}/token",
        auth=(app_id, secret),
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": "http://localhost:3000/callback",
        },
    )
    assert token.json()["error"] == "invalid_grant"  # authenticated, only the code is wrong
    entry = dict(audit_entries(console, app_id))["ManagementApi.CreateApplication"]
    assert entry["actor"]["type"] == "console" and entry["result"] == "Success"


def test_authjs_guide_matches_the_seed(console: ConsoleClient) -> None:
    app_id, secret, html = created_app(console, "authjs")
    issuer = console.server.issuer
    assert f"AUTH_LOGTO_ISSUER={issuer}\nAUTH_LOGTO_ID={app_id}\nAUTH_LOGTO_SECRET={secret}" in html
    assert f"wellKnown: '{issuer}/.well-known/openid-configuration'" in html
    assert "id_token_signed_response_alg: 'ES384'" in html
    assert "idToken: true" in html and "checks: ['pkce', 'state']" in html


def test_settings_are_validated_and_stored(console: ConsoleClient) -> None:
    app_id, _, _ = created_app(console, "python")
    page = console.get(f"/console/applications/{app_id}")
    form = {
        "csrf_token": csrf_of(page.text),
        "name": "Renamed",
        "description": "",
        "redirect_uris": "http://localhost:3000/callback\nhttps://app.example.com/callback",
        "post_logout_redirect_uris": "https://app.example.com/",
        "cors_origins": "https://app.example.com/path",
        "id_token_ttl": "0",
        "refresh_days": "14",
        "rotate_refresh": "on",
    }
    bad = console.post(f"/console/applications/{app_id}", form)
    assert bad.status_code == 400
    assert "is not an origin" in bad.text and "from 1 to 86400" in bad.text
    insecure = console.post(
        f"/console/applications/{app_id}",
        {
            **form,
            "cors_origins": "",
            "id_token_ttl": "600",
            "redirect_uris": "http://app.example.com/cb",
        },
    )
    assert insecure.status_code == 400 and "loopback" in insecure.text
    good = console.post(
        f"/console/applications/{app_id}",
        {**form, "cors_origins": "https://app.example.com", "id_token_ttl": "600"},
    )
    assert good.status_code == 303

    async def stored(conn):  # type: ignore[no-untyped-def]
        return (await conn.execute(select(applications).where(applications.c.id == app_id))).one()

    row = console.server.db(stored)
    assert row.name == "Renamed"
    assert row.oidc_client_metadata["redirectUris"][1] == "https://app.example.com/callback"
    assert row.custom_client_metadata["corsAllowedOrigins"] == ["https://app.example.com"]
    assert row.custom_client_metadata["idTokenTtl"] == 600
    assert "ManagementApi.UpdateApplication" in dict(audit_entries(console, app_id))


def age_reauth(console: ConsoleClient) -> None:
    from sqlalchemy import update

    from portico.ids import digest
    from portico.storage.tables import oidc_model_instances as t

    async def work(conn):  # type: ignore[no-untyped-def]
        key = digest(console.cookie or "")
        payload = (await conn.execute(select(t.c.payload).where(t.c.id == key))).scalar_one()
        payload = {**payload, "reauthAt": 0}
        await conn.execute(update(t).where(t.c.id == key).values(payload=payload))

    console.server.db(work)


def test_rotate_and_delete_secrets_and_app_need_the_password(console: ConsoleClient) -> None:
    app_id, first, _ = created_app(console)
    age_reauth(console)
    asked = console.submit(
        f"/console/applications/{app_id}", f"/console/applications/{app_id}/secrets"
    )
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    rotated = console.post(
        f"/console/applications/{app_id}/secrets",
        {"csrf_token": csrf_of(asked.text), "reauth_password": ADMIN_PASSWORD},
    )
    assert rotated.status_code == 201
    second = re.search(r'id="new-secret">([A-Za-z0-9]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert second != first
    # Within five minutes of confirming, no second prompt.
    deleted = console.post(
        f"/console/applications/{app_id}/secrets/delete",
        {"csrf_token": csrf_of(rotated.text), "name": "Default secret"},
    )
    assert deleted.status_code == 303

    async def names(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(application_secrets.c.name).where(application_secrets.c.application_id == app_id)
        )
        return [r.name for r in rows]

    assert console.server.db(names) == ["Secret 2"]
    age_reauth(console)
    page = console.get(f"/console/applications/{app_id}")
    asked = console.post(
        f"/console/applications/{app_id}/delete", {"csrf_token": csrf_of(page.text)}
    )
    assert "Confirm it is you" in asked.text
    assert console.get(f"/console/applications/{app_id}").status_code == 200
    gone = console.post(
        f"/console/applications/{app_id}/delete",
        {"csrf_token": csrf_of(page.text), "reauth_password": ADMIN_PASSWORD},
    )
    assert gone.status_code == 303
    assert console.get(f"/console/applications/{app_id}").status_code == 404
    keys = [k for k, _ in audit_entries(console, app_id)]
    assert {
        "ManagementApi.CreateApplicationSecret",
        "ManagementApi.DeleteApplicationSecret",
        "ManagementApi.DeleteApplication",
    } <= set(keys)


def test_machine_to_machine_guide_uses_client_credentials(console: ConsoleClient) -> None:
    app_id, secret, html = created_app(console, "m2m")
    assert "grant_type=client_credentials" in html and f"'{app_id}:{secret}'" in html


def test_create_needs_csrf_and_a_name(console: ConsoleClient) -> None:
    refused = console.post("/console/applications", {"framework": "go", "name": "x"})
    assert refused.status_code == 403
    empty = console.submit(
        "/console/applications/new?framework=go",
        "/console/applications",
        {"framework": "go", "name": "  "},
    )
    assert empty.status_code == 400 and "name must be 1 to 256 characters" in empty.text
