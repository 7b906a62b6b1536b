"""The hosted sign-in experience end to end over HTTP: every flow starts from a real
authorization request and ends with tokens; codes are read from mail received by a real SMTP
server (aiosmtpd). Browser-driven versions of the main flows are in
``test_experience_browser.py``."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from portico.services import users as user_service
from portico.web.experience import steps
from tests.conftest import PASSWORD, lab_user, make_app
from tests.lab import EMAIL_SIGN_IN, EMAIL_WITH_PASSWORD, Lab, submit
from tests.support import Browser, authorize_url, pkce_pair, query_of, unique

STRONG = "violet-harbour-cactus-49"


def start(lab: Lab, browser: Browser, **params: str) -> tuple[httpx.Response, str]:
    """Open /oidc/auth for the lab's app; the first page and the PKCE verifier."""
    verifier, challenge = pkce_pair()
    url = authorize_url(
        lab.server, lab.app_id, lab.redirect_uri,
        code_challenge=challenge, code_challenge_method="S256", **params,
    )  # fmt: skip
    response = browser.follow_until_external(browser.client.get(url))
    return response, verifier


def finish(lab: Lab, browser: Browser, response: httpx.Response, verifier: str) -> dict:
    """Follow the redirects back to the client and redeem the code; the ID token claims."""
    response = browser.follow_until_external(response)
    assert response.status_code == 303, (response.status_code, response.text[:400])
    query = query_of(response.headers["location"])
    assert "code" in query, response.headers["location"]
    token = httpx.post(
        f"{lab.server.endpoint}/oidc/token",
        data={
            "grant_type": "authorization_code", "code": query["code"],
            "redirect_uri": lab.redirect_uri, "code_verifier": verifier,
            "client_id": lab.app_id, "client_secret": lab.app_secret,
        },
    )  # fmt: skip
    assert token.status_code == 200, token.text
    userinfo = httpx.get(
        f"{lab.server.endpoint}/oidc/me",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.text
    return userinfo.json()


def email() -> str:
    return f"{unique('u')}@example.com"


# --- password sign-in ---------------------------------------------------------------------


def test_username_password_sign_in(lab: Lab) -> None:
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser, scope="openid profile email")
    assert page.status_code == 200 and 'name="password"' in page.text
    done = submit(browser, page, "/sign-in", identifier=user.username, password=PASSWORD)
    claims = finish(lab, browser, done, verifier)
    assert claims["sub"] == user.id
    assert claims["username"] == user.username


def test_wrong_password_and_unknown_account_get_the_same_answer(lab: Lab) -> None:
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)
    wrong = submit(browser, page, "/sign-in", identifier=user.username, password="nope-nope")
    unknown = submit(browser, page, "/sign-in", identifier=unique("ghost"), password=PASSWORD)
    assert wrong.status_code == unknown.status_code == 422
    message = "The account or password is incorrect."
    assert message in wrong.text and message in unknown.text
    assert browser.client.portico_cookies.values.get("__Host-portico_session") is None


def test_lockout_after_repeated_failures_also_for_unknown_identifiers(lab: Lab) -> None:
    lab.configure(sentinelPolicy={"maxAttempts": 3, "lockoutDuration": 1})
    user = lab_user(lab)
    ghost = unique("ghost")
    browser = lab.browser()
    page, _ = start(lab, browser)
    for name in (user.username, ghost):
        for _ in range(3):
            failed = submit(browser, page, "/sign-in", identifier=name, password="wrong-wrong")
            assert failed.status_code == 422
        # Locked: even the right password is refused, with the same message for both.
        locked = submit(browser, page, "/sign-in", identifier=name, password=PASSWORD)
        assert locked.status_code == 429
        assert "Too many failed attempts. Try again in 1 minutes." in locked.text
    # Another account is unaffected.
    other = lab_user(lab)
    fine = submit(browser, page, "/sign-in", identifier=other.username, password=PASSWORD)
    assert fine.status_code == 303


def test_lockout_counts_per_account_whichever_identifier_is_typed(lab: Lab) -> None:
    """Username, email and phone of one account share one budget: each is no fresh start."""
    lab.configure(
        sentinelPolicy={"maxAttempts": 4, "lockoutDuration": 1},
        signIn={"methods": [
            {"identifier": "username", "password": True, "verificationCode": False,
             "isPasswordPrimary": True},
            {"identifier": "email", "password": True, "verificationCode": False,
             "isPasswordPrimary": True}]},
    )  # fmt: skip
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)

    def fail(*names: str) -> None:
        for name in names:
            failed = submit(browser, page, "/sign-in", identifier=name, password="wrong-wrong")
            assert failed.status_code == 422

    # A sign-in clears the account's count, whichever identifier it used.
    fail(user.username, user.email, user.username)
    fine = submit(browser, page, "/sign-in", identifier=user.email, password=PASSWORD)
    assert fine.status_code == 303
    page, _ = start(lab, browser, prompt="login")
    fail(user.username, user.email, user.username)
    assert submit(browser, page, "/sign-in", identifier=user.username,
                  password=PASSWORD).status_code == 303  # fmt: skip
    page, _ = start(lab, browser, prompt="login")
    fail(user.username, user.email, user.username, user.email.upper())
    for name in (user.username, user.email):
        locked = submit(browser, page, "/sign-in", identifier=name, password=PASSWORD)
        assert locked.status_code == 429, name


def test_session_id_is_rotated_at_sign_in(lab: Lab) -> None:
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser)
    finish(lab, browser, submit(browser, page, "/sign-in", identifier=user.username,
                                password=PASSWORD), verifier)  # fmt: skip
    first = browser.client.portico_cookies.values["__Host-portico_session"]
    page, verifier = start(lab, browser, prompt="login")
    finish(lab, browser, submit(browser, page, "/sign-in", identifier=user.username,
                                password=PASSWORD), verifier)  # fmt: skip
    second = browser.client.portico_cookies.values["__Host-portico_session"]
    assert first != second


# --- passwordless email (seed 000) --------------------------------------------------------


def test_register_then_sign_in_with_email_codes(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    address = email()
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register", scope="openid email")
    assert "Create your account" in page.text and 'type="email"' in page.text
    sent = submit(browser, page, "/register", identifier=address.upper())
    assert sent.status_code == 303 and sent.headers["location"] == "/verification-code"
    code_page = browser.get("/verification-code")
    assert address in code_page.text
    claims = finish(
        lab, browser, submit(browser, code_page, "/verification-code", code=lab.code_for(address)),
        verifier,
    )  # fmt: skip
    assert claims["email"] == address and claims["email_verified"] is True
    message = lab.messages_to(address)[-1]
    assert message["Subject"] == "Register code"

    # Sign in again (a new browser) with a code.
    browser = lab.browser()
    page, verifier = start(lab, browser, scope="openid email")
    sent = submit(browser, page, "/sign-in", identifier=address)
    assert sent.headers["location"] == "/verification-code"
    code_page = browser.get("/verification-code")
    again = finish(
        lab, browser, submit(browser, code_page, "/verification-code", code=lab.code_for(address)),
        verifier,
    )  # fmt: skip
    assert again["sub"] == claims["sub"]
    assert lab.messages_to(address)[-1]["Subject"] == "SignIn code"


def test_a_suspended_account_is_told_so_once_it_is_proven_by_a_code(lab: Lab) -> None:
    """As the Experience API answers (Logto's ``user.suspended``), not as a wrong password:
    the code proved the address the user's own."""
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    suspended = lab.api.patch(f"/api/users/{user.id}/is-suspended", json={"isSuspended": True})
    assert suspended.status_code == 200
    browser = lab.browser()
    page, _ = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=user.email)
    code_page = browser.get("/verification-code")
    refused = submit(browser, code_page, "/verification-code", code=lab.code_for(user.email))
    assert refused.status_code == 401 and "This account is suspended." in refused.text
    assert browser.client.portico_cookies.values.get("__Host-portico_session") is None


def test_code_for_unknown_email_offers_to_create_the_account(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    address = email()
    browser = lab.browser()
    page, verifier = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=address)
    code_page = browser.get("/verification-code")
    moved = submit(browser, code_page, "/verification-code", code=lab.code_for(address))
    assert moved.headers["location"] == "/transition/register"
    offer = browser.get("/transition/register")
    assert f"There is no account for {address}" in offer.text
    claims = finish(lab, browser, submit(browser, offer, "/transition/register", decision="yes"),
                    verifier)  # fmt: skip
    assert claims["sub"]


def test_register_with_existing_email_offers_to_sign_in(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register")
    submit(browser, page, "/register", identifier=user.email)
    code_page = browser.get("/verification-code")
    moved = submit(browser, code_page, "/verification-code", code=lab.code_for(user.email))
    assert moved.headers["location"] == "/transition/sign-in"
    offer = browser.get("/transition/sign-in")
    claims = finish(lab, browser, submit(browser, offer, "/transition/sign-in", decision="yes"),
                    verifier)  # fmt: skip
    assert claims["sub"] == user.id


def test_register_with_email_and_password(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    address = email()
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register")
    submit(browser, page, "/register", identifier=address)
    code_page = browser.get("/verification-code")
    to_password = submit(browser, code_page, "/verification-code", code=lab.code_for(address))
    assert to_password.headers["location"] == "/password"
    form = browser.get("/password")
    weak = submit(browser, form, "/password", password="password1", confirm="password1")
    assert weak.status_code == 400 and "too common" in weak.text
    differ = submit(browser, form, "/password", password=STRONG, confirm=STRONG + "x")
    assert "The passwords do not match." in differ.text
    claims = finish(lab, browser, submit(browser, form, "/password", password=STRONG,
                                         confirm=STRONG), verifier)  # fmt: skip
    # The password works for the next sign-in.
    browser = lab.browser()
    page, verifier = start(lab, browser)
    again = finish(lab, browser, submit(browser, page, "/sign-in", identifier=address,
                                        password=STRONG), verifier)  # fmt: skip
    assert again["sub"] == claims["sub"]


def test_register_with_username_and_password(lab: Lab) -> None:
    name = unique("new")
    browser = lab.browser()
    page, verifier = start(lab, browser, first_screen="register")
    taken = lab_user(lab)
    clash = submit(browser, page, "/register", identifier=taken.username, password=STRONG,
                   confirm=STRONG)  # fmt: skip
    assert clash.status_code == 409 and "already in use" in clash.text
    bad = submit(browser, page, "/register", identifier="1" + name, password=STRONG,
                 confirm=STRONG)  # fmt: skip
    assert "must start with a letter" in bad.text
    claims = finish(lab, browser, submit(browser, page, "/register", identifier=name,
                                         password=STRONG, confirm=STRONG), verifier)  # fmt: skip
    assert claims["sub"]


# --- codes: limits ------------------------------------------------------------------------


def test_code_attempts_are_limited_even_in_parallel(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN, verificationCodePolicy={"maxRetryAttempts": 3})
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=user.email)
    code_page = browser.get("/verification-code")
    right = lab.code_for(user.email)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    cookies = dict(browser.client.portico_cookies.values)

    def guess(_: int) -> str:
        with httpx.Client(base_url=lab.server.endpoint, cookies=cookies) as client:
            reply = client.post("/verification-code", data={
                "csrf_token": code_page.text.split('name="csrf_token" value="')[1].split('"')[0],
                "code": wrong})  # fmt: skip
            return reply.text

    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(guess, range(24)))
    mismatches = sum("The code is incorrect." in r for r in replies)
    exhausted = sum("Too many incorrect attempts" in r for r in replies)
    assert mismatches <= 3 and mismatches + exhausted == 24, [
        r[r.find('<p class="error') :][:200] for r in replies
    ]
    late = submit(browser, code_page, "/verification-code", code=right)
    assert "Too many incorrect attempts" in late.text  # the right code no longer helps


def test_expired_code_and_resend_replaces_the_old_code(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=user.email)
    code_page = browser.get("/verification-code")
    first = lab.code_for(user.email)
    count = len(lab.messages_to(user.email))
    # The page says when a new code may be asked for, and the server keeps to it.
    assert 'data-countdown="60"' in code_page.text or 'data-countdown="59"' in code_page.text
    early = submit(browser, code_page, "/verification-code/resend")
    assert early.status_code == 429
    assert "You can ask for a new code in" in early.text
    assert len(lab.messages_to(user.email)) == count
    monkeypatch.setattr(steps, "RESEND_INTERVAL", 0)  # the pause is over
    resent = submit(browser, code_page, "/verification-code/resend")
    assert resent.headers["location"] == "/verification-code"
    code_page = browser.get("/verification-code")
    assert "A new code is on its way." in code_page.text
    assert len(lab.messages_to(user.email)) == count + 1
    second = lab.code_for(user.email)
    if first != second:
        stale = submit(browser, code_page, "/verification-code", code=first)
        assert "The code is incorrect." in stale.text
    finish(lab, browser, submit(browser, code_page, "/verification-code", code=second), verifier)


def test_sends_per_recipient_are_rate_limited(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "RESEND_INTERVAL", 0)
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=user.email)  # 1st send
    code_page = browser.get("/verification-code")
    for _ in range(9):
        assert submit(browser, code_page, "/verification-code/resend").status_code == 303
    before = len(lab.messages_to(user.email))
    limited = submit(browser, code_page, "/verification-code/resend")
    assert limited.status_code == 429
    assert "Too many codes were requested" in limited.text
    assert len(lab.messages_to(user.email)) == before
    # The page waits for the oldest send to leave the limit's window instead of offering a
    # button the server would refuse.
    assert re.search(r'data-countdown="(59\d|60[01])"[^>]*disabled', limited.text), limited.text
    # Elsewhere (a new interaction), the server itself refuses: the page then waits a window.
    other = lab.browser()
    page, _ = start(lab, other)
    refused = submit(other, page, "/sign-in", identifier=user.email)
    assert refused.status_code == 429
    assert "Too many codes were requested" in refused.text


# --- forgot password ------------------------------------------------------------------------


def test_forgot_password_by_email(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser)
    assert 'href="/forgot-password"' in page.text
    form = browser.get("/forgot-password")
    sent = submit(browser, form, "/forgot-password", identifier=user.email)
    assert sent.headers["location"] == "/verification-code"
    code_page = browser.get("/verification-code")
    to_reset = submit(browser, code_page, "/verification-code", code=lab.code_for(user.email))
    assert to_reset.headers["location"] == "/forgot-password/reset"
    reset_form = browser.get("/forgot-password/reset")
    done = submit(browser, reset_form, "/forgot-password/reset", password=STRONG, confirm=STRONG)
    assert done.headers["location"] == "/sign-in"
    sign_in = browser.get("/sign-in")
    assert "Your password was changed." in sign_in.text
    old = submit(browser, sign_in, "/sign-in", identifier=user.email, password=PASSWORD)
    assert old.status_code == 422
    claims = finish(lab, browser, submit(browser, sign_in, "/sign-in", identifier=user.email,
                                         password=STRONG), verifier)  # fmt: skip
    assert claims["sub"] == user.id
    assert lab.messages_to(user.email)[-1]["Subject"] == "ForgotPassword code"


def test_password_reset_ends_other_sessions_and_tokens(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    elsewhere = lab.browser()  # signed in on another device, with a refresh token
    page, verifier = start(lab, elsewhere, scope="openid offline_access", prompt="consent")
    signed_in = submit(elsewhere, page, "/sign-in", identifier=user.email, password=PASSWORD)
    response = elsewhere.follow_until_external(signed_in)
    code = query_of(response.headers["location"])["code"]
    tokens = httpx.post(
        f"{lab.server.endpoint}/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
              "redirect_uri": lab.redirect_uri, "client_id": lab.app_id,
              "client_secret": lab.app_secret},
    ).json()  # fmt: skip
    assert "refresh_token" in tokens

    browser = lab.browser()
    start(lab, browser)
    sent = submit(browser, browser.get("/forgot-password"), "/forgot-password",
                  identifier=user.email)  # fmt: skip
    assert sent.status_code == 303
    code_page = browser.get("/verification-code")
    submit(browser, code_page, "/verification-code", code=lab.code_for(user.email))
    reset_form = browser.get("/forgot-password/reset")
    done = submit(browser, reset_form, "/forgot-password/reset", password=STRONG, confirm=STRONG)
    assert done.headers["location"] == "/sign-in"

    refreshed = httpx.post(
        f"{lab.server.endpoint}/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": lab.app_id, "client_secret": lab.app_secret},
    )  # fmt: skip
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    silent, _ = start(lab, elsewhere, prompt="none")
    assert query_of(silent.headers["location"])["error"] == "login_required"


def test_forgot_password_does_not_reveal_whether_the_account_exists(lab: Lab) -> None:
    """A reset code goes only to an account's address (else anyone could make this server mail
    any address), and the answers for a known and an unknown address are the same."""
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    nobody = email()
    answers = []
    for address in (user.email, nobody):
        browser = lab.browser()
        start(lab, browser)
        form = browser.get("/forgot-password")
        sent = submit(browser, form, "/forgot-password", identifier=address)
        answers.append((sent.status_code, sent.headers.get("location")))
        code_page = browser.get("/verification-code")
        assert address in code_page.text
        wrong = submit(browser, code_page, "/verification-code", code="000000")
        answers.append((wrong.status_code, "The code is incorrect." in wrong.text))
    assert answers[0] == answers[2] == (303, "/verification-code")
    assert answers[1] == answers[3] == (400, True)
    lab.code_for(user.email)  # the account's owner got the code
    assert lab.messages_to(nobody) == []


# --- profile fulfilment -------------------------------------------------------------------


def test_missing_email_is_collected_and_verified_at_sign_in(lab: Lab) -> None:
    lab.configure(
        signUp={"identifiers": ["username"], "password": True, "verify": True,
                "secondaryIdentifiers": [{"identifier": "email", "verify": True}]},
        signIn={"methods": [
            {"identifier": "username", "password": True, "verificationCode": False,
             "isPasswordPrimary": True},
            {"identifier": "email", "password": True, "verificationCode": True,
             "isPasswordPrimary": True}]},
    )  # fmt: skip
    name = unique("noemail")  # a user from before email became required

    async def create(conn):  # type: ignore[no-untyped-def]
        return await user_service.create_user(conn, "default", username=name, password=PASSWORD)

    row = lab.server.db(create)
    browser = lab.browser()
    page, verifier = start(lab, browser, scope="openid email")
    moved = submit(browser, page, "/sign-in", identifier=name, password=PASSWORD)
    assert moved.headers["location"] == "/continue"
    form = browser.get("/continue")
    assert "Add an email address" in form.text
    address = email()
    submit(browser, form, "/continue", identifier=address)
    code_page = browser.get("/verification-code")
    claims = finish(lab, browser, submit(browser, code_page, "/verification-code",
                                         code=lab.code_for(address)), verifier)  # fmt: skip
    assert claims["sub"] == row["id"] and claims["email"] == address


# --- configuration, pages, languages, CSRF ------------------------------------------------


def test_sign_in_experience_api_validates_and_keeps_the_old_value(lab: Lab) -> None:
    before = lab.api.get("/api/sign-in-exp").json()
    assert before["signUp"]["identifiers"] == ["username"]
    assert before["signInMode"] == "SignInAndRegister"
    bad = lab.api.patch("/api/sign-in-exp", json={"signUp": {"identifiers": ["email"],
                                                             "password": False}})  # fmt: skip
    assert bad.status_code == 400 and "signIn.methods" in bad.json()["message"]
    unknown = lab.api.patch("/api/sign-in-exp", json={"noSuchField": 1})
    assert unknown.status_code == 400
    assert lab.api.get("/api/sign-in-exp").json() == before
    public = httpx.get(f"{lab.server.endpoint}/api/.well-known/sign-in-exp").json()
    assert public["signInMode"] == "SignInAndRegister" and "forgotPassword" in public


def test_sign_in_mode_sign_in_only_hides_registration(lab: Lab) -> None:
    lab.configure(signInMode="SignIn")
    browser = lab.browser()
    page, _ = start(lab, browser, first_screen="register")
    assert "Create account" not in page.text and "Sign in to" in page.text


def test_login_hint_identifier_and_terms(lab: Lab) -> None:
    lab.configure(
        agreeToTermsPolicy="Manual", termsOfUseUrl="https://example.com/terms",
        privacyPolicyUrl="https://example.com/privacy",
    )  # fmt: skip
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser, login_hint=user.username)
    assert f'value="{user.username}"' in page.text
    assert 'name="agree"' in page.text and "https://example.com/terms" in page.text
    refused = submit(browser, page, "/sign-in", identifier=user.username, password=PASSWORD)
    assert refused.status_code == 400 and "accept the terms" in refused.text
    ok = submit(browser, page, "/sign-in", identifier=user.username, password=PASSWORD,
                agree="on")  # fmt: skip
    assert ok.status_code == 303


@pytest.mark.parametrize(
    ("ui_locales", "accept", "expected"),
    [
        ("es", None, "Iniciar sesión"),
        (None, "ko-KR,ko;q=0.9", "로그인"),
        ("zh-CN", "es", "登录"),
        ("ja", None, "サインイン"),
        (None, "fr-FR", "Sign in"),
    ],
)
def test_language_from_ui_locales_then_accept_language(
    lab: Lab, ui_locales: str | None, accept: str | None, expected: str
) -> None:
    browser = lab.browser()
    if accept:
        browser.client.headers["Accept-Language"] = accept
    params = {"ui_locales": ui_locales} if ui_locales else {}
    page, _ = start(lab, browser, **params)
    assert expected in page.text


def test_custom_phrases_override_the_catalog(lab: Lab) -> None:
    put = lab.api.put("/api/custom-phrases/en", json={"action": {"sign_in": "Enter the portal"}})
    assert put.status_code == 200
    browser = lab.browser()
    page, _ = start(lab, browser)
    assert "Enter the portal" in page.text


def test_forms_reject_a_missing_or_wrong_csrf_token(lab: Lab) -> None:
    user = lab_user(lab)
    browser = lab.browser()
    start(lab, browser)
    for token in ("", "forged"):
        reply = browser.client.post(
            f"{lab.server.endpoint}/sign-in",
            data={"csrf_token": token, "identifier": user.username, "password": PASSWORD},
        )
        assert reply.status_code == 403 and "This form has expired" in reply.text
    assert browser.client.portico_cookies.values.get("__Host-portico_session") is None


def test_pages_send_security_headers_and_host_cookies(lab: Lab) -> None:
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "http://" not in page.text.split("<main>")[0].replace(lab.server.endpoint, "")
    signed_in = submit(browser, page, "/sign-in", identifier=user.username, password=PASSWORD)
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if "portico_session" in c)
    assert cookie.startswith("__Host-portico_session=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered
    assert "path=/" in lowered and "domain=" not in lowered


def test_expired_interaction_shows_a_translated_error(lab: Lab) -> None:
    browser = lab.browser()
    browser.client.headers["Accept-Language"] = "es"
    page = browser.get("/sign-in")
    assert page.status_code == 400
    assert "Algo salió mal" in page.text or 'lang="es"' in page.text


def test_consent_for_third_party_apps(lab: Lab) -> None:
    third = make_app(lab.server, "Traditional", is_third_party=True)
    user = lab_user(lab)
    browser = lab.browser()
    _, challenge = pkce_pair()
    url = authorize_url(lab.server, third.id, third.redirect_uri, code_challenge=challenge,
                        code_challenge_method="S256", scope="openid profile email")  # fmt: skip
    page = browser.follow_until_external(browser.client.get(url))
    consent = browser.follow_until_external(
        submit(browser, page, "/sign-in", identifier=user.username, password=PASSWORD)
    )
    assert consent.status_code == 200
    assert (
        "See your email address" in consent.text and "wants to access your account" in consent.text
    )
    denied = submit(browser, consent, "/consent", decision="deny")
    assert query_of(denied.headers["location"])["error"] == "access_denied"
