"""The interface every enterprise SSO provider implements (Logto's ``SingleSignOn``
factories): what an OIDC or SAML provider must say about itself and do for a sign-in.

A provider is a small class:

- metadata: Logto's ``providerName`` (``OIDC``, ``SAML``, ``AzureAdOidc``...), its kind
  (:class:`ProviderType`), a display name, a description, logos;
- ``config_model``: a Pydantic model of the connector's ``config`` (validation, and the
  schema whose ``isConfidential`` fields are sealed at rest and masked in answers);
- behaviour, given the connector's parsed config: :meth:`Provider.provider_config` (what the
  provider publishes: OIDC discovery, SAML metadata), :meth:`Provider.issuer`,
  :meth:`Provider.authorization` (the URL the browser goes to, and what must be remembered
  for the callback) and :meth:`Provider.verify` (the callback's data into an
  :class:`Identity`).

Failures are :class:`SsoError` with Logto's connector codes; the caller decides how to show
them (an API answer, a page). Adding a provider: a subclass, and one line in
``portico.sso.BUILTIN``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from portico.connectors.secrets import Path, confidential_paths


class ProviderType(StrEnum):
    """Logto's ``SsoProviderType``."""

    OIDC = "oidc"
    SAML = "saml"


class SsoErrorCode(StrEnum):
    """Logto's connector error codes an SSO provider ends with (``connector.<code>``)."""

    INVALID_CONFIG = "connector.invalid_config"
    INVALID_METADATA = "connector.invalid_metadata"
    INVALID_REQUEST_PARAMETERS = "connector.invalid_request_parameters"
    INVALID_RESPONSE = "connector.invalid_response"
    AUTHORIZATION_FAILED = "connector.authorization_failed"
    GENERAL = "connector.general"


class SsoError(Exception):
    """A provider failure: Logto's ``code``, a message for the admin (never a secret), a
    machine-readable ``reason`` (``bad_discovery``, ``wrong_nonce``...) and optional
    ``data`` (a config's field errors)."""

    def __init__(
        self, code: SsoErrorCode, message: str, *, reason: str = "", data: Any = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.reason, self.data = code, message, reason, data


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: ``issuer`` (OIDC issuer, SAML entity ID) and ``id``
    (the subject there) identify them; ``email`` counts for linking only when
    ``email_verified``; ``raw`` is what the provider sent (kept as the identity's detail)."""

    issuer: str
    id: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    avatar: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Authorization:
    """Where the browser goes, and what the callback needs back (an OIDC nonce and PKCE
    verifier, a SAML request id): kept in the interaction, never shown to the browser."""

    url: str
    session: dict[str, Any]


C = TypeVar("C", bound=BaseModel)


class Provider(ABC, Generic[C]):
    """One connector's provider, built from its parsed config (see the module's docstring)."""

    provider_name: ClassVar[str]
    provider_type: ClassVar[ProviderType]
    config_model: ClassVar[type[BaseModel]]
    name: ClassVar[dict[str, str]]
    description: ClassVar[dict[str, str]]
    logo: ClassVar[str]
    logo_dark: ClassVar[str]

    def __init__(self, connector_id: str, config: C, endpoint: str) -> None:
        self.connector_id, self.config, self.endpoint = connector_id, config, endpoint

    @classmethod
    def parse_config(cls, raw: dict[str, Any]) -> C:
        """The config, or :class:`SsoError` ``connector.invalid_config`` naming each field."""
        try:
            return cls.config_model.model_validate(raw)  # type: ignore[return-value]
        except ValidationError as error:
            details = [
                {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in error.errors(include_url=False, include_input=False)
            ]
            raise SsoError(
                SsoErrorCode.INVALID_CONFIG,
                "The connector's config is invalid: "
                + "; ".join(f"{d['path'] or 'config'}: {d['message']}" for d in details[:5]),
                reason="invalid_config",
                data=details,
            ) from None

    @classmethod
    def confidential(cls) -> set[Path]:
        """The config paths sealed at rest and masked in answers (``isConfidential``)."""
        return confidential_paths(cls.config_model.model_json_schema())

    @classmethod
    def localized(cls, phrases: dict[str, str], locale: str) -> str:
        base = locale.split("-")[0]
        return phrases.get(locale) or phrases.get(base) or phrases["en"]

    @classmethod
    def service_provider_config(cls, connector_id: str, endpoint: str) -> dict[str, Any] | None:
        """What Portico's side of the connector is, known before its config works (a SAML
        SP's entity ID and ACS URL, which the IdP's admin needs first); None for OIDC."""
        return None

    @abstractmethod
    async def provider_config(self) -> dict[str, Any]:
        """What the provider publishes, as Logto's ``providerConfig`` shows it; fetching it
        also proves the config works (a connector is checked this way when saved)."""

    @abstractmethod
    async def issuer(self) -> str:
        """The identities' ``issuer`` (stored with each ``user_sso_identities`` row)."""

    @abstractmethod
    async def authorization(self, *, state: str, redirect_uri: str) -> Authorization:
        """The provider's sign-in URL for this ``state`` and callback ``redirect_uri``."""

    @abstractmethod
    async def verify(self, data: dict[str, Any], session: dict[str, Any]) -> Identity:
        """The callback's ``data`` (query or form), with what :meth:`authorization` asked to
        keep: the identity, once every check passed."""
