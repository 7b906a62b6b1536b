"""WebAuthn through the Experience API against the real server, in Logto's shapes: a passkey
or security key as the second factor (registration, then authentication at the next
sign-in), passkey-first sign-in (discoverable, or after an identifier), Logto's passkey
invitation, and what is refused (a replayed counter, another origin, a spent challenge).
A software authenticator answers for the browser (``tests/webauthn_authenticator.py``);
the Chromium browser tests use a virtual one."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.conftest import User, lab_user
from tests.lab import Lab
from tests.test_experience_api import Spa
from tests.test_experience_mfa_api import signed_in_by_password
from tests.webauthn_authenticator import SoftAuthenticator

WEBAUTHN_MANDATORY = {"factors": ["WebAuthn"], "policy": "Mandatory"}


def _register(spa: Spa, authenticator: SoftAuthenticator) -> str:
    started = spa.ok("POST", "/experience/verification/web-authn/registration")
    answer = authenticator.create(started["registrationOptions"])
    spa.ok("POST", "/experience/verification/web-authn/registration/verify",
           {"verificationId": started["verificationId"], "payload": answer})  # fmt: skip
    return str(started["verificationId"])


def _enrolled(lab: Lab, user: User) -> SoftAuthenticator:
    """The user with a passkey (registered through the Experience API, as Logto's SPA)."""
    authenticator = SoftAuthenticator(lab.server.endpoint)
    spa = signed_in_by_password(lab, user)
    verification_id = _register(spa, authenticator)
    spa.ok("POST", "/experience/profile/mfa",
           {"type": "WebAuthn", "verificationId": verification_id}, 204)  # fmt: skip
    reply = spa.call("POST", "/experience/submit")
    if reply.status_code == 422:  # a sign-in passkey alone: Logto suggests another factor
        assert reply.json()["code"] == "session.mfa.suggest_additional_mfa", reply.text
        assert reply.json()["data"]["availableFactors"] == ["Totp"]
        spa.ok("POST", "/experience/profile/mfa/mfa-suggestion-skipped", None, 204)
        assert spa.submit()["sub"] == user.id
    else:
        assert reply.status_code == 200, reply.text  # stored: the factor is the user's
    return authenticator


def test_registration_options_ask_for_a_verified_discoverable_passkey(lab: Lab) -> None:
    lab.configure(mfa=WEBAUTHN_MANDATORY)
    user = lab_user(lab)
    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 422, "user.missing_mfa")
    assert body["data"] == {"availableFactors": ["WebAuthn"]}
    options = spa.ok("POST", "/experience/verification/web-authn/registration")
    created = options["registrationOptions"]
    host = urlsplit(lab.server.endpoint).hostname
    assert created["rp"] == {"id": host, "name": host}
    assert created["attestation"] == "none"
    assert created["authenticatorSelection"]["residentKey"] == "required"
    assert created["authenticatorSelection"]["userVerification"] == "required"
    assert [p["alg"] for p in created["pubKeyCredParams"]] == [-7, -257]


def test_a_passkey_as_the_second_factor(lab: Lab) -> None:
    lab.configure(mfa=WEBAUTHN_MANDATORY)
    user = lab_user(lab)
    authenticator = _enrolled(lab, user)
    listed = lab.api.get(f"/api/users/{user.id}/mfa-verifications").json()
    assert [f["type"] for f in listed] == ["WebAuthn"] and "agent" in listed[0]

    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 403,
                     "session.mfa.require_mfa_verification")  # fmt: skip
    assert body["data"]["availableFactors"] == ["WebAuthn"]
    started = spa.ok("POST", "/experience/verification/web-authn/authentication")
    options = started["authenticationOptions"]
    assert options["userVerification"] == "required"
    assert [c["id"] for c in options["allowCredentials"]] == list(authenticator.keys)
    answer = authenticator.get(options)
    spa.ok("POST", "/experience/verification/web-authn/authentication/verify",
           {"verificationId": started["verificationId"], "payload": answer})  # fmt: skip
    assert spa.submit()["sub"] == user.id
    # The challenge was spent: the same answer again is refused.
    spa2 = signed_in_by_password(lab, user)
    spa2.fails("POST", "/experience/verification/web-authn/authentication/verify",
               {"verificationId": started["verificationId"], "payload": answer}, 404,
               "session.verification_session_not_found")  # fmt: skip


def test_a_cloned_authenticator_and_another_origin_are_refused(lab: Lab) -> None:
    lab.configure(mfa=WEBAUTHN_MANDATORY)
    user = lab_user(lab)
    authenticator = _enrolled(lab, user)
    spa = signed_in_by_password(lab, user)
    started = spa.ok("POST", "/experience/verification/web-authn/authentication")
    answer = authenticator.get(started["authenticationOptions"])
    spa.ok("POST", "/experience/verification/web-authn/authentication/verify",
           {"verificationId": started["verificationId"], "payload": answer})  # fmt: skip
    # A copy of the key signing with the same counter (a clone) is refused.
    spa = signed_in_by_password(lab, user)
    started = spa.ok("POST", "/experience/verification/web-authn/authentication")
    cloned = authenticator.get(started["authenticationOptions"], replay=True)
    spa.fails("POST", "/experience/verification/web-authn/authentication/verify",
              {"verificationId": started["verificationId"], "payload": cloned}, 400,
              "session.mfa.webauthn_verification_failed")  # fmt: skip
    # A page on another origin cannot use it either.
    spa = signed_in_by_password(lab, user)
    started = spa.ok("POST", "/experience/verification/web-authn/authentication")
    elsewhere = SoftAuthenticator("https://evil.example", authenticator.keys)
    phished = elsewhere.get(started["authenticationOptions"])
    spa.fails("POST", "/experience/verification/web-authn/authentication/verify",
              {"verificationId": started["verificationId"], "payload": phished}, 400,
              "session.mfa.webauthn_verification_failed")  # fmt: skip
    spa.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")


def test_passkey_first_sign_in_needs_no_identifier_and_no_second_factor(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["WebAuthn", "Totp"], "policy": "Mandatory"},
                  passkeySignIn={"enabled": True, "showPasskeyButton": True})  # fmt: skip
    user = lab_user(lab)
    authenticator = _enrolled(lab, user)
    spa = Spa(lab)
    spa.event("SignIn")
    options = spa.ok("POST", "/experience/preflight/sign-in-passkey/authentication")
    assert options["authenticationOptions"]["allowCredentials"] == []  # discoverable
    answer = authenticator.get(options["authenticationOptions"])
    verified = spa.ok("POST", "/experience/verification/sign-in-passkey/authentication/verify",
                      {"payload": answer})  # fmt: skip
    spa.ok("POST", "/experience/identification", verified, 204)
    assert spa.submit()["sub"] == user.id  # no second factor asked: the passkey is two

    # With an identifier first: the options list that account's passkeys.
    spa = Spa(lab)
    spa.event("SignIn")
    started = spa.ok("POST", "/experience/verification/sign-in-passkey/authentication",
                     {"identifier": {"type": "username", "value": user.username}})  # fmt: skip
    assert [c["id"] for c in started["authenticationOptions"]["allowCredentials"]] == list(
        authenticator.keys
    )
    answer = authenticator.get(started["authenticationOptions"])
    spa.ok("POST", "/experience/verification/sign-in-passkey/authentication/verify",
           {"verificationId": started["verificationId"], "payload": answer})  # fmt: skip
    spa.ok("POST", "/experience/identification", {"verificationId": started["verificationId"]},
           204)  # fmt: skip
    assert spa.submit()["sub"] == user.id

    # An account without passkeys gets Logto's answer, the same as an unknown one.
    other = lab_user(lab)
    spa = Spa(lab)
    spa.event("SignIn")
    for value in (other.username, "nobody-at-all"):
        spa.fails("POST", "/experience/verification/sign-in-passkey/authentication",
                  {"identifier": {"type": "username", "value": value}}, 400,
                  "session.mfa.webauthn_verification_not_found")  # fmt: skip


def test_passkey_sign_in_off_refuses_identification(lab: Lab) -> None:
    lab.configure(mfa=WEBAUTHN_MANDATORY)
    user = lab_user(lab)
    authenticator = _enrolled(lab, user)
    spa = Spa(lab)
    spa.event("SignIn")
    options = spa.ok("POST", "/experience/preflight/sign-in-passkey/authentication")
    answer = authenticator.get(options["authenticationOptions"])
    verified = spa.ok("POST", "/experience/verification/sign-in-passkey/authentication/verify",
                      {"payload": answer})  # fmt: skip
    spa.fails("POST", "/experience/identification", verified, 422,
              "user.sign_in_method_not_enabled")  # fmt: skip


def test_the_passkey_invitation_until_declined(lab: Lab) -> None:
    lab.configure(passkeySignIn={"enabled": True})
    user = lab_user(lab)
    spa = signed_in_by_password(lab, user)
    spa.fails("POST", "/experience/submit", None, 422, "user.passkey_preferred")
    spa.ok("POST", "/experience/profile/mfa/passkey-skipped", None, 204)
    assert spa.submit()["sub"] == user.id
    config = lab.api.get(f"/api/users/{user.id}/logto-configs").json()
    assert config["passkeySignIn"] == {"skipped": True}
    assert signed_in_by_password(lab, user).submit()["sub"] == user.id  # not asked again

    # Accepting: a passkey bound for sign-in, without turning MFA on.
    other = lab_user(lab)
    spa = signed_in_by_password(lab, other)
    spa.fails("POST", "/experience/submit", None, 422, "user.passkey_preferred")
    verification_id = _register(spa, SoftAuthenticator(lab.server.endpoint))
    spa.ok("POST", "/experience/profile/mfa/passkey", {"verificationId": verification_id}, 204)
    assert spa.submit()["sub"] == other.id
    assert [f["type"] for f in lab.api.get(f"/api/users/{other.id}/mfa-verifications").json()] \
        == ["WebAuthn"]  # fmt: skip
    assert "enabled" not in lab.api.get(f"/api/users/{other.id}/logto-configs").json()["mfa"]
    # Having one, the user is not invited again.
    assert signed_in_by_password(lab, other).submit()["sub"] == other.id


def test_related_origins_are_published(lab: Lab) -> None:
    import httpx

    reply = httpx.get(f"{lab.server.endpoint}/.well-known/webauthn")
    assert reply.status_code == 200 and reply.json() == {"origins": []}
