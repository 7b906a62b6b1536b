"""Checking a ``SAMLResponse`` posted to Portico's assertion consumer service (SAML 2.0
Core §2-3, Profiles §4.1.4.3, Bindings §3.5), before anything in it is believed.

One check per concern, in this order, each refusal with its own ``reason``:

1. the document: base64 of at most 256 KiB of XML, no DTD, no comment (a comment inside a
   NameID survives canonicalization, so a signed ``alice@corp.example<!---->.evil`` would
   read as someone else to a careless parser: ``comment_injection``), parsed with
   ``defusedxml``;
2. its shape (``wrapped``): a ``Response`` with exactly one ``Assertion``, its direct
   child; IDs unique; every ``Signature`` a direct child of the Response or the Assertion,
   right after its ``Issuer``, with one ``Reference`` to its parent's ID and only the
   enveloped-signature and canonicalization transforms — so the element whose signature
   verifies is the very element read below (XML signature wrapping);
3. a signature is there (``unsigned``) and verifies with the IdP's certificate from the
   connector's metadata (``tampered``): ``xmlsec1`` through pysaml2's backend, the
   certificate given, keys embedded in the document ignored;
4. what it says (SAML Profiles §4.1.4.3): success status, Issuer the IdP's entity ID,
   Destination and the bearer confirmation's Recipient this ACS URL, InResponseTo the
   request this browser sent (none for an IdP-initiated response), NotBefore and
   NotOnOrAfter within :data:`CLOCK_SKEW`, Audience this connector's entity ID.

Everything here blocks (``xmlsec1`` is a subprocess): callers run it in a worker thread.
The assertion's ID is returned so the caller can refuse a replay across processes.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]
from saml2.sigver import CryptoBackendXmlSec1  # type: ignore[import-untyped]

from portico.sso.saml_metadata import IdpMetadata

XMLSEC = "/usr/bin/xmlsec1"
MAX_RESPONSE = 256 * 1024
CLOCK_SKEW = 120  # seconds either way
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
TRANSFORMS = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    }
)
_PROCESSING = re.compile(rb"<\?(?!xml[\s?])", re.IGNORECASE)


class Refused(Exception):
    """The response is not believed; ``reason`` names the check that refused it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Assertion:
    """What a checked assertion says (Logto's ``SsoSamlAssertionContent``)."""

    id: str
    issuer: str
    name_id: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    in_response_to: str | None = None
    not_on_or_after: float | None = None  # epoch seconds: how long to remember its ID

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "issuer": self.issuer,
            "nameID": self.name_id,
            "attributes": self.attributes,
            "inResponseTo": self.in_response_to,
            "notOnOrAfter": self.not_on_or_after,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Assertion:
        return cls(
            str(data["id"]),
            str(data["issuer"]),
            str(data["nameID"]),
            {str(k): [str(v) for v in vs] for k, vs in dict(data.get("attributes") or {}).items()},
            data.get("inResponseTo"),
            data.get("notOnOrAfter"),
        )


@dataclass(frozen=True)
class Expected:
    """Who the response must be for: this connector's SP, and the request it answers."""

    idp: IdpMetadata
    entity_id: str
    acs_url: str
    solicited: bool  # False: IdP-initiated, no InResponseTo allowed
    request_id: str | None = None  # when known here (else the caller compares it)


def check(saml_response: str, expected: Expected, now: float | None = None) -> Assertion:
    """The assertion of ``saml_response`` once every check passed; :class:`Refused`."""
    xml = _decoded(saml_response)
    root = _parsed(xml)
    assertion = _shape(root)
    _signatures(xml, root, assertion, expected.idp.certificate)
    return _content(root, assertion, expected, now if now is not None else _now())


# 1. The document ------------------------------------------------------------------------------
def _decoded(saml_response: str) -> bytes:
    compact = "".join(saml_response.split())
    if not compact or len(compact) > MAX_RESPONSE * 4 // 3 + 4:
        raise Refused("malformed", "The SAMLResponse is empty or too large.")
    try:
        xml = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("malformed", "The SAMLResponse is not base64.") from None
    if b"<!--" in xml:
        raise Refused("comment_injection", "The SAMLResponse contains an XML comment.")
    if b"<!DOCTYPE" in xml.upper() or b"<!ENTITY" in xml.upper() or _PROCESSING.search(xml):
        raise Refused("malformed", "The SAMLResponse contains a DTD or processing instruction.")
    return xml


def _parsed(xml: bytes) -> Element:
    try:
        root: Element = ElementTree.fromstring(xml, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise Refused("malformed", "The SAMLResponse is not well-formed XML.") from None
    if root.tag != f"{{{SAMLP}}}Response":
        raise Refused("malformed", "The SAMLResponse is not a samlp:Response.")
    return root


# 2. Its shape ---------------------------------------------------------------------------------
def _shape(root: Element) -> Element:
    if root.find(f".//{{{SAML}}}EncryptedAssertion") is not None:
        raise Refused("malformed", "Encrypted assertions are not accepted by this connector.")
    assertions = list(root.iter(f"{{{SAML}}}Assertion"))
    if len(assertions) != 1 or assertions[0] not in list(root):
        raise Refused("wrapped", "The response must carry exactly one assertion, at its top.")
    ids = [e.get("ID") for e in root.iter() if e.get("ID") is not None]
    if len(ids) != len(set(ids)):
        raise Refused("wrapped", "Two elements of the response share an ID.")
    signers = {id(root): root, id(assertions[0]): assertions[0]}
    parents = {id(child): parent for parent in root.iter() for child in parent}
    for signature in root.iter(f"{{{DS}}}Signature"):
        parent = parents.get(id(signature))
        if parent is None or id(parent) not in signers:
            raise Refused("wrapped", "A signature sits outside the response and its assertion.")
        _one_signature(parent, signature)
    return assertions[0]


def _one_signature(parent: Element, signature: Element) -> None:
    children = list(parent)
    issuer = parent.find(f"{{{SAML}}}Issuer")
    if (
        issuer is None
        or len(list(issuer))
        or children.index(signature) != 1
        or children[0] is not issuer
    ):
        raise Refused("wrapped", "A signature is not where the schema puts it (after Issuer).")
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != f"#{parent.get('ID')}":
        raise Refused("wrapped", "A signature does not reference the element it is in.")
    for transform in references[0].iter(f"{{{DS}}}Transform"):
        if transform.get("Algorithm") not in TRANSFORMS:
            raise Refused("tampered", "A signature uses a transform that is not allowed.")


# 3. Its signatures ----------------------------------------------------------------------------
def _signatures(xml: bytes, root: Element, assertion: Element, certificate: str) -> None:
    signed = [
        (f"{SAMLP}:Response", root),
        (f"{SAML}:Assertion", assertion),
    ]
    signed = [(name, e) for name, e in signed if e.find(f"{{{DS}}}Signature") is not None]
    if not signed:
        raise Refused("unsigned", "Neither the response nor its assertion is signed.")
    with tempfile.TemporaryDirectory(prefix="portico-sso-saml-") as folder:
        os.chmod(folder, 0o700)
        cert_file = os.path.join(folder, "idp.pem")
        with open(cert_file, "w") as handle:
            handle.write(certificate)
        backend = CryptoBackendXmlSec1(XMLSEC)
        for node_name, element in signed:
            try:
                valid = backend.validate_signature(
                    xml, cert_file, "pem", node_name, element.get("ID")
                )
            except Exception:  # pysaml2 raises several kinds for one bad signature
                valid = False
            if not valid:
                raise Refused("tampered", "A signature of the response does not verify.")


# 4. What it says ------------------------------------------------------------------------------
def _content(root: Element, assertion: Element, expected: Expected, now: float) -> Assertion:
    status = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if status is None or status.get("Value") != SUCCESS:
        raise Refused("not_success", "The identity provider did not sign the user in.")
    issuers = [_text(e.find(f"{{{SAML}}}Issuer")) for e in (root, assertion)]
    if issuers[1] != expected.idp.entity_id or issuers[0] not in (None, expected.idp.entity_id):
        raise Refused("wrong_issuer", "The assertion comes from another identity provider.")
    destination = root.get("Destination")
    if destination is not None and destination != expected.acs_url:
        raise Refused("wrong_destination", "The response is addressed to another endpoint.")
    answered = root.get("InResponseTo")
    _answers(answered, expected)
    ends = [_conditions(assertion, expected.entity_id, now)]
    ends.append(_bearer(assertion, expected, answered, now))
    name_id = _text(assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID"))
    if not name_id:
        raise Refused("no_subject", "The assertion names no subject.")
    return Assertion(
        id=str(assertion.get("ID") or ""),
        issuer=expected.idp.entity_id,
        name_id=name_id[:512],
        attributes=_attributes(assertion),
        in_response_to=root.get("InResponseTo"),
        not_on_or_after=min((e for e in ends if e is not None), default=None),
    )


def _answers(found: str | None, expected: Expected) -> None:
    """The Response's InResponseTo: none when unsolicited; else present, and the request's
    ID when it is known here."""
    if not expected.solicited and found is not None:
        raise Refused("wrong_in_response_to", "An answer to a request came without its request.")
    if expected.solicited and (not found or found != (expected.request_id or found)):
        raise Refused("wrong_in_response_to", "The response answers another request.")


def _conditions(assertion: Element, entity_id: str, now: float) -> float | None:
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    if conditions is None:
        raise Refused("wrong_audience", "The assertion has no conditions (audience).")
    _not_before(conditions.get("NotBefore"), now)
    end = _not_after(conditions.get("NotOnOrAfter"), now)
    restrictions = conditions.findall(f"{{{SAML}}}AudienceRestriction")
    if not restrictions or any(
        entity_id not in [_text(a) for a in r.findall(f"{{{SAML}}}Audience")] for r in restrictions
    ):
        raise Refused("wrong_audience", "The assertion is meant for another service provider.")
    return end


def _bearer(
    assertion: Element, expected: Expected, answered: str | None, now: float
) -> float | None:
    """Profiles §4.1.4.2: a bearer confirmation whose data names this ACS URL, has not
    expired and answers this request."""
    path = f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation"
    bearers = [c for c in assertion.findall(path) if c.get("Method") == BEARER]
    if not bearers:
        raise Refused("no_subject", "The assertion has no bearer subject confirmation.")
    refusal: Refused | None = None
    for bearer in bearers:
        data = bearer.find(f"{{{SAML}}}SubjectConfirmationData")
        try:
            if data is None or data.get("Recipient") != expected.acs_url:
                raise Refused("wrong_recipient", "The assertion is addressed to another endpoint.")
            if data.get("InResponseTo") != answered:
                raise Refused("wrong_in_response_to", "The assertion answers another request.")
            _not_before(data.get("NotBefore"), now)
            end = _not_after(data.get("NotOnOrAfter"), now, required=True)
        except Refused as refused:
            refusal = refusal or refused
            continue
        return end
    assert refusal is not None
    raise refusal


def _not_before(value: str | None, now: float) -> None:
    if value is not None and _instant(value) - CLOCK_SKEW > now:
        raise Refused("not_yet_valid", "The assertion is not valid yet.")


def _not_after(value: str | None, now: float, *, required: bool = False) -> float | None:
    if value is None:
        if required:
            raise Refused("expired", "The assertion has no expiry (NotOnOrAfter).")
        return None
    end = _instant(value)
    if end + CLOCK_SKEW <= now:
        raise Refused("expired", "The assertion has expired.")
    return end


def _attributes(assertion: Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    path = f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute"
    for attribute in assertion.findall(path)[:64]:
        name = attribute.get("Name")
        if name:
            values = [_text(v) or "" for v in attribute.findall(f"{{{SAML}}}AttributeValue")]
            found.setdefault(name[:256], []).extend(v[:2048] for v in values[:32])
    return found


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _instant(value: str) -> float:
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Refused("malformed", "A time in the assertion is not an xs:dateTime.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _now() -> float:
    return datetime.datetime.now(datetime.UTC).timestamp()
