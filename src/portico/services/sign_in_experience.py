"""The sign-in experience: what the hosted pages offer, per tenant, in Logto's JSON shape.

One Pydantic model validates the admin's PATCH (unknown keys rejected, Logto's rules between
sign-up and sign-in enforced) and fills in Logto's seed defaults, so every reader works with a
complete value. Logto's MFA rules, which depend on which keys a PATCH sends, are checked by
:func:`merge` and refuse with Logto's codes. Reads go through a per-process cache of one second:
a change made by any process is seen by all within that time, and at once by the process that
made it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.cache import TTLCache
from portico.coherence import CACHE_TTL
from portico.services import emails
from portico.services.errors import ServiceError
from portico.services.urls import PublicUrl
from portico.storage.database import insert_ignore, now_ms
from portico.storage.tables import sign_in_experiences

SIE_ID = "default"
Identifier = Literal["username", "email", "phone"]
ForgotPasswordMethod = Literal["EmailVerificationCode", "PhoneVerificationCode"]
HEX_COLOR = r"^#[0-9A-Fa-f]{6}$"


def _support_email(value: str) -> str:
    """Shown by sign-in UIs as a ``mailto:`` link: an address, in its one stored form."""
    address = emails.normalise(value)
    if address is None:
        raise ValueError("must be an email address")
    return address


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Color(_Model):
    primaryColor: str = Field("#6139F6", pattern=HEX_COLOR)
    isDarkModeEnabled: bool = False
    darkPrimaryColor: str = Field("#8768F8", pattern=HEX_COLOR)


class Branding(_Model):
    logoUrl: PublicUrl | None = None
    darkLogoUrl: PublicUrl | None = None
    favicon: PublicUrl | None = None
    darkFavicon: PublicUrl | None = None


class LanguageInfo(_Model):
    autoDetect: bool = True
    fallbackLanguage: str = Field("en", min_length=2, max_length=16)


class SecondaryIdentifier(_Model):
    identifier: Literal["username", "email", "phone", "emailOrPhone"]
    verify: bool | None = None


class SignUp(_Model):
    identifiers: list[Identifier] = Field(default_factory=lambda: ["username"])
    password: bool = True
    verify: bool = False
    secondaryIdentifiers: list[SecondaryIdentifier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules(self) -> SignUp:
        if len(set(self.identifiers)) != len(self.identifiers):
            raise ValueError("signUp.identifiers must not repeat an identifier")
        if "username" in self.identifiers and not self.password:
            raise ValueError("signing up with a username requires signUp.password")
        if {"email", "phone"} & set(self.identifiers) and not self.verify:
            # Logto forces verification of an email or phone used to sign up.
            object.__setattr__(self, "verify", True)
        return self


class SignInMethod(_Model):
    identifier: Identifier
    password: bool = True
    verificationCode: bool = False
    isPasswordPrimary: bool = True

    @model_validator(mode="after")
    def _usable(self) -> SignInMethod:
        if self.identifier == "username" and not self.password:
            raise ValueError("the username sign-in method needs password")
        if not (self.password or self.verificationCode):
            raise ValueError(f"sign-in with {self.identifier} needs password or verificationCode")
        return self


class SignIn(_Model):
    methods: list[SignInMethod] = Field(
        default_factory=lambda: [SignInMethod(identifier="username")]
    )


class SocialSignIn(_Model):
    automaticAccountLinking: bool | None = None
    skipRequiredIdentifiers: bool | None = None


class SentinelPolicy(_Model):
    maxAttempts: int | None = Field(None, ge=1, le=10_000)
    lockoutDuration: int | None = Field(None, ge=1, le=24 * 60)  # minutes

    @property
    def max_attempts(self) -> int:
        return self.maxAttempts or 100

    @property
    def lockout_seconds(self) -> int:
        return (self.lockoutDuration or 60) * 60


class VerificationCodePolicy(_Model):
    expirationDuration: int | None = Field(None, ge=60, le=3600)  # seconds
    maxRetryAttempts: int | None = Field(None, ge=1, le=100)

    @property
    def ttl(self) -> int:
        return self.expirationDuration or 600

    @property
    def max_attempts(self) -> int:
        return self.maxRetryAttempts or 10


class EmailBlocklistPolicy(_Model):
    blockDisposableAddresses: bool | None = None
    blockSubaddressing: bool | None = None
    customAllowlist: list[str] | None = None
    customBlocklist: list[str] | None = None


class MfaFactor(StrEnum):
    """Logto's ``MfaFactor``."""

    TOTP = "Totp"
    WEB_AUTHN = "WebAuthn"
    BACKUP_CODE = "BackupCode"
    EMAIL_VERIFICATION_CODE = "EmailVerificationCode"
    PHONE_VERIFICATION_CODE = "PhoneVerificationCode"


class MfaPolicy(StrEnum):
    """Logto's ``MfaPolicy``: when users are asked to bind a factor, and whether they may skip."""

    USER_CONTROLLED = "UserControlled"  # deprecated by Logto: as PromptAtSignInAndSignUp
    MANDATORY = "Mandatory"
    PROMPT_ONLY_AT_SIGN_IN = "PromptOnlyAtSignIn"
    PROMPT_AT_SIGN_IN_AND_SIGN_UP = "PromptAtSignInAndSignUp"
    NO_PROMPT = "NoPrompt"
    # Logto allows these two only with adaptive (risk-based) MFA, which Portico does not have.
    PROMPT_AT_SIGN_IN_AND_SIGN_UP_MANDATORY = "PromptAtSignInAndSignUpMandatory"
    PROMPT_ONLY_AT_SIGN_IN_MANDATORY = "PromptOnlyAtSignInMandatory"


NO_SKIP_POLICIES = frozenset(
    {
        MfaPolicy.MANDATORY,
        MfaPolicy.PROMPT_AT_SIGN_IN_AND_SIGN_UP_MANDATORY,
        MfaPolicy.PROMPT_ONLY_AT_SIGN_IN_MANDATORY,
    }
)
# The prompts only adaptive MFA allows in Logto (plain ``Mandatory`` is not one of them).
MANDATORY_PROMPT_POLICIES = frozenset(
    {MfaPolicy.PROMPT_AT_SIGN_IN_AND_SIGN_UP_MANDATORY, MfaPolicy.PROMPT_ONLY_AT_SIGN_IN_MANDATORY}
)
NO_SIGN_UP_PROMPT_POLICIES = frozenset(
    {
        MfaPolicy.PROMPT_ONLY_AT_SIGN_IN,
        MfaPolicy.PROMPT_ONLY_AT_SIGN_IN_MANDATORY,
        MfaPolicy.NO_PROMPT,
    }
)


ADAPTIVE_MFA_NOT_SUPPORTED = (
    "Adaptive (risk-based) MFA is not supported by Portico: adaptiveMfa.enabled cannot be true."
)


class _OptionalKeys(_Model):
    """Logto's shape for an object of optional keys: an unset key is absent, not ``null``
    (the API schema still lists every key)."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, json_schema_mode_override="validation"
    )

    @model_serializer(mode="wrap")
    def _logto_shape(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class Mfa(_OptionalKeys):
    """Logto's ``mfa``: the factors users may bind and when they are asked to. A PATCH that
    sends ``mfa`` must give both ``factors`` and ``policy`` (see :func:`merge`); the defaults
    are Logto's seed."""

    factors: list[MfaFactor] = Field(default_factory=list)
    policy: MfaPolicy = MfaPolicy.USER_CONTROLLED
    organizationRequiredMfaPolicy: Literal["NoPrompt", "Mandatory"] | None = None

    @property
    def skippable(self) -> bool:
        """May a user decline to bind (or, having opted out, to verify) a factor?"""
        return self.policy not in NO_SKIP_POLICIES

    @property
    def prompts_at_sign_up(self) -> bool:
        return self.policy not in NO_SIGN_UP_PROMPT_POLICIES

    def enabled(self, factor: MfaFactor | str) -> bool:
        return factor in self.factors


class AdaptiveMfa(_OptionalKeys):
    """Logto's ``adaptiveMfa`` (risk-based MFA). Portico does not implement it, so ``enabled``
    is never true: the PATCH refuses it with 422 ``sign_in_experiences.adaptive_mfa_not_supported``
    and an import with a plain validation error."""

    enabled: bool | None = None

    @field_validator("enabled")
    @classmethod
    def _not_supported(cls, value: bool | None) -> bool | None:
        if value is True:
            raise ValueError(ADAPTIVE_MFA_NOT_SUPPORTED)
        return value


class PasskeySignIn(_OptionalKeys):
    """Logto's ``passkeySignIn``: every key optional, ``{}`` (disabled) by default."""

    enabled: bool | None = None
    showPasskeyButton: bool | None = None
    allowAutofill: bool | None = None


class TrustedDevice(_OptionalKeys):
    """Logto's ``trustedDevice`` (a development feature there): "remember this device" after
    a second factor, for ``durationDays`` (30 by default)."""

    enabled: bool | None = None
    durationDays: int | None = Field(None, ge=1, le=365)

    @property
    def days(self) -> int:
        return self.durationDays or 30


class SignInExperience(_Model):
    """Logto's ``SignInExperience`` (the fields Portico implements), seed defaults filled in."""

    tenantId: str | None = None
    id: str = SIE_ID
    color: Color = Field(default_factory=Color)
    branding: Branding = Field(default_factory=Branding)
    hideLogtoBranding: bool = False
    languageInfo: LanguageInfo = Field(default_factory=LanguageInfo)
    termsOfUseUrl: PublicUrl | None = None
    privacyPolicyUrl: PublicUrl | None = None
    agreeToTermsPolicy: Literal["Automatic", "ManualRegistrationOnly", "Manual"] = "Automatic"
    signUp: SignUp = Field(default_factory=SignUp)
    signIn: SignIn = Field(default_factory=SignIn)
    socialSignIn: SocialSignIn = Field(default_factory=SocialSignIn)
    socialSignInConnectorTargets: list[str] = Field(default_factory=list)
    signInMode: Literal["SignIn", "Register", "SignInAndRegister"] = "SignInAndRegister"
    customCss: str | None = Field(None, max_length=65_536)
    customContent: dict[str, str] = Field(default_factory=dict)
    passwordPolicy: dict[str, Any] = Field(default_factory=dict)
    usernamePolicy: dict[str, Any] = Field(default_factory=dict)
    mfa: Mfa = Field(default_factory=Mfa)
    adaptiveMfa: AdaptiveMfa = Field(default_factory=AdaptiveMfa)
    passkeySignIn: PasskeySignIn = Field(default_factory=PasskeySignIn)
    trustedDevice: TrustedDevice = Field(default_factory=TrustedDevice)
    singleSignOnEnabled: bool = False
    supportEmail: Annotated[str, AfterValidator(_support_email)] | None = None
    supportWebsiteUrl: PublicUrl | None = None
    unknownSessionRedirectUrl: PublicUrl | None = None
    sentinelPolicy: SentinelPolicy = Field(default_factory=SentinelPolicy)
    verificationCodePolicy: VerificationCodePolicy = Field(default_factory=VerificationCodePolicy)
    forgotPasswordMethods: list[ForgotPasswordMethod] | None = None
    emailBlocklistPolicy: EmailBlocklistPolicy = Field(default_factory=EmailBlocklistPolicy)

    @model_validator(mode="after")
    def _sign_up_reachable(self) -> SignInExperience:
        """Every sign-up identifier must be usable to sign in later (Logto's rule)."""
        methods = {m.identifier: m for m in self.signIn.methods}
        if len(methods) != len(self.signIn.methods):
            raise ValueError("signIn.methods must not repeat an identifier")
        for identifier in self.signUp.identifiers:
            method = methods.get(identifier)
            if method is None:
                raise ValueError(f"sign-up identifier {identifier!r} is missing in signIn.methods")
            if self.signUp.password and not method.password:
                raise ValueError(f"sign-in with {identifier} must allow password (signUp.password)")
            if not self.signUp.password and not method.verificationCode:
                raise ValueError(f"sign-in with {identifier} must allow verificationCode")
        return self

    # What the pages ask of it --------------------------------------------------------------
    def method(self, identifier: str) -> SignInMethod | None:
        return next((m for m in self.signIn.methods if m.identifier == identifier), None)

    @property
    def can_register(self) -> bool:
        return self.signInMode != "SignIn"

    @property
    def can_sign_in(self) -> bool:
        return self.signInMode != "Register"

    def forgot_password_by(self, identifier: str) -> bool:
        """Email/phone code recovery: as configured, or (unset) whenever the method exists."""
        wanted = "EmailVerificationCode" if identifier == "email" else "PhoneVerificationCode"
        if self.forgotPasswordMethods is not None:
            return wanted in self.forgotPasswordMethods
        return identifier in {m.identifier for m in self.signIn.methods} | set(
            self.signUp.identifiers
        )


# Columns and the JSON keys they hold.
_COLUMNS = {
    "color": "color",
    "branding": "branding",
    "hide_logto_branding": "hideLogtoBranding",
    "language_info": "languageInfo",
    "terms_of_use_url": "termsOfUseUrl",
    "privacy_policy_url": "privacyPolicyUrl",
    "agree_to_terms_policy": "agreeToTermsPolicy",
    "sign_up": "signUp",
    "sign_in": "signIn",
    "social_sign_in": "socialSignIn",
    "social_sign_in_connector_targets": "socialSignInConnectorTargets",
    "sign_in_mode": "signInMode",
    "custom_css": "customCss",
    "custom_content": "customContent",
    "password_policy": "passwordPolicy",
    "username_policy": "usernamePolicy",
    "mfa": "mfa",
    "adaptive_mfa": "adaptiveMfa",
    "passkey_sign_in": "passkeySignIn",
    "trusted_device": "trustedDevice",
    "single_sign_on_enabled": "singleSignOnEnabled",
    "support_email": "supportEmail",
    "support_website_url": "supportWebsiteUrl",
    "unknown_session_redirect_url": "unknownSessionRedirectUrl",
    "sentinel_policy": "sentinelPolicy",
    "verification_code_policy": "verificationCodePolicy",
    "forgot_password_methods": "forgotPasswordMethods",
    "email_blocklist_policy": "emailBlocklistPolicy",
}


# Keys without a column of their own (Logto has ``adaptive_mfa`` and ``passkey_sign_in``):
# kept in the ``mfa`` column's JSON under their own names, so that no migration is needed; a
# row stored before they existed has neither and reads as Logto's default ``{}``.
def _to_row(tenant_id: str, sie: SignInExperience) -> dict[str, Any]:
    data = sie.model_dump(mode="json")
    row = {column: data[key] for column, key in _COLUMNS.items()}
    row["forgot_password_methods"] = data["forgotPasswordMethods"] or []
    row.update(tenant_id=tenant_id, id=SIE_ID, updated_at=now_ms())
    return row


def _from_row(row: dict[str, Any]) -> SignInExperience:
    data = {key: row[column] for column, key in _COLUMNS.items()}
    data["forgotPasswordMethods"] = row["forgot_password_methods"] or None
    return SignInExperience.model_validate({**data, "tenantId": row["tenant_id"]})


def seed_for(tenant_id: str) -> SignInExperience:
    """Logto's seeds: the product tenant signs in and registers by username and password;
    the admin tenant only registers (the first visitor becomes the administrator)."""
    if tenant_id == "admin":
        return SignInExperience(signInMode="Register", color=Color(isDarkModeEnabled=True))
    return SignInExperience()


async def seed(conn: AsyncConnection, tenant_id: str) -> None:
    await insert_ignore(conn, sign_in_experiences, [_to_row(tenant_id, seed_for(tenant_id))])


async def read(conn: AsyncConnection, tenant_id: str) -> SignInExperience:
    """The stored sign-in experience (the seed when none is stored), on the caller's
    connection: for export and import, which work inside one transaction."""
    row = (
        await conn.execute(
            select(sign_in_experiences).where(
                sign_in_experiences.c.tenant_id == tenant_id, sign_in_experiences.c.id == SIE_ID
            )
        )
    ).first()
    return _from_row(dict(row._mapping)) if row else seed_for(tenant_id)


async def replace(conn: AsyncConnection, tenant_id: str, sie: SignInExperience) -> None:
    """Store ``sie`` whole in the caller's transaction (import). Other processes see it within
    their cache's second, like any change."""
    values = _to_row(tenant_id, sie)
    result = await conn.execute(
        update(sign_in_experiences)
        .where(sign_in_experiences.c.tenant_id == tenant_id, sign_in_experiences.c.id == SIE_ID)
        .values(values)
    )
    if result.rowcount == 0:
        await insert_ignore(conn, sign_in_experiences, [values])


class InvalidSignInExperience(ValueError):
    """A PATCH that would leave the sign-in experience unusable; the message says why.

    ``code`` is set when one of Logto's rules refused it (Logto's code and ``status``, plus
    ``data`` for ``guard.invalid_input``); ``None`` for Portico's own checks, which the API
    reports as 400 ``sign_in_experiences.invalid``."""

    def __init__(
        self, message: str, *, code: str | None = None, status: int = 400, data: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.data = data


# The keys whose PATCH value is checked on its own first, as Logto's body guard does: a
# malformed one is 400 ``guard.invalid_input`` (with the paths, as for any other request).
_GUARDED: dict[str, type[_Model]] = {
    "mfa": Mfa,
    "adaptiveMfa": AdaptiveMfa,
    "passkeySignIn": PasskeySignIn,
    "trustedDevice": TrustedDevice,
}
_REQUIRED = {"mfa": ("factors", "policy")}  # Logto: a nested object sent must be complete
# The sign-in identifier whose verification code is also an MFA factor.
_CODE_FACTORS = (
    ("email", MfaFactor.EMAIL_VERIFICATION_CODE),
    ("phone", MfaFactor.PHONE_VERIFICATION_CODE),
)
_MESSAGES = {
    "duplicated_mfa_factors": "Duplicated MFA factors.",
    "backup_code_cannot_be_enabled_alone": "Backup code cannot be enabled alone.",
    "email_verification_code_cannot_be_used_for_mfa": "Email verification code cannot be used "
    "for MFA when email verification is enabled for sign-in.",
    "phone_verification_code_cannot_be_used_for_mfa": "SMS verification code cannot be used "
    "for MFA when SMS verification is enabled for sign-in.",
    "email_verification_code_cannot_be_used_for_sign_in": "Email verification code cannot be "
    "used for sign-in when it is enabled for MFA.",
    "phone_verification_code_cannot_be_used_for_sign_in": "SMS verification code cannot be "
    "used for sign-in when it is enabled for MFA.",
    "non_adaptive_mfa_requires_skippable_policy": "When adaptive MFA is disabled, MFA prompt "
    "policy must be skippable. Do not use PromptOnlyAtSignInMandatory or "
    "PromptAtSignInAndSignUpMandatory.",
    "adaptive_mfa_not_supported": ADAPTIVE_MFA_NOT_SUPPORTED,
}


def _refused(name: str, status: int = 400) -> InvalidSignInExperience:
    code = f"sign_in_experiences.{name}"
    return InvalidSignInExperience(_MESSAGES[name], code=code, status=status)


def _guard(patch: dict[str, Any]) -> None:
    """The checks Logto's body guard makes of the MFA keys, before anything else."""
    adaptive = patch.get("adaptiveMfa")
    if isinstance(adaptive, dict) and adaptive.get("enabled") is True:
        raise _refused("adaptive_mfa_not_supported", 422)
    problems: list[dict[str, str]] = []
    for key, model in _GUARDED.items():
        if key not in patch:
            continue
        value = patch[key]
        if isinstance(value, dict):
            problems += [
                {"path": f"body.{key}.{name}", "message": "Field required"}
                for name in _REQUIRED.get(key, ())
                if name not in value
            ]
        try:
            model.model_validate(value)
        except ValidationError as error:
            problems += [
                {"path": ".".join(["body", key, *map(str, e["loc"])]), "message": e["msg"]}
                for e in error.errors()
            ]
    if problems:
        raise InvalidSignInExperience(
            "The request input is invalid.", code="guard.invalid_input", data=problems
        )


def _check_mfa(patch: dict[str, Any], sie: SignInExperience) -> None:
    """Logto's MFA rules, in its order, on the merged value ``sie``. Which rule applies
    depends on the keys the PATCH sends, as in Logto: a sign-in method by code next to the
    same code as MFA factor is refused as ``…_cannot_be_used_for_sign_in`` when ``signIn``
    is sent, and as ``…_cannot_be_used_for_mfa`` when only ``mfa`` is."""
    mfa = sie.mfa
    by_code = {m.identifier for m in sie.signIn.methods if m.verificationCode}
    if "signIn" in patch:
        for identifier, factor in _CODE_FACTORS:
            if identifier in by_code and mfa.enabled(factor):
                raise _refused(f"{identifier}_verification_code_cannot_be_used_for_sign_in")
    if "mfa" in patch:
        if len(set(mfa.factors)) != len(mfa.factors):
            raise _refused("duplicated_mfa_factors")
        if mfa.factors == [MfaFactor.BACKUP_CODE]:
            raise _refused("backup_code_cannot_be_enabled_alone")
        for identifier, factor in _CODE_FACTORS:
            if identifier in by_code and mfa.enabled(factor):
                raise _refused(f"{identifier}_verification_code_cannot_be_used_for_mfa")
    # Adaptive MFA is never on here (``_guard``), so a prompt that cannot be skipped is
    # refused as Logto refuses it without adaptive MFA: always when ``adaptiveMfa.enabled``
    # is sent false; else when ``mfa`` is sent with factors (also when ``adaptiveMfa`` is
    # sent as ``{}``, which Logto lets through).
    mandatory_prompt = mfa.policy in MANDATORY_PROMPT_POLICIES
    if "adaptiveMfa" in patch and sie.adaptiveMfa.enabled is False:
        if mandatory_prompt:
            raise _refused("non_adaptive_mfa_requires_skippable_policy", 422)
    elif "mfa" in patch and mfa.factors and mandatory_prompt:
        raise _refused("non_adaptive_mfa_requires_skippable_policy", 422)


def merge(current: SignInExperience, patch: dict[str, Any]) -> SignInExperience:
    """Apply a partial update: each top-level key given replaces that key's whole value
    (as Logto's PATCH does); the result must validate as a whole or nothing changes.

    Refusals: the MFA keys' own shape (400 ``guard.invalid_input``), then the whole value
    (Portico's checks, no ``code``), then Logto's MFA rules (its codes and statuses)."""
    patch = {k: v for k, v in patch.items() if k not in ("tenantId", "id")}
    _guard(patch)
    data = current.model_dump(mode="json")
    data.update(patch)
    try:
        merged = SignInExperience.model_validate(data)
    except ValueError as error:
        raise InvalidSignInExperience(str(error)) from None
    _check_mfa(patch, merged)
    if "mfa" in patch and not merged.mfa.factors and "adaptiveMfa" not in patch:
        merged.adaptiveMfa = AdaptiveMfa(enabled=False)  # Logto's normalisation
    return merged


class SignInExperiences:
    """Cached reads and validated writes of each tenant's sign-in experience."""

    def __init__(
        self, engine: AsyncEngine, cache: TTLCache[str, SignInExperience] | None = None
    ) -> None:
        """``cache``: from ``Coherence.cache(SIGN_IN_EXPERIENCE)`` so that a change reaches
        every process; a process-local one by default."""
        self._engine = engine
        self._cache: TTLCache[str, SignInExperience] = cache or TTLCache(CACHE_TTL)

    async def get(self, tenant_id: str) -> SignInExperience:
        found = await self._cache.get(tenant_id, self._load)
        return found if found is not None else seed_for(tenant_id)

    async def _load(self, tenant_id: str) -> SignInExperience | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sign_in_experiences).where(
                        sign_in_experiences.c.tenant_id == tenant_id,
                        sign_in_experiences.c.id == SIE_ID,
                    )
                )
            ).first()
        return _from_row(dict(row._mapping)) if row else None

    async def update(self, tenant_id: str, patch: dict[str, Any]) -> SignInExperience:
        """Raises :class:`InvalidSignInExperience` for Portico's own checks, and a
        :class:`ServiceError` with Logto's code and status when one of Logto's rules refuses
        the patch (the Management API answers each as Logto would)."""
        try:
            async with self._engine.begin() as conn:
                updated = await patch_stored(conn, tenant_id, patch)
        except InvalidSignInExperience as error:
            if error.code is None:
                raise
            raise ServiceError(
                error.message, code=error.code, status=error.status, data=error.data
            ) from None
        self._cache.invalidate(tenant_id)
        return updated.model_copy(update={"tenantId": tenant_id})


async def patch_stored(
    conn: AsyncConnection, tenant_id: str, patch: dict[str, Any]
) -> SignInExperience:
    """:func:`merge` ``patch`` into the stored experience (row locked) and store the result, in
    the caller's transaction (the console writes its audit entry in the same one)."""
    row = (
        await conn.execute(
            select(sign_in_experiences)
            .where(sign_in_experiences.c.tenant_id == tenant_id, sign_in_experiences.c.id == SIE_ID)
            .with_for_update()
        )
    ).first()
    current = _from_row(dict(row._mapping)) if row else seed_for(tenant_id)
    updated = merge(current, patch)
    if row is None:
        await insert_ignore(conn, sign_in_experiences, [_to_row(tenant_id, updated)])
    else:
        await replace(conn, tenant_id, updated)
    return updated
