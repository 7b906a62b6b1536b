"""The profile an interaction collects and what the sign-up configuration still requires of
it (profile fulfilment): what the user has (stored) and has given here, as
:func:`portico.experience.identifiers.missing` counts it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.experience.identifiers import missing
from portico.experience.interaction import Event, ExperienceState

if TYPE_CHECKING:
    from portico.experience.turn import Turn
    from portico.services.sign_in_experience import SignInExperience


def have(
    profile: dict[str, Any], user: dict[str, Any] | None, social: bool = False
) -> dict[str, Any]:
    """What the user has (stored) or has given in this interaction. A social identity
    stands in for a password (as in Logto): such users sign in through their provider."""
    stored = user or {}
    return {
        "username": stored.get("username") or profile.get("username"),
        "email": stored.get("primary_email") or profile.get("email"),
        "phone": stored.get("primary_phone") or profile.get("phone"),
        "password": bool(
            stored.get("password_encrypted")
            or profile.get("passwordEncrypted")
            or stored.get("identities")
            or social
        ),
    }


def user_info(profile: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
    """What the password policy compares a new password with, in users row keys."""
    held = have(profile, user)
    return {
        "username": held["username"],
        "primary_email": held["email"],
        "primary_phone": held["phone"],
        "name": (user or {}).get("name") or profile.get("name"),
    }


def still_missing(
    sie: SignInExperience,
    state: ExperienceState,
    user: dict[str, Any] | None,
    social: dict[str, Any] | None,
) -> str | None:
    """What sign-up still requires of this interaction's user (``user`` when signing in to
    an existing account); social sign-ups may skip identifiers (``skipRequiredIdentifiers``)."""
    if social and state.event == Event.REGISTER and sie.socialSignIn.skipRequiredIdentifiers:
        return None
    return missing(sie, have(state.profile, user, social=social is not None))


def social_identity(turn: Turn) -> dict[str, Any] | None:
    """The provider identity this interaction will link: proven by a provider
    (``state.social``), or waiting for the user to sign in to the account it belongs with
    (the link page's choice, kept across the reset the sign-in page makes)."""
    if found := turn.state.social:
        return found
    link = turn.interaction.get("socialLink")
    if link and turn.state.event == Event.SIGN_IN:
        return link["identity"]  # type: ignore[no-any-return]
    return None


def provider_profile(source: dict[str, Any]) -> dict[str, Any]:
    """The name and avatar a provider gave, cut to what the users table holds."""
    profile: dict[str, Any] = {}
    if source.get("name"):
        profile["name"] = source["name"][:128]  # the column's size; providers allow more
    if source.get("avatar") and len(source["avatar"]) <= 2048:
        profile["avatar"] = source["avatar"]
    return profile


def new_profile(info: dict[str, Any], *, taken: bool) -> dict[str, Any]:
    """What a new account takes from the provider. The email/phone belong to someone else
    when ``taken`` (the user chose a separate account), so they are left out."""
    profile = provider_profile(info)
    if not taken:
        for key in ("email", "phone"):
            if info.get(key):
                profile[key] = info[key]
    return profile
