"""Backup codes: a new set (held in the record until the interaction ends, shown once), or
one of the user's unused codes, spent as it is accepted (single use under parallel requests,
``storage/mfa.spend_backup_code``); wrong codes lock the factor like wrong TOTP codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from portico.experience.answers import StepError
from portico.experience.guard import reserve_mfa_attempt
from portico.experience.verifications.kinds import VerificationType
from portico.services import mfa

if TYPE_CHECKING:
    from portico.experience.turn import Turn

MAX_CODE = 32


@dataclass
class BackupCodeVerification:
    user_id: str
    codes: list[str] | None = None  # a new set being bound
    verified: bool = False

    type: ClassVar[VerificationType] = VerificationType.BACKUP_CODE

    amr: ClassVar[str] = "otp"  # RFC 8176

    @property
    def binds(self) -> bool:
        return self.codes is not None

    @classmethod
    def generate(cls, user_id: str) -> BackupCodeVerification:
        return cls(user_id, mfa.new_backup_codes())

    async def verify(self, turn: Turn, code: str) -> None:
        attempt = await reserve_mfa_attempt(turn, self.user_id)
        async with turn.engine.begin() as conn:
            right = await mfa.use_backup_code(
                conn, turn.tenant, self.user_id, code.strip()[:MAX_CODE], turn.mfa_keys
            )
        if not right:
            await turn.audit(
                "Interaction.SignIn.Verification.BackupCode.Submit",
                user_id=self.user_id,
                error="error.backup_code_invalid",
            )
            raise StepError("error.backup_code_invalid", 400)
        await turn.sentinel.release(attempt)
        self.verified = True
        await turn.audit("Interaction.SignIn.Verification.BackupCode.Submit", user_id=self.user_id)

    def to_json(self) -> dict[str, Any]:
        data = {"type": self.type.value, "userId": self.user_id, "codes": self.codes,
                "verified": self.verified}  # fmt: skip
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackupCodeVerification:
        codes = data.get("codes")
        return cls(str(data["userId"]), list(codes) if codes else None, bool(data.get("verified")))
