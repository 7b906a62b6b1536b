"""The sign-in experience's ``mfa``, ``adaptiveMfa`` and ``passkeySignIn`` through ``PATCH
/api/sign-in-exp``: Logto's seed defaults, its validation rules with its codes and statuses
(which rule applies depends on the keys the PATCH sends), and Portico's refusal of adaptive
MFA. Every test puts the sign-in experience back as it found it (one server for all)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from portico.services import sign_in_experience as service
from portico.services.sign_in_experience import Mfa, MfaFactor, MfaPolicy
from tests.management import error, invalid_fields
from tests.support import Server

ALL_POLICIES = [p.value for p in MfaPolicy]
MANDATORY_PROMPTS = ["PromptAtSignInAndSignUpMandatory", "PromptOnlyAtSignInMandatory"]
SKIPPABLE_OR_MANDATORY = [p for p in ALL_POLICIES if p not in MANDATORY_PROMPTS]

USERNAME = {"identifier": "username", "password": True, "verificationCode": False,
            "isPasswordPrimary": True}  # fmt: skip


def by_code(identifier: str, code: bool = True) -> dict[str, Any]:
    """``signIn`` with username and password, plus ``identifier`` by password (and code)."""
    other = {"identifier": identifier, "password": True, "verificationCode": code,
             "isPasswordPrimary": True}  # fmt: skip
    return {"methods": [USERNAME, other]}


def mfa(*factors: str, policy: str = "PromptAtSignInAndSignUp") -> dict[str, Any]:
    return {"factors": list(factors), "policy": policy}


@pytest.fixture
def sie(admin: httpx.Client) -> Iterator[httpx.Client]:
    """The admin client; the sign-in experience is restored (and checked) afterwards."""
    before = admin.get("/sign-in-exp").json()
    yield admin
    restore = {k: v for k, v in before.items() if k not in ("tenantId", "id")}
    response = admin.patch("/sign-in-exp", json=restore)
    assert response.status_code == 200, response.text
    assert admin.get("/sign-in-exp").json() == before


def patched(admin: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = admin.patch("/sign-in-exp", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def refused(admin: httpx.Client, body: dict[str, Any], status: int, code: str) -> None:
    """``body`` is refused with ``status``/``code`` and nothing is stored."""
    before = admin.get("/sign-in-exp").json()
    error(admin.patch("/sign-in-exp", json=body), status, code)
    assert admin.get("/sign-in-exp").json() == before


# --- defaults and round trips ------------------------------------------------------------


def test_defaults_are_logtos_seed(admin: httpx.Client, server: Server) -> None:
    got = admin.get("/sign-in-exp").json()
    assert got["mfa"] == {"factors": [], "policy": "UserControlled"}
    assert got["adaptiveMfa"] in ({}, {"enabled": False})
    assert got["passkeySignIn"] == {}
    public = httpx.get(f"{server.endpoint}/api/.well-known/sign-in-exp").json()
    assert public["mfa"] == got["mfa"] and public["passkeySignIn"] == {}


def test_a_valid_patch_round_trips(sie: httpx.Client, server: Server) -> None:
    body = {
        "mfa": {"factors": ["Totp", "WebAuthn", "BackupCode"], "policy": "PromptOnlyAtSignIn",
                "organizationRequiredMfaPolicy": "Mandatory"},
        "adaptiveMfa": {"enabled": False},
        "passkeySignIn": {"enabled": True, "showPasskeyButton": True, "allowAutofill": False},
    }  # fmt: skip
    answer = patched(sie, body)
    got = sie.get("/sign-in-exp").json()
    for key, value in body.items():
        assert answer[key] == value and got[key] == value, key
    public = httpx.get(f"{server.endpoint}/api/.well-known/sign-in-exp").json()
    assert public["mfa"] == body["mfa"] and public["passkeySignIn"] == body["passkeySignIn"]
    # a key of passkeySignIn left out is absent, as in Logto (not null)
    assert patched(sie, {"passkeySignIn": {"enabled": True}})["passkeySignIn"] == {"enabled": True}


@pytest.mark.parametrize("policy", SKIPPABLE_OR_MANDATORY)
def test_every_policy_but_the_adaptive_ones_is_accepted(sie: httpx.Client, policy: str) -> None:
    assert patched(sie, {"mfa": mfa("Totp", "BackupCode", policy=policy)})["mfa"] == mfa(
        "Totp", "BackupCode", policy=policy
    )


def test_code_factors_are_accepted_when_not_a_sign_in_method_by_code(
    sie: httpx.Client,
) -> None:
    factors = ("EmailVerificationCode", "PhoneVerificationCode")
    body = {"signIn": {"methods": [USERNAME, by_code("email", False)["methods"][1],
                                   by_code("phone", False)["methods"][1]]},
            "mfa": mfa(*factors)}  # fmt: skip
    assert patched(sie, body)["mfa"]["factors"] == list(factors)


def test_mfa_without_factors_turns_adaptive_mfa_off(sie: httpx.Client) -> None:
    """Logto's normalisation: ``mfa`` sent with no factors and no ``adaptiveMfa``."""
    patched(sie, {"adaptiveMfa": {}})
    assert patched(sie, {"mfa": mfa(policy="UserControlled")})["adaptiveMfa"] == {"enabled": False}
    patched(sie, {"adaptiveMfa": {}})
    assert patched(sie, {"mfa": mfa("Totp")})["adaptiveMfa"] == {}


# --- Logto's rules ------------------------------------------------------------------------


def test_duplicated_factors(sie: httpx.Client) -> None:
    refused(sie, {"mfa": mfa("Totp", "Totp")}, 400, "sign_in_experiences.duplicated_mfa_factors")


def test_backup_codes_cannot_be_alone(sie: httpx.Client) -> None:
    code = "sign_in_experiences.backup_code_cannot_be_enabled_alone"
    refused(sie, {"mfa": mfa("BackupCode")}, 400, code)


@pytest.mark.parametrize(
    ("identifier", "factor"),
    [("email", "EmailVerificationCode"), ("phone", "PhoneVerificationCode")],
)
def test_a_code_is_either_a_sign_in_method_or_a_factor(
    sie: httpx.Client, identifier: str, factor: str
) -> None:
    prefix = f"sign_in_experiences.{identifier}_verification_code_cannot_be_used_for"
    # mfa sent, the stored sign-in uses the code: ..._for_mfa
    patched(sie, {"signIn": by_code(identifier)})
    refused(sie, {"mfa": mfa(factor, "Totp")}, 400, f"{prefix}_mfa")
    # signIn sent, the stored MFA uses the code: ..._for_sign_in
    patched(sie, {"signIn": by_code(identifier, False)})
    patched(sie, {"mfa": mfa(factor, "Totp")})
    refused(sie, {"signIn": by_code(identifier)}, 400, f"{prefix}_sign_in")
    # both sent: Logto checks signIn first
    patched(sie, {"mfa": mfa("Totp")})
    refused(sie, {"signIn": by_code(identifier), "mfa": mfa(factor)}, 400, f"{prefix}_sign_in")
    # by password only, the same identifier is fine
    patched(sie, {"signIn": by_code(identifier, False), "mfa": mfa(factor)})


def test_adaptive_mfa_is_not_supported(sie: httpx.Client) -> None:
    code = "sign_in_experiences.adaptive_mfa_not_supported"
    refused(sie, {"adaptiveMfa": {"enabled": True}}, 422, code)
    body = {"adaptiveMfa": {"enabled": True},
            "mfa": mfa("Totp", policy="PromptOnlyAtSignInMandatory")}  # fmt: skip
    refused(sie, body, 422, code)
    patched(sie, {"adaptiveMfa": {"enabled": False}})
    patched(sie, {"adaptiveMfa": {}})


@pytest.mark.parametrize("policy", MANDATORY_PROMPTS)
def test_prompts_that_cannot_be_skipped_need_adaptive_mfa(sie: httpx.Client, policy: str) -> None:
    code = "sign_in_experiences.non_adaptive_mfa_requires_skippable_policy"
    refused(sie, {"mfa": mfa("Totp", policy=policy)}, 422, code)
    refused(sie, {"mfa": mfa("Totp", policy=policy), "adaptiveMfa": {}}, 422, code)
    refused(sie, {"mfa": mfa("Totp", policy=policy), "adaptiveMfa": {"enabled": False}}, 422, code)
    # with adaptive MFA sent off, even without factors (Logto)
    refused(sie, {"mfa": mfa(policy=policy), "adaptiveMfa": {"enabled": False}}, 422, code)
    # without factors and adaptiveMfa, Logto takes it (and turns adaptive MFA off) ...
    assert patched(sie, {"mfa": mfa(policy=policy)})["adaptiveMfa"] == {"enabled": False}
    # ... after which adaptiveMfa sent off is refused, as the policy cannot be skipped
    refused(sie, {"adaptiveMfa": {"enabled": False}}, 422, code)


# --- the request's shape (Logto's body guard) -------------------------------------------


def test_mfa_needs_factors_and_policy(sie: httpx.Client) -> None:
    before = sie.get("/sign-in-exp").json()
    for body, missing in [
        ({"mfa": {"factors": ["Totp"]}}, {"body.mfa.policy"}),
        ({"mfa": {"policy": "UserControlled"}}, {"body.mfa.factors"}),
        ({"mfa": {}}, {"body.mfa.factors", "body.mfa.policy"}),
    ]:
        assert invalid_fields(sie.patch("/sign-in-exp", json=body)) == missing, body
    assert sie.get("/sign-in-exp").json() == before


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"mfa": mfa("Totp", "Sms")}, "body.mfa.factors.1"),
        ({"mfa": mfa("totp")}, "body.mfa.factors.0"),
        ({"mfa": {"factors": "Totp", "policy": "UserControlled"}}, "body.mfa.factors"),
        ({"mfa": mfa("Totp", policy="Sometimes")}, "body.mfa.policy"),
        ({"mfa": {**mfa("Totp"), "organizationRequiredMfaPolicy": "Always"}},
         "body.mfa.organizationRequiredMfaPolicy"),
        ({"mfa": {**mfa("Totp"), "extra": 1}}, "body.mfa.extra"),
        ({"mfa": None}, "body.mfa"),
        ({"adaptiveMfa": {"enabled": "maybe"}}, "body.adaptiveMfa.enabled"),
        ({"adaptiveMfa": {"risk": 1}}, "body.adaptiveMfa.risk"),
        ({"passkeySignIn": {"enabled": "maybe"}}, "body.passkeySignIn.enabled"),
        ({"passkeySignIn": {"conditionalUi": True}}, "body.passkeySignIn.conditionalUi"),
        ({"passkeySignIn": []}, "body.passkeySignIn"),
    ],
)  # fmt: skip
def test_malformed_values_are_refused(sie: httpx.Client, body: dict[str, Any], path: str) -> None:
    before = sie.get("/sign-in-exp").json()
    assert path in invalid_fields(sie.patch("/sign-in-exp", json=body))
    assert sie.get("/sign-in-exp").json() == before


# --- the model ----------------------------------------------------------------------------


def test_policy_helpers() -> None:
    skippable = {p for p in MfaPolicy if Mfa(policy=p).skippable}
    assert {p.value for p in set(MfaPolicy) - skippable} == {
        "Mandatory", "PromptAtSignInAndSignUpMandatory", "PromptOnlyAtSignInMandatory"
    }  # fmt: skip
    not_at_sign_up = {p.value for p in MfaPolicy if not Mfa(policy=p).prompts_at_sign_up}
    assert not_at_sign_up == {"PromptOnlyAtSignIn", "PromptOnlyAtSignInMandatory", "NoPrompt"}
    two = Mfa(factors=["Totp", "BackupCode"], policy="Mandatory")
    assert two.enabled(MfaFactor.TOTP) and two.enabled("BackupCode")
    assert not two.enabled(MfaFactor.WEB_AUTHN)
    assert [f.value for f in MfaFactor] == [
        "Totp", "WebAuthn", "BackupCode", "EmailVerificationCode", "PhoneVerificationCode"
    ]  # fmt: skip


def test_a_row_stored_before_these_keys_still_loads() -> None:
    sie = service.merge(
        service.seed_for("default"),
        {"mfa": mfa("Totp", "BackupCode"), "passkeySignIn": {"enabled": True}},
    )
    row = service._to_row("default", sie)
    assert service._from_row(row) == sie.model_copy(update={"tenantId": "default"})
    # A row from before migration 0009: its new columns hold the server default.
    legacy = {**row, "mfa": {"factors": [], "policy": "UserControlled",
                             "organizationRequiredMfaPolicy": None},
              "adaptive_mfa": {}, "passkey_sign_in": {}}  # fmt: skip
    loaded = service._from_row(legacy)
    assert loaded.mfa == Mfa() and loaded.model_dump(mode="json")["adaptiveMfa"] == {}
    assert loaded.model_dump(mode="json")["passkeySignIn"] == {}
