"""One mailbox is one account however its address is typed: fullwidth letters, composed or
decomposed accents, a fullwidth or internationalised domain all reach the same account, on
every surface an identifier enters by (pages, Experience API, Management API, import, social
profiles); invisible characters are refused rather than dropped."""

from __future__ import annotations

import unicodedata

import pytest

from portico.connectors.kit import SocialUserInfo
from portico.experience.verifications.social import normalised
from portico.services.emails import canonical
from tests.conftest import PASSWORD, lab_user
from tests.lab import EMAIL_WITH_PASSWORD, Lab, submit
from tests.support import authorize_url, unique
from tests.test_experience_api import Spa

FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def fullwidth(text: str) -> str:
    return "".join(FULLWIDTH.get(ch, ch) for ch in text)


@pytest.mark.parametrize(
    "typed,stored",
    [
        (fullwidth("ALICE") + "@example.com", "alice@example.com"),
        ("alice@" + fullwidth("example") + ".com", "alice@example.com"),
        ("e\u0301ve@example.com", "\u00e9ve@example.com"),  # NFD -> NFC
        ("Eve@B\u00fccher.DE", "eve@b\u00fccher.de"),
        ("eve@xn--bcher-kva.de", "eve@b\u00fccher.de"),  # one form for IDN domains
        ("  Bob@Example.COM ", "bob@example.com"),
        ("al\u200dice@example.com", None),  # zero-width joiner
        ("ali\u00adce@example.com", None),  # soft hyphen
        ("ali ce@example.com", None),
        ("alice@exa\u200bmple.com", None),
        ("no-at-sign", None),
    ],
)
def test_one_form_for_an_address(typed: str, stored: str | None) -> None:
    assert canonical(typed) == stored


def test_social_profiles_take_the_same_form() -> None:
    info = normalised(SocialUserInfo(id="1", email=fullwidth("Bob") + "@example.com",
                                     phone="\uff0b1 415 555 2671"))  # fmt: skip
    assert (info.email, info.phone) == ("bob@example.com", "14155552671")


def _twin_spellings(address: str) -> list[str]:
    local, domain = address.split("@")
    return [
        fullwidth(local.upper()) + "@" + domain,
        local + "@" + ".".join(fullwidth(label) for label in domain.split(".")),
        unicodedata.normalize("NFD", local) + "@" + domain.upper(),
    ]


def test_the_management_api_refuses_a_second_account_for_the_same_mailbox(lab: Lab) -> None:
    address = unique("c\u00e9line") + "@example.com"
    first = lab.api.post("/api/users", json={"primaryEmail": address})
    assert first.status_code == 200, first.text
    assert first.json()["primaryEmail"] == unicodedata.normalize("NFC", address)
    for twin in _twin_spellings(address):
        again = lab.api.post("/api/users", json={"primaryEmail": twin})
        assert again.status_code == 422, (twin, again.text)
        assert again.json()["code"] == "user.email_already_in_use"
    hidden = lab.api.post("/api/users", json={"primaryEmail": "zw\u200dj-" + address})
    assert hidden.status_code == 400, hidden.text
    name = unique("wide")
    assert lab.api.post("/api/users", json={"username": name}).status_code == 200
    # The API's schema takes ASCII usernames only (Logto's rule): the twin is refused there.
    twin_name = lab.api.post("/api/users", json={"username": fullwidth(name)})
    assert twin_name.status_code == 400, twin_name.text


def test_pages_and_the_experience_api_find_the_account_by_any_spelling(lab: Lab) -> None:
    lab.configure(**EMAIL_WITH_PASSWORD)
    user = lab_user(lab)
    for twin in _twin_spellings(user.email):
        browser = lab.browser()
        url = authorize_url(lab.server, lab.app_id, lab.redirect_uri)
        page = browser.follow_until_external(browser.client.get(url))
        done = submit(browser, page, "/sign-in", identifier=twin, password=PASSWORD)
        assert done.status_code == 303, (twin, done.text[:300])
        spa = Spa(lab)
        spa.event("SignIn")
        verification_id = spa.password("email", twin, PASSWORD)
        spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
        assert spa.submit()["sub"] == user.id
