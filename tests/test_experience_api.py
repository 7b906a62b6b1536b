"""Logto's Experience API (``/api/experience/*``) driven the way Logto's Experience SPA drives
it (compat §4.3 "Typical flows"): every flow starts from a real ``/oidc/auth`` request, uses
the interaction cookie it set, and ends with tokens from the token endpoint. Codes are read
from mail received by a real SMTP server; social sign-in runs against the fake Kakao."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, lab_user, make_app
from tests.fake_kakao import FakeKakao, kakao_user
from tests.lab import EMAIL_SIGN_IN, EMAIL_WITH_PASSWORD, Lab
from tests.support import Browser, authorize_url, pkce_pair, query_of, unique
from tests.test_experience_flows import finish
from tests.test_social_kakao import SOCIAL_ONLY, consent, new_id

STRONG = "violet-harbour-cactus-49"


class Spa:
    """One browser running the Experience SPA against one authorization request."""

    def __init__(self, lab: Lab, client_id: str | None = None, redirect_uri: str | None = None,
                 browser: Browser | None = None, **params: str) -> None:  # fmt: skip
        self.lab = lab
        self.browser = browser or lab.browser()
        self.verifier, challenge = pkce_pair()
        url = authorize_url(
            lab.server, client_id or lab.app_id, redirect_uri or lab.redirect_uri,
            code_challenge=challenge, code_challenge_method="S256", **params,
        )  # fmt: skip
        started = self.browser.client.get(url)
        assert started.status_code in (302, 303), started.text
        self.first_screen = started.headers["location"]
        self.set_cookie = started.headers.get("set-cookie", "")

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        url = f"{self.lab.server.endpoint}/api{path}"
        if body is not None:
            kwargs["json"] = body
        return self.browser.client.request(method, url, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        reply = self.call(method, path, body)
        assert reply.status_code == status, (path, reply.status_code, reply.text)
        return reply.json() if reply.content else None

    def fails(self, method: str, path: str, body: Any, status: int, code: str) -> dict:
        reply = self.call(method, path, body)
        assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
        return reply.json()  # type: ignore[no-any-return]

    def event(self, event: str) -> None:
        self.ok("PUT", "/experience", {"interactionEvent": event}, 204)

    def password(self, kind: str, value: str, password: str) -> str:
        body = {"identifier": {"type": kind, "value": value}, "password": password}
        return self.ok("POST", "/experience/verification/password", body)["verificationId"]

    def send_code(self, address: str, event: str, kind: str = "email") -> str:
        body = {"identifier": {"type": kind, "value": address}, "interactionEvent": event}
        return self.ok("POST", "/experience/verification/verification-code", body)["verificationId"]

    def verify_code(self, address: str, verification_id: str, code: str) -> httpx.Response:
        body = {"identifier": {"type": "email", "value": address},
                "verificationId": verification_id, "code": code}  # fmt: skip
        return self.call("POST", "/experience/verification/verification-code/verify", body)

    def email_verified(self, address: str, event: str) -> str:
        before = len(self.lab.messages_to(address))
        verification_id = self.send_code(address, event)
        code = self.lab.code_for(address, after=before)
        reply = self.verify_code(address, verification_id, code)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"verificationId": verification_id}
        return verification_id

    def submit(self) -> dict[str, Any]:
        """``POST submit``, then the browser follows ``redirectTo``; the userinfo claims."""
        redirect_to = self.ok("POST", "/experience/submit")["redirectTo"]
        assert redirect_to.startswith(f"{self.lab.server.issuer}/auth/")
        return finish(self.lab, self.browser, self.browser.get(redirect_to), self.verifier)


def address() -> str:
    return f"{unique('api')}@example.com"


# --- password sign-in ----------------------------------------------------------------------------
def test_password_sign_in_to_tokens_with_a_new_session_id(lab: Lab) -> None:
    user = lab_user(lab)
    spa = Spa(lab, scope="openid profile")
    assert spa.first_screen == "/sign-in"
    spa.event("SignIn")
    verification_id = spa.password("username", user.username, PASSWORD)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    state = spa.ok("GET", "/experience/interaction")
    assert state["interactionEvent"] == "SignIn" and state["userId"] == user.id
    assert state["verificationRecords"][0]["type"] == "Password"
    claims = spa.submit()
    assert claims["sub"] == user.id and claims["username"] == user.username
    cookies = spa.browser.client.portico_cookies.values  # type: ignore[attr-defined]
    first = cookies["__Host-portico_session"]

    again = Spa(lab, browser=spa.browser, prompt="login")  # the same browser, again
    again.event("SignIn")
    verification_id = again.password("username", user.username, PASSWORD)
    again.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    assert again.submit()["sub"] == user.id
    assert cookies["__Host-portico_session"] != first


def test_wrong_password_and_unknown_account_are_both_422(lab: Lab) -> None:
    user = lab_user(lab)
    spa = Spa(lab)
    spa.event("SignIn")
    for name, password in ((user.username, "wrong-wrong"), (unique("ghost"), PASSWORD)):
        body = {"identifier": {"type": "username", "value": name}, "password": password}
        error = spa.fails("POST", "/experience/verification/password", body, 422,
                          "session.invalid_credentials")  # fmt: skip
        assert set(error) <= {"code", "message", "data"}
    spa.fails("POST", "/experience/submit", None, 404, "session.identifier_not_found")


def test_lockout_refuses_even_the_right_password(lab: Lab) -> None:
    lab.configure(sentinelPolicy={"maxAttempts": 3, "lockoutDuration": 1})
    user = lab_user(lab)
    spa = Spa(lab)
    spa.event("SignIn")
    path = "/experience/verification/password"
    wrong = {"identifier": {"type": "username", "value": user.username}, "password": "nope-nope"}
    for _ in range(3):
        spa.fails("POST", path, wrong, 422, "session.invalid_credentials")
    right = {**wrong, "password": PASSWORD}
    locked = spa.fails("POST", path, right, 400, "session.verification_blocked_too_many_attempts")
    assert locked["data"] == {"lockedMinutes": 1}
    other = lab_user(lab)  # the lockout is per identifier
    assert spa.password("username", other.username, PASSWORD)


def test_suspended_user_is_refused(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    user = lab_user(lab)
    assert lab.api.patch(f"/api/users/{user.id}/is-suspended",
                         json={"isSuspended": True}).status_code == 200  # fmt: skip
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.email_verified(user.email, "SignIn")
    spa.fails("POST", "/experience/identification", {"verificationId": verification_id}, 401,
              "user.suspended")  # fmt: skip


# --- register ------------------------------------------------------------------------------------
def test_username_register_creates_the_account_at_identification(lab: Lab) -> None:
    name = unique("new")
    spa = Spa(lab, first_screen="register")
    assert spa.first_screen == "/register"
    spa.event("Register")
    spa.ok("POST", "/experience/profile", {"type": "username", "value": name}, 204)
    spa.fails("POST", "/experience/identification", None, 422, "user.missing_profile")
    weak = spa.fails("POST", "/experience/profile", {"type": "password", "value": "abc"}, 422,
                     "password.rejected")  # fmt: skip
    assert weak["data"]["result"][0]["code"] == "password_rejected.too_short"
    spa.ok("POST", "/experience/profile", {"type": "password", "value": STRONG}, 204)
    spa.ok("POST", "/experience/identification", None, 201)
    claims = spa.submit()
    assert claims["username"] == name

    taken = Spa(lab)
    taken.event("Register")
    taken.fails("POST", "/experience/profile", {"type": "username", "value": name}, 422,
                "user.username_already_in_use")  # fmt: skip
    signed_in = Spa(lab)
    signed_in.event("SignIn")
    verification_id = signed_in.password("username", name, STRONG)
    signed_in.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    assert signed_in.submit()["sub"] == claims["sub"]


def test_new_password_identity_registers_in_one_step(lab: Lab) -> None:
    name = unique("npi")
    spa = Spa(lab)
    spa.event("Register")
    body = {"identifier": {"type": "username", "value": name}, "password": STRONG}
    verification_id = spa.ok("POST", "/experience/verification/new-password-identity", body)[
        "verificationId"
    ]
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 201)
    assert spa.submit()["username"] == name


# --- email codes ---------------------------------------------------------------------------------
def test_email_code_sign_up_after_404_then_sign_in(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    email = address()
    spa = Spa(lab, scope="openid email")
    spa.event("SignIn")
    verification_id = spa.email_verified(email.upper(), "SignIn")
    spa.fails("POST", "/experience/identification", {"verificationId": verification_id}, 404,
              "user.user_not_exist")  # fmt: skip
    spa.ok("PUT", "/experience/interaction-event", {"interactionEvent": "Register"}, 204)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 201)
    claims = spa.submit()
    assert claims["email"] == email and claims["email_verified"] is True
    assert lab.messages_to(email)[-1]["Subject"] == "SignIn code"

    again = Spa(lab, scope="openid email")
    again.event("SignIn")
    verification_id = again.email_verified(email, "SignIn")
    again.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    assert again.submit()["sub"] == claims["sub"]


def test_code_attempts_are_limited(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN, verificationCodePolicy={"maxRetryAttempts": 2})
    user = lab_user(lab)
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.send_code(user.email, "SignIn")
    right = lab.code_for(user.email)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    codes = [spa.verify_code(user.email, verification_id, wrong).json()["code"] for _ in range(3)]
    assert codes == ["verification_code.code_mismatch"] * 2 + ["verification_code.exceed_max_try"]
    late = spa.verify_code(user.email, verification_id, right)
    assert late.status_code == 400 and late.json()["code"] == "verification_code.exceed_max_try"
    spa.fails("POST", "/experience/identification", {"verificationId": verification_id}, 400,
              "session.verification_failed")  # fmt: skip


def test_code_sends_are_rate_limited(lab: Lab) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    email = address()
    spa = Spa(lab)
    spa.event("SignIn")
    body = {"identifier": {"type": "email", "value": email}, "interactionEvent": "SignIn"}
    replies = [spa.call("POST", "/experience/verification/verification-code", body)
               for _ in range(11)]  # fmt: skip
    assert [r.status_code for r in replies] == [200] * 10 + [429]
    assert replies[-1].json()["code"] == "verification_code.too_many_requests"
    assert len(lab.messages_to(email)) == 10


def test_missing_profile_on_submit_then_fulfilled(lab: Lab) -> None:
    """Sign-up now requires an email: a user without one signs in, is asked for it at
    submit, proves it with a code and is let in with it."""
    lab.configure(**EMAIL_WITH_PASSWORD)
    name = unique("noemail")
    created = lab.api.post("/api/users", json={"username": name, "password": PASSWORD})
    assert created.status_code == 200, created.text
    spa = Spa(lab, scope="openid email")
    spa.event("SignIn")
    verification_id = spa.password("username", name, PASSWORD)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    missing = spa.fails("POST", "/experience/submit", None, 422, "user.missing_profile")
    assert missing["data"] == {"missingProfile": ["email"]}
    email = address()
    verification_id = spa.email_verified(email, "SignIn")
    spa.ok("POST", "/experience/profile", {"type": "email", "verificationId": verification_id},
           204)  # fmt: skip
    claims = spa.submit()
    assert claims["sub"] == created.json()["id"] and claims["email"] == email


def test_disabled_methods_and_sign_in_mode_are_refused(lab: Lab) -> None:
    user = lab_user(lab)  # Logto's defaults: username + password only
    spa = Spa(lab)
    spa.event("SignIn")
    body = {"identifier": {"type": "email", "value": user.email}, "password": PASSWORD}
    spa.fails("POST", "/experience/verification/password", body, 422,
              "user.sign_in_method_not_enabled")  # fmt: skip
    phone = {"identifier": {"type": "phone", "value": "+1 555 0100"}, "interactionEvent": "SignIn"}
    spa.fails("POST", "/experience/verification/verification-code", phone, 422,
              "user.sign_in_method_not_enabled")  # fmt: skip
    code = {"identifier": {"type": "email", "value": user.email}, "interactionEvent": "SignIn"}
    register = {**code, "interactionEvent": "Register"}
    spa.fails("POST", "/experience/verification/verification-code", register, 422,
              "user.sign_up_method_not_enabled")  # fmt: skip
    forgot = {**code, "interactionEvent": "ForgotPassword"}
    spa.fails("POST", "/experience/verification/verification-code", forgot, 422,
              "session.forgot_password_not_enabled")  # fmt: skip
    assert lab.messages_to(user.email) == []
    lab.configure(signInMode="SignIn")
    spa.fails("PUT", "/experience", {"interactionEvent": "Register"}, 403, "auth.forbidden")


# --- forgot password -----------------------------------------------------------------------------
def test_forgot_password_then_sign_in_with_the_new_one(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    spa = Spa(lab)
    spa.event("ForgotPassword")
    signed_in_code = spa.email_verified(user.email, "SignIn")  # proves the address, but
    spa.fails("POST", "/experience/identification", {"verificationId": signed_in_code}, 400,
              "session.verification_failed")  # not for this purpose  # fmt: skip
    verification_id = spa.email_verified(user.email, "ForgotPassword")
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    spa.fails("POST", "/experience/submit", None, 422, "user.new_password_required_in_profile")
    spa.fails("PUT", "/experience/profile/password", {"password": "short"}, 422,
              "password.rejected")  # fmt: skip
    spa.ok("PUT", "/experience/profile/password", {"password": STRONG}, 204)
    spa.ok("POST", "/experience/submit", None, 204)
    assert lab.messages_to(user.email)[-1]["Subject"] == "ForgotPassword code"

    again = Spa(lab)
    again.event("SignIn")
    body = {"identifier": {"type": "email", "value": user.email}, "password": PASSWORD}
    again.fails("POST", "/experience/verification/password", body, 422,
                "session.invalid_credentials")  # fmt: skip
    verification_id = again.password("email", user.email, STRONG)
    again.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    assert again.submit()["sub"] == user.id


# --- social --------------------------------------------------------------------------------------
@pytest.fixture
def kakao(lab: Lab, kakao_server: tuple[FakeKakao, str]) -> FakeKakao:
    fake, connector_id = kakao_server
    fake.fault = None
    fake.connector_id = connector_id  # type: ignore[attr-defined]
    lab.configure(socialSignInConnectorTargets=["kakao"], **SOCIAL_ONLY)
    return fake


def social_verified(spa: Spa, kakao: FakeKakao) -> str:
    """authorization-uri -> Kakao's consent -> the callback's parameters -> verify."""
    cid = kakao.connector_id  # type: ignore[attr-defined]
    redirect_uri = f"{spa.lab.server.endpoint}/callback/{cid}"
    started = spa.ok("POST", f"/experience/verification/social/{cid}/authorization-uri",
                     {"state": "spa-state-1234", "redirectUri": redirect_uri})  # fmt: skip
    assert started["authorizationUri"].startswith(f"{kakao.base}/oauth/authorize?")
    back = query_of(consent(kakao, started["authorizationUri"]))
    assert back["state"] == "spa-state-1234"
    verified = spa.ok("POST", f"/experience/verification/social/{cid}/verify",
                      {"verificationId": started["verificationId"],
                       "connectorData": {**back, "redirectUri": redirect_uri}})  # fmt: skip
    return verified["verificationId"]  # type: ignore[no-any-return]


def test_social_sign_up_after_404_then_sign_in(lab: Lab, kakao: FakeKakao) -> None:
    kakao_id = new_id()
    kakao.next_user = kakao_user(kakao_id, "김카카오", f"k{kakao_id}@example.com")
    spa = Spa(lab, scope="openid profile email identities")
    spa.event("SignIn")
    verification_id = social_verified(spa, kakao)
    spa.fails("POST", "/experience/identification", {"verificationId": verification_id}, 404,
              "user.identity_not_exist")  # fmt: skip
    spa.ok("PUT", "/experience/interaction-event", {"interactionEvent": "Register"}, 204)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 201)
    claims = spa.submit()
    assert claims["name"] == "김카카오"
    assert claims["identities"]["kakao"]["userId"] == str(kakao_id)

    kakao.next_user = kakao_user(kakao_id, "김카카오", f"k{kakao_id}@example.com")
    again = Spa(lab)
    again.event("SignIn")
    verification_id = social_verified(again, kakao)
    again.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    assert again.submit()["sub"] == claims["sub"]


def test_social_state_is_checked_and_single_use(lab: Lab, kakao: FakeKakao) -> None:
    spa = Spa(lab)
    spa.event("SignIn")
    cid = kakao.connector_id  # type: ignore[attr-defined]
    redirect_uri = f"{lab.server.endpoint}/callback/{cid}"
    started = spa.ok("POST", f"/experience/verification/social/{cid}/authorization-uri",
                     {"state": "right-state", "redirectUri": redirect_uri})  # fmt: skip
    back = query_of(consent(kakao, started["authorizationUri"]))
    body = {"verificationId": started["verificationId"],
            "connectorData": {**back, "state": "forged", "redirectUri": redirect_uri}}  # fmt: skip
    path = f"/experience/verification/social/{cid}/verify"
    spa.fails("POST", path, body, 400, "session.connector_session_not_found")
    body["connectorData"]["state"] = "right-state"
    spa.fails("POST", path, body, 400, "session.connector_session_not_found")  # spent
    spa.fails("POST", "/experience/verification/social/nope/authorization-uri",
              {"state": "s", "redirectUri": redirect_uri}, 404, "connector.not_found")  # fmt: skip


def test_social_link_to_an_existing_account_on_request(lab: Lab, kakao: FakeKakao) -> None:
    user = lab_user(lab)
    kakao.next_user = kakao_user(new_id(), "Linked", user.email)
    spa = Spa(lab, scope="openid identities")
    spa.event("SignIn")
    verification_id = social_verified(spa, kakao)
    error = spa.fails("POST", "/experience/identification", {"verificationId": verification_id},
                      404, "user.identity_not_exist")  # fmt: skip
    assert error["data"] == {"relatedUser": {"type": "email"}}
    spa.ok("POST", "/experience/identification",
           {"verificationId": verification_id, "linkSocialIdentity": True}, 204)  # fmt: skip
    claims = spa.submit()
    assert claims["sub"] == user.id and "kakao" in claims["identities"]


# --- consent -------------------------------------------------------------------------------------
def test_consent_for_third_party_apps(lab: Lab) -> None:
    third = make_app(lab.server, "Traditional", is_third_party=True)
    user = lab_user(lab)
    spa = Spa(lab, third.id, third.redirect_uri, scope="openid profile email")
    spa.event("SignIn")
    spa.fails("POST", "/interaction/consent", {}, 401, "session.unauthorized")
    verification_id = spa.password("username", user.username, PASSWORD)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    redirect_to = spa.ok("POST", "/experience/submit")["redirectTo"]
    to_consent = spa.browser.get(redirect_to)
    assert to_consent.headers["location"] == "/consent"
    info = spa.ok("GET", "/interaction/consent")
    assert info["application"] == {"id": third.id, "name": info["application"]["name"],
                                   "isThirdParty": True}  # fmt: skip
    assert info["user"] == {"id": user.id}
    assert set(info["missingOIDCScope"]) == {"profile", "email"}
    redirect_to = spa.ok("POST", "/interaction/consent", {})["redirectTo"]
    back = spa.browser.follow_until_external(spa.browser.get(redirect_to))
    code = query_of(back.headers["location"])["code"]
    token = httpx.post(f"{lab.server.endpoint}/oidc/token", headers=third.basic(), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": third.redirect_uri,
        "code_verifier": spa.verifier})  # fmt: skip
    assert token.status_code == 200, token.text


def test_consent_through_the_api_grants_only_the_organizations_named(lab: Lab) -> None:
    third = make_app(lab.server, "Traditional", is_third_party=True)
    user = lab_user(lab)
    orgs = [lab.api.post("/api/organizations", json={"name": unique(n)}).json()
            for n in ("acme", "globex")]  # fmt: skip
    for org in orgs:
        added = lab.api.post(f"/api/organizations/{org['id']}/users", json={"userIds": [user.id]})
        assert added.status_code == 201, added.text
    spa = Spa(lab, third.id, third.redirect_uri, scope="openid urn:logto:scope:organizations")
    spa.event("SignIn")
    verification_id = spa.password("username", user.username, PASSWORD)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    spa.browser.get(spa.ok("POST", "/experience/submit")["redirectTo"])
    info = spa.ok("GET", "/interaction/consent")
    assert sorted(o["id"] for o in info["organizations"]) == sorted(o["id"] for o in orgs)
    chosen = {"organizationIds": [orgs[0]["id"]]}
    redirect_to = spa.ok("POST", "/interaction/consent", chosen)["redirectTo"]
    back = spa.browser.follow_until_external(spa.browser.get(redirect_to))
    code = query_of(back.headers["location"])["code"]
    token = httpx.post(f"{lab.server.endpoint}/oidc/token", headers=third.basic(), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": third.redirect_uri,
        "code_verifier": spa.verifier})  # fmt: skip
    assert token.status_code == 200, token.text
    userinfo = httpx.get(
        f"{lab.server.endpoint}/oidc/me",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert userinfo.json()["organizations"] == [orgs[0]["id"]]  # only the one granted


# --- the request itself --------------------------------------------------------------------------
def test_cross_site_form_posts_cannot_drive_the_api(lab: Lab) -> None:
    """What an HTML form on another site can send (urlencoded, multipart, text/plain) is
    refused before anything runs, even with the cookie (which SameSite=Lax withholds from a
    cross-site POST anyway)."""
    user = lab_user(lab)
    spa = Spa(lab)
    spa.event("SignIn")
    path = "/experience/verification/password"
    form = {"identifier[type]": "username", "identifier[value]": user.username,
            "password": PASSWORD}  # fmt: skip
    for reply in (
        spa.call("POST", path, data=form),
        spa.call("POST", path, files={"password": ("p", b"x")}),
        spa.call("POST", path, content=b'{"password": 1}', headers={"content-type": "text/plain"}),
    ):
        assert reply.status_code == 415 and reply.json()["code"] == "guard.invalid_input"
    assert spa.ok("GET", "/experience/interaction")["verificationRecords"] == []
    assert "samesite=lax" in spa.set_cookie.lower()


def test_bodies_are_validated_and_the_cookie_is_required(lab: Lab) -> None:
    spa = Spa(lab)
    spa.fails("PUT", "/experience", {"interactionEvent": "SignIn", "extra": 1}, 400,
              "guard.invalid_input")  # fmt: skip
    spa.fails("PUT", "/experience", {"interactionEvent": "Dance"}, 400, "guard.invalid_input")
    spa.fails("POST", "/experience/identification", {"verificationId": "nope"}, 404,
              "session.verification_session_not_found")  # fmt: skip
    stranger = httpx.put(f"{lab.server.endpoint}/api/experience",
                         json={"interactionEvent": "SignIn"})  # fmt: skip
    assert (stranger.status_code, stranger.json()["code"]) == (400, "session.not_found")


def test_features_not_offered_answer_not_enabled(lab: Lab) -> None:
    spa = Spa(lab)
    spa.fails("POST", "/experience/verification/one-time-token/verify", {}, 404,
              "one_time_token.token_not_found")  # fmt: skip
    spa.fails(
        "POST",
        "/experience/verification/sso/abc/authorization-uri",
        {"state": "s", "redirectUri": "http://localhost:3000/cb"},
        404,
        "connector.not_found",
    )  # fmt: skip (enterprise SSO: issue 34)
    assert spa.ok("GET", "/experience/sso-connectors?email=a@b.c") == {"connectorIds": []}


def test_a_code_for_fulfilment_is_not_a_sign_in_method(lab: Lab) -> None:
    """Sign-up requires an email but email is no sign-in method: a code may be sent to add
    the email to a profile, but it does not identify anyone."""
    lab.configure(
        signUp={
            "identifiers": ["username"],
            "password": True,
            "verify": True,
            "secondaryIdentifiers": [{"identifier": "email", "verify": True}],
        }
    )
    user = lab_user(lab)
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.email_verified(user.email, "SignIn")
    spa.fails("POST", "/experience/identification", {"verificationId": verification_id}, 422,
              "user.sign_in_method_not_enabled")  # fmt: skip
