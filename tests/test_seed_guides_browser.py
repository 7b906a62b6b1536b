"""The two seed guides walked in a real browser (Playwright + Debian's Chromium) at a desktop's
width (1280 by 800) and a phone's (375 by 740), each width on a fresh server of its own so the
first-admin flow runs every time.

Seed 000 (Spanish guide: Go app, email codes over SMTP): the first admin created with the
set-up code; the Go and Auth.js apps created from their framework cards, App ID and secret read
as their guides show them; the SMTP connector set up through its form, its test code received
by a real SMTP server; email sign-up with verification-code sign-in chosen while the live
preview follows; then an end user signs in with an email code on the hosted page (the
identifier first, then the code from the mail), lands at the Go app's redirect URI, and the
code is exchanged for tokens with Authlib.

Seed 004 (Kakao with Auth.js): the Kakao connector added through the console and pointed at
the local fake Kakao (tests/fake_kakao.py) through its advanced settings, the fake told the
redirect URI the console shows, the Kakao button switched on in the sign-in experience, and an
end user signs in through that button (its logo and Korean label shown with ``ui_locales=ko``)
into the Auth.js app, whose code Authlib exchanges for tokens.

At every step the page must fit the window (no sideways scrolling) and a screenshot lands in
``tests/artifacts/seed-guides/<width>/<step>.png`` (gitignored)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import Page, expect

from tests.console import setup_code, start_server
from tests.fake_kakao import FakeKakao, kakao_user
from tests.smtp_server import Running, smtp_server
from tests.support import Server, query_of, unique
from tests.test_console_browser import code_in
from tests.test_pages_browser import CLIENT_ORIGIN, chromium_context, submit_and_wait_for_client

ARTIFACTS = Path(__file__).parent / "artifacts" / "seed-guides"
WIDTHS = {1280: 800, 375: 740}
ADMIN, ADMIN_PASSWORD = "admin", "juniper-harbour-quartz-37"
GO_REDIRECT = f"{CLIENT_ORIGIN}/callback"
AUTHJS_REDIRECT = f"{CLIENT_ORIGIN}/api/auth/callback/logto"


@pytest.fixture(scope="module", params=list(WIDTHS), ids=lambda w: f"{w}px")
def width(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(scope="module")
def fresh(width: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server per width: each width starts from the first-admin page."""
    yield from start_server(tmp_path_factory, f"portico-seed-guides-{width}")


@pytest.fixture(scope="module")
def created(fresh: Server) -> dict[str, tuple[str, str]]:
    """The applications' (App ID, secret) by card, from the first guide to the second."""
    return {}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Running]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def kakao() -> Iterator[FakeKakao]:
    fake = FakeKakao().start()
    yield fake
    fake.stop()


@contextmanager
def browser_at(width: int) -> Iterator[Page]:
    with chromium_context() as context:
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": WIDTHS[width]})
        yield page


def step(page: Page, width: int, name: str) -> None:
    """The page fits the window's width; its screenshot is written."""
    folder = ARTIFACTS / str(width)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - innerWidth")
    assert overflow <= 1, f"{name}: {page.url} scrolls sideways by {overflow}px at {width}px"


def admin_in(page: Page, server: Server, width: int) -> None:
    """Into the console: the first admin through the set-up code if there is none yet."""
    page.goto(f"{server.endpoint}/console")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile("^(Create the admin account|Sign in)"))
    if page.get_by_label("Set-up code").count():
        step(page, width, "00-welcome")
        page.get_by_label("Set-up code").fill(setup_code(server) or "")
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_label("Confirm password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Create account").click()
    else:
        page.get_by_label("Username").fill(ADMIN)
        page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    expect(heading).to_have_text("Get started")


def create_from_card(
    page: Page, width: int, card: str, name: str, redirect_uri: str, shot: str
) -> tuple[str, str]:
    """Applications > Create application > the framework's card; (App ID, App secret) as
    the page after creating shows them."""
    page.get_by_role("link", name="Applications", exact=True).click()
    page.get_by_role("link", name="Create application").click()
    cards = page.get_by_role("dialog", name="Create application")  # the cards over the list
    expect(cards).to_be_visible()
    step(page, width, f"{shot}-framework-cards")
    cards.get_by_role("link", name=re.compile(f"^{re.escape(card)} ")).click()
    page.get_by_label("Application name").fill(name)
    expect(page.get_by_label("Redirect URIs (one per line)", exact=True)).to_have_value(
        redirect_uri
    )
    step(page, width, f"{shot}-create-form")
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    app_id = page.locator("#app-id").inner_text()
    app_secret = page.locator("#new-secret").inner_text()
    assert re.fullmatch(r"[a-z0-9]{21}", app_id) and len(app_secret) == 32, (app_id, app_secret)
    step(page, width, f"{shot}-created")
    return app_id, app_secret


def email_code_settings(page: Page) -> None:
    """Sign-in experience > Sign-up and sign-in as the first guide sets it: sign-up by a
    verified email without a password; sign-in by email and verification code only."""
    page.get_by_role("tab", name="Sign-up and sign-in").click()
    page.get_by_label("Sign-up identifier").select_option("email")
    page.get_by_label("Create a password at sign-up").uncheck()
    page.get_by_label("Verify the email or phone at sign-up").check()
    page.get_by_label("Email address", exact=True).check()
    email = page.get_by_role("group", name="Email address")
    email.get_by_label("Verification code").check()
    email.get_by_label("Password", exact=True).uncheck()
    page.get_by_label("Username", exact=True).uncheck()


def exchange(
    issuer: str, app: tuple[str, str], redirect_uri: str, verifier: str, callback: str
) -> dict[str, Any]:
    """The authorization code in ``callback`` traded for tokens; the userinfo."""
    with OAuth2Client(
        *app, scope="openid profile email", redirect_uri=redirect_uri,
        token_endpoint_auth_method="client_secret_basic",
    ) as client:  # fmt: skip
        token = client.fetch_token(
            f"{issuer}/token", authorization_response=callback, code_verifier=verifier
        )
        assert token["id_token"] and token["access_token"]
        return client.get(f"{issuer}/me").json()  # type: ignore[no-any-return]


def authorization_url(
    issuer: str, app_id: str, redirect_uri: str, **params: str
) -> tuple[str, str, str]:
    """(URL, state, PKCE verifier) of an authorization request as the app's SDK sends it."""
    verifier = generate_token(64)
    with OAuth2Client(
        app_id, scope="openid profile email", redirect_uri=redirect_uri,
        code_challenge_method="S256",
    ) as client:  # fmt: skip
        url, state = client.create_authorization_url(
            f"{issuer}/auth", code_verifier=verifier, **params
        )
    return url, state, verifier


def test_seed_000_email_codes_over_smtp(
    fresh: Server, width: int, mailbox: Running, created: dict[str, tuple[str, str]]
) -> None:
    with browser_at(width) as page:
        # The first admin, with the set-up code `portico serve` printed.
        admin_in(page, fresh, width)
        step(page, width, "01-get-started")

        # The Go app from its card: the guide's LogtoConfig carries the App ID and secret.
        go = create_from_card(page, width, "Go", "Librería", GO_REDIRECT, "02-go")
        config = page.locator("#guide-go-config")
        expect(config).to_contain_text(f'AppId:     "{go[0]}"')
        expect(config).to_contain_text(f'AppSecret: "{go[1]}"')
        created["go"] = go

        # The Auth.js app from its card: the guide's .env.local carries them.
        authjs = create_from_card(
            page, width, "Auth.js", "Librería Next", AUTHJS_REDIRECT, "03-authjs"
        )
        env = page.locator("#guide-authjs-env")
        expect(env).to_contain_text(f"AUTH_LOGTO_ID={authjs[0]}")
        expect(env).to_contain_text(f"AUTH_LOGTO_SECRET={authjs[1]}")
        created["authjs"] = authjs

        # The SMTP connector through its form; its test code reaches the SMTP server.
        page.get_by_role("link", name="Connectors", exact=True).click()
        step(page, width, "04-connectors")
        page.get_by_role("link", name="Add email or SMS connector").click()
        page.get_by_role("link", name=re.compile("SMTP")).click()
        page.get_by_label("Host *").fill("127.0.0.1")
        page.get_by_label("Port *").fill(str(mailbox.port))
        page.get_by_label("From email *").fill("Librería <no-reply@example.com>")
        expect(page.get_by_label("Templates *")).to_contain_text("{{code}}")
        step(page, width, "05-smtp-form")
        tester = f"{unique('admin')}@example.com"
        page.get_by_label("Email address").fill(tester)
        page.get_by_role("button", name="Send test code").click()
        expect(page.get_by_role("status")).to_contain_text(f"Test code sent to {tester}")
        assert code_in(mailbox, tester) == "000000"
        step(page, width, "06-smtp-test-sent")
        page.get_by_role("button", name="Save and done").click()
        expect(page.get_by_role("status")).to_contain_text("connector saved")
        step(page, width, "07-smtp-saved")

        # Email sign-up (verified, no password), sign-in by email and verification code only;
        # the live preview follows the form before it is saved.
        page.get_by_role("link", name="Sign-in experience", exact=True).click()
        preview = page.frame_locator("iframe[name=preview]")
        expect(preview.get_by_label("Password", exact=True)).to_be_visible()
        step(page, width, "08-sign-in-experience-before")
        email_code_settings(page)
        expect(preview.get_by_label("Email", exact=True)).to_be_visible()
        expect(preview.get_by_label("Password", exact=True)).to_have_count(0)
        step(page, width, "09-sign-in-experience-live-preview")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_role("status")).to_contain_text("Sign-in experience saved")
        expect(preview.get_by_label("Email", exact=True)).to_be_visible()
        expect(preview.get_by_label("Password", exact=True)).to_have_count(0)
        step(page, width, "10-sign-in-experience-saved")

        # An end user of the Go app: the email alone first, then the code from the mail.
        url, state, verifier = authorization_url(fresh.issuer, go[0], GO_REDIRECT)
        user = page.context.new_page()
        user.set_viewport_size({"width": width, "height": WIDTHS[width]})
        user.goto(url)
        expect(user.get_by_role("heading", level=1)).to_have_text("Sign in to Librería")
        expect(user.get_by_label("Password", exact=True)).to_have_count(0)
        step(user, width, "11-hosted-sign-in")
        address = f"{unique('lector')}@example.com"
        user.get_by_label("Email", exact=True).fill(address)
        user.get_by_role("button", name="Sign in").click()
        expect(user.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
        expect(user.get_by_text(address)).to_be_visible()
        step(user, width, "12-hosted-code")
        user.get_by_label("Verification code").fill(code_in(mailbox, address))
        user.get_by_role("button", name="Continue").click()
        # No account uses this address yet: the page offers to create one.
        expect(user.get_by_role("heading", level=1)).to_have_text("No account found")
        step(user, width, "13-hosted-create-account")
        callback = submit_and_wait_for_client(
            user, lambda: user.get_by_role("button", name="Create account").click()
        )
        assert callback.startswith(f"{GO_REDIRECT}?"), callback
        assert query_of(callback)["state"] == state
        info = exchange(fresh.issuer, go, GO_REDIRECT, verifier, callback)
        assert info["email"] == address and info["email_verified"] is True


def test_seed_004_kakao_social_sign_in(
    fresh: Server, width: int, kakao: FakeKakao, created: dict[str, tuple[str, str]]
) -> None:
    with browser_at(width) as page:
        admin_in(page, fresh, width)
        authjs = created.get("authjs") or create_from_card(
            page, width, "Auth.js", "Librería Next", AUTHJS_REDIRECT, "20-authjs"
        )

        # Connectors > Add social connector > Kakao; the fake stands in for Kakao's servers.
        page.get_by_role("link", name="Connectors", exact=True).click()
        page.get_by_role("link", name="Add social connector").click()
        step(page, width, "21-social-connectors")
        page.get_by_role("link", name=re.compile("^Kakao")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Kakao")
        page.get_by_label("Client id *").fill(kakao.client_id)
        page.get_by_label("Client secret").fill(kakao.client_secret or "")
        page.get_by_text("Advanced settings").click()
        page.get_by_label("Authorization server").fill(kakao.base)
        page.get_by_label("Api server").fill(kakao.base)
        step(page, width, "22-kakao-form")
        page.get_by_role("button", name="Save and done").click()
        expect(page.get_by_role("status")).to_contain_text("Kakao connector saved")
        # The redirect URI to register at Kakao, as the page shows it.
        redirect_uri = page.locator("#redirect-uri").inner_text()
        assert re.fullmatch(rf"{re.escape(fresh.endpoint)}/callback/[\w-]+", redirect_uri)
        kakao.redirect_uris.add(redirect_uri)
        step(page, width, "23-kakao-saved")

        # Sign-in experience: the first guide's settings (they stay; Kakao's verified email
        # meets the email sign-up), and under Social the Kakao button on; the preview shows it.
        page.get_by_role("link", name="Sign-in experience", exact=True).click()
        email_code_settings(page)
        page.get_by_role("tab", name="Social").click()
        page.get_by_role("checkbox", name=re.compile("^Kakao")).check()
        preview = page.frame_locator("iframe[name=preview]")
        expect(preview.get_by_role("link", name="Continue with Kakao")).to_be_visible()
        step(page, width, "24-sign-in-experience-social")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_role("status")).to_contain_text("Sign-in experience saved")
        expect(preview.get_by_role("link", name="Continue with Kakao")).to_be_visible()
        step(page, width, "25-sign-in-experience-saved")

        # An end user of the Auth.js app, in Korean, through the Kakao button.
        nickname = "김서연"
        email = f"{unique('kakao')}@example.com"
        kakao.next_user = kakao_user(secrets.randbelow(10**12) + 10**6, nickname, email)
        url, state, verifier = authorization_url(
            fresh.issuer, authjs[0], AUTHJS_REDIRECT, ui_locales="ko"
        )
        user = page.context.new_page()
        user.set_viewport_size({"width": width, "height": WIDTHS[width]})
        user.goto(url)
        expect(user.get_by_role("heading", level=1)).to_have_text("Librería Next에 로그인")
        button = user.get_by_role("link", name="카카오로 계속")
        expect(button).to_be_visible()
        logo = button.locator("img")
        expect(logo).to_have_attribute("src", "/static/connectors/kakao.svg")
        assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
        step(user, width, "26-hosted-sign-in-ko")
        button.click()
        expect(user.get_by_role("heading", level=1)).to_contain_text(nickname)  # Kakao's page
        callback = submit_and_wait_for_client(user, lambda: user.locator("#agree").click())
        assert callback.startswith(f"{AUTHJS_REDIRECT}?"), callback
        assert query_of(callback)["state"] == state
        info = exchange(fresh.issuer, authjs, AUTHJS_REDIRECT, verifier, callback)
        assert info["name"] == nickname
        assert info["email"] == email and info["email_verified"] is True
