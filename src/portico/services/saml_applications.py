"""SAML applications (Portico as the identity provider, Logto's ``/saml-applications``).

A SAML application is a row of ``applications`` of type ``SAML`` (its name, description,
custom data; internally the OIDC client its sign-ins go through) plus one row of
``saml_application_configs`` (the SP: entity ID, ACS URL, attribute mapping, NameID format,
assertion encryption) and its signing certificates in ``saml_application_secrets``. There
is no cap on their number (Logto's open-source edition stops at three).

Certificates: one is active at a time (it signs and is in the metadata); a new one is made
inactive unless asked, so rotation is: create, publish to the SP, activate (the previous
one is deactivated in the same transaction), delete the old one. The private key is stored
sealed with the server's encryption key, bound to the application and the secret's id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.ids import standard_id
from portico.saml_idp import certificates
from portico.saml_idp.entity import IdentityProvider, ServiceProvider
from portico.saml_idp.formats import MAPPABLE_CLAIMS, Binding, NameIdFormat
from portico.services.applications import AppType
from portico.services.errors import NotFound, ServiceError
from portico.storage import applications as app_repo
from portico.storage import saml_applications as repo
from portico.storage.database import now_ms

DEFAULT_LIFETIME_YEARS = 3  # Logto's first certificate
CALLBACK_PATH = "/api/saml-applications/{id}/callback"
SSO_PATH = "/api/saml/{id}/authn"
ENTITY_PATH = "/saml/{id}"
_CONFIG_COLUMNS = {
    "attributeMapping": "attribute_mapping",
    "entityId": "entity_id",
    "acsUrl": "acs_url",
    "encryption": "encryption",
    "nameIdFormat": "name_id_format",
}


def _saml_error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(message, code=f"application.saml.{code}", status=status)


def callback_url(endpoint: str, app_id: str) -> str:
    return endpoint.rstrip("/") + CALLBACK_PATH.format(id=app_id)


async def follow_endpoint(conn: AsyncConnection, tenant_id: str, endpoint: str) -> None:
    """Each SAML application's internal redirect URI made from ``endpoint`` again (at start,
    as the built-in application's): a server moved to a new address keeps signing in."""
    for app in await app_repo.applications_of_type(conn, tenant_id, AppType.SAML.value):
        oidc = app["oidc_client_metadata"] or {}
        wanted = [callback_url(endpoint, app["id"])]
        if oidc.get("redirectUris") != wanted:
            await app_repo.update_application(
                conn,
                tenant_id,
                app["id"],
                {"oidc_client_metadata": {**oidc, "redirectUris": wanted}},
            )


# Checks ------------------------------------------------------------------------------------
def check_acs_url(acs_url: dict[str, Any] | None) -> None:
    """HTTP-POST only (Logto's rule: the response is a signed form), http(s) only: the form's
    action must not be a scriptable scheme."""
    if acs_url is None:
        return
    if acs_url.get("binding") != Binding.POST:
        raise _saml_error(
            "acs_url_binding_not_supported",
            "Only HTTP-POST binding is supported for receiving SAML assertions.",
            422,
        )
    parts = urlsplit(str(acs_url.get("url") or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _saml_error(
            "acs_url_scheme_not_supported",
            "Only the HTTP and HTTPS schemes are supported for the Assertion Consumer Service URL.",
        )


def check_attribute_mapping(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(MAPPABLE_CLAIMS))
    if unknown:
        raise ServiceError(
            f"attributeMapping: unknown claims {', '.join(unknown)}", code="guard.invalid_input"
        )
    if any(not name.strip() for name in mapping.values()):
        raise ServiceError("attributeMapping: attribute names must not be empty",
                           code="guard.invalid_input")  # fmt: skip


def check_encryption(encryption: dict[str, Any] | None) -> None:
    """Logto's rule: encrypting needs ``encryptThenSign`` and the SP's certificate."""
    if not encryption:
        return
    certificate = encryption.get("certificate")
    if encryption.get("encryptAssertion") and (
        encryption.get("encryptThenSign") is None or certificate is None
    ):
        raise ServiceError(
            "`encryptThenSign` and `certificate` are required when `encryptAssertion` is `true`",
            code="guard.invalid_input",
        )
    if certificate is not None:
        try:
            certificates.load_certificate(certificate)
        except certificates.InvalidCertificate:
            raise _saml_error(
                "invalid_certificate_pem_format", "Invalid PEM certificate format"
            ) from None


def _checked_config(config: dict[str, Any]) -> dict[str, Any]:
    if "acsUrl" in config:
        check_acs_url(config["acsUrl"])
    if "attributeMapping" in config:
        check_attribute_mapping(config["attributeMapping"] or {})
    if "encryption" in config:
        check_encryption(config["encryption"])
    return config


# Shapes ------------------------------------------------------------------------------------
def application_out(app: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``samlApplicationResponseGuard``: the application without its OIDC members,
    with the SAML configuration."""
    return {
        "tenantId": app["tenant_id"],
        "id": app["id"],
        "name": app["name"],
        "description": app["description"],
        "type": app["type"],
        "customData": app["custom_data"] or {},
        "isThirdParty": bool(app["is_third_party"]),
        "appLevelAccessControlEnabled": False,
        "createdAt": app["created_at"],
        "attributeMapping": config["attribute_mapping"] or {},
        "entityId": config["entity_id"],
        "acsUrl": config["acs_url"],
        "encryption": config["encryption"],
        "nameIdFormat": config["name_id_format"],
    }


def secret_out(row: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``samlApplicationSecretResponseGuard``: never the private key."""
    return certificates.answer(row)


# Applications ------------------------------------------------------------------------------
async def _saml_app(
    conn: AsyncConnection, tenant_id: str, app_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    app = await app_repo.get_application(conn, tenant_id, app_id, for_update=for_update)
    if app is None:
        raise NotFound("application", app_id)
    if app["type"] != AppType.SAML:
        raise _saml_error(
            "saml_application_only", "The API is only available for SAML applications.", 422
        )
    return app


async def _config(conn: AsyncConnection, tenant_id: str, app_id: str) -> dict[str, Any]:
    config = await repo.get_config(conn, tenant_id, app_id)
    if config is None:  # made with the application, in its transaction: never absent
        raise NotFound("SAML application config", app_id)
    return config


async def create(
    conn: AsyncConnection,
    tenant_id: str,
    sealer: KeySealer,
    *,
    endpoint: str,
    name: str,
    description: str | None,
    custom_data: dict[str, Any] | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """The application, its configuration and a first, active certificate (3 years)."""
    _checked_config(config)
    app_id = standard_id()
    app = {
        "tenant_id": tenant_id,
        "id": app_id,
        "name": name.strip(),
        "description": description,
        "type": AppType.SAML.value,
        # Its own OIDC client: one redirect URI, Portico's callback (see services.applications)
        "oidc_client_metadata": {
            "redirectUris": [callback_url(endpoint, app_id)],
            "postLogoutRedirectUris": [],
        },
        "custom_client_metadata": {},
        "custom_data": custom_data or {},
        "is_third_party": False,  # Logto: SAML apps are first-party
        "created_at": now_ms(),
    }
    if not app["name"]:
        raise ServiceError("name must not be empty", code="guard.invalid_input")
    await app_repo.insert_application(conn, app)
    row = {
        "tenant_id": tenant_id,
        "application_id": app_id,
        "attribute_mapping": config.get("attributeMapping") or {},
        "entity_id": config.get("entityId"),
        "acs_url": config.get("acsUrl"),
        "encryption": config.get("encryption"),
        "name_id_format": config.get("nameIdFormat") or NameIdFormat.PERSISTENT.value,
    }
    await repo.insert_config(conn, row)
    await create_secret(conn, tenant_id, sealer, app_id, DEFAULT_LIFETIME_YEARS, active=True)
    return application_out(app, row)


async def get(conn: AsyncConnection, tenant_id: str, app_id: str) -> dict[str, Any]:
    app = await _saml_app(conn, tenant_id, app_id)
    return application_out(app, await _config(conn, tenant_id, app_id))


async def update(
    conn: AsyncConnection,
    tenant_id: str,
    app_id: str,
    app_changes: dict[str, Any],
    config_changes: dict[str, Any],
) -> dict[str, Any]:
    """Given members replace stored ones (JSON members too, as Logto's ``replace`` mode)."""
    await _saml_app(conn, tenant_id, app_id, for_update=True)
    _checked_config(config_changes)
    if "name" in app_changes and not str(app_changes["name"]).strip():
        raise ServiceError("name must not be empty", code="guard.invalid_input")
    columns = {"name": "name", "description": "description", "customData": "custom_data"}
    values = {columns[k]: v for k, v in app_changes.items()}
    if "custom_data" in values:
        values["custom_data"] = values["custom_data"] or {}
    if values:
        await app_repo.update_application(conn, tenant_id, app_id, values)
    config_values = {_CONFIG_COLUMNS[k]: v for k, v in config_changes.items()}
    if "attribute_mapping" in config_values:
        config_values["attribute_mapping"] = config_values["attribute_mapping"] or {}
    if config_values.get("name_id_format", "") is None:
        del config_values["name_id_format"]  # not nullable: null leaves it as it is
    if config_values:
        await repo.update_config(conn, tenant_id, app_id, config_values)
    return await get(conn, tenant_id, app_id)


async def delete(conn: AsyncConnection, tenant_id: str, app_id: str) -> None:
    """The application; its configuration and certificates go with it (cascade)."""
    await _saml_app(conn, tenant_id, app_id, for_update=True)
    await app_repo.delete_application(conn, tenant_id, app_id)


# Certificates ------------------------------------------------------------------------------
class KeySealer:
    """Private keys sealed with the server's encryption key (AES-256-GCM, as connector
    secrets), bound to the application and the secret: a key moved to another row does not
    open."""

    _PATH = ("privateKey",)

    def __init__(self, encryption_key: bytes) -> None:
        from portico.connectors.secrets import Sealer

        self._sealer = Sealer(encryption_key)

    def seal(self, app_id: str, secret_id: str, key_pem: str) -> dict[str, Any]:
        context = f"saml-secret:{app_id}:{secret_id}"
        return self._sealer.seal({"privateKey": key_pem}, {self._PATH}, context)

    def open(self, app_id: str, secret_id: str, sealed: dict[str, Any]) -> str | None:
        from portico.connectors.errors import ConnectorError

        try:
            opened = self._sealer.open(sealed, {self._PATH}, f"saml-secret:{app_id}:{secret_id}")
        except (ConnectorError, ValueError):
            return None
        value = opened.get("privateKey")
        return value if isinstance(value, str) else None


async def create_secret(
    conn: AsyncConnection,
    tenant_id: str,
    sealer: KeySealer,
    app_id: str,
    lifetime_years: int,
    *,
    active: bool = False,
) -> dict[str, Any]:
    """A new key and certificate; inactive unless ``active`` (then the only active one)."""
    await _saml_app(conn, tenant_id, app_id)
    # An RSA key takes a tenth of a second to make: not on the event loop.
    key_pem, cert_pem, not_after = await asyncio.to_thread(
        certificates.new_signing_pair, lifetime_years
    )
    secret_id = standard_id()
    row = {
        "tenant_id": tenant_id,
        "id": secret_id,
        "application_id": app_id,
        "private_key": sealer.seal(app_id, secret_id, key_pem),
        "certificate": cert_pem,
        "created_at": now_ms(),
        "expires_at": int(not_after.timestamp() * 1000),
        "active": False,
    }
    await repo.insert_secret(conn, row)
    if active:
        await repo.set_active(conn, tenant_id, app_id, secret_id, True)
        row["active"] = True
    return secret_out(row)


async def list_secrets(conn: AsyncConnection, tenant_id: str, app_id: str) -> list[dict[str, Any]]:
    await _saml_app(conn, tenant_id, app_id)
    return [secret_out(r) for r in await repo.list_secrets(conn, tenant_id, app_id)]


async def _secret(
    conn: AsyncConnection, tenant_id: str, app_id: str, secret_id: str
) -> dict[str, Any]:
    await _saml_app(conn, tenant_id, app_id)
    row = await repo.get_secret(conn, tenant_id, app_id, secret_id)
    if row is None:
        raise NotFound("SAML application secret", secret_id)
    return row


async def set_secret_active(
    conn: AsyncConnection, tenant_id: str, app_id: str, secret_id: str, active: bool
) -> dict[str, Any]:
    row = await _secret(conn, tenant_id, app_id, secret_id)
    if bool(row["active"]) != active:
        await repo.set_active(conn, tenant_id, app_id, secret_id, active)
    return secret_out({**row, "active": active})


async def delete_secret(conn: AsyncConnection, tenant_id: str, app_id: str, secret_id: str) -> None:
    row = await _secret(conn, tenant_id, app_id, secret_id)
    if row["active"]:
        raise _saml_error("can_not_delete_active_secret", "Can not delete the active secret.")
    await repo.delete_secret(conn, tenant_id, app_id, secret_id)


# The identity provider ---------------------------------------------------------------------
@dataclass(frozen=True)
class SamlApp:
    """What a sign-in needs: the application's IdP (active key opened) and its SP."""

    id: str
    name: str
    redirect_uri: str
    attribute_mapping: dict[str, str]
    idp: IdentityProvider
    sp: ServiceProvider | None  # None until entity ID and ACS URL are configured
    sp_missing: str | None = None  # which of the two is missing


async def load(
    conn: AsyncConnection, tenant_id: str, sealer: KeySealer, endpoint: str, app_id: str
) -> SamlApp:
    """Refusals with Logto's codes: unknown (404), not SAML (422), no active certificate."""
    app = await _saml_app(conn, tenant_id, app_id[:64])
    config = await _config(conn, tenant_id, app_id)
    secret = await repo.active_secret(conn, tenant_id, app_id)
    if secret is None:
        raise _saml_error("no_active_secret", "No active secret found.")
    key_pem = sealer.open(app_id, secret["id"], secret["private_key"])
    if key_pem is None:
        raise _saml_error("private_key_required", "Private key is required.")
    base = endpoint.rstrip("/")
    idp = IdentityProvider(
        entity_id=base + ENTITY_PATH.format(id=app_id),
        sso_url=base + SSO_PATH.format(id=app_id),
        key_pem=key_pem,
        cert_pem=secret["certificate"],
        name_id_format=config["name_id_format"],
    )
    acs, encryption = config["acs_url"] or {}, config["encryption"] or {}
    sp = None
    if config["entity_id"] and acs.get("url"):
        sp = ServiceProvider(
            entity_id=config["entity_id"],
            acs_url=acs["url"],
            certificate=encryption.get("certificate"),
            encrypt_assertion=bool(encryption.get("encryptAssertion")),
        )
    missing = None if sp else "entityId" if not config["entity_id"] else "acsUrl"
    redirect_uris = (app["oidc_client_metadata"] or {}).get("redirectUris") or [""]
    mapping = config["attribute_mapping"] or {}
    return SamlApp(app_id, app["name"], redirect_uris[0], mapping, idp, sp, missing)


def require_sp(app: SamlApp) -> ServiceProvider:
    """The SP, or Logto's refusal naming what is not configured yet."""
    if app.sp is not None:
        return app.sp
    if app.sp_missing == "entityId":
        raise _saml_error("entity_id_required", "Entity ID is required to generate metadata.")
    raise _saml_error("acs_url_required", "Assertion Consumer Service URL is required.")
