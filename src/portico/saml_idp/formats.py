"""Names shared with SAML 2.0 Core and with Logto's ``saml-application-configs`` schema."""

from __future__ import annotations

from enum import StrEnum


class Binding(StrEnum):
    """SAML 2.0 Bindings §3.4 and §3.5."""

    POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


class NameIdFormat(StrEnum):
    """SAML 2.0 Core §8.3: the formats Logto offers (persistent by default)."""

    PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    EMAIL_ADDRESS = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


# The claims an attribute mapping may name (Logto's ``sub`` + ``userClaimsList``).
MAPPABLE_CLAIMS = (
    "sub",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "username",
    "created_at",
    "custom_data",
    "identities",
    "sso_identities",
    "roles",
    "organizations",
    "organization_data",
    "organization_roles",
)

# Which OIDC scope releases a claim (Logto's ``idTokenClaims`` + extended claims): the
# sign-in asks for exactly the scopes the mapping needs.
CLAIM_SCOPES = {
    **dict.fromkeys(
        (
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
            "username",
            "created_at",
        ),
        "profile",
    ),
    "email": "email",
    "email_verified": "email",
    "phone_number": "phone",
    "phone_number_verified": "phone",
    "address": "address",
    "custom_data": "custom_data",
    "identities": "identities",
    "sso_identities": "identities",
    "roles": "roles",
    "organizations": "urn:logto:scope:organizations",
    "organization_data": "urn:logto:scope:organizations",
    "organization_roles": "urn:logto:scope:organization_roles",
}

# Logto's attributes when the mapping is empty.
FALLBACK_ATTRIBUTES = ("sub", "email", "name")
