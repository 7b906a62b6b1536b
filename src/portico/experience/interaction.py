"""What a sign-in interaction has established so far, typed: the engine's state, shared by the
hosted pages and the Experience API, stored with the interaction artifact (under ``exp``) so
any process can serve the next request.

One serialisation (:meth:`ExperienceState.to_json` / :meth:`from_json`, Logto-style camelCase
keys): a state written by an older process, or with keys missing, reads as the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portico.experience import verifications
from portico.experience.identifiers import Identifier
from portico.experience.verifications import CodeVerification, Verification


class Event(StrEnum):
    """Logto's interaction events."""

    SIGN_IN = "SignIn"
    REGISTER = "Register"
    FORGOT_PASSWORD = "ForgotPassword"


@dataclass
class PendingCode:
    """The code the verification-code page checks next: sent to ``identifier`` for
    ``purpose`` (an event), and whether a verified identifier is bound to the profile."""

    identifier: Identifier
    purpose: str
    bind: bool = False

    def verification(self) -> CodeVerification:
        """The code check this page runs (the same class as the Experience API's)."""
        return CodeVerification(self.identifier, self.purpose)

    def to_json(self) -> dict[str, Any]:
        return {**self.identifier.as_dict(), "purpose": self.purpose, "bind": self.bind}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingCode:
        return cls(Identifier.from_dict(data), str(data["purpose"]), bool(data.get("bind")))


@dataclass
class MfaState:
    """MFA in this interaction: the user's choices made here (turned on, skipped, the
    suggestion declined) and the factors bound here, stored when the interaction ends.
    ``backup_codes`` are kept only until then (the user saw them once)."""

    enabled: bool | None = None
    skipped: bool = False
    suggestion_skipped: bool = False
    totp: str | None = None  # a verified new TOTP key
    totp_step: int | None = None  # the time step its code proved
    backup_codes: list[str] | None = None
    contacts: list[str] = field(default_factory=list)  # code factors bound (an address added)
    web_authn: list[dict[str, Any]] = field(default_factory=list)  # credentials registered
    passkey_skipped: bool = False
    remember: bool = False  # trust this browser once a second factor is verified

    def to_json(self) -> dict[str, Any]:
        data = {
            "contacts": self.contacts or None,
            "webAuthn": self.web_authn or None,
            "passkeySkipped": self.passkey_skipped or None,
            "remember": self.remember or None,
            "enabled": self.enabled,
            "skipped": self.skipped or None,
            "suggestionSkipped": self.suggestion_skipped or None,
            "totp": self.totp,
            "totpStep": self.totp_step,
            "backupCodes": self.backup_codes,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> MfaState:
        data = data or {}
        codes = data.get("backupCodes")
        return cls(
            enabled=data.get("enabled"),
            skipped=bool(data.get("skipped")),
            suggestion_skipped=bool(data.get("suggestionSkipped")),
            totp=data.get("totp"),
            totp_step=data.get("totpStep"),
            backup_codes=list(codes) if codes else None,
            contacts=list(data.get("contacts") or []),
            web_authn=list(data.get("webAuthn") or []),
            passkey_skipped=bool(data.get("passkeySkipped")),
            remember=bool(data.get("remember")),
        )


def _identifier(data: Any) -> Identifier | None:
    return Identifier.from_dict(data) if data else None


@dataclass
class ExperienceState:
    """The interaction's state. ``profile`` holds what sign-up or fulfilment collected
    (``username``, ``email``, ``phone``, ``name``, ``avatar``, ``passwordEncrypted`` and its
    method); ``verifications`` the Experience API's records by ``verificationId``."""

    event: Event = Event.SIGN_IN
    profile: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None  # the account signing in (identified)
    created: bool = False  # the account was created by this interaction
    reset_user_id: str | None = None  # forgot password: whose password is reset
    new_password: dict[str, str] | None = None  # forgot password: the hash to store
    identifier: Identifier | None = None  # what the sign-in page was given
    pending: PendingCode | None = None
    verified_identifier: Identifier | None = None  # proven, then found to be someone's
    existing_user_id: str | None = None  # whose it was
    social: dict[str, Any] | None = None  # the provider identity to link
    sso: dict[str, Any] | None = None  # the enterprise SSO identity signing in (to link)
    verifications: dict[str, Verification] = field(default_factory=dict)
    mfa: MfaState = field(default_factory=MfaState)
    amr: list[str] = field(default_factory=list)  # the first factor's methods (RFC 8176)
    notice: str | None = None  # a phrase key shown once on the next page

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": self.event.value,
            "profile": self.profile,
            "userId": self.user_id,
            "created": self.created or None,
            "resetUserId": self.reset_user_id,
            "newPassword": self.new_password,
            "identifier": self.identifier.as_dict() if self.identifier else None,
            "pending": self.pending.to_json() if self.pending else None,
            "verifiedIdentifier": (
                self.verified_identifier.as_dict() if self.verified_identifier else None
            ),
            "existingUserId": self.existing_user_id,
            "social": self.social,
            "sso": self.sso,
            "verifications": {key: record.to_json() for key, record in self.verifications.items()}
            or None,
            "mfa": self.mfa.to_json() or None,
            "amr": self.amr or None,
            "notice": self.notice,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ExperienceState:
        data = data or {}
        pending = data.get("pending")
        return cls(
            event=Event(data.get("event") or Event.SIGN_IN),
            profile=dict(data.get("profile") or {}),
            user_id=data.get("userId"),
            created=bool(data.get("created")),
            reset_user_id=data.get("resetUserId"),
            new_password=data.get("newPassword"),
            identifier=_identifier(data.get("identifier")),
            pending=PendingCode.from_json(pending) if pending else None,
            verified_identifier=_identifier(data.get("verifiedIdentifier")),
            existing_user_id=data.get("existingUserId"),
            social=data.get("social"),
            sso=data.get("sso"),
            verifications={
                key: record
                for key, stored in (data.get("verifications") or {}).items()
                if (record := verifications.load(stored)) is not None
            },
            mfa=MfaState.from_json(data.get("mfa")),
            amr=list(data.get("amr") or []),
            notice=data.get("notice"),
        )
