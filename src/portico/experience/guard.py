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


async def reserve_attempt(turn: Turn, target: str) -> str:
    """Count this attempt as a failure before checking it, or refuse it when locked:
    checking first and counting after would let parallel guesses past the limit. The
    caller releases the reservation when the secret was right (or was no guess)."""
    policy = turn.sie.sentinelPolicy
    reserved = await turn.sentinel.reserve(
        turn.tenant, target, policy.max_attempts, policy.lockout_seconds
    )
    if isinstance(reserved, Locked):
        raise StepError("error.locked", 429, minutes=reserved.minutes_left())
    return reserved
