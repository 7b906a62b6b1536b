"""Accepting an organization invitation on the hosted pages (issue 33), end to end.

An invitation created through the Management API with ``messagePayload: {}`` is emailed
(received by the lab's real SMTP server) with Portico's landing page as its link; in a real
browser (Playwright + Chromium) a new user registers with that email (its code read from
the mail) and joins with the invited roles; the link then says the invitation was accepted;
expired and revoked invitations say so and accept nothing; a user signed in with another
email is refused and nothing changes. Over plain HTTP: the callback's state check (missing
or forged state, tampered cookie), the button's CSRF check, and the built-in application.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from portico.storage.tables import organization_invitations as invitation_rows
from tests.conftest import PASSWORD, lab_user
from tests.lab import EMAIL_SIGN_IN, Lab
from tests.support import browser_client, csrf_of, unique
from tests.test_pages_browser import chromium_context

SMTP = "simple-mail-transfer-protocol"
INVITATION_TEMPLATE = {
    "usageType": "OrganizationInvitation",
    "contentType": "text/html",
    "subject": "Join {{organization.name}}",
    "content": '<p>{{inviter.name}} invites you: <a href="{{link}}">join</a></p>',
}
BUILT_IN = "portico-account"


@pytest.fixture(scope="module", autouse=True)
def invitation_mail(lab_session: Lab) -> Iterator[None]:
    """The lab's SMTP connector with an OrganizationInvitation template, for this module."""
    connector = next(c for c in lab_session.api.get("/api/connectors").json()
                     if c["connectorId"] == SMTP)  # fmt: skip
    config = connector["config"]
    templates = [*config["templates"], INVITATION_TEMPLATE]
    path = f"/api/connectors/{connector['id']}"
    changed = lab_session.api.patch(path, json={"config": {**config, "templates": templates}})
    assert changed.status_code == 200, changed.text
    yield
    lab_session.api.patch(path, json={"config": config})


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_context() as context:
        yield context.new_page()


class Invited:
    """An organization with a role, an inviter, and an invitation emailed to a new address."""

    def __init__(self, lab: Lab, invitee: str | None = None) -> None:
        self.lab = lab
        self.org = self._created("/api/organizations", {"name": unique("Acme")})
        self.role = self._created("/api/organization-roles", {"name": unique("editor")})
        inviter = lab.api.post("/api/users", json={"name": "Ines Inviter",
                                                   "username": unique("ines")})  # fmt: skip
        assert inviter.status_code == 200, inviter.text
        self.invitee = invitee or f"{unique('new')}@example.com"
        self.invitation = self._created("/api/organization-invitations", {
            "organizationId": self.org["id"], "invitee": self.invitee,
            "inviterId": inviter.json()["id"], "organizationRoleIds": [self.role["id"]],
            "expiresAt": int(time.time() * 1000) + 3_600_000, "messagePayload": {},
        })  # fmt: skip
        self.id = self.invitation["id"]
        self.link = f"{lab.server.endpoint}/invitation/{self.id}"

    def _created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.lab.api.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def emailed_link(self) -> str:
        deadline = time.time() + 10
        while time.time() < deadline:
            for message in self.lab.messages_to(self.invitee):
                body = message.get_body(("html",))
                if body is not None and (found := re.search(r'href="([^"]+)"', body.get_content())):
                    return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no invitation reached {self.invitee}")

    def status(self) -> str:
        response = self.lab.api.get(f"/api/organization-invitations/{self.id}")
        return str(response.json()["status"])

    def members(self) -> list[dict[str, Any]]:
        response = self.lab.api.get(f"/api/organizations/{self.org['id']}/users")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def expire(self) -> None:
        async def work(conn):  # type: ignore[no-untyped-def]
            table = invitation_rows
            await conn.execute(update(table).where(table.c.id == self.id).values(expires_at=1))

        self.lab.server.db(work)


def heading(page: Page) -> Any:
    return expect(page.get_by_role("heading", level=1))


# In a real browser ----------------------------------------------------------------------
def test_a_new_user_registers_from_the_emailed_link_and_joins(lab: Lab, page: Page) -> None:
    lab.configure(**EMAIL_SIGN_IN)
    invited = Invited(lab)
    assert invited.emailed_link() == invited.link  # Portico's landing page, filled in
    org = invited.org["name"]

    page.goto(invited.link)
    heading(page).to_have_text(f"Join {org}")
    expect(page.get_by_text(f"Ines Inviter invited you to join {org}.")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    # No user has this email: the registration page, the invited email filled in.
    heading(page).to_have_text("Create your account")
    expect(page.locator("input[name=identifier]")).to_have_value(invited.invitee)
    page.get_by_role("button", name="Create account").click()
    page.get_by_label("Verification code").fill(lab.code_for(invited.invitee))
    page.get_by_role("button", name="Continue").click()
    heading(page).to_have_text(f"You joined {org}")
    assert urlsplit(page.url).path == "/invitation/callback"

    [member] = invited.members()
    assert member["primaryEmail"] == invited.invitee
    roles = lab.api.get(f"/api/organizations/{invited.org['id']}/users/{member['id']}/roles")
    assert [r["id"] for r in roles.json()] == [invited.role["id"]]
    stored = lab.api.get(f"/api/organization-invitations/{invited.id}").json()
    assert (stored["status"], stored["acceptedUserId"]) == ("Accepted", member["id"])
    logs = lab.api.get("/api/logs", params={"logKey": "OrganizationInvitation.Accept"}).json()
    mine = [e for e in logs if e["payload"].get("params", {}).get("invitationId") == invited.id]
    assert [e["payload"]["result"] for e in mine] == ["Success"]
    assert mine[0]["payload"]["userId"] == member["id"]

    # The link again: accepted, once.
    page.goto(invited.link)
    heading(page).to_have_text("This invitation has already been accepted")
    expect(page.get_by_role("button", name="Continue")).to_have_count(0)


def test_expired_and_revoked_invitations_say_so_and_accept_nothing(lab: Lab, page: Page) -> None:
    expired = Invited(lab)
    expired.expire()
    page.goto(expired.link)
    heading(page).to_have_text("This invitation has expired")
    expect(page.get_by_role("button", name="Continue")).to_have_count(0)

    # Revoked while its page was open: the button shows the revoked page, not a sign-in.
    revoked = Invited(lab)
    page.goto(revoked.link)
    heading(page).to_have_text(f"Join {revoked.org['name']}")
    status = {"status": "Revoked"}
    changed = lab.api.put(f"/api/organization-invitations/{revoked.id}/status", json=status)
    assert changed.status_code == 200, changed.text
    page.get_by_role("button", name="Continue").click()
    heading(page).to_have_text("This invitation was withdrawn")

    page.goto(f"{lab.server.endpoint}/invitation/{unique('nope')}")
    heading(page).to_have_text("Invitation not found")
    assert (expired.status(), revoked.status()) == ("Expired", "Revoked")
    assert expired.members() == [] and revoked.members() == []


def test_a_user_signed_in_with_another_email_is_refused(lab: Lab, page: Page) -> None:
    other = lab_user(lab)
    invited = Invited(lab)
    page.goto(invited.link)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Sign in").click()  # from the registration page
    page.get_by_label("Username").fill(other.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    heading(page).to_have_text("The invitation was not accepted")
    expect(page.get_by_role("alert")).to_have_text(
        f"This invitation is for {invited.invitee}, but you signed in as {other.email}."
    )
    assert invited.status() == "Pending" and invited.members() == []

    # Signed in, the button goes straight back and is refused again; "another account"
    # asks for a new sign-in.
    page.goto(invited.link)
    page.get_by_role("button", name="Continue").click()
    heading(page).to_have_text("The invitation was not accepted")
    page.get_by_role("button", name="Sign in with another account").click()
    heading(page).to_have_text("Create your account")
    assert invited.status() == "Pending" and invited.members() == []


# Over HTTP ------------------------------------------------------------------------------
def _started(lab: Lab, client: httpx.Client, invited: Invited) -> dict[str, str]:
    """The landing page's button pressed: the authorization request's parameters."""
    landing = client.get(invited.link)
    assert landing.status_code == 200, landing.text
    pressed = client.post(invited.link, data={"csrf_token": csrf_of(landing.text)})
    assert pressed.status_code == 303, pressed.text
    location = pressed.headers["location"]
    assert location.startswith("/oidc/auth?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_the_button_asks_for_a_pkce_code_for_the_invited_email(lab: Lab) -> None:
    invited = Invited(lab)
    with browser_client() as client:
        query = _started(lab, client, invited)
    assert query["client_id"] == BUILT_IN
    assert query["redirect_uri"] == f"{lab.server.endpoint}/invitation/callback"
    assert (query["response_type"], query["code_challenge_method"]) == ("code", "S256")
    assert query["login_hint"] == invited.invitee and query["first_screen"] == "register"
    assert len(query["state"]) >= 32 and len(query["code_challenge"]) == 43
    assert query["organization_id"] == invited.org["id"]  # the pages wear its branding


def test_the_landing_page_wears_the_organizations_branding(lab: Lab) -> None:
    invited = Invited(lab)
    logo = "https://cdn.invites.example/acme.svg"
    patched = lab.api.patch(f"/api/organizations/{invited.org['id']}",
                            json={"branding": {"logoUrl": logo},
                                  "color": {"primaryColor": "#aa3300"}})  # fmt: skip
    assert patched.status_code == 200, patched.text
    with browser_client() as client:
        landing = client.get(invited.link)
    assert landing.status_code == 200 and f'src="{logo}"' in landing.text
    assert "https://cdn.invites.example" in landing.headers["content-security-policy"]
    assert f"/sign-in-exp/theme.css?organization_id={invited.org['id']}" in landing.text


def test_the_button_needs_the_pages_csrf_token(lab: Lab) -> None:
    invited = Invited(lab)
    with browser_client() as client:
        client.get(invited.link)
        refused = client.post(invited.link, data={"csrf_token": "forged"})
    assert refused.status_code == 403 and "This page has expired" in refused.text
    assert not any(
        c.startswith("portico_invitation=") for c in refused.headers.get_list("set-cookie")
    )


def test_the_callback_refuses_a_missing_or_forged_state(lab: Lab) -> None:
    invited = Invited(lab)
    refusal = "This sign-in is not valid or has expired."
    callback = f"{lab.server.endpoint}/invitation/callback"
    with browser_client() as client:
        # No cookie at all: whatever the query says.
        missing = client.get(callback, params={"code": "x", "state": "y"})
        assert missing.status_code == 400 and refusal in missing.text
        state = _started(lab, client, invited)["state"]
        # The browser's cookie, but another state.
        forged = client.get(callback, params={"code": "x", "state": state[:-2] + "xx"})
        assert forged.status_code == 400 and refusal in forged.text
        # The state, but the cookie altered (its tag no longer matches).
        sealed = client.cookies.get("portico_invitation")
        assert sealed
        body, _, tag = sealed.rpartition(".")
        client.cookies.set("portico_invitation", f"{body}x.{tag}")
        tampered = client.get(callback, params={"code": "x", "state": state})
        assert tampered.status_code == 400 and refusal in tampered.text
        # A right state with a code that is not one: refused too, nothing accepted.
        client.cookies.set("portico_invitation", sealed)
        bad_code = client.get(callback, params={"code": "not-a-code", "state": state})
        assert bad_code.status_code == 400 and refusal in bad_code.text
    assert invited.status() == "Pending" and invited.members() == []


def test_unknown_invitation_is_404_and_ended_ones_410(lab: Lab) -> None:
    invited = Invited(lab)
    invited.expire()
    with browser_client() as client:
        assert client.get(f"{lab.server.endpoint}/invitation/nope").status_code == 404
        ended = client.get(invited.link)
        assert ended.status_code == 410 and "This invitation has expired" in ended.text
        assert invited.org["name"] not in ended.text  # nothing of the invitation shown


def test_resending_fills_a_missing_link_and_keeps_an_admin_given_one(lab: Lab) -> None:
    invited = Invited(lab)
    assert invited.emailed_link() == invited.link
    own = "https://app.example.com/accept?id=1"
    for payload, expected in (({}, invited.link), ({"link": own}, own)):
        before = len(lab.messages_to(invited.invitee))
        path = f"/api/organization-invitations/{invited.id}/message"
        assert lab.api.post(path, json=payload).status_code == 204
        deadline = time.time() + 10
        while len(lab.messages_to(invited.invitee)) == before and time.time() < deadline:
            time.sleep(0.05)
        body = lab.messages_to(invited.invitee)[-1].get_body(("html",))
        assert body is not None and f'href="{expected}"' in body.get_content()


def test_the_built_in_application_is_listed_and_cannot_be_deleted(lab: Lab) -> None:
    listed = {a["id"]: a for a in lab.api.get("/api/applications").json()}
    app = listed[BUILT_IN]
    assert app["type"] == "Traditional" and app["isThirdParty"] is False
    redirect = f"{lab.server.endpoint}/invitation/callback"
    assert app["oidcClientMetadata"]["redirectUris"] == [redirect]
    refused = lab.api.delete(f"/api/applications/{BUILT_IN}")
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "application.built_in_not_deletable"
    assert lab.api.get(f"/api/applications/{BUILT_IN}").status_code == 200
    # It has no secret: no one but Portico can redeem its codes.
    token = httpx.post(
        f"{lab.server.issuer}/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": redirect,
              "client_id": BUILT_IN, "client_secret": "guess"},
    )  # fmt: skip
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"
