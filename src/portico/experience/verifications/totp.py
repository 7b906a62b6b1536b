"""A TOTP code (RFC 6238) from the user's authenticator app: either binding a new app (the
record holds the fresh key until the interaction ends) or proving the factor the user has
(a time step is accepted once, and wrong codes lock the factor, ``guard.reserve_mfa_attempt``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from portico.experience.answers import StepError
from portico.experience.guard import reserve_mfa_attempt
from portico.experience.verifications.kinds import VerificationType
from portico.services import mfa

if TYPE_CHECKING:
    from portico.experience.turn import Turn

MAX_CODE = 16


@dataclass
class TotpVerification:
    user_id: str
    secret: str | None = None  # a new app being bound; None: the user's own factor
    verified: bool = False
    step: int | None = None  # binding: the time step its code proved (never accepted again)

    type: ClassVar[VerificationType] = VerificationType.TOTP

    amr: ClassVar[str] = "otp"  # RFC 8176

    @property
    def binds(self) -> bool:
        """A new factor being bound (it proves nothing about the account yet)."""
        return self.secret is not None

    @classmethod
    def new(cls, user_id: str) -> TotpVerification:
        return cls(user_id, mfa.new_totp_secret())

    def qr_code(self, turn: Turn, user: dict[str, Any]) -> str:
        """The new key's ``otpauth://`` URI as a PNG data URL (issuer: this server's host)."""
        assert self.secret is not None
        return mfa.qr_data_url(mfa.totp_uri(self.secret, turn.origin.host, mfa.display_name(user)))

    async def verify(self, turn: Turn, code: str) -> None:
        code = code.strip()[:MAX_CODE]
        if self.secret is not None:  # binding: the app was set up right
            step = mfa.totp_step(self.secret, code, time.time())
            if step is None:
                raise StepError("error.mfa_code_invalid", 400)
            self.verified, self.step = True, step
            return
        attempt = await reserve_mfa_attempt(turn, self.user_id)
        async with turn.engine.begin() as conn:
            right = await mfa.use_totp(conn, turn.tenant, self.user_id, code, turn.mfa_keys)
        if not right:
            await turn.audit(
                "Interaction.SignIn.Verification.Totp.Submit",
                user_id=self.user_id,
                error="error.mfa_code_invalid",
            )
            raise StepError("error.mfa_code_invalid", 400)  # the reserved failure stands
        await turn.sentinel.release(attempt)
        self.verified = True
        await turn.audit("Interaction.SignIn.Verification.Totp.Submit", user_id=self.user_id)

    def to_json(self) -> dict[str, Any]:
        data = {"type": self.type.value, "userId": self.user_id, "secret": self.secret,
                "verified": self.verified, "step": self.step}  # fmt: skip
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TotpVerification:
        return cls(
            str(data["userId"]), data.get("secret"), bool(data.get("verified")), data.get("step")
        )
