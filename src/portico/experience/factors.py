"""What a user does about MFA during an interaction: bind a factor proven here (stored when
the interaction ends), turn MFA on, or skip it where the policy allows. One set of rules for
the hosted pages and the Experience API (Logto's ``profile/mfa`` routes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico.experience import accounts, identification, mfa
from portico.experience.answers import StepError
from portico.experience.interaction import Event
from portico.experience.mfa import IMPLICIT
from portico.experience.verifications import (
    BackupCodeVerification,
    CodeVerification,
    MfaCodeVerification,
    TotpVerification,
    Verification,
    WebAuthnVerification,
)
from portico.services.sign_in_experience import MfaFactor

if TYPE_CHECKING:
    from portico.experience.mfa import UserMfa
    from portico.experience.turn import Turn


async def user_mfa(turn: Turn) -> tuple[str, UserMfa]:
    """The identified user and their MFA, after the checks every MFA step starts with: a
    user is identified (not a password reset), and one signing in who has a factor has
    verified it (binding cannot stand in for verifying)."""
    state = turn.state
    if state.event == Event.FORGOT_PASSWORD:
        raise StepError("error.not_supported_for_forgot_password", 400)
    if not state.user_id:
        raise StepError("error.not_identified", 404)
    user = await accounts.account(turn.engine, turn.tenant, state.user_id)
    if user is None:
        raise StepError("error.account_not_found", 404)
    found = await mfa.load(turn, user)
    if mfa.must_verify(state, turn.sie, found):
        raise StepError("error.mfa_required", 403, factors=mfa.user_factors(turn.sie, found))
    return state.user_id, found


async def bind(turn: Turn, record: Verification) -> None:
    """Keep a factor proven in this interaction for the user (Logto's ``profile/mfa``)."""
    _, found = await user_mfa(turn)
    state, sie = turn.state, turn.sie
    if isinstance(record, TotpVerification):
        _enabled(turn, MfaFactor.TOTP)
        if not record.verified:
            raise StepError("error.verification_incomplete", 400)
        if record.secret is None:
            raise StepError("error.mfa_pending_info", 400)
        if MfaFactor.TOTP in found.factors:
            raise StepError("error.totp_already_in_use", 422)
        state.mfa.totp, state.mfa.totp_step = record.secret, record.step
    elif isinstance(record, CodeVerification):
        # An email or phone proven here becomes the user's, and a factor already verified.
        factor = IMPLICIT[record.identifier.kind]
        _enabled(turn, factor)
        if not record.verified:
            raise StepError("error.verification_incomplete", 400)
        await identification.bind(turn, record)
        proof = MfaCodeVerification(state.user_id or "", record.identifier, verified=True)
        state.verifications[f"bound:{factor}"] = proof
        if factor not in state.mfa.contacts:
            state.mfa.contacts.append(factor)
    elif isinstance(record, BackupCodeVerification):
        _enabled(turn, MfaFactor.BACKUP_CODE)
        others = set(mfa.user_factors(sie, found)) | set(mfa.bound(state))
        if not others - {MfaFactor.BACKUP_CODE}:
            raise StepError("error.backup_code_alone", 422)
        if record.codes is None:
            raise StepError("error.mfa_pending_info", 400)
        state.mfa.backup_codes = list(record.codes)
    elif isinstance(record, WebAuthnVerification):
        _web_authn(turn, record)
    else:
        raise StepError("error.mfa_factor_not_enabled", 400)
    state.mfa.enabled = True


def _web_authn(turn: Turn, record: WebAuthnVerification) -> None:
    """A registered authenticator, for MFA or for passkey sign-in (either enables it)."""
    sie = turn.sie
    if MfaFactor.WEB_AUTHN not in sie.mfa.factors and not sie.passkeySignIn.enabled:
        raise StepError("error.mfa_factor_not_enabled", 400)
    if not record.verified:
        raise StepError("error.verification_incomplete", 400)
    if record.credential is None:
        raise StepError("error.mfa_pending_info", 400)
    turn.state.mfa.web_authn.append({**record.credential.to_json(), "name": record.name})


async def bind_passkey(turn: Turn, record: Verification) -> None:
    """Logto's ``profile/mfa/passkey``: keep a registered authenticator as a passkey for
    signing in, without turning MFA on."""
    await user_mfa(turn)
    if not isinstance(record, WebAuthnVerification):
        raise StepError("error.mfa_factor_not_enabled", 400)
    _web_authn(turn, record)


async def skip_passkey(turn: Turn) -> None:
    """The user declines creating a passkey (asked again at sign-in after a sign-up)."""
    await user_mfa(turn)
    turn.state.mfa.passkey_skipped = True


def _enabled(turn: Turn, factor: str) -> None:
    if factor not in turn.sie.mfa.factors:
        raise StepError("error.mfa_factor_not_enabled", 400)


async def turn_on(turn: Turn) -> None:
    """The user chose to turn MFA on (they will be asked to bind a factor)."""
    await user_mfa(turn)
    turn.state.mfa.enabled = True


async def skip(turn: Turn) -> None:
    """The user declines MFA; refused when the policy makes it mandatory."""
    _, found = await user_mfa(turn)
    if not turn.sie.mfa.skippable or found.organization_requires:
        raise StepError("error.mfa_not_skippable", 422)
    turn.state.mfa.skipped = True


async def skip_suggestion(turn: Turn) -> None:
    """The user declines adding another factor."""
    await user_mfa(turn)
    turn.state.mfa.suggestion_skipped = True


async def remember_device(turn: Turn) -> None:
    """Trust this browser once the second factor is verified (``experience/devices.py``);
    only where the sign-in experience allows it."""
    if not turn.sie.trustedDevice.enabled:
        raise StepError("error.mfa_factor_not_enabled", 400)
    await user_mfa(turn)
    turn.state.mfa.remember = True
