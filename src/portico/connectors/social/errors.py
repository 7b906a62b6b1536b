"""Social connector failures, with Logto's error codes (``connector.social_*``)."""

from __future__ import annotations

from enum import StrEnum

from portico.connectors.errors import ConnectorError

USER_SOCIAL_FAILED = "Signing in with this provider did not work. Please try again."


class SocialErrorCode(StrEnum):
    """``ConnectorError.code`` values a social sign-in can end with (Logto's names)."""

    AuthorizationFailed = "connector.authorization_failed"  # the user cancelled or was refused
    AuthCodeInvalid = "connector.social_auth_code_invalid"  # code expired, reused or forged
    AccessTokenInvalid = "connector.social_access_token_invalid"  # provider said 401
    IdTokenInvalid = "connector.social_id_token_invalid"  # signature, iss, aud, nonce, exp
    InvalidResponse = "connector.invalid_response"  # garbage, too large, missing fields
    Unavailable = "connector.general"  # timeout, TLS, refused connection, 5xx


def social_error(code: SocialErrorCode, admin_message: str, *, reason: str) -> ConnectorError:
    return ConnectorError(code.value, admin_message, USER_SOCIAL_FAILED, reason=reason)


def authorization_failed(admin_message: str) -> ConnectorError:
    return social_error(SocialErrorCode.AuthorizationFailed, admin_message, reason="cancelled")
