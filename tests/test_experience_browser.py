"""The sign-in experience in a real browser (Playwright + Debian's Chromium): each flow starts
with the app's authorization request and ends when the browser is sent back to the app with
a code. Codes are read from the mail the real SMTP server received."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, lab_user, make_app
from tests.lab import EMAIL_SIGN_IN, EMAIL_WITH_PASSWORD, Lab
from tests.support import authorize_url, pkce_pair, query_of, unique
from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

STRONG = "violet-harbour-cactus-49"


@pytest.fixture
def page(lab: Lab) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def open_app(page: Page, lab: Lab, app_id: str | None = None, **params: str) -> None:
    _, challenge = pkce_pair()
    page.goto(
        authorize_url(
            lab.server,
            app_id or lab.app_id,
            lab.redirect_uri,
            code_challenge=challenge,
            code_challenge_method="S256",
            **params,
        )
    )


def test_seed_000_passwordless_email_register_then_sign_in(lab: Lab, page: Page) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    address = f"{unique('seed')}@example.com"
    open_app(page, lab, first_screen="register")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
    # The resend button waits out its countdown (JavaScript enhancement).
    expect(page.get_by_role("button", name="Send a new code in")).to_be_disabled()
    page.get_by_label("Verification code").fill(lab.code_for(address))
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continue").click()
    )
    assert query_of(callback).get("code")

    # Signed out (a new browser context), sign in with a code, in Spanish.
    page.context.clear_cookies()
    open_app(page, lab, ui_locales="es")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inicia sesión")
    page.get_by_label("Correo electrónico").fill(address)
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.get_by_label("Código de verificación").fill(lab.code_for(address))
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continuar").click()
    )
    assert query_of(callback).get("code")


def test_forgot_password_in_the_browser(lab: Lab, page: Page) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    open_app(page, lab)
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(user.email)
    page.get_by_role("button", name="Send code").click()
    page.get_by_label("Verification code").fill(lab.code_for(user.email))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password").fill(STRONG)
    page.get_by_label("Confirm password").fill(STRONG)
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password was changed.")
    page.get_by_label("Username or email").fill(user.email)
    page.get_by_role("button", name="Sign in").click()  # the identifier first (email: code too)
    page.get_by_label("Password", exact=True).fill(STRONG)
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continue").click()
    )
    assert query_of(callback).get("code")


def test_register_with_username_password_policy_feedback(lab: Lab, page: Page) -> None:
    name = unique("web")
    open_app(page, lab)
    page.get_by_role("link", name="Create account").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill("qwerty123")
    page.get_by_label("Confirm password").fill("qwerty123")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("must not contain sequences")
    page.get_by_label("Password", exact=True).fill(STRONG)
    page.get_by_label("Confirm password").fill(STRONG)
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Create account").click()
    )
    assert query_of(callback).get("code")


def test_consent_page_for_a_third_party_app(lab: Lab, page: Page) -> None:
    third = make_app(lab.server, "Traditional", is_third_party=True)
    user = lab_user(lab)
    open_app(page, lab, app_id=third.id, scope="openid email")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("wants to access your account")
    expect(page.get_by_role("listitem").filter(has_text="See your email address")).to_be_visible()
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Allow").click()
    )
    assert query_of(callback).get("code")


def test_no_account_transition_then_profile_fulfilment(lab: Lab, page: Page) -> None:
    """Code sign-in for an unknown email → "create one?" → the configuration also wants a
    username → the account is created with both."""
    lab.configure(
        signUp={"identifiers": ["email"], "password": False, "verify": True,
                "secondaryIdentifiers": [{"identifier": "username"}]},
        signIn={"methods": [
            {"identifier": "email", "password": False, "verificationCode": True,
             "isPasswordPrimary": False},
            {"identifier": "username", "password": True, "verificationCode": False,
             "isPasswordPrimary": True}]},
    )  # fmt: skip
    address = f"{unique('new')}@example.com"
    open_app(page, lab)
    page.get_by_label("Username or email").fill(address)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Verification code").fill(lab.code_for(address))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("No account found")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Complete your profile")
    page.get_by_label("Username").fill(unique("picked"))
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continue").click()
    )
    assert query_of(callback).get("code")
