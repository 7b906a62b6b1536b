"""Request bodies of the Experience API, in Logto's shapes. Unknown members are a 400."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Event = Literal["SignIn", "Register", "ForgotPassword"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBody(Body):
    interactionEvent: Event
    captchaToken: str | None = Field(None, max_length=4096)


class IdentifierBody(Body):
    type: Literal["username", "email", "phone"]
    value: str = Field(min_length=1, max_length=256)


class PasswordVerification(Body):
    identifier: IdentifierBody
    password: str = Field(min_length=1, max_length=512)


class CodeSend(Body):
    identifier: IdentifierBody
    interactionEvent: Event


class CodeVerify(Body):
    identifier: IdentifierBody
    verificationId: str = Field(max_length=64)
    code: str = Field(min_length=1, max_length=32)


class SocialStart(Body):
    state: str = Field(min_length=1, max_length=512)
    redirectUri: str = Field(min_length=1, max_length=2048, pattern=r"^https?://")
    # Accepted as Logto's SPA may send it, and ignored: the scope a provider is asked for is
    # the connector's configuration (docs/experience-api.md).
    scope: str | None = Field(None, max_length=1024)


class SocialVerify(Body):
    verificationId: str | None = Field(None, max_length=64)
    connectorData: dict[str, Any]


class SsoVerify(Body):
    verificationId: str = Field(max_length=64)
    connectorData: dict[str, Any]


class Identification(Body):
    verificationId: str | None = Field(None, max_length=64)
    linkSocialIdentity: bool | None = None


class ProfileValue(Body):
    type: Literal["username", "password"]
    value: str = Field(min_length=1, max_length=512)


class ProfileVerified(Body):
    type: Literal["email", "phone", "social"]
    verificationId: str = Field(max_length=64)


class NewPassword(Body):
    password: str = Field(min_length=1, max_length=512)


class Consent(Body):
    organizationIds: list[str] | None = None


class TotpVerify(Body):
    code: str = Field(min_length=1, max_length=16)
    verificationId: str | None = Field(None, max_length=64)


class BackupCodeVerify(Body):
    code: str = Field(min_length=1, max_length=32)


class BindMfaBody(Body):
    type: Literal["Totp", "WebAuthn", "BackupCode", "EmailVerificationCode",
                  "PhoneVerificationCode"]  # fmt: skip
    verificationId: str = Field(max_length=64)


class MfaCodeSend(Body):
    identifierType: Literal["email", "phone"]


class MfaCodeVerify(Body):
    identifierType: Literal["email", "phone"]
    verificationId: str = Field(max_length=64)
    code: str = Field(min_length=1, max_length=32)


class WebAuthnPayload(Body):
    verificationId: str = Field(max_length=64)
    payload: dict[str, Any]


class PasskeyStart(Body):
    identifier: IdentifierBody


class PasskeyVerify(Body):
    verificationId: str | None = Field(None, max_length=64)
    payload: dict[str, Any]


class PasskeyBind(Body):
    verificationId: str = Field(max_length=64)
