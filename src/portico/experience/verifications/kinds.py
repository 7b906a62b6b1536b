"""The kinds of verification record, by Logto's ``type`` names."""

from __future__ import annotations

from enum import StrEnum


class VerificationType(StrEnum):
    PASSWORD = "Password"
    EMAIL_CODE = "EmailVerificationCode"
    PHONE_CODE = "PhoneVerificationCode"
    SOCIAL = "Social"
    NEW_PASSWORD_IDENTITY = "NewPasswordIdentity"
    TOTP = "Totp"
    BACKUP_CODE = "BackupCode"
    MFA_EMAIL_CODE = "MfaEmailVerificationCode"
    MFA_PHONE_CODE = "MfaPhoneVerificationCode"
    WEB_AUTHN = "WebAuthn"
    SIGN_IN_PASSKEY = "SignInPasskey"
    ENTERPRISE_SSO = "EnterpriseSso"


def code_type(kind: str) -> VerificationType:
    """The code verification's type for an identifier kind (``email`` or ``phone``)."""
    return VerificationType.EMAIL_CODE if kind == "email" else VerificationType.PHONE_CODE
