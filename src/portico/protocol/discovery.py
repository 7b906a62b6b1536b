"""Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414), shaped like Logto's document but
advertising only what Portico implements."""

from __future__ import annotations

from typing import Any

from portico.protocol import acr, dpop, grants
from portico.protocol.claims import CLAIMS_SUPPORTED, OIDC_SCOPES
from portico.protocol.client_assertion import ALGORITHMS as ASSERTION_ALGORITHMS
from portico.protocol.client_assertion import HMAC_ALGORITHMS
from portico.services.keys import ID_TOKEN_ALGORITHMS


def document(issuer: str, signing_alg: str, metadata_documents: bool = False) -> dict[str, Any]:
    """``metadata_documents``: Client ID Metadata Documents are on (then advertised)."""
    extra = {"client_id_metadata_document_supported": True} if metadata_documents else {}
    return {
        **extra,
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/me",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/session/end",
        "revocation_endpoint": f"{issuer}/token/revocation",
        "introspection_endpoint": f"{issuer}/token/introspection",
        "acr_values_supported": list(acr.SUPPORTED),
        "authorization_response_iss_parameter_supported": True,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "claims_supported": list(CLAIMS_SUPPORTED),
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": grants.supported(),
        # The tenant key's first (what an application gets unless it registers another).
        "id_token_signing_alg_values_supported": [
            signing_alg,
            *(a for a in ID_TOKEN_ALGORITHMS if a != signing_alg),
        ],
        "pushed_authorization_request_endpoint": f"{issuer}/request",
        "device_authorization_endpoint": f"{issuer}/device/auth",
        "request_uri_parameter_supported": False,
        "require_pushed_authorization_requests": False,
        "response_modes_supported": ["form_post", "query"],
        "response_types_supported": ["code"],
        "scopes_supported": list(OIDC_SCOPES),
        "subject_types_supported": ["public"],
        "token_endpoint_auth_signing_alg_values_supported": [
            *ASSERTION_ALGORITHMS,
            *HMAC_ALGORITHMS,
        ],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
            "client_secret_jwt",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
            "client_secret_jwt",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
            "client_secret_jwt",
        ],
        # RFC 9101: request objects by value, signed with the client's keys.
        "request_parameter_supported": True,
        "request_object_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),  # RFC 9449 §5.1
        # OpenID Connect Back-Channel and Front-Channel Logout 1.0 (``logout_propagation``).
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
