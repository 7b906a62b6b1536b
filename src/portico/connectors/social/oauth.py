"""The OAuth 2.0 pieces social connectors share: the authorization-code exchange
(RFC 6749 §4.1.3), PKCE (RFC 7636) and provider URLs that must be https."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, Literal

from portico.connectors.http import ProviderUrl  # noqa: F401 (connectors import it here)
from portico.connectors.social.errors import SocialErrorCode, social_error
from portico.connectors.social.http import fetch_json

TokenAuthMethod = Literal["client_secret_post", "client_secret_basic"]


def pkce_pair() -> tuple[str, str]:
    """``(code_verifier, S256 code_challenge)``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def exchange_code(
    token_endpoint: str,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str | None,
    auth_method: TokenAuthMethod = "client_secret_post",
    code_verifier: str | None = None,
    extra: dict[str, str] | None = None,
    what: str = "provider's token endpoint",
) -> dict[str, Any]:
    """The token response (with a non-empty ``access_token``) for an authorization code.
    A 4xx answer means the code is bad (expired, reused, forged or for another client)."""
    if not code:
        raise social_error(
            SocialErrorCode.AuthCodeInvalid, "The callback carried no code.", reason="no_code"
        )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        **(extra or {}),
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    auth = None
    if client_secret and auth_method == "client_secret_basic":
        auth = (client_id, client_secret)
    elif client_secret:
        form["client_secret"] = client_secret
    status, body = await fetch_json("POST", token_endpoint, data=form, auth=auth, what=what)
    error = body.get("error") if isinstance(body, dict) else None
    if 400 <= status < 500 or (status == 200 and error):  # GitHub answers 200 {"error": ...}
        raise social_error(
            SocialErrorCode.AuthCodeInvalid,
            f"The {what} refused the code (HTTP {status}, error={error!r}).",
            reason="code_refused",
        )
    token = body.get("access_token") if isinstance(body, dict) else None
    if status != 200 or not isinstance(token, str) or not token:
        raise social_error(
            SocialErrorCode.InvalidResponse,
            f"The {what} answered HTTP {status} without an access_token.",
            reason="bad_token_response",
        )
    return body  # type: ignore[no-any-return]
