"""The sign-in experience: what the hosted pages offer, per tenant, in Logto's JSON shape.

One Pydantic model validates the admin's PATCH (unknown keys rejected, Logto's rules between
sign-up and sign-in enforced) and fills in Logto's seed defaults, so every reader works with a
complete value. Reads go through a per-process cache of one second: a change made by any
process is seen by all within that time, and at once by the process that made it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico.cache import TTLCache
from portico.coherence import CACHE_TTL
from portico.services import emails
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


class Mfa(_Model):
    factors: list[str] = Field(default_factory=list)
    policy: str = "UserControlled"
    organizationRequiredMfaPolicy: str | None = None


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
    "single_sign_on_enabled": "singleSignOnEnabled",
    "support_email": "supportEmail",
    "support_website_url": "supportWebsiteUrl",
    "unknown_session_redirect_url": "unknownSessionRedirectUrl",
    "sentinel_policy": "sentinelPolicy",
    "verification_code_policy": "verificationCodePolicy",
    "forgot_password_methods": "forgotPasswordMethods",
    "email_blocklist_policy": "emailBlocklistPolicy",
}


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
    """A PATCH that would leave the sign-in experience unusable; the message says why."""


def merge(current: SignInExperience, patch: dict[str, Any]) -> SignInExperience:
    """Apply a partial update: each top-level key given replaces that key's whole value
    (as Logto's PATCH does); the result must validate as a whole or nothing changes."""
    data = current.model_dump(mode="json")
    data.update({k: v for k, v in patch.items() if k not in ("tenantId", "id")})
    try:
        return SignInExperience.model_validate(data)
    except ValueError as error:
        raise InvalidSignInExperience(str(error)) from None


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
        async with self._engine.begin() as conn:
            updated = await patch_stored(conn, tenant_id, patch)
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
