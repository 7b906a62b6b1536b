"""The seeds' first run through the console in a real browser (Playwright + Debian's
Chromium): create the admin, create a Traditional web app from the Go card and read its App
ID and secret from the page, add the SMTP connector through its form and send a test code
(the mail arrives), enable email sign-up with verification-code sign-in, then sign in as an
end user with Authlib using that App ID and secret, the code read from the SMTP server.

Screenshots of every console page land in ``tests/artifacts/console/`` (gitignored)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import Page, expect

from tests.console import setup_code, start_server
from tests.smtp_server import Running, smtp_server
from tests.support import Server, query_of, unique
from tests.test_pages_browser import CLIENT_ORIGIN, chromium_context, submit_and_wait_for_client

ARTIFACTS = Path(__file__).parent / "artifacts" / "console"
ADMIN_PASSWORD = "amber-torrent-lilac-62"
REDIRECT_URI = f"{CLIENT_ORIGIN}/callback"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory, "portico-console-browser")


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Running]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def page() -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_context() as context:
        yield context.new_page()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def code_in(mailbox: Running, address: str) -> str:
    deadline = time.time() + 10
    while time.time() < deadline:
        for message in reversed(mailbox.handler.messages):
            if address in str(message["To"]):
                body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                return re.search(r"\b(\d{6})\b", body).group(1)  # type: ignore[union-attr]
        time.sleep(0.05)
    raise AssertionError(f"no mail to {address}")


def test_seed_first_run_through_the_console(fresh: Server, mailbox: Running, page: Page) -> None:
    # 1. First visit: create the admin account.
    page.goto(f"{fresh.endpoint}/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create the admin account")
    shot(page, "01-welcome")
    page.get_by_label("Set-up code").fill(setup_code(fresh) or "")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Confirm password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Get started")
    shot(page, "02-get-started")

    # 2. A Traditional web application from the Go card.
    page.get_by_role("link", name="Applications").click()
    shot(page, "03-applications")
    page.get_by_role("link", name="Create application").click()
    shot(page, "04-framework-cards")
    page.get_by_role("link", name=re.compile("^Go ")).click()
    page.get_by_label("Application name").fill("Bookstore")
    expect(page.get_by_label("Redirect URIs (one per line)", exact=True)).to_have_value(
        REDIRECT_URI
    )
    page.get_by_role("button", name="Create application").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bookstore")
    app_id = page.locator("#app-id").inner_text()
    app_secret = page.locator("#new-secret").inner_text()
    assert re.fullmatch(r"[a-z0-9]{21}", app_id) and len(app_secret) == 32
    expect(page.locator("#guide-go-config")).to_contain_text(f'AppSecret: "{app_secret}"')
    shot(page, "05-application-created")

    # 3. The SMTP connector through its form; a test code arrives.
    page.get_by_role("link", name="Connectors").click()
    shot(page, "06-connectors")
    page.get_by_role("link", name="Add email or SMS connector").click()
    page.get_by_role("link", name=re.compile("SMTP")).click()
    page.get_by_label("Host *").fill("127.0.0.1")
    page.get_by_label("Port *").fill(str(mailbox.port))
    page.get_by_label("From email *").fill("Bookstore <no-reply@example.com>")
    expect(page.get_by_label("Templates *")).to_contain_text("{{code}}")
    tester = f"{unique('admin')}@example.com"
    page.get_by_label("Email address").fill(tester)
    page.get_by_role("button", name="Send test code").click()
    expect(page.get_by_role("status")).to_contain_text(f"Test code sent to {tester}")
    assert code_in(mailbox, tester) == "000000"
    shot(page, "07-smtp-form-test-sent")
    page.get_by_role("button", name="Save and done").click()
    expect(page.get_by_role("status")).to_contain_text("connector saved")
    shot(page, "08-smtp-saved")

    # 4. Email sign-up, verification-code sign-in; the preview shows an email field.
    page.get_by_role("link", name="Sign-in experience").click()
    page.get_by_label("Sign-up identifier").select_option("email")
    page.get_by_label("Create a password at sign-up").uncheck()
    page.get_by_label("Email address", exact=True).check()
    email = page.get_by_role("group", name="Email address")
    email.get_by_label("Verification code").check()
    email.get_by_label("Password", exact=True).uncheck()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Sign-in experience saved")
    preview = page.frame_locator("iframe[name=preview]")
    expect(preview.get_by_label("Username or email")).to_be_visible()
    shot(page, "09-sign-in-experience")

    # 5. An end user signs up and in through Authlib with the App ID and secret.
    verifier = generate_token(64)
    with OAuth2Client(
        app_id, app_secret, scope="openid profile email", redirect_uri=REDIRECT_URI,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic",
    ) as client:  # fmt: skip
        url, state = client.create_authorization_url(
            f"{fresh.issuer}/auth", code_verifier=verifier, first_screen="register"
        )
        user_page = page.context.new_page()
        user_page.goto(url)
        address = f"{unique('reader')}@example.com"
        user_page.get_by_label("Email").fill(address)
        user_page.get_by_role("button", name="Create account").click()
        user_page.get_by_label("Verification code").fill(code_in(mailbox, address))
        callback = submit_and_wait_for_client(
            user_page, lambda: user_page.get_by_role("button", name="Continue").click()
        )
        assert query_of(callback)["state"] == state
        token = client.fetch_token(
            f"{fresh.issuer}/token", authorization_response=callback, code_verifier=verifier
        )
        assert token["id_token"]
        info = client.get(f"{fresh.issuer}/me").json()
        assert info["email"] == address and info["email_verified"] is True

    # Every remaining console page renders.
    for name in ("api-resources", "users", "roles", "audit-logs", "signing-keys", "admins"):
        page.goto(f"{fresh.endpoint}/console/{name}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shot(page, f"10-{name}")

    # The end user's details page (found by the search box) and an audit entry's details.
    page.goto(f"{fresh.endpoint}/console/users")
    page.get_by_label("Search").fill(address.split("@")[0])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=address).click()
    expect(page.get_by_role("heading", name="Password")).to_be_visible()
    shot(page, "11-user")
    page.goto(f"{fresh.endpoint}/console/audit-logs?key=ExchangeTokenBy.AuthorizationCode")
    page.get_by_role("link", name="ExchangeTokenBy.AuthorizationCode").first.click()
    expect(page.locator("#payload")).to_contain_text('"key": "ExchangeTokenBy.AuthorizationCode"')
    shot(page, "12-audit-log")
