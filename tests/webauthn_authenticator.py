"""A software WebAuthn authenticator for tests below the browser (the browser tests use
Chromium's virtual authenticator): it answers ``navigator.credentials.create``/``get``
options as a platform authenticator would, with "none" attestation, ES256 keys, user
presence and verification, and a signature counter it can be told to replay."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Key:
    private: ec.EllipticCurvePrivateKey
    user_handle: str
    rp_id: str
    count: int = 0


@dataclass
class SoftAuthenticator:
    origin: str
    keys: dict[str, Key] = field(default_factory=dict)  # by credential id (base64url)
    verify_user: bool = True

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        rp_id = options["rp"]["id"]
        credential_id = os.urandom(16)
        private = ec.generate_private_key(ec.SECP256R1())
        numbers = private.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})  # fmt: skip
        flags = UP | AT | (UV if self.verify_user else 0)
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
                     + (0).to_bytes(4, "big") + bytes(16)
                     + len(credential_id).to_bytes(2, "big") + credential_id + cose)  # fmt: skip
        self.keys[b64url(credential_id)] = Key(private, options["user"]["id"], rp_id)
        client_data = self._client_data("webauthn.create", options["challenge"])
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data),
                         "attestationObject": b64url(attestation), "transports": ["internal"]},
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }  # fmt: skip

    def get(
        self, options: dict[str, Any], credential_id: str | None = None, *, replay: bool = False
    ) -> dict[str, Any]:
        allowed = [c["id"] for c in options.get("allowCredentials") or []]
        if credential_id is None:
            candidates = [c for c in self.keys if not allowed or c in allowed]
            credential_id = candidates[0]
        key = self.keys[credential_id]
        if not replay:
            key.count += 1
        flags = UP | (UV if self.verify_user else 0)
        auth_data = (hashlib.sha256(options["rpId"].encode()).digest() + bytes([flags])
                     + key.count.to_bytes(4, "big"))  # fmt: skip
        client_data = self._client_data("webauthn.get", options["challenge"])
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = key.private.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": credential_id,
            "rawId": credential_id,
            "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data),
                         "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature), "userHandle": key.user_handle},
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }  # fmt: skip

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()
