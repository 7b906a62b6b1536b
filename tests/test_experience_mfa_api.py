"""MFA through the Experience API against the real server, in Logto's shapes: a user with an
authenticator app verifies it at sign-in (a code works once; wrong codes lock the factor),
backup codes are single use, and the policies prompt for binding as Logto's do."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.conftest import User, lab_user
from tests.lab import Lab
from tests.test_experience_api import Spa

KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOTP_AND_BACKUP = {"factors": ["Totp", "BackupCode"], "policy": "PromptAtSignInAndSignUp"}
TOTP_ONLY = {"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"}


def signed_in_by_password(lab: Lab, user: User) -> Spa:
    spa = Spa(lab)
    spa.event("SignIn")
    verification_id = spa.password("username", user.username, user.password)
    spa.ok("POST", "/experience/identification", {"verificationId": verification_id}, 204)
    return spa


def _with_totp(lab: Lab, user: User, key: str = KEY) -> None:
    path = f"/api/users/{user.id}/mfa-verifications"
    reply = lab.api.post(path, json={"type": "Totp", "secret": key})
    assert reply.status_code == 200, reply.text


def _code(key: str = KEY, offset: int = 0) -> str:
    return pyotp.TOTP(key).at(time.time() + offset)


def _factors(lab: Lab, user: User) -> dict[str, dict]:
    reply = lab.api.get(f"/api/users/{user.id}/mfa-verifications")
    return {f["type"]: f for f in reply.json()}


def test_a_user_with_an_authenticator_verifies_it_and_a_code_works_once(lab: Lab) -> None:
    lab.configure(mfa=TOTP_AND_BACKUP)
    user = lab_user(lab)
    _with_totp(lab, user)
    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 403,
                     "session.mfa.require_mfa_verification")  # fmt: skip
    assert body["data"] == {"availableFactors": ["Totp"], "maskedIdentifiers": {}}
    # Binding another factor cannot stand in for verifying the one the user has.
    record = spa.ok("POST", "/experience/verification/backup-code/generate")
    spa.fails("POST", "/experience/profile/mfa",
              {"type": "BackupCode", "verificationId": record["verificationId"]}, 403,
              "session.mfa.require_mfa_verification")  # fmt: skip
    wrong = str((int(_code()) + 1) % 1_000_000).zfill(6)
    spa.fails("POST", "/experience/verification/totp/verify", {"code": wrong}, 400,
              "session.mfa.invalid_totp_code")  # fmt: skip
    code = _code()
    spa.ok("POST", "/experience/verification/totp/verify", {"code": code})
    # Backup codes are on and the user has none: asked for them (Logto), then signed in.
    spa.fails("POST", "/experience/submit", None, 422, "session.mfa.backup_code_required")
    generated = spa.ok("POST", "/experience/verification/backup-code/generate")
    spa.ok("POST", "/experience/profile/mfa",
           {"type": "BackupCode", "verificationId": generated["verificationId"]}, 204)  # fmt: skip
    assert spa.submit()["sub"] == user.id

    # The same code in another sign-in (within its 30 s window): refused, it was used.
    again = signed_in_by_password(lab, user)
    again.fails("POST", "/experience/verification/totp/verify", {"code": code}, 400,
                "session.mfa.invalid_totp_code")  # fmt: skip
    # The factor was used: the Management API shows it (and no key).
    assert set(_factors(lab, user)["Totp"]) == {"id", "createdAt", "type"}


def test_wrong_codes_lock_the_factor_whatever_the_interaction(lab: Lab) -> None:
    lab.configure(mfa=TOTP_ONLY)
    user = lab_user(lab)
    _with_totp(lab, user)
    wrong = str((int(_code()) + 500_000) % 1_000_000).zfill(6)
    spa = signed_in_by_password(lab, user)
    for attempt in range(10):
        if attempt == 5:  # a new interaction does not reset the count
            spa = signed_in_by_password(lab, user)
        spa.fails("POST", "/experience/verification/totp/verify", {"code": wrong}, 400,
                  "session.mfa.invalid_totp_code")  # fmt: skip
    fresh = signed_in_by_password(lab, user)
    body = fresh.fails("POST", "/experience/verification/totp/verify", {"code": _code()}, 400,
                       "session.verification_blocked_too_many_attempts")  # fmt: skip
    assert body["data"]["lockedMinutes"] >= 1
    fresh.fails("POST", "/experience/submit", None, 403, "session.mfa.require_mfa_verification")


def test_backup_codes_are_single_use(lab: Lab) -> None:
    lab.configure(mfa=TOTP_AND_BACKUP)
    user = lab_user(lab)
    _with_totp(lab, user)
    codes = lab.api.post(f"/api/users/{user.id}/mfa-verifications",
                         json={"type": "BackupCode"}).json()["codes"]  # fmt: skip
    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 403,
                     "session.mfa.require_mfa_verification")  # fmt: skip
    assert body["data"]["availableFactors"] == ["Totp", "BackupCode"]
    spa.ok("POST", "/experience/verification/backup-code/verify", {"code": codes[0]})
    assert spa.submit()["sub"] == user.id
    assert _factors(lab, user)["BackupCode"]["remainCodes"] == 9

    again = signed_in_by_password(lab, user)
    again.fails("POST", "/experience/verification/backup-code/verify", {"code": codes[0]}, 400,
                "session.mfa.invalid_backup_code")  # fmt: skip
    again.ok("POST", "/experience/verification/backup-code/verify", {"code": codes[1].upper()})
    assert again.submit()["sub"] == user.id


def test_mandatory_mfa_binds_an_authenticator_then_backup_codes(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp", "BackupCode"], "policy": "Mandatory"})
    user = lab_user(lab)
    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 422, "user.missing_mfa")
    assert body["data"] == {"availableFactors": ["Totp"]}  # no "skippable"
    spa.fails("POST", "/experience/profile/mfa/mfa-skipped", None, 422,
              "session.mfa.mfa_policy_not_user_controlled")  # fmt: skip

    secret = spa.ok("POST", "/experience/verification/totp/secret")
    assert set(secret) == {"verificationId", "secret", "secretQrCode"}
    assert secret["secretQrCode"].startswith("data:image/png;base64,")
    bind = {"type": "Totp", "verificationId": secret["verificationId"]}
    spa.fails("POST", "/experience/profile/mfa", bind, 400, "session.verification_failed")
    spa.fails("POST", "/experience/verification/totp/verify",
              {"code": "000000" if _code(secret["secret"]) != "000000" else "111111",
               "verificationId": secret["verificationId"]}, 400,
              "session.mfa.invalid_totp_code")  # fmt: skip
    right = {"code": _code(secret["secret"]), "verificationId": secret["verificationId"]}
    spa.ok("POST", "/experience/verification/totp/verify", right)
    spa.ok("POST", "/experience/profile/mfa", bind, 204)
    spa.fails("POST", "/experience/submit", None, 422, "session.mfa.backup_code_required")
    generated = spa.ok("POST", "/experience/verification/backup-code/generate")
    assert len(generated["codes"]) == 10
    spa.ok("POST", "/experience/profile/mfa",
           {"type": "BackupCode", "verificationId": generated["verificationId"]}, 204)  # fmt: skip
    assert spa.submit()["sub"] == user.id

    stored = _factors(lab, user)
    assert set(stored) == {"Totp", "BackupCode"} and stored["BackupCode"]["remainCodes"] == 10
    config = lab.api.get(f"/api/users/{user.id}/logto-configs").json()
    assert config["mfa"]["enabled"] is True
    # The next sign-in asks for the new factor: the key the user scanned works.
    next_time = signed_in_by_password(lab, user)
    next_time.fails("POST", "/experience/submit", None, 403,
                    "session.mfa.require_mfa_verification")  # fmt: skip
    next_time.ok("POST", "/experience/verification/backup-code/verify",
                 {"code": generated["codes"][3]})  # fmt: skip
    assert next_time.submit()["sub"] == user.id


def test_a_prompting_policy_suggests_once_and_remembers_a_skip(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"})
    user = lab_user(lab)
    spa = signed_in_by_password(lab, user)
    spa.fails("POST", "/experience/submit", None, 422, "user.suggest_mfa")
    spa.ok("POST", "/experience/profile/mfa/mfa-enabled", None, 204)
    body = spa.fails("POST", "/experience/submit", None, 422, "user.missing_mfa")
    assert body["data"] == {"availableFactors": ["Totp"], "skippable": True}
    spa.ok("POST", "/experience/profile/mfa/mfa-skipped", None, 204)
    assert spa.submit()["sub"] == user.id
    assert lab.api.get(f"/api/users/{user.id}/logto-configs").json()["mfa"]["skipped"] is True
    # Remembered: the next sign-in is not asked again.
    assert signed_in_by_password(lab, user).submit()["sub"] == user.id


@pytest.mark.parametrize("policy", ["NoPrompt", "PromptOnlyAtSignIn"])
def test_policies_that_do_not_prompt_at_sign_up(lab: Lab, policy: str) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": policy})
    spa = Spa(lab)
    spa.event("Register")
    record = spa.ok("POST", "/experience/verification/new-password-identity",
                    {"identifier": {"type": "username", "value": f"new{int(time.time()*1e6)}"},
                     "password": "violet-harbour-cactus-49"})  # fmt: skip
    spa.ok("POST", "/experience/identification", {"verificationId": record["verificationId"]}, 201)
    assert spa.submit()["sub"]


def test_bound_factors_are_refused_when_the_factor_is_off(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": "PromptAtSignInAndSignUp"})
    user = lab_user(lab)
    spa = signed_in_by_password(lab, user)
    generated = spa.ok("POST", "/experience/verification/backup-code/generate")
    spa.fails("POST", "/experience/profile/mfa",
              {"type": "BackupCode", "verificationId": generated["verificationId"]}, 400,
              "session.mfa.mfa_factor_not_enabled")  # fmt: skip
    spa.fails("POST", "/experience/profile/mfa",
              {"type": "Totp", "verificationId": generated["verificationId"]}, 404,
              "session.verification_session_not_found")  # fmt: skip


def test_mfa_routes_need_an_identified_user(lab: Lab) -> None:
    lab.configure(mfa=TOTP_ONLY)
    spa = Spa(lab)
    spa.event("SignIn")
    for path in ("/experience/verification/totp/secret",
                 "/experience/verification/backup-code/generate"):  # fmt: skip
        spa.fails("POST", path, None, 404, "session.identifier_not_found")
    spa.fails("POST", "/experience/verification/totp/verify", {"code": "123456"}, 404,
              "session.identifier_not_found")  # fmt: skip


EMAIL_FACTOR = {"factors": ["EmailVerificationCode"], "policy": "PromptAtSignInAndSignUp"}


def test_an_email_code_as_second_factor_reaches_the_users_mailbox(lab: Lab) -> None:
    lab.configure(mfa=EMAIL_FACTOR)
    user = lab_user(lab)
    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 403,
                     "session.mfa.require_mfa_verification")  # fmt: skip
    local, _, domain = user.email.partition("@")
    assert body["data"] == {
        "availableFactors": ["EmailVerificationCode"],
        "maskedIdentifiers": {"EmailVerificationCode": f"{local[:4]}****@{domain}"},
    }
    before = len(lab.messages_to(user.email))
    sent = spa.ok("POST", "/experience/verification/mfa-verification-code",
                  {"identifierType": "email"})  # fmt: skip
    code = lab.code_for(user.email, after=before)
    verify = {"identifierType": "email", "verificationId": sent["verificationId"]}
    wrong = "000000" if code != "000000" else "111111"
    spa.fails("POST", "/experience/verification/mfa-verification-code/verify",
              {**verify, "code": wrong}, 400, "verification_code.code_mismatch")  # fmt: skip
    spa.ok(
        "POST", "/experience/verification/mfa-verification-code/verify", {**verify, "code": code}
    )
    assert spa.submit()["sub"] == user.id
    # No phone: that factor cannot be asked for.
    again = signed_in_by_password(lab, user)
    again.fails("POST", "/experience/verification/mfa-verification-code",
                {"identifierType": "phone"}, 400, "session.mfa.mfa_factor_not_enabled")  # fmt: skip


def test_a_new_email_bound_as_the_second_factor(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["EmailVerificationCode"], "policy": "Mandatory"})
    name = f"noemail{int(time.time() * 1e6)}"
    made = lab.api.post("/api/users", json={"username": name, "password": "a-long-enough-secret-9"})
    assert made.status_code == 200, made.text
    user = User(made.json()["id"], name, "", "a-long-enough-secret-9")
    spa = signed_in_by_password(lab, user)
    body = spa.fails("POST", "/experience/submit", None, 422, "user.missing_mfa")
    assert body["data"] == {"availableFactors": ["EmailVerificationCode"]}
    address = f"{user.username}@mfa.example.com"
    verification_id = spa.email_verified(address, "SignIn")
    spa.ok("POST", "/experience/profile/mfa",
           {"type": "EmailVerificationCode", "verificationId": verification_id}, 204)  # fmt: skip
    assert spa.submit()["sub"] == user.id
    stored = lab.api.get(f"/api/users/{user.id}").json()
    assert stored["primaryEmail"] == address
    # Next time the code goes to that address.
    again = signed_in_by_password(lab, user)
    body = again.fails("POST", "/experience/submit", None, 403,
                       "session.mfa.require_mfa_verification")  # fmt: skip
    assert body["data"]["availableFactors"] == ["EmailVerificationCode"]


def test_an_organization_requiring_mfa_makes_binding_mandatory(lab: Lab) -> None:
    lab.configure(mfa={"factors": ["Totp"], "policy": "NoPrompt",
                       "organizationRequiredMfaPolicy": "Mandatory"})  # fmt: skip
    outsider = lab_user(lab)
    assert signed_in_by_password(lab, outsider).submit()["sub"] == outsider.id  # NoPrompt
    member = lab_user(lab)
    org = lab.api.post("/api/organizations", json={"name": f"Secure {member.username}",
                                                   "isMfaRequired": True}).json()  # fmt: skip
    joined = lab.api.post(f"/api/organizations/{org['id']}/users", json={"userIds": [member.id]})
    assert joined.status_code == 201, joined.text
    spa = signed_in_by_password(lab, member)
    body = spa.fails("POST", "/experience/submit", None, 422, "user.missing_mfa")
    assert body["data"] == {"availableFactors": ["Totp"]}  # not skippable
    spa.fails("POST", "/experience/profile/mfa/mfa-skipped", None, 422,
              "session.mfa.mfa_policy_not_user_controlled")  # fmt: skip


def test_second_factor_successes_and_failures_are_in_the_audit_log(lab: Lab) -> None:
    lab.configure(mfa=TOTP_ONLY)
    user = lab_user(lab)
    _with_totp(lab, user)
    spa = signed_in_by_password(lab, user)
    wrong = str((int(_code(offset=60)) + 1) % 1_000_000).zfill(6)
    spa.fails("POST", "/experience/verification/totp/verify", {"code": wrong}, 400,
              "session.mfa.invalid_totp_code")  # fmt: skip
    spa.ok("POST", "/experience/verification/totp/verify", {"code": _code(offset=30)})
    logs = lab.api.get("/api/logs", params={"userId": user.id, "page_size": 20}).json()
    entries = [(log["key"], log["payload"]["result"]) for log in logs
               if log["key"] == "Interaction.SignIn.Verification.Totp.Submit"]  # fmt: skip
    assert sorted(entries) == [
        ("Interaction.SignIn.Verification.Totp.Submit", "Error"),
        ("Interaction.SignIn.Verification.Totp.Submit", "Success"),
    ]


def test_a_code_to_the_sign_up_address_alone_gets_another_factor_suggested(lab: Lab) -> None:
    lab.configure(
        signUp={"identifiers": ["email"], "password": True, "verify": True},
        signIn={"methods": [
            {"identifier": "email", "password": True, "verificationCode": False,
             "isPasswordPrimary": True},
            {"identifier": "username", "password": True, "verificationCode": False,
             "isPasswordPrimary": True},
        ]},
        mfa={"factors": ["EmailVerificationCode", "Totp"], "policy": "PromptAtSignInAndSignUp"},
    )  # fmt: skip
    user = lab_user(lab)

    def verified_by_email() -> Spa:
        spa = signed_in_by_password(lab, user)
        before = len(lab.messages_to(user.email))
        sent = spa.ok("POST", "/experience/verification/mfa-verification-code",
                      {"identifierType": "email"})  # fmt: skip
        spa.ok("POST", "/experience/verification/mfa-verification-code/verify",
               {"identifierType": "email", "verificationId": sent["verificationId"],
                "code": lab.code_for(user.email, after=before)})  # fmt: skip
        return spa

    spa = verified_by_email()
    body = spa.fails("POST", "/experience/submit", None, 422, "session.mfa.suggest_additional_mfa")
    assert body["data"] == {"availableFactors": ["Totp"], "maskedIdentifiers": {},
                            "skippable": True, "suggestion": True}  # fmt: skip
    spa.ok("POST", "/experience/profile/mfa/mfa-suggestion-skipped", None, 204)
    assert spa.submit()["sub"] == user.id
    assert verified_by_email().submit()["sub"] == user.id  # declined once, not asked again
