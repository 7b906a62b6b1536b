"""Two-step verification on the hosted pages (no JavaScript), against the real server: set
up an authenticator app from the QR page's key, save backup codes (shown once, downloadable),
verify at the next sign-in with the app or a backup code, skip where the policy allows."""

from __future__ import annotations

import re
import time

import httpx
import pyotp

from tests.conftest import User, lab_user
from tests.lab import Lab, submit
from tests.support import Browser
from tests.test_experience_flows import finish, start

TOTP_AND_BACKUP_MANDATORY = {"factors": ["Totp", "BackupCode"], "policy": "Mandatory"}


def _password(lab: Lab, user: User) -> tuple[Browser, httpx.Response, str]:
    """Sign in with the password; the browser, the page it lands on and the PKCE verifier."""
    browser = lab.browser()
    page, verifier = start(lab, browser)
    done = submit(browser, page, "/sign-in", identifier=user.username, password=user.password)
    return browser, browser.follow_until_external(done), verifier


def _secret(page: httpx.Response) -> str:
    found = re.search(r'<code class="secret" id="secret">([A-Z2-7]+)</code>', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _codes(page: httpx.Response) -> list[str]:
    return re.findall(r"<li><code>([0-9a-f]{10})</code></li>", page.text)


def test_setting_up_then_using_an_authenticator_and_backup_codes(lab: Lab) -> None:
    lab.configure(mfa=TOTP_AND_BACKUP_MANDATORY)
    user = lab_user(lab)
    browser, page, verifier = _password(lab, user)
    assert str(page.url).endswith("/mfa/setup") and "Authenticator app" in page.text
    assert "/mfa/skip" not in page.text  # mandatory: no way around

    page = browser.get("/mfa/totp")
    assert 'src="data:image/png;base64,' in page.text
    secret = _secret(page)
    assert browser.get("/mfa/totp").text.count(secret) == 1  # the same key on reload
    wrong = submit(
        browser,
        page,
        "/mfa/totp",
        code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
    )
    assert wrong.status_code == 400 and "The code is not right" in wrong.text
    setup_code = pyotp.TOTP(secret).now()
    done = submit(browser, page, "/mfa/totp", code=setup_code)
    page = browser.follow_until_external(done)
    assert str(page.url).endswith("/mfa/backup-codes")
    codes = _codes(page)
    assert len(codes) == 10
    download = browser.get("/mfa/backup-codes.txt")
    assert download.text.split() == codes
    assert "attachment" in download.headers["content-disposition"]
    unsaved = submit(browser, page, "/mfa/backup-codes")
    assert unsaved.status_code == 400 and _codes(unsaved) == codes
    done = submit(browser, page, "/mfa/backup-codes", saved="on")
    assert finish(lab, browser, done, verifier)["sub"] == user.id

    # Next sign-in: the code used to set the app up is spent; the next one works.
    browser, page, verifier = _password(lab, user)
    assert str(page.url).endswith("/mfa/verify") and "Use a backup code" in page.text
    used = submit(browser, page, "/mfa/verify", factor="Totp", code=setup_code)
    assert used.status_code == 400
    later = pyotp.TOTP(secret).at(time.time() + 30)  # the next step, inside the window
    done = submit(browser, page, "/mfa/verify", factor="Totp", code=later)
    assert finish(lab, browser, done, verifier)["sub"] == user.id

    # And with a backup code, once.
    browser, page, verifier = _password(lab, user)
    page = browser.get("/mfa/verify?factor=BackupCode")
    assert "Enter one of your backup codes" in page.text
    assert "Backup codes left: 10." in page.text
    done = submit(browser, page, "/mfa/verify", factor="BackupCode", code=codes[0])
    assert finish(lab, browser, done, verifier)["sub"] == user.id
    browser, page, _ = _password(lab, user)
    again = submit(browser, page, "/mfa/verify", factor="BackupCode", code=codes[0])
    assert again.status_code == 400 and "already used" in again.text
    assert "Backup codes left: 9." in again.text


def test_a_prompting_policy_may_be_skipped_on_the_pages(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"})
    user = lab_user(lab)
    browser, page, verifier = _password(lab, user)
    assert str(page.url).endswith("/mfa/setup") and "/mfa/enable" in page.text
    done = submit(browser, page, "/mfa/skip")
    assert finish(lab, browser, done, verifier)["sub"] == user.id
    # Remembered: straight through next time.
    browser = lab.browser()
    page, verifier = start(lab, browser)
    done = submit(browser, page, "/sign-in", identifier=user.username, password=user.password)
    assert finish(lab, browser, done, verifier)["sub"] == user.id


def test_the_mfa_pages_need_a_signed_in_step(lab: Lab) -> None:
    lab.configure(mfa=TOTP_AND_BACKUP_MANDATORY)
    browser = lab.browser()
    start(lab, browser)
    for path in ("/mfa/verify", "/mfa/setup", "/mfa/totp", "/mfa/backup-codes"):
        reply = browser.follow_until_external(browser.get(path))
        assert str(reply.url).endswith("/sign-in"), (path, reply.url)


def test_an_email_code_second_factor_on_the_pages(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["EmailVerificationCode"], "policy": "PromptAtSignInAndSignUp"})
    user = lab_user(lab)
    browser, page, verifier = _password(lab, user)
    assert str(page.url).endswith("/mfa/verify") and "****@example.com" in page.text
    before = len(lab.messages_to(user.email))
    page = browser.follow_until_external(
        submit(browser, page, "/mfa/verify/send", factor="EmailVerificationCode")
    )
    assert 'name="code"' in page.text
    code = lab.code_for(user.email, after=before)
    done = submit(browser, page, "/mfa/verify", factor="EmailVerificationCode", code=code)
    assert finish(lab, browser, done, verifier)["sub"] == user.id


def test_binding_a_new_email_as_the_factor_on_the_pages(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["EmailVerificationCode"], "policy": "Mandatory"})
    name = f"pagesnoemail{int(time.time() * 1e6)}"
    made = lab.api.post("/api/users", json={"username": name, "password": "a-long-enough-secret-9"})
    user = User(made.json()["id"], name, "", "a-long-enough-secret-9")
    browser, page, verifier = _password(lab, user)
    assert str(page.url).endswith("/mfa/setup") and "/mfa/contact/email" in page.text
    page = browser.get("/mfa/contact/email")
    address = f"{name}@pages.example.com"
    page = browser.follow_until_external(submit(browser, page, "/mfa/contact/email",
                                                identifier=address))  # fmt: skip
    assert 'name="code"' in page.text
    done = submit(browser, page, "/mfa/contact/email", code=lab.code_for(address))
    assert finish(lab, browser, done, verifier)["sub"] == user.id
    assert lab.api.get(f"/api/users/{user.id}").json()["primaryEmail"] == address
