"""An email or SMS code to the user's own address or number, as a second factor (Logto's
``MfaEmailVerificationCode`` / ``MfaPhoneVerificationCode``): sent with the
``MfaVerification`` template, checked like any code, and counted, when wrong, against the
user's factors (``guard.reserve_mfa_attempt``) rather than the account's password budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.experience.answers import StepError
from portico.experience.codes import CodeError, Recipient
from portico.experience.guard import reserve_mfa_attempt
from portico.experience.identifiers import Identifier
from portico.experience.verifications.code import CODE_ERRORS, MAX_CODE, CodeVerification
from portico.experience.verifications.kinds import VerificationType
from portico.protocol import acr

if TYPE_CHECKING:
    from portico.experience.turn import Turn

PURPOSE = "MfaVerification"


@dataclass
class MfaCodeVerification:
    user_id: str
    identifier: Identifier  # the user's primary email or phone
    verified: bool = False

    binds = False  # proves a factor the user has (the address is theirs)

    @property
    def type(self) -> VerificationType:
        email = self.identifier.kind == "email"
        return VerificationType.MFA_EMAIL_CODE if email else VerificationType.MFA_PHONE_CODE

    @property
    def amr(self) -> str:
        return acr.code_method(self.identifier.kind)

    @property
    def factor(self) -> str:
        """The MFA factor this proves (``EmailVerificationCode`` / ``PhoneVerificationCode``)."""
        email = self.identifier.kind == "email"
        return "EmailVerificationCode" if email else "PhoneVerificationCode"

    async def send(self, turn: Turn) -> None:
        await CodeVerification(self.identifier, PURPOSE).send(turn)

    async def verify(self, turn: Turn, code: str) -> None:
        codes = turn.services.codes
        assert codes is not None
        attempt = await reserve_mfa_attempt(turn, self.user_id)
        try:
            await codes.verify(
                turn.tenant,
                turn.jti,
                Recipient(self.identifier.kind, self.identifier.value),
                PURPOSE,
                code.strip()[:MAX_CODE],
                turn.sie.verificationCodePolicy.max_attempts,
            )
        except CodeError as error:
            if error.code != "verification_code.code_mismatch":
                await turn.sentinel.release(attempt)  # expired or used up: not a guess
            kind = "Email" if self.identifier.kind == "email" else "Phone"
            await turn.audit(
                f"Interaction.SignIn.Verification.Mfa{kind}VerificationCode.Submit",
                user_id=self.user_id,
                error=error.code,
            )
            raise StepError(CODE_ERRORS.get(error.code, "error.code_not_found")) from None
        await turn.sentinel.release(attempt)
        self.verified = True
        kind = "Email" if self.identifier.kind == "email" else "Phone"
        await turn.audit(
            f"Interaction.SignIn.Verification.Mfa{kind}VerificationCode.Submit",
            user_id=self.user_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "userId": self.user_id,
            "identifier": self.identifier.as_dict(),
            "verified": self.verified,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MfaCodeVerification:
        return cls(
            str(data["userId"]),
            Identifier.from_dict(data["identifier"]),
            bool(data.get("verified")),
        )
