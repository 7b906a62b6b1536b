"""A passkey as the first factor (Logto's ``SignInPasskey``): the browser offers one of the
user's discoverable credentials (no identifier needed, or after one is typed), and the
account is the credential's. User verification is required, so a passkey is two factors in
one (something held, and the PIN or biometric that unlocks it): such a sign-in needs no
further second factor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from portico.experience.answers import StepError
from portico.experience.guard import owner_of
from portico.experience.verifications.kinds import VerificationType
from portico.experience.verifications.web_authn import failed
from portico.services import mfa, webauthn
from portico.services.sign_in_experience import MfaFactor
from portico.services.webauthn import WebAuthnFailed

if TYPE_CHECKING:
    from portico.experience.identifiers import Identifier
    from portico.experience.turn import Turn


@dataclass
class PasskeyVerification:
    challenge: str | None = None
    expected_user: str | None = None  # the account an identifier named, if one was given
    user_id: str | None = None  # whose passkey it was, once verified

    type: ClassVar[VerificationType] = VerificationType.SIGN_IN_PASSKEY
    amr: ClassVar[tuple[str, ...]] = ("hwk", "user", "mfa")  # held key + verified user

    @property
    def verified(self) -> bool:
        return self.user_id is not None

    @classmethod
    async def start(
        cls, turn: Turn, identifier: Identifier | None = None
    ) -> tuple[PasskeyVerification, dict[str, Any]]:
        """A record and the options for ``navigator.credentials.get``: any discoverable
        passkey (autofill, the passkey button), or the passkeys of the account an
        identifier names (Logto: 400 ``session.mfa.webauthn_verification_not_found`` for
        an unknown account or one without passkeys, the same answer)."""
        if identifier is None:
            options, challenge = webauthn.authentication_options(turn.origin.host, None)
            return cls(challenge), options
        owner = await owner_of(turn, identifier)
        rows: list[dict[str, Any]] = []
        if owner is not None:
            async with turn.engine.connect() as conn:
                rows = await mfa.factors(conn, turn.tenant, str(owner["id"]))
        if not any(r["type"] == MfaFactor.WEB_AUTHN for r in rows):
            raise StepError("error.webauthn_not_found", 400)
        options, challenge = webauthn.authentication_options(turn.origin.host, rows)
        return cls(challenge, str(owner["id"]) if owner else None), options

    async def verify(self, turn: Turn, payload: dict[str, Any]) -> None:
        challenge, self.challenge = self.challenge, None  # single use
        if challenge is None:
            raise StepError("error.mfa_pending_info", 400)
        try:
            row = await webauthn.check_assertion(
                turn.engine, turn.tenant, payload, challenge, turn.origin.host, turn.origin.url,
                user_id=self.expected_user,
            )  # fmt: skip
        except WebAuthnFailed as error:
            await failed(turn, self.expected_user, str(error))
        self.user_id = str(row["user_id"])

    def identify_user(self) -> str:
        if self.user_id is None:
            raise StepError("error.verification_incomplete", 400)
        return self.user_id

    def to_json(self) -> dict[str, Any]:
        data = {
            "type": self.type.value,
            "challenge": self.challenge,
            "expectedUser": self.expected_user,
            "userId": self.user_id,
            "verified": self.verified,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PasskeyVerification:
        return cls(data.get("challenge"), data.get("expectedUser"), data.get("userId"))
