"""A new password (sign-up, profile fulfilment, forgot password): checked against the
tenant's password policy and hashed (Argon2id); stored only when the interaction ends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.services.password_policy import PasswordPolicy, check_password
from portico.services.passwords import hash_password
from portico.services.username_policy import UsernamePolicy, check_username, normalise_username

if TYPE_CHECKING:
    from portico.experience.turn import Turn


async def new_password(
    turn: Turn, password: str, confirm: str, user_info: dict[str, Any]
) -> dict[str, str]:
    """``{passwordEncrypted, passwordEncryptionMethod}`` for a password the policy accepts;
    ``user_info`` uses the users row keys (``username``, ``name``, ``primary_email``,
    ``primary_phone``) so the policy can refuse a password made of them."""
    if password != confirm:
        raise StepError("error.passwords_differ")
    policy = PasswordPolicy.from_config(turn.sie.passwordPolicy)
    rejections = check_password(password, policy, user_info)
    if rejections:
        first = rejections[0]
        raise StepError(first.code, **first.data)
    encrypted, method = await hash_password(password)
    return {"passwordEncrypted": encrypted, "passwordEncryptionMethod": method}


async def username_available(turn: Turn, raw: str) -> str:
    """The username, normalised, when the policy accepts it and nobody has it."""
    policy = UsernamePolicy.from_config(turn.sie.usernamePolicy)
    problems = check_username(raw, policy)
    if problems:
        raise StepError(problems[0].code, **problems[0].data)
    username = normalise_username(raw, policy)
    if await accounts.owner(turn.engine, turn.tenant, username):
        raise StepError("error.username_taken", 409)
    return username
