"""Any OpenID Connect provider (Logto's generic ``oidc`` connector), found by discovery or
configured endpoint by endpoint. The user is read from the ID token, accepted only after its
signature (the provider's JWKS), ``iss``, ``aud``/``azp``, ``exp`` and ``nonce`` check out
(OIDC Core §3.1.3.7). Email and phone are taken only when the token marks them verified.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, model_validator

from portico.cache import TTLCache
from portico.connectors.kit import CONFIDENTIAL, SocialConnector, SocialUserInfo
from portico.connectors.social import (
    SocialErrorCode,
    exchange_code,
    fetch_json,
    pkce_pair,
    social_error,
)
from portico.connectors.social.oauth import ProviderUrl, TokenAuthMethod
from portico.connectors.social.profile import text
from portico.connectors.types import ConnectorMetadata, ConnectorPlatform, ConnectorType

METADATA_TTL = 600.0  # discovery documents and key sets change rarely; rotation is retried
CLOCK_SKEW = 60
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
OPTIONAL_PARAMS = {  # Logto's authRequestOptionalConfig keys -> authorization parameters
    "responseMode": "response_mode",
    "display": "display",
    "prompt": "prompt",
    "maxAge": "max_age",
    "uiLocales": "ui_locales",
    "loginHint": "login_hint",
    "acrValues": "acr_values",
}

_documents: TTLCache[str, dict[str, Any]] = TTLCache(METADATA_TTL, max_entries=256)


class IdTokenVerification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    jwksUri: ProviderUrl | None = None
    issuer: str | None = None


class OidcConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    issuer: ProviderUrl | None = Field(
        default=None, description="Found by discovery: <issuer>/.well-known/openid-configuration"
    )
    authorizationEndpoint: ProviderUrl | None = None
    tokenEndpoint: ProviderUrl | None = None
    idTokenVerificationConfig: IdTokenVerification = Field(default_factory=IdTokenVerification)
    clientId: str = Field(min_length=1, max_length=512)
    clientSecret: str | None = Field(default=None, max_length=1024, json_schema_extra=CONFIDENTIAL)
    tokenEndpointAuthMethod: TokenAuthMethod = "client_secret_post"
    scope: str = Field(default="openid profile email", max_length=1024)
    authRequestOptionalConfig: dict[str, str | int] = Field(default_factory=dict)
    customConfig: dict[str, str] = Field(default_factory=dict)
    usePkce: bool = True

    @model_validator(mode="after")
    def _complete(self) -> OidcConfig:
        if "openid" not in self.scope.split():
            raise ValueError("scope must include openid")
        explicit = self.authorizationEndpoint and self.tokenEndpoint
        if not self.issuer and not (explicit and self.idTokenVerificationConfig.jwksUri):
            raise ValueError(
                "give issuer (discovery), or authorizationEndpoint, tokenEndpoint and "
                "idTokenVerificationConfig.jwksUri"
            )
        return self


class OidcConnector(SocialConnector[OidcConfig]):
    type = ConnectorType.Social
    config_model = OidcConfig
    metadata = ConnectorMetadata(
        id="oidc",
        target="oidc",
        platform=ConnectorPlatform.Universal,
        name={"en": "OpenID Connect", "es": "OpenID Connect"},
        description={
            "en": "Any OpenID Connect provider, by discovery or by endpoints.",
            "es": "Cualquier proveedor OpenID Connect, por descubrimiento o por endpoints.",
        },
        logo="/static/connectors/oidc.svg",
        isStandard=True,
        readme="Give the provider's issuer (discovery) and the client's id and secret; set "
        "the connector's target (metadata.target) to name the provider.",
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
        endpoints = await self._endpoints()
        nonce = secrets.token_urlsafe(24)
        query: dict[str, str] = {
            **self.config.customConfig,
            **{
                OPTIONAL_PARAMS[k]: str(v)
                for k, v in self.config.authRequestOptionalConfig.items()
                if k in OPTIONAL_PARAMS
            },
            "response_type": "code",
            "client_id": self.config.clientId,
            "redirect_uri": redirect_uri,
            "scope": scope or self.config.scope,
            "state": state,
            "nonce": nonce,
        }
        session.update(redirectUri=redirect_uri, nonce=nonce)
        if self.config.usePkce:
            verifier, challenge = pkce_pair()
            session["codeVerifier"] = verifier
            query.update(code_challenge=challenge, code_challenge_method="S256")
        url = endpoints["authorization_endpoint"]
        return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"

    async def user_info(self, data: dict[str, Any], session: dict[str, Any]) -> SocialUserInfo:
        endpoints = await self._endpoints()
        token = await exchange_code(
            endpoints["token_endpoint"],
            code=str(data.get("code") or ""),
            redirect_uri=str(session.get("redirectUri") or data.get("redirectUri") or ""),
            client_id=self.config.clientId,
            client_secret=self.config.clientSecret,
            auth_method=self.config.tokenEndpointAuthMethod,
            code_verifier=session.get("codeVerifier"),
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise social_error(
                SocialErrorCode.IdTokenInvalid,
                "The token response carries no id_token.",
                reason="no_id_token",
            )
        claims = await self._verified_claims(id_token, endpoints, str(session.get("nonce") or ""))
        return SocialUserInfo(
            id=str(claims["sub"])[:256],
            name=text(claims.get("name")) or text(claims.get("preferred_username")),
            avatar=text(claims.get("picture")),
            email=text(claims.get("email")) if claims.get("email_verified") is True else None,
            phone=text(claims.get("phone_number"))
            if claims.get("phone_number_verified") is True
            else None,
            rawData=claims,
        )

    # -- provider metadata ------------------------------------------------------------------

    async def _endpoints(self) -> dict[str, str]:
        config = self.config
        found: dict[str, Any] = {}
        if config.issuer and not (
            config.authorizationEndpoint
            and config.tokenEndpoint
            and config.idTokenVerificationConfig.jwksUri
        ):
            found = await _discover(config.issuer)
        endpoints = {
            "issuer": config.idTokenVerificationConfig.issuer
            or config.issuer
            or found.get("issuer"),
            "authorization_endpoint": config.authorizationEndpoint
            or found.get("authorization_endpoint"),
            "token_endpoint": config.tokenEndpoint or found.get("token_endpoint"),
            "jwks_uri": config.idTokenVerificationConfig.jwksUri or found.get("jwks_uri"),
        }
        for key, value in endpoints.items():
            if not isinstance(value, str) or not value:
                raise social_error(
                    SocialErrorCode.InvalidResponse,
                    f"The provider's metadata has no {key}.",
                    reason="bad_discovery",
                )
        return endpoints  # type: ignore[return-value]

    async def _verified_claims(
        self, id_token: str, endpoints: dict[str, str], nonce: str
    ) -> dict[str, Any]:
        def invalid(why: str) -> Exception:
            return social_error(
                SocialErrorCode.IdTokenInvalid, f"The ID token was refused: {why}.", reason=why
            )

        try:
            decoded = jwt.decode(
                id_token, await _keys(endpoints["jwks_uri"]), algorithms=ALGORITHMS
            )
        except (JoseError, ValueError):
            try:  # the provider may have rotated its keys since they were cached
                keys = await _keys(endpoints["jwks_uri"], refresh=True)
                decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except (JoseError, ValueError):
                raise invalid("bad_signature") from None
        claims = decoded.claims
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        now = time.time()
        if claims.get("iss") != endpoints["issuer"]:
            raise invalid("wrong_issuer")
        if self.config.clientId not in audiences or (
            len(audiences) > 1 and claims.get("azp") != self.config.clientId
        ):
            raise invalid("wrong_audience")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] + CLOCK_SKEW < now:
            raise invalid("expired")
        if not nonce or claims.get("nonce") != nonce:
            raise invalid("wrong_nonce")
        if not text(claims.get("sub")):
            raise invalid("no_subject")
        return claims


async def _discover(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = await _documents.get(url, _load_json)
    if document is None or document.get("issuer") != issuer:  # OIDC Discovery §4.3
        _documents.invalidate(url)
        raise social_error(
            SocialErrorCode.InvalidResponse,
            "The provider's discovery document is missing or names another issuer.",
            reason="bad_discovery",
        )
    return document


async def _keys(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    if refresh:
        _documents.invalidate(jwks_uri)
    document = await _documents.get(jwks_uri, _load_json)
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        _documents.invalidate(jwks_uri)
        raise social_error(
            SocialErrorCode.InvalidResponse,
            "The provider's JWKS is not a key set.",
            reason="bad_jwks",
        ) from None


async def _load_json(url: str) -> dict[str, Any] | None:
    status, body = await fetch_json("GET", url, what="provider's metadata")
    return body if status == 200 and isinstance(body, dict) else None
