"""Who the assertion is about: the NameID per format and the attributes per mapping, from
the user's OIDC claims (as Logto builds them from its userinfo answer)."""

from __future__ import annotations

import json
from typing import Any

from portico.ids import standard_id
from portico.saml_idp.entity import SamlRequestError
from portico.saml_idp.formats import CLAIM_SCOPES, FALLBACK_ATTRIBUTES, NameIdFormat


def scopes_for(mapping: dict[str, str], name_id_format: str) -> list[str]:
    """The scopes that release what the response carries (never ``offline_access``)."""
    wanted = ["openid", "profile"]
    if name_id_format == NameIdFormat.EMAIL_ADDRESS or not mapping:
        wanted.append("email")  # the fallback attributes include ``email``
    for claim in mapping:
        scope = CLAIM_SCOPES.get(claim)
        if scope and scope not in wanted:
            wanted.append(scope)
    return wanted


def name_id(claims: dict[str, Any], name_id_format: str) -> tuple[str, str]:
    """SAML 2.0 Core §8.3: persistent and unspecified name the user by id, emailAddress by
    the verified primary email, transient by a value made for this response."""
    if name_id_format == NameIdFormat.EMAIL_ADDRESS:
        if not claims.get("email"):
            raise SamlRequestError(
                "application.saml.missing_email_address", "User does not have an email address."
            )
        if not claims.get("email_verified"):
            raise SamlRequestError(
                "application.saml.email_address_unverified", "User email address is not verified."
            )
        return name_id_format, str(claims["email"])
    if name_id_format in (NameIdFormat.PERSISTENT, NameIdFormat.UNSPECIFIED):
        return name_id_format, str(claims["sub"])
    if name_id_format == NameIdFormat.TRANSIENT:
        return name_id_format, standard_id()
    raise SamlRequestError("application.saml.unsupported_name_id_format",
                           "Unsupported name ID format.")  # fmt: skip


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def attributes(claims: dict[str, Any], mapping: dict[str, str]) -> dict[str, list[str]]:
    """``{attribute name: [value]}``: each mapped claim the user has (a claim without a value
    is left out rather than sent as the text "null"); with no mapping, Logto's fallback
    ``sub``, ``email`` and ``name`` under their own names."""
    pairs = mapping.items() if mapping else ((c, c) for c in FALLBACK_ATTRIBUTES)
    return {name: [_text(claims[claim])] for claim, name in pairs if claims.get(claim) is not None}
