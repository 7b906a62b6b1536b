"""Enterprise SSO over SAML 2.0, Portico as the service provider (Logto's ``SAML`` and
``AzureAD`` providers).

- Config (Logto's ``samlConnectorConfigGuard``): the IdP's ``metadataUrl``, or its
  ``metadata`` XML, or ``entityId`` + ``signInEndpoint`` + ``x509Certificate``; an
  ``attributeMapping`` over Logto's default ``{id: nameID, email: email, name: name}``.
  Metadata is fetched through the outgoing-request guard (``connectors/http``) and cached
  five minutes, as OIDC discovery is.
- Portico's side, per connector (Logto's URLs): entity ID ``<endpoint>/enterprise-sso/<id>``
  and the HTTP-POST assertion consumer service ``<endpoint>/api/authn/single-sign-on/saml/<id>``.
- Sign-in: an ``AuthnRequest`` over HTTP-Redirect (Bindings §3.4) with a fresh ID and a
  random ``RelayState``, both kept in the interaction (:meth:`SamlProvider.authorization`);
  the ACS checks the posted response (:meth:`SamlProvider.consume`,
  ``sso/saml_response.py``) and the interaction keeps the checked assertion, which
  :meth:`SamlProvider.verify` turns into the identity (Logto: the ACS stores the user info
  in the connector session, ``getUserInfo`` reads it).

Signed AuthnRequests (Logto's ``signAuthnRequest``): the HTTP-Redirect binding's signature
(Bindings §3.4.4.1: ``SigAlg`` and ``Signature`` over the query string, RSA-SHA256 or, with
``requestSignatureAlgorithm``, RSA-SHA512) made with the connector's active signing key
(``services/sso_signing_keys.py``), which the caller sets as :attr:`SamlProvider.request_key`.
Without it such a connector refuses to start a sign-in rather than send an unsigned request.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import secrets
import zlib
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from portico.cache import TTLCache
from portico.connectors.errors import ConnectorError
from portico.connectors.http import ProviderUrl, fetch, https_or_loopback
from portico.sso import saml_metadata, saml_response
from portico.sso.base import Authorization, Identity, Provider, ProviderType, SsoError, SsoErrorCode
from portico.sso.logos import AZURE, SAML
from portico.sso.saml_metadata import IdpMetadata, MetadataError
from portico.sso.saml_response import Assertion, Expected, Refused

METADATA_TTL = 300.0
# The request signature algorithms Logto offers (XML-DSig names; SHA-1 left out on purpose).
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
_DIGESTS = {RSA_SHA256: hashes.SHA256, RSA_SHA512: hashes.SHA512}
DEFAULT_ATTRIBUTE_MAPPING = {"id": "nameID", "email": "email", "name": "name"}
SSO_PATH = "single-sign-on"  # Logto's ``ssoPath``

_metadata: TTLCache[str, str] = TTLCache(METADATA_TTL, max_entries=256)


def entity_id(endpoint: str, connector_id: str) -> str:
    return f"{endpoint.rstrip('/')}/enterprise-sso/{connector_id}"


def acs_url(endpoint: str, connector_id: str) -> str:
    return f"{endpoint.rstrip('/')}/api/authn/{SSO_PATH}/saml/{connector_id}"


class AttributeMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(default=None, min_length=1, max_length=256)
    email: str | None = Field(default=None, min_length=1, max_length=256)
    name: str | None = Field(default=None, min_length=1, max_length=256)


class SamlConfig(BaseModel):
    """Logto's union of three forms, as one model: exactly one form must be given."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    metadataUrl: ProviderUrl | None = Field(default=None, max_length=2048)
    metadata: str | None = Field(default=None, min_length=1, max_length=256 * 1024)
    entityId: str | None = Field(default=None, min_length=1, max_length=1024)
    signInEndpoint: ProviderUrl | None = Field(default=None, max_length=2048)
    x509Certificate: str | None = Field(default=None, min_length=1, max_length=16 * 1024)
    attributeMapping: AttributeMapping | None = None
    signAuthnRequest: bool | None = None
    requestSignatureAlgorithm: Literal[RSA_SHA256, RSA_SHA512] | None = None

    @model_validator(mode="after")
    def one_form(self) -> SamlConfig:
        manual = (self.entityId, self.signInEndpoint, self.x509Certificate)
        if not (self.metadataUrl or self.metadata or all(manual)):
            raise ValueError(
                "give metadataUrl, metadata, or entityId, signInEndpoint and x509Certificate"
            )
        return self

    def mapping(self) -> dict[str, str]:
        given = self.attributeMapping.model_dump(exclude_none=True) if self.attributeMapping else {}
        return {**DEFAULT_ATTRIBUTE_MAPPING, **given}


class SamlProvider(Provider[Any]):
    provider_name: ClassVar[str] = "SAML"
    provider_type: ClassVar[ProviderType] = ProviderType.SAML
    config_model: ClassVar[type[BaseModel]] = SamlConfig
    name: ClassVar[dict[str, str]] = {"en": "SAML"}
    description: ClassVar[dict[str, str]] = {
        "en": "XML-based open standard for web single sign-on and identity federation.",
        "es": "Estándar abierto basado en XML para el inicio de sesión único y la federación.",
    }
    logo: ClassVar[str] = SAML
    logo_dark: ClassVar[str] = SAML
    # The connector's active signing key (PEM), set by the sign-in when the config asks for
    # signed requests (``services/sso_signing_keys.credential``).
    request_key: str | None = None

    # Portico's side ---------------------------------------------------------------------------
    @property
    def entity_id(self) -> str:
        return entity_id(self.endpoint, self.connector_id)

    @property
    def acs_url(self) -> str:
        return acs_url(self.endpoint, self.connector_id)

    @classmethod
    def service_provider_config(cls, connector_id: str, endpoint: str) -> dict[str, Any]:
        """What the IdP's admin needs before the connector has a working config."""
        return {
            "defaultAttributeMapping": dict(DEFAULT_ATTRIBUTE_MAPPING),
            "serviceProvider": {
                "entityId": entity_id(endpoint, connector_id),
                "assertionConsumerServiceUrl": acs_url(endpoint, connector_id),
            },
        }

    # The IdP ----------------------------------------------------------------------------------
    async def idp(self) -> IdpMetadata:
        """The IdP's metadata, from whichever form the config has; ``connector.invalid_config``
        when it cannot be fetched, ``connector.invalid_metadata`` when it cannot be used."""
        config: SamlConfig = self.config
        try:
            if config.metadataUrl:
                return saml_metadata.parse(await _fetch_metadata(config.metadataUrl))
            if config.metadata:
                return saml_metadata.parse(config.metadata)
            assert config.entityId and config.signInEndpoint and config.x509Certificate
            return saml_metadata.from_fields(
                config.entityId, config.signInEndpoint, config.x509Certificate
            )
        except MetadataError as error:
            if config.metadataUrl:
                _metadata.invalidate(config.metadataUrl)
            raise SsoError(
                SsoErrorCode.INVALID_METADATA, str(error), reason="bad_metadata"
            ) from None

    async def issuer(self) -> str:
        return (await self.idp()).entity_id

    async def provider_config(self) -> dict[str, Any]:
        """Logto's ``SamlMetadata``: the default mapping, Portico's SP side, the IdP's."""
        idp = await self.idp()
        try:
            https_or_loopback(idp.sign_in_endpoint)
        except ValueError as error:
            raise SsoError(
                SsoErrorCode.INVALID_METADATA,
                f"The IdP's sign-in endpoint {error}.",
                reason="bad_metadata",
            ) from None
        return {
            **self.service_provider_config(self.connector_id, self.endpoint),
            "identityProvider": idp.to_json(),
        }

    # Authentication request (Profiles §4.1.4.1, Bindings §3.4) ---------------------------------
    async def authorization(self, *, state: str, redirect_uri: str) -> Authorization:
        idp = (await self.provider_config())["identityProvider"]
        request_id = "_" + secrets.token_hex(20)
        relay_state = secrets.token_urlsafe(32)  # at most 80 bytes (Bindings §3.4.3)
        instant = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        xml = (
            '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="{request_id}" Version="2.0" IssueInstant="{instant}" '
            f"Destination={quoteattr(idp['signInEndpoint'])} "
            f"AssertionConsumerServiceURL={quoteattr(self.acs_url)} "
            f'ProtocolBinding="{saml_metadata.POST}">'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            '<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>'
        )
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = deflater.compress(xml.encode()) + deflater.flush()
        query = self._signed(
            urlencode({"SAMLRequest": base64.b64encode(packed).decode(), "RelayState": relay_state})
        )
        url = str(idp["signInEndpoint"])
        session = {"requestId": request_id, "relayState": relay_state, "redirectUri": redirect_uri}
        return Authorization(f"{url}{'&' if '?' in url else '?'}{query}", session)

    def _signed(self, query: str) -> str:
        """``query`` with ``SigAlg`` and ``Signature`` when the config asks for signed
        requests (the signature covers the query exactly as sent, SigAlg included); refused
        without a usable key, never sent unsigned."""
        config: SamlConfig = self.config
        if not config.signAuthnRequest:
            return query
        if not self.request_key:
            raise SsoError(
                SsoErrorCode.INVALID_CONFIG,
                "Signed authentication requests are on, but the connector has no active key.",
                reason="sp_signing_key_missing",
            )
        algorithm = config.requestSignatureAlgorithm or RSA_SHA256
        signed = f"{query}&{urlencode({'SigAlg': algorithm})}"
        key = serialization.load_pem_private_key(self.request_key.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SsoError(
                SsoErrorCode.INVALID_CONFIG, "The signing key is not an RSA key.",
                reason="sp_signing_key_missing",
            )  # fmt: skip
        signature = key.sign(signed.encode(), padding.PKCS1v15(), _DIGESTS[algorithm]())
        return f"{signed}&{urlencode({'Signature': base64.b64encode(signature).decode()})}"

    # Assertion consumer service ---------------------------------------------------------------
    async def consume(self, posted: str, *, solicited: bool) -> Assertion:
        """The checked assertion of a posted ``SAMLResponse``: an answer to a request (whose
        ID the caller compares with the interaction's) or, not ``solicited``, an
        IdP-initiated one; ``connector.authorization_failed`` with the refusing check's
        reason."""
        expected = Expected(await self.idp(), self.entity_id, self.acs_url, solicited)
        try:
            return await asyncio.to_thread(saml_response.check, posted, expected)
        except Refused as refused:
            raise SsoError(
                SsoErrorCode.AUTHORIZATION_FAILED, refused.message, reason=refused.reason
            ) from None

    async def verify(self, data: dict[str, Any], session: dict[str, Any]) -> Identity:
        """The identity of the assertion the ACS checked and the interaction kept (never of
        anything the browser sends)."""
        kept = session.get("assertion")
        if not isinstance(kept, dict):
            raise SsoError(
                SsoErrorCode.INVALID_REQUEST_PARAMETERS,
                "No checked SAML assertion is kept for this sign-in.",
                reason="no_assertion",
            )
        return self.identity(Assertion.from_json(kept))

    def identity(self, assertion: Assertion) -> Identity:
        """Logto's attribute mapping: ``nameID`` and each attribute (one value: a string),
        renamed by the mapping; the IdP vouches for the email (an organization's IdP)."""
        raw: dict[str, Any] = {"nameID": assertion.name_id}
        for key, values in assertion.attributes.items():
            raw[key] = values[0] if len(values) == 1 else values
        mapping = self.config.mapping()
        found = {target: _first(raw.get(source)) for target, source in mapping.items()}
        subject = found.get("id")
        if not subject:
            raise SsoError(
                SsoErrorCode.AUTHORIZATION_FAILED,
                f"The assertion has no {mapping['id']!r} for the user's id.",
                reason="no_subject",
            )
        email = found.get("email")
        return Identity(
            issuer=assertion.issuer,
            id=subject[:128],
            email=email if email and "@" in email else None,
            email_verified=bool(email and "@" in email),
            name=found.get("name"),
            raw=raw,
        )


class AzureAdSamlProvider(SamlProvider):
    """Microsoft Entra ID over SAML: the same protocol, Microsoft's name and logo."""

    provider_name: ClassVar[str] = "AzureAD"
    name: ClassVar[dict[str, str]] = {"en": "Microsoft Entra ID (SAML)"}
    description: ClassVar[dict[str, str]] = {
        "en": "Formerly Azure AD, a comprehensive cloud-based identity management service.",
        "es": "Antes Azure AD, un completo servicio de gestión de identidades en la nube.",
    }
    logo: ClassVar[str] = AZURE
    logo_dark: ClassVar[str] = AZURE


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value[:2048] if isinstance(value, str) and value.strip() else None


async def _fetch_metadata(url: str) -> str:
    async def load(target: str) -> str | None:
        status, body = await fetch("GET", target, what="IdP metadata URL")
        if status != 200:
            return None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return None

    try:
        found = await _metadata.get(url, load)
    except ConnectorError as error:
        raise SsoError(
            SsoErrorCode.INVALID_CONFIG,
            f"Cannot fetch the IdP metadata: {error.admin_message}",
            reason=error.reason,
        ) from None
    if found is None:
        raise SsoError(
            SsoErrorCode.INVALID_CONFIG,
            f"The IdP metadata at {url[:200]} is missing.",
            reason="bad_metadata",
        )
    return found
