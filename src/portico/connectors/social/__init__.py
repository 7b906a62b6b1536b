"""What every social connector shares: bounded HTTP to the provider, the OAuth 2.0 code
exchange, and the errors a sign-in page turns into a clear message.

Providers are remote and untrusted: every call has a deadline and a size cap, every response
is parsed defensively, and nothing a provider sends is echoed to the end user.
"""

from portico.connectors.social.errors import (
    SocialErrorCode,
    authorization_failed,
    social_error,
)
from portico.connectors.social.http import fetch_json
from portico.connectors.social.oauth import exchange_code, pkce_pair

__all__ = [
    "SocialErrorCode",
    "authorization_failed",
    "exchange_code",
    "fetch_json",
    "pkce_pair",
    "social_error",
]
