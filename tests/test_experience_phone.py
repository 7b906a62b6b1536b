"""Phone numbers through the hosted sign-in experience, end to end over HTTP, with codes
delivered by the ``twilio-short-message-service`` connector to a fake Twilio
(``tests/fake_twilio.py``) and read from the messages it received: sign-up, passwordless
sign-in, forgot password, profile fulfilment, the E.164 form every path shares, and the
send and attempt limits keyed on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from portico.services import users as user_service
from tests.conftest import PASSWORD
from tests.fake_twilio import FakeTwilio
from tests.lab import Lab, submit
from tests.support import query_of, unique
from tests.test_experience_browser import open_app
from tests.test_experience_flows import STRONG, finish, start
from tests.test_pages_browser import chromium_context, submit_and_wait_for_client

PHONE_SIGN_IN = {
    "signUp": {"identifiers": ["phone"], "password": False, "verify": True},
    "signIn": {"methods": [{"identifier": "phone", "password": False,
                            "verificationCode": True, "isPasswordPrimary": False}]},
}  # fmt: skip
PHONE_WITH_PASSWORD = {
    "signUp": {"identifiers": ["phone"], "password": True, "verify": True},
    "signIn": {"methods": [{"identifier": "phone", "password": True,
                            "verificationCode": True, "isPasswordPrimary": True}]},
}  # fmt: skip


def phone() -> tuple[str, str]:
    """``(as typed, as stored)``: a fresh US number, typed with separators."""
    n = f"{secrets.randbelow(10**7):07d}"
    return f"+1 (415) {n[:3]}-{n[3:]}", f"1415{n}"


@pytest.fixture(scope="module")
def twilio(lab_session: Lab) -> Iterator[FakeTwilio]:
    """A fake Twilio behind the lab server's Sms connector."""
    fake = FakeTwilio().start()
    created = lab_session.api.post(
        "/api/connectors",
        json={"connectorId": "twilio-short-message-service", "config": fake.config()},
    )
    assert created.status_code == 200, created.text
    yield fake
    lab_session.api.delete(f"/api/connectors/{created.json()['id']}")
    fake.stop()


def test_sign_up_with_phone_then_passwordless_sign_in(lab: Lab, twilio: FakeTwilio) -> None:
    lab.configure(**PHONE_SIGN_IN)
    typed, stored = phone()
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register", scope="openid phone")
    assert 'type="tel"' in page.text or "phone" in page.text.lower()
    sent = submit(browser, page, "/register", identifier=typed)
    assert sent.status_code == 303 and sent.headers["location"] == "/verification-code"
    [sms] = twilio.messages_to(stored)
    assert sms.to == f"+{stored}" and sms.body.startswith("Your Register code is")
    code_page = browser.get("/verification-code")
    claims = finish(
        lab, browser,
        submit(browser, code_page, "/verification-code", code=twilio.code_for(stored)), verifier,
    )  # fmt: skip
    assert claims["phone_number"] == stored and claims["phone_number_verified"] is True

    # Passwordless sign-in, the number typed another way: the same account.
    browser = lab.browser()
    page, verifier = start(lab, browser, scope="openid phone")
    sent = submit(browser, page, "/sign-in", identifier=stored)
    assert sent.headers["location"] == "/verification-code"
    assert twilio.messages_to(stored)[-1].body.startswith("Your SignIn code is")
    code_page = browser.get("/verification-code")
    again = finish(
        lab, browser,
        submit(browser, code_page, "/verification-code", code=twilio.code_for(stored)), verifier,
    )  # fmt: skip
    assert again["sub"] == claims["sub"]


def test_forgot_password_by_phone(lab: Lab, twilio: FakeTwilio) -> None:
    lab.configure(**PHONE_WITH_PASSWORD)
    typed, stored = phone()

    async def create(conn):  # type: ignore[no-untyped-def]
        return await user_service.create_user(conn, "default", phone=stored, password=PASSWORD)

    row = lab.server.db(create)
    browser = lab.browser()
    page, verifier = start(lab, browser)
    assert 'href="/forgot-password"' in page.text
    sent = submit(browser, browser.get("/forgot-password"), "/forgot-password", identifier=typed)
    assert sent.headers["location"] == "/verification-code"
    code_page = browser.get("/verification-code")
    to_reset = submit(browser, code_page, "/verification-code", code=twilio.code_for(stored))
    assert to_reset.headers["location"] == "/forgot-password/reset"
    assert twilio.messages_to(stored)[-1].body.startswith("Your ForgotPassword code is")
    reset = browser.get("/forgot-password/reset")
    done = submit(browser, reset, "/forgot-password/reset", password=STRONG, confirm=STRONG)
    assert done.headers["location"] == "/sign-in"
    sign_in = browser.get("/sign-in")
    claims = finish(lab, browser, submit(browser, sign_in, "/sign-in", identifier=typed,
                                         password=STRONG), verifier)  # fmt: skip
    assert claims["sub"] == row["id"]


def test_missing_phone_is_collected_and_verified_at_sign_in(lab: Lab, twilio: FakeTwilio) -> None:
    lab.configure(
        signUp={"identifiers": ["username"], "password": True, "verify": True,
                "secondaryIdentifiers": [{"identifier": "phone", "verify": True}]},
        signIn={"methods": [
            {"identifier": "username", "password": True, "verificationCode": False,
             "isPasswordPrimary": True},
            {"identifier": "phone", "password": True, "verificationCode": True,
             "isPasswordPrimary": True}]},
    )  # fmt: skip
    name = unique("nophone")

    async def create(conn):  # type: ignore[no-untyped-def]
        return await user_service.create_user(conn, "default", username=name, password=PASSWORD)

    row = lab.server.db(create)
    browser = lab.browser()
    page, verifier = start(lab, browser, scope="openid phone")
    moved = submit(browser, page, "/sign-in", identifier=name, password=PASSWORD)
    assert moved.headers["location"] == "/continue"
    form = browser.get("/continue")
    refused = submit(browser, form, "/continue", identifier="12345")  # not E.164
    assert refused.status_code in (400, 422) and not twilio.messages_to("12345")
    typed, stored = phone()
    sent = submit(browser, form, "/continue", identifier=typed)
    assert sent.headers["location"] == "/verification-code"
    code_page = browser.get("/verification-code")
    claims = finish(lab, browser, submit(browser, code_page, "/verification-code",
                                         code=twilio.code_for(stored)), verifier)  # fmt: skip
    assert claims["sub"] == row["id"] and claims["phone_number"] == stored


def test_sends_per_phone_are_limited_whatever_way_the_number_is_typed(
    lab: Lab, twilio: FakeTwilio
) -> None:
    lab.configure(**PHONE_SIGN_IN)
    typed, stored = phone()
    spellings = [typed, stored, f"+{stored}", f"{stored[:4]} {stored[4:7]} {stored[7:]}"]
    for i in range(10):
        browser = lab.browser()
        page, _ = start(lab, browser)
        sent = submit(browser, page, "/sign-in", identifier=spellings[i % len(spellings)])
        assert sent.status_code == 303, sent.text[:300]
    browser = lab.browser()
    page, _ = start(lab, browser)
    limited = submit(browser, page, "/sign-in", identifier=f"+{stored}")
    assert limited.status_code == 429 and "Too many codes were requested" in limited.text
    assert len(twilio.messages_to(stored)) == 10


def test_code_attempts_on_a_phone_are_limited(lab: Lab, twilio: FakeTwilio) -> None:
    lab.configure(**PHONE_SIGN_IN, verificationCodePolicy={"maxRetryAttempts": 3})
    typed, stored = phone()

    async def create(conn):  # type: ignore[no-untyped-def]
        return await user_service.create_user(conn, "default", phone=stored)

    lab.server.db(create)
    browser = lab.browser()
    page, _ = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=typed)
    code_page = browser.get("/verification-code")
    right = twilio.code_for(stored)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    replies = [submit(browser, code_page, "/verification-code", code=wrong) for _ in range(4)]
    assert sum("The code is incorrect." in r.text for r in replies) == 3
    assert "Too many incorrect attempts" in replies[-1].text
    late = submit(browser, code_page, "/verification-code", code=right)
    assert "Too many incorrect attempts" in late.text


def test_twilio_refusing_the_number_is_a_clear_page_not_a_crash(
    lab: Lab, twilio: FakeTwilio
) -> None:
    lab.configure(**PHONE_SIGN_IN)
    typed, stored = phone()
    twilio.fault = "invalid_number"
    try:
        browser = lab.browser()
        page, _ = start(lab, browser)
        failed = submit(browser, page, "/sign-in", identifier=typed)
    finally:
        twilio.fault = None
    assert failed.status_code == 503
    assert "could not" in failed.text.lower() or "try again" in failed.text.lower()
    assert not twilio.messages_to(stored)


def test_phone_sign_up_and_sign_in_in_a_real_browser(lab: Lab, twilio: FakeTwilio) -> None:
    """Chromium: type a formatted number, get the code by SMS (the fake Twilio), come back
    to the app; then sign in with the number typed differently."""
    lab.configure(**PHONE_SIGN_IN)
    typed, stored = phone()
    with chromium_context() as context:
        page = context.new_page()
        open_app(page, lab, first_screen="register")
        field = page.get_by_label("Phone number")
        expect(field).to_have_attribute("type", "tel")
        field.fill(typed)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
        expect(page.get_by_text("by text message")).to_be_visible()
        page.get_by_label("Verification code").fill(twilio.code_for(stored))
        callback = submit_and_wait_for_client(
            page, lambda: page.get_by_role("button", name="Continue").click()
        )
        assert query_of(callback).get("code")

        page.context.clear_cookies()
        open_app(page, lab)
        page.get_by_label("Phone number").fill(f"+{stored}")
        before = len(twilio.messages_to(stored))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Enter the verification code")
        assert len(twilio.messages_to(stored)) == before + 1
        page.get_by_label("Verification code").fill(twilio.code_for(stored))
        callback = submit_and_wait_for_client(
            page, lambda: page.get_by_role("button", name="Continue").click()
        )
        assert query_of(callback).get("code")
