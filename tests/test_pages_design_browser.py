"""The hosted pages' design in a real browser (Playwright + Debian's Chromium): email sign-in
with a password or a code (identifier first, the switch both ways), the social buttons under
an "or", the Korean particle after a provider's name, field errors, the honest resend
countdown, the admin's colours and a phone's width. Codes come from the real SMTP server.
Screenshots go to ``test-artifacts/`` (ignored by git)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from portico.web.i18n import korean_particle
from tests.conftest import PASSWORD, lab_user
from tests.fake_kakao import FakeKakao
from tests.lab import EMAIL_WITH_PASSWORD, Lab
from tests.support import query_of
from tests.test_experience_browser import open_app
from tests.test_pages_browser import chromium_context, screenshot, submit_and_wait_for_client

CODE_FIRST = {
    "signUp": {"identifiers": ["email"], "password": True, "verify": True},
    "signIn": {"methods": [{"identifier": "email", "password": True, "verificationCode": True,
                            "isPasswordPrimary": False}]},
}  # fmt: skip


@pytest.fixture
def page(lab: Lab) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


@pytest.fixture
def phone(lab: Lab) -> Iterator[Page]:
    with chromium_context() as context:
        page = context.new_page()
        page.set_viewport_size({"width": 360, "height": 740})
        yield page


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.evaluate("innerWidth"), width


def test_email_code_sign_in_through_the_visible_code_path(lab: Lab, page: Page) -> None:
    """Password and code both on for email, password first: the identifier comes alone, the
    password step offers the code, and the code from the mail signs in."""
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    open_app(page, lab)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.get_by_label("Username or email").fill(user.email)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your password")
    screenshot(page, "design-password-step.png")
    seen = len(lab.messages_to(user.email))
    page.get_by_role("button", name="Sign in with a verification code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
    # A code was just sent: the resend button waits out the server's pause, counting down.
    resend = page.get_by_role("button", name="Send a new code in")
    expect(resend).to_be_disabled()
    screenshot(page, "design-code-step.png")
    page.get_by_label("Verification code").fill(lab.code_for(user.email, after=seen))
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continue").click()
    )
    assert query_of(callback).get("code")


def test_switch_between_code_and_password_both_ways(lab: Lab, page: Page) -> None:
    """Code first (``isPasswordPrimary`` off): the code page offers the password, and the
    password page offers a code again."""
    lab.configure(**CODE_FIRST)
    user = lab_user(lab)
    open_app(page, lab)
    page.get_by_label("Email").fill(user.email)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
    page.get_by_role("link", name="Sign in with a password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your password")
    page.get_by_role("button", name="Sign in with a verification code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
    page.get_by_role("link", name="Sign in with a password").click()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continue").click()
    )
    assert query_of(callback).get("code")


def test_invalid_email_gets_an_error_next_to_the_field(lab: Lab, page: Page) -> None:
    lab.configure(**CODE_FIRST)
    open_app(page, lab)
    field = page.get_by_label("Email")
    field.fill("someone@")
    page.get_by_role("button", name="Sign in").click()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "identifier-error")
    expect(page.locator("#identifier-error")).to_have_text("Enter a valid email address.")
    expect(page.locator("#form-error")).to_have_count(0)
    screenshot(page, "design-field-error.png")


@pytest.fixture
def kakao(lab: Lab) -> Iterator[str]:
    """A Kakao connector (a fake provider: only its button is used) shown on the pages."""
    fake = FakeKakao().start()
    created = lab.api.post(
        "/api/connectors", json={"connectorId": "kakao-universal", "config": fake.config()}
    )
    assert created.status_code == 200, created.text
    lab.configure(socialSignInConnectorTargets=["kakao"])
    yield created.json()["id"]
    lab.api.delete(f"/api/connectors/{created.json()['id']}")
    fake.stop()


def test_social_buttons_under_an_or_with_logos(lab: Lab, page: Page, kakao: str) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    open_app(page, lab)
    expect(page.locator(".divider")).to_have_text("or")
    button = page.get_by_role("link", name="Continue with Kakao")
    expect(button).to_be_visible()
    logo = button.locator("img")
    expect(logo).to_have_attribute("src", "/static/connectors/kakao.svg")
    assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
    # The divider sits between the form and the buttons.
    form_bottom = page.locator("form[action='/sign-in']").bounding_box()
    divider = page.locator(".divider").bounding_box()
    assert form_bottom and divider and divider["y"] >= form_bottom["y"] + form_bottom["height"]
    screenshot(page, "design-social.png")


def test_korean_kakao_label_takes_the_right_particle(lab: Lab, page: Page, kakao: str) -> None:
    open_app(page, lab, ui_locales="ko")
    expect(page.get_by_role("link", name="카카오로 계속")).to_be_visible()
    assert "(으)" not in page.locator(".socials").inner_text()
    screenshot(page, "design-kakao-ko.png")


@pytest.mark.parametrize(
    "word,particle,expected",
    [("카카오", "(으)로", "로"), ("구글", "(으)로", "로"), ("깃헙", "(으)로", "으로"),
     ("네이버", "이(가)", "가"), ("깃헙", "이(가)", "이"), ("Kakao", "(으)로", "(으)로"),
     ("010-1234-5678", "(으)로", "로"), ("3", "(으)로", "으로")],
)  # fmt: skip
def test_korean_particle_follows_the_final_syllable(
    word: str, particle: str, expected: str
) -> None:
    assert korean_particle(word, particle) == expected


def test_phone_width_without_horizontal_overflow(lab: Lab, phone: Page, kakao: str) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD, termsOfUseUrl="https://example.com/terms",
                  privacyPolicyUrl="https://example.com/privacy")  # fmt: skip
    long_address = f"{'a-rather-long-mailbox-name' * 3}@example.com"
    open_app(phone, lab)
    no_horizontal_overflow(phone)
    screenshot(phone, "design-phone-sign-in.png")
    phone.get_by_label("Username or email").fill(long_address)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Enter your password")
    no_horizontal_overflow(phone)
    phone.set_viewport_size({"width": 320, "height": 640})
    no_horizontal_overflow(phone)
    screenshot(phone, "design-phone-password.png")


@pytest.fixture
def colours(lab: Lab) -> Iterator[None]:
    yield
    lab.configure(color={"primaryColor": "#6139F6", "isDarkModeEnabled": False,
                         "darkPrimaryColor": "#8768F8"})  # fmt: skip


@pytest.mark.usefixtures("colours")
def test_brand_colours_on_buttons_and_links_light_and_dark(lab: Lab, page: Page) -> None:
    lab.configure(
        **EMAIL_WITH_PASSWORD,
        color={"primaryColor": "#0A7D5B", "isDarkModeEnabled": True, "darkPrimaryColor": "#FEE500"},
    )
    open_app(page, lab)
    button = page.get_by_role("button", name="Sign in")
    link = page.get_by_role("link", name="Create account")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(10, 125, 91)"
    assert button.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"
    assert link.evaluate("a => getComputedStyle(a).color") == "rgb(10, 125, 91)"
    page.emulate_media(color_scheme="dark")
    # The dark brand colour is light: the button's text turns dark to stay readable.
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(254, 229, 0)"
    assert button.evaluate("b => getComputedStyle(b).color") == "rgb(17, 17, 17)"
    assert link.evaluate("a => getComputedStyle(a).color") == "rgb(254, 229, 0)"
    screenshot(page, "design-dark.png")
    # Without dark mode the pages stay light whatever the system prefers (Logto's rule).
    lab.configure(color={"primaryColor": "#0A7D5B", "isDarkModeEnabled": False,
                         "darkPrimaryColor": "#FEE500"})  # fmt: skip
    page.reload()
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(10, 125, 91)"
    assert page.evaluate("getComputedStyle(document.body).colorScheme") in ("light", "normal")
