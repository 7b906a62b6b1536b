"""Authorization responses: ``query`` (RFC 6749 §4.1.2) or ``form_post`` (OAuth 2.0 Form Post
Response Mode), always with ``iss`` (RFC 9207) and ``state`` when the client sent one."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit


@dataclass(frozen=True)
class AuthorizationResponse:
    redirect_uri: str
    mode: str
    params: dict[str, str]

    def location(self) -> str:
        parts = urlsplit(self.redirect_uri)
        query = urlencode(self.params)
        merged = f"{parts.query}&{query}" if parts.query else query
        return urlunsplit((parts.scheme, parts.netloc, parts.path, merged, ""))


def build(
    redirect_uri: str, mode: str, issuer: str, state: str | None, values: dict[str, str]
) -> AuthorizationResponse:
    params = dict(values)
    if state is not None:
        params["state"] = state
    params["iss"] = issuer
    return AuthorizationResponse(redirect_uri, mode, params)
