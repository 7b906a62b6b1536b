"""The generic OpenID Connect social connector against a second Portico acting as the
upstream provider: discovery, code exchange with PKCE, and an ES384 ID token checked for
signature, issuer, audience, expiry and nonce before anyone is signed in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from portico.connectors import ConnectorError
from portico.connectors.oidc import OidcConnector
from portico.connectors.social import SocialErrorCode
from tests.conftest import PASSWORD, App, make_app, make_user
from tests.lab import Lab
from tests.support import Browser, Server, browser_client, create_database
from tests.test_experience_flows import finish, start


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = str(tmp_path_factory.mktemp("portico-upstream"))
    url, drop = create_database(data_dir)
    server = Server(url, data_dir, host="127.0.0.1").start()  # another site: its own cookies
    try:
        yield server
    finally:
        server.stop()
        drop()


@pytest.fixture(scope="module")
def federation(lab_session: Lab, upstream: Server) -> Iterator[tuple[str, App]]:
    """An ``oidc`` connector at the lab whose provider is ``upstream``."""
    created = lab_session.api.post(
        "/api/connectors",
        json={
            "connectorId": "oidc",
            "config": {"issuer": upstream.issuer, "clientId": "pending"},
            "metadata": {"target": "upstream", "name": {"en": "Upstream"}},
        },
    )
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    app = make_app(
        upstream, "Traditional", redirect_uri=f"{lab_session.server.endpoint}/callback/{cid}"
    )
    updated = lab_session.api.patch(
        f"/api/connectors/{cid}",
        json={
            "config": {"issuer": upstream.issuer, "clientId": app.id, "clientSecret": app.secret}
        },
    )
    assert updated.status_code == 200, updated.text
    yield cid, app
    lab_session.api.delete(f"/api/connectors/{cid}")


def test_sign_up_through_an_upstream_openid_provider(
    lab: Lab, upstream: Server, federation: tuple[str, App]
) -> None:
    cid, _ = federation
    lab.configure(
        socialSignInConnectorTargets=["upstream"],
        signUp={"identifiers": [], "password": False, "verify": False},
    )
    person = make_user(upstream, name="Upstream Person")
    here = lab.browser()
    page, verifier = start(lab, here, scope="openid profile email identities")
    assert "Continue with Upstream" in page.text
    to_upstream = here.get(f"/social/{cid}")
    assert to_upstream.status_code == 303
    location = to_upstream.headers["location"]
    assert location.startswith(f"{upstream.issuer}/auth?")
    assert "nonce=" in location and "code_challenge=" in location

    there = Browser(upstream, browser_client())
    back = there.sign_in(location, person.username, PASSWORD)
    assert back.startswith(f"{lab.server.endpoint}/callback/{cid}?")
    response = here.follow_until_external(here.client.get(back))
    claims = finish(lab, here, response, verifier)
    assert claims["name"] == "Upstream Person"
    assert claims["email"] == person.email  # upstream marks it verified
    assert claims["identities"]["upstream"]["userId"] == person.id

    # Signing in again through the provider finds the same account.
    here = lab.browser()
    _, verifier = start(lab, here, scope="openid")
    location = here.get(f"/social/{cid}").headers["location"]
    back = Browser(upstream, browser_client()).sign_in(location, person.username, PASSWORD)
    response = here.follow_until_external(here.client.get(back))
    assert finish(lab, here, response, verifier)["sub"] == claims["sub"]


def _code_for(upstream: Server, connector: OidcConnector, lab: Lab, cid: str) -> tuple[str, dict]:
    """Run the authorization at the upstream (as its user would): the code, and the
    connector's session (PKCE verifier, nonce) that goes with it."""
    person = make_user(upstream)
    session: dict[str, Any] = {}
    url = asyncio.run(
        connector.authorization_uri(
            state="s" * 32,
            redirect_uri=f"{lab.server.endpoint}/callback/{cid}",
            connector_id=cid,
            session=session,
        )
    )
    back = Browser(upstream, browser_client()).sign_in(url, person.username, PASSWORD)
    return back.split("code=", 1)[1].split("&", 1)[0], session


def _connector(upstream: Server, app: App, **extra: Any) -> OidcConnector:
    connector = OidcConnector.from_config(
        {"issuer": upstream.issuer, "clientId": app.id, "clientSecret": app.secret, **extra}
    )
    assert isinstance(connector, OidcConnector)
    return connector


def test_id_token_with_another_nonce_is_refused(
    lab: Lab, upstream: Server, federation: tuple[str, App]
) -> None:
    cid, app = federation
    connector = _connector(upstream, app)
    code, session = _code_for(upstream, connector, lab, cid)
    session["nonce"] = "another-nonce"
    with pytest.raises(ConnectorError) as failure:
        asyncio.run(connector.user_info({"code": code}, session))
    assert failure.value.code == SocialErrorCode.IdTokenInvalid
    assert failure.value.reason == "wrong_nonce"


def test_id_token_from_another_issuer_is_refused(
    lab: Lab, upstream: Server, federation: tuple[str, App]
) -> None:
    cid, app = federation
    connector = _connector(
        upstream, app, idTokenVerificationConfig={"issuer": "https://evil.example"}
    )
    code, session = _code_for(upstream, connector, lab, cid)
    with pytest.raises(ConnectorError) as failure:
        asyncio.run(connector.user_info({"code": code}, session))
    assert failure.value.reason == "wrong_issuer"


def test_a_code_is_refused_the_second_time(
    lab: Lab, upstream: Server, federation: tuple[str, App]
) -> None:
    cid, app = federation
    connector = _connector(upstream, app)
    code, session = _code_for(upstream, connector, lab, cid)
    info = asyncio.run(connector.user_info({"code": code}, session))
    assert info.id
    with pytest.raises(ConnectorError) as failure:
        asyncio.run(connector.user_info({"code": code}, session))
    assert failure.value.code == SocialErrorCode.AuthCodeInvalid


def test_config_needs_openid_scope_and_a_way_to_find_the_provider() -> None:
    with pytest.raises(ConnectorError) as failure:
        OidcConnector.parse_config(
            {"clientId": "a", "issuer": "https://x.example", "scope": "email"}
        )
    assert "openid" in failure.value.admin_message
    with pytest.raises(ConnectorError):
        OidcConnector.parse_config({"clientId": "a"})
    with pytest.raises(ConnectorError) as failure:
        OidcConnector.parse_config({"clientId": "a", "issuer": "http://provider.example"})
    assert "https" in failure.value.admin_message


def test_generic_oauth2_connector_with_a_field_map(lab: Lab, upstream: Server) -> None:
    """OAuth 2.0 only (no ID token): the user comes from the user-info endpoint through
    ``profileMap``; the email counts only because the map names its verified flag."""
    created = lab.api.post(
        "/api/connectors",
        json={
            "connectorId": "oauth2",
            "config": {
                "authorizationEndpoint": f"{upstream.issuer}/auth",
                "tokenEndpoint": f"{upstream.issuer}/token",
                "userInfoEndpoint": f"{upstream.issuer}/me",
                "clientId": "pending",
                "scope": "openid profile email",
            },
            "metadata": {"target": "plain-oauth", "name": {"en": "Plain OAuth"}},
        },
    )
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    try:
        app = make_app(
            upstream, "Traditional", redirect_uri=f"{lab.server.endpoint}/callback/{cid}"
        )
        config = created.json()["config"] | {
            "clientId": app.id,
            "clientSecret": app.secret,
            "tokenEndpointAuthMethod": "client_secret_basic",
            "profileMap": {"id": "sub", "name": "name", "email": "email",
                           "emailVerified": "email_verified"},
        }  # fmt: skip
        assert lab.api.patch(f"/api/connectors/{cid}", json={"config": config}).status_code == 200
        lab.configure(
            socialSignInConnectorTargets=["plain-oauth"],
            signUp={"identifiers": [], "password": False, "verify": False},
        )
        person = make_user(upstream, name="Plain Person")
        here = lab.browser()
        page, verifier = start(lab, here, scope="openid profile email identities")
        assert "Continue with Plain OAuth" in page.text
        location = here.get(f"/social/{cid}").headers["location"]
        back = Browser(upstream, browser_client()).sign_in(location, person.username, PASSWORD)
        response = here.follow_until_external(here.client.get(back))
        claims = finish(lab, here, response, verifier)
        assert claims["name"] == "Plain Person"
        assert claims["email"] == person.email
        assert claims["identities"]["plain-oauth"]["userId"] == person.id
    finally:
        lab.api.delete(f"/api/connectors/{cid}")


def test_chromium_signs_up_through_the_upstream_provider(
    lab: Lab, upstream: Server, federation: tuple[str, App]
) -> None:
    """A real browser, CSP enforced: the upstream's sign-in page (Portico's) lets its form's
    redirects end only at its own client, this lab's callback, and Chromium applies that
    ``form-action`` to every redirect of the submission. The callback therefore answers with
    a page that goes on by itself (Ctx.in_a_new_navigation), or the trip stops there."""
    from tests.support import authorize_url, query_of
    from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

    lab.configure(
        socialSignInConnectorTargets=["upstream"],
        signUp={"identifiers": [], "password": False, "verify": False},
    )
    person = make_user(upstream, name="Browser Upstream")
    with chromium_context() as context:
        page = context.new_page()
        page.goto(authorize_url(lab.server, lab.app_id, lab.redirect_uri))
        page.get_by_text("Continue with Upstream").click()
        page.wait_for_url(f"{upstream.endpoint}/**")
        page.fill("#identifier", person.username)
        page.fill("input[name=password]", PASSWORD)
        landed = submit_and_wait_for_client(page, lambda: page.click("button[type=submit]"))
        assert "code" in query_of(landed), landed
