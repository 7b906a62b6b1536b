"""Google (Logto's ``google-universal``): OpenID Connect with Google's issuer preset."""

from __future__ import annotations

from pydantic import Field

from portico.connectors.oidc import OidcConfig, OidcConnector
from portico.connectors.social.oauth import ProviderUrl
from portico.connectors.types import ConnectorMetadata, ConnectorPlatform


class GoogleConfig(OidcConfig):
    issuer: ProviderUrl | None = Field(default="https://accounts.google.com")
    scope: str = Field(default="openid profile email", max_length=1024)


class GoogleConnector(OidcConnector):
    config_model = GoogleConfig
    metadata = ConnectorMetadata(
        id="google-universal",
        target="google",
        platform=ConnectorPlatform.Universal,
        name={"en": "Google", "es": "Google"},
        description={
            "en": "Sign in with a Google account.",
            "es": "Inicia sesión con una cuenta de Google.",
        },
        logo="/static/connectors/google.svg",
        readme="Create an OAuth client (Web application) in Google Cloud Console; add "
        "<your Portico endpoint>/callback/<connector id> as an authorised redirect URI.",
    )
