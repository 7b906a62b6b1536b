"""GitHub (Logto's ``github-universal``): OAuth 2.0 with GitHub's endpoints preset.

The email comes from ``GET /user/emails`` (the primary address, only if GitHub marks it
verified), not from the public profile, so account linking by email stays safe.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from portico.connectors.kit import CONFIDENTIAL, SocialConnector, SocialUserInfo
from portico.connectors.oauth2 import bearer_get
from portico.connectors.social import SocialErrorCode, exchange_code, pkce_pair, social_error
from portico.connectors.social.http import fetch_json
from portico.connectors.social.oauth import ProviderUrl
from portico.connectors.social.profile import text
from portico.connectors.types import ConnectorMetadata, ConnectorPlatform, ConnectorType


class GitHubConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    clientId: str = Field(min_length=1, max_length=256)
    clientSecret: str = Field(min_length=1, max_length=256, json_schema_extra=CONFIDENTIAL)
    scope: str = Field(default="read:user user:email", max_length=1024)
    webServer: ProviderUrl = Field(default="https://github.com")
    apiServer: ProviderUrl = Field(default="https://api.github.com")


class GitHubConnector(SocialConnector[GitHubConfig]):
    type = ConnectorType.Social
    config_model = GitHubConfig
    metadata = ConnectorMetadata(
        id="github-universal",
        target="github",
        platform=ConnectorPlatform.Universal,
        name={"en": "GitHub", "es": "GitHub"},
        description={
            "en": "Sign in with a GitHub account (OAuth App).",
            "es": "Inicia sesión con una cuenta de GitHub (OAuth App).",
        },
        logo="/static/connectors/github.svg",
        readme="Create an OAuth App at https://github.com/settings/developers; its "
        "Authorization callback URL is <your Portico endpoint>/callback/<connector id>.",
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
        verifier, challenge = pkce_pair()
        session.update(redirectUri=redirect_uri, codeVerifier=verifier)
        query = {
            "client_id": self.config.clientId,
            "redirect_uri": redirect_uri,
            "scope": scope or self.config.scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.config.webServer.rstrip('/')}/login/oauth/authorize?{urlencode(query)}"

    async def user_info(self, data: dict[str, Any], session: dict[str, Any]) -> SocialUserInfo:
        token = await exchange_code(
            f"{self.config.webServer.rstrip('/')}/login/oauth/access_token",
            code=str(data.get("code") or ""),
            redirect_uri=str(session.get("redirectUri") or ""),
            client_id=self.config.clientId,
            client_secret=self.config.clientSecret,
            code_verifier=session.get("codeVerifier"),
            what="GitHub token endpoint",
        )
        api = self.config.apiServer.rstrip("/")
        user = await bearer_get(f"{api}/user", token["access_token"], "GitHub user API")
        user_id = text(user.get("id")) if isinstance(user, dict) else None
        if not user_id:
            raise social_error(
                SocialErrorCode.InvalidResponse,
                "GitHub's user has no id.",
                reason="bad_user_response",
            )
        return SocialUserInfo(
            id=user_id,
            name=text(user.get("name")) or text(user.get("login")),
            avatar=text(user.get("avatar_url")),
            email=await _verified_primary_email(api, token["access_token"]),
            rawData=user,
        )


async def _verified_primary_email(api: str, access_token: str) -> str | None:
    """None when the token may not read emails (no ``user:email`` scope) or none is verified."""
    status, emails = await fetch_json(
        "GET",
        f"{api}/user/emails",
        headers={"Authorization": f"Bearer {access_token}"},
        what="GitHub emails API",
    )
    if status != 200 or not isinstance(emails, list):
        return None
    for entry in emails:
        if (
            isinstance(entry, dict)
            and entry.get("primary") is True
            and entry.get("verified") is True
        ):
            return text(entry.get("email"))
    return None
