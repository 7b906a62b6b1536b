"""The keys Portico signs a SAML connector's AuthnRequests with (Logto's ``signAuthnRequest``
and ``/api/sso-connectors/:id/signing-keys``).

Some identity providers (AD FS, Shibboleth) only answer requests signed by a certificate the
admin registered with them. A connector has any number of keys, one active at a time: a new
key is made inactive by default so that its certificate can be given to the IdP before it
signs anything (a rotation without a failed sign-in), then activated, which deactivates the
other in the same transaction. The active key cannot be deleted, nor deactivated while the
connector's config asks for signed requests; the config cannot ask for them without an
active key. Private keys are RSA 3072, sealed with the encryption key and bound to the
connector and key, and never leave the server; certificates are self-signed for 3 years.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.connectors import secrets
from portico.connectors.errors import ConnectorError
from portico.ids import standard_id
from portico.saml_idp import certificates
from portico.services.errors import NotFound, ServiceError
from portico.sso import provider_class
from portico.sso.base import ProviderType
from portico.storage import sso_connectors as repo
from portico.storage.database import now_ms

LIFETIME_YEARS = 3  # Logto's
COMMON_NAME = "Portico SAML SP"
_PATH: secrets.Path = ("privateKey",)


@dataclass(frozen=True)
class Credential:
    """The active key, opened: what an AuthnRequest is signed with."""

    key_pem: str
    certificate: str


def _context(connector_id: str, key_id: str) -> str:
    return f"sso-signing-key:{connector_id}:{key_id}"


def seal(sealer: secrets.Sealer, connector_id: str, key_id: str, key_pem: str) -> dict[str, Any]:
    return sealer.seal({"privateKey": key_pem}, {_PATH}, _context(connector_id, key_id))


def open_key(
    sealer: secrets.Sealer, connector_id: str, key_id: str, sealed: dict[str, Any]
) -> str | None:
    """The private key, or None when it does not open (another server's key, a moved row)."""
    try:
        opened = sealer.open(sealed, {_PATH}, _context(connector_id, key_id))
    except (ConnectorError, ValueError):
        return None
    value = opened.get("privateKey")
    return value if isinstance(value, str) else None


def key_out(row: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``samlSsoConnectorSigningKeyResponseGuard``: never the private key."""
    return certificates.answer(row)


async def _saml_connector(
    conn: AsyncConnection, tenant_id: str, connector_id: str
) -> dict[str, Any]:
    """The connector; 404 ``connector.not_found`` unless it speaks SAML (Logto's rule)."""
    found = await repo.get(conn, tenant_id, connector_id)
    cls = provider_class(found["provider_name"]) if found else None
    if found is None or cls is None or cls.provider_type is not ProviderType.SAML:
        raise ServiceError(
            f"The SAML connector {connector_id!r} was not found.",
            code="connector.not_found",
            status=404,
        )
    return found


async def _key(
    conn: AsyncConnection, tenant_id: str, connector_id: str, key_id: str
) -> dict[str, Any]:
    row = await repo.signing_key(conn, tenant_id, connector_id, key_id)
    if row is None:
        raise NotFound("SAML SSO connector signing key", key_id)
    return row


def signs_requests(config: dict[str, Any]) -> bool:
    """Whether a connector's config (as stored: ``signAuthnRequest`` is never sealed) asks
    for signed AuthnRequests."""
    return config.get("signAuthnRequest") is True


async def list_keys(
    conn: AsyncConnection, tenant_id: str, connector_id: str
) -> list[dict[str, Any]]:
    await _saml_connector(conn, tenant_id, connector_id)
    return [key_out(row) for row in await repo.signing_keys(conn, tenant_id, connector_id)]


async def create_key(
    conn: AsyncConnection,
    tenant_id: str,
    sealer: secrets.Sealer,
    connector_id: str,
    *,
    active: bool = False,
) -> dict[str, Any]:
    """A new key and certificate; inactive unless ``active`` (then the only active one)."""
    await _saml_connector(conn, tenant_id, connector_id)
    # An RSA key takes a tenth of a second to make: not on the event loop.
    key_pem, cert_pem, not_after = await asyncio.to_thread(
        certificates.new_signing_pair, LIFETIME_YEARS, None, COMMON_NAME
    )
    key_id = standard_id()
    row = {
        "tenant_id": tenant_id,
        "id": key_id,
        "sso_connector_id": connector_id,
        "private_key": seal(sealer, connector_id, key_id, key_pem),
        "certificate": cert_pem,
        "created_at": now_ms(),
        "expires_at": int(not_after.timestamp() * 1000),
        "active": False,
    }
    await repo.insert_signing_key(conn, row)
    if active:
        await repo.set_signing_key_active(conn, tenant_id, connector_id, key_id, True)
        row["active"] = True
    return key_out(row)


async def set_active(
    conn: AsyncConnection, tenant_id: str, connector_id: str, key_id: str, active: bool
) -> dict[str, Any]:
    """Activate (the other key is deactivated) or deactivate a key; the key in use by a
    connector that signs its requests cannot be deactivated (400, Logto's code)."""
    connector = await _saml_connector(conn, tenant_id, connector_id)
    row = await _key(conn, tenant_id, connector_id, key_id)
    if row["active"] and not active and signs_requests(connector["config"] or {}):
        raise ServiceError(
            "Disable signed authentication requests before deactivating the key in use.",
            code="single_sign_on.can_not_deactivate_signing_key_in_use",
            status=400,
        )
    if bool(row["active"]) != active:
        await repo.set_signing_key_active(conn, tenant_id, connector_id, key_id, active)
    return key_out({**row, "active": active})


async def delete_key(conn: AsyncConnection, tenant_id: str, connector_id: str, key_id: str) -> None:
    await _saml_connector(conn, tenant_id, connector_id)
    row = await _key(conn, tenant_id, connector_id, key_id)
    if row["active"] or not await repo.delete_inactive_signing_key(
        conn, tenant_id, connector_id, key_id
    ):
        raise ServiceError(
            "The active signing key cannot be deleted.",
            code="single_sign_on.can_not_delete_active_signing_key",
            status=400,
        )


async def require_active_key(
    conn: AsyncConnection, tenant_id: str, connector_id: str | None
) -> None:
    """A config asking for signed requests needs an active key (a new connector has none)."""
    found = (
        await repo.signing_key(conn, tenant_id, connector_id, "", active=True)
        if connector_id
        else None
    )
    if found is None:
        raise ServiceError(
            "Create and activate a signing key before enabling signed authentication requests.",
            code="single_sign_on.active_signing_key_required",
            status=400,
        )


async def credential(
    conn: AsyncConnection, tenant_id: str, sealer: secrets.Sealer, connector_id: str
) -> Credential | None:
    """The active key, opened; None when there is none or it does not open."""
    row = await repo.signing_key(conn, tenant_id, connector_id, "", active=True)
    if row is None:
        return None
    key_pem = open_key(sealer, connector_id, row["id"], row["private_key"])
    return Credential(key_pem, row["certificate"]) if key_pem else None
