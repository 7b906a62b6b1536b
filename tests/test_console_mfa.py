"""Console two-step verification (MFA): the sign-in experience's MFA section (saved through the
service and its validation, read back through ``GET /api/sign-in-exp``, refusals shown next
to the section with nothing stored, the preview of the MFA pages), and a user's factors on
the user page (listed after the Management API gave them, removed, reset, the user's
choices), each change behind CSRF and re-authentication with the audit entry /api writes."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from portico.experience.mfa import SUPPORTED
from portico.services.sign_in_experience import MfaFactor
from portico.storage.tables import logs
from tests.console import ADMIN_PASSWORD, ConsoleClient
from tests.management import client_with, token_for
from tests.support import Server, csrf_of, unique
from tests.test_console_applications import age_reauth
from tests.test_console_sign_in_experience import form as sie_form

PAGE = "/console/sign-in-experience"
# What the pages cannot ask for at sign-in yet (WebAuthn, for now).
NOT_YET = [str(f) for f in MfaFactor if f not in SUPPORTED]
# The sign-in experience members the console's form writes, restored after each test.
FORM_KEYS = (
    "signInMode", "signUp", "signIn", "socialSignInConnectorTargets", "color", "branding",
    "termsOfUseUrl", "privacyPolicyUrl", "languageInfo", "passwordPolicy", "mfa", "adaptiveMfa",
)  # fmt: skip


@pytest.fixture(scope="module")
def api(console_server: Server) -> Iterator[httpx.Client]:
    """The Management API of the console's server."""
    _, token = token_for(console_server, ["Logto Management API access"])
    with client_with(console_server, token) as client:
        yield client


@pytest.fixture(autouse=True)
def restore_sign_in_experience(api: httpx.Client) -> Iterator[None]:
    before = api.get("/sign-in-exp").json()
    yield
    restored = api.patch("/sign-in-exp", json={key: before[key] for key in FORM_KEYS})
    assert restored.status_code == 200, restored.text


def sie_with_mfa(csrf: str, factors: list[str], policy: str, org: str = "NoPrompt",
                 **changes: Any) -> dict[str, Any]:  # fmt: skip
    """The console's form with its MFA section as an admin ticks it."""
    return {**sie_form(csrf, **changes), "mfa_section": "1", "mfa_policy": policy,
            "mfa_org_policy": org, "mfa_factor": factors}  # fmt: skip


def audit_payloads(
    console: ConsoleClient, key: str, user_id: str | None = None
) -> list[dict[str, Any]]:
    """The audit entries under ``key`` (of one user's, if given), oldest first."""

    async def work(conn):  # type: ignore[no-untyped-def]
        query = select(logs.c.payload).where(logs.c.key == key)
        if user_id is not None:
            query = query.where(logs.c.user_id == user_id)
        rows = await conn.execute(query.order_by(logs.c.created_at))
        return [r.payload for r in rows]

    return console.server.db(work)  # type: ignore[no-any-return]


def checked(page: str, name: str, value: str) -> bool:
    tag = re.search(rf'<input type="(?:checkbox|radio)" name="{name}" value="{value}"[^>]*>', page)
    assert tag, (name, value)
    return " checked" in tag.group(0)


def mfa_section(page: str) -> str:
    found = re.search(r'<fieldset id="mfa".*?</fieldset>', page, re.S)
    assert found
    return found.group(0)


# The sign-in experience ------------------------------------------------------------------------
def test_mfa_settings_are_saved_and_read_back(console: ConsoleClient, api: httpx.Client) -> None:
    page = console.get(PAGE).text
    section = mfa_section(page)
    # What Portico cannot ask for at sign-in yet is shown but cannot be ticked.
    for factor in MfaFactor:
        tag = re.search(rf'name="mfa_factor" value="{factor}"[^>]*>', section)
        assert tag and ("disabled" in tag.group(0)) == (factor in NOT_YET), factor
    assert section.count("coming soon") == len(NOT_YET)
    # Only the policies Portico accepts are offered.
    policies = re.findall(r'name="mfa_policy" value="(\w+)"', section)
    assert policies == ["PromptAtSignInAndSignUp", "PromptOnlyAtSignIn", "Mandatory", "NoPrompt"]
    # The seed's deprecated UserControlled shows as "Ask at sign-up and sign-in".
    assert checked(section, "mfa_policy", "PromptAtSignInAndSignUp")

    saved = console.post(PAGE, sie_with_mfa(
        csrf_of(page), ["Totp", "BackupCode"], "PromptOnlyAtSignIn", "Mandatory"
    ))  # fmt: skip
    assert saved.status_code == 303, saved.text[:1500]
    assert api.get("/sign-in-exp").json()["mfa"] == {
        "factors": ["Totp", "BackupCode"],
        "policy": "PromptOnlyAtSignIn",
        "organizationRequiredMfaPolicy": "Mandatory",
    }
    shown = mfa_section(console.get(PAGE).text)
    assert checked(shown, "mfa_factor", "Totp") and checked(shown, "mfa_factor", "BackupCode")
    assert checked(shown, "mfa_policy", "PromptOnlyAtSignIn")
    assert checked(shown, "mfa_org_policy", "Mandatory")
    assert audit_payloads(console, "ManagementApi.PatchSignInExp")[-1]["actor"]["type"] == "console"

    # Required for everyone, no factor but the authenticator app.
    again = console.post(PAGE, sie_with_mfa(csrf_of(page), ["Totp"], "Mandatory"))
    assert again.status_code == 303
    mfa = api.get("/sign-in-exp").json()["mfa"]
    assert mfa == {"factors": ["Totp"], "policy": "Mandatory",
                   "organizationRequiredMfaPolicy": "NoPrompt"}  # fmt: skip


def test_saving_other_settings_leaves_mfa_as_stored(
    console: ConsoleClient, api: httpx.Client
) -> None:
    """The seed's ``UserControlled`` is not rewritten and ``adaptiveMfa`` not normalised when
    the admin changes something else; a factor enabled through the API and not yet
    supported by the pages is kept."""
    reset = api.patch("/sign-in-exp", json={"mfa": {"factors": [], "policy": "UserControlled"},
                                            "adaptiveMfa": {}})  # fmt: skip
    assert reset.status_code == 200, reset.text
    page = console.get(PAGE).text
    saved = console.post(
        PAGE, sie_with_mfa(csrf_of(page), [], "PromptAtSignInAndSignUp", primary_color="#224466")
    )
    assert saved.status_code == 303
    after = api.get("/sign-in-exp").json()
    assert after["mfa"] == {"factors": [], "policy": "UserControlled"}
    assert after["adaptiveMfa"] == {} and after["color"]["primaryColor"] == "#224466"

    if not NOT_YET:
        return
    later = NOT_YET[0]
    given = api.patch("/sign-in-exp", json={"mfa": {"factors": [later, "Totp"],
                                                    "policy": "PromptOnlyAtSignIn"}})  # fmt: skip
    assert given.status_code == 200, given.text
    section = mfa_section(console.get(PAGE).text)
    assert f'<input type="hidden" name="mfa_factor" value="{later}">' in section
    assert "enabled through the Management API and is kept" in section
    # The form posts the hidden factor with the ticked boxes; adding backup codes keeps it
    # and the stored order.
    fields = sie_with_mfa(csrf_of(page), [later, "Totp", "BackupCode"], "PromptOnlyAtSignIn")
    assert console.post(PAGE, fields).status_code == 303
    assert api.get("/sign-in-exp").json()["mfa"]["factors"] == [later, "Totp", "BackupCode"]


def test_invalid_mfa_settings_are_refused_readably_and_nothing_is_stored(
    console: ConsoleClient, api: httpx.Client
) -> None:
    before = api.get("/sign-in-exp").json()
    csrf = csrf_of(console.get(PAGE).text)
    alone = console.post(PAGE, sie_with_mfa(csrf, ["BackupCode"], "PromptAtSignInAndSignUp",
                                             primary_color="#135790"))  # fmt: skip
    assert alone.status_code == 400
    section = mfa_section(alone.text)
    assert 'id="mfa-error">Backup code cannot be enabled alone.</span>' in section
    assert "Backup code cannot be enabled alone." in alone.text.split('id="form-error">')[1]
    assert checked(section, "mfa_factor", "BackupCode")  # the admin's choice, shown again
    assert api.get("/sign-in-exp").json() == before  # nor the colour sent with it

    # A policy the form does not offer (adaptive MFA's), posted anyway: the service refuses it.
    forged = console.post(PAGE, sie_with_mfa(csrf, ["Totp"], "PromptOnlyAtSignInMandatory"))
    assert forged.status_code == 400
    assert "MFA prompt policy must be skippable" in html.unescape(mfa_section(forged.text))
    bogus = console.post(PAGE, sie_with_mfa(csrf, ["Totp"], "Sometimes"))
    assert bogus.status_code == 400
    assert "Choose when users are asked" in mfa_section(bogus.text)
    # An email code cannot be both a way to sign in and the second factor (Logto's rule).
    both = console.post(PAGE, sie_with_mfa(
        csrf, ["EmailVerificationCode"], "PromptAtSignInAndSignUp",
        method_email="on", email_code="on", email_password="on",
    ))  # fmt: skip
    assert both.status_code == 400
    assert ("Email verification code cannot be used for sign-in when it is enabled for MFA."
            in mfa_section(both.text))  # fmt: skip
    assert api.get("/sign-in-exp").json() == before


def test_preview_shows_the_mfa_pages(console: ConsoleClient, api: httpx.Client) -> None:
    nothing = console.get(f"{PAGE}/preview?page=mfa-setup")
    assert nothing.status_code == 200 and "Nothing to preview" in nothing.text
    assert "frame-ancestors 'self'" in nothing.headers["content-security-policy"]
    page = console.get(PAGE).text
    assert 'href="/console/sign-in-experience/preview?page=mfa-verify" target="preview"' in page
    # Unsaved settings, previewed through the form's "Page to preview".
    draft = sie_with_mfa(csrf_of(page), ["Totp", "BackupCode"], "PromptAtSignInAndSignUp")
    setup = console.post(f"{PAGE}/preview", {**draft, "preview_page": "mfa-setup"})
    assert setup.status_code == 200, setup.text[:500]
    assert "Protect your account" in setup.text and "Authenticator app" in setup.text
    assert "Not now" in setup.text  # the policy lets users skip
    assert "form-action 'none'" in setup.headers["content-security-policy"]
    saved = console.post(PAGE, sie_with_mfa(csrf_of(page), ["Totp", "BackupCode"], "Mandatory"))
    assert saved.status_code == 303
    required = console.get(f"{PAGE}/preview?page=mfa-setup").text
    assert "Protect your account" in required and "Not now" not in required
    verify = console.get(f"{PAGE}/preview?page=mfa-verify").text
    assert "Authentication code" in verify and "Use a backup code" in verify
    assert "<h1>" in console.get(f"{PAGE}/preview?page=nonsense").text  # the sign-in page


def test_the_sign_in_preview_shows_the_passkey_button(
    console: ConsoleClient, api: httpx.Client
) -> None:
    assert api.patch("/sign-in-exp", json={"passkeySignIn": {
        "enabled": True, "showPasskeyButton": True}}).status_code == 200  # fmt: skip
    preview = console.get(f"{PAGE}/preview").text
    assert "Sign in with a passkey" in preview
    assert "webauthn-options" not in preview  # shown, not usable: no challenge was made


# A user's factors ---------------------------------------------------------------------------
def user_with_factors(api: httpx.Client) -> str:
    user = api.post("/users", json={"username": unique("mfa_user")}).json()
    path = f"/users/{user['id']}/mfa-verifications"
    assert api.post(path, json={"type": "Totp"}).status_code == 200
    assert api.post(path, json={"type": "BackupCode"}).status_code == 200
    return str(user["id"])


def factors_of(api: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    listed = api.get(f"/users/{user_id}/mfa-verifications")
    assert listed.status_code == 200
    return listed.json()  # type: ignore[no-any-return]


def remove_form(page: str, user_id: str, factor_id: str) -> str:
    action = f"/console/users/{user_id}/mfa/{factor_id}/delete"
    assert f'action="{action}"' in page
    return action


def test_factors_are_listed_and_removed(console: ConsoleClient, api: httpx.Client) -> None:
    user_id = user_with_factors(api)
    totp, codes = factors_of(api, user_id)
    page = console.get(f"/console/users/{user_id}").text
    assert "Authenticator app (TOTP)" in page and "Backup codes" in page
    assert "10 unused codes" in page
    assert "not enabled at sign-in" in page  # the sign-in experience enables no factor
    action = remove_form(page, user_id, totp["id"])

    assert console.post(action, {"csrf_token": "forged"}).status_code == 403
    removed = console.post(action, {"csrf_token": csrf_of(page)})
    assert removed.status_code == 303 and removed.headers["location"].endswith("#mfa")
    assert [f["id"] for f in factors_of(api, user_id)] == [codes["id"]]
    shown = console.get(f"/console/users/{user_id}").text
    assert "Authenticator app (TOTP) removed." in shown
    entry = audit_payloads(console, "ManagementApi.DeleteUserMfaVerification")[-1]
    assert entry["userId"] == user_id and entry["params"] == {"verificationId": totp["id"]}
    assert entry["actor"]["type"] == "console" and entry["via"] == "console"
    # Someone else's (or no) factor: 404, nothing removed.
    gone = console.post(action, {"csrf_token": csrf_of(page)})
    assert gone.status_code == 404 and len(factors_of(api, user_id)) == 1


def test_removing_a_factor_asks_for_the_password_again(
    console: ConsoleClient, api: httpx.Client
) -> None:
    user_id = user_with_factors(api)
    totp = factors_of(api, user_id)[0]
    page = console.get(f"/console/users/{user_id}").text
    age_reauth(console)
    asked = console.post(remove_form(page, user_id, totp["id"]), {"csrf_token": csrf_of(page)})
    assert asked.status_code == 200 and "Confirm it is you" in asked.text
    assert len(factors_of(api, user_id)) == 2
    confirmed = console.post(
        f"/console/users/{user_id}/mfa/{totp['id']}/delete",
        {"csrf_token": csrf_of(asked.text), "reauth_password": ADMIN_PASSWORD},
    )
    assert confirmed.status_code == 303
    assert [f["type"] for f in factors_of(api, user_id)] == ["BackupCode"]


def test_reset_removes_every_factor_and_the_skip(console: ConsoleClient, api: httpx.Client) -> None:
    user_id = user_with_factors(api)
    chosen = api.patch(f"/users/{user_id}/logto-configs",
                       json={"mfa": {"enabled": True, "skipped": True}})  # fmt: skip
    assert chosen.status_code == 200
    before = len(audit_payloads(console, "ManagementApi.DeleteUserMfaVerification"))
    reset = console.submit(f"/console/users/{user_id}", f"/console/users/{user_id}/mfa/reset")
    assert reset.status_code == 303
    assert factors_of(api, user_id) == []
    config = api.get(f"/users/{user_id}/logto-configs").json()
    assert config["mfa"] == {"enabled": True, "skipped": False, "skipMfaOnSignIn": False}
    page = console.get(f"/console/users/{user_id}").text
    assert "Two-step verification reset (2 factors removed)" in page and "No factors." in page
    assert len(audit_payloads(console, "ManagementApi.DeleteUserMfaVerification")) == before + 2
    config_entries = audit_payloads(console, "ManagementApi.UpdateUserLogtoConfig", user_id)
    assert "console" in [entry["actor"]["type"] for entry in config_entries]


def test_the_users_choices(console: ConsoleClient, api: httpx.Client) -> None:
    user_id = api.post("/users", json={"username": unique("mfa_choice")}).json()["id"]
    page = console.get(f"/console/users/{user_id}").text
    assert '<option value="" selected>Not chosen yet</option>' in page
    action = f"/console/users/{user_id}/mfa/choices"
    off = console.post(action, {"csrf_token": csrf_of(page), "mfa_enabled": "off",
                                "mfa_skip_on_sign_in": "on"})  # fmt: skip
    assert off.status_code == 303
    config = api.get(f"/users/{user_id}/logto-configs").json()["mfa"]
    assert config == {"enabled": False, "skipped": False, "skipMfaOnSignIn": True}
    shown = console.get(f"/console/users/{user_id}").text
    assert '<option value="off" selected>Off</option>' in shown
    unset = console.post(action, {"csrf_token": csrf_of(page), "mfa_enabled": ""})
    assert unset.status_code == 303
    config = api.get(f"/users/{user_id}/logto-configs").json()["mfa"]
    assert config == {"skipped": False, "skipMfaOnSignIn": False}  # "enabled" unset again
    bad = console.post(action, {"csrf_token": csrf_of(page), "mfa_enabled": "maybe"})
    assert bad.status_code == 400 and "Choose on, off or not chosen yet." in bad.text
    assert audit_payloads(console, "ManagementApi.UpdateUserLogtoConfig", user_id)


def test_remember_device_and_passkey_sign_in_settings(
    console: ConsoleClient, api: httpx.Client
) -> None:
    page = console.get(PAGE).text
    form = sie_with_mfa(csrf_of(page), ["Totp"], "PromptAtSignInAndSignUp",
                        trusted_device="on", trusted_device_days="7",
                        passkey_enabled="on", passkey_button="on")  # fmt: skip
    saved = console.post(PAGE, form)
    assert saved.status_code == 303, saved.text[:500]
    stored = api.get("/sign-in-exp").json()
    assert stored["trustedDevice"] == {"enabled": True, "durationDays": 7}
    assert stored["passkeySignIn"] == {"enabled": True, "showPasskeyButton": True,
                                       "allowAutofill": False}  # fmt: skip
    refused = console.post(PAGE, {**form, "trusted_device_days": "900"})
    assert refused.status_code == 400 and "1 to 365 days" in refused.text
    assert api.get("/sign-in-exp").json()["trustedDevice"]["durationDays"] == 7
