"""A SAML identity provider's metadata (SAML 2.0 Metadata §2.3-2.4) as an SSO connector
needs it: the IdP's entity ID, its HTTP-Redirect single sign-on URL and its signing
certificate; and Portico's own service-provider metadata for one connector.

IdP metadata comes from the connector's config (Logto's three forms: ``metadataUrl``,
``metadata`` XML, or ``entityId`` + ``signInEndpoint`` + ``x509Certificate``). XML is read
with ``defusedxml`` (no DTD, no entity expansion, no external entities); only what is named
above is taken from it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from cryptography import x509
from defusedxml import ElementTree  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

from portico.saml_idp import certificates

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
MAX_METADATA = 256 * 1024


class MetadataError(ValueError):
    """The metadata cannot be used; the message says why (for the admin)."""


@dataclass(frozen=True)
class IdpMetadata:
    """Logto's ``SamlIdentityProviderMetadata``."""

    entity_id: str
    sign_in_endpoint: str
    certificate: str  # PEM
    expires_at: int  # milliseconds

    def to_json(self, now: datetime.datetime | None = None) -> dict[str, object]:
        moment = (now or datetime.datetime.now(datetime.UTC)).timestamp() * 1000
        return {
            "entityId": self.entity_id,
            "signInEndpoint": self.sign_in_endpoint,
            "x509Certificate": self.certificate,
            "certificateExpiresAt": self.expires_at,
            "isCertificateValid": self.expires_at > moment,
        }


def pem(certificate: str) -> str:
    """A certificate as PEM, whether given armoured or as the bare base64 of metadata."""
    body = certificates.body(certificate)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _checked_certificate(certificate: str) -> tuple[str, int]:
    text = pem(certificate)
    try:
        parsed = x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        raise MetadataError(
            "The IdP's signing certificate is not a valid X.509 certificate."
        ) from None
    return text, int(parsed.not_valid_after_utc.timestamp() * 1000)


def from_fields(entity_id: str, sign_in_endpoint: str, certificate: str) -> IdpMetadata:
    """The manual form of the config."""
    text, expires_at = _checked_certificate(certificate)
    return IdpMetadata(entity_id, sign_in_endpoint, text, expires_at)


def parse(xml: str | bytes) -> IdpMetadata:
    """The IdP of an ``EntityDescriptor`` (or the first IdP of an ``EntitiesDescriptor``)."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if len(raw) > MAX_METADATA:
        raise MetadataError("The IdP metadata is too large.")
    try:
        root = ElementTree.fromstring(raw, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise MetadataError("The IdP metadata is not well-formed XML.") from None
    entity = root if root.tag == f"{{{MD}}}EntityDescriptor" else None
    if entity is None or entity.find(f"{{{MD}}}IDPSSODescriptor") is None:
        entity = next(
            (
                e
                for e in root.iter(f"{{{MD}}}EntityDescriptor")
                if e.find(f"{{{MD}}}IDPSSODescriptor") is not None
            ),
            None,
        )
    if entity is None:
        raise MetadataError("The metadata describes no SAML identity provider (IDPSSODescriptor).")
    descriptor = entity.find(f"{{{MD}}}IDPSSODescriptor")
    assert descriptor is not None
    entity_id = (entity.get("entityID") or "").strip()
    if not entity_id:
        raise MetadataError("The IdP metadata has no entityID.")
    return IdpMetadata(entity_id, _sso_url(descriptor), *_checked_certificate(_signing(descriptor)))


def _sso_url(descriptor: Element) -> str:
    for service in descriptor.iter(f"{{{MD}}}SingleSignOnService"):
        if service.get("Binding") == REDIRECT and service.get("Location"):
            return str(service.get("Location")).strip()
    raise MetadataError("The IdP metadata has no HTTP-Redirect SingleSignOnService.")


def _signing(descriptor: Element) -> str:
    for key in descriptor.findall(f"{{{MD}}}KeyDescriptor"):
        if key.get("use") in (None, "signing"):
            found = key.find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
            if found is not None and (found.text or "").strip():
                return str(found.text)
    raise MetadataError("The IdP metadata has no signing certificate.")


def idp_xml(idp: IdpMetadata) -> str:
    """``idp`` as metadata (what pysaml2 reads, for every form of the config)."""
    body = certificates.body(idp.certificate)
    return (
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{_attr(idp.entity_id)}">'
        f'<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        f'<md:SingleSignOnService Binding="{REDIRECT}" Location="{_attr(idp.sign_in_endpoint)}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def sp_xml(entity_id: str, acs_url: str) -> str:
    """Portico's SP metadata for one connector: its entity ID, the HTTP-POST ACS, signed
    assertions wanted."""
    return (
        f'<md:EntityDescriptor xmlns:md="{MD}" entityID="{_attr(entity_id)}">'
        '<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:AssertionConsumerService Binding="{POST}" Location="{_attr(acs_url)}" index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
