"""What follows in an interaction, decided in one place and without any I/O: given the
state, the sign-in experience, the identified account (read by the caller) and the provider
identity to link, :func:`next_step` names the step. The engine (``conclusion.conclude``)
carries it out; the pages turn :class:`Fulfil` into a form, the Experience API into 422
``user.missing_profile``.

The order is Logto's: signing in, a second factor is verified first (:class:`VerifyMfa`);
then the profile is fulfilled; then a factor is bound when the MFA policy asks
(:class:`BindMfa`); then the interaction finishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portico.experience import mfa
from portico.experience.answers import StepError
from portico.experience.interaction import Event, ExperienceState
from portico.experience.mfa import Prompt, UserMfa
from portico.experience.profile import still_missing

if TYPE_CHECKING:
    from portico.services.sign_in_experience import SignInExperience


@dataclass(frozen=True)
class Fulfil:
    """Sign-up requires ``need`` (``username``, ``email``, ``phone``, ``emailOrPhone`` or
    ``password``), which the user lacks."""

    need: str


@dataclass(frozen=True)
class CreateAccount:
    """A complete sign-up profile: create the account (and link the provider identity)."""

    link: dict[str, Any] | None


@dataclass(frozen=True)
class Finish:
    """Sign ``user_id`` in, storing what the interaction collected and linking the
    provider identity (``link``) first when there is any."""

    user_id: str
    profile: dict[str, Any]
    link: dict[str, Any] | None


@dataclass(frozen=True)
class VerifyMfa:
    """The user must prove a second factor, one of ``factors`` (most recently used first,
    backup codes last); ``masked``: where the code factors send, half hidden."""

    factors: tuple[str, ...]
    masked: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BindMfa:
    """The MFA policy asks the user to bind a factor (see :class:`mfa.Prompt`)."""

    prompt: Prompt


@dataclass(frozen=True)
class Refuse:
    """The interaction cannot go on: ``error``; ``reset`` when its state is spent."""

    error: StepError
    reset: bool = False


Step = Fulfil | CreateAccount | VerifyMfa | BindMfa | Finish | Refuse


def next_step(
    state: ExperienceState,
    sie: SignInExperience,
    user: dict[str, Any] | None,
    social: dict[str, Any] | None,
    user_mfa: UserMfa | None = None,
    require_mfa: bool = False,
    trusted_device: bool = False,
) -> Step:
    """The step after everything the interaction holds now. ``user`` is the account with
    id ``state.user_id`` (None when there is no such account); ``social`` the provider
    identity the interaction will link, if any; ``user_mfa`` that account's MFA;
    ``require_mfa``: the application asked for multi-factor (step-up); ``trusted_device``:
    the user trusted this browser after a second factor."""
    if state.event == Event.REGISTER and not state.user_id:
        need = None if state.sso else still_missing(sie, state, None, social)
        return Fulfil(need) if need else CreateAccount(social)
    if not state.user_id:
        return Refuse(StepError("error.not_identified", 404))
    if user is None:  # deleted meanwhile
        return Refuse(StepError("error.invalid_credentials", 422), reset=True)
    if user.get("is_suspended"):
        # Reached only once the user proved the account theirs (a code, a provider): a
        # password sign-in refuses a suspended account as a wrong password, giving no oracle.
        return Refuse(StepError("error.suspended", 401), reset=True)
    if state.sso:  # Logto: an enterprise SSO sign-in needs no second factor nor profile
        return Finish(state.user_id, dict(state.profile), None)
    user_mfa = user_mfa or UserMfa()
    if mfa.must_verify(state, sie, user_mfa, require_mfa, trusted_device):
        factors = mfa.user_factors(sie, user_mfa)
        return VerifyMfa(tuple(factors), mfa.masked(user_mfa, factors))
    if need := still_missing(sie, state, user, social):
        return Fulfil(need)
    if prompt := mfa.passkey_prompt(state, sie, user_mfa):
        return BindMfa(prompt)
    if prompt := mfa.binding_prompt(state, sie, user_mfa, require_mfa):
        return BindMfa(prompt)
    link = social if social and not state.created else None
    return Finish(state.user_id, dict(state.profile), link)
