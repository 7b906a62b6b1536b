"""IdP-initiated SAML sign-in (Logto's ``SsoConnectorIdpInitiatedAuthConfig``): which
application a user lands in when their IdP posts an unsolicited response to a SAML
connector's ACS, and how.

- ``autoSendAuthorizationRequest: true``: Portico itself starts an authorization request
  for ``defaultApplicationId`` (a first-party Traditional application, or a SAML
  application) at ``redirectUri`` or its first registered one, with ``prompt=login``,
  ``direct_sign_in=sso:<connector>`` and ``openid profile`` plus the configured scopes
  (never ``offline_access`` unless asked: Logto's rule);
- otherwise the browser goes to the client's ``clientIdpInitiatedAuthCallbackUri`` with
  ``ssoConnectorId``, and the client starts the request (its own state then guards it).

Without a config an unsolicited response is refused.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncConnection

from portico.services import applications
from portico.services import sso_connectors as sso
from portico.services.applications import AppType
from portico.services.errors import ServiceError
from portico.sso import ProviderType, provider_class
from portico.storage import sso_idp_initiated as repo


async def put(
    conn: AsyncConnection, tenant_id: str, connector_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``PUT /sso-connectors/:id/idp-initiated-auth-config``, Logto's checks in its order."""
    stored = await sso.row(conn, tenant_id, connector_id)
    cls = provider_class(stored["provider_name"])
    if cls is None or cls.provider_type is not ProviderType.SAML:
        raise ServiceError(
            "IdP-initiated sign-in is only for SAML connectors.",
            code="single_sign_on.idp_initiated_authentication_not_supported",
            status=400,
        )
    app = await applications.get_application(conn, tenant_id, body["defaultApplicationId"])
    auto = bool(body["autoSendAuthorizationRequest"])
    _check_application(app, auto, body)
    row = {
        "tenant_id": tenant_id,
        "connector_id": connector_id,
        "default_application_id": app["id"],
        "redirect_uri": body.get("redirectUri") if auto else None,
        "auth_parameters": (body.get("authParameters") or {}) if auto else {},
        "auto_send_authorization_request": auto,
        "client_idp_initiated_auth_callback_uri": (
            None if auto else body.get("clientIdpInitiatedAuthCallbackUri")
        ),
        "created_at": int(time.time() * 1000),
    }
    await repo.replace(conn, row)
    return row


def _check_application(app: dict[str, Any], auto: bool, body: dict[str, Any]) -> None:
    first_party_web = app["type"] == AppType.TRADITIONAL and not app["is_third_party"]
    allowed = first_party_web or app["type"] == AppType.SAML
    if not auto:
        allowed = allowed or app["type"] == AppType.SPA
    if not allowed:
        kinds = "Traditional, SAML" if auto else "Traditional, SPA, SAML"
        raise ServiceError(
            f"The default application must be of type {kinds}.",
            code="single_sign_on.idp_initiated_authentication_invalid_application_type",
            status=400,
            data={"type": kinds},
        )
    if auto:
        uri = body.get("redirectUri")
        if uri and uri not in (app["oidc_client_metadata"].get("redirectUris") or []):
            raise ServiceError(
                "The redirect URI is not registered for the default application.",
                code="single_sign_on.idp_initiated_authentication_redirect_uri_not_registered",
                status=400,
            )
    elif not body.get("clientIdpInitiatedAuthCallbackUri"):
        raise ServiceError(
            "clientIdpInitiatedAuthCallbackUri is required",
            code="guard.invalid_input",
            status=400,
        )


async def get(conn: AsyncConnection, tenant_id: str, connector_id: str) -> dict[str, Any]:
    found = await repo.get(conn, tenant_id, connector_id)
    if found is None:
        raise ServiceError(
            "The IdP-initiated sign-in config was not found.", code="entity.not_found", status=404
        )
    return found


async def find(conn: AsyncConnection, tenant_id: str, connector_id: str) -> dict[str, Any] | None:
    return await repo.get(conn, tenant_id, connector_id)


async def delete(conn: AsyncConnection, tenant_id: str, connector_id: str) -> None:
    await repo.delete_for(conn, tenant_id, connector_id)


def out(row: dict[str, Any]) -> dict[str, Any]:
    """Logto's ``SsoConnectorIdpInitiatedAuthConfig``."""
    return {
        "tenantId": row["tenant_id"],
        "connectorId": row["connector_id"],
        "defaultApplicationId": row["default_application_id"],
        "redirectUri": row["redirect_uri"],
        "authParameters": row["auth_parameters"] or {},
        "autoSendAuthorizationRequest": row["auto_send_authorization_request"],
        "clientIdpInitiatedAuthCallbackUri": row["client_idp_initiated_auth_callback_uri"],
        "createdAt": row["created_at"],
    }


async def destination(
    conn: AsyncConnection, tenant_id: str, row: dict[str, Any], issuer: str
) -> str:
    """Where the browser goes once the unsolicited response was accepted (see the module)."""
    connector_id = row["connector_id"]
    if not row["auto_send_authorization_request"]:
        uri = str(row["client_idp_initiated_auth_callback_uri"] or "")
        if not uri:
            raise ServiceError(
                "The client's IdP-initiated callback URI is not configured.",
                code="single_sign_on.idp_initiated_authentication_client_callback_uri_not_found",
                status=400,
            )
        return f"{uri}{'&' if '?' in uri else '?'}{urlencode({'ssoConnectorId': connector_id})}"
    redirect_uri = row["redirect_uri"]
    if not redirect_uri:
        app = await applications.get_application(conn, tenant_id, row["default_application_id"])
        registered = app["oidc_client_metadata"].get("redirectUris") or []
        redirect_uri = registered[0] if registered else None
    if not redirect_uri:
        raise ServiceError(
            "The default application has no redirect URI.",
            code="oidc.invalid_redirect_uri",
            status=400,
        )
    extra = {k: str(v) for k, v in dict(row["auth_parameters"] or {}).items() if k != "scope"}
    scopes = ["openid", "profile", *str((row["auth_parameters"] or {}).get("scope") or "").split()]
    query = {
        **extra,
        "client_id": row["default_application_id"],
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "prompt": "login",
        "direct_sign_in": f"sso:{connector_id}",
        "scope": " ".join(dict.fromkeys(scopes)),
    }
    return f"{issuer}/auth?{urlencode(query)}"
