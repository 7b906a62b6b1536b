"""Remember this device: after a second factor, the user may trust the browser for the
sign-in experience's ``trustedDevice.durationDays``; the next sign-ins there skip the second
factor, until the user's factors change or the password is reset, and never for another
user or for an application that asks for multi-factor."""

from __future__ import annotations

import time

import pyotp

from tests.conftest import User, lab_user
from tests.lab import EMAIL_WITH_PASSWORD, Lab, submit
from tests.support import Browser
from tests.test_experience_api import Spa
from tests.test_experience_flows import finish, start

KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXS"
SETTINGS = {
    "mfa": {"factors": ["Totp", "BackupCode"], "policy": "PromptAtSignInAndSignUp"},
    "trustedDevice": {"enabled": True, "durationDays": 14},
}


def _user_with_totp(lab: Lab) -> tuple[User, list[str]]:
    user = lab_user(lab)
    path = f"/api/users/{user.id}/mfa-verifications"
    assert lab.api.post(path, json={"type": "Totp", "secret": KEY}).status_code == 200
    codes = lab.api.post(path, json={"type": "BackupCode"}).json()["codes"]
    return user, codes


def _password(spa: Spa, user: User) -> None:
    spa.event("SignIn")
    verification_id = spa.password("username", user.username, user.password)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)


def _signed_out(browser: Browser) -> Browser:
    """The same browser without its session (the trusted-device cookie stays)."""
    jar = browser.client.portico_cookies.values  # type: ignore[attr-defined]
    for name in ("__Host-portico_session", "portico_session"):
        jar.pop(name, None)
    return browser


def _sign_in_trusting(lab: Lab, user: User, code: str) -> Spa:
    spa = Spa(lab)
    _password(spa, user)
    spa.ok("POST", "/experience/verification/backup-code/verify", {"code": code})
    spa.ok("POST", "/experience/profile/mfa/trusted-device", None, 204)
    reply = spa.call("POST", "/experience/submit")
    assert reply.status_code == 200, reply.text
    cookie = reply.headers.get("set-cookie", "")
    assert "portico_device=" in cookie and f"Max-Age={14 * 86400}" in cookie
    assert "HttpOnly" in cookie
    return spa


def test_a_trusted_browser_skips_the_second_factor_until_the_factors_change(lab: Lab) -> None:
    lab.configure(**SETTINGS)
    user, codes = _user_with_totp(lab)
    browser = _sign_in_trusting(lab, user, codes[0]).browser

    again = Spa(lab, browser=_signed_out(browser))
    _password(again, user)
    assert again.submit()["sub"] == user.id  # no second factor asked

    # An application asking for multi-factor is never answered from a trusted device.
    step_up = Spa(lab, browser=_signed_out(browser), acr_values="urn:portico:acr:mfa")
    _password(step_up, user)
    step_up.fails("POST", "/experience/submit", None, 403,
                  "session.mfa.require_mfa_verification")  # fmt: skip

    # Another user on the same browser is asked.
    other, _ = _user_with_totp(lab)
    theirs = Spa(lab, browser=_signed_out(browser))
    _password(theirs, other)
    theirs.fails("POST", "/experience/submit", None, 403,
                 "session.mfa.require_mfa_verification")  # fmt: skip

    # The user's factors change (an admin removes the backup codes): trust ends.
    factors = lab.api.get(f"/api/users/{user.id}/mfa-verifications").json()
    backup = next(f for f in factors if f["type"] == "BackupCode")
    assert lab.api.delete(f"/api/users/{user.id}/mfa-verifications/{backup['id']}").status_code \
        == 204  # fmt: skip
    after = Spa(lab, browser=_signed_out(browser))
    _password(after, user)
    after.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")


def test_a_password_reset_ends_the_trust(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD, **SETTINGS,
                  forgotPasswordMethods=["EmailVerificationCode"])  # fmt: skip
    user, codes = _user_with_totp(lab)
    browser = _sign_in_trusting(lab, user, codes[0]).browser
    reset = Spa(lab, browser=_signed_out(browser))
    reset.event("ForgotPassword")
    verification_id = reset.email_verified(user.email, "ForgotPassword")
    reset.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    reset.ok("PUT", "/experience/profile/password", {"password": "violet-harbour-cactus-49"}, 204)
    assert reset.call("POST", "/experience/submit").status_code == 204
    after = Spa(lab, browser=_signed_out(browser))
    after.event("SignIn")
    verified = after.password("username", user.username, "violet-harbour-cactus-49")
    after.ok("POST", "/experience/identification", {"verificationId": verified}, 204)
    after.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")


def test_trusting_is_refused_when_the_setting_is_off(lab: Lab) -> None:
    lab.configure(mfa=SETTINGS["mfa"])
    user, codes = _user_with_totp(lab)
    spa = Spa(lab)
    _password(spa, user)
    spa.ok("POST", "/experience/verification/backup-code/verify", {"code": codes[0]})
    spa.fails("POST", "/experience/profile/mfa/trusted-device", None, 400,
              "session.mfa.mfa_factor_not_enabled")  # fmt: skip


def test_remember_this_device_on_the_pages(lab: Lab) -> None:
    lab.configure(**SETTINGS)
    user, _ = _user_with_totp(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser)
    done = submit(browser, page, "/sign-in", identifier=user.username, password=user.password)
    page = browser.follow_until_external(done)
    assert "Remember this device for 14 days" in page.text
    code = pyotp.TOTP(KEY).at(time.time() + 30)
    done = submit(browser, page, "/mfa/verify", factor="Totp", code=code, remember="on")
    assert "portico_device=" in done.headers.get("set-cookie", "")
    assert finish(lab, browser, done, verifier)["sub"] == user.id
    # Signed out (the session cookie gone, the device cookie kept): no second factor.
    _signed_out(browser)
    page, verifier = start(lab, browser)
    done = submit(browser, page, "/sign-in", identifier=user.username, password=user.password)
    assert finish(lab, browser, done, verifier)["sub"] == user.id
