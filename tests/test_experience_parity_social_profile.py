"""Parity of the hosted pages and the Experience API (see ``test_experience_parity.py``) for
social sign-in and profile fulfilment: the same Kakao account, or the same incomplete
profile, driven through each front end ends with the same user, the same stored profile (read
back through the Management API), the same audit entries and the same questions asked on the
way (the page's /continue or /password form, the API's ``user.missing_profile``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fake_kakao import FakeKakao, kakao_user
from tests.lab import EMAIL_WITH_PASSWORD, Lab, submit
from tests.support import Browser, as_redirect, unique
from tests.test_experience_api import Spa, social_verified
from tests.test_experience_flows import finish, start
from tests.test_social_kakao import EMAIL_REQUIRED, SCOPES, SOCIAL_ONLY, consent, new_id, to_kakao

STRONG = "violet-harbour-cactus-49"
OTHER = {"page": "api", "api": "page"}
# Sign-up asks for a username and a password; email codes and usernames sign in.
USERNAME_AND_PASSWORD = {
    "signUp": {"identifiers": ["username"], "password": True, "verify": True,
               "secondaryIdentifiers": []},
    "signIn": {"methods": [
        {"identifier": "email", "password": False, "verificationCode": True,
         "isPasswordPrimary": False},
        {"identifier": "username", "password": True, "verificationCode": False,
         "isPasswordPrimary": True},
    ]},
}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What a front end ended with: the signed-in user's id or an error named as in
    :data:`ERRORS`, and what profile fulfilment asked for on the way, in Logto's
    ``missingProfile`` names (the page's /continue and /password forms, the API's 422s)."""

    user_id: str | None = None
    error: str | None = None
    asked: tuple[str, ...] = field(default=())


# Equivalent answers: the page's status and where it sends the browser, or its message; the
# Experience API's status and code.
ERRORS = {
    # A provider account whose verified email is someone's, without automatic linking.
    "link_offered": (303, "/social/link", 404, "user.identity_not_exist"),
}
# What the /continue page says for each need it can ask (messages.po,
# ``description.complete_profile_<need>``).
NEEDS = {
    "username": "Choose a username to finish setting up your account.",
    "email": "Add an email address to finish setting up your account.",
    "phone": "Add a phone number to finish setting up your account.",
    "emailOrPhone": "Add an email address or phone number to finish setting up your account.",
}


def _page_error(response: httpx.Response) -> str:
    for name, (status, said, _, _) in ERRORS.items():
        where = response.headers.get("location")
        if response.status_code == status and (said == where or said in response.text):
            return name
    raise AssertionError((response.status_code, response.headers, response.text[:300]))


def _api_error(response: httpx.Response) -> str:
    for name, (_, _, status, code) in ERRORS.items():
        if response.status_code == status and response.json().get("code") == code:
            return name
    raise AssertionError((response.status_code, response.text))


# --- the pages --------------------------------------------------------------------------------


def _page_fulfil(
    lab: Lab, browser: Browser, location: str, provide: dict[str, str]
) -> tuple[str, httpx.Response]:
    """Answer one fulfilment page: what it asked for, and the response to the answer."""
    form = browser.get(location)
    assert form.status_code == 200, (location, form.status_code, form.text[:300])
    if location == "/password":
        value = provide["password"]
        return "password", submit(browser, form, "/password", password=value, confirm=value)
    need = next((n for n, said in NEEDS.items() if said in form.text), None)
    assert need is not None, form.text[:600]
    value = provide[need]
    before = len(lab.messages_to(value))
    sent = submit(browser, form, "/continue", identifier=value)
    if need == "username" or sent.headers.get("location") != "/verification-code":
        return need, sent
    code_page = browser.get("/verification-code")
    code = lab.code_for(value, after=before)
    return need, submit(browser, code_page, "/verification-code", code=code)


def page_onward(
    lab: Lab, browser: Browser, done: httpx.Response, verifier: str, provide: dict[str, str]
) -> Outcome:
    """From a page's answer to a step: fulfil what is asked, then finish or name the error."""
    asked: list[str] = []
    while done.status_code == 303 and done.headers["location"] in ("/continue", "/password"):
        assert len(asked) < 4, asked
        need, done = _page_fulfil(lab, browser, done.headers["location"], provide)
        asked.append(need)
    location = done.headers.get("location", "")
    if done.status_code != 303 or not location.startswith("/oidc/auth/"):
        return Outcome(error=_page_error(done), asked=tuple(asked))
    return Outcome(user_id=finish(lab, browser, done, verifier)["sub"], asked=tuple(asked))


def page_social(lab: Lab, kakao: FakeKakao, provide: dict[str, str] | None = None) -> Outcome:
    """The Kakao button -> Kakao's consent -> /callback/<id> -> whatever comes next."""
    browser = lab.browser()
    authorize, verifier = to_kakao(lab, kakao, browser)
    back = as_redirect(browser.client.get(consent(kakao, authorize)))
    return page_onward(lab, browser, back, verifier, provide or {})


def page_password(
    lab: Lab, identifier: str, password: str, provide: dict[str, str] | None = None
) -> Outcome:
    browser = lab.browser()
    page, verifier = start(lab, browser)
    done = submit(browser, page, "/sign-in", identifier=identifier, password=password)
    return page_onward(lab, browser, done, verifier, provide or {})


def page_code(lab: Lab, address: str, provide: dict[str, str] | None = None) -> Outcome:
    browser = lab.browser()
    page, verifier = start(lab, browser)
    before = len(lab.messages_to(address))
    sent = submit(browser, page, "/sign-in", identifier=address)
    assert sent.headers.get("location") == "/verification-code", sent.text[:300]
    code_page = browser.get("/verification-code")
    done = submit(browser, code_page, "/verification-code",
                  code=lab.code_for(address, after=before))  # fmt: skip
    return page_onward(lab, browser, done, verifier, provide or {})


# --- the Experience API -----------------------------------------------------------------------


def _missing(reply: httpx.Response) -> str | None:
    """The first thing a ``user.missing_profile`` answer asks for (None for any other)."""
    if reply.status_code != 422 or reply.json().get("code") != "user.missing_profile":
        return None
    needs = reply.json()["data"]["missingProfile"]
    assert needs and isinstance(needs, list), reply.text
    return str(needs[0])


def _api_fulfil(spa: Spa, need: str, provide: dict[str, str], event: str) -> None:
    """What Logto's SPA does on ``user.missing_profile``: prove an address with a code and
    add it, or add the username or password, with ``POST /experience/profile``."""
    value = provide[need]
    if need == "email":
        verification_id = spa.email_verified(value, event)
        body = {"type": "email", "verificationId": verification_id}
    else:
        body = {"type": need, "value": value}
    spa.ok("POST", "/experience/profile", body, 204)


def api_submit(
    spa: Spa, provide: dict[str, str], event: str, asked: list[str] | None = None
) -> Outcome:
    """``POST submit`` until the profile is complete; then the browser follows
    ``redirectTo`` to the client and redeems the code."""
    asked = asked if asked is not None else []
    reply = spa.call("POST", "/experience/submit")
    while need := _missing(reply):
        assert len(asked) < 4, asked
        asked.append(need)
        _api_fulfil(spa, need, provide, event)
        reply = spa.call("POST", "/experience/submit")
    if reply.status_code != 200:
        return Outcome(error=_api_error(reply), asked=tuple(asked))
    redirect_to = reply.json()["redirectTo"]
    claims = finish(spa.lab, spa.browser, spa.browser.get(redirect_to), spa.verifier)
    return Outcome(user_id=claims["sub"], asked=tuple(asked))


def api_register(spa: Spa, provide: dict[str, str], body: dict[str, Any]) -> Outcome:
    """Register: ``identification`` creates the account (201) once the profile the sign-up
    configuration requires is complete, else answers ``user.missing_profile``."""
    asked: list[str] = []
    reply = spa.call("POST", "/experience/identification", body)
    while need := _missing(reply):
        assert len(asked) < 4, asked
        asked.append(need)
        _api_fulfil(spa, need, provide, "Register")
        reply = spa.call("POST", "/experience/identification")
    if reply.status_code != 201:
        return Outcome(error=_api_error(reply), asked=tuple(asked))
    return api_submit(spa, provide, "Register", asked)


def api_social(lab: Lab, kakao: FakeKakao, provide: dict[str, str] | None = None) -> Outcome:
    """authorization-uri -> Kakao -> verify -> identification; as Logto's SPA, an identity
    no account has (and no account's address) registers, with the same verification."""
    spa = Spa(lab, scope=SCOPES)
    spa.event("SignIn")
    verification_id = social_verified(spa, kakao)
    body = {"verificationId": verification_id}
    identified = spa.call("POST", "/experience/identification", body)
    unknown = (identified.status_code, identified.json().get("code") if identified.content
               else None) == (404, "user.identity_not_exist")  # fmt: skip
    if unknown and not identified.json().get("data"):
        spa.ok("PUT", "/experience/interaction-event", {"interactionEvent": "Register"}, 204)
        return api_register(spa, provide or {}, body)
    if identified.status_code != 204:
        return Outcome(error=_api_error(identified))
    return api_submit(spa, provide or {}, "SignIn")


def api_password(
    lab: Lab, identifier: str, password: str, provide: dict[str, str] | None = None
) -> Outcome:
    spa = Spa(lab)
    spa.event("SignIn")
    kind = "email" if "@" in identifier else "username"
    verification_id = spa.password(kind, identifier, password)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    return api_submit(spa, provide or {}, "SignIn")


def api_code(lab: Lab, address: str, provide: dict[str, str] | None = None) -> Outcome:
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.email_verified(address, "SignIn")
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    return api_submit(spa, provide or {}, "SignIn")


FRONT_ENDS: dict[str, dict[str, Callable[..., Outcome]]] = {
    "page": {"social": page_social, "password": page_password, "code": page_code},
    "api": {"social": api_social, "password": api_password, "code": api_code},
}


# --- what is stored -------------------------------------------------------------------------


def _sign_in_keys(lab: Lab, user_id: str) -> list[str]:
    logs = lab.api.get("/api/logs", params={"userId": user_id, "page_size": 100}).json()
    return sorted(e["key"] for e in logs if e["key"].startswith("Interaction."))


def _social_targets(lab: Lab, user_id: str) -> list[str | None]:
    """The provider each sign-in's audit entry names, oldest first."""
    logs = lab.api.get("/api/logs", params={"userId": user_id, "page_size": 100}).json()
    return [e["payload"].get("socialTarget") for e in reversed(logs)
            if e["key"].endswith(".Submit") and e["key"].startswith("Interaction.")]  # fmt: skip


def stored(lab: Lab, user_id: str) -> dict[str, Any]:
    """The user as the Management API shows it: the fields a sign-in can set."""
    reply = lab.api.get(f"/api/users/{user_id}")
    assert reply.status_code == 200, reply.text
    user = reply.json()
    kakao = user["identities"].get("kakao")
    return {
        "name": user["name"],
        "username": user["username"],
        "primaryEmail": user["primaryEmail"],
        "hasPassword": user["hasPassword"],
        "kakao": kakao and kakao["userId"],
    }


def users_named(lab: Lab, name: str) -> list[str]:
    reply = lab.api.get("/api/users", params={"search.name": name, "mode": "exact"})
    assert reply.status_code == 200, reply.text
    return [u["id"] for u in reply.json()]


@pytest.fixture
def kakao(lab: Lab, kakao_server: tuple[FakeKakao, str]) -> FakeKakao:
    """The fake Kakao behind the lab's ``kakao-universal`` connector, listed as a button."""
    fake, connector_id = kakao_server
    fake.fault = None
    fake.connector_id = connector_id  # type: ignore[attr-defined]
    lab.configure(socialSignInConnectorTargets=["kakao"])
    return fake


def a_kakao_account(kakao: FakeKakao, email: str | None, **kwargs: Any) -> tuple[int, str]:
    """A new Kakao account, the next to consent; its id and nickname."""
    kakao_id = new_id()
    nickname = f"카카오{kakao_id}"
    kakao.next_user = kakao_user(kakao_id, nickname, email, **kwargs)
    return kakao_id, nickname


def lab_user_with_email(lab: Lab) -> dict[str, Any]:
    """A user with a username, an email and a password, made through the Management API."""
    name = unique("owner")
    created = lab.api.post("/api/users", json={
        "username": name, "primaryEmail": f"{name}@example.com", "password": STRONG,
        "name": f"Owner {name}"})  # fmt: skip
    assert created.status_code == 200, created.text
    return created.json()  # type: ignore[no-any-return]


# --- social sign-in -------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "again"), [("page", "api"), ("api", "page")])
def test_social_sign_up_then_sign_in_through_the_other_front_end(
    lab: Lab, kakao: FakeKakao, first: str, again: str
) -> None:
    """The first sign-in with a Kakao account creates its user from Kakao's profile; the
    next, through the other front end, signs that same user in and creates nobody."""
    lab.configure(**SOCIAL_ONLY)
    address = f"k{new_id()}@example.com"
    kakao_id, nickname = a_kakao_account(kakao, address)
    created = FRONT_ENDS[first]["social"](lab, kakao)
    assert created.error is None and created.asked == (), created
    user_id = created.user_id
    assert user_id is not None
    assert stored(lab, user_id) == {"name": nickname, "username": None, "primaryEmail": address,
                                    "hasPassword": False, "kakao": str(kakao_id)}  # fmt: skip
    assert _sign_in_keys(lab, user_id) == ["Interaction.Register.Submit"]

    kakao.next_user = kakao_user(kakao_id, nickname, address)
    assert FRONT_ENDS[again]["social"](lab, kakao) == Outcome(user_id=user_id)
    assert users_named(lab, nickname) == [user_id]
    assert _sign_in_keys(lab, user_id) == ["Interaction.Register.Submit",
                                           "Interaction.SignIn.Submit"]  # fmt: skip
    assert _social_targets(lab, user_id) == ["kakao", "kakao"]


@pytest.mark.parametrize("front", ["page", "api"])
def test_social_sign_up_without_an_email(lab: Lab, kakao: FakeKakao, front: str) -> None:
    """Nothing required, nothing given: the account has Kakao's name and no address."""
    lab.configure(**SOCIAL_ONLY)
    kakao_id, nickname = a_kakao_account(kakao, None)
    outcome = FRONT_ENDS[front]["social"](lab, kakao)
    assert outcome.user_id and outcome == Outcome(user_id=outcome.user_id)
    assert stored(lab, outcome.user_id) == {"name": nickname, "username": None,
                                            "primaryEmail": None, "hasPassword": False,
                                            "kakao": str(kakao_id)}  # fmt: skip


@pytest.mark.parametrize("front", ["page", "api"])
def test_automatic_linking_signs_in_the_owner_of_the_email(
    lab: Lab, kakao: FakeKakao, front: str
) -> None:
    """A Kakao account whose verified email is an existing user's signs that user in and
    links the identity to it; then either front end signs in by Kakao alone."""
    existing = lab_user_with_email(lab)
    lab.configure(socialSignIn={"automaticAccountLinking": True})
    kakao_id, nickname = a_kakao_account(kakao, existing["primaryEmail"].upper())
    assert FRONT_ENDS[front]["social"](lab, kakao) == Outcome(user_id=existing["id"])
    assert stored(lab, existing["id"]) == {
        "name": existing["name"], "username": existing["username"],
        "primaryEmail": existing["primaryEmail"], "hasPassword": True, "kakao": str(kakao_id),
    }  # fmt: skip
    assert users_named(lab, nickname) == []  # nobody was created with Kakao's name
    assert _sign_in_keys(lab, existing["id"]) == ["Interaction.SignIn.Submit"]
    assert _social_targets(lab, existing["id"]) == ["kakao"]

    lab.configure(socialSignIn={"automaticAccountLinking": False})  # the identity is enough
    kakao.next_user = kakao_user(kakao_id, nickname, existing["primaryEmail"])
    assert FRONT_ENDS[OTHER[front]]["social"](lab, kakao) == Outcome(user_id=existing["id"])
    assert _sign_in_keys(lab, existing["id"]) == ["Interaction.SignIn.Submit"] * 2


@pytest.mark.parametrize("front", ["page", "api"])
def test_without_automatic_linking_the_owner_is_asked_to_link(
    lab: Lab, kakao: FakeKakao, front: str
) -> None:
    """Automatic linking off: neither front end signs anyone in or links anything; both offer
    to link to the account the email belongs to (the page /social/link, the API the
    ``relatedUser``)."""
    existing = lab_user_with_email(lab)
    lab.configure(socialSignIn={"automaticAccountLinking": False})
    a_kakao_account(kakao, existing["primaryEmail"])
    assert FRONT_ENDS[front]["social"](lab, kakao) == Outcome(error="link_offered")
    assert stored(lab, existing["id"])["kakao"] is None
    assert _sign_in_keys(lab, existing["id"]) == []


def test_the_api_names_the_related_account_by_its_kind(lab: Lab, kakao: FakeKakao) -> None:
    """The API's side of ``link_offered``: Logto's ``data.relatedUser``."""
    existing = lab_user_with_email(lab)
    a_kakao_account(kakao, existing["primaryEmail"])
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = social_verified(spa, kakao)
    refused = spa.fails("POST", "/experience/identification", {"verificationId": verification_id},
                        404, "user.identity_not_exist")  # fmt: skip
    assert refused["data"] == {"relatedUser": {"type": "email"}}


# --- profile fulfilment ----------------------------------------------------------------------


@pytest.mark.parametrize("front", ["page", "api"])
def test_a_missing_email_is_asked_for_and_proven_at_sign_in(lab: Lab, front: str) -> None:
    """Sign-up now requires an email; a user from before signs in with username and
    password, is asked for an address, proves it with a code and is signed in with it."""
    lab.configure(**EMAIL_WITH_PASSWORD)
    name = unique("noemail")
    created = lab.api.post("/api/users", json={"username": name, "password": STRONG})
    assert created.status_code == 200, created.text
    user_id = created.json()["id"]
    address = f"{name}@example.com"
    outcome = FRONT_ENDS[front]["password"](lab, name, STRONG, {"email": address})
    assert outcome == Outcome(user_id=user_id, asked=("email",))
    assert stored(lab, user_id) == {"name": None, "username": name, "primaryEmail": address,
                                    "hasPassword": True, "kakao": None}  # fmt: skip
    assert _sign_in_keys(lab, user_id) == ["Interaction.SignIn.Submit"]
    # The address is the account's now: it signs in through the other front end.
    assert FRONT_ENDS[OTHER[front]]["password"](lab, address, STRONG) == Outcome(user_id=user_id)


@pytest.mark.parametrize("front", ["page", "api"])
def test_a_missing_username_then_password_at_sign_in(lab: Lab, front: str) -> None:
    """Sign-up requires a username and a password; a user with only an email signs in by a
    code, and is asked for both, one after the other, in the same order on both fronts."""
    lab.configure(**USERNAME_AND_PASSWORD)
    address = f"{unique('nouser')}@example.com"
    created = lab.api.post("/api/users", json={"primaryEmail": address})
    assert created.status_code == 200, created.text
    user_id = created.json()["id"]
    name = unique("chosen")
    provide = {"username": name, "password": STRONG}
    outcome = FRONT_ENDS[front]["code"](lab, address, provide)
    assert outcome == Outcome(user_id=user_id, asked=("username", "password"))
    assert stored(lab, user_id) == {"name": None, "username": name, "primaryEmail": address,
                                    "hasPassword": True, "kakao": None}  # fmt: skip
    assert _sign_in_keys(lab, user_id) == ["Interaction.SignIn.Submit"]
    assert FRONT_ENDS[OTHER[front]]["password"](lab, name, STRONG) == Outcome(user_id=user_id)


@pytest.mark.parametrize("front", ["page", "api"])
def test_social_sign_up_asks_for_the_email_kakao_did_not_give(
    lab: Lab, kakao: FakeKakao, front: str
) -> None:
    """Sign-up requires an email and Kakao gives none: the new account waits for an address
    proven by a code, then has it, Kakao's name and the identity."""
    lab.configure(**EMAIL_REQUIRED)
    kakao_id, nickname = a_kakao_account(kakao, None)
    address = f"fulfil{kakao_id}@example.com"
    outcome = FRONT_ENDS[front]["social"](lab, kakao, {"email": address})
    assert outcome.user_id and outcome == Outcome(user_id=outcome.user_id, asked=("email",))
    assert stored(lab, outcome.user_id) == {"name": nickname, "username": None,
                                            "primaryEmail": address, "hasPassword": False,
                                            "kakao": str(kakao_id)}  # fmt: skip
    assert _sign_in_keys(lab, outcome.user_id) == ["Interaction.Register.Submit"]
    assert users_named(lab, nickname) == [outcome.user_id]
    # Complete now: Kakao alone signs in through the other front end, nothing asked.
    kakao.next_user = kakao_user(kakao_id, nickname, None)
    assert FRONT_ENDS[OTHER[front]]["social"](lab, kakao) == Outcome(user_id=outcome.user_id)
    assert FRONT_ENDS[OTHER[front]]["code"](lab, address) == Outcome(user_id=outcome.user_id)
