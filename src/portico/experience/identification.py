"""Who the user is, from what they proved: one rule per event, for every front end.

- signing in: the account the proof points at (a password's, the owner of a proven email
  or phone, the account a provider identity is linked to, or, when linking is allowed, the
  owner of the provider's email), refused when suspended;
- forgot password: the owner of the address a ``ForgotPassword`` code proved;
- signing up: the proven identifier or provider profile joins the new account's profile,
  refused when an account already has it;
- profile fulfilment (``bind``): a proven identifier joins the signed-in account's profile,
  refused when another account has it.

Refusals are :class:`StepError` (``experience/answers.py``): the pages show them or turn
them into their transitions ("create an account instead?"), the Experience API answers them
with Logto's codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.guard import owner_of
from portico.experience.profile import new_profile, provider_profile
from portico.experience.verifications import (
    CodeVerification,
    EnterpriseSsoVerification,
    NewPasswordIdentity,
    PasskeyVerification,
    PasswordVerification,
    SocialVerification,
    Verification,
)
from portico.experience.verifications.social import SocialMatch
from portico.protocol import acr
from portico.services import sso_connectors

if TYPE_CHECKING:
    from portico.experience.turn import Turn


def social_user(turn: Turn, match: SocialMatch, *, link: bool) -> str | None:
    """The account a provider identity signs in to: the one it is linked to; else the
    owner of the provider's email or phone when accounts link automatically or the user
    asked to link (``link``); else None (no account, or one the user must first sign in
    to before the identity joins it)."""
    if match.user_id:
        return match.user_id
    if match.related is not None and (link or turn.sie.socialSignIn.automaticAccountLinking):
        return str(match.related["id"])
    return None


async def sign_in_with(turn: Turn, verification: Verification, *, link: bool = False) -> None:
    """Identify the user signing in; ``error.account_not_found`` when nobody has the
    proven identifier, ``error.social_no_account`` (with ``related``: the kind of
    identifier an existing account shares with the provider) for an unknown identity."""
    state = turn.state
    if isinstance(verification, EnterpriseSsoVerification):
        await _sign_in_with_sso(turn, verification)
        return
    await refuse_sso_domain(turn, email_of(verification))
    if isinstance(verification, PasswordVerification):
        state.user_id = verification.identify_user()
        state.amr = ["pwd"]
    elif isinstance(verification, CodeVerification):
        owner = await verification.identify_user(turn)
        if owner is None:
            raise StepError("error.account_not_found", 404)
        state.user_id = str(owner["id"])
        state.amr = [acr.code_method(verification.identifier.kind)]
    elif isinstance(verification, PasskeyVerification):
        if not turn.sie.passkeySignIn.enabled:
            raise StepError("error.passkey_not_enabled", 422)
        state.user_id = verification.identify_user()
        state.amr = list(verification.amr)
    elif isinstance(verification, SocialVerification):
        match = await verification.identify_user(turn)
        user_id = social_user(turn, match, link=link)
        if user_id is None:
            raise StepError("error.social_no_account", 404, related=match.related_by)
        state.user_id, state.social = user_id, verification.identity
        state.amr = ["fed"]
    else:
        raise StepError("error.verification_incomplete", 400)
    await _refuse_suspended(turn, state.user_id)


async def _sign_in_with_sso(turn: Turn, verification: EnterpriseSsoVerification) -> None:
    """Logto's rule: the account the identity is linked to, else the owner of the
    provider's verified email (the identity is linked to it), else none: sign up
    (``error.sso_no_account``)."""
    if not turn.sie.singleSignOnEnabled:
        raise StepError("error.sso_not_enabled", 422)
    match = await verification.identify_user(turn)
    user_id = match.user_id or (str(match.related["id"]) if match.related else None)
    if user_id is None:
        raise StepError("error.sso_no_account", 404)
    state = turn.state
    state.user_id, state.sso, state.amr = user_id, verification.identity, ["fed"]
    await _refuse_suspended(turn, user_id)


def email_of(verification: Verification) -> str | None:
    """The email a verification proves (Logto guards these against SSO-only domains)."""
    identifier = getattr(verification, "identifier", None)
    if identifier is not None and identifier.kind == "email":
        return str(identifier.value)
    if isinstance(verification, SocialVerification):
        email = (verification.info or {}).get("email")
        return str(email) if email else None
    return None


async def refuse_sso_domain(turn: Turn, email: str | None) -> None:
    """An email whose domain belongs to an SSO connector signs in or up only through it
    (Logto's ``singleSignOnEnabled``: 422 ``session.sso_enabled``, with the connectors)."""
    if not email or not turn.sie.singleSignOnEnabled:
        return
    async with turn.engine.connect() as conn:
        found = await sso_connectors.for_email(conn, turn.tenant, email)
    if found:
        shown = [{"id": row["id"], "connectorName": row["connector_name"]} for row in found]
        raise StepError("error.sso_enabled", 422, connectors=shown)


async def _refuse_suspended(turn: Turn, user_id: str) -> None:
    user = await accounts.account(turn.engine, turn.tenant, user_id)
    if user is None:
        turn.state.user_id = None
        raise StepError("error.account_not_found", 404)
    if user["is_suspended"]:
        turn.state.user_id = None
        raise StepError("error.suspended", 401)


async def reset_with(turn: Turn, verification: Verification) -> None:
    """Forgot password: whose password the proven address resets."""
    if not isinstance(verification, CodeVerification) or verification.purpose != "ForgotPassword":
        raise StepError("error.verification_incomplete", 400)
    owner = await verification.identify_user(turn)
    if owner is None:
        raise StepError("error.account_not_found", 404)
    turn.state.reset_user_id = str(owner["id"])


async def register_with(turn: Turn, verification: Verification) -> None:
    """Signing up: what the proof gives the new account's profile."""
    state = turn.state
    if isinstance(verification, EnterpriseSsoVerification):
        await _register_with_sso(turn, verification)
        return
    await refuse_sso_domain(turn, email_of(verification))
    if isinstance(verification, SocialVerification):
        info = verification.info or {}
        owners = [await accounts.owner(turn.engine, turn.tenant, info[key])
                  for key in ("email", "phone") if info.get(key)]  # fmt: skip
        state.social = verification.identity
        state.profile = {**new_profile(info, taken=any(owners)), **state.profile}
        state.amr = ["fed"]
    elif isinstance(verification, CodeVerification):
        if await verification.identify_user(turn) is not None:
            raise taken(verification.identifier.kind)
        state.profile[verification.identifier.kind] = verification.identifier.value
        state.amr = [acr.code_method(verification.identifier.kind)]
    elif isinstance(verification, NewPasswordIdentity):
        if await owner_of(turn, verification.identifier) is not None:
            raise StepError("error.username_taken", 409)
        state.profile.update(verification.profile())
        state.amr = ["pwd"]
    else:
        raise StepError("error.verification_incomplete", 400)


async def _register_with_sso(turn: Turn, verification: EnterpriseSsoVerification) -> None:
    """A new account from the provider's profile: its verified email, name and avatar
    (Logto's ``toSyncedProfile(isNewUser)``); refused when the identity or the email
    already belongs to an account."""
    if not turn.sie.singleSignOnEnabled:
        raise StepError("error.sso_not_enabled", 422)
    match = await verification.identify_user(turn)
    identity = verification.identity or {}
    if match.user_id:
        raise StepError("error.identity_taken", 409, provider=verification.provider)
    if match.related is not None:
        raise taken("email")
    state = turn.state
    profile = provider_profile(identity)
    if identity.get("email"):
        profile["email"] = identity["email"]
    state.sso, state.profile, state.amr = identity, {**profile, **state.profile}, ["fed"]


async def bind(turn: Turn, verification: Verification) -> None:
    """Profile fulfilment: a proven identifier (or provider identity) for the account."""
    state = turn.state
    if isinstance(verification, SocialVerification):
        state.social = verification.identity
        return
    if not isinstance(verification, CodeVerification):
        raise StepError("error.verification_incomplete", 400)
    owner = await verification.identify_user(turn)
    if owner is not None and owner["id"] != state.user_id:
        raise taken(verification.identifier.kind)
    state.profile[verification.identifier.kind] = verification.identifier.value


def taken(kind: str) -> StepError:
    """Another account has this email or phone (Logto: ``user.<kind>_already_in_use``)."""
    return StepError("error.identifier_taken", 409, kind=kind)


def identity_of(verification: Verification) -> dict[str, Any] | None:
    return verification.identity if isinstance(verification, SocialVerification) else None
