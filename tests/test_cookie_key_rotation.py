"""Rotating the cookie keys (``POST /api/configs/oidc/cookie-keys/rotate``) in the middle of
things: a code already sent and a form already shown still work (the newest key signs,
every key in the ring verifies), a lockout counter does not restart (the sentinel keys its
digests with a stable key), and only a code from two rotations ago is refused. The
two-process version is in ``test_cluster_cookie_keys.py``."""

from __future__ import annotations

import httpx

from tests.conftest import PASSWORD, App, User, lab_user
from tests.flows import tokens_for
from tests.lab import EMAIL_SIGN_IN, Lab, submit
from tests.support import Browser, Server, csrf_of
from tests.test_experience_flows import finish, start

ROTATE = "/api/configs/oidc/cookie-keys/rotate"


def rotate(api: httpx.Client, path: str = ROTATE) -> None:
    response = api.post(path)
    assert response.status_code == 200, response.text


def test_a_pending_code_and_its_open_form_survive_a_rotation(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    browser = lab.browser()
    page, verifier = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=user.email)
    code_page = browser.get("/verification-code")  # the form, with its CSRF token
    code = lab.code_for(user.email)
    rotate(lab.api)
    done = submit(browser, code_page, "/verification-code", code=code)
    assert finish(lab, browser, done, verifier)["sub"] == user.id


def test_a_code_issued_two_rotations_ago_is_refused(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)
    submit(browser, page, "/sign-in", identifier=user.email)
    code_page = browser.get("/verification-code")
    code = lab.code_for(user.email)
    rotate(lab.api)
    rotate(lab.api)  # the key that MACed the code has left the ring
    refused = submit(browser, code_page, "/verification-code", code=code)
    assert "The code is incorrect." in refused.text


def test_a_lockout_counter_survives_rotations(lab: Lab) -> None:
    lab.configure(sentinelPolicy={"maxAttempts": 3, "lockoutDuration": 1})
    user = lab_user(lab)
    browser = lab.browser()
    page, _ = start(lab, browser)
    for _ in range(2):
        wrong = submit(browser, page, "/sign-in", identifier=user.username, password="wrong-1")
        assert wrong.status_code == 422
    rotate(lab.api)
    third = submit(browser, page, "/sign-in", identifier=user.username, password="wrong-2")
    assert third.status_code == 422
    rotate(lab.api)
    rotate(lab.api)  # not one cookie key from before is left
    locked = submit(browser, page, "/sign-in", identifier=user.username, password=PASSWORD)
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text


def test_the_sign_out_form_survives_a_rotation(
    browser: Browser, server: Server, http: httpx.Client, web_app: App, user: User,
    admin: httpx.Client,
) -> None:  # fmt: skip
    tokens_for(browser, server, http, web_app, user)
    page = browser.client.get(f"{server.issuer}/session/end?client_id={web_app.id}")
    assert page.status_code == 200 and "Yes, sign me out" in page.text
    rotate(admin, "/configs/oidc/cookie-keys/rotate")
    done = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={"csrf_token": csrf_of(page.text), "logout": "yes", "client_id": web_app.id},
    )
    assert done.status_code in (200, 303), done.text[:300]
    # The form rendered now carries a token of the new key, and it works as well.
    tokens_for(browser, server, http, web_app, user)
    fresh = browser.client.get(f"{server.issuer}/session/end?client_id={web_app.id}")
    assert csrf_of(fresh.text) != csrf_of(page.text)
    again = browser.client.post(
        f"{server.issuer}/session/end/confirm",
        data={"csrf_token": csrf_of(fresh.text), "logout": "yes", "client_id": web_app.id},
    )
    assert again.status_code in (200, 303)
