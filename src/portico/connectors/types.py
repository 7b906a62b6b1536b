"""The vocabulary every connector shares, with Logto's names and values (wire-compatible)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ConnectorType(StrEnum):
    Email = "Email"
    Sms = "Sms"
    Social = "Social"


class ConnectorPlatform(StrEnum):
    """Where a social connector runs; passwordless (Email/Sms) connectors have none (``null``)."""

    Native = "Native"
    Universal = "Universal"
    Web = "Web"


class TemplateType(StrEnum):
    """Why a message is sent; a connector picks its template by this, falling back to Generic."""

    SignIn = "SignIn"
    Register = "Register"
    ForgotPassword = "ForgotPassword"
    OrganizationInvitation = "OrganizationInvitation"
    Generic = "Generic"
    UserPermissionValidation = "UserPermissionValidation"
    BindNewIdentifier = "BindNewIdentifier"
    MfaVerification = "MfaVerification"
    BindMfa = "BindMfa"


I18nText = dict[str, str]
"""Text per language tag, ``{"en": ..., "es": ...}``; ``en`` is always present."""


class ConnectorMetadata(BaseModel):
    """What the console shows about a connector factory (Logto's ``ConnectorMetadata``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str = Field(description="factory id, unique among installed connectors")
    target: str = Field(description="provider key, e.g. smtp or kakao")
    platform: ConnectorPlatform | None = None
    name: I18nText
    description: I18nText
    logo: str = ""
    logoDark: str | None = None
    readme: str = ""
    isStandard: bool = False
    configTemplate: str | None = None
