"""OAuth error responses (RFC 6749 §5.2, §4.1.2.1) in Logto's JSON shape."""

from __future__ import annotations

from typing import Any


class OAuthError(Exception):
    """An error with an OAuth ``error`` code; ``status`` is the HTTP status to answer with."""

    def __init__(
        self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        # Logto adds ``code`` and ``message`` beside the standard members.
        return {
            "error": self.error,
            "error_description": self.description,
            "code": f"oidc.{self.error}",
            "message": self.description,
        }


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str, *, used_basic: bool = False) -> OAuthError:
    """RFC 6749 §5.2: 401, with ``WWW-Authenticate`` when the client used the header."""
    headers = {"WWW-Authenticate": 'Basic realm="oidc"'} if used_basic else None
    return OAuthError("invalid_client", description, 401, headers)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_target(description: str) -> OAuthError:
    return OAuthError("invalid_target", description)


def invalid_scope(description: str) -> OAuthError:
    return OAuthError("invalid_scope", description)


def invalid_token(description: str) -> OAuthError:
    """RFC 6750 §3.1."""
    header = f'Bearer error="invalid_token", error_description="{description}"'
    return OAuthError("invalid_token", description, 401, {"WWW-Authenticate": header})
