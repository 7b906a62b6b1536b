"""Passkeys in a real browser: Debian's Chromium driven by Playwright, with Chromium's
virtual authenticator (CDP ``WebAuthn`` domain: a platform authenticator with resident keys
and user verification). A passkey is created on the hosted pages, then used as the second
factor, then to sign in first with the "Sign in with a passkey" button and from the
identifier field's autofill (conditional UI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect

from tests.conftest import lab_user
from tests.lab import Lab
from tests.support import authorize_url, pkce_pair, query_of
from tests.test_experience_browser import open_app
from tests.test_pages_browser import chromium_context, submit_and_wait_for_client


@pytest.fixture
def page(lab: Lab) -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


def virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    """A platform authenticator that holds passkeys and verifies the user (always yes)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    found: dict[str, Any] = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {"options": {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                     "hasUserVerification": True, "isUserVerified": True,
                     "automaticPresenceSimulation": True}},
    )  # fmt: skip
    return cdp, str(found["authenticatorId"])


def credentials(cdp: CDPSession, authenticator: str) -> list[dict[str, Any]]:
    found = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    return list(found["credentials"])


def authorize_url_of(lab: Lab) -> str:
    _, challenge = pkce_pair()
    return authorize_url(lab.server, lab.app_id, lab.redirect_uri, code_challenge=challenge,
                         code_challenge_method="S256")  # fmt: skip


def sign_in_with_password(page: Page, lab: Lab, username: str, password: str) -> None:
    open_app(page, lab)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_passkey_created_then_used_as_second_factor_and_first(lab: Lab, page: Page) -> None:
    lab.configure(
        mfa={"factors": ["WebAuthn"], "policy": "Mandatory"},
        passkeySignIn={"enabled": True, "showPasskeyButton": True, "allowAutofill": False},
    )
    user = lab_user(lab)
    cdp, authenticator = virtual_authenticator(page)

    # Passkey sign-in on: the first sign-in invites the user to create a passkey, which also
    # fulfils the mandatory second factor.
    sign_in_with_password(page, lab, user.username, user.password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Protect your account")
    page.get_by_role("link", name="Create a passkey").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create a passkey")
    page.get_by_label("Name (optional)").fill("Work laptop")
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Create a passkey").click()
    )
    assert query_of(callback).get("code")
    stored = credentials(cdp, authenticator)
    assert len(stored) == 1 and stored[0]["isResidentCredential"]
    assert stored[0]["rpId"] == "localhost"
    listed = lab.api.get(f"/api/users/{user.id}/mfa-verifications").json()
    assert [f["type"] for f in listed] == ["WebAuthn"] and "Chrom" in listed[0]["agent"]
    assert listed[0]["name"] == "Work laptop"

    # Second factor: password, then the passkey.
    page.context.clear_cookies()
    sign_in_with_password(page, lab, user.username, user.password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step verification")
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Continue with a passkey").click()
    )
    assert query_of(callback).get("code")
    assert credentials(cdp, authenticator)[0]["signCount"] >= 2

    # First factor, with the button: no identifier, no password, no second factor.
    page.context.clear_cookies()
    open_app(page, lab)
    callback = submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Sign in with a passkey").click()
    )
    assert query_of(callback).get("code")


def test_passkey_autofill_signs_in_from_the_identifier_field(lab: Lab, page: Page) -> None:
    lab.configure(
        mfa={"factors": ["WebAuthn"], "policy": "Mandatory"},
        passkeySignIn={"enabled": True, "showPasskeyButton": False, "allowAutofill": True},
    )
    user = lab_user(lab)
    cdp, authenticator = virtual_authenticator(page)
    sign_in_with_password(page, lab, user.username, user.password)
    page.get_by_role("link", name="Create a passkey").click()
    submit_and_wait_for_client(
        page, lambda: page.get_by_role("button", name="Create a passkey").click()
    )
    assert len(credentials(cdp, authenticator)) == 1

    # The field offers passkeys in its suggestions; there is no button.
    browser = lab.browser()
    html = browser.follow_until_external(browser.client.get(authorize_url_of(lab))).text
    assert 'autocomplete="username webauthn"' in html and 'data-webauthn="conditional"' in html
    assert "Sign in with a passkey" not in html

    # The virtual authenticator answers the page's pending conditional request at once (a
    # user picking the passkey from the suggestions): signed in without typing anything.
    page.context.clear_cookies()
    callback = submit_and_wait_for_client(page, lambda: open_app(page, lab))
    assert query_of(callback).get("code")
    assert credentials(cdp, authenticator)[0]["signCount"] >= 2
