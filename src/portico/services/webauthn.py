"""WebAuthn (passkeys and security keys) as Logto shapes it, on py_webauthn: registration
and authentication options, and the checks of what the browser returns (challenge, origin,
RP ID, user verification, signature, a signature counter that never goes back).

The RP ID is the host name the sign-in pages are served from; the origin is theirs. Options
ask for a discoverable credential with user verification (a passkey, usable for
passkey-first sign-in), no attestation, and ES256 or RS256 keys (Logto's choices).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portico.ids import standard_id
from portico.services.sign_in_experience import MfaFactor
from portico.storage import mfa as repo
from portico.storage.database import now_ms

TIMEOUT_MS = 60_000
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
MAX_NAME = 128
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class WebAuthnFailed(ValueError):
    """The browser's answer did not verify; the message says why (for the log)."""


@dataclass(frozen=True)
class Credential:
    """A verified new credential, to store as the user's WebAuthn factor."""

    credential_id: str  # base64url
    public_key: str  # base64url COSE key
    counter: int
    transports: list[str]
    rp_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "credentialId": self.credential_id,
            "publicKey": self.public_key,
            "counter": self.counter,
            "transports": self.transports,
            "rpId": self.rp_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credential:
        return cls(
            str(data["credentialId"]),
            str(data["publicKey"]),
            int(data.get("counter") or 0),
            list(data.get("transports") or []),
            str(data["rpId"]),
        )


def _descriptors(rows: list[dict[str, Any]]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(row["credential_id"]),
            transports=[
                AuthenticatorTransport(t)
                for t in (row.get("data") or {}).get("transports", [])
                if t in _TRANSPORTS
            ],
        )
        for row in rows
        if row["type"] == MfaFactor.WEB_AUTHN and row.get("credential_id")
    ]


def registration_options(
    rp_id: str, user: dict[str, Any], rows: list[dict[str, Any]], display: str
) -> tuple[dict[str, Any], str]:
    """``(options, challenge)``: what ``navigator.credentials.create`` needs; the user's
    credentials are excluded (no second registration of one authenticator)."""
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_id,
        user_id=str(user["id"]).encode(),
        user_name=display,
        user_display_name=str(user.get("name") or display),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(rows),
        supported_pub_key_algs=ALGORITHMS,
    )
    return json.loads(options_to_json(options)), bytes_to_base64url(options.challenge)


def _standard(payload: dict[str, Any]) -> dict[str, Any]:
    """Logto's clients label the credential ``"type": "WebAuthn"``; WebAuthn's is
    ``public-key``."""
    return {**payload, "type": "public-key"} if payload.get("type") == "WebAuthn" else payload


def verify_registration(
    payload: dict[str, Any], challenge: str, rp_id: str, origins: list[str]
) -> Credential:
    payload = _standard(payload)
    try:
        verified = verify_registration_response(
            credential=payload,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origins,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as error:
        raise WebAuthnFailed(str(error)[:200]) from None
    transports = (payload.get("response") or {}).get("transports") or []
    return Credential(
        bytes_to_base64url(verified.credential_id),
        bytes_to_base64url(verified.credential_public_key),
        verified.sign_count,
        [t for t in transports if isinstance(t, str) and t in _TRANSPORTS],
        rp_id,
    )


def authentication_options(
    rp_id: str, rows: list[dict[str, Any]] | None
) -> tuple[dict[str, Any], str]:
    """``(options, challenge)`` for ``navigator.credentials.get``: the user's credentials,
    or none listed (``rows`` None: a discoverable passkey, any account)."""
    options = generate_authentication_options(
        rp_id=rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(rows) if rows is not None else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options)), bytes_to_base64url(options.challenge)


def credential_id_of(payload: dict[str, Any]) -> str:
    """The credential an assertion names (its ``rawId``/``id``), base64url."""
    value = payload.get("rawId") or payload.get("id")
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise WebAuthnFailed("no credential id")
    return value


def verify_assertion(
    payload: dict[str, Any], challenge: str, rp_id: str, origin: str, row: dict[str, Any]
) -> int:
    """The new signature counter when ``payload`` is a valid assertion by the credential
    ``row``; a counter that does not move forward (a cloned authenticator) is refused by
    the library unless both are zero (authenticators that keep none)."""
    payload = _standard(payload)
    try:
        verified = verify_authentication_response(
            credential=payload,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=base64url_to_bytes(row["data"]["publicKey"]),
            credential_current_sign_count=int(row.get("counter") or 0),
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as error:
        raise WebAuthnFailed(str(error)[:200]) from None
    return int(verified.new_sign_count)


async def check_assertion(
    engine: Any,
    tenant_id: str,
    payload: dict[str, Any],
    challenge: str,
    rp_id: str,
    origin: str,
    *,
    user_id: str | None,
) -> dict[str, Any]:
    """The credential ``payload`` proves, its use recorded (the counter moved forward);
    ``user_id``: whose it must be (None: any account's passkey of this RP ID).
    :class:`WebAuthnFailed` otherwise."""
    credential_id = credential_id_of(payload)
    async with engine.connect() as conn:
        row = await repo.find_by_credential(conn, tenant_id, credential_id)
    if row is None or row.get("rp_id") != rp_id:
        raise WebAuthnFailed("no credential of this server has that id")
    if user_id is not None and row["user_id"] != user_id:
        raise WebAuthnFailed("the credential is another account's")
    count = verify_assertion(payload, challenge, rp_id, origin, row)
    async with engine.begin() as conn:
        if not await record_use(conn, row, count):
            raise WebAuthnFailed("the signature counter did not move forward")
    return row


async def store(
    conn: Any,
    tenant_id: str,
    user_id: str,
    credential: Credential,
    *,
    agent: str,
    name: str | None = None,
) -> str:
    factor_id = standard_id()
    await repo.insert_factor(
        conn,
        {"tenant_id": tenant_id, "id": factor_id, "user_id": user_id,
         "type": MfaFactor.WEB_AUTHN, "name": (name or "")[:MAX_NAME] or None,
         "credential_id": credential.credential_id, "rp_id": credential.rp_id,
         "data": {"publicKey": credential.public_key, "transports": credential.transports,
                  "agent": agent[:512]},
         "counter": credential.counter, "created_at": now_ms()},
    )  # fmt: skip
    return factor_id


async def record_use(conn: Any, row: dict[str, Any], new_count: int) -> bool:
    """Store the new counter (a guarded update: a parallel use of a cloned authenticator
    with the same counter loses); authenticators that keep no counter are only touched."""
    now = now_ms()
    if new_count == 0 and not row.get("counter"):
        await repo.touch(conn, row["id"], now)
        return True
    return await repo.advance_counter(conn, row["id"], new_count, now)
