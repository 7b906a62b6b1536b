"""An accessibility pass with axe-core (npm, injected by Playwright into Chromium) over every
console page and the hosted pages: no serious or critical violation (WCAG 2 A/AA rules).

axe's script is added to each page with the page's CSP bypassed for the test's browser only;
the pages themselves are served exactly as users get them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from portico.ids import standard_id
from portico.services import applications, rbac
from portico.services import organization_jit as jit
from portico.services import organizations as orgs
from portico.services import users as user_service
from portico.services.bootstrap import DEFAULT_TENANT
from portico.storage import organization_invitations as invitation_repo
from portico.storage import rbac as rbac_repo
from portico.storage.database import now_ms
from tests.conftest import App, User
from tests.console import setup_code, start_server
from tests.node_runtime import NODE_DIR, node_binary
from tests.support import Server, authorize_url
from tests.test_pages_browser import CHROMIUM, CHROMIUM_ARGS, _chromium_missing

try:
    from playwright.sync_api import BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - a dev dependency
    sync_playwright = None  # type: ignore[assignment]

AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "violet-harbour-cinder-93"
CONSOLE_PAGES = ("get-started", "applications", "applications/new", "api-resources",
                 "sign-in-experience", "connectors", "connectors/new?type=Email",
                 "enterprise-sso", "enterprise-sso/new", "enterprise-sso/new/OIDC", "users",
                 "organizations", "organizations/new", "organization-template",
                 "roles", "audit-logs", "signing-keys", "admins", "webhooks",
                 "webhooks/new")  # fmt: skip
SERIOUS = ("serious", "critical")


@contextmanager
def axe_context() -> Iterator[BrowserContext]:
    missing = _chromium_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    node_binary()  # installs axe-core from the lock file when it is missing
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(bypass_csp=True)
            context.set_default_timeout(15_000)
            yield context
            context.close()
        finally:
            browser.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {
              runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              resultTypes: ["violations"]})).violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " " +
                (n.any[0] ? n.any[0].message : ""))}))"""
    )
    return [v for v in found if v["impact"] in SERIOUS]


def organization_pages(server: Server) -> list[str]:
    """An organization with a member holding a role that grants a permission, a
    machine-to-machine application with its role, an invitation, JIT domain and role, and
    branding: each tab of its page, the roles' pages (with API permissions), the permission's,
    and the list with a row (the pages above saw it empty)."""

    async def work(conn):  # type: ignore[no-untyped-def]
        scope = await orgs.create_scope(conn, DEFAULT_TENANT, name="read:reports")
        api = await rbac.create_resource(
            conn, DEFAULT_TENANT, indicator="https://reports.example", name="Reports",
            scopes=["export:reports"],
        )  # fmt: skip
        _, api_scopes = await rbac_repo.find_scopes(conn, DEFAULT_TENANT, resource_id=api["id"])
        role = await orgs.create_role(
            conn, DEFAULT_TENANT, name="Analyst", scope_ids=[scope["id"]],
            resource_scope_ids=[s["id"] for s in api_scopes],
        )  # fmt: skip
        bot_role = await orgs.create_role(
            conn, DEFAULT_TENANT, name="Exporter", role_type=orgs.ROLE_MACHINE_TO_MACHINE
        )
        org = await orgs.create_organization(
            conn, DEFAULT_TENANT, name="Acme", is_mfa_required=True,
            color={"primaryColor": "#112233"}, branding={"logoUrl": "https://cdn.example/l.png"},
        )  # fmt: skip
        user = await user_service.create_user(conn, DEFAULT_TENANT, username="ada")
        await orgs.add_members(conn, DEFAULT_TENANT, org["id"], [user["id"]])
        await orgs.assign_member_roles(conn, DEFAULT_TENANT, org["id"], user["id"], [role["id"]])
        bot = await applications.create_application(
            conn, DEFAULT_TENANT, name="Nightly export", app_type=applications.AppType.M2M
        )
        await orgs.add_app_members(conn, DEFAULT_TENANT, org["id"], [bot.row["id"]])
        await orgs.assign_app_roles(
            conn, DEFAULT_TENANT, org["id"], [bot.row["id"]], [bot_role["id"]]
        )
        now = now_ms()
        invitation = {
            "tenant_id": DEFAULT_TENANT, "id": standard_id(), "inviter_id": None,
            "invitee": "grace@example.com", "accepted_user_id": None,
            "organization_id": org["id"], "status": "Pending", "created_at": now,
            "updated_at": now, "expires_at": now + 86_400_000,
        }  # fmt: skip
        await invitation_repo.insert_invitation(conn, invitation, [role["id"]])
        await jit.add_email_domain(conn, DEFAULT_TENANT, org["id"], "acme.example")
        await jit.add_roles(conn, DEFAULT_TENANT, org["id"], [role["id"]])
        return org["id"], role["id"], bot_role["id"], scope["id"]

    org_id, role_id, bot_role_id, scope_id = server.db(work)
    tabs = ("org-settings", "org-members", "org-apps", "org-invitations", "org-jit", "org-delete")
    return [
        "organizations",
        *(f"organizations/{org_id}#{tab}" for tab in tabs),
        f"organization-template/roles/{role_id}",
        f"organization-template/roles/{bot_role_id}",
        f"organization-template/permissions/{scope_id}",
    ]


def saml_application_pages(server: Server) -> list[str]:
    """A SAML application with its SP, encryption, a mapping and a second, inactive
    certificate (made through /api, as an SP integration would be): each tab of its page."""
    from tests.test_console_applications import management_of
    from tests.test_saml_applications_api import POST, sp_certificate

    with management_of(server) as api:
        app = api.post("/saml-applications", json={
            "name": "Team wiki", "entityId": "https://wiki.example/saml",
            "acsUrl": {"binding": POST, "url": "https://wiki.example/saml/acs"},
            "attributeMapping": {"email": "mail", "name": "displayName"},
            "encryption": {"encryptAssertion": True, "encryptThenSign": False,
                           "certificate": sp_certificate()},
        }).json()  # fmt: skip
        api.post(f"/saml-applications/{app['id']}/secrets", json={"lifeSpanInYears": 1})
    tabs = ("saml-settings", "saml-connection", "saml-certificates", "saml-delete")
    return ["saml-applications/new", *(f"saml-applications/{app['id']}#{tab}" for tab in tabs)]


def sso_connector_pages(server: Server) -> list[str]:
    """An OIDC connector discovered from the server's own issuer, with domains and branding
    (made through /api), and one without a config yet: each tab of their pages, and the
    list with rows (the pages above saw it empty)."""
    from tests.test_console_applications import management_of

    with management_of(server) as api:
        working = api.post("/sso-connectors", json={
            "providerName": "OIDC", "connectorName": "Acme staff",
            "config": {"clientId": "portal", "clientSecret": "s3cret", "issuer": server.issuer},
            "domains": ["acme.example"], "syncProfile": True,
            "branding": {"displayName": "Acme", "logo": "https://cdn.example/l.png"},
        }).json()  # fmt: skip
        blank = api.post("/sso-connectors", json={
            "providerName": "AzureAdOidc", "connectorName": "Contoso",
        }).json()  # fmt: skip
        from portico.saml_idp import certificates

        _, idp_certificate, _ = certificates.new_signing_pair(1, None, "Test IdP")
        saml = api.post("/sso-connectors", json={
            "providerName": "SAML", "connectorName": "Fabrikam",
            "config": {"entityId": "https://idp.example/saml", "x509Certificate": idp_certificate,
                       "signInEndpoint": "https://idp.example/saml/sso"},
        }).json()  # fmt: skip
        keys = f"/sso-connectors/{saml['id']}/signing-keys"
        api.post(keys, json={"active": True})
        api.post(keys, json={})  # a second, inactive: both rows' actions
    tabs = ("sso-settings", "sso-connection", "sso-experience", "sso-delete")
    return [
        "enterprise-sso",
        *(f"enterprise-sso/{c['id']}#{tab}" for c in (working, blank) for tab in tabs),
        f"enterprise-sso/{saml['id']}#sso-signing",
    ]


def webhook_pages(server: Server) -> list[str]:
    """A hook with headers (made through /api) that delivered one event to a receiver on
    loopback and failed a second: each tab of its page, both attempts' details and the list
    with a row (the pages above saw it empty)."""
    from tests.test_console_applications import management_of
    from tests.webhook_receiver import receiver

    with management_of(server) as api, receiver() as inbox:
        hook = api.post("/hooks", json={
            "name": "Orders", "events": ["User.Created", "PostSignIn"],
            "config": {"url": inbox.url, "headers": {"x-tenant": "acme"}},
        }).json()  # fmt: skip
        inbox.statuses.append(400)
        api.post("/users", json={"username": "webhook_reader"})
        api.post("/users", json={"username": "webhook_writer"})
        inbox.wait_for(2)
        deadline = time.time() + 10
        while time.time() < deadline:
            attempts = api.get(f"/hooks/{hook['id']}/recent-logs").json()
            if len(attempts) == 2:
                break
            time.sleep(0.1)
    tabs = ("wh-settings", "wh-signing-key", "wh-deliveries", "wh-test", "wh-delete")
    one = f"webhooks/{hook['id']}"
    return ["webhooks", *(f"{one}#{tab}" for tab in tabs),
            *(f"{one}/deliveries/{a['id']}" for a in attempts)]  # fmt: skip


def console_pages(server: Server) -> Iterator[str]:
    yield from CONSOLE_PAGES
    yield from organization_pages(server)  # once the lists were seen empty
    yield from saml_application_pages(server)
    yield from sso_connector_pages(server)
    yield from webhook_pages(server)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory, "portico-accessibility")


def test_console_pages_have_no_serious_violations(fresh: Server) -> None:
    problems: dict[str, list[dict[str, Any]]] = {}
    with axe_context() as context:
        page = context.new_page()
        page.goto(f"{fresh.endpoint}/console")
        problems["welcome"] = serious_violations(page)
        page.get_by_label("Set-up code").fill(setup_code(fresh) or "")
        page.get_by_label("Username").fill("auditor")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Confirm password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("heading", level=1).wait_for()
        for name in console_pages(fresh):
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                if "#" in name:  # a tab: load the page afresh, so console.js opens that tab
                    page.goto("about:blank")
                page.goto(f"{fresh.endpoint}/console/{name}")
                problems[f"{name} ({scheme})"] = serious_violations(page)
    failing = {name: found for name, found in problems.items() if found}
    assert not failing, failing


def test_hosted_pages_have_no_serious_violations(server: Server, web_app: App, user: User) -> None:
    problems: dict[str, list[dict[str, Any]]] = {}
    with axe_context() as context:
        page = context.new_page()
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            page.goto(authorize_url(server, web_app.id, web_app.redirect_uri))
            problems[f"sign-in ({scheme})"] = serious_violations(page)
            for path in ("/register", "/forgot-password"):
                page.goto(f"{server.endpoint}{path}")
                problems[f"{path} ({scheme})"] = serious_violations(page)
            page.goto(f"{server.endpoint}/device")
            problems[f"/device ({scheme})"] = serious_violations(page)
            page.goto(f"{server.issuer}/session/end?client_id={web_app.id}")
            problems[f"logout ({scheme})"] = serious_violations(page)
    failing = {name: found for name, found in problems.items() if found}
    assert not failing, failing
