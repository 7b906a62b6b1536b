"""A password proves an existing account (sign-in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from portico.experience.answers import StepError
from portico.experience.guard import owner_of, reserve_attempt, target_of
from portico.experience.identifiers import Identifier
from portico.experience.verifications.kinds import VerificationType
from portico.services import users as user_service

if TYPE_CHECKING:
    from portico.experience.turn import Turn

MAX_PASSWORD = 512  # Argon2 hashes any length; a megabyte of input is only load


@dataclass
class PasswordVerification:
    identifier: Identifier
    user_id: str | None = None  # set once the password was right

    type: ClassVar[VerificationType] = VerificationType.PASSWORD

    @property
    def verified(self) -> bool:
        return self.user_id is not None

    async def verify(self, turn: Turn, password: str) -> None:
        """The same refusal (and the same work) whether the account does not exist, is
        suspended or the password is wrong: no oracle. Failures count against the account,
        whichever of its identifiers was typed."""
        owner = await owner_of(turn, self.identifier)
        attempt = await reserve_attempt(
            turn, target_of(self.identifier, owner), identifier=self.identifier
        )
        user = await user_service.verify_credentials(turn.engine, owner, password[:MAX_PASSWORD])
        if user is None:
            await turn.audit(
                "Interaction.SignIn.Verification.Password.Submit",
                error="error.invalid_credentials",
                identifier=self.identifier.value,
            )
            raise StepError("error.invalid_credentials", 422)  # the reserved failure stands
        await turn.sentinel.release(attempt)
        self.user_id = str(user["id"])

    def identify_user(self) -> str:
        """The account the password proved."""
        if self.user_id is None:
            raise StepError("error.verification_incomplete", 400)
        return self.user_id

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "identifier": self.identifier.as_dict(),
            "userId": self.user_id,
            "verified": self.verified,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PasswordVerification:
        return cls(Identifier.from_dict(data["identifier"]), data.get("userId"))
