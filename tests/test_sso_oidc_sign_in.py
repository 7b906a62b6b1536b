"""Enterprise SSO over OpenID Connect, end to end: a second Portico (on 127.0.0.1, so a
browser keeps its cookies apart from the lab's on localhost) is the organization's
identity provider; users sign in on the lab's pages through "Single sign-on" (a new
account, an existing account linked by its verified email, JIT organizations), through the
Experience API, and in Chromium. Refusals: an unreachable provider, a tampered state, an
ID token with a wrong nonce or for another client."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from portico.services import users
from portico.sso import SsoError
from portico.sso.oidc import OidcProvider
from tests.conftest import PASSWORD, App, make_app
from tests.lab import EMAIL_WITH_PASSWORD, Lab
from tests.support import (
    Browser,
    Server,
    browser_client,
    create_database,
    csrf_of,
    unique,
)
from tests.test_experience_flows import finish, start

DOMAIN = "corp-sso.example"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = str(tmp_path_factory.mktemp("portico-idp"))
    url, drop = create_database(data_dir)
    server = Server(url, data_dir, host="127.0.0.1").start()
    try:
        yield server
    finally:
        server.stop()
        drop()


@pytest.fixture(scope="module")
def corp(lab_session: Lab, upstream: Server) -> Iterator[tuple[str, App]]:
    """An OIDC SSO connector at the lab for ``DOMAIN``, whose provider is ``upstream``."""
    api = lab_session.api
    created = api.post(
        "/api/sso-connectors",
        json={
            "providerName": "OIDC",
            "connectorName": unique("corp"),
            "domains": [DOMAIN],
            "branding": {"displayName": "Corp Login"},
            "syncProfile": True,
        },
    )
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    app = make_app(
        upstream, "Traditional", redirect_uri=f"{lab_session.server.endpoint}/callback/sso/{cid}"
    )
    config = {"issuer": upstream.issuer, "clientId": app.id, "clientSecret": app.secret}
    updated = api.patch(f"/api/sso-connectors/{cid}", json={"config": config})
    assert updated.status_code == 200, updated.text
    yield cid, app
    api.delete(f"/api/sso-connectors/{cid}")


@pytest.fixture
def sso_lab(lab: Lab, corp: tuple[str, App]) -> Iterator[Lab]:
    lab.configure(singleSignOnEnabled=True, **EMAIL_WITH_PASSWORD)
    yield lab
    lab.configure(singleSignOnEnabled=False)


def person(server: Server, name: str = "Corp Person") -> tuple[str, str, str]:
    """``(id, username, email)`` of a new user at ``server`` with an email of ``DOMAIN``."""
    username = unique("p")

    async def work(conn):  # type: ignore[no-untyped-def]
        return await users.create_user(
            conn,
            "default",
            username=username,
            email=f"{username}@{DOMAIN}",
            password=PASSWORD,
            name=name,
        )

    row = server.db(work)
    return row["id"], username, f"{username}@{DOMAIN}"


def sso_start(lab: Lab, here: Browser, email: str) -> tuple[httpx.Response, str, str]:
    """Open the lab's sign-in page and type ``email``: the SSO page, and the provider URL
    its button leads to."""
    page, verifier = start(lab, here, scope="openid profile email")
    offered = here.client.post(
        f"{lab.server.endpoint}/sign-in",
        data={"csrf_token": csrf_of(page.text), "identifier": email},
    )
    assert offered.status_code == 200, re.findall(
        r"(?:error|alert)[^<]*<[^>]*>[^<]*|<p[^>]*>[^<]*", offered.text
    )
    assert "Continue with Corp Login" in offered.text and "password" not in offered.text.lower()
    link = re.search(r'href="(/sso/[^"]+)"', offered.text)
    assert link
    to_idp = here.get(link.group(1))
    assert to_idp.status_code == 303
    return offered, to_idp.headers["location"], verifier


def test_new_user_signs_up_through_single_sign_on(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    cid, _ = corp
    _, username, email = person(upstream, "New Corp Person")
    here = sso_lab.browser()
    _, location, verifier = sso_start(sso_lab, here, email)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{upstream.issuer}/auth?")
    assert {"state", "nonce", "code_challenge"} <= set(query)
    assert query["code_challenge_method"] == ["S256"]
    back = Browser(upstream, browser_client()).sign_in(location, username, PASSWORD)
    assert back.startswith(f"{sso_lab.server.endpoint}/callback/sso/{cid}?")
    claims = finish(sso_lab, here, here.follow_until_external(here.client.get(back)), verifier)
    assert claims["email"] == email and claims["name"] == "New Corp Person"
    shown = sso_lab.api.get(f"/api/users/{claims['sub']}", params={"includeSsoIdentities": "true"})
    assert [i["ssoConnectorId"] for i in shown.json()["ssoIdentities"]] == [cid]
    assert "ssoIdentities" not in sso_lab.api.get(f"/api/users/{claims['sub']}").json()
    user = sso_lab.api.get(f"/api/users/{claims['sub']}/sso-identities/{cid}")
    assert user.status_code == 200, user.text
    assert user.json()["ssoIdentity"]["issuer"] == upstream.issuer
    logs = sso_lab.api.get("/api/logs", params={"page_size": 50}).json()
    keys = [entry["key"] for entry in logs]
    assert "Interaction.SignIn.Identifier.SingleSignOn.Submit" in keys
    assert "Interaction.Register.Submit" in keys


def test_existing_user_is_linked_by_verified_email_and_profile_synced(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    cid, _ = corp
    _, username, email = person(upstream, "Synced Name")
    existing = sso_lab.api.post("/api/users", json={"primaryEmail": email, "name": "Old Name"})
    assert existing.status_code == 200, existing.text
    user_id = existing.json()["id"]
    here = sso_lab.browser()
    _, location, verifier = sso_start(sso_lab, here, email)
    back = Browser(upstream, browser_client()).sign_in(location, username, PASSWORD)
    claims = finish(sso_lab, here, here.follow_until_external(here.client.get(back)), verifier)
    assert claims["sub"] == user_id  # linked, not a second account
    shown = sso_lab.api.get(f"/api/users/{user_id}").json()
    assert shown["name"] == "Synced Name"  # syncProfile
    assert sso_lab.api.get(f"/api/users/{user_id}/sso-identities/{cid}").status_code == 200


def test_registering_with_an_sso_domain_email_offers_single_sign_on(sso_lab: Lab) -> None:
    """As on the sign-in page: the register page sends such an email to its organization's
    identity provider, and no code is sent to it."""
    email = f"{unique('reg')}@{DOMAIN}"
    here = sso_lab.browser()
    start(sso_lab, here)
    form = here.get("/register")
    offered = here.client.post(
        f"{sso_lab.server.endpoint}/register",
        data={"csrf_token": csrf_of(form.text), "identifier": email},
    )
    assert offered.status_code == 200 and "Continue with Corp Login" in offered.text
    assert sso_lab.messages_to(email) == []


def test_password_sign_in_of_an_sso_domain_is_refused(sso_lab: Lab) -> None:
    email = f"{unique('pw')}@{DOMAIN}"
    created = sso_lab.api.post("/api/users", json={"primaryEmail": email, "password": PASSWORD})
    assert created.status_code == 200
    here = sso_lab.browser()
    start(sso_lab, here)
    interaction = here.client.post(
        f"{sso_lab.server.endpoint}/api/experience/verification/password",
        json={"identifier": {"type": "email", "value": email}, "password": PASSWORD},
    )
    assert interaction.status_code == 200, interaction.text
    identified = here.client.post(
        f"{sso_lab.server.endpoint}/api/experience/identification",
        json={"verificationId": interaction.json()["verificationId"]},
    )
    assert identified.status_code == 422
    assert identified.json()["code"] == "session.sso_enabled"
    assert identified.json()["data"]["ssoConnectors"]


def test_experience_api_flow_and_jit_by_connector(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    cid, _ = corp
    api, endpoint = sso_lab.api, sso_lab.server.endpoint
    org = api.post("/api/organizations", json={"name": unique("org")}).json()["id"]
    assert (
        api.post(
            f"/api/organizations/{org}/jit/sso-connectors", json={"ssoConnectorIds": [cid]}
        ).status_code
        == 201
    )
    _, username, email = person(upstream)
    lookup = httpx.get(f"{endpoint}/api/experience/sso-connectors", params={"email": email})
    assert lookup.json() == {"connectorIds": [cid]}
    here = sso_lab.browser()
    _, verifier = start(sso_lab, here, scope="openid profile email")
    assert (
        here.client.put(
            f"{endpoint}/api/experience", json={"interactionEvent": "SignIn"}
        ).status_code
        == 204
    )
    redirect_uri = f"{endpoint}/callback/sso/{cid}"
    begun = here.client.post(
        f"{endpoint}/api/experience/verification/sso/{cid}/authorization-uri",
        json={"state": "spa-state-1", "redirectUri": redirect_uri},
    )
    assert begun.status_code == 200, begun.text
    verification_id = begun.json()["verificationId"]
    back = Browser(upstream, browser_client()).sign_in(
        begun.json()["authorizationUri"], username, PASSWORD
    )
    data = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert data["state"] == "spa-state-1"
    verified = here.client.post(
        f"{endpoint}/api/experience/verification/sso/{cid}/verify",
        json={"verificationId": verification_id, "connectorData": data},
    )
    assert verified.status_code == 200, verified.text
    identified = here.client.post(
        f"{endpoint}/api/experience/identification", json={"verificationId": verification_id}
    )
    assert (identified.status_code, identified.json()["code"]) == (
        404,
        "user.sso_identity_not_exist",
    )
    assert (
        here.client.put(
            f"{endpoint}/api/experience/interaction-event", json={"interactionEvent": "Register"}
        ).status_code
        == 204
    )
    created = here.client.post(
        f"{endpoint}/api/experience/identification", json={"verificationId": verification_id}
    )
    assert created.status_code == 201, created.text
    submitted = here.client.post(f"{endpoint}/api/experience/submit")
    assert submitted.status_code == 200, submitted.text
    claims = finish(sso_lab, here, here.get(submitted.json()["redirectTo"]), verifier)
    assert claims["email"] == email
    members = api.get(f"/api/organizations/{org}/users").json()
    assert claims["sub"] in [m["id"] for m in members]


def test_tampered_state_is_refused_once_and_for_all(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    _, username, email = person(upstream)
    here = sso_lab.browser()
    _, location, _ = sso_start(sso_lab, here, email)
    back = Browser(upstream, browser_client()).sign_in(location, username, PASSWORD)
    tampered = re.sub(r"state=[^&]+", "state=forged", back)
    refused = here.client.get(tampered)
    assert refused.status_code == 400 and "expired or was already used" in refused.text
    replay = here.client.get(back)  # the real state was spent by the forged attempt
    assert replay.status_code == 400


def test_unreachable_provider_gives_a_clear_page(sso_lab: Lab) -> None:
    broken = sso_lab.api.post(
        "/api/sso-connectors",
        json={
            "providerName": "OIDC",
            "connectorName": unique("down"),
            "domains": ["down-sso.example"],
        },
    )
    cid = broken.json()["id"]
    try:

        async def break_it(conn):  # type: ignore[no-untyped-def]
            from sqlalchemy import update

            from portico.storage.tables import sso_connectors

            await conn.execute(
                update(sso_connectors)
                .where(sso_connectors.c.id == cid)
                .values(
                    config={"issuer": "http://127.0.0.1:9", "clientId": "a", "clientSecret": "b"}
                )
            )

        sso_lab.server.db(break_it)  # as if the provider went away after it was saved
        here = sso_lab.browser()
        page, _ = start(sso_lab, here)
        offered = here.client.post(
            f"{sso_lab.server.endpoint}/sign-in",
            data={"csrf_token": csrf_of(page.text), "identifier": "a@down-sso.example"},
        )
        assert offered.status_code == 200 and f"/sso/{cid}" in offered.text
        failed = here.get(f"/sso/{cid}")
        assert failed.status_code == 500
        assert "did not work" in failed.text and "Traceback" not in failed.text
        api = here.client.post(
            f"{sso_lab.server.endpoint}/api/experience/verification/sso/{cid}/authorization-uri",
            json={"state": "s", "redirectUri": "http://localhost:3000/cb"},
        )
        assert (api.status_code, api.json()["code"]) == (500, "connector.invalid_config")
        missing = here.get("/sso/no-such-connector")
        assert missing.status_code == 404
    finally:
        sso_lab.api.delete(f"/api/sso-connectors/{cid}")


def _code_for(upstream: Server, provider: OidcProvider, redirect_uri: str) -> tuple[str, dict]:
    _, username, _ = person(upstream)
    authorization = asyncio.run(provider.authorization(state="s" * 32, redirect_uri=redirect_uri))
    back = Browser(upstream, browser_client()).sign_in(authorization.url, username, PASSWORD)
    return parse_qs(urlsplit(back).query)["code"][0], dict(authorization.session)


def _provider(upstream: Server, app: App, client_id: str | None = None) -> OidcProvider:
    config = OidcProvider.parse_config(
        {"issuer": upstream.issuer, "clientId": client_id or app.id, "clientSecret": app.secret}
    )
    return OidcProvider("test", config, "http://localhost")


def test_id_token_with_another_nonce_is_refused(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    cid, app = corp
    provider = _provider(upstream, app)
    code, session = _code_for(upstream, provider, f"{sso_lab.server.endpoint}/callback/sso/{cid}")
    session["nonce"] = "another-nonce"
    with pytest.raises(SsoError) as failure:
        asyncio.run(provider.verify({"code": code}, session))
    assert failure.value.reason == "wrong_nonce"
    assert failure.value.code == "connector.authorization_failed"


def test_id_token_for_another_client_is_refused(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    """The token endpoint would refuse a code for another client, so the audience check
    is proven on the token itself: a valid ID token checked as if we were another client."""
    cid, app = corp
    provider = _provider(upstream, app)
    code, session = _code_for(upstream, provider, f"{sso_lab.server.endpoint}/callback/sso/{cid}")
    captured: dict[str, Any] = {}
    real = OidcProvider.id_token_claims

    async def capture(self, id_token, endpoints, nonce):  # type: ignore[no-untyped-def]
        captured.update(token=id_token, endpoints=endpoints, nonce=nonce)
        return await real(self, id_token, endpoints, nonce)

    with mock.patch.object(OidcProvider, "id_token_claims", capture):
        asyncio.run(provider.verify({"code": code}, session))
    other = _provider(upstream, app, client_id="someone-else")
    with pytest.raises(SsoError) as failure:
        asyncio.run(
            other.id_token_claims(captured["token"], captured["endpoints"], captured["nonce"])
        )
    assert failure.value.reason == "wrong_audience"


def test_chromium_signs_in_through_single_sign_on(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App]
) -> None:
    """A real browser: the email leads to "Single sign-on" with the connector's branding,
    the provider's own sign-in page (another origin), and back to the client with a code
    for the linked account (and with ``direct_sign_in=sso:<id>`` straight to the provider)."""
    from tests.support import authorize_url, query_of
    from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

    cid, _ = corp
    _, username, email = person(upstream, "Browser Person")
    url = authorize_url(sso_lab.server, sso_lab.app_id, sso_lab.redirect_uri)
    with chromium_context() as context:
        # The provider's (Portico's) sign-in page lets its form's redirects end at its client
        # (this lab) only, and Chromium applies that CSP form-action to every redirect of the
        # submission: the lab's callback answers with a page that goes on by itself, so its
        # trip on to its own client is a navigation of its own (Ctx.in_a_new_navigation).
        page = context.new_page()
        page.goto(url)
        page.fill("#identifier", email)
        page.click("button[type=submit]")
        page.get_by_text("Continue with Corp Login").wait_for()
        assert "password" not in (page.content().lower())
        page.get_by_text("Continue with Corp Login").click()
        page.wait_for_url(f"{upstream.endpoint}/**")
        page.fill("#identifier", username)
        page.fill("input[name=password]", PASSWORD)
        landed = submit_and_wait_for_client(page, lambda: page.click("button[type=submit]"))
        assert "code" in query_of(landed), landed
        # direct_sign_in=sso:<id> skips the lab's pages; the provider's session remains.
        again = authorize_url(
            sso_lab.server, sso_lab.app_id, sso_lab.redirect_uri, direct_sign_in=f"sso:{cid}"
        )

        def go() -> None:
            with contextlib.suppress(PlaywrightError):  # the client's origin does not answer
                page.goto(again)

        landed = submit_and_wait_for_client(page, go)
        assert "code" in query_of(landed), landed


def test_export_and_import_carry_sso_connectors_and_identities(
    sso_lab: Lab, upstream: Server, corp: tuple[str, App], tmp_path: Any
) -> None:
    """Connectors travel with their secret sealed (re-sealed under another key when the
    source's key is given), users' SSO identities and JIT by connector with them."""
    import io
    import json
    import os

    from sqlalchemy import select

    from portico.services import sso_connectors as sso
    from portico.services.bootstrap import ensure_ready
    from portico.storage.database import create_engine
    from portico.storage.tables import sso_connectors, user_sso_identities
    from portico.transfer.exporter import export
    from portico.transfer.importer import ImportOptions, import_stream

    cid, app = corp
    _, username, email = person(upstream)
    here = sso_lab.browser()
    _, location, verifier = sso_start(sso_lab, here, email)
    back = Browser(upstream, browser_client()).sign_in(location, username, PASSWORD)
    finish(sso_lab, here, here.follow_until_external(here.client.get(back)), verifier)
    source_key = sso_lab.server.settings.encryption_key_bytes()

    async def dump() -> str:
        engine = create_engine(sso_lab.server.database_url, pool=False)
        out = io.StringIO()
        try:
            await export(engine, "default", out, encryption_key=lambda: source_key)
        finally:
            await engine.dispose()
        return out.getvalue()

    text = asyncio.run(dump())
    records = [json.loads(line) for line in text.splitlines()]
    exported = next(
        r["data"] for r in records if r["type"] == "ssoConnector" and r["data"]["id"] == cid
    )
    assert "$sealed" in exported["config"]["clientSecret"] and app.secret not in text
    assert any(r["type"] == "userSsoIdentity" for r in records)
    url, drop = create_database(str(tmp_path))
    target_key = os.urandom(32)

    async def load() -> tuple[dict[str, Any], int]:
        engine = create_engine(url, pool=False)
        try:
            await ensure_ready(engine)
            options = ImportOptions(encryption_key=lambda: target_key, reencrypt_from=source_key)
            await import_stream(engine, "default", io.BytesIO(text.encode()), options)
            async with engine.connect() as conn:
                row = (
                    (await conn.execute(select(sso_connectors).where(sso_connectors.c.id == cid)))
                    .one()
                    ._mapping
                )
                count = len((await conn.execute(select(user_sso_identities))).all())
            return dict(row), count
        finally:
            await engine.dispose()

    try:
        row, identities = asyncio.run(load())
    finally:
        drop()
    opened = sso.opened(sso.sealer_for(target_key), row)
    assert opened["config"]["clientSecret"] == app.secret
    assert identities >= 1
