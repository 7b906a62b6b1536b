"""A WebAuthn authenticator (a passkey, a security key) as a second factor: registering a
new one (the record holds the challenge, then the verified credential until the interaction
ends) or proving one the user has (any of their credentials; a counter that goes back is
refused; failures count against the user's factors like wrong codes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.guard import reserve_mfa_attempt
from portico.experience.verifications.kinds import VerificationType
from portico.services import mfa, webauthn
from portico.services.sign_in_experience import MfaFactor
from portico.services.webauthn import Credential, WebAuthnFailed

if TYPE_CHECKING:
    from portico.experience.turn import Turn

REGISTRATION, AUTHENTICATION = "registration", "authentication"


@dataclass
class WebAuthnVerification:
    user_id: str
    mode: str  # REGISTRATION or AUTHENTICATION
    challenge: str | None = None  # until the browser answers (single use)
    credential: Credential | None = None  # a registered new authenticator
    verified: bool = False
    name: str | None = None  # what the user calls it ("Work laptop"), for their list

    type: ClassVar[VerificationType] = VerificationType.WEB_AUTHN
    amr: ClassVar[str] = "hwk"  # RFC 8176: a hardware-secured key

    @property
    def binds(self) -> bool:
        return self.mode == REGISTRATION

    @classmethod
    async def registration(cls, turn: Turn) -> tuple[WebAuthnVerification, dict[str, Any]]:
        """A record and the options for ``navigator.credentials.create``."""
        user, rows = await _user_and_factors(turn)
        options, challenge = webauthn.registration_options(
            turn.origin.host, user, rows, mfa.display_name({**user, "name": None})
        )
        return cls(str(user["id"]), REGISTRATION, challenge), options

    @classmethod
    async def authentication(cls, turn: Turn) -> tuple[WebAuthnVerification, dict[str, Any]]:
        """A record and the options for ``navigator.credentials.get`` over the user's
        authenticators (Logto: 400 ``session.mfa.webauthn_verification_not_found`` when
        there are none)."""
        user, rows = await _user_and_factors(turn)
        if not any(row["type"] == MfaFactor.WEB_AUTHN for row in rows):
            raise StepError("error.webauthn_not_found", 400)
        options, challenge = webauthn.authentication_options(turn.origin.host, rows)
        return cls(str(user["id"]), AUTHENTICATION, challenge), options

    async def verify(self, turn: Turn, payload: dict[str, Any]) -> None:
        challenge, self.challenge = self.challenge, None  # spent whatever the outcome
        if challenge is None:
            raise StepError("error.mfa_pending_info", 400)
        if self.mode == REGISTRATION:
            try:
                self.credential = webauthn.verify_registration(
                    payload, challenge, turn.origin.host, [turn.origin.url, *turn.origin.related]
                )
            except WebAuthnFailed as error:
                await _failed(turn, self.user_id, str(error))
            self.verified = True
            return
        attempt = await reserve_mfa_attempt(turn, self.user_id)
        try:
            await webauthn.check_assertion(
                turn.engine, turn.tenant, payload, challenge, turn.origin.host, turn.origin.url,
                user_id=self.user_id,
            )  # fmt: skip
        except WebAuthnFailed as error:
            await _failed(turn, self.user_id, str(error))
        await turn.sentinel.release(attempt)
        self.verified = True
        await turn.audit("Interaction.SignIn.Verification.WebAuthn.Submit", user_id=self.user_id)

    def to_json(self) -> dict[str, Any]:
        data = {
            "type": self.type.value,
            "userId": self.user_id,
            "mode": self.mode,
            "challenge": self.challenge,
            "credential": self.credential.to_json() if self.credential else None,
            "verified": self.verified,
            "name": self.name,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebAuthnVerification:
        credential = data.get("credential")
        return cls(
            str(data["userId"]),
            str(data.get("mode") or AUTHENTICATION),
            data.get("challenge"),
            Credential.from_json(credential) if credential else None,
            bool(data.get("verified")),
            data.get("name"),
        )


async def failed(turn: Turn, user_id: str | None, reason: str) -> NoReturn:
    await _failed(turn, user_id, reason)


async def _user_and_factors(turn: Turn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    user_id = turn.state.user_id
    user = await accounts.account(turn.engine, turn.tenant, user_id) if user_id else None
    if user is None:
        raise StepError("error.not_identified", 404)
    async with turn.engine.connect() as conn:
        rows = await mfa.factors(conn, turn.tenant, str(user["id"]))
    return user, rows


async def _failed(turn: Turn, user_id: str | None, reason: str) -> NoReturn:
    """Log why (never shown: it may name the credential) and refuse as Logto does."""
    await turn.audit(
        "Interaction.SignIn.Verification.WebAuthn.Submit",
        user_id=user_id,
        error="error.webauthn_failed",
        reason=reason,
    )
    raise StepError("error.webauthn_failed", 400)
