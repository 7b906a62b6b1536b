"""Every URL an admin configures and a public page shows follows one rule (https, or http for
loopback hosts): a ``javascript:`` support link would run in the sign-in page's origin."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Server

BAD = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "http://example.com/help",
    "https://user:secret@example.com/",
    "https://exa mple.com/",
    "https://example.com/\nSet-Cookie: a=b",
    "//example.com/help",
    "https://",
    "https://example.com:port/",
]
FIELDS = [
    ("supportWebsiteUrl",),
    ("termsOfUseUrl",),
    ("privacyPolicyUrl",),
    ("unknownSessionRedirectUrl",),
    ("branding", "logoUrl"),
    ("branding", "darkLogoUrl"),
    ("branding", "favicon"),
]


def _body(path: tuple[str, ...], value: str) -> dict:
    return {path[0]: value} if len(path) == 1 else {path[0]: {path[1]: value}}


@pytest.mark.parametrize("path", FIELDS, ids=[".".join(f) for f in FIELDS])
def test_sign_in_experience_urls_follow_one_rule(admin: httpx.Client, path: tuple) -> None:
    before = admin.get("/sign-in-exp").json()
    for value in BAD:
        response = admin.patch("/sign-in-exp", json=_body(path, value))
        assert response.status_code == 400, (path, value, response.text)
        assert response.json()["code"] == "sign_in_experiences.invalid", response.text
    assert admin.get("/sign-in-exp").json() == before
    for value in ("https://example.com/help?x=1#top", "http://localhost:3000/help"):
        response = admin.patch("/sign-in-exp", json=_body(path, value))
        assert response.status_code == 200, (path, value, response.text)
    admin.patch("/sign-in-exp", json=_body(path, None) if len(path) == 1 else {path[0]: {}})


def test_the_support_email_is_an_address(admin: httpx.Client) -> None:
    for value in ("javascript:alert(1)", "mailto:x@example.com?body=hi", "nobody"):
        response = admin.patch("/sign-in-exp", json={"supportEmail": value})
        assert response.status_code == 400, (value, response.text)
    fine = admin.patch("/sign-in-exp", json={"supportEmail": "Help@Example.com"})
    assert fine.status_code == 200 and fine.json()["supportEmail"] == "help@example.com"
    admin.patch("/sign-in-exp", json={"supportEmail": None})


def test_the_support_link_on_public_pages_is_never_a_script(
    admin: httpx.Client,
    server: Server,
) -> None:
    refused = admin.patch("/sign-in-exp", json={"supportWebsiteUrl": "javascript:alert(1)"})
    assert refused.status_code == 400
    public = httpx.get(f"{server.endpoint}/api/.well-known/sign-in-exp")
    assert "javascript:" not in public.text


def test_application_logo_follows_the_rule(admin: httpx.Client) -> None:
    for value in ("javascript:alert(1)", "http://example.com/logo.png"):
        response = admin.post(
            "/applications",
            json={"name": "logo test", "type": "Traditional",
                  "oidcClientMetadata": {"redirectUris": [], "postLogoutRedirectUris": [],
                                         "logoUri": value}},
        )  # fmt: skip
        assert response.status_code == 400, (value, response.text)


def test_connector_logos_follow_the_rule_and_unknown_metadata_is_refused(
    admin: httpx.Client,
) -> None:
    """A connector's logo is an ``<img>`` on the public sign-in page."""
    config = {"clientId": "c1", "clientSecret": "s1"}
    for metadata in (
        {"logo": "javascript:alert(1)"},
        {"logoDark": "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="},
        {"logo": "http://example.com/logo.png"},
        {"target": "two words"},
        {"onload": "alert(1)"},
    ):
        response = admin.post(
            "/connectors",
            json={"connectorId": "github-universal", "config": config, "metadata": metadata},
        )
        assert response.status_code == 400, (metadata, response.text)
        assert response.json()["code"] == "connector.invalid_config", response.text
    created = admin.post(
        "/connectors",
        json={"connectorId": "github-universal", "config": config,
              "metadata": {"logo": "https://example.com/logo.png", "target": "gh-2"}},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    connector_id = created.json()["id"]
    bad_logo = {"metadata": {"logo": "javascript:x"}}
    patched = admin.patch(f"/connectors/{connector_id}", json=bad_logo)
    assert patched.status_code == 400
    assert admin.get(f"/connectors/{connector_id}").json()["logo"] == "https://example.com/logo.png"
    admin.delete(f"/connectors/{connector_id}")
