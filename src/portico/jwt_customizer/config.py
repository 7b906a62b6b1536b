"""The two customizers as Logto keeps them: ``logto_configs`` rows ``jwt.accessToken`` and
``jwt.clientCredentials`` holding ``{script, environmentVariables?, contextSample?,
tokenSample?, blockIssuanceOnError?}``.

Logto stores environment variables in clear; here the map is sealed with the server's
encryption key (AES-256-GCM, as connector secrets), bound to the tenant and the row, and
opened only to answer the Management API (which shows them, as Logto's does) and to run the
script. Bodies are checked as strictly as Logto's guards (unknown members refused).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.connectors.errors import ConnectorError
from portico.connectors.secrets import Sealer
from portico.services.errors import NotFound, ServiceError
from portico.storage import configs
from portico.storage import jwt_customizer as repo

SEALED_PATH = ("environmentVariables",)
MAX_SCRIPT = 64 * 1024  # characters; Logto sets no bound, a request body has one (1 MiB)


class TokenType(StrEnum):
    """The path segment (Logto's ``LogtoJwtTokenKeyType``) and the row key it names."""

    ACCESS_TOKEN = "access-token"
    CLIENT_CREDENTIALS = "client-credentials"

    @property
    def key(self) -> str:
        return KEYS[self]


KEYS = {
    TokenType.ACCESS_TOKEN: "jwt.accessToken",
    TokenType.CLIENT_CREDENTIALS: "jwt.clientCredentials",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class TokenBase(_Strict):
    jti: str | None = None
    aud: str | list[str] | None = None
    scope: str | None = None
    clientId: str | None = None


class AccessTokenSample(TokenBase):
    accountId: str | None = None
    expiresWithSession: bool | None = None
    grantId: str | None = None
    gty: str | None = None
    sessionUid: str | None = None
    sid: str | None = None
    kind: Literal["AccessToken"] | None = None


class ClientCredentialsSample(TokenBase):
    kind: Literal["ClientCredentials"] | None = None


class AccessTokenContext(_Strict):
    """Logto's partial context guards: the members' own fields are not checked further."""

    user: dict[str, Any]
    grant: dict[str, Any] | None = None
    interaction: dict[str, Any] | None = None
    application: dict[str, Any] | None = None
    organization: dict[str, Any] | None = None


class ClientCredentialsContext(_Strict):
    application: dict[str, Any] | None = None


class _Customizer(_Strict):
    script: str = Field(max_length=MAX_SCRIPT)
    environmentVariables: dict[str, str] | None = None
    blockIssuanceOnError: bool | None = None


class AccessTokenCustomizer(_Customizer):
    tokenSample: AccessTokenSample | None = None
    contextSample: AccessTokenContext | None = None


class ClientCredentialsCustomizer(_Customizer):
    tokenSample: ClientCredentialsSample | None = None
    contextSample: ClientCredentialsContext | None = None


MODELS: dict[TokenType, type[_Customizer]] = {
    TokenType.ACCESS_TOKEN: AccessTokenCustomizer,
    TokenType.CLIENT_CREDENTIALS: ClientCredentialsCustomizer,
}


def _context(tenant_id: str, key: str) -> str:
    return f"jwt-customizer:{tenant_id}:{key}"


def seal(sealer: Sealer, tenant_id: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
    if value.get("environmentVariables") is None:
        return value
    return sealer.seal(value, {SEALED_PATH}, _context(tenant_id, key))


def open_value(sealer: Sealer, tenant_id: str, key: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored value with its environment variables in clear; sealed with another
    encryption key it does not open (500 ``jwt_customizer.general``, saying so)."""
    try:
        return sealer.open(stored, {SEALED_PATH}, _context(tenant_id, key))
    except ConnectorError as problem:  # sealed with another encryption key
        raise ServiceError(
            problem.admin_message, code="jwt_customizer.general", status=500
        ) from None


async def read(
    conn: AsyncConnection, sealer: Sealer, tenant_id: str, token_type: TokenType
) -> dict[str, Any] | None:
    stored = await configs.get(conn, tenant_id, token_type.key)
    return None if stored is None else open_value(sealer, tenant_id, token_type.key, stored)


async def get(
    conn: AsyncConnection, sealer: Sealer, tenant_id: str, token_type: TokenType
) -> dict[str, Any]:
    """Logto: 404 ``entity.not_exists_with_id`` when there is none."""
    found = await read(conn, sealer, tenant_id, token_type)
    if found is None:
        raise NotFound("logto_config", token_type.key)
    return found


async def list_all(conn: AsyncConnection, sealer: Sealer, tenant_id: str) -> list[dict[str, Any]]:
    """``[{key, value}]`` in Logto's order (access token first), only those that exist."""
    found = []
    for token_type in TokenType:
        value = await read(conn, sealer, tenant_id, token_type)
        if value is not None:
            found.append({"key": token_type.key, "value": value})
    return found


async def put(
    conn: AsyncConnection,
    sealer: Sealer,
    tenant_id: str,
    token_type: TokenType,
    body: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    """``(stored value, created)``: the whole value is replaced."""
    value = MODELS[token_type].model_validate(body).model_dump(exclude_none=True)
    existed = await configs.get(conn, tenant_id, token_type.key, for_update=True) is not None
    await configs.put(
        conn, tenant_id, token_type.key, seal(sealer, tenant_id, token_type.key, value)
    )
    return value, not existed


async def patch(
    conn: AsyncConnection,
    sealer: Sealer,
    tenant_id: str,
    token_type: TokenType,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Members given replace the stored ones (Logto's ``{...origin, ...body}``)."""
    current = await get(conn, sealer, tenant_id, token_type)
    merged = {**current, **{k: v for k, v in body.items()}}
    value = MODELS[token_type].model_validate(merged).model_dump(exclude_none=True)
    await configs.put(
        conn, tenant_id, token_type.key, seal(sealer, tenant_id, token_type.key, value)
    )
    return value


async def delete(conn: AsyncConnection, tenant_id: str, token_type: TokenType) -> None:
    """Logto: 404 ``entity.not_found`` when there was none."""
    if not await repo.delete_config(conn, tenant_id, token_type.key):
        raise ServiceError("Entity not found.", code="entity.not_found", status=404)
