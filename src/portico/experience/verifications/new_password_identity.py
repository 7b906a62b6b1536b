"""A new username and password: the identity of an account about to be created (sign-up by
username, Logto's ``NewPasswordIdentity``). Nothing to prove; the checks are the username
and password policies, and that nobody has the username."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from portico.experience.identifiers import Identifier
from portico.experience.passwords import new_password, username_available
from portico.experience.verifications.kinds import VerificationType

if TYPE_CHECKING:
    from portico.experience.turn import Turn


@dataclass
class NewPasswordIdentity:
    username: str
    password: dict[str, str] = field(default_factory=dict)  # the hash and its method

    type: ClassVar[VerificationType] = VerificationType.NEW_PASSWORD_IDENTITY
    verified: ClassVar[bool] = True  # checked when made

    @classmethod
    async def create(cls, turn: Turn, username: str, password: str) -> NewPasswordIdentity:
        name = await username_available(turn, username.strip())
        return cls(name, await new_password(turn, password, password, {"username": name}))

    @property
    def identifier(self) -> Identifier:
        return Identifier("username", self.username)

    def identify_user(self) -> None:
        """Nobody yet: the account is created from :meth:`profile`."""
        return None

    def profile(self) -> dict[str, Any]:
        return {"username": self.username, **self.password}

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "identifier": self.identifier.as_dict(),
            "password": self.password,
            "verified": True,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NewPasswordIdentity:
        return cls(str(data["identifier"]["value"]), dict(data.get("password") or {}))
