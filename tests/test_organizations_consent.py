"""Organizations in tokens and remembered consent, end to end: a third-party application asks
for ``urn:logto:scope:organizations``, the user grants one of their two organizations in a real
browser (Playwright + Chromium), and only that one reaches the ID token, userinfo and
organization tokens (Logto's RFC 0001 §6, the refresh-token grant with ``organization_id``).
Consent is remembered until revoked; ``prompt=consent`` or a new scope asks again."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.conftest import Api, App, make_app, make_user
from tests.flows import redeem, tokens_for
from tests.support import Browser, Server, authorize_url, csrf_of, pkce_pair, query_of, unique
from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

ORGS = "urn:logto:scope:organizations"
ORG_ROLES = "urn:logto:scope:organization_roles"
ORG_RESOURCE = "urn:logto:resource:organizations"


def claims_of(jwt: str) -> dict[str, Any]:
    """The payload (signatures are checked by the ID token and SDK tests)."""
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def org_token(server: Server, app: App, refresh_token: str, org_id: str) -> httpx.Response:
    return httpx.post(
        f"{server.issuer}/token",
        headers=app.basic(),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token,
              "organization_id": org_id},
    )  # fmt: skip


class Orgs:
    """Two organizations the user belongs to (an ``editor`` in both, with scope ``read``),
    and one they do not."""

    def __init__(self, admin: httpx.Client, user_id: str) -> None:
        self.read = unique("read")
        scope = admin.post("/organization-scopes", json={"name": self.read}).json()
        self.role = unique("editor")
        role = admin.post(
            "/organization-roles", json={"name": self.role, "organizationScopeIds": [scope["id"]]}
        ).json()
        self.acme, self.globex, self.initech = (
            admin.post("/organizations", json={"name": unique(n), "description": n}).json()
            for n in ("Acme", "Globex", "Initech")
        )
        for org in (self.acme, self.globex):
            admin.post(f"/organizations/{org['id']}/users", json={"userIds": [user_id]})
            admin.post(
                f"/organizations/{org['id']}/users/{user_id}/roles",
                json={"organizationRoleIds": [role["id"]]},
            )


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def _goto_quietly(page: Page, url: str) -> None:
    """Navigate to a URL whose redirects end at the (absent) client."""
    with contextlib.suppress(PlaywrightError):
        page.goto(url)


def test_third_party_consent_chooses_organizations_and_is_remembered(
    server: Server, admin: httpx.Client, page: Page
) -> None:
    third = make_app(server, "Traditional", is_third_party=True)
    user = make_user(server)
    orgs = Orgs(admin, user.id)
    verifier, challenge = pkce_pair()

    def url(scope: str, **extra: str) -> str:
        return authorize_url(server, third.id, third.redirect_uri, scope=scope,
                             code_challenge=challenge, code_challenge_method="S256",
                             **extra)  # fmt: skip

    # First sign-in: the page lists both organizations; the user grants Acme only.
    page.goto(url(f"openid offline_access {ORGS} {ORG_ROLES} {orgs.read}",
                  resource=ORG_RESOURCE, prompt="consent"))  # fmt: skip
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("wants to access your account")
    expect(page.get_by_role("listitem").filter(has_text="See your organizations")).to_be_visible()
    acme = page.get_by_role("checkbox", name=orgs.acme["name"])
    globex = page.get_by_role("checkbox", name=orgs.globex["name"])
    expect(acme).not_to_be_checked()
    expect(globex).not_to_be_checked()
    expect(page.get_by_role("checkbox", name=orgs.initech["name"])).to_have_count(0)
    acme.check()
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Allow").click()
    )
    with httpx.Client(base_url=server.endpoint, timeout=30) as http:
        tokens = redeem(http, third, query_of(callback)["code"], verifier).json()
    id_claims = claims_of(tokens["id_token"])
    assert id_claims["organizations"] == [orgs.acme["id"]]
    assert id_claims["organization_roles"] == [f"{orgs.acme['id']}:{orgs.role}"]
    assert "organization_data" not in id_claims  # not an ID-token claim by default (Logto)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = httpx.get(f"{server.issuer}/me", headers=bearer).json()
    assert info["organization_data"] == [
        {"id": orgs.acme["id"], "name": orgs.acme["name"], "description": "Acme"}
    ]
    granted = admin.get(f"/applications/{third.id}/users/{user.id}/consent-organizations")
    assert [o["id"] for o in granted.json()] == [orgs.acme["id"]]

    # Organization tokens: the granted organization only.
    ok = org_token(server, third, tokens["refresh_token"], orgs.acme["id"])
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["expires_in"] == 3600 and body["scope"] == orgs.read
    access = claims_of(body["access_token"])
    assert access["aud"] == f"urn:logto:organization:{orgs.acme['id']}"
    assert access["sub"] == user.id and access["scope"] == orgs.read
    for org, reason in ((orgs.globex, "not granted"), (orgs.initech, "not a member")):
        refused = org_token(server, third, tokens["refresh_token"], org["id"])
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "access_denied"
        assert reason in refused.json()["error_description"]

    # Second sign-in (same browser session), asking for no more: straight back to the app.
    callback = submit_and_wait_for_client(page, lambda: _goto_quietly(page, url(f"openid {ORGS}")))
    assert query_of(callback).get("code"), callback

    # prompt=consent shows the page again, with the earlier choice ticked; denying keeps it.
    page.goto(url(f"openid {ORGS}", prompt="consent"))
    expect(page.get_by_role("checkbox", name=orgs.acme["name"])).to_be_checked()
    expect(page.get_by_role("checkbox", name=orgs.globex["name"])).not_to_be_checked()
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Deny").click()
    )
    assert query_of(callback)["error"] == "access_denied"

    # A new scope asks again.
    page.goto(url("openid email"))
    expect(page.get_by_role("listitem").filter(has_text="See your email address")).to_be_visible()
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Allow").click()
    )
    assert query_of(callback).get("code")

    # Signing out does not forget consent: a fresh browser signs in and goes straight back.
    page.context.clear_cookies()
    page.goto(url(f"openid email {ORGS}"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password)
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Sign in").click()
    )
    assert query_of(callback).get("code"), callback

    # Revoked through the Management API: the page comes back.
    assert admin.delete(f"/applications/{third.id}/users/{user.id}/consent").status_code == 204
    page.goto(url(f"openid {ORGS}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("wants to access your account")
    expect(page.get_by_role("checkbox", name=orgs.acme["name"])).not_to_be_checked()


def test_first_party_apps_see_every_organization_and_need_the_scope_for_tokens(
    server: Server, admin: httpx.Client, browser: Browser, http: httpx.Client, web_app: App
) -> None:
    user = make_user(server)
    orgs = Orgs(admin, user.id)
    tokens = tokens_for(browser, server, http, web_app, user,
                        scope=f"openid offline_access {ORGS} {ORG_ROLES} {orgs.read}",
                        prompt="consent")  # fmt: skip
    claims = claims_of(tokens["id_token"])
    assert sorted(claims["organizations"]) == sorted([orgs.acme["id"], orgs.globex["id"]])
    assert sorted(claims["organization_roles"]) == sorted(
        f"{o['id']}:{orgs.role}" for o in (orgs.acme, orgs.globex)
    )
    assert org_token(server, web_app, tokens["refresh_token"], orgs.globex["id"]).status_code == 200

    # An organization requiring MFA refuses a member without a factor (Logto), and serves
    # one with a factor.
    admin.patch(f"/organizations/{orgs.globex['id']}", json={"isMfaRequired": True})
    refused = org_token(server, web_app, tokens["refresh_token"], orgs.globex["id"])
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    assert "MFA" in refused.json()["error_description"]
    added = admin.post(f"/users/{user.id}/mfa-verifications", json={"type": "Totp"})
    assert added.status_code == 200
    assert org_token(server, web_app, tokens["refresh_token"], orgs.globex["id"]).status_code == 200

    # Leaving the organization takes it out of the next tokens.
    admin.delete(f"/organizations/{orgs.acme['id']}/users/{user.id}")
    refreshed = http.post("/oidc/token", headers=web_app.basic(),
                          data={"grant_type": "refresh_token",
                                "refresh_token": tokens["refresh_token"]})  # fmt: skip
    assert claims_of(refreshed.json()["id_token"])["organizations"] == [orgs.globex["id"]]
    refused = org_token(server, web_app, tokens["refresh_token"], orgs.acme["id"])
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"

    # Without the organizations scope in the refresh token: insufficient_scope.
    plain = tokens_for(browser, server, http, web_app, user, scope="openid offline_access",
                       prompt="consent")  # fmt: skip
    refused = org_token(server, web_app, plain["refresh_token"], orgs.globex["id"])
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"


def test_consent_refuses_an_organization_the_user_is_not_a_member_of(
    server: Server, admin: httpx.Client, browser: Browser
) -> None:
    """A forged checkbox value is refused on the page; nothing is granted or remembered."""
    third = make_app(server, "Traditional", is_third_party=True)
    user = make_user(server)
    orgs = Orgs(admin, user.id)
    _, challenge = pkce_pair()
    url = authorize_url(server, third.id, third.redirect_uri, scope=f"openid {ORGS}",
                        code_challenge=challenge, code_challenge_method="S256")  # fmt: skip
    page = browser.follow_until_external(browser.client.get(url))
    consent = browser.follow_until_external(
        browser.client.post(f"{server.endpoint}/sign-in", data={
            "csrf_token": csrf_of(page.text), "identifier": user.username,
            "password": user.password})
    )  # fmt: skip
    assert consent.status_code == 200 and orgs.acme["name"] in consent.text
    assert orgs.initech["name"] not in consent.text
    refused = browser.client.post(f"{server.endpoint}/consent", data={
        "csrf_token": csrf_of(consent.text), "decision": "allow",
        "organization_id": [orgs.acme["id"], orgs.initech["id"]]})  # fmt: skip
    assert refused.status_code == 400
    assert "Choose only organizations you are a member of." in refused.text
    base = f"/applications/{third.id}/users/{user.id}/consent-organizations"
    assert admin.get(base).json() == []
    # Without a CSRF token nothing happens either.
    no_csrf = {"decision": "allow", "organization_id": orgs.acme["id"]}
    forged = browser.client.post(f"{server.endpoint}/consent", data=no_csrf)
    assert forged.status_code == 403 and admin.get(base).json() == []
    allowed = browser.client.post(f"{server.endpoint}/consent", data={
        "csrf_token": csrf_of(refused.text), "decision": "allow",
        "organization_id": orgs.acme["id"]})  # fmt: skip
    callback = browser.follow_until_external(allowed).headers["location"]
    assert query_of(callback).get("code"), callback
    assert [o["id"] for o in admin.get(base).json()] == [orgs.acme["id"]]


def test_organization_id_with_a_resource_gives_no_scope_of_the_users_own_roles(
    server: Server, admin: httpx.Client, browser: Browser, http: httpx.Client, web_app: App,
    api_resource: Api,
) -> None:  # fmt: skip
    """Logto restricts such a token to what the organization roles grant for the API; they
    grant nothing here, so the scope is empty even though the user's own role has read+write."""
    user = make_user(server, roles=(api_resource.role,))
    orgs = Orgs(admin, user.id)
    tokens = tokens_for(browser, server, http, web_app, user,
                        scope=f"openid offline_access {ORGS} read write",
                        resource=api_resource.indicator, prompt="consent")  # fmt: skip
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "resource": api_resource.indicator}  # fmt: skip
    plain = http.post("/oidc/token", headers=web_app.basic(), data=data)
    assert plain.json()["scope"] == "read write"
    scoped = http.post("/oidc/token", headers=web_app.basic(),
                       data={**data, "organization_id": orgs.acme["id"]})  # fmt: skip
    assert scoped.status_code == 200, scoped.text
    claims = claims_of(scoped.json()["access_token"])
    assert claims["aud"] == api_resource.indicator and claims["scope"] == ""
    assert claims["organization_id"] == orgs.acme["id"]
    refused = http.post("/oidc/token", headers=web_app.basic(),
                        data={**data, "organization_id": orgs.initech["id"]})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
