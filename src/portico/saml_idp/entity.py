"""pysaml2 as Portico's SAML identity provider for one application (SAML 2.0 Core, Bindings,
Profiles §4.1 Web Browser SSO).

pysaml2 and ``xmlsec1`` read keys from files, so each call writes the application's key and
certificate to a private temporary directory (0700) that it removes before returning; the
key is never written anywhere else. Everything here blocks (``xmlsec1`` is a subprocess):
callers run it in a worker thread.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp, xmldsig
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import do_ava
from saml2.saml import NAME_FORMAT_BASIC, NameID
from saml2.server import Server

from portico.saml_idp import certificates
from portico.saml_idp.formats import Binding

XMLSEC = "/usr/bin/xmlsec1"
# Assertions live minutes, not hours (SAML 2.0 Profiles §4.1.4.2: short-lived bearer
# assertions); Logto's ten minutes.
ASSERTION_MINUTES = 10
CLOCK_SKEW_SECONDS = 60
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
log = logging.getLogger("portico.saml_idp")


class SamlRequestError(Exception):
    """A request Portico refuses; ``code`` is Logto's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IdentityProvider:
    """Portico as one application's IdP: Logto's entity ID and SSO URL per application."""

    entity_id: str
    sso_url: str
    key_pem: str
    cert_pem: str
    name_id_format: str


@dataclass(frozen=True)
class ServiceProvider:
    """The application's side, as configured (Logto's ``entityId``, ``acsUrl``,
    ``encryption.certificate``)."""

    entity_id: str
    acs_url: str
    certificate: str | None = None  # encrypts assertions; also verifies its signed requests
    encrypt_assertion: bool = False


@dataclass(frozen=True)
class AuthnRequest:
    """What Portico keeps of a verified AuthnRequest (Logto's ``AuthRequestInfo``)."""

    id: str
    issuer: str
    acs_url: str | None
    destination: str | None
    issue_instant: str


class _BasicAttributes(AttributeConverter):  # type: ignore[misc]
    """Attributes named exactly as the admin's mapping says, NameFormat basic (Logto's):
    pysaml2's own tables would rename ``mail`` and friends to URNs."""

    def __init__(self) -> None:
        super().__init__(NAME_FORMAT_BASIC)

    def to_(self, attrvals: dict[str, Any]) -> list[saml.Attribute]:
        return [
            saml.Attribute(name=name, name_format=NAME_FORMAT_BASIC, attribute_value=do_ava(value))
            for name, value in attrvals.items()
        ]


def _sp_metadata(sp: ServiceProvider) -> str:
    descriptor = md.SPSSODescriptor(
        protocol_support_enumeration=samlp.NAMESPACE,
        assertion_consumer_service=[
            md.AssertionConsumerService(binding=BINDING_HTTP_POST, location=sp.acs_url, index="0")
        ],
    )
    if sp.certificate:
        x509 = xmldsig.X509Data(
            x509_certificate=xmldsig.X509Certificate(text=certificates.body(sp.certificate))
        )
        descriptor.key_descriptor = [
            md.KeyDescriptor(use=use, key_info=xmldsig.KeyInfo(x509_data=[x509]))
            for use in ("signing", "encryption")
        ]
    return str(md.EntityDescriptor(entity_id=sp.entity_id, spsso_descriptor=[descriptor]))


@contextlib.contextmanager
def _server(
    idp: IdentityProvider, sp: ServiceProvider | None, *, requests_signed: bool = False
) -> Iterator[Server]:
    """A pysaml2 IdP for this application (its key in a private directory while it lives)."""
    with tempfile.TemporaryDirectory(prefix="portico-saml-") as folder:
        os.chmod(folder, 0o700)
        key_file, cert_file = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
        for path, text in ((key_file, idp.key_pem), (cert_file, idp.cert_pem)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text)
        config = IdPConfig()
        config.load(
            {
                "entityid": idp.entity_id,
                "xmlsec_binary": XMLSEC,
                "key_file": key_file,
                "cert_file": cert_file,
                "accepted_time_diff": CLOCK_SKEW_SECONDS,
                "metadata": {"inline": [_sp_metadata(sp)]} if sp else {},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (idp.sso_url, BINDING_HTTP_REDIRECT),
                                (idp.sso_url, BINDING_HTTP_POST),
                            ]
                        },
                        "name_id_format": [idp.name_id_format],
                        "want_authn_requests_signed": requests_signed,
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": ASSERTION_MINUTES},
                                "name_form": NAME_FORMAT_BASIC,
                            }
                        },
                    }
                },
            }
        )
        config.attribute_converters = [_BasicAttributes()]
        yield Server(config=config)


def metadata(idp: IdentityProvider) -> str:
    """The IdP's metadata (SAML 2.0 Metadata §2.4.3): entity ID, signing certificate, NameID
    format, the SSO service for both bindings. Unsigned, as Logto's."""
    with _server(idp, None) as server:
        descriptor = entity_descriptor(server.config)
    descriptor.extensions = None  # pysaml2 lists every algorithm xmlsec1 knows, MD5 too
    xml: str = descriptor.to_string().decode()
    return xml


def parse_request(
    idp: IdentityProvider,
    sp: ServiceProvider,
    binding: Binding,
    saml_request: str,
    *,
    relay_state: str | None = None,
    sig_alg: str | None = None,
    signature: str | None = None,
) -> AuthnRequest:
    """The AuthnRequest, verified: well formed, version 2.0, Destination (when given) this
    SSO URL, issued within a day, and its signature when it has one (against the SP's
    certificate: a signed request from an SP Portico has no certificate for is refused)."""
    pysaml_binding = BINDING_HTTP_REDIRECT if binding is Binding.REDIRECT else BINDING_HTTP_POST
    signed = signature is not None and binding is Binding.REDIRECT
    try:
        with _server(idp, sp, requests_signed=signed) as server:
            parsed = server.parse_authn_request(
                saml_request, pysaml_binding, relay_state=relay_state,
                sigalg=sig_alg, signature=signature,
            )  # fmt: skip
    except Exception as problem:  # pysaml2 raises many kinds for one bad input
        log.info("SAML request refused: %s", type(problem).__name__)
        raise SamlRequestError(
            "application.saml.invalid_saml_request", "Invalid SAML authentication request."
        ) from None
    if parsed is None or parsed.message is None:
        raise SamlRequestError(
            "application.saml.invalid_saml_request", "Invalid SAML authentication request."
        )
    message = parsed.message
    issuer = (
        message.issuer.text.strip() if message.issuer is not None and message.issuer.text else ""
    )
    return AuthnRequest(
        id=str(message.id),
        issuer=issuer,
        acs_url=message.assertion_consumer_service_url,
        destination=message.destination,
        issue_instant=str(message.issue_instant),
    )


def login_response(
    idp: IdentityProvider,
    sp: ServiceProvider,
    *,
    name_id: tuple[str, str],
    attributes: dict[str, list[str]],
    in_response_to: str | None,
    authn_instant: int | None = None,
    session_not_on_or_after: datetime.datetime | None = None,
) -> str:
    """The base64 ``SAMLResponse`` for the HTTP-POST binding (Profiles §4.1.4.2): Response
    and Assertion signed with RSA-SHA256, the Assertion encrypted with the SP's certificate
    when asked (signed first, so the SP verifies it after decrypting), Audience the SP's
    entity ID, Recipient and Destination the ACS URL, InResponseTo the request's ID; the
    AuthnStatement says when the user signed in (``authn_instant``, epoch seconds) and when
    the SP's session must end (``session_not_on_or_after``: the sign-in session's end)."""
    name_format, value = name_id
    with _server(idp, sp) as server:
        response = server.create_authn_response(
            attributes,
            in_response_to,
            sp.acs_url,
            sp.entity_id,
            name_id=NameID(format=name_format, text=value),
            authn={"class_ref": PASSWORD_PROTECTED, "authn_instant": authn_instant or 0},
            sign_response=True,
            sign_assertion=True,
            encrypt_assertion=sp.encrypt_assertion,
            encrypt_assertion_self_contained=True,
            encrypt_cert_assertion=sp.certificate if sp.encrypt_assertion else None,
            sign_alg=xmldsig.SIG_RSA_SHA256,
            digest_alg=xmldsig.DIGEST_SHA256,
            session_not_on_or_after=_saml_time(session_not_on_or_after),
        )
    return base64.b64encode(str(response).encode()).decode()


def _saml_time(moment: datetime.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
