"""The hosted pages and the Experience API are two front ends of one sign-in engine: the same
scenario, driven through each, reaches the same outcome (the same user, the same audit
entries, the equivalent error: the page's message and Logto's code)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import PASSWORD, User, lab_user
from tests.lab import EMAIL_SIGN_IN, EMAIL_WITH_PASSWORD, Lab, submit
from tests.test_experience_api import Spa
from tests.test_experience_flows import finish, start

NEW_PASSWORD = "violet-harbour-cactus-49"


@dataclass(frozen=True)
class Outcome:
    """What a front end ended with: the signed-in user's id, or an error named as in
    :data:`ERRORS` (the page's status and message, or the API's status and Logto's code)."""

    user_id: str | None = None
    error: str | None = None


# Equivalent errors: the page's message and the Experience API's code, for the same status.
ERRORS = {
    "invalid_credentials": (422, "The account or password is incorrect.",
                            422, "session.invalid_credentials"),
    "suspended": (401, "This account is suspended.", 401, "user.suspended"),
    "locked": (429, "Too many failed attempts.",
               400, "session.verification_blocked_too_many_attempts"),
}  # fmt: skip


def _page_error(response: httpx.Response) -> str:
    for name, (status, message, _, _) in ERRORS.items():
        if response.status_code == status and message in response.text:
            return name
    raise AssertionError((response.status_code, response.text[:300]))


def _api_error(response: httpx.Response) -> str:
    for name, (_, _, status, code) in ERRORS.items():
        if response.status_code == status and response.json().get("code") == code:
            return name
    raise AssertionError(response.text)


# --- the two front ends ---------------------------------------------------------------------


def page_password(lab: Lab, identifier: str, password: str) -> Outcome:
    browser = lab.browser()
    page, verifier = start(lab, browser)
    done = submit(browser, page, "/sign-in", identifier=identifier, password=password)
    if done.status_code != 303:
        return Outcome(error=_page_error(done))
    return Outcome(user_id=finish(lab, browser, done, verifier)["sub"])


def api_password(lab: Lab, identifier: str, password: str) -> Outcome:
    spa = Spa(lab)
    spa.event("SignIn")
    kind = "email" if "@" in identifier else "username"
    body = {"identifier": {"type": kind, "value": identifier}, "password": password}
    reply = spa.call("POST", "/experience/verification/password", body)
    if reply.status_code != 200:
        return Outcome(error=_api_error(reply))
    identified = {"verificationId": reply.json()["verificationId"]}
    spa.ok("POST", "/experience/identification", identified, 204)
    return Outcome(user_id=spa.submit()["sub"])


def page_code(lab: Lab, address: str) -> Outcome:
    browser = lab.browser()
    page, verifier = start(lab, browser)
    before = len(lab.messages_to(address))
    submit(browser, page, "/sign-in", identifier=address)
    code_page = browser.get("/verification-code")
    done = submit(browser, code_page, "/verification-code",
                  code=lab.code_for(address, after=before))  # fmt: skip
    if done.status_code != 303:
        return Outcome(error=_page_error(done))
    return Outcome(user_id=finish(lab, browser, done, verifier)["sub"])


def api_code(lab: Lab, address: str) -> Outcome:
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.email_verified(address, "SignIn")
    reply = spa.call("POST", "/experience/identification", {"verificationId": verification_id})
    if reply.status_code != 204:
        return Outcome(error=_api_error(reply))
    return Outcome(user_id=spa.submit()["sub"])


FRONT_ENDS: dict[str, tuple[Callable[..., Outcome], Callable[..., Outcome]]] = {
    "password": (page_password, api_password),
    "code": (page_code, api_code),
}


def _sign_in_keys(lab: Lab, user_id: str) -> list[str]:
    logs = lab.api.get("/api/logs", params={"userId": user_id, "page_size": 100}).json()
    return sorted(e["key"] for e in logs if e["key"].startswith("Interaction."))


# --- scenarios ------------------------------------------------------------------------------


@pytest.mark.parametrize("front", ["page", "api"])
def test_password_sign_in(lab: Lab, front: str) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    sign_in = FRONT_ENDS["password"][front == "api"]
    assert sign_in(lab, user.email, PASSWORD) == Outcome(user_id=user.id)
    assert _sign_in_keys(lab, user.id) == ["Interaction.SignIn.Submit"]
    assert sign_in(lab, user.email, "wrong-password-1") == Outcome(error="invalid_credentials")
    assert sign_in(lab, "ghost@example.com", PASSWORD) == Outcome(error="invalid_credentials")


@pytest.mark.parametrize("front", ["page", "api"])
def test_code_sign_in(lab: Lab, front: str) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    assert FRONT_ENDS["code"][front == "api"](lab, user.email) == Outcome(user_id=user.id)
    assert _sign_in_keys(lab, user.id) == ["Interaction.SignIn.Submit"]


@pytest.mark.parametrize("front", ["page", "api"])
def test_a_suspended_account(lab: Lab, front: str) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    lab.api.patch(f"/api/users/{user.id}/is-suspended", json={"isSuspended": True})
    password, code = FRONT_ENDS["password"][front == "api"], FRONT_ENDS["code"][front == "api"]
    # A password gives no oracle; a proven address is told the truth.
    assert password(lab, user.email, PASSWORD) == Outcome(error="invalid_credentials")
    lab.configure(**EMAIL_SIGN_IN)
    assert code(lab, user.email) == Outcome(error="suspended")
    assert _sign_in_keys(lab, user.id) == []


def test_the_lockout_is_one_counter_across_front_ends(lab: Lab) -> None:
    lab.configure(sentinelPolicy={"maxAttempts": 4, "lockoutDuration": 1},
                  **EMAIL_WITH_PASSWORD)  # fmt: skip
    user: User = lab_user(lab)
    for sign_in in (page_password, api_password, page_password, api_password):
        assert sign_in(lab, user.email, "wrong-password-1") == Outcome(error="invalid_credentials")
    assert page_password(lab, user.email, PASSWORD) == Outcome(error="locked")
    assert api_password(lab, user.email, PASSWORD) == Outcome(error="locked")


def page_reset(lab: Lab, address: str, password: str) -> None:
    browser = lab.browser()
    start(lab, browser)
    before = len(lab.messages_to(address))
    submit(browser, browser.get("/forgot-password"), "/forgot-password", identifier=address)
    code_page = browser.get("/verification-code")
    submit(browser, code_page, "/verification-code", code=lab.code_for(address, after=before))
    reset_form = browser.get("/forgot-password/reset")
    done = submit(browser, reset_form, "/forgot-password/reset",
                  password=password, confirm=password)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/sign-in", done.text[:300]


def api_reset(lab: Lab, address: str, password: str) -> None:
    spa = Spa(lab)
    spa.event("ForgotPassword")
    verification_id = spa.email_verified(address, "ForgotPassword")
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    spa.ok("PUT", "/experience/profile/password", {"password": password}, 204)
    spa.ok("POST", "/experience/submit", None, 204)


@pytest.mark.parametrize("front", ["page", "api"])
def test_forgot_password(lab: Lab, front: str) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    (api_reset if front == "api" else page_reset)(lab, user.email, NEW_PASSWORD)
    assert _sign_in_keys(lab, user.id) == ["Interaction.ForgotPassword.Submit"]
    # Whichever front end reset it, both see the new password and refuse the old one.
    for sign_in in (page_password, api_password):
        assert sign_in(lab, user.email, PASSWORD) == Outcome(error="invalid_credentials")
        assert sign_in(lab, user.email, NEW_PASSWORD) == Outcome(user_id=user.id)
