"""Kakao login (Logto's ``kakao-universal``): Kakao's OAuth 2.0 REST API.

Kakao asks for no ``scope`` by default: the consent items (nickname, profile image, email) are
chosen in Kakao's developer console. The user is read with ``POST /v2/user/me``; the email is
taken only when Kakao says it is valid and verified, because Portico may link accounts by it.
The two base URLs are configuration so that tests (or a proxy) can stand in for Kakao.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from portico.connectors.kit import CONFIDENTIAL, SocialConnector, SocialUserInfo
from portico.connectors.social import SocialErrorCode, exchange_code, fetch_json, social_error
from portico.connectors.social.oauth import ProviderUrl
from portico.connectors.types import ConnectorMetadata, ConnectorPlatform, ConnectorType

README = """Sign in with Kakao.

1. At https://developers.kakao.com create an application; its REST API key is the clientId.
2. Product settings > Kakao Login: turn it on and register the Redirect URI shown by Portico:
   <your Portico endpoint>/callback/<connector id>.
3. Consent items: nickname, profile image and (if you want accounts linked by email) the
   account email.
4. Security: if you create a Client Secret and turn it on, paste it as clientSecret.
"""


class KakaoConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    clientId: str = Field(min_length=1, max_length=256, description="REST API key")
    clientSecret: str | None = Field(default=None, max_length=256, json_schema_extra=CONFIDENTIAL)
    scope: str | None = Field(
        default=None,
        max_length=1024,
        description="Consent items to ask for, space separated (default: none; Kakao uses "
        "the items set in its console)",
    )
    authorizationServer: ProviderUrl = Field(
        default="https://kauth.kakao.com", description="Kakao's authorization server"
    )
    apiServer: ProviderUrl = Field(default="https://kapi.kakao.com", description="Kakao's API")


class KakaoConnector(SocialConnector[KakaoConfig]):
    type = ConnectorType.Social
    config_model = KakaoConfig
    metadata = ConnectorMetadata(
        id="kakao-universal",
        target="kakao",
        platform=ConnectorPlatform.Universal,
        name={"en": "Kakao", "ko": "카카오", "es": "Kakao"},
        description={
            "en": "Sign in with a Kakao account.",
            "ko": "카카오 계정으로 로그인합니다.",
            "es": "Inicia sesión con una cuenta de Kakao.",
        },
        logo="/static/connectors/kakao.svg",
        readme=README,
        configTemplate='{\n  "clientId": "<REST API key>",\n  "clientSecret": "<optional>"\n}',
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
            "client_id": self.config.clientId,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state,
        }
        if scope or self.config.scope:
            query["scope"] = scope or self.config.scope or ""
        session["redirectUri"] = redirect_uri
        return f"{self.config.authorizationServer.rstrip('/')}/oauth/authorize?{urlencode(query)}"

    async def user_info(self, data: dict[str, Any], session: dict[str, Any]) -> SocialUserInfo:
        token = await exchange_code(
            f"{self.config.authorizationServer.rstrip('/')}/oauth/token",
            code=str(data.get("code") or ""),
            redirect_uri=str(data.get("redirectUri") or session.get("redirectUri") or ""),
            client_id=self.config.clientId,
            client_secret=self.config.clientSecret,
            what="Kakao token endpoint",
        )
        status, body = await fetch_json(
            "POST",
            f"{self.config.apiServer.rstrip('/')}/v2/user/me",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            what="Kakao user API",
        )
        if status == 401:
            raise social_error(
                SocialErrorCode.AccessTokenInvalid,
                "Kakao refused the access token (HTTP 401).",
                reason="token_refused",
            )
        if status >= 500:
            raise social_error(
                SocialErrorCode.Unavailable,
                f"Kakao's user API is failing (HTTP {status}).",
                reason="provider_error",
            )
        if status != 200 or not isinstance(body, dict):
            raise social_error(
                SocialErrorCode.InvalidResponse,
                f"Kakao's user API answered HTTP {status}.",
                reason="bad_user_response",
            )
        return kakao_user(body)


def kakao_user(body: dict[str, Any]) -> SocialUserInfo:
    """Kakao's ``/v2/user/me`` document as a social user (Logto's mapping)."""
    user_id = body.get("id")
    if isinstance(user_id, bool) or not isinstance(user_id, int | str) or str(user_id) == "":
        raise social_error(
            SocialErrorCode.InvalidResponse,
            "Kakao's user document has no id.",
            reason="bad_user_response",
        )
    account = _dict(body.get("kakao_account"))
    profile = _dict(account.get("profile"))
    email = account.get("email")
    trusted = account.get("is_email_valid") is True and account.get("is_email_verified") is True
    avatar = profile.get("profile_image_url")
    return SocialUserInfo(
        id=str(user_id),
        name=_text(profile.get("nickname")),
        avatar=None if profile.get("is_default_image") is True else _text(avatar),
        email=_text(email) if trusted else None,
        rawData=body,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
