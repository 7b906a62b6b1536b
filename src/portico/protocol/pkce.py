"""Proof Key for Code Exchange (RFC 7636), S256 only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from portico.protocol.errors import invalid_grant, invalid_request

# RFC 7636 §4.1/§4.2: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def check_challenge(challenge: str | None, method: str | None, required: bool) -> None:
    """RFC 7636 §4.3 with RFC 9700 §2.1.1: S256 only; public clients must send one."""
    if challenge is None:
        if method is not None:
            raise invalid_request("code_challenge_method provided without code_challenge")
        if required:
            raise invalid_request("PKCE must be used: code_challenge is required for this client")
        return
    if (method or "plain") != "S256":
        raise invalid_request("not supported value of code_challenge_method: only S256 is allowed")
    if not _VALUE.match(challenge):
        raise invalid_request("code_challenge must be 43 to 128 unreserved characters")


def verify(challenge: str | None, verifier: str | None) -> None:
    """RFC 7636 §4.6, and §4.5's other half: no verifier without a challenge (no downgrade)."""
    if challenge is None:
        if verifier is not None:
            raise invalid_grant("code_verifier sent, but no code_challenge was sent in the request")
        return
    if verifier is None:
        raise invalid_grant("PKCE verification failed: code_verifier is missing")
    if not _VALUE.match(verifier):
        raise invalid_grant("PKCE verification failed: code_verifier is malformed")
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    if not hmac.compare_digest(computed.decode(), challenge):
        raise invalid_grant("PKCE verification failed")
