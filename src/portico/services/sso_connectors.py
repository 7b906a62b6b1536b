"""Enterprise SSO connectors: Logto's rules for creating and changing them, and what sign-in
asks of them.

- ``providerName`` must be a registered provider (``portico.sso.PROVIDERS``); ``config``,
  when given, must parse as that provider's config and work (the provider's metadata is
  fetched: an issuer that cannot be discovered is refused before anything is stored);
- ``connectorName`` is unique in the tenant (409 ``single_sign_on.duplicate_connector_name``);
- ``domains`` are stored lower case, none twice, none of the public mail providers Logto
  blocks (422 ``single_sign_on.duplicated_domains`` / ``forbidden_domains``);
- secrets (the provider config's ``isConfidential`` fields: ``clientSecret``...) are sealed
  with the server's encryption key, bound to the tenant, the connector and the field, and
  leave only masked; a masked value sent back keeps the stored one.

A connector is *available* for sign-in when its config parses and it has domains (Logto's
``getAvailableSsoConnectors``); an email's domain picks the available connectors that list it,
when the sign-in experience has ``singleSignOnEnabled``.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from portico import ids
from portico.connectors import secrets
from portico.services import sso_signing_keys as signing_keys
from portico.services.errors import NotFound, ServiceError
from portico.sso import PROVIDERS, Provider, SsoError, provider_class
from portico.storage import sso_connectors as repo

# Logto's ``singleSignOnDomainBlackList``: public mailbox providers, never one organization's.
BLOCKED_DOMAINS = frozenset(
    {
        "gmail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "icloud.com",
        "aol.com",
        "yandex.com",
        "mail.com",
        "protonmail.com",
        "yanex.com",
        "gmx.com",
        "mail.ru",
        "zoho.com",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "sohu.com",
    }
)


def sealer_for(key: bytes) -> secrets.Sealer:
    return secrets.Sealer(key)


def _context(tenant_id: str, connector_id: str) -> str:
    # Not the social connectors' context: a sealed value copied between tables won't open.
    return f"sso/{tenant_id}/{connector_id}"


def _provider(name: str) -> type[Provider]:  # type: ignore[type-arg]
    found = provider_class(name)
    if found is None:  # a row of a provider this version does not have
        raise ServiceError(
            "The connector's provider is not supported.", code="connector.not_found", status=404
        )
    return found


def sso_error(error: SsoError) -> ServiceError:
    """A provider failure as the Management API answers it (Logto's connector error
    handler: 400 for config, metadata and response problems, 401 for authorization)."""
    status = 401 if error.code == "connector.authorization_failed" else 400
    return ServiceError(error.message, code=error.code, status=status, data=error.data)


# Providers ----------------------------------------------------------------------------------
def providers(locale: str = "en") -> list[dict[str, Any]]:
    """``GET /sso-connector-providers``: each provider's name, kind, logos and description."""
    return [
        {
            "providerName": p.provider_name,
            "providerType": p.provider_type.value,
            "logo": p.logo,
            "logoDark": p.logo_dark,
            "description": p.localized(p.description, locale),
            "name": p.localized(p.name, locale),
        }
        for p in PROVIDERS.values()
    ]


# Validation ---------------------------------------------------------------------------------
def normalised_domains(domains: list[str]) -> list[str]:
    lowered = [d.strip().lower() for d in domains]
    forbidden = sorted({d for d in lowered if d in BLOCKED_DOMAINS})
    if forbidden:
        raise ServiceError(
            "These email domains belong to public mail providers and cannot be used for SSO.",
            code="single_sign_on.forbidden_domains",
            status=422,
            data=forbidden,
        )
    duplicated = sorted({d for d in lowered if lowered.count(d) > 1})
    if duplicated:
        raise ServiceError(
            "An email domain is listed twice.",
            code="single_sign_on.duplicated_domains",
            status=422,
            data=duplicated,
        )
    return lowered


async def _unique_name(
    conn: AsyncConnection, tenant_id: str, name: str, own_id: str | None = None
) -> None:
    found = await repo.by_name(conn, tenant_id, name)
    if found is not None and found["id"] != own_id:
        raise ServiceError(
            "A connector with this name already exists.",
            code="single_sign_on.duplicate_connector_name",
            status=409,
        )


async def _checked_config(
    cls: type[Provider],
    connector_id: str,
    raw: dict[str, Any],
    endpoint: str,  # type: ignore[type-arg]
) -> dict[str, Any]:
    """The config as stored (before sealing): parsed, and proven to work."""
    try:
        parsed = cls.parse_config(raw)
        await cls(connector_id, parsed, endpoint).provider_config()
    except SsoError as error:
        raise sso_error(error) from None
    return raw


def _no_token_storage(enable: bool | None) -> None:
    if enable:
        raise ServiceError(
            "Storing the provider's tokens is not supported by this server.",
            code="request.feature_not_supported",
            status=422,
        )


# Reads --------------------------------------------------------------------------------------
async def row(conn: AsyncConnection, tenant_id: str, connector_id: str) -> dict[str, Any]:
    """The stored row (config sealed); 404 ``entity.not_exists_with_id``."""
    found = await repo.get(conn, tenant_id, connector_id)
    if found is None:
        raise NotFound("SSO connector", connector_id)
    return found


def opened(sealer: secrets.Sealer, stored: dict[str, Any]) -> dict[str, Any]:
    """The row with its config's secrets opened (for the provider, never for an answer)."""
    cls = provider_class(stored["provider_name"])
    if cls is None:
        return stored
    config = sealer.open(
        stored["config"], cls.confidential(), _context(stored["tenant_id"], stored["id"])
    )
    return {**stored, "config": config}


def masked(stored: dict[str, Any]) -> dict[str, Any]:
    cls = provider_class(stored["provider_name"])
    paths = cls.confidential() if cls else set()
    return {**stored, "config": secrets.mask(stored["config"], paths)}


async def page(
    conn: AsyncConnection, tenant_id: str, *, offset: int | None, limit: int | None
) -> tuple[int, list[dict[str, Any]]]:
    """Connectors of registered providers only (Logto filters the others out)."""
    total, rows = await repo.page(conn, tenant_id, offset=offset, limit=limit)
    return total, [r for r in rows if r["provider_name"] in PROVIDERS]


def instance(sealer: secrets.Sealer, stored: dict[str, Any], endpoint: str) -> Provider:  # type: ignore[type-arg]
    """The provider of a connector, ready to sign in; :class:`SsoError`
    ``connector.invalid_config`` when its config does not parse (incomplete or broken)."""
    cls = _provider(stored["provider_name"])
    config = cls.parse_config(opened(sealer, stored)["config"])
    return cls(stored["id"], config, endpoint)


async def provider_details(
    sealer: secrets.Sealer, stored: dict[str, Any], endpoint: str, locale: str = "en"
) -> dict[str, Any]:
    """Logto's ``fetchConnectorProviderDetails``: name, kind, logos and, when the config
    works, ``providerConfig``; otherwise only what Portico's side is (a SAML connector's
    SP entity ID and ACS URL), or nothing; never an error."""
    cls = _provider(stored["provider_name"])
    details: dict[str, Any] = {
        "name": cls.localized(cls.name, locale),
        "providerType": cls.provider_type.value,
        "providerLogo": cls.logo,
        "providerLogoDark": cls.logo_dark,
    }
    try:
        details["providerConfig"] = await instance(sealer, stored, endpoint).provider_config()
    except SsoError:  # a config that does not work yet: Portico's side only (SAML), or none
        own = cls.service_provider_config(stored["id"], endpoint)
        if own is not None:
            details["providerConfig"] = own
    return details


def available(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Connectors usable for sign-in: a config that parses and at least one domain. The
    config is checked masked (a sealed secret reads as the mask, which parses as any string
    would), so this needs no key."""
    usable = []
    for stored in rows:
        cls = provider_class(stored["provider_name"])
        if cls is None or not stored["domains"]:
            continue
        try:
            cls.parse_config(masked(stored)["config"])
        except SsoError:
            continue
        usable.append(stored)
    return usable


async def for_connector(
    conn: AsyncConnection, tenant_id: str, connector_id: str
) -> dict[str, Any] | None:
    """The connector when it is available for sign-in (see :func:`available`)."""
    found = await repo.get(conn, tenant_id, connector_id)
    return found if found is not None and available([found]) else None


async def for_email(conn: AsyncConnection, tenant_id: str, email: str) -> list[dict[str, Any]]:
    """The available connectors whose domains hold ``email``'s domain (the caller checks
    the sign-in experience's ``singleSignOnEnabled``)."""
    domain = email.rpartition("@")[2].lower()
    if not domain:
        return []
    _, rows = await repo.page(conn, tenant_id)
    return [r for r in available(rows) if domain in [d.lower() for d in r["domains"]]]


# Writes -------------------------------------------------------------------------------------
async def create(
    conn: AsyncConnection,
    tenant_id: str,
    sealer: secrets.Sealer,
    endpoint: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """``POST /sso-connectors``: the stored row (config sealed)."""
    cls = provider_class(body["providerName"])
    if cls is None:
        raise ServiceError(
            f"The connector provider {body['providerName']!r} is not supported.",
            code="connector.not_found",
            status=422,
        )
    domains = normalised_domains(body.get("domains") or [])
    connector_id = ids.short_id()
    config = body.get("config")
    if config:
        config = await _checked_config(cls, connector_id, config, endpoint)
        if signing_keys.signs_requests(config):  # a new connector has no key yet
            await signing_keys.require_active_key(conn, tenant_id, None)
    await _unique_name(conn, tenant_id, body["connectorName"])
    _no_token_storage(body.get("enableTokenStorage"))
    stored = {
        "tenant_id": tenant_id,
        "id": connector_id,
        "provider_name": cls.provider_name,
        "connector_name": body["connectorName"],
        "config": sealer.seal(config or {}, cls.confidential(), _context(tenant_id, connector_id)),
        "domains": domains,
        "branding": body.get("branding") or {},
        "sync_profile": bool(body.get("syncProfile")),
        "enable_token_storage": False,
        "created_at": int(time.time() * 1000),
    }
    try:
        async with conn.begin_nested():
            await repo.insert_connector(conn, stored)
    except IntegrityError:  # a parallel request took the name
        raise ServiceError(
            "A connector with this name already exists.",
            code="single_sign_on.duplicate_connector_name",
            status=409,
        ) from None
    return stored


async def update(
    conn: AsyncConnection,
    tenant_id: str,
    sealer: secrets.Sealer,
    endpoint: str,
    connector_id: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """``PATCH /sso-connectors/:id``: the members given replace the stored ones."""
    stored = await row(conn, tenant_id, connector_id)
    cls = _provider(stored["provider_name"])
    values: dict[str, Any] = {}
    if body.get("domains") is not None:
        values["domains"] = normalised_domains(body["domains"])
    if body.get("connectorName") is not None:
        await _unique_name(conn, tenant_id, body["connectorName"], connector_id)
        values["connector_name"] = body["connectorName"]
    if body.get("config") is not None:
        context, paths = _context(tenant_id, connector_id), cls.confidential()
        current = opened(sealer, stored)["config"]
        config = secrets.keep_masked(body["config"], current, paths)
        config = await _checked_config(cls, connector_id, config, endpoint)
        if signing_keys.signs_requests(config):
            await signing_keys.require_active_key(conn, tenant_id, connector_id)
        values["config"] = sealer.seal(config, paths, context)
    if body.get("branding") is not None:
        values["branding"] = body["branding"]
    if body.get("syncProfile") is not None:
        values["sync_profile"] = body["syncProfile"]
    _no_token_storage(body.get("enableTokenStorage"))
    try:
        async with conn.begin_nested():
            await repo.update_connector(conn, tenant_id, connector_id, values)
    except IntegrityError:
        raise ServiceError(
            "A connector with this name already exists.",
            code="single_sign_on.duplicate_connector_name",
            status=409,
        ) from None
    return {**stored, **values}


async def delete(conn: AsyncConnection, tenant_id: str, connector_id: str) -> None:
    """Its users' SSO identities and JIT settings go with it (foreign keys cascade)."""
    if not await repo.delete_connector(conn, tenant_id, connector_id):
        raise NotFound("SSO connector", connector_id)


# Users' identities --------------------------------------------------------------------------
async def find_identity(
    conn: AsyncConnection, tenant_id: str, issuer: str, identity_id: str
) -> dict[str, Any] | None:
    return await repo.identity(conn, tenant_id, issuer, identity_id)


class IdentityTaken(Exception):
    """The provider identity already belongs to another user."""


async def link(
    conn: AsyncConnection,
    tenant_id: str,
    user_id: str,
    connector_id: str,
    issuer: str,
    identity_id: str,
    detail: dict[str, Any],
) -> bool:
    """Store the identity for ``user_id`` (or refresh its detail when it is theirs already);
    True when it was new. :class:`IdentityTaken` when another user has it."""
    now = int(time.time() * 1000)
    found = await repo.identity(conn, tenant_id, issuer, identity_id)
    if found is not None:
        if found["user_id"] != user_id:
            raise IdentityTaken
        await repo.update_identity(
            conn, tenant_id, found["id"], {"detail": detail, "updated_at": now}
        )
        return False
    try:
        async with conn.begin_nested():
            await repo.insert_identity(
                conn,
                {
                    "tenant_id": tenant_id,
                    "id": ids.standard_id(),
                    "user_id": user_id,
                    "issuer": issuer,
                    "identity_id": identity_id,
                    "detail": detail,
                    "sso_connector_id": connector_id,
                    "created_at": now,
                    "updated_at": now,
                },
            )
    except IntegrityError:  # a parallel first sign-in stored it
        raise IdentityTaken from None
    return True


async def user_identities(
    conn: AsyncConnection, tenant_id: str, user_id: str
) -> list[dict[str, Any]]:
    return await repo.user_identities(conn, tenant_id, user_id)


def identity_out(stored: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``UserSsoIdentity``."""
    return {
        "tenantId": stored["tenant_id"],
        "id": stored["id"],
        "userId": stored["user_id"],
        "issuer": stored["issuer"],
        "identityId": stored["identity_id"],
        "detail": stored["detail"],
        "createdAt": stored["created_at"],
        "updatedAt": stored["updated_at"],
        "ssoConnectorId": stored["sso_connector_id"],
    }


def connector_out(stored: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``SsoConnector`` (config masked)."""
    shown = masked(stored)
    return {
        "tenantId": shown["tenant_id"],
        "id": shown["id"],
        "providerName": shown["provider_name"],
        "connectorName": shown["connector_name"],
        "config": shown["config"],
        "domains": shown["domains"],
        "branding": shown["branding"],
        "syncProfile": shown["sync_profile"],
        "enableTokenStorage": shown["enable_token_storage"],
        "createdAt": shown["created_at"],
    }
