"""Social sign-in with the Kakao connector (seed 004), against a local fake Kakao that speaks
Kakao's REST API: sign-up, sign-in, social-only sign-up, account linking, profile
fulfilment, cancelled consent and every provider fault, over HTTP from a real authorization
request to tokens. The browser-driven versions are at the end."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from portico.storage.tables import user_identities, users
from tests.conftest import PASSWORD, lab_user
from tests.fake_kakao import FakeKakao, kakao_user
from tests.lab import Lab, submit
from tests.support import Browser, authorize_url, onward, pkce_pair, query_of
from tests.test_experience_flows import finish, start
from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

SCOPES = "openid profile email identities"
SOCIAL_ONLY = {
    "signUp": {"identifiers": [], "password": False, "verify": False},
    "signIn": {"methods": []},
}
EMAIL_REQUIRED = {
    "signUp": {"identifiers": ["email"], "password": False, "verify": True},
    "signIn": {"methods": [{"identifier": "email", "password": False,
                            "verificationCode": True, "isPasswordPrimary": False}]},
}  # fmt: skip


@pytest.fixture
def kakao(lab: Lab, kakao_server: tuple[FakeKakao, str]) -> FakeKakao:
    fake, connector_id = kakao_server
    fake.fault = None
    fake.connector_id = connector_id  # type: ignore[attr-defined]
    lab.configure(socialSignInConnectorTargets=["kakao"])
    return fake


def new_id() -> int:
    return secrets.randbelow(10**12) + 10**6


def counts(lab: Lab) -> tuple[int, int]:
    """(users, social identities) stored."""

    async def work(conn: Any) -> tuple[int, int]:
        n_users = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
        n_ids = (await conn.execute(select(func.count()).select_from(user_identities))).scalar_one()
        return n_users, n_ids

    return lab.server.db(work)  # type: ignore[no-any-return]


def to_kakao(lab: Lab, kakao: FakeKakao, browser: Browser, **params: str) -> tuple[str, str]:
    """From the app's authorization request to Kakao's consent page: its URL, the verifier."""
    page, verifier = start(lab, browser, scope=SCOPES, **params)
    cid = kakao.connector_id  # type: ignore[attr-defined]
    if page.status_code == 200:  # the sign-in page, with the button
        assert f'href="/social/{cid}"' in page.text
        assert "Continue with Kakao" in page.text
        page = browser.follow_until_external(browser.get(f"/social/{cid}"))
    assert page.status_code == 303, page.text[:300]
    location = page.headers["location"]
    assert location.startswith(f"{kakao.base}/oauth/authorize?"), location
    return location, verifier


def consent(kakao: FakeKakao, authorize: str, *, agree: bool = True) -> str:
    """Kakao's consent page answered; the redirect back to Portico's callback."""
    page = httpx.get(authorize, verify=False)
    assert page.status_code == 200, page.text
    link = re.search(r"href='(/oauth/decide[^']*agree=%s)'" % (1 if agree else 0), page.text)
    assert link
    back = httpx.get(kakao.base + link.group(1).replace("&amp;", "&"), verify=False)
    assert back.status_code == 302
    return back.headers["location"]


def kakao_flow(
    lab: Lab, kakao: FakeKakao, browser: Browser, *, agree: bool = True, **params: str
) -> tuple[httpx.Response, str]:
    authorize, verifier = to_kakao(lab, kakao, browser, **params)
    callback = consent(kakao, authorize, agree=agree)
    return browser.follow_until_external(browser.client.get(callback)), verifier


# --- the connector as Kakao sees it ------------------------------------------------------------
def test_authorization_request_is_kakaos_shape(lab: Lab, kakao: FakeKakao) -> None:
    authorize, _ = to_kakao(lab, kakao, lab.browser())
    query = query_of(authorize)
    cid = kakao.connector_id  # type: ignore[attr-defined]
    assert query["client_id"] == kakao.client_id
    assert query["redirect_uri"] == f"{lab.server.endpoint}/callback/{cid}"
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 32
    assert "scope" not in query  # Kakao's consent items come from its console


def test_connector_factory_and_redirect_uri_are_listed(lab: Lab, kakao: FakeKakao) -> None:
    factory = lab.api.get("/api/connector-factories/kakao-universal").json()
    assert factory["target"] == "kakao" and factory["platform"] == "Universal"
    assert factory["configSchema"]["properties"]["clientSecret"]["isConfidential"] is True
    cid = kakao.connector_id  # type: ignore[attr-defined]
    connector = lab.api.get(f"/api/connectors/{cid}").json()
    assert connector["config"]["clientSecret"] == "******"


# --- sign-up, sign-in, linking ------------------------------------------------------------------
def test_sign_up_then_sign_in_with_kakao(lab: Lab, kakao: FakeKakao) -> None:
    kakao_id = new_id()
    email = f"kakao{kakao_id}@example.com"
    kakao.next_user = kakao_user(kakao_id, "김카카오", email)
    lab.configure(signUp={"identifiers": [], "password": False, "verify": False})
    before = counts(lab)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    claims = finish(lab, browser, response, verifier)
    assert claims["name"] == "김카카오"
    assert claims["email"] == email and claims["email_verified"] is True
    assert claims["picture"] == f"https://k.kakaocdn.net/img/{kakao_id}.jpg"
    identity = claims["identities"]["kakao"]
    assert identity["userId"] == str(kakao_id)
    assert identity["details"]["rawData"]["id"] == kakao_id
    assert counts(lab) == (before[0] + 1, before[1] + 1)

    kakao.next_user = kakao_user(kakao_id, "김카카오", email)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    again = finish(lab, browser, response, verifier)
    assert again["sub"] == claims["sub"]
    assert counts(lab) == (before[0] + 1, before[1] + 1)


def test_social_only_sign_up_needs_no_identifier(lab: Lab, kakao: FakeKakao) -> None:
    lab.configure(**SOCIAL_ONLY)
    kakao.next_user = kakao_user(new_id(), "소셜", None)  # no email consent given
    browser = lab.browser()
    page, verifier = start(lab, browser, scope=SCOPES)
    assert page.status_code == 200
    assert 'name="identifier"' not in page.text  # only the social button
    authorize = browser.follow_until_external(
        browser.get(f"/social/{kakao.connector_id}")  # type: ignore[attr-defined]
    ).headers["location"]
    response = browser.follow_until_external(browser.client.get(consent(kakao, authorize)))
    claims = finish(lab, browser, response, verifier)
    assert claims["name"] == "소셜"
    assert claims.get("email") is None and claims.get("username") is None
    assert "kakao" in claims["identities"]


def test_verified_email_links_automatically(lab: Lab, kakao: FakeKakao) -> None:
    existing = lab_user(lab)
    lab.configure(socialSignIn={"automaticAccountLinking": True})
    kakao.next_user = kakao_user(new_id(), "링크", existing.email.upper())
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    claims = finish(lab, browser, response, verifier)
    assert claims["sub"] == existing.id
    assert "kakao" in claims["identities"]


def test_unverified_email_neither_links_nor_is_stored(lab: Lab, kakao: FakeKakao) -> None:
    existing = lab_user(lab)
    lab.configure(
        socialSignIn={"automaticAccountLinking": True},
        signUp={"identifiers": [], "password": False, "verify": False},
    )
    kakao.next_user = kakao_user(new_id(), "미인증", existing.email, verified=False)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    claims = finish(lab, browser, response, verifier)
    assert claims["sub"] != existing.id
    assert claims.get("email") is None


def test_linking_without_automatic_asks_to_sign_in(lab: Lab, kakao: FakeKakao) -> None:
    existing = lab_user(lab)
    lab.configure(
        socialSignIn={"automaticAccountLinking": False},
        signIn={"methods": [{"identifier": "email", "password": True,
                             "verificationCode": False, "isPasswordPrimary": True},
                            {"identifier": "username", "password": True,
                             "verificationCode": False, "isPasswordPrimary": True}]},
    )  # fmt: skip
    kakao_id = new_id()
    kakao.next_user = kakao_user(kakao_id, "연결", existing.email)
    browser = lab.browser()
    authorize, verifier = to_kakao(lab, kakao, browser)
    page = browser.client.get(consent(kakao, authorize))
    assert onward(page) == "/social/link"
    page = browser.get("/social/link")
    assert existing.email in page.text and "Sign in to link" in page.text
    response = submit(browser, page, "/social/link", choice="link")
    page = browser.get(response.headers["location"])
    assert f'value="{existing.email}"' in page.text  # the identifier is filled in
    assert "Sign in to the existing account to link it." in page.text
    response = submit(browser, page, "/sign-in", identifier=existing.email, password=PASSWORD)
    claims = finish(lab, browser, response, verifier)
    assert claims["sub"] == existing.id
    assert claims["identities"]["kakao"]["userId"] == str(kakao_id)

    # From now on Kakao alone signs this user in.
    kakao.next_user = kakao_user(kakao_id, "연결", existing.email)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    assert finish(lab, browser, response, verifier)["sub"] == existing.id


def test_profile_fulfilment_when_kakao_gives_no_email(lab: Lab, kakao: FakeKakao) -> None:
    lab.configure(**EMAIL_REQUIRED)
    kakao.next_user = kakao_user(new_id(), "메일없음", None)
    browser = lab.browser()
    authorize, verifier = to_kakao(lab, kakao, browser)
    response = browser.client.get(consent(kakao, authorize))
    assert onward(response) == "/continue"
    page = browser.get("/continue")
    address = f"fulfil{new_id()}@example.com"
    response = submit(browser, page, "/continue", identifier=address)
    page = browser.get(response.headers["location"])
    response = submit(browser, page, "/verification-code", code=lab.code_for(address))
    claims = finish(lab, browser, response, verifier)
    assert claims["email"] == address
    assert "kakao" in claims["identities"]


def test_skip_required_identifiers(lab: Lab, kakao: FakeKakao) -> None:
    lab.configure(**EMAIL_REQUIRED, socialSignIn={"skipRequiredIdentifiers": True})
    kakao.next_user = kakao_user(new_id(), "건너뛰기", None)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    claims = finish(lab, browser, response, verifier)
    assert claims.get("email") is None and "kakao" in claims["identities"]


def test_sign_in_only_mode_refuses_unknown_kakao_account(lab: Lab, kakao: FakeKakao) -> None:
    lab.configure(signInMode="SignIn")
    kakao.next_user = kakao_user(new_id(), "없음", None)
    before = counts(lab)
    browser = lab.browser()
    response, _ = kakao_flow(lab, kakao, browser)
    assert response.status_code == 404
    assert "No account is linked to this Kakao account." in response.text
    assert counts(lab) == before


def test_direct_sign_in_skips_the_page(lab: Lab, kakao: FakeKakao) -> None:
    _, challenge = pkce_pair()
    browser = lab.browser()
    url = authorize_url(
        lab.server, lab.app_id, lab.redirect_uri, scope=SCOPES,
        code_challenge=challenge, code_challenge_method="S256", direct_sign_in="social:kakao",
    )  # fmt: skip
    response = browser.follow_until_external(browser.client.get(url))
    assert response.headers["location"].startswith(f"{kakao.base}/oauth/authorize?")


def test_button_only_for_listed_targets(lab: Lab, kakao: FakeKakao) -> None:
    lab.configure(socialSignInConnectorTargets=[])
    page, _ = start(lab, lab.browser())
    assert "/social/" not in page.text
    browser = lab.browser()
    start(lab, browser)
    refused = browser.get(f"/social/{kakao.connector_id}")  # type: ignore[attr-defined]
    assert refused.status_code == 404
    assert "not available" in refused.text


# --- state, replay, form_post -----------------------------------------------------------------
def test_callback_state_is_single_use_and_bound(lab: Lab, kakao: FakeKakao) -> None:
    kakao.next_user = kakao_user(new_id(), "상태", None)
    lab.configure(signUp={"identifiers": [], "password": False, "verify": False})
    browser = lab.browser()
    authorize, _ = to_kakao(lab, kakao, browser)
    callback = consent(kakao, authorize)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    refused = browser.client.get(forged)
    assert refused.status_code == 400 and "expired or was already used" in refused.text
    # The forged attempt spent the pending state: the genuine callback is refused too.
    assert browser.client.get(callback).status_code == 400

    other = lab.browser()  # another browser cannot use someone's callback
    authorize, _ = to_kakao(lab, kakao, browser)
    callback = consent(kakao, authorize)
    assert other.client.get(callback).status_code in (400, 403)


def test_form_post_callback_becomes_a_get(lab: Lab, kakao: FakeKakao) -> None:
    cid = kakao.connector_id  # type: ignore[attr-defined]
    response = httpx.post(
        f"{lab.server.endpoint}/callback/{cid}", data={"code": "abc", "state": "xyz"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/callback/{cid}?code=abc&state=xyz"


# --- cancellation and faults -----------------------------------------------------------------
def test_cancelled_consent_ends_on_a_page_with_a_way_back(lab: Lab, kakao: FakeKakao) -> None:
    kakao.next_user = kakao_user(new_id(), "취소", None)
    before = counts(lab)
    browser = lab.browser()
    response, _ = kakao_flow(lab, kakao, browser, agree=False)
    assert response.status_code == 400
    assert "Sign-in with Kakao was cancelled." in response.text
    assert 'href="/sign-in"' in response.text
    assert counts(lab) == before
    again = browser.get("/sign-in")  # the interaction is intact: try again
    assert again.status_code == 200 and "Continue with Kakao" in again.text


@pytest.mark.parametrize(
    "fault", ["token_400", "token_garbage", "user_401", "user_garbage", "user_huge", "user_500"]
)
def test_provider_faults_end_cleanly(lab: Lab, kakao: FakeKakao, fault: str) -> None:
    kakao.next_user = kakao_user(new_id(), "장애", f"fault{new_id()}@example.com")
    lab.configure(signUp={"identifiers": [], "password": False, "verify": False})
    kakao.fault = fault
    before = counts(lab)
    browser = lab.browser()
    response, _ = kakao_flow(lab, kakao, browser)
    assert response.status_code == 502
    assert "Signing in with Kakao did not work." in response.text
    assert 'href="/sign-in"' in response.text
    assert "access_token" not in response.text and "KOE" not in response.text
    assert counts(lab) == before


def test_hanging_provider_is_cut_off(lab: Lab, kakao: FakeKakao) -> None:
    kakao.next_user = kakao_user(new_id(), "지연", None)
    kakao.fault = "user_hang"
    browser = lab.browser()
    began = time.monotonic()
    response, _ = kakao_flow(lab, kakao, browser)
    elapsed = time.monotonic() - began
    assert response.status_code == 502
    assert elapsed < 15, elapsed  # the connector's deadline, not the fake's 60 s


def test_untrusted_tls_certificate_is_refused(lab: Lab, kakao: FakeKakao) -> None:
    """The browser may accept anything; Portico's own calls to the provider must refuse a
    certificate nobody trusts."""
    tls = FakeKakao(tls=True).start()
    try:
        created = lab.api.post(
            "/api/connectors",
            json={
                "connectorId": "kakao-universal",
                "config": tls.config(),
                "metadata": {"target": "kakao-tls"},
            },
        )
        assert created.status_code == 200, created.text
        cid = created.json()["id"]
        tls.redirect_uris.add(f"{lab.server.endpoint}/callback/{cid}")
        tls.connector_id = cid  # type: ignore[attr-defined]
        try:
            lab.configure(socialSignInConnectorTargets=["kakao-tls"])
            before = counts(lab)
            browser = lab.browser()
            response, _ = kakao_flow(lab, tls, browser)
            assert response.status_code == 502
            assert "Signing in with Kakao did not work." in response.text
            assert counts(lab) == before
        finally:
            lab.api.delete(f"/api/connectors/{cid}")
    finally:
        tls.stop()


def test_parallel_first_sign_ins_create_one_user(lab: Lab, kakao: FakeKakao) -> None:
    kakao_id = new_id()
    lab.configure(signUp={"identifiers": [], "password": False, "verify": False})
    browsers = [lab.browser() for _ in range(4)]
    callbacks = []
    for browser in browsers:
        kakao.next_user = kakao_user(kakao_id, "동시", None)
        authorize, _ = to_kakao(lab, kakao, browser)
        callbacks.append(consent(kakao, authorize))
    before = counts(lab)
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda pair: pair[0].client.get(pair[1]), zip(browsers, callbacks, strict=True)
            )
        )
    assert all(r.status_code == 409 or onward(r) for r in results), [r.status_code for r in results]
    assert counts(lab)[0] - before[0] == 1
    assert counts(lab)[1] - before[1] == 1


# --- in a real browser --------------------------------------------------------------------------
@pytest.fixture
def page(lab: Lab) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def test_browser_continue_with_kakao_signs_up(lab: Lab, kakao: FakeKakao, page: Page) -> None:
    lab.configure(signUp={"identifiers": [], "password": False, "verify": False})
    kakao.next_user = kakao_user(new_id(), "브라우저", f"web{new_id()}@example.com")
    _, challenge = pkce_pair()
    page.goto(
        authorize_url(
            lab.server, lab.app_id, lab.redirect_uri,
            code_challenge=challenge, code_challenge_method="S256",
        )
    )  # fmt: skip
    page.get_by_role("link", name="Continue with Kakao").click()
    expect(page.get_by_role("heading")).to_contain_text("브라우저")
    url = submit_and_wait_for_client(page, lambda: page.locator("#agree").click())
    assert "code" in query_of(url)


def test_browser_cancelled_consent(lab: Lab, kakao: FakeKakao, page: Page) -> None:
    kakao.next_user = kakao_user(new_id(), "취소", None)
    _, challenge = pkce_pair()
    page.goto(
        authorize_url(
            lab.server, lab.app_id, lab.redirect_uri,
            code_challenge=challenge, code_challenge_method="S256",
        )
    )  # fmt: skip
    page.get_by_role("link", name="Continue with Kakao").click()
    page.locator("#cancel").click()
    expect(page.get_by_role("alert")).to_have_text("Sign-in with Kakao was cancelled.")
    page.get_by_role("link", name=re.compile("sign in", re.I)).click()
    expect(page.get_by_role("link", name="Continue with Kakao")).to_be_visible()


def open_app_in(page: Page, lab: Lab) -> None:
    _, challenge = pkce_pair()
    page.goto(
        authorize_url(
            lab.server, lab.app_id, lab.redirect_uri,
            code_challenge=challenge, code_challenge_method="S256",
        )
    )  # fmt: skip


def test_browser_social_only_sign_up(lab: Lab, kakao: FakeKakao, page: Page) -> None:
    lab.configure(**SOCIAL_ONLY)
    kakao.next_user = kakao_user(new_id(), "소셜전용", None)
    open_app_in(page, lab)
    expect(page.locator("input[name=identifier]")).to_have_count(0)
    page.get_by_role("link", name="Continue with Kakao").click()
    url = submit_and_wait_for_client(page, lambda: page.locator("#agree").click())
    assert "code" in query_of(url)


def test_browser_automatic_linking(lab: Lab, kakao: FakeKakao, page: Page) -> None:
    existing = lab_user(lab)
    lab.configure(socialSignIn={"automaticAccountLinking": True})
    kakao.next_user = kakao_user(new_id(), "자동연결", existing.email)
    open_app_in(page, lab)
    page.get_by_role("link", name="Continue with Kakao").click()
    url = submit_and_wait_for_client(page, lambda: page.locator("#agree").click())
    assert "code" in query_of(url)

    async def identity_owner(conn: Any) -> str | None:
        row = await conn.execute(
            select(user_identities.c.user_id).where(
                user_identities.c.identity_id == str(kakao.next_user["id"])
            )
        )
        return row.scalar_one_or_none()  # type: ignore[no-any-return]

    assert lab.server.db(identity_owner) == existing.id


def test_browser_provider_fault_page(lab: Lab, kakao: FakeKakao, page: Page) -> None:
    kakao.next_user = kakao_user(new_id(), "장애", None)
    kakao.fault = "user_500"
    open_app_in(page, lab)
    page.get_by_role("link", name="Continue with Kakao").click()
    page.locator("#agree").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Signing in with Kakao did not work. Please try again."
    )
    expect(page.get_by_role("link", name="Back to sign in")).to_be_visible()


def test_sign_ins_and_failures_are_in_the_audit_log(lab: Lab, kakao: FakeKakao) -> None:
    kakao_id = new_id()
    lab.configure(signUp={"identifiers": [], "password": False, "verify": False})
    kakao.next_user = kakao_user(kakao_id, "감사", None)
    browser = lab.browser()
    response, verifier = kakao_flow(lab, kakao, browser)
    sub = finish(lab, browser, response, verifier)["sub"]
    kakao.fault = "user_500"
    kakao_flow(lab, kakao, lab.browser())

    entries = lab.api.get("/api/logs", params={"userId": sub}).json()
    registered = [e for e in entries if e["key"] == "Interaction.Register.Submit"]
    assert registered and registered[0]["payload"]["result"] == "Success"
    assert registered[0]["payload"]["applicationId"] == lab.app_id
    failures = lab.api.get(
        "/api/logs", params={"logKey": "Interaction.SignIn.Verification.Social.Submit"}
    ).json()
    assert failures[0]["payload"]["result"] == "Error"
    assert failures[0]["payload"]["error"]["code"] == "connector.general"
    assert "access_token" not in str(failures[0])
