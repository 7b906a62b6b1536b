"""``experience.next_step``: what follows in an interaction, across the sign-up
configurations a sign-in experience can have. Pure: no database, no HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from portico.experience.interaction import Event, ExperienceState
from portico.experience.next_step import CreateAccount, Finish, Fulfil, Refuse, next_step
from portico.services.sign_in_experience import SignInExperience

KAKAO = {"target": "kakao", "id": "k-1", "details": {"id": "k-1"}, "provider": "Kakao"}


METHODS = [
    {"identifier": kind, "password": True, "verificationCode": kind != "username",
     "isPasswordPrimary": True}
    for kind in ("username", "email", "phone")
]  # fmt: skip


def sie(**sign_up: Any) -> SignInExperience:
    """A valid sign-in experience with this sign-up part (every sign-in method on)."""
    return SignInExperience.model_validate({"signUp": sign_up, "signIn": {"methods": METHODS}})


def user(**values: Any) -> dict[str, Any]:
    """A users row with what the test gives (and nothing else)."""
    return {"id": "u1", "is_suspended": False, **values}


USERNAME_PASSWORD = sie(identifiers=["username"], password=True)
EMAIL_ONLY = sie(identifiers=["email"], password=False, verify=True)
EMAIL_AND_PASSWORD = sie(identifiers=["email"], password=True, verify=True)
EMAIL_OR_PHONE = sie(identifiers=["email", "phone"], password=False, verify=True)
USERNAME_THEN_EMAIL = sie(
    identifiers=["username"], password=True, secondaryIdentifiers=[{"identifier": "email"}]
)
NOTHING = sie(identifiers=[], password=False)


# --- signing up -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "profile", "expected"),
    [
        (USERNAME_PASSWORD, {}, Fulfil("username")),
        (USERNAME_PASSWORD, {"username": "alice"}, Fulfil("password")),
        (USERNAME_PASSWORD, {"username": "alice", "passwordEncrypted": "h"}, CreateAccount(None)),
        (EMAIL_ONLY, {}, Fulfil("email")),
        (EMAIL_ONLY, {"email": "a@example.com"}, CreateAccount(None)),
        (EMAIL_AND_PASSWORD, {"email": "a@example.com"}, Fulfil("password")),
        (EMAIL_OR_PHONE, {}, Fulfil("emailOrPhone")),
        (EMAIL_OR_PHONE, {"phone": "15551234567"}, CreateAccount(None)),
        (USERNAME_THEN_EMAIL, {"username": "a", "passwordEncrypted": "h"}, Fulfil("email")),
        (
            USERNAME_THEN_EMAIL,
            {"username": "a", "passwordEncrypted": "h", "email": "a@example.com"},
            CreateAccount(None),
        ),
        (NOTHING, {}, CreateAccount(None)),
    ],
)
def test_a_sign_up_asks_for_what_the_configuration_requires_in_order(
    config: SignInExperience, profile: dict[str, Any], expected: object
) -> None:
    state = ExperienceState(event=Event.REGISTER, profile=profile)
    assert next_step(state, config, None, None) == expected


def test_a_provider_identity_stands_in_for_a_password_and_is_linked_at_creation() -> None:
    state = ExperienceState(event=Event.REGISTER, profile={"username": "alice"})
    assert next_step(state, USERNAME_PASSWORD, None, KAKAO) == CreateAccount(KAKAO)
    # ... but not for a required email, unless the admin lets social sign-ups skip it.
    state = ExperienceState(event=Event.REGISTER, profile={"name": "Kim"})
    assert next_step(state, EMAIL_ONLY, None, KAKAO) == Fulfil("email")
    skipping = EMAIL_ONLY.model_copy(
        update={"socialSignIn": EMAIL_ONLY.socialSignIn.model_copy(
            update={"skipRequiredIdentifiers": True})}
    )  # fmt: skip
    assert next_step(state, skipping, None, KAKAO) == CreateAccount(KAKAO)


# --- signing in -------------------------------------------------------------------------------
def test_nobody_identified_is_refused_without_spending_the_state() -> None:
    step = next_step(ExperienceState(event=Event.SIGN_IN), USERNAME_PASSWORD, None, None)
    assert isinstance(step, Refuse) and not step.reset
    assert (step.error.key, step.error.status) == ("error.not_identified", 404)


@pytest.mark.parametrize(
    ("account", "key", "status"),
    [
        (None, "error.invalid_credentials", 422),  # deleted since it was identified
        (user(username="alice", password_encrypted="h", is_suspended=True), "error.suspended", 401),
    ],
)
def test_a_gone_or_suspended_account_ends_the_interaction(
    account: dict[str, Any] | None, key: str, status: int
) -> None:
    state = ExperienceState(event=Event.SIGN_IN, user_id="u1")
    step = next_step(state, USERNAME_PASSWORD, account, None)
    assert isinstance(step, Refuse) and step.reset
    assert (step.error.key, step.error.status) == (key, status)


@pytest.mark.parametrize(
    ("config", "account", "profile", "expected"),
    [
        # An account that has what sign-up requires signs in.
        (USERNAME_PASSWORD, user(username="alice", password_encrypted="h"), {}, None),
        # Sign-up changed to require an email since the account was made: it is asked for.
        (EMAIL_AND_PASSWORD, user(username="alice", password_encrypted="h"), {}, "email"),
        (USERNAME_THEN_EMAIL, user(username="alice", password_encrypted="h"), {}, "email"),
        # An account made by email code, now that passwords are required.
        (EMAIL_AND_PASSWORD, user(primary_email="a@example.com"), {}, "password"),
        # What this interaction collected counts.
        (
            EMAIL_AND_PASSWORD,
            user(primary_email="a@example.com"),
            {"passwordEncrypted": "h", "passwordEncryptionMethod": "Argon2i"},
            None,
        ),
        (EMAIL_OR_PHONE, user(username="alice", primary_phone="15551234567"), {}, None),
        (EMAIL_OR_PHONE, user(username="alice"), {}, "emailOrPhone"),
    ],
)
def test_signing_in_fulfils_the_profile_sign_up_now_requires(
    config: SignInExperience,
    account: dict[str, Any],
    profile: dict[str, Any],
    expected: str | None,
) -> None:
    state = ExperienceState(event=Event.SIGN_IN, user_id="u1", profile=profile)
    step = next_step(state, config, account, None)
    if expected is None:
        assert step == Finish("u1", profile, None)
    else:
        assert step == Fulfil(expected)


def test_a_provider_identity_is_linked_at_sign_in_but_not_twice_after_creation() -> None:
    account = user(primary_email="a@example.com")
    state = ExperienceState(event=Event.SIGN_IN, user_id="u1")
    # A social-only account needs no password even when sign-up requires one.
    assert next_step(state, EMAIL_AND_PASSWORD, account, KAKAO) == Finish("u1", {}, KAKAO)
    created = ExperienceState(event=Event.REGISTER, user_id="u1", created=True)
    assert next_step(created, EMAIL_ONLY, account, KAKAO) == Finish("u1", {}, None)


def test_the_step_is_the_same_for_the_same_inputs_and_changes_nothing() -> None:
    state = ExperienceState(event=Event.SIGN_IN, user_id="u1", profile={"email": "a@example.com"})
    before = state.to_json()
    first = next_step(state, EMAIL_AND_PASSWORD, user(password_encrypted="h"), None)
    assert first == next_step(state, EMAIL_AND_PASSWORD, user(password_encrypted="h"), None)
    assert state.to_json() == before
    assert isinstance(first, Finish)
    first.profile["email"] = "changed@example.com"  # the step's copy, not the state's
    assert state.profile == {"email": "a@example.com"}
