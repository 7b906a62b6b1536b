"""Console applications: framework cards, creation with the secret shown once (post/redirect/
get), the card's guide remembered, defaults matching each guide, details, settings validation,
secret rotation and deletion (name typed again) behind re-authentication, audit entries."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select

from portico.storage.tables import (
    application_secrets,
    applications,
    logs,
    logto_configs,
    oidc_model_instances,
)
from tests.console import ADMIN_PASSWORD, ConsoleClient, create_first_admin, start_server
from tests.management import client_with, token_for
from tests.support import Server, csrf_of, unique

APP_PAGE = re.compile(r"/console/applications/([a-z0-9]+)")


def created_app(
    console: ConsoleClient, framework: str = "go", name: str | None = None
) -> tuple[str, str, str]:
    """Create through the card's form, then follow the redirect: ``(app id, secret, page html)``."""
    response = console.submit(
        f"/console/applications/new?framework={framework}",
        "/console/applications",
        {
            "framework": framework,
            "name": name or unique("Bookstore"),
            "redirect_uris": "http://localhost:3000/callback",
            "post_logout_redirect_uris": "http://localhost:3000/",
        },
    )
    assert response.status_code == 303, response.text[:500]
    app_id = APP_PAGE.fullmatch(response.headers["location"]).group(1)  # type: ignore[union-attr]
    page = console.get(response.headers["location"])
    assert page.status_code == 200
    return app_id, secret_of(page.text), page.text


def secret_of(html: str) -> str:
    found = re.search(r'id="new-secret">([A-Za-z0-9]+)<', html)
    return found.group(1) if found else ""


def count_named(console: ConsoleClient, name: str) -> int:
    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(select(applications.c.id).where(applications.c.name == name))
        return len(rows.all())

    return console.server.db(work)  # type: ignore[no-any-return]


def remembered_guides(console: ConsoleClient) -> dict[str, str]:
    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(logto_configs.c.value).where(
            logto_configs.c.tenant_id == "default",
            logto_configs.c.key == "console.applicationGuides",
        )
        return (await conn.execute(query)).scalar_one_or_none() or {}

    return console.server.db(work)  # type: ignore[no-any-return]


def stored_artifacts_text(console: ConsoleClient) -> str:
    async def work(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(select(oidc_model_instances.c.payload))
        return repr([r.payload for r in rows])

    return console.server.db(work)  # type: ignore[no-any-return]


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


def test_create_redirects_so_reloading_creates_nothing_and_shows_the_secret_once(
    console: ConsoleClient,
) -> None:
    name = unique("Reloaded")
    created = console.submit(
        "/console/applications/new?framework=python",
        "/console/applications",
        {"framework": "python", "name": name, "redirect_uris": "http://localhost:3000/callback"},
    )
    assert created.status_code == 303
    location = created.headers["location"]
    assert APP_PAGE.fullmatch(location)
    first = console.get(location)
    secret = secret_of(first.text)
    assert first.status_code == 200 and secret and "will not be shown again" in first.text
    assert f"Application “{name}” created." in first.text
    # Held for the redirect sealed, never in the URL or in plain text in the database.
    assert secret not in location and secret not in stored_artifacts_text(console)
    reloaded = console.get(location)
    assert reloaded.status_code == 200 and secret_of(reloaded.text) == ""
    assert "&lt;your-app-secret&gt;" in reloaded.text
    assert count_named(console, name) == 1
    # Another admin session never sees it.
    other = ConsoleClient(console.server)
    other.sign_in()
    try:
        assert secret_of(other.get(location).text) == ""
    finally:
        other.close()


def test_rotating_redirects_and_the_new_secret_is_shown_once(console: ConsoleClient) -> None:
    app_id, first, _ = created_app(console)
    page = f"/console/applications/{app_id}"
    rotated = console.post(
        f"{page}/secrets",
        {"csrf_token": csrf_of(console.get(page).text), "reauth_password": ADMIN_PASSWORD},
    )
    assert rotated.status_code == 303 and rotated.headers["location"] == page
    shown = console.get(page).text
    second = secret_of(shown)
    assert second and second != first and "Secret “Secret 2” created" in shown
    assert secret_of(console.get(page).text) == ""

    async def names(conn):  # type: ignore[no-untyped-def]
        rows = await conn.execute(
            select(application_secrets.c.name).where(application_secrets.c.application_id == app_id)
        )
        return sorted(r.name for r in rows)

    assert console.server.db(names) == ["Default secret", "Secret 2"]


def test_the_card_an_app_was_created_from_keeps_its_guide(console: ConsoleClient) -> None:
    app_id, _, html = created_app(console, "go")
    assert "Guide: Go" in html
    later = console.get(f"/console/applications/{app_id}").text
    assert "Guide: Go" in later and "Guide: Traditional web" not in later
    assert remembered_guides(console)[app_id] == "go"
    # Another guide of the same type can be shown; the remembered one stays.
    other = console.get(f"/console/applications/{app_id}?guide=python").text
    assert "Guide: Python" in other
    assert "Guide: Go" in console.get(f"/console/applications/{app_id}").text


def prefilled(console: ConsoleClient, framework: str) -> dict[str, str]:
    """The create form exactly as the card fills it in."""
    html = console.get(f"/console/applications/new?framework={framework}").text
    fields = dict(re.findall(r'<textarea id="\w+" name="(\w+)"[^>]*>([^<]*)</textarea>', html))
    return {
        "csrf_token": csrf_of(html),
        "framework": framework,
        "name": unique(framework),
        **fields,
    }


GUIDE_URIS = {
    # card: (the sign-in redirect the guide's code sends, the sign-out one)
    "go": (r'SignInWithRedirectUri\("([^"]+)"\)', r'SignOut\("([^"]+)"\)'),
    "python": (r'signIn\(redirectUri="([^"]+)"\)', r'postLogoutRedirectUri="([^"]+)"'),
    "react": (r"signIn\('([^']+)'\)", r"signOut\('([^']+)'\)"),
}


@pytest.mark.parametrize("framework", sorted(GUIDE_URIS))
def test_card_defaults_are_the_uris_its_guide_sends(console: ConsoleClient, framework: str) -> None:
    created = console.post("/console/applications", prefilled(console, framework))
    assert created.status_code == 303, created.text[:500]
    app_id = APP_PAGE.fullmatch(created.headers["location"]).group(1)  # type: ignore[union-attr]
    html = console.get(created.headers["location"]).text
    sign_in, sign_out = (re.search(p, html).group(1) for p in GUIDE_URIS[framework])  # type: ignore[union-attr]

    async def stored(conn):  # type: ignore[no-untyped-def]
        query = select(applications.c.oidc_client_metadata).where(applications.c.id == app_id)
        return (await conn.execute(query)).scalar_one()

    oidc = console.server.db(stored)
    assert oidc["redirectUris"] == [sign_in]
    assert oidc["postLogoutRedirectUris"][0] == sign_out
    # What the SDK does at sign-out: the provider accepts it (no session here: straight back).
    for uri in oidc["postLogoutRedirectUris"]:
        ending = httpx.get(
            f"{console.server.issuer}/session/end",
            params={"client_id": app_id, "post_logout_redirect_uri": uri},
        )
        assert ending.status_code == 303, ending.text[:300]
        assert ending.headers["location"] == uri


def test_go_card_signs_out_as_logtos_go_guide(console: ConsoleClient) -> None:
    """Logto's Go guide calls ``SignOut("http://localhost:3000")``, no trailing slash; the
    repository's example (``examples/go-gin``) signs out to ``http://localhost:3000/``."""
    fields = prefilled(console, "go")
    assert fields["post_logout_redirect_uris"] == "http://localhost:3000\nhttp://localhost:3000/"
    assert fields["redirect_uris"] == "http://localhost:3000/callback"


def test_authjs_card_registers_only_the_callback(console: ConsoleClient) -> None:
    """Auth.js signs out in the app itself, never through the provider's end-session page."""
    fields = prefilled(console, "authjs")
    assert fields["redirect_uris"] == "http://localhost:3000/api/auth/callback/logto"
    assert fields["post_logout_redirect_uris"] == ""


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
    bad = console.post(f"/console/applications/{app_id}", {**form, "max_grants": "0"})
    assert bad.status_code == 400
    assert "is not an origin" in bad.text and "from 1 to 86400" in bad.text
    assert "A whole number from 1 to 1000, or empty for no limit." in bad.text
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
        {**form, "cors_origins": "https://app.example.com", "id_token_ttl": "600",
         "max_grants": "3"},
    )  # fmt: skip
    assert good.status_code == 303
    shown = console.get(f"/console/applications/{app_id}").text
    assert 'id="max_grants" name="max_grants" inputmode="numeric" value="3"' in shown

    async def stored(conn):  # type: ignore[no-untyped-def]
        return (await conn.execute(select(applications).where(applications.c.id == app_id))).one()

    row = console.server.db(stored)
    assert row.name == "Renamed"
    assert row.oidc_client_metadata["redirectUris"][1] == "https://app.example.com/callback"
    assert row.custom_client_metadata["corsAllowedOrigins"] == ["https://app.example.com"]
    assert row.custom_client_metadata["idTokenTtl"] == 600
    assert row.custom_client_metadata["maxAllowedGrants"] == 3
    assert "ManagementApi.UpdateApplication" in dict(audit_entries(console, app_id))
    page = console.get(f"/console/applications/{app_id}")
    unlimited = {**form, "csrf_token": csrf_of(page.text), "cors_origins": "",
                 "id_token_ttl": "600", "max_grants": ""}  # fmt: skip
    assert console.post(f"/console/applications/{app_id}", unlimited).status_code == 303
    assert "maxAllowedGrants" not in console.server.db(stored).custom_client_metadata


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
    assert rotated.status_code == 303
    shown = console.get(rotated.headers["location"]).text
    second = secret_of(shown)
    assert second and second != first
    # Within five minutes of confirming, no second prompt.
    deleted = console.post(
        f"/console/applications/{app_id}/secrets/delete",
        {"csrf_token": csrf_of(shown), "name": "Default secret"},
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
    name = re.search(r"<h1>(.+?) <span", page.text).group(1)  # type: ignore[union-attr]
    asked = console.post(
        f"/console/applications/{app_id}/delete",
        {"csrf_token": csrf_of(page.text), "confirm_name": name},
    )
    assert "Confirm it is you" in asked.text
    assert console.get(f"/console/applications/{app_id}").status_code == 200
    gone = console.post(
        f"/console/applications/{app_id}/delete",
        {"csrf_token": csrf_of(page.text), "confirm_name": name, "reauth_password": ADMIN_PASSWORD},
    )
    assert gone.status_code == 303
    assert console.get(f"/console/applications/{app_id}").status_code == 404
    keys = [k for k, _ in audit_entries(console, app_id)]
    assert {
        "ManagementApi.CreateApplicationSecret",
        "ManagementApi.DeleteApplicationSecret",
        "ManagementApi.DeleteApplication",
    } <= set(keys)


def test_deleting_needs_the_applications_name_typed_again(console: ConsoleClient) -> None:
    name = unique("Doomed")
    app_id, _, html = created_app(console, "go", name=name)
    assert 'name="confirm_name"' in html and f"Type <strong>{name}</strong> to confirm" in html
    action = f"/console/applications/{app_id}/delete"
    password = {"reauth_password": ADMIN_PASSWORD}
    for typed in (None, "", name.upper(), name + "x"):
        form = {"csrf_token": csrf_of(html), **password}
        if typed is not None:
            form["confirm_name"] = typed
        refused = console.post(action, form)
        assert refused.status_code == 400, typed
        assert "nothing was deleted" in refused.text
        assert count_named(console, name) == 1
    assert "ManagementApi.DeleteApplication" not in dict(audit_entries(console, app_id))
    assert app_id in remembered_guides(console)
    gone = console.post(action, {"csrf_token": csrf_of(html), "confirm_name": f" {name} "})
    assert gone.status_code == 303 and gone.headers["location"] == "/console/applications"
    assert count_named(console, name) == 0
    assert app_id not in remembered_guides(console)
    assert "ManagementApi.DeleteApplication" in dict(audit_entries(console, app_id))


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


def test_a_machine_app_gets_roles_from_its_page(console: ConsoleClient) -> None:
    """The Roles tab of a machine-to-machine application: what its tokens may carry."""
    from portico.services import rbac

    role_name = unique("Reporter")

    async def make_role(conn):  # type: ignore[no-untyped-def]
        return (await rbac.create_role(conn, "default", name=role_name,
                                       role_type=rbac.RoleType.M2M))["id"]  # fmt: skip

    role_id = console.server.db(make_role)
    app_id, _, html = created_app(console, "m2m")
    page = f"/console/applications/{app_id}"
    assert 'id="app-roles"' in html and f'name="role_id" value="{role_id}"' in html
    empty = console.submit(page, f"{page}/roles", {})
    assert empty.status_code == 400 and "Pick at least one role." in empty.text
    assert console.submit(page, f"{page}/roles", {"role_id": role_id}).status_code == 303
    shown = console.get(page).text
    assert f'href="/console/roles/{role_id}"' in shown  # held
    assert f'name="role_id" value="{role_id}"' not in shown  # no longer offered
    assert console.submit(page, f"{page}/roles/{role_id}/delete").status_code == 303
    assert f'href="/console/roles/{role_id}"' not in console.get(page).text
    keys = [key for key, _ in audit_entries(console, app_id)]
    assert "ManagementApi.AssignApplicationRoles" in keys
    assert "ManagementApi.DeleteApplicationRole" in keys
    # a user-facing application has no roles tab
    _, _, web = created_app(console, "go")
    assert 'id="app-roles"' not in web
