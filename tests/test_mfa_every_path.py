"""Every way into an account meets the MFA policy: a user with an authenticator app is asked
for it after a password, after an email code, after Kakao (pages and Experience API), and a
password reset signs nobody in, so it never stands in for the second factor."""

from __future__ import annotations

import time

import pyotp

from tests.conftest import lab_user
from tests.fake_kakao import FakeKakao
from tests.lab import EMAIL_SIGN_IN, EMAIL_WITH_PASSWORD, Lab, submit
from tests.test_experience_api import Spa, social_verified
from tests.test_experience_flows import finish, start
from tests.test_experience_parity_social_profile import a_kakao_account, api_social, kakao
from tests.test_social_kakao import SOCIAL_ONLY, consent, to_kakao

__all__ = ["kakao"]  # the fixture, shared with the parity suite

KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXR"
TOTP = {"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"}


def _give_totp(lab: Lab, user_id: str) -> None:
    reply = lab.api.post(f"/api/users/{user_id}/mfa-verifications",
                         json={"type": "Totp", "secret": KEY})  # fmt: skip
    assert reply.status_code == 200, reply.text


def test_an_email_code_sign_in_still_asks_for_the_authenticator(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN, mfa=TOTP)
    user = lab_user(lab)
    _give_totp(lab, user.id)
    # Experience API.
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.email_verified(user.email, "SignIn")
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    spa.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")
    # Pages.
    browser = lab.browser()
    page, verifier = start(lab, browser)
    before = len(lab.messages_to(user.email))
    sent = browser.follow_until_external(submit(browser, page, "/sign-in", identifier=user.email))
    done = submit(browser, sent, "/verification-code", code=lab.code_for(user.email, after=before))
    page = browser.follow_until_external(done)
    assert str(page.url).endswith("/mfa/verify")
    code = pyotp.TOTP(KEY).at(time.time() + 30)
    done = submit(browser, page, "/mfa/verify", factor="Totp", code=code)
    assert finish(lab, browser, done, verifier)["sub"] == user.id


def test_a_kakao_sign_in_still_asks_for_the_authenticator(lab: Lab, kakao: FakeKakao) -> None:
    lab.configure(**SOCIAL_ONLY)
    a_kakao_account(kakao, None)
    created = api_social(lab, kakao)  # a new account from Kakao
    assert created.user_id
    _give_totp(lab, created.user_id)
    lab.configure(mfa=TOTP)
    # The same Kakao account again, through the Experience API...
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = social_verified(spa, kakao)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    spa.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")
    # ... and through the pages.
    browser = lab.browser()
    authorize, _ = to_kakao(lab, kakao, browser)
    page = browser.follow_until_external(browser.client.get(consent(kakao, authorize)))
    assert str(page.url).endswith("/mfa/verify"), page.url


def test_a_password_reset_does_not_sign_in_and_the_next_sign_in_asks(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD, forgotPasswordMethods=["EmailVerificationCode"],
                  mfa=TOTP)  # fmt: skip
    user = lab_user(lab)
    _give_totp(lab, user.id)
    spa = Spa(lab)
    spa.event("ForgotPassword")
    verification_id = spa.email_verified(user.email, "ForgotPassword")
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    new_password = "violet-harbour-cactus-49"
    spa.ok("PUT", "/experience/profile/password", {"password": new_password}, 204)
    assert spa.call("POST", "/experience/submit").status_code == 204  # nobody signed in
    spa = Spa(lab)
    spa.event("SignIn")
    identified = spa.password("email", user.email, new_password)
    spa.ok("POST", "/experience/identification", {"verificationId": identified}, 204)
    spa.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")
