"""Console applications: framework cards, creation with the secret shown once, details,
settings validation, secret rotation and deletion behind re-authentication, audit entries."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select

from portico.storage.tables import application_secrets, applications, logs
from tests.console import ADMIN_PASSWORD, ConsoleClient, create_first_admin, start_server
from tests.management import client_with, token_for
from tests.support import Server, csrf_of, unique


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


# Advanced settings -------------------------------------------------------------------------
ADVANCED = (
    "backchannel_logout_uri",
    "frontchannel_logout_uri",
    "id_token_alg",
    "require_par",
    "require_signed_request_object",
)


def management_of(server: Server) -> httpx.Client:
    """A Management API client (what the console's writes must match)."""
    _, token = token_for(server, ["Logto Management API access"])
    return client_with(server, token)


@pytest.fixture(scope="module")
def management(console_server: Server) -> Iterator[httpx.Client]:
    with management_of(console_server) as client:
        yield client


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A console server of its own: an ID-token algorithm other than the tenant key's adds a
    key to the tenant's JWKS, which the signing-key tests on the shared server count."""
    for srv in start_server(tmp_path_factory, "portico-console-apps"):
        first = ConsoleClient(srv)
        assert create_first_admin(first).status_code == 303
        first.close()
        yield srv


def settings(console: ConsoleClient, app_id: str, **fields: str) -> dict[str, str]:
    """The settings form as the page fills it in (no box checked), with ``fields`` on top."""
    page = console.get(f"/console/applications/{app_id}")
    return {
        "csrf_token": csrf_of(page.text),
        "name": "Bookstore",
        "description": "",
        "redirect_uris": "http://localhost:3000/callback",
        "post_logout_redirect_uris": "http://localhost:3000/",
        "cors_origins": "",
        "id_token_ttl": "3600",
        "refresh_days": "14",
        **fields,
    }


def oidc_of(management: httpx.Client, app_id: str) -> dict:
    response = management.get(f"/applications/{app_id}")
    assert response.status_code == 200, response.text
    return response.json()["oidcClientMetadata"]


def checked(html: str, name: str) -> bool:
    return re.search(rf'<input type="checkbox" name="{name}"[^>]*\bchecked\b', html) is not None


def test_advanced_settings_are_stored_shown_and_cleared(own_server: Server) -> None:
    with management_of(own_server) as management:
        console = ConsoleClient(own_server)
        console.sign_in()
        try:
            advanced_settings_round_trip(console, management)
        finally:
            console.close()


def advanced_settings_round_trip(console: ConsoleClient, management: httpx.Client) -> None:
    app_id, _, html = created_app(console, "python")
    assert '<option value="">Tenant default (ES384)</option>' in html
    assert all(f"<option>{alg}</option>" in html for alg in ("ES256", "RS256", "EdDSA"))
    assert 'name="require_signed_request_object"' not in html  # no keys: a hint instead
    assert "need the application to authenticate with keys (private_key_jwt)" in html
    saved = console.post(
        f"/console/applications/{app_id}",
        settings(
            console,
            app_id,
            backchannel_logout_uri="https://app.example.com/backchannel",
            backchannel_logout_session_required="on",
            frontchannel_logout_uri="http://localhost:3000/logout",
            frontchannel_logout_session_required="on",
            id_token_alg="EdDSA",
            require_par="on",
            dpop_bound="on",
        ),
    )
    assert saved.status_code == 303, saved.text[:500]
    oidc = oidc_of(management, app_id)
    assert oidc["backchannelLogoutUri"] == "https://app.example.com/backchannel"
    assert oidc["frontchannelLogoutUri"] == "http://localhost:3000/logout"
    assert oidc["idTokenSignedResponseAlg"] == "EdDSA"
    for member in (
        "backchannelLogoutSessionRequired",
        "frontchannelLogoutSessionRequired",
        "requirePushedAuthorizationRequests",
        "dpopBoundAccessTokens",
    ):
        assert oidc[member] is True, member
    page = console.get(f"/console/applications/{app_id}").text
    assert 'value="https://app.example.com/backchannel"' in page
    assert 'value="http://localhost:3000/logout"' in page
    assert "<option selected>EdDSA</option>" in page
    for name in ("backchannel_logout_session_required", "require_par", "dpop_bound"):
        assert checked(page, name), name

    # Empty URIs, unchecked boxes and the tenant default remove the members.
    cleared = console.post(f"/console/applications/{app_id}", settings(console, app_id))
    assert cleared.status_code == 303
    oidc = oidc_of(management, app_id)
    assert not {
        "backchannelLogoutUri",
        "backchannelLogoutSessionRequired",
        "frontchannelLogoutUri",
        "frontchannelLogoutSessionRequired",
        "idTokenSignedResponseAlg",
        "requirePushedAuthorizationRequests",
        "dpopBoundAccessTokens",
    } & set(oidc)
    assert oidc["redirectUris"] == ["http://localhost:3000/callback"]
    page = console.get(f"/console/applications/{app_id}").text
    assert not checked(page, "dpop_bound") and "<option selected>" not in page


def test_invalid_advanced_settings_show_the_service_error_and_store_nothing(
    console: ConsoleClient, management: httpx.Client
) -> None:
    app_id, _, _ = created_app(console, "python")
    before = management.get(f"/applications/{app_id}").json()
    foreign = console.post(
        f"/console/applications/{app_id}",
        settings(
            console,
            app_id,
            name="Renamed",
            frontchannel_logout_uri="https://elsewhere.example.com/logout",
            dpop_bound="on",
        ),
    )
    assert foreign.status_code == 400
    message = "frontchannelLogoutUri must have the scheme, host and port of a redirect URI"
    assert f'<span class="field-error" id="frontchannel_logout_uri-error">{message}' in foreign.text
    # The admin's input is kept for correction.
    assert 'value="https://elsewhere.example.com/logout"' in foreign.text
    assert checked(foreign.text, "dpop_bound")
    algorithm = console.post(
        f"/console/applications/{app_id}", settings(console, app_id, id_token_alg="HS256")
    )
    assert (
        algorithm.status_code == 400 and "idTokenSignedResponseAlg must be one of" in algorithm.text
    )
    too_long = console.post(
        f"/console/applications/{app_id}",
        settings(console, app_id, backchannel_logout_uri="https://app.example.com/" + "a" * 2048),
    )
    assert too_long.status_code == 400 and "At most 2048 characters." in too_long.text
    assert management.get(f"/applications/{app_id}").json() == before


def test_signed_request_objects_are_offered_to_apps_with_keys(
    console: ConsoleClient, management: httpx.Client
) -> None:
    app_id, _, _ = created_app(console, "go")
    jwks = {"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}
    patched = management.patch(
        f"/applications/{app_id}",
        json={
            "oidcClientMetadata": {
                "redirectUris": ["http://localhost:3000/callback"],
                "postLogoutRedirectUris": ["http://localhost:3000/"],
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": jwks,
            }
        },
    )
    assert patched.status_code == 200, patched.text
    page = console.get(f"/console/applications/{app_id}").text
    assert "Require signed request objects (JAR)" in page and "need the application" not in page
    saved = console.post(
        f"/console/applications/{app_id}",
        settings(console, app_id, require_signed_request_object="on"),
    )
    assert saved.status_code == 303, saved.text[:500]
    oidc = oidc_of(management, app_id)
    assert oidc["requireSignedRequestObject"] is True
    # Members the page does not edit are kept.
    assert oidc["tokenEndpointAuthMethod"] == "private_key_jwt" and oidc["jwks"] == jwks
    assert checked(
        console.get(f"/console/applications/{app_id}").text, "require_signed_request_object"
    )


def test_machine_to_machine_page_shows_only_dpop(
    console: ConsoleClient, management: httpx.Client
) -> None:
    app_id, _, html = created_app(console, "m2m")
    for name in ADVANCED:
        assert f'name="{name}"' not in html, name
    assert "Back-channel logout URI" not in html and "Front-channel logout URI" not in html
    assert 'name="dpop_bound"' in html
    # Set through /api, not shown: kept as stored.
    patched = management.patch(
        f"/applications/{app_id}",
        json={
            "oidcClientMetadata": {
                "redirectUris": [],
                "postLogoutRedirectUris": [],
                "requirePushedAuthorizationRequests": True,
            }
        },
    )
    assert patched.status_code == 200, patched.text
    saved = console.post(
        f"/console/applications/{app_id}",
        settings(
            console,
            app_id,
            redirect_uris="",
            post_logout_redirect_uris="",
            dpop_bound="on",
            backchannel_logout_uri="https://app.example.com/backchannel",
        ),
    )
    assert saved.status_code == 303, saved.text[:500]
    oidc = oidc_of(management, app_id)
    assert oidc["dpopBoundAccessTokens"] is True
    assert oidc["requirePushedAuthorizationRequests"] is True
    assert "backchannelLogoutUri" not in oidc
