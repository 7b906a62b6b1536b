"""The interaction's typed state and its one serialisation (``experience/interaction.py``)."""

from __future__ import annotations

from portico.experience.identifiers import Identifier
from portico.experience.interaction import Event, ExperienceState, PendingCode
from portico.experience.verifications import (
    CodeVerification,
    NewPasswordIdentity,
    PasswordVerification,
    SocialVerification,
)


def test_a_state_survives_its_serialisation() -> None:
    state = ExperienceState(
        event=Event.REGISTER,
        profile={"email": "a@example.com", "passwordEncrypted": "$argon2id$x"},
        user_id="u1",
        created=True,
        identifier=Identifier("email", "a@example.com"),
        pending=PendingCode(Identifier("phone", "15551234567"), "Register", bind=True),
        verified_identifier=Identifier("email", "b@example.com"),
        existing_user_id="u2",
        social={"target": "kakao", "id": "k1"},
        verifications={
            "v1": PasswordVerification(Identifier("email", "a@example.com"), "u1"),
            "v2": CodeVerification(Identifier("phone", "15551234567"), "SignIn", verified=True),
            "v3": NewPasswordIdentity("alice", {"passwordEncrypted": "$argon2id$y"}),
            "v4": SocialVerification("c1", "Kakao", "https://app/cb", state="s", session={"n": 1}),
        },
        notice="notice.code_resent",
    )
    stored = state.to_json()
    assert stored["event"] == "Register" and stored["userId"] == "u1"
    assert stored["pending"] == {"kind": "phone", "value": "15551234567",
                                 "purpose": "Register", "bind": True}  # fmt: skip
    assert ExperienceState.from_json(stored) == state
    # Logto's record type names, as the Experience API shows them.
    assert [r["type"] for r in stored["verifications"].values()] == [
        "Password", "PhoneVerificationCode", "NewPasswordIdentity", "Social",
    ]  # fmt: skip


def test_a_record_of_a_kind_this_version_does_not_know_is_left_out() -> None:
    stored = {"verifications": {"v1": {"type": "AKindFromLater", "verified": True},
                                "v2": {"type": "Password", "identifier": {"kind": "username",
                                       "value": "alice"}, "userId": "u1"}}}  # fmt: skip
    state = ExperienceState.from_json(stored)
    assert list(state.verifications) == ["v2"] and state.verifications["v2"].verified


def test_an_empty_or_older_state_reads_as_the_defaults() -> None:
    assert ExperienceState.from_json(None) == ExperienceState()
    # An interaction stored by an earlier version (``identified`` is gone): still readable.
    older = {"event": "SignIn", "profile": {}, "userId": "u1", "identified": ["alice"]}
    state = ExperienceState.from_json(older)
    assert state.event is Event.SIGN_IN and state.user_id == "u1"
    assert "identified" not in state.to_json()


def test_only_what_is_set_is_stored() -> None:
    assert ExperienceState(event=Event.FORGOT_PASSWORD).to_json() == {
        "event": "ForgotPassword", "profile": {},
    }  # fmt: skip
