"""Guessing limits for the checks that take a secret (a password, a code): one failure
counter per account, whichever of its identifiers was typed (``sentinel.lockout_target``),
reserved before the check so parallel guesses cannot pass the limit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.sentinel import Locked, lockout_target

if TYPE_CHECKING:
    from portico.experience.identifiers import Identifier
    from portico.experience.turn import Turn


async def owner_of(turn: Turn, identifier: Identifier) -> dict[str, Any] | None:
    """The user this identifier belongs to, read outside any transaction."""
    return await accounts.owner(turn.engine, turn.tenant, identifier.value)


def target_of(identifier: Identifier, owner: dict[str, Any] | None) -> str:
    return lockout_target(identifier.kind, identifier.value, owner["id"] if owner else None)


MFA_ATTEMPTS = 10  # wrong TOTP or backup codes before the factor locks, unless the policy says


def mfa_target(user_id: str) -> str:
    """What wrong second-factor codes count against: the user's factors, in any
    interaction (a separate budget from the password's)."""
    return f"mfa:{user_id}"


async def reserve_attempt(
    turn: Turn, target: str, limit: int | None = None, identifier: Identifier | None = None
) -> str:
    """Count this attempt as a failure before checking it, or refuse it when locked:
    checking first and counting after would let parallel guesses past the limit. The
    caller releases the reservation when the secret was right (or was no guess).
    ``limit``: attempts allowed (the sentinel policy's by default); ``identifier``: what
    was typed, named by the ``Identifier.Lockout`` webhook event when it is locked."""
    policy = turn.sie.sentinelPolicy
    reserved = await turn.sentinel.reserve(
        turn.tenant, target, limit or policy.max_attempts, policy.lockout_seconds
    )
    if isinstance(reserved, Locked):
        if identifier is not None:
            details = {"type": identifier.kind, "value": identifier.value}
            await turn.exception_event("Identifier.Lockout", details)
        raise StepError("error.locked", 429, minutes=reserved.minutes_left())
    return reserved


async def reserve_mfa_attempt(turn: Turn, user_id: str) -> str:
    """:func:`reserve_attempt` for a second factor: ten by default, or the sentinel
    policy's own limit when an admin set one."""
    limit = turn.sie.sentinelPolicy.maxAttempts or MFA_ATTEMPTS
    return await reserve_attempt(turn, mfa_target(user_id), limit)
