"""Any OAuth 2.0 provider (Logto's generic ``oauth2`` connector): the admin gives the three
endpoints, the scope and where the user's fields are in the user-info document.

OAuth 2.0 says nothing about whether an email is verified, and Portico may link accounts by a
verified email: the email is used only when ``profileMap.emailVerified`` points at a true
value, or when the admin states that the provider only returns verified emails
(``trustEmail``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from portico.connectors.kit import CONFIDENTIAL, SocialConnector, SocialUserInfo
from portico.connectors.social import (
    SocialErrorCode,
    exchange_code,
    fetch_json,
    pkce_pair,
    social_error,
)
from portico.connectors.social.oauth import ProviderUrl, TokenAuthMethod
from portico.connectors.social.profile import pick, text
from portico.connectors.types import ConnectorMetadata, ConnectorPlatform, ConnectorType


class ProfileMap(BaseModel):
    """Dotted paths into the user-info document."""

    model_config = ConfigDict(extra="forbid")

    id: str = "id"
    email: str | None = "email"
    emailVerified: str | None = None
    phone: str | None = "phone"
    name: str | None = "name"
    avatar: str | None = "avatar"


class OAuth2Config(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    authorizationEndpoint: ProviderUrl
    tokenEndpoint: ProviderUrl
    userInfoEndpoint: ProviderUrl
    clientId: str = Field(min_length=1, max_length=512)
    clientSecret: str | None = Field(default=None, max_length=1024, json_schema_extra=CONFIDENTIAL)
    tokenEndpointAuthMethod: TokenAuthMethod = "client_secret_post"
    scope: str | None = Field(default=None, max_length=1024)
    profileMap: ProfileMap = Field(default_factory=ProfileMap)
    customConfig: dict[str, str] = Field(
        default_factory=dict, description="Extra query parameters for the authorization request"
    )
    usePkce: bool = Field(default=True, description="Send a PKCE S256 challenge (RFC 7636)")
    trustEmail: bool = Field(
        default=False, description="The provider only ever returns verified email addresses"
    )


class OAuth2Connector(SocialConnector[OAuth2Config]):
    type = ConnectorType.Social
    config_model = OAuth2Config
    metadata = ConnectorMetadata(
        id="oauth2",
        target="oauth2",
        platform=ConnectorPlatform.Universal,
        name={"en": "OAuth 2.0", "es": "OAuth 2.0"},
        description={
            "en": "Any OAuth 2.0 provider: endpoints, scope and a field map.",
            "es": "Cualquier proveedor OAuth 2.0: endpoints, scope y mapa de campos.",
        },
        logo="/static/connectors/oauth2.svg",
        isStandard=True,
        readme="Set the connector's target (metadata.target) to name the provider; it is the "
        "key of the identity in users.identities.",
    )

    async def authorization_uri(
        self,
        *,
        state: str,
        redirect_uri: str,
        connector_id: str,
        session: dict[str, Any],
        scope: str | None = None,
    ) -> str:
        query = {
            **self.config.customConfig,
            "response_type": "code",
            "client_id": self.config.clientId,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if scope or self.config.scope:
            query["scope"] = scope or self.config.scope or ""
        if self.config.usePkce:
            verifier, challenge = pkce_pair()
            session["codeVerifier"] = verifier
            query.update(code_challenge=challenge, code_challenge_method="S256")
        session["redirectUri"] = redirect_uri
        return _with_query(self.config.authorizationEndpoint, query)

    async def user_info(self, data: dict[str, Any], session: dict[str, Any]) -> SocialUserInfo:
        token = await exchange_code(
            self.config.tokenEndpoint,
            code=str(data.get("code") or ""),
            redirect_uri=str(session.get("redirectUri") or data.get("redirectUri") or ""),
            client_id=self.config.clientId,
            client_secret=self.config.clientSecret,
            auth_method=self.config.tokenEndpointAuthMethod,
            code_verifier=session.get("codeVerifier"),
        )
        document = await bearer_get(self.config.userInfoEndpoint, token["access_token"])
        return mapped_user(document, self.config.profileMap, trust_email=self.config.trustEmail)


async def bearer_get(
    url: str, access_token: str, what: str = "provider's user-info endpoint"
) -> Any:
    status, body = await fetch_json(
        "GET", url, headers={"Authorization": f"Bearer {access_token}"}, what=what
    )
    if status == 401:
        raise social_error(
            SocialErrorCode.AccessTokenInvalid,
            f"The {what} refused the access token (HTTP 401).",
            reason="token_refused",
        )
    if status >= 500:
        raise social_error(
            SocialErrorCode.Unavailable,
            f"The {what} is failing (HTTP {status}).",
            reason="provider_error",
        )
    if status != 200 or not isinstance(body, dict | list):
        raise social_error(
            SocialErrorCode.InvalidResponse,
            f"The {what} answered HTTP {status}.",
            reason="bad_user_response",
        )
    return body


def mapped_user(document: Any, fields: ProfileMap, *, trust_email: bool) -> SocialUserInfo:
    user_id = text(pick(document, fields.id))
    if not user_id:
        raise social_error(
            SocialErrorCode.InvalidResponse,
            f"The user-info document has no {fields.id!r}.",
            reason="bad_user_response",
        )
    verified = trust_email or pick(document, fields.emailVerified) is True
    return SocialUserInfo(
        id=user_id[:256],
        email=text(pick(document, fields.email)) if verified else None,
        phone=text(pick(document, fields.phone)),
        name=text(pick(document, fields.name)),
        avatar=text(pick(document, fields.avatar)),
        rawData=document if isinstance(document, dict) else {"data": document},
    )


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"
