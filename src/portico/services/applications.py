"""Applications (OIDC clients): the types Logto has, their secrets, and redirect-URI rules.

Writes take the caller's connection so that one request is one transaction.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import digest, standard_id, standard_secret
from portico.net.outbound import is_loopback_host
from portico.services import keys
from portico.services.errors import NotFound, ServiceError
from portico.services.urls import check_public_url
from portico.storage import applications as repo
from portico.storage.database import now_ms

if TYPE_CHECKING:
    from portico.connectors.secrets import Sealer

DEFAULT_SECRET_NAME = "Default secret"


class AppType(StrEnum):
    NATIVE = "Native"
    SPA = "SPA"
    TRADITIONAL = "Traditional"
    M2M = "MachineToMachine"
    # Portico as a SAML identity provider (``services/saml_applications``): made and changed
    # only through ``/api/saml-applications``; internally its own OIDC client, whose one
    # redirect URI is Portico's SAML callback and whose codes only Portico redeems (no secret).
    SAML = "SAML"


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
PUBLIC_TYPES = {AppType.NATIVE, AppType.SPA}
SECRET_TYPES = {AppType.TRADITIONAL, AppType.M2M}


class InvalidApplication(ServiceError):
    """A value of the application is not acceptable; the message says which."""


def refuse_saml(app_type: AppType | str) -> None:
    """Logto's answer when the generic application API is used on a SAML application."""
    if app_type == AppType.SAML:
        raise InvalidApplication(
            "Use `[METHOD] /saml-applications(/.*)?` API to operate SAML app.",
            code="application.saml.use_saml_app_api",
            status=400,
        )


def grant_types_of(app_type: AppType) -> frozenset[str]:
    if app_type is AppType.M2M:
        return frozenset({"client_credentials"})
    if app_type is AppType.SAML:  # one sign-in per SAML request: no refresh tokens
        return frozenset({"authorization_code"})
    return frozenset({"authorization_code", "refresh_token"})


def validate_redirect_uri(uri: str, app_type: AppType) -> str:
    """Absolute, no fragment; plain http only for loopback hosts (RFC 9700 §2.6)."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri:
        raise InvalidApplication(f"redirect URI {uri!r} must be absolute and without a fragment")
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise InvalidApplication(f"redirect URI {uri!r} has no host")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise InvalidApplication(
                f"redirect URI {uri!r}: http is allowed for loopback hosts only"
            )
    elif app_type is not AppType.NATIVE:
        raise InvalidApplication(f"redirect URI {uri!r}: custom schemes are for Native apps only")
    return uri


@dataclass(frozen=True)
class ClientSecret:
    name: str
    value_digest: str
    expires_at: int | None
    sealed: dict[str, Any] | None = None  # client_secret_jwt applications' (``SecretSealer``)


@dataclass(frozen=True)
class Client:
    """An application as the OpenID provider sees it (cached; no I/O)."""

    id: str
    name: str
    type: AppType
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    cors_allowed_origins: tuple[str, ...]
    is_third_party: bool
    id_token_ttl: int
    refresh_token_ttl: int
    rotate_refresh_token: bool
    always_issue_refresh_token: bool
    secrets: tuple[ClientSecret, ...] = field(default=())
    logo_uri: str | None = None  # shown on the consent page (https only)
    # RFC 9126 §6: authorization requests only through the PAR endpoint.
    require_pushed_authorization_requests: bool = False
    # RFC 7523: the client authenticates with a JWT signed by one of its keys.
    token_endpoint_auth_method: str = "client_secret_basic"
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    # RFC 8693, Logto's ``customClientMetadata.allowTokenExchange``.
    allow_token_exchange: bool = False
    # RFC 8628, Logto's ``customClientMetadata.isDeviceFlow`` (Native applications only).
    is_device_flow: bool = False
    # OIDC Back-Channel Logout 1.0 §2.2 (Logto's names) and Front-Channel Logout 1.0 §2
    # (Portico's; Logto has none).
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    frontchannel_logout_uri: str | None = None
    frontchannel_logout_session_required: bool = False
    # RFC 7591 ``id_token_signed_response_alg`` (None: the tenant key's algorithm).
    id_token_signed_response_alg: str | None = None
    # RFC 9449 §5.2 ``dpop_bound_access_tokens``: every token request carries a DPoP proof.
    dpop_bound_access_tokens: bool = False
    # RFC 9101 §10.5: authorization requests only as a request object the client signed.
    require_signed_request_object: bool = False
    # Not registered: described by the document at its id, an https URL
    # (``services/client_metadata_documents``).
    metadata_document: bool = False
    # Logto's ``customClientMetadata.maxAllowedGrants`` (the console's "concurrent device
    # limit"): a user's grants to this application beyond it are revoked, oldest first.
    max_allowed_grants: int | None = None

    @property
    def is_public(self) -> bool:
        return self.type in PUBLIC_TYPES

    @property
    def grant_types(self) -> frozenset[str]:
        """A device-flow application signs in through the device grant only (no redirect)."""
        granted = frozenset({DEVICE_CODE, "refresh_token"}) if self.is_device_flow else (
            grant_types_of(self.type))  # fmt: skip
        return granted | {TOKEN_EXCHANGE} if self.allow_token_exchange else granted

    def accepts_redirect_uri(self, uri: str) -> bool:
        """Exact string match; native apps' loopback URIs match on any port (RFC 8252 §7.3)."""
        if uri in self.redirect_uris:
            return True
        if self.type is not AppType.NATIVE:
            return False
        requested = _without_loopback_port(uri)
        return requested is not None and any(
            _without_loopback_port(r) == requested for r in self.redirect_uris
        )

    def secret_matches(self, presented: str, now: int) -> str | None:
        """``None`` on success, else the reason (``invalid`` or ``expired``). Constant time."""
        presented_digest = digest(presented)
        for secret in self.secrets:
            if hmac.compare_digest(secret.value_digest, presented_digest):
                if secret.expires_at is not None and secret.expires_at <= now:
                    return "expired"
                return None
        return "invalid"


def _origin(uri: str) -> tuple[str, str, int | None]:
    parts = urlsplit(uri)
    return parts.scheme, (parts.hostname or ""), parts.port


def _without_loopback_port(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme != "http" or not is_loopback_host(parts.hostname or ""):
        return None
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def client_from_rows(app: dict[str, Any], secrets: list[dict[str, Any]]) -> Client:
    oidc = app["oidc_client_metadata"] or {}
    custom = app["custom_client_metadata"] or {}
    ttl_days = int(custom.get("refreshTokenTtlInDays") or 14)
    return Client(
        id=app["id"],
        name=app["name"],
        type=AppType(app["type"]),
        redirect_uris=tuple(oidc.get("redirectUris") or ()),
        post_logout_redirect_uris=tuple(oidc.get("postLogoutRedirectUris") or ()),
        cors_allowed_origins=tuple(custom.get("corsAllowedOrigins") or ()),
        is_third_party=bool(app["is_third_party"]),
        id_token_ttl=int(custom.get("idTokenTtl") or 3600),
        refresh_token_ttl=int(custom.get("refreshTokenTtl") or ttl_days * 86400),
        rotate_refresh_token=custom.get("rotateRefreshToken", True) is not False,
        always_issue_refresh_token=bool(custom.get("alwaysIssueRefreshToken")),
        secrets=tuple(
            ClientSecret(s["name"], s["value_digest"], s["expires_at"], s.get("value_sealed"))
            for s in secrets
        ),
        logo_uri=_https_or_none(oidc.get("logoUri")),
        require_pushed_authorization_requests=bool(oidc.get("requirePushedAuthorizationRequests")),
        token_endpoint_auth_method=str(
            oidc.get("tokenEndpointAuthMethod") or "client_secret_basic"
        ),
        jwks=oidc.get("jwks"),
        jwks_uri=oidc.get("jwksUri"),
        allow_token_exchange=custom.get("allowTokenExchange") is True and not app["is_third_party"],
        is_device_flow=custom.get("isDeviceFlow") is True and app["type"] == AppType.NATIVE,
        backchannel_logout_uri=oidc.get("backchannelLogoutUri") or None,
        backchannel_logout_session_required=oidc.get("backchannelLogoutSessionRequired") is True,
        frontchannel_logout_uri=oidc.get("frontchannelLogoutUri") or None,
        frontchannel_logout_session_required=oidc.get("frontchannelLogoutSessionRequired") is True,
        require_signed_request_object=oidc.get("requireSignedRequestObject") is True,
        dpop_bound_access_tokens=oidc.get("dpopBoundAccessTokens") is True,
        id_token_signed_response_alg=oidc.get("idTokenSignedResponseAlg") or None,
        max_allowed_grants=_positive_or_none(custom.get("maxAllowedGrants")),
    )


def _positive_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _https_or_none(url: Any) -> str | None:
    return url if isinstance(url, str) and url.startswith("https://") else None


async def load_client(conn: AsyncConnection, tenant_id: str, client_id: str) -> Client | None:
    if not client_id or len(client_id) > 64:
        return None
    app = await repo.get_application(conn, tenant_id, client_id)
    if app is None:
        return None
    return client_from_rows(app, await repo.list_secrets(conn, client_id))


@dataclass(frozen=True)
class CreatedApplication:
    row: dict[str, Any]
    secret: str | None


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 256:
        raise InvalidApplication("name must be 1 to 256 characters")
    return name


def build_oidc_metadata(app_type: AppType, metadata: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``oidcClientMetadata`` with every URI checked for ``app_type``."""
    built = dict(metadata)
    for key in ("redirectUris", "postLogoutRedirectUris"):
        built[key] = [validate_redirect_uri(u, app_type) for u in metadata.get(key) or []]
    for key in ("backchannelLogoutUri", "frontchannelLogoutUri"):
        if metadata.get(key) is not None:  # an http(s) URL without fragment
            validate_redirect_uri(metadata[key], AppType.TRADITIONAL)
    front = metadata.get("frontchannelLogoutUri")
    if front is not None and _origin(front) not in {_origin(u) for u in built["redirectUris"]}:
        # Front-Channel Logout 1.0 §2: it is loaded in the user's browser as the application.
        raise InvalidApplication(
            "frontchannelLogoutUri must have the scheme, host and port of a redirect URI"
        )
    logo = metadata.get("logoUri")
    if logo:  # shown on the consent page
        try:
            check_public_url(logo)
        except ValueError as problem:
            raise InvalidApplication(f"logoUri {problem}") from None
    _check_client_keys(app_type, built)
    alg = metadata.get("idTokenSignedResponseAlg")
    if alg is not None and alg not in (*keys.ID_TOKEN_ALGORITHMS, "ES512"):
        raise InvalidApplication(
            f"idTokenSignedResponseAlg must be one of {', '.join(keys.ID_TOKEN_ALGORITHMS)}"
        )
    return built


async def _ensure_signing_key(conn: AsyncConnection, tenant_id: str, oidc: dict[str, Any]) -> None:
    """The application's ID-token algorithm has a key (made on first use, see
    ``services.keys``)."""
    alg = oidc.get("idTokenSignedResponseAlg")
    if alg:
        await keys.ensure_companion_key(conn, tenant_id, alg)


# RFC 7591 client metadata in Logto's camelCase (Logto has no client keys).
KEY_METHODS = ("private_key_jwt",)
SECRET_JWT = "client_secret_jwt"
# Methods where the client signs an assertion (RFC 7523) and may use nothing else.
ASSERTION_METHODS = (*KEY_METHODS, SECRET_JWT)
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", *ASSERTION_METHODS)
MAX_CLIENT_KEYS = 10
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def _check_client_keys(app_type: AppType, metadata: dict[str, Any]) -> None:
    """``tokenEndpointAuthMethod`` with ``jwks`` (public keys only) or ``jwksUri``
    (https, a public host) for ``private_key_jwt``; one of the two, never both."""
    method = metadata.get("tokenEndpointAuthMethod")
    if method is None:
        return
    if method not in AUTH_METHODS:
        raise InvalidApplication(
            f"tokenEndpointAuthMethod must be one of {', '.join(AUTH_METHODS)}"
        )
    if method in ASSERTION_METHODS and app_type not in SECRET_TYPES:
        raise InvalidApplication("only confidential applications authenticate with keys")
    jwks, jwks_uri = metadata.get("jwks"), metadata.get("jwksUri")
    if method not in KEY_METHODS:
        if jwks is not None or jwks_uri is not None:
            raise InvalidApplication("jwks and jwksUri are for private_key_jwt")
        return
    if (jwks is None) == (jwks_uri is None):
        raise InvalidApplication("private_key_jwt needs jwks or jwksUri (one of them)")
    if jwks_uri is not None:
        try:
            check_public_url(jwks_uri)
        except ValueError as problem:
            raise InvalidApplication(f"jwksUri {problem}") from None
        return
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_CLIENT_KEYS:
        raise InvalidApplication(f"jwks must be a key set with 1 to {MAX_CLIENT_KEYS} keys")
    for key in keys:
        if not isinstance(key, dict) or _PRIVATE_MEMBERS & set(key):
            raise InvalidApplication("jwks must hold public keys only (no private members)")
        try:
            KeySet.import_key_set({"keys": [key]})
        except Exception:  # joserfc raises several kinds for a malformed key
            raise InvalidApplication("jwks holds a key that is not a valid JWK") from None


def check_custom_client_metadata(
    app_type: AppType, is_third_party: bool, custom: dict[str, Any]
) -> dict[str, Any]:
    """Logto's cross-field rules for ``customClientMetadata``."""
    if is_third_party and custom.get("allowTokenExchange") is True:
        raise InvalidApplication(
            "third-party applications cannot enable token exchange",
            code="application.third_party_application_cannot_enable_token_exchange",
            status=422,
        )
    if custom.get("isDeviceFlow") and app_type is not AppType.NATIVE:
        raise InvalidApplication(
            "the device flow is for Native applications only",
            code="application.device_flow_native_only",
            status=422,
        )
    return custom


async def create_application(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    name: str,
    app_type: AppType,
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    description: str | None = None,
    is_third_party: bool = False,
    custom_client_metadata: dict[str, Any] | None = None,
    custom_data: dict[str, Any] | None = None,
    oidc_extras: dict[str, Any] | None = None,
    sealer: SecretSealer | None = None,
) -> CreatedApplication:
    """Create an application; confidential types get a "Default secret" shown only now.

    ``oidc_extras``: further ``oidcClientMetadata`` members (``backchannelLogoutUri``,
    ``backchannelLogoutSessionRequired``, ``logoUri``...); ``sealer``: the server's, for
    the secret of a ``client_secret_jwt`` application."""
    refuse_saml(app_type)
    name = _checked_name(name)
    if is_third_party and app_type not in (AppType.TRADITIONAL, AppType.SPA, AppType.NATIVE):
        raise InvalidApplication(
            "machine-to-machine applications cannot be third-party",
            code="application.invalid_third_party_application_type",
        )
    oidc = build_oidc_metadata(
        app_type,
        {
            **(oidc_extras or {}),
            "redirectUris": redirect_uris or [],
            "postLogoutRedirectUris": post_logout_redirect_uris or [],
        },
    )
    row = {
        "tenant_id": tenant_id,
        "id": standard_id(),
        "name": name,
        "description": description,
        "type": app_type.value,
        "oidc_client_metadata": oidc,
        "custom_client_metadata": check_custom_client_metadata(
            app_type, is_third_party, custom_client_metadata or {}
        ),
        "custom_data": custom_data or {},
        "is_third_party": is_third_party,
        "created_at": now_ms(),
    }
    await repo.insert_application(conn, row)
    await _ensure_signing_key(conn, tenant_id, oidc)
    secret = None
    if app_type in SECRET_TYPES:
        secret = await add_secret(
            conn, tenant_id, row["id"], DEFAULT_SECRET_NAME, sealer=_jwt_sealer(oidc, sealer)
        )
    return CreatedApplication(row, secret)


async def get_application(
    conn: AsyncConnection, tenant_id: str, app_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    row = await repo.get_application(conn, tenant_id, app_id, for_update=for_update)
    if row is None:
        raise NotFound("application", app_id)
    return row


async def update_application(
    conn: AsyncConnection, tenant_id: str, app_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Replace the given members (Logto's PATCH: JSON members are replaced, not merged).

    ``changes`` keys: ``name``, ``description``, ``oidc_client_metadata``,
    ``custom_client_metadata``, ``custom_data``."""
    current = await get_application(conn, tenant_id, app_id, for_update=True)
    app_type = AppType(current["type"])
    refuse_saml(app_type)
    values = dict(changes)
    if "name" in values:
        values["name"] = _checked_name(values["name"])
    if "oidc_client_metadata" in values:
        values["oidc_client_metadata"] = build_oidc_metadata(
            app_type, values["oidc_client_metadata"]
        )
        await _ensure_signing_key(conn, tenant_id, values["oidc_client_metadata"])
    if "custom_client_metadata" in values:
        custom = values["custom_client_metadata"]
        before = current["custom_client_metadata"] or {}
        if bool(custom.get("isDeviceFlow")) != bool(before.get("isDeviceFlow")):
            raise InvalidApplication(
                "isDeviceFlow cannot be changed after creation",
                code="application.device_flow_not_changeable",
                status=422,
            )
        check_custom_client_metadata(app_type, current["is_third_party"], custom)
    if values:
        await repo.update_application(conn, tenant_id, app_id, values)
    return {**current, **values}


async def merge_custom_data(
    conn: AsyncConnection, tenant_id: str, app_id: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """Shallow-merge ``patch`` into ``customData`` (Logto's JSON merge) and return the result."""
    current = await get_application(conn, tenant_id, app_id, for_update=True)
    merged = {**(current["custom_data"] or {}), **patch}
    await repo.update_application(conn, tenant_id, app_id, {"custom_data": merged})
    return merged


async def delete_application(conn: AsyncConnection, tenant_id: str, app_id: str) -> None:
    """Delete the application; its secrets and role assignments go with it (cascade). The
    built-in ``portico-account`` is refused: Portico's own pages sign in with it."""
    from portico.services.bootstrap import ACCOUNT_APP_ID  # bootstrap seeds; no cycle at load

    if app_id == ACCOUNT_APP_ID:
        raise InvalidApplication(
            f"The application `{app_id}` is built in (Portico's hosted pages use it) and"
            " cannot be deleted.",
            code="application.built_in_not_deletable",
            status=422,
        )
    current = await repo.get_application(conn, tenant_id, app_id)
    if current is not None:
        refuse_saml(current["type"])
    if not await repo.delete_application(conn, tenant_id, app_id):
        raise NotFound("application", app_id)


# Secrets -----------------------------------------------------------------------------------
def _secret_holder(app: dict[str, Any]) -> None:
    if AppType(app["type"]) not in SECRET_TYPES:
        raise InvalidApplication(
            "only Traditional and machine-to-machine applications have secrets",
            code="application.invalid_type",
            status=422,
        )


async def list_secrets(conn: AsyncConnection, tenant_id: str, app_id: str) -> list[dict[str, Any]]:
    await get_application(conn, tenant_id, app_id)
    return await repo.list_secrets(conn, app_id)


async def create_secret(
    conn: AsyncConnection,
    tenant_id: str,
    app_id: str,
    name: str,
    expires_at: int | None,
    sealer: SecretSealer | None = None,
) -> tuple[dict[str, Any], str]:
    """``(stored row, value)``: the value exists only in this return; the row keeps a digest
    (and a ``client_secret_jwt`` application's, the value sealed with ``sealer``)."""
    app = await get_application(conn, tenant_id, app_id)
    _secret_holder(app)
    if expires_at is not None and expires_at <= now_ms():
        raise InvalidApplication("The value of `expiresAt` must be in the future.")
    if any(s["name"] == name for s in await repo.list_secrets(conn, app_id)):
        raise InvalidApplication(
            f"a secret named {name!r} already exists",
            code="application.secret_name_exists",
            status=422,
        )
    jwt_sealer = _jwt_sealer(app["oidc_client_metadata"] or {}, sealer)
    value = await add_secret(conn, tenant_id, app_id, name, expires_at, jwt_sealer)
    row = next(s for s in await repo.list_secrets(conn, app_id) if s["name"] == name)
    return row, value


async def delete_secret(conn: AsyncConnection, tenant_id: str, app_id: str, name: str) -> None:
    await get_application(conn, tenant_id, app_id)
    if not await repo.delete_secret(conn, app_id, name):
        raise ServiceError(
            f"The application has no secret named `{name}`.", code="entity.not_found", status=404
        )


async def rename_secret(
    conn: AsyncConnection, tenant_id: str, app_id: str, name: str, new_name: str
) -> dict[str, Any]:
    await get_application(conn, tenant_id, app_id)
    secrets = {s["name"]: s for s in await repo.list_secrets(conn, app_id)}
    if name not in secrets:
        raise ServiceError(
            f"The application has no secret named `{name}`.", code="entity.not_found", status=404
        )
    if new_name != name and new_name in secrets:
        raise InvalidApplication(
            f"a secret named {new_name!r} already exists",
            code="application.secret_name_exists",
            status=422,
        )
    await repo.rename_secret(conn, app_id, name, new_name)
    return {**secrets[name], "name": new_name}


class SecretSealer:
    """Secrets of ``client_secret_jwt`` applications, sealed with the server's encryption key
    (the server needs the value: it is the HMAC key of the client's assertions). Bound to the
    application and the secret's digest, so a value moved to another row does not open."""

    _PATH = ("value",)

    def __init__(self, encryption_key: bytes) -> None:
        from portico.connectors.secrets import Sealer  # AES-256-GCM, as connector secrets

        self._sealer = Sealer(encryption_key)

    @property
    def sealer(self) -> Sealer:
        """The server's key as connector secrets use it (for other values sealed the same
        way: custom-claims environment variables)."""
        return self._sealer

    def seal(self, app_id: str, value_digest: str, value: str) -> dict[str, Any]:
        context = f"app-secret:{app_id}:{value_digest}"
        return self._sealer.seal({"value": value}, {self._PATH}, context)

    def open(self, app_id: str, value_digest: str, sealed: dict[str, Any]) -> str | None:
        """The value, or None when it does not open (another key, another row)."""
        from portico.connectors.errors import ConnectorError

        try:
            opened = self._sealer.open(sealed, {self._PATH}, f"app-secret:{app_id}:{value_digest}")
        except (ConnectorError, ValueError):
            return None
        value = opened.get("value")
        return value if isinstance(value, str) and digest(value) == value_digest else None


async def add_secret(
    conn: AsyncConnection,
    tenant_id: str,
    app_id: str,
    name: str,
    expires_at: int | None = None,
    sealer: SecretSealer | None = None,
) -> str:
    """Create a named secret and return its value; only its digest is kept, and, with
    ``sealer`` (a ``client_secret_jwt`` application's), its sealed value."""
    value = standard_secret()
    value_digest = digest(value)
    await repo.insert_secret(
        conn,
        {
            "tenant_id": tenant_id,
            "application_id": app_id,
            "name": name,
            "value_digest": value_digest,
            "value_hint": value[-4:],
            "created_at": now_ms(),
            "expires_at": expires_at,
            "value_sealed": sealer.seal(app_id, value_digest, value) if sealer else None,
        },
    )
    return value


def _jwt_sealer(oidc: dict[str, Any], sealer: SecretSealer | None) -> SecretSealer | None:
    """The sealer a new secret of this application needs (``client_secret_jwt`` only)."""
    if oidc.get("tokenEndpointAuthMethod") != SECRET_JWT:
        return None
    if sealer is None:
        raise InvalidApplication("client_secret_jwt secrets need the server's encryption key")
    return sealer
