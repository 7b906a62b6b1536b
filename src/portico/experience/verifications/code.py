"""A code sent by email or SMS proves the address or number: for signing in, signing up,
resetting a password or completing a profile (the record's ``purpose``, an event)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portico.connectors import ConnectorError, ConnectorType
from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.codes import CodeError, Recipient
from portico.experience.guard import owner_of, reserve_attempt, target_of
from portico.experience.identifiers import Identifier
from portico.experience.verifications.kinds import VerificationType, code_type

if TYPE_CHECKING:
    from portico.experience.turn import Turn

log = logging.getLogger("portico.experience")

MAX_CODE = 32

# Why a code was refused (Logto's code) -> the page's phrase key.
CODE_ERRORS = {
    "verification_code.code_mismatch": "error.code_mismatch",
    "verification_code.expired": "error.code_expired",
    "verification_code.exceed_max_try": "error.code_exceed_max_try",
    "verification_code.not_found": "error.code_not_found",
    "verification_code.email_mismatch": "error.code_not_found",
    "verification_code.phone_mismatch": "error.code_not_found",
}


@dataclass
class CodeVerification:
    identifier: Identifier  # email or phone, in its stored form
    purpose: str  # the event the code was sent for: SignIn, Register, ForgotPassword
    verified: bool = False

    @property
    def type(self) -> VerificationType:
        return code_type(self.identifier.kind)

    async def send(self, turn: Turn) -> None:
        """Send a fresh code (replacing the last one of this interaction and purpose). The
        send limit per recipient applies before anything leaves the server."""
        services = turn.services
        assert services.codes is not None and services.connectors is not None
        identifier, purpose = self.identifier, self.purpose
        if wait := await turn.sentinel.send_wait(turn.tenant, identifier.value):
            details = {"action": "VerificationCodeSend", "recipient": identifier.value}
            await turn.exception_event("Message.RateLimited", details)
            raise StepError("error.too_many_codes", 429, seconds=wait)
        code = await services.codes.issue(
            turn.tenant,
            turn.jti,
            Recipient(identifier.kind, identifier.value),
            purpose,
            turn.sie.verificationCodePolicy.ttl,
        )
        self.verified = False
        kind = ConnectorType.Email if identifier.kind == "email" else ConnectorType.Sms
        origin = turn.origin
        payload = {
            "code": code,
            "locale": origin.locale,
            "uiLocales": origin.ui_locales,
            "application": (
                {"id": origin.application_id, "name": origin.application_name}
                if origin.application_id
                else {}
            ),
        }
        if purpose == "ForgotPassword":
            # A reset code goes only to an address an account uses, or anyone could make
            # this server mail or text any address. The answer must not tell the two apart:
            # the code is stored (so a guess fails exactly as it would for an account) and
            # the message leaves after the response, so neither its presence nor its time
            # shows.
            if await accounts.owner(turn.engine, turn.tenant, identifier.value):
                services.spawn(_send_later(turn, kind, identifier.value, purpose, payload))
            return
        try:
            await services.connectors.send_message(
                turn.tenant, kind, identifier.value, purpose, payload
            )
        except ConnectorError as error:
            log.warning("sending a %s code failed: %s", purpose, error.admin_message)
            missing = error.code == "connector.not_found"
            key = "error.no_connector" if missing else "error.send_failed"
            raise StepError(key, 503) from None

    async def verify(self, turn: Turn, code: str) -> None:
        """Check the code. A wrong code for signing in counts against the account (as a
        wrong password does); for other purposes it counts too, but without locking the
        check itself (a code proves a mailbox, not the account)."""
        codes = turn.services.codes
        assert codes is not None
        identifier, purpose = self.identifier, self.purpose
        target = target_of(identifier, await owner_of(turn, identifier))
        attempt = (
            await reserve_attempt(turn, target, identifier=identifier)
            if purpose == "SignIn"
            else None
        )
        try:
            await codes.verify(
                turn.tenant,
                turn.jti,
                Recipient(identifier.kind, identifier.value),
                purpose,
                code[:MAX_CODE],
                turn.sie.verificationCodePolicy.max_attempts,
            )
        except CodeError as error:
            mismatch = error.code == "verification_code.code_mismatch"
            if attempt and not mismatch:
                await turn.sentinel.release(attempt)  # not a guess (expired, used up, ...)
            elif mismatch and not attempt:
                await turn.sentinel.failed(turn.tenant, target)
            kind = "Email" if identifier.kind == "email" else "Phone"
            await turn.audit(
                f"Interaction.{turn.state.event.value}.Verification.{kind}VerificationCode.Submit",
                error=error.code,
                identifier=identifier.value,
            )
            raise StepError(CODE_ERRORS.get(error.code, "error.code_not_found")) from None
        if attempt:
            await turn.sentinel.release(attempt)
        self.verified = True

    async def identify_user(self, turn: Turn) -> dict[str, Any] | None:
        """The account that uses the proven address or number, if any."""
        if not self.verified:
            raise StepError("error.verification_incomplete", 400)
        return await owner_of(turn, self.identifier)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "identifier": self.identifier.as_dict(),
            "purpose": self.purpose,
            "verified": self.verified,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeVerification:
        return cls(
            Identifier.from_dict(data["identifier"]),
            str(data["purpose"]),
            bool(data.get("verified")),
        )


async def _send_later(
    turn: Turn, kind: ConnectorType, to: str, purpose: str, payload: dict[str, Any]
) -> None:
    connectors = turn.services.connectors
    assert connectors is not None
    try:
        await connectors.send_message(turn.tenant, kind, to, purpose, payload)
    except Exception as error:  # after the response: the log is the only place to tell
        reason = error.admin_message if isinstance(error, ConnectorError) else type(error).__name__
        log.warning("sending a %s code failed: %s", purpose, reason)
