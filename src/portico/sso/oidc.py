"""Enterprise SSO over OpenID Connect (Logto's ``OIDC``, ``AzureAdOidc``, ``GoogleWorkspace``
and ``Okta`` providers): discovery from the issuer, the authorization code flow with
``state``, ``nonce`` and PKCE (RFC 7636), the code exchanged with HTTP Basic client
authentication (RFC 6749 §2.3.1, as Logto sends it), and the ID token accepted only after
its signature (a key of the provider's JWKS, an asymmetric ``alg``), ``iss``, ``aud``/``azp``,
``exp``, ``iat`` and ``nonce`` check out (OIDC Core §3.1.3.7). The userinfo endpoint, when
the provider has one, completes the claims (its ``sub`` must be the token's, §5.3.2).

Every request goes through the outgoing-request guard (``connectors/http``): an issuer or an
endpoint on an internal address is refused unless ``PORTICO_ALLOW_PRIVATE_TARGETS`` allows it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any, ClassVar
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field

from portico.cache import TTLCache
from portico.connectors.errors import ConnectorError
from portico.connectors.http import ProviderUrl, fetch_json, https_or_loopback
from portico.connectors.kit import CONFIDENTIAL
from portico.connectors.social import exchange_code
from portico.sso.base import (
    Authorization,
    Identity,
    Provider,
    ProviderType,
    SsoError,
    SsoErrorCode,
)
from portico.sso.logos import AZURE, GOOGLE, OIDC, OKTA

METADATA_TTL = 300.0
CLOCK_SKEW = 60
IAT_TOLERANCE = 600  # Logto refuses an ID token issued more than 10 minutes away from now
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
REQUIRED_SCOPES = ("openid", "profile", "email")
GOOGLE_ISSUER = "https://accounts.google.com"

_documents: TTLCache[str, dict[str, Any]] = TTLCache(METADATA_TTL, max_entries=256)


def with_required_scopes(scope: str | None) -> str:
    """Logto's rule: ``openid profile email`` always, then the admin's extra scopes."""
    extra = (scope or "").replace("+", " ").split()
    return " ".join(dict.fromkeys([*REQUIRED_SCOPES, *extra]))


class OidcConfig(BaseModel):
    """Logto's ``basicOidcConnectorConfigGuard``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    clientId: str = Field(min_length=1, max_length=512)
    clientSecret: str = Field(min_length=1, max_length=1024, json_schema_extra=CONFIDENTIAL)
    issuer: ProviderUrl = Field(max_length=1024)
    scope: str | None = Field(default=None, max_length=1024)
    trustUnverifiedEmail: bool = False


class GoogleWorkspaceConfig(BaseModel):
    """Google's issuer is fixed; ``offlineAccess`` asks for a refresh token."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    clientId: str = Field(min_length=1, max_length=512)
    clientSecret: str = Field(min_length=1, max_length=1024, json_schema_extra=CONFIDENTIAL)
    scope: str | None = Field(default=None, max_length=1024)
    trustUnverifiedEmail: bool = False
    offlineAccess: bool | None = None


class OidcProvider(Provider[Any]):
    provider_name: ClassVar[str] = "OIDC"
    provider_type: ClassVar[ProviderType] = ProviderType.OIDC
    config_model: ClassVar[type[BaseModel]] = OidcConfig
    name: ClassVar[dict[str, str]] = {"en": "OIDC"}
    description: ClassVar[dict[str, str]] = {
        "en": "Any OpenID Connect identity provider, found from its issuer.",
        "es": "Cualquier proveedor de identidad OpenID Connect, a partir de su emisor.",
    }
    logo: ClassVar[str] = OIDC
    logo_dark: ClassVar[str] = OIDC

    # Configuration -------------------------------------------------------------------------
    @property
    def configured_issuer(self) -> str:
        return str(self.config.issuer).rstrip("/")

    async def issuer(self) -> str:
        return self.configured_issuer

    async def discovery(self) -> dict[str, str]:
        """The provider's metadata (OIDC Discovery §4): the endpoints this flow needs, each
        an https URL (http on loopback); the document must name the configured issuer
        (§4.3) unless it holds Azure's ``{tenantid}`` placeholder."""
        url = f"{self.configured_issuer}/.well-known/openid-configuration"
        document = await _load(url, "discovery document")
        found = {
            key: document.get(key)
            for key in (
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "jwks_uri",
                "userinfo_endpoint",
            )
        }
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found[key], str) or not found[key]:
                _documents.invalidate(url)
                raise _invalid_config(f"The discovery document has no {key}.", "bad_discovery")
        issuer = str(found["issuer"]).rstrip("/")
        if issuer != self.configured_issuer and "{tenantid}" not in issuer:
            _documents.invalidate(url)
            raise _invalid_config(
                f"The discovery document names another issuer ({issuer[:200]}).", "bad_discovery"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            if found[key] is not None:
                try:
                    https_or_loopback(str(found[key]))
                except ValueError as error:
                    raise _invalid_config(
                        f"The provider's {key} {error}.", "bad_discovery"
                    ) from None
        return {key: str(value) for key, value in found.items() if isinstance(value, str)}

    async def provider_config(self) -> dict[str, Any]:
        """Logto's ``providerConfig``: the discovered endpoints (camelCase) and the scope
        asked for; never the client secret."""
        found = await self.discovery()
        names = {
            "authorization_endpoint": "authorizationEndpoint",
            "token_endpoint": "tokenEndpoint",
            "jwks_uri": "jwksUri",
            "userinfo_endpoint": "userinfoEndpoint",
        }
        return {
            "clientId": self.config.clientId,
            "issuer": found["issuer"],
            **{names[k]: v for k, v in found.items() if k in names},
            "scope": with_required_scopes(self.config.scope),
            "trustUnverifiedEmail": self.config.trustUnverifiedEmail,
        }

    # Authorization request (OIDC Core §3.1.2.1) ---------------------------------------------
    def extra_parameters(self) -> dict[str, str]:
        return {}

    async def authorization(self, *, state: str, redirect_uri: str) -> Authorization:
        endpoints = await self.discovery()
        nonce = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code",
            "client_id": self.config.clientId,
            "redirect_uri": redirect_uri,
            "scope": with_required_scopes(self.config.scope),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
            **self.extra_parameters(),
        }
        url = endpoints["authorization_endpoint"]
        session = {"nonce": nonce, "codeVerifier": verifier, "redirectUri": redirect_uri}
        return Authorization(f"{url}{'&' if '?' in url else '?'}{urlencode(query)}", session)

    # Callback -------------------------------------------------------------------------------
    async def verify(self, data: dict[str, Any], session: dict[str, Any]) -> Identity:
        if data.get("error"):
            raise SsoError(
                SsoErrorCode.AUTHORIZATION_FAILED,
                f"The provider answered error={str(data['error'])[:64]!r}.",
                reason="provider_error",
            )
        code = data.get("code")
        if not isinstance(code, str) or not code:
            raise SsoError(
                SsoErrorCode.INVALID_REQUEST_PARAMETERS,
                "The callback carries no code.",
                reason="no_code",
            )
        endpoints = await self.discovery()
        try:
            token = await exchange_code(
                endpoints["token_endpoint"],
                code=code,
                redirect_uri=str(session.get("redirectUri") or ""),
                client_id=self.config.clientId,
                client_secret=self.config.clientSecret,
                auth_method="client_secret_basic",
                code_verifier=session.get("codeVerifier"),
            )
        except ConnectorError as error:
            raise SsoError(
                SsoErrorCode.AUTHORIZATION_FAILED, error.admin_message, reason=error.reason
            ) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise _refused("The token response carries no id_token.", "no_id_token")
        claims = await self.id_token_claims(id_token, endpoints, str(session.get("nonce") or ""))
        if endpoints.get("userinfo_endpoint"):
            claims = {**claims, **await self.userinfo(endpoints, token, claims["sub"])}
        return self.identity(claims)

    async def id_token_claims(
        self, id_token: str, endpoints: dict[str, str], nonce: str
    ) -> dict[str, Any]:
        """OIDC Core §3.1.3.7, one check at a time."""
        try:
            decoded = jwt.decode(
                id_token, await _keys(endpoints["jwks_uri"]), algorithms=ALGORITHMS
            )
        except (JoseError, ValueError):
            try:  # the provider may have rotated its keys since they were cached
                keys = await _keys(endpoints["jwks_uri"], refresh=True)
                decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except (JoseError, ValueError):
                raise _refused(
                    "The ID token's signature does not verify.", "bad_signature"
                ) from None
        claims = dict(decoded.claims)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        now = time.time()
        if claims.get("iss") != self.expected_issuer(endpoints["issuer"], claims):
            raise _refused("The ID token comes from another issuer.", "wrong_issuer")
        if self.config.clientId not in audiences or (
            len(audiences) > 1 and claims.get("azp") != self.config.clientId
        ):
            raise _refused("The ID token is meant for another client.", "wrong_audience")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] + CLOCK_SKEW < now:
            raise _refused("The ID token has expired.", "expired")
        if (
            not isinstance(claims.get("iat"), int | float)
            or abs(claims["iat"] - now) > IAT_TOLERANCE
        ):
            raise _refused("The ID token's iat is too far from now.", "bad_iat")
        if not nonce or claims.get("nonce") != nonce:
            raise _refused("The ID token's nonce is not this sign-in's.", "wrong_nonce")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise _refused("The ID token has no subject.", "no_subject")
        return claims

    def expected_issuer(self, discovered: str, claims: dict[str, Any]) -> str:
        return discovered

    async def userinfo(
        self, endpoints: dict[str, str], token: dict[str, Any], sub: str
    ) -> dict[str, Any]:
        try:
            status, body = await fetch_json(
                "GET",
                endpoints["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {token['access_token']}"},
                what="provider's userinfo endpoint",
            )
        except ConnectorError as error:
            raise SsoError(
                SsoErrorCode.AUTHORIZATION_FAILED, error.admin_message, reason=error.reason
            ) from None
        if status != 200 or not isinstance(body, dict):
            raise _refused(f"The userinfo endpoint answered HTTP {status}.", "bad_userinfo")
        if body.get("sub") != sub:
            raise _refused("The userinfo response is about another subject.", "wrong_subject")
        return body

    def identity(self, claims: dict[str, Any]) -> Identity:
        """Logto's rule for the email: verified when the provider says so, or when it says
        nothing and the connector trusts unverified emails; never when it says false."""
        said = claims.get("email_verified")
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        verified = said is True or (said is None and self.config.trustUnverifiedEmail)
        return Identity(
            issuer=self.configured_issuer,
            id=str(claims["sub"])[:128],
            email=email,
            email_verified=bool(email) and verified,
            name=_text(claims.get("name")) or _text(claims.get("preferred_username")),
            avatar=_text(claims.get("picture")),
            raw={k: v for k, v in claims.items() if k not in ("nonce", "at_hash", "c_hash")},
        )


class AzureOidcProvider(OidcProvider):
    """Microsoft Entra ID: a multi-tenant issuer carries ``{tenantid}``, replaced by the
    token's ``tid``."""

    provider_name: ClassVar[str] = "AzureAdOidc"
    name: ClassVar[dict[str, str]] = {"en": "Microsoft Entra ID (OIDC)"}
    description: ClassVar[dict[str, str]] = {
        "en": "Microsoft Entra ID (formerly Azure AD) over OpenID Connect.",
        "es": "Microsoft Entra ID (antes Azure AD) con OpenID Connect.",
    }
    logo: ClassVar[str] = AZURE
    logo_dark: ClassVar[str] = AZURE

    def expected_issuer(self, discovered: str, claims: dict[str, Any]) -> str:
        tid = claims.get("tid")
        if "{tenantid}" in discovered and isinstance(tid, str):
            return discovered.replace("{tenantid}", tid)
        return discovered


class GoogleWorkspaceProvider(OidcProvider):
    """Google's issuer, an account chooser every time, a refresh token when asked."""

    provider_name: ClassVar[str] = "GoogleWorkspace"
    config_model: ClassVar[type[BaseModel]] = GoogleWorkspaceConfig
    name: ClassVar[dict[str, str]] = {"en": "Google Workspace"}
    description: ClassVar[dict[str, str]] = {
        "en": "Your organization's Google Workspace accounts.",
        "es": "Las cuentas de Google Workspace de su organización.",
    }
    logo: ClassVar[str] = GOOGLE
    logo_dark: ClassVar[str] = GOOGLE

    @property
    def configured_issuer(self) -> str:
        return GOOGLE_ISSUER

    def extra_parameters(self) -> dict[str, str]:
        offline = bool(self.config.offlineAccess)
        extra = {
            "prompt": "consent select_account" if offline else "select_account",
            "include_granted_scopes": "true",
        }
        return {**extra, "access_type": "offline"} if offline else extra


class OktaProvider(OidcProvider):
    provider_name: ClassVar[str] = "Okta"
    name: ClassVar[dict[str, str]] = {"en": "Okta"}
    description: ClassVar[dict[str, str]] = {
        "en": "Okta Workforce Identity over OpenID Connect.",
        "es": "Okta Workforce Identity con OpenID Connect.",
    }
    logo: ClassVar[str] = OKTA
    logo_dark: ClassVar[str] = OKTA


def _text(value: Any) -> str | None:
    return value[:2048] if isinstance(value, str) and value.strip() else None


def _invalid_config(message: str, reason: str) -> SsoError:
    return SsoError(SsoErrorCode.INVALID_CONFIG, message, reason=reason)


def _refused(message: str, reason: str) -> SsoError:
    return SsoError(SsoErrorCode.AUTHORIZATION_FAILED, message, reason=reason)


async def _load(url: str, what: str) -> dict[str, Any]:
    """A provider's JSON document (cached a few minutes); ``connector.invalid_config`` when
    it cannot be had (unreachable, refused by the guard, not JSON, not an object)."""

    async def fetch(target: str) -> dict[str, Any] | None:
        status, body = await fetch_json("GET", target, what=f"provider's {what}")
        return body if status == 200 and isinstance(body, dict) else None

    try:
        document = await _documents.get(url, fetch)
    except ConnectorError as error:
        raise _invalid_config(
            f"Cannot fetch the {what}: {error.admin_message}", error.reason
        ) from None
    if document is None:
        raise _invalid_config(f"The {what} at {url[:200]} is missing or not JSON.", "bad_discovery")
    return document


async def _keys(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    if refresh:
        _documents.invalidate(jwks_uri)
    document = await _load(jwks_uri, "JWKS")
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        _documents.invalidate(jwks_uri)
        raise _invalid_config("The provider's JWKS is not a key set.", "bad_jwks") from None
