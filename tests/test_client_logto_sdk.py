"""The official Logto Python SDK (PyPI ``logto``), unmodified, against Portico."""

from __future__ import annotations

import httpx
import pytest
from logto import LogtoClient, LogtoConfig, LogtoException, UserInfoScope
from logto.Storage import MemoryStorage

from tests.conftest import App, make_user
from tests.support import Browser, Server, csrf_of, unique


async def test_logto_python_sdk_sign_in_userinfo_resource_token_refresh_sign_out(
    server: Server, browser: Browser, web_app: App, api_resource
) -> None:
    member = make_user(server, roles=(api_resource.role,), name="SDK User")
    client = LogtoClient(
        LogtoConfig(
            endpoint=server.endpoint,
            appId=web_app.id,
            appSecret=web_app.secret,
            resources=[api_resource.indicator],
            scopes=["email", "roles", "read"],
        ),
        storage=MemoryStorage(),
    )
    sign_in_url = await client.signIn(redirectUri=web_app.redirect_uri)
    callback = browser.sign_in(sign_in_url, member.username, member.password)
    await client.handleSignInCallback(callback)
    assert client.isAuthenticated()

    id_claims = client.getIdTokenClaims()
    assert id_claims.sub == member.id
    assert id_claims.aud == web_app.id

    info = await client.fetchUserInfo()
    assert info.sub == member.id and info.email == member.email and info.name == "SDK User"

    # a JWT for the API resource, obtained through the refresh-token grant
    token = await client.getAccessToken(api_resource.indicator)
    assert token and token.count(".") == 2
    claims = await client.getAccessTokenClaims(api_resource.indicator)
    assert claims.aud == api_resource.indicator and claims.scope == "read"
    assert client.getRefreshToken()

    sign_out_url = await client.signOut(web_app.post_logout_redirect_uri)
    page = browser.client.get(sign_out_url)
    assert page.status_code == 200  # no id_token_hint: the user confirms
    done = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={
            "csrf_token": csrf_of(page.text),
            "logout": "yes",
            "client_id": web_app.id,
            "post_logout_redirect_uri": web_app.post_logout_redirect_uri,
        },
    )
    assert done.headers["location"] == web_app.post_logout_redirect_uri
    assert not client.isAuthenticated()


async def test_logto_python_sdk_with_the_organizations_scope(
    server: Server, browser: Browser, web_app: App, admin: httpx.Client
) -> None:
    """The SDK adds Logto's reserved resource ``urn:logto:resource:organizations`` when the
    organizations scope is configured; the ID token lists the user's organizations, and
    ``getOrganizationToken`` gets a JWT for a member's organization (audience
    ``urn:logto:organization:<id>``, the scopes of their organization roles) and Logto's
    refusal for any other."""
    member = make_user(server)
    read = unique("read")
    scope = admin.post("/organization-scopes", json={"name": read}).json()
    role = admin.post(
        "/organization-roles", json={"name": unique("role"), "organizationScopeIds": [scope["id"]]}
    ).json()
    org, second, outside = (
        admin.post("/organizations", json={"name": unique("Org")}).json() for _ in range(3)
    )
    for joined in (org, second):
        admin.post(f"/organizations/{joined['id']}/users", json={"userIds": [member.id]})
        admin.post(
            f"/organizations/{joined['id']}/users/{member.id}/roles",
            json={"organizationRoleIds": [role["id"]]},
        )
    client = LogtoClient(
        LogtoConfig(
            endpoint=server.endpoint,
            appId=web_app.id,
            appSecret=web_app.secret,
            scopes=[UserInfoScope.organizations, UserInfoScope.organization_roles, read],
        ),
        storage=MemoryStorage(),
    )
    sign_in_url = await client.signIn(redirectUri=web_app.redirect_uri)
    assert "resource=urn%3Alogto%3Aresource%3Aorganizations" in sign_in_url
    await client.handleSignInCallback(
        browser.sign_in(sign_in_url, member.username, member.password)
    )
    claims = client.getIdTokenClaims()
    assert sorted(claims.organizations) == sorted([org["id"], second["id"]])
    assert f"{org['id']}:{role['name']}" in claims.organization_roles

    token = await client.getOrganizationToken(org["id"])
    assert token and token.count(".") == 2
    org_claims = await client.getOrganizationTokenClaims(org["id"])
    assert org_claims.aud == f"urn:logto:organization:{org['id']}"
    assert org_claims.sub == member.id and org_claims.scope == read
    with pytest.raises(LogtoException, match="user is not a member of the organization"):
        await client.getOrganizationToken(outside["id"])
    # Removed from the organization: the next refresh for it is refused (403 access_denied,
    # as Logto), while the other organization keeps working.
    assert await client.getOrganizationToken(second["id"])
    removed = admin.delete(f"/organizations/{org['id']}/users/{member.id}")
    assert removed.status_code == 204
    client._storage.delete("accessTokenMap")  # the SDK's cache: make it ask the server again
    with pytest.raises(LogtoException, match="user is not a member of the organization"):
        await client.getOrganizationToken(org["id"])
    assert (await client.getOrganizationTokenClaims(second["id"])).scope == read
