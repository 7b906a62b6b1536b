"""Organizations and API resources (Logto's RFC 0001 and 0006), through the real server:
organization roles granting API scopes (``/api/organization-roles/:id/resource-scopes``),
machine-to-machine applications as organization members with organization roles
(``/api/organizations/:id/applications``), and the tokens they lead to: a user's refresh
token and an application's client credentials with ``organization_id``, with and without
``resource``; and an organization's branding fields."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Api, App, make_app, make_user
from tests.flows import tokens_for
from tests.management import error, invalid_fields
from tests.support import Browser, Server, authorize_url, unique
from tests.test_organizations_consent import ORGS, claims_of


def _scope_ids(admin: httpx.Client, indicator: str) -> dict[str, str]:
    resource = next(r for r in admin.get("/resources").json() if r["indicator"] == indicator)
    scopes = admin.get(f"/resources/{resource['id']}/scopes").json()
    return {s["name"]: s["id"] for s in scopes}


def _org(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post("/organizations", json={"name": unique("Org"), **body})
    assert response.status_code == 201, response.text
    return response.json()


def _role(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post("/organization-roles", json={"name": unique("role"), **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_organization_roles_grant_resource_scopes(admin: httpx.Client, api_resource: Api) -> None:
    ids = _scope_ids(admin, api_resource.indicator)
    role = _role(admin, resourceScopeIds=[ids["read"]])
    base = f"/organization-roles/{role['id']}/resource-scopes"
    assert [s["name"] for s in admin.get(base).json()] == ["read"]
    assert admin.post(base, json={"scopeIds": [ids["write"], ids["read"]]}).status_code == 201
    listed = admin.get(base).json()
    assert [s["name"] for s in listed] == ["read", "write"]
    assert set(listed[0]) >= {"id", "resourceId", "name", "description", "createdAt"}
    # The role list shows them with their API (Logto's ResourceScopeEntity).
    row = next(r for r in admin.get("/organization-roles").json() if r["id"] == role["id"])
    assert {(s["name"], s["resource"]["id"]) for s in row["resourceScopes"]} == {
        ("read", listed[0]["resourceId"]), ("write", listed[0]["resourceId"])
    }  # fmt: skip
    assert admin.put(base, json={"scopeIds": [ids["admin"]]}).status_code == 204
    assert [s["name"] for s in admin.get(base).json()] == ["admin"]
    assert admin.delete(f"{base}/{ids['admin']}").status_code == 204
    assert admin.get(base).json() == []
    error(admin.delete(f"{base}/{ids['admin']}"), 404, "entity.not_exists_with_id")
    error(admin.post(base, json={"scopeIds": ["nope"]}), 404, "entity.not_exists_with_id")
    assert admin.get(base).json() == []  # nothing half-written
    error(admin.get("/organization-roles/nope/resource-scopes"), 404, "entity.not_exists_with_id")
    assert invalid_fields(admin.post(base, json={"scopeIds": "x"})) == {"body.scopeIds"}
    # Deleting the API scope removes it from the role.
    assert admin.post(base, json={"scopeIds": [ids["read"]]}).status_code == 201
    resource_id = listed[0]["resourceId"]
    assert admin.delete(f"/resources/{resource_id}/scopes/{ids['read']}").status_code == 204
    assert admin.get(base).json() == []


def test_organization_branding_fields(admin: httpx.Client) -> None:
    org = _org(admin)
    assert org["color"] == {} and org["branding"] == {} and org["customCss"] is None
    assert org["isTrustedDeviceAllowed"] is True
    patched = admin.patch(
        f"/organizations/{org['id']}",
        json={
            "color": {"primaryColor": "#112233", "isDarkModeEnabled": True},
            "branding": {"logoUrl": "https://cdn.example.com/acme.png"},
            "customCss": ".logo{height:40px}",
            "isTrustedDeviceAllowed": False,
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["color"] == {"primaryColor": "#112233", "isDarkModeEnabled": True}
    assert body["branding"] == {"logoUrl": "https://cdn.example.com/acme.png"}
    assert body["customCss"] == ".logo{height:40px}" and body["isTrustedDeviceAllowed"] is False
    assert admin.get(f"/organizations/{org['id']}").json() == body
    bad = admin.patch(
        f"/organizations/{org['id']}",
        json={"color": {"primaryColor": "red"}, "branding": {"logoUrl": "javascript:alert(1)"}},
    )
    assert invalid_fields(bad) == {"body.color.primaryColor", "body.branding.logoUrl"}
    assert admin.get(f"/organizations/{org['id']}").json() == body
    cleared = admin.patch(f"/organizations/{org['id']}", json={"customCss": None}).json()
    assert cleared["customCss"] is None and cleared["color"] == body["color"]


def test_applications_as_members_with_roles(server: Server, admin: httpx.Client) -> None:
    org = _org(admin)
    m2m = make_app(server, "MachineToMachine")
    spa = make_app(server, "SPA")
    base = f"/organizations/{org['id']}/applications"
    error(admin.post(base, json={"applicationIds": [spa.id]}), 422, "entity.db_constraint_violated")
    error(admin.post("/organizations/nope/applications", json={"applicationIds": [m2m.id]}),
          422, "entity.relation_foreign_key_not_found")  # fmt: skip
    error(admin.post(base, json={"applicationIds": ["nope"]}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    assert invalid_fields(admin.post(base, json={"applicationIds": []})) == {"body.applicationIds"}
    assert admin.get(base).json() == []
    assert admin.post(base, json={"applicationIds": [m2m.id, m2m.id]}).status_code == 201
    listed = admin.get(base)
    assert listed.status_code == 200 and listed.headers["total-number"] == "1"
    (member,) = listed.json()
    assert member["id"] == m2m.id and member["organizationRoles"] == []
    assert member["type"] == "MachineToMachine" and not member.get("secret")

    machine = _role(admin, type="MachineToMachine")
    human = _role(admin)
    assert machine["type"] == "MachineToMachine" and human["type"] == "User"
    roles = f"{base}/{m2m.id}/roles"
    error(admin.post(roles, json={"organizationRoleIds": [human["id"]]}), 422,
          "entity.db_constraint_violated")  # fmt: skip
    error(admin.post(roles, json={"organizationRoleIds": ["nope"]}), 422,
          "entity.relation_foreign_key_not_found")  # fmt: skip
    assert admin.post(roles, json={"organizationRoleIds": [machine["id"]]}).status_code == 201
    assert [r["id"] for r in admin.get(roles).json()] == [machine["id"]]
    assert admin.get(base).json()[0]["organizationRoles"] == [
        {"id": machine["id"], "name": machine["name"]}
    ]
    other = make_app(server, "MachineToMachine")
    error(admin.get(f"{base}/{other.id}/roles"), 422, "organization.require_membership")
    error(admin.post(f"{base}/roles", json={"applicationIds": [m2m.id, other.id],
                                            "organizationRoleIds": [machine["id"]]}),
          422, "organization.require_membership")  # fmt: skip
    # A user cannot hold a machine-to-machine role.
    user = make_user(server)
    admin.post(f"/organizations/{org['id']}/users", json={"userIds": [user.id]})
    error(admin.post(f"/organizations/{org['id']}/users/{user.id}/roles",
                     json={"organizationRoleIds": [machine["id"]]}),
          422, "entity.db_constraint_violated")  # fmt: skip
    assert admin.delete(f"{roles}/{machine['id']}").status_code == 204
    error(admin.delete(f"{roles}/{machine['id']}"), 404, "entity.not_exists_with_id")
    assert admin.put(roles, json={"organizationRoleIds": [machine["id"]]}).status_code == 204
    # PUT replaces the members; the ones removed lose their roles there.
    assert admin.put(base, json={"applicationIds": [other.id]}).status_code == 204
    assert [a["id"] for a in admin.get(base).json()] == [other.id]
    assert admin.post(base, json={"applicationIds": [m2m.id]}).status_code == 201
    assert admin.get(roles).json() == []
    assert admin.delete(f"{base}/{m2m.id}").status_code == 204
    error(admin.delete(f"{base}/{m2m.id}"), 404, "entity.not_exists_with_id")


def _client_credentials(server: Server, app: App, **data: str) -> httpx.Response:
    return httpx.post(
        f"{server.issuer}/token",
        headers=app.basic(),
        data={"grant_type": "client_credentials", **data},
    )


def test_client_credentials_for_an_organization(
    server: Server, admin: httpx.Client, api_resource: Api
) -> None:
    """Logto's RFC 0006: the member application's organization roles decide, its own
    machine-to-machine roles do not reach a token for the organization."""
    ids = _scope_ids(admin, api_resource.indicator)
    org_scope = admin.post("/organization-scopes", json={"name": unique("invoices")}).json()
    role = _role(admin, type="MachineToMachine", organizationScopeIds=[org_scope["id"]],
                 resourceScopeIds=[ids["admin"]])  # fmt: skip
    org, other = _org(admin), _org(admin)
    app = make_app(server, "MachineToMachine", roles=[api_resource.m2m_role])
    refused = _client_credentials(server, app, organization_id=org["id"])
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    admin.post(f"/organizations/{org['id']}/applications", json={"applicationIds": [app.id]})
    admin.post(f"/organizations/{org['id']}/applications/{app.id}/roles",
               json={"organizationRoleIds": [role["id"]]})  # fmt: skip

    organization_token = _client_credentials(
        server, app, organization_id=org["id"], scope=f"{org_scope['name']} other"
    )
    assert organization_token.status_code == 200, organization_token.text
    assert organization_token.json()["scope"] == org_scope["name"]
    claims = claims_of(organization_token.json()["access_token"])
    assert claims["aud"] == f"urn:logto:organization:{org['id']}" and claims["sub"] == app.id

    api_token = _client_credentials(
        server, app, organization_id=org["id"], resource=api_resource.indicator,
        scope="read write admin",
    )  # fmt: skip
    assert api_token.status_code == 200, api_token.text
    claims = claims_of(api_token.json()["access_token"])
    assert claims["aud"] == api_resource.indicator and claims["scope"] == "admin"
    assert claims["organization_id"] == org["id"]
    # Without the organization, the application's own roles (read, write) as before.
    plain = _client_credentials(server, app, resource=api_resource.indicator, scope="read admin")
    assert plain.json()["scope"] == "read" and "organization_id" not in claims_of(
        plain.json()["access_token"]
    )
    refused = _client_credentials(server, app, organization_id=other["id"])
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    missing = _client_credentials(server, app)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_target"


@pytest.fixture
def member_tokens(
    server: Server, admin: httpx.Client, browser: Browser, http: httpx.Client, web_app: App,
    api_resource: Api,
) -> dict[str, Any]:  # fmt: skip
    """A user with no role of their own, ``read`` through Acme's role and ``write`` through
    Globex's; tokens for the API with ``read write`` and the organizations scope."""
    ids = _scope_ids(admin, api_resource.indicator)
    user = make_user(server)
    orgs: dict[str, Any] = {}
    for name, scope in (("acme", "read"), ("globex", "write")):
        org = _org(admin)
        role = _role(admin, resourceScopeIds=[ids[scope]])
        admin.post(f"/organizations/{org['id']}/users", json={"userIds": [user.id]})
        admin.post(f"/organizations/{org['id']}/users/{user.id}/roles",
                   json={"organizationRoleIds": [role["id"]]})  # fmt: skip
        orgs[name] = org
    tokens = tokens_for(browser, server, http, web_app, user,
                        scope=f"openid offline_access {ORGS} read write",
                        resource=api_resource.indicator, prompt="consent")  # fmt: skip
    return {"tokens": tokens, "orgs": orgs, "user": user}


def test_user_tokens_for_an_api_within_an_organization(
    server: Server, admin: httpx.Client, http: httpx.Client, web_app: App, api_resource: Api,
    member_tokens: dict[str, Any],
) -> None:  # fmt: skip
    """Logto's organization-api-resource behaviour: a plain token for the API carries what
    the user's organization roles grant anywhere; with ``organization_id``, only that
    organization's; a member removed is refused at the next refresh for it."""
    orgs, user = member_tokens["orgs"], member_tokens["user"]
    data = {"grant_type": "refresh_token", "resource": api_resource.indicator,
            "refresh_token": member_tokens["tokens"]["refresh_token"]}  # fmt: skip
    plain = http.post("/oidc/token", headers=web_app.basic(), data=data)
    assert plain.status_code == 200, plain.text
    assert plain.json()["scope"] == "read write"
    assert "organization_id" not in claims_of(plain.json()["access_token"])
    for name, expected in (("acme", "read"), ("globex", "write")):
        scoped = http.post("/oidc/token", headers=web_app.basic(),
                           data={**data, "organization_id": orgs[name]["id"]})  # fmt: skip
        assert scoped.status_code == 200, scoped.text
        claims = claims_of(scoped.json()["access_token"])
        assert claims["scope"] == expected and claims["organization_id"] == orgs[name]["id"]
        assert claims["aud"] == api_resource.indicator
    narrowed = http.post(
        "/oidc/token",
        headers=web_app.basic(),
        data={**data, "organization_id": orgs["acme"]["id"], "scope": "write"},
    )
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == ""  # fmt: skip
    assert admin.delete(f"/organizations/{orgs['acme']['id']}/users/{user.id}").status_code == 204
    refused = http.post("/oidc/token", headers=web_app.basic(),
                        data={**data, "organization_id": orgs["acme"]["id"]})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    still = http.post("/oidc/token", headers=web_app.basic(),
                      data={**data, "organization_id": orgs["globex"]["id"]})  # fmt: skip
    assert still.status_code == 200 and still.json()["scope"] == "write"
    after = http.post("/oidc/token", headers=web_app.basic(), data=data)
    assert after.json()["scope"] == "write"  # Acme's read is gone with the membership


def test_the_sign_in_page_wears_the_organizations_branding(
    server: Server, admin: httpx.Client, browser: Browser, web_app: App
) -> None:
    """An authorization request naming ``organization_id`` shows that organization's logo,
    colour and custom CSS (over the tenant's); another organization's or none, the tenant's."""
    org = _org(admin, color={"primaryColor": "#0a7d5a"}, customCss=".org-mark{color:red}",
               branding={"logoUrl": "https://cdn.acme.example/logo.png"})  # fmt: skip
    plain_org = _org(admin)

    def sign_in_page(**extra: str) -> httpx.Response:
        url = authorize_url(server, web_app.id, web_app.redirect_uri, **extra)
        response = browser.follow_until_external(browser.client.get(url))
        assert response.status_code == 200 and "csrf_token" in response.text
        return response

    branded = sign_in_page(organization_id=org["id"])
    assert 'src="https://cdn.acme.example/logo.png"' in branded.text
    assert "https://cdn.acme.example" in branded.headers["content-security-policy"]
    sheet = f"/sign-in-exp/theme.css?organization_id={org['id']}"
    assert f'href="{sheet}"' in branded.text
    css = browser.get(sheet)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--accent: #0a7d5a" in css.text and ".org-mark{color:red}" in css.text
    for response in (sign_in_page(organization_id=plain_org["id"]), sign_in_page(),
                     sign_in_page(organization_id="no-such-org")):  # fmt: skip
        assert "cdn.acme.example" not in response.text
        assert 'href="/sign-in-exp/theme.css"' in response.text
    tenant_css = browser.get("/sign-in-exp/theme.css?organization_id=no-such-org").text
    assert "#0a7d5a" not in tenant_css and ".org-mark" not in tenant_css
