"""Verifications: what a user proves during an interaction, one class per kind, one file
each. Every class has the same shape:

- it is created when the proof starts (a code sent, a provider's page opened) or is given;
- ``verify(turn, ...)`` checks the proof (with the guessing limits of ``experience/guard``)
  and marks the record ``verified``;
- ``identify_user(turn)`` says whose account the proof points at, as a typed result;
- ``to_json``/``from_json`` keep it in the interaction's state (``ExperienceState``), under
  its ``verificationId`` (Logto's verification records), with Logto's ``type`` names.

Pages and the Experience API use the same classes, so a check is written once. MFA factors
(TOTP, WebAuthn, backup codes), passkeys, enterprise SSO and one-time tokens join as further
files here, each registered in :data:`KINDS`.
"""

from __future__ import annotations

from typing import Any

from portico.experience.verifications.backup_code import BackupCodeVerification
from portico.experience.verifications.code import CodeVerification
from portico.experience.verifications.enterprise_sso import EnterpriseSsoVerification
from portico.experience.verifications.kinds import VerificationType
from portico.experience.verifications.mfa_code import MfaCodeVerification
from portico.experience.verifications.new_password_identity import NewPasswordIdentity
from portico.experience.verifications.passkey import PasskeyVerification
from portico.experience.verifications.password import PasswordVerification
from portico.experience.verifications.social import SocialVerification
from portico.experience.verifications.totp import TotpVerification
from portico.experience.verifications.web_authn import WebAuthnVerification

Verification = (
    PasswordVerification
    | CodeVerification
    | SocialVerification
    | NewPasswordIdentity
    | TotpVerification
    | BackupCodeVerification
    | MfaCodeVerification
    | WebAuthnVerification
    | PasskeyVerification
    | EnterpriseSsoVerification
)
# Second factors: what proves the user again once identified.
MfaVerification = (
    TotpVerification | BackupCodeVerification | MfaCodeVerification | WebAuthnVerification
)

KINDS: dict[str, type[Verification]] = {
    VerificationType.PASSWORD: PasswordVerification,
    VerificationType.EMAIL_CODE: CodeVerification,
    VerificationType.PHONE_CODE: CodeVerification,
    VerificationType.SOCIAL: SocialVerification,
    VerificationType.NEW_PASSWORD_IDENTITY: NewPasswordIdentity,
    VerificationType.TOTP: TotpVerification,
    VerificationType.BACKUP_CODE: BackupCodeVerification,
    VerificationType.MFA_EMAIL_CODE: MfaCodeVerification,
    VerificationType.MFA_PHONE_CODE: MfaCodeVerification,
    VerificationType.WEB_AUTHN: WebAuthnVerification,
    VerificationType.SIGN_IN_PASSKEY: PasskeyVerification,
    VerificationType.ENTERPRISE_SSO: EnterpriseSsoVerification,
}


def load(data: dict[str, Any]) -> Verification | None:
    """A stored record, or None for a kind this version does not know (ignored)."""
    kind = KINDS.get(str(data.get("type")))
    return kind.from_json(data) if kind else None


__all__ = [
    "KINDS",
    "BackupCodeVerification",
    "CodeVerification",
    "EnterpriseSsoVerification",
    "MfaCodeVerification",
    "MfaVerification",
    "NewPasswordIdentity",
    "PasskeyVerification",
    "PasswordVerification",
    "SocialVerification",
    "TotpVerification",
    "Verification",
    "VerificationType",
    "WebAuthnVerification",
    "load",
]
