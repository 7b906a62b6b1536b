"""Multi-factor authentication in an interaction, as Logto decides it: when a user signing in
must verify a second factor, and when a user must (or is invited to) bind one. Pure rules
over what the caller read (:class:`UserMfa`) and what the interaction holds
(``ExperienceState.mfa`` and its verification records); ``next_step`` asks them.

Policies (``sie.mfa.policy``): ``NoPrompt`` never asks to bind; the ``Prompt…`` ones ask once
and may be skipped; ``Mandatory`` requires a factor of everyone. A user who has a factor
verifies it at every sign-in unless they turned MFA off or chose to skip it at sign-in under
a skippable policy (``logto_config.mfa``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portico.experience.devices import fingerprint
from portico.experience.interaction import Event
from portico.experience.verifications import (
    BackupCodeVerification,
    MfaCodeVerification,
    MfaVerification,
    PasskeyVerification,
    TotpVerification,
    WebAuthnVerification,
)
from portico.services import mfa as mfa_service
from portico.services.sign_in_experience import MfaFactor

if TYPE_CHECKING:
    from portico.experience.interaction import ExperienceState
    from portico.experience.turn import Turn
    from portico.services.sign_in_experience import SignInExperience

# The factors this version verifies and binds.
SUPPORTED = (
    MfaFactor.WEB_AUTHN,
    MfaFactor.TOTP,
    MfaFactor.BACKUP_CODE,
    MfaFactor.EMAIL_VERIFICATION_CODE,
    MfaFactor.PHONE_VERIFICATION_CODE,
)
# A code to the user's own address or number: a factor every user with one has (Logto).
IMPLICIT = {"phone": MfaFactor.PHONE_VERIFICATION_CODE, "email": MfaFactor.EMAIL_VERIFICATION_CODE}


@dataclass(frozen=True)
class UserMfa:
    """A user's MFA as stored: the factor types they can verify with (most recently used
    first) and their choices (``logto_config``)."""

    factors: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    email: str | None = None
    phone: str | None = None
    fingerprint: str = ""  # of the stored factors (``devices.fingerprint``)
    # One of the user's organizations requires MFA and the sign-in experience enforces it
    # (``organizationRequiredMfaPolicy: Mandatory``): binding is not skippable.
    organization_requires: bool = False

    @property
    def choices(self) -> dict[str, Any]:
        return dict(self.config.get("mfa") or {})


async def load(turn: Turn, user: dict[str, Any]) -> UserMfa:
    """What :func:`next_step` needs of the user's MFA; nothing is read when the sign-in
    experience enables no factor and no passkey sign-in (the common case costs no query)."""
    config = dict(user.get("logto_config") or {})
    email, phone = user.get("primary_email"), user.get("primary_phone")
    if not turn.sie.mfa.factors and not turn.sie.passkeySignIn.enabled:
        return UserMfa(config=config, email=email, phone=phone)
    enforced = turn.sie.mfa.organizationRequiredMfaPolicy == "Mandatory"
    async with turn.engine.connect() as conn:
        rows = await mfa_service.factors(conn, turn.tenant, user["id"])
        required = enforced and await mfa_service.organization_requires(
            conn, turn.tenant, user["id"]
        )
    rows.sort(key=lambda r: -(r.get("last_used_at") or r["created_at"]))
    types = tuple(mfa_service.usable_types(rows))
    ids = fingerprint([str(r["id"]) for r in rows])
    return UserMfa(types, config, email, phone, ids, required)


def configured(sie: SignInExperience) -> list[str]:
    """The factors a user may bind to fulfil MFA, in the admin's order: every enabled one
    this version supports but backup codes, which never stand alone."""
    return [f for f in sie.mfa.factors if f in SUPPORTED and f != MfaFactor.BACKUP_CODE]


def user_factors(sie: SignInExperience, user: UserMfa) -> list[str]:
    """The user's factors that the sign-in experience enables, in Logto's order: stored
    ones (most recently used first), then a code to their phone, then to their email,
    backup codes last."""
    enabled = [f for f in user.factors if f in sie.mfa.factors and f in SUPPORTED]
    found = [f for f in enabled if f == MfaFactor.WEB_AUTHN]  # WebAuthn first, as Logto
    found += [f for f in enabled if f not in (MfaFactor.BACKUP_CODE, MfaFactor.WEB_AUTHN)]
    for kind, factor in IMPLICIT.items():
        if getattr(user, kind) and factor in sie.mfa.factors and factor not in found:
            found.append(factor)
    return found + ([MfaFactor.BACKUP_CODE] if MfaFactor.BACKUP_CODE in enabled else [])


def masked(user: UserMfa, factors: list[str]) -> dict[str, str]:
    """Where a code factor would send its code, half hidden (Logto's masking)."""
    shown: dict[str, str] = {}
    if MfaFactor.EMAIL_VERIFICATION_CODE in factors and user.email:
        local, _, domain = user.email.partition("@")
        shown[MfaFactor.EMAIL_VERIFICATION_CODE] = (
            f"{local[:4] if len(local) > 4 else ''}****@{domain}"
        )
    if MfaFactor.PHONE_VERIFICATION_CODE in factors and user.phone:
        shown[MfaFactor.PHONE_VERIFICATION_CODE] = f"****{user.phone[-4:]}"
    return shown


def verified(state: ExperienceState, factors: list[str]) -> bool:
    """A factor the user has was proven in this interaction (a record binding a new app
    proves nothing about the account)."""
    return any(
        record.verified and not record.binds and _factor_of(record) in factors
        for record in state.verifications.values()
        if isinstance(record, SECOND_FACTORS)
    )


SECOND_FACTORS = (
    TotpVerification,
    BackupCodeVerification,
    MfaCodeVerification,
    WebAuthnVerification,
)


def _factor_of(record: MfaVerification) -> str:
    return record.factor if isinstance(record, MfaCodeVerification) else record.type


def passkey_signed_in(state: ExperienceState) -> bool:
    """A passkey (held key and verified user) identified the user: no second factor to ask."""
    return any(
        isinstance(record, PasskeyVerification) and record.verified
        for record in state.verifications.values()
    )


def verification_required(sie: SignInExperience, user: UserMfa) -> bool:
    """Must this user verify a second factor to sign in?"""
    choices = user.choices
    opted_out = choices.get("enabled") is False or bool(choices.get("skipMfaOnSignIn"))
    if opted_out and sie.mfa.skippable:
        return False
    return bool(user_factors(sie, user))


def must_verify(
    state: ExperienceState,
    sie: SignInExperience,
    user: UserMfa,
    forced: bool = False,
    trusted_device: bool = False,
) -> bool:
    """Signing in, the user has a factor to verify and has not verified one yet. ``forced``:
    the application asked for multi-factor (``acr_values``), whatever the user's choices
    and whatever device; ``trusted_device``: the user trusted this browser after a second
    factor (``experience/devices.py``)."""
    if state.event != Event.SIGN_IN or passkey_signed_in(state):
        return False
    if trusted_device and not forced:
        return False
    required = bool(user_factors(sie, user)) if forced else verification_required(sie, user)
    return required and not verified(state, user_factors(sie, user))


def second_factor_amr(state: ExperienceState) -> list[str]:
    """The methods (RFC 8176) of the second factors proven in this interaction."""
    return [
        record.amr
        for record in state.verifications.values()
        if isinstance(record, SECOND_FACTORS) and record.verified and not record.binds
    ]


def bound(state: ExperienceState) -> list[str]:
    """Factors bound in this interaction, to be stored when it ends."""
    found: list[str] = []
    if state.mfa.totp:
        found.append(MfaFactor.TOTP)
    if state.mfa.backup_codes:
        found.append(MfaFactor.BACKUP_CODE)
    if state.mfa.web_authn:
        found.append(MfaFactor.WEB_AUTHN)
    return found + state.mfa.contacts


@dataclass(frozen=True)
class Prompt:
    """Why the user is asked to bind a factor: ``suggest`` (turn on two-step
    verification?), ``missing`` (bind one of ``factors``), ``backup_code`` (save backup
    codes); ``skippable`` when the user may decline."""

    reason: str
    factors: tuple[str, ...] = ()
    skippable: bool = False


def passkey_prompt(state: ExperienceState, sie: SignInExperience, user: UserMfa) -> Prompt | None:
    """Logto's ``user.passkey_preferred``: with passkey sign-in on, invite a user who has no
    passkey to create one, until they decline."""
    skipped = state.mfa.passkey_skipped or bool(
        (user.config.get("passkey_sign_in") or {}).get("skipped")
    )
    has_one = MfaFactor.WEB_AUTHN in user.factors or bool(state.mfa.web_authn)
    if not sie.passkeySignIn.enabled or skipped or has_one:
        return None
    return Prompt("passkey", (MfaFactor.WEB_AUTHN,), skippable=True)


def _another_factor(
    state: ExperienceState,
    sie: SignInExperience,
    user: UserMfa,
    linked: set[str],
    factors: list[str],
) -> Prompt | None:
    """Logto's ``suggest_additional_mfa``: a user whose only factors are weak stand-ins (a
    code to the address they signed up with, or the passkey they sign in with) is invited,
    once, to add a real second factor."""
    declined = state.mfa.suggestion_skipped or bool(
        user.choices.get("additionalBindingSuggestionSkipped")
    )
    lacking = tuple(f for f in factors if f not in linked)
    if declined or not lacking or {MfaFactor.TOTP, MfaFactor.BACKUP_CODE} & linked:
        return None
    if MfaFactor.WEB_AUTHN in linked and not sie.passkeySignIn.enabled:
        return None  # a security key kept for MFA is a real second factor
    sign_up = set(sie.signUp.identifiers) | {s.identifier for s in sie.signUp.secondaryIdentifiers}
    for kind, factor in IMPLICIT.items():
        if factor in linked and kind not in sign_up and "emailOrPhone" not in sign_up:
            return None  # an address added for MFA itself
    return Prompt("additional", lacking, skippable=True)


def binding_prompt(
    state: ExperienceState, sie: SignInExperience, user: UserMfa, forced: bool = False
) -> Prompt | None:
    """What the user must (or is invited to) bind before the interaction ends, in Logto's
    order; None when nothing. ``forced``: the application asked for multi-factor, so a user
    without a factor must bind one now (when the sign-in experience enables any)."""
    policy, factors = sie.mfa.policy, configured(sie)
    if not factors:
        return None
    registering = state.event == Event.REGISTER
    linked = set(user_factors(sie, user)) | set(bound(state))
    if forced and not linked & set(factors):
        return Prompt("missing", tuple(factors))
    choices = user.choices
    skipped = state.mfa.skipped or bool(choices.get("skipped"))
    organization = user.organization_requires
    skippable = sie.mfa.skippable and not organization
    if registering and not sie.mfa.prompts_at_sign_up:
        return None
    # a. May the user be invited to turn MFA on (skippable prompting policies only)?
    if skippable and policy != "NoPrompt" and not skipped:
        enabled = state.mfa.enabled if state.mfa.enabled is not None else choices.get("enabled")
        # A user from before the choice existed who has a factor counts as on.
        if not enabled and not (enabled is None and linked):
            return Prompt("suggest", tuple(factors), skippable=True)
    # b. A factor of the configured ones (an organization's requirement overrides the
    # policy and the user's skip).
    if not organization and (policy == "NoPrompt" or (skippable and skipped)):
        return None
    if not linked & set(factors):
        return Prompt("missing", tuple(factors), skippable=skippable)
    if suggestion := _another_factor(state, sie, user, linked, factors):
        return suggestion
    # c. Backup codes, when enabled, beside the factor.
    if MfaFactor.BACKUP_CODE in sie.mfa.factors and MfaFactor.BACKUP_CODE not in linked:
        return Prompt("backup_code", (MfaFactor.BACKUP_CODE,))
    return None
