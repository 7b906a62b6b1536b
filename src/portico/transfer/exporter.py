"""Writing an export: a header, every record in dependency order, an end line.

Everything is read in one transaction (``REPEATABLE READ`` on PostgreSQL), so the file is a
consistent snapshot even while the instance keeps serving. Rows that every instance seeds
identically (the Management API resource, its scope and role) are left out: the target has
them already. Sealed values (connector secrets, TOTP keys) are written as stored, sealed; the
header's ``encryptionKeyCheck`` tells the importer whether its key is the one they need.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portico import __version__
from portico.services import bootstrap
from portico.services import sign_in_experience as sie_service
from portico.storage.database import now_ms
from portico.storage.tables import user_mfa_factors
from portico.transfer.records import FORMAT, KINDS, VERSION, data_of, encryption_key_check

SEEDED: dict[str, set[str]] = {
    "resource": {bootstrap.MANAGEMENT_API_RESOURCE_ID},
    "scope": {bootstrap.MANAGEMENT_API_SCOPE_ID},
    "role": {bootstrap.MANAGEMENT_API_ROLE_ID},
    "application": {bootstrap.ACCOUNT_APP_ID},
}


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _is_seeded(kind: str, data: dict[str, Any]) -> bool:
    if kind == "roleScope":
        return data["roleId"] in SEEDED["role"] and data["scopeId"] in SEEDED["scope"]
    return data.get("id") in SEEDED.get(kind, set())


def _of_tenant(query: Any, table: Table, tenant_id: str) -> Any:
    if "tenant_id" in table.c:
        return query.where(table.c.tenant_id == tenant_id)
    # Backup codes belong to a tenant through their factor.
    factors = user_mfa_factors
    [fk] = [fk for fk in table.foreign_keys if fk.column.table is factors]
    return query.join_from(table, factors, fk.parent == factors.c.id).where(
        factors.c.tenant_id == tenant_id
    )


def _query(table: Table, tenant_id: str) -> Any:
    keys = list(table.primary_key.columns)
    return _of_tenant(select(table), table, tenant_id).order_by(*keys)


async def _count(conn: AsyncConnection, table: Table, tenant_id: str) -> int:
    query = _of_tenant(select(func.count()).select_from(table), table, tenant_id)
    return int((await conn.execute(query)).scalar_one())


# Kinds whose records may hold values sealed with the encryption key: an export holding any
# says which key (the importer re-seals or refuses by it).
SEALED_KINDS = (
    "connector",
    "userMfaFactor",
    "ssoConnector",
    "applicationSecret",
    "samlApplicationSecret",
    "samlSsoConnectorSigningKey",
    "hook",
)


async def export(
    engine: AsyncEngine,
    tenant_id: str,
    out: TextIO,
    *,
    encryption_key: Callable[[], bytes],
    on_total: Callable[[int], None] = lambda total: None,
    on_record: Callable[[], None] = lambda: None,
) -> dict[str, int]:
    """Write the tenant's data to ``out``; return how many records of each kind.
    ``encryption_key`` is only called when there are connectors or MFA factors (to tag the
    key their secrets are sealed, or their backup codes keyed, with); the progress callbacks
    get the expected total, then one call per record."""
    counts: dict[str, int] = dict.fromkeys(KINDS, 0)
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        await conn.begin()
        sizes = {
            name: await _count(conn, kind.table, tenant_id)
            for name, kind in KINDS.items()
            if kind.table is not None
        }
        on_total(sum(sizes.values()) + 1)  # +1: the sign-in experience
        header: dict[str, Any] = {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "exportedAt": now_ms(),
            "tenantId": tenant_id,
            "generator": f"portico {__version__}",
        }
        if any(sizes[kind] for kind in SEALED_KINDS):
            header["encryptionKeyCheck"] = encryption_key_check(encryption_key())
        out.write(_line(header))
        for name, kind in KINDS.items():
            if kind.table is None:  # the sign-in experience: one record, Logto's JSON shape
                sie = await sie_service.read(conn, tenant_id)
                data = sie.model_dump(mode="json", exclude={"tenantId"})
                out.write(_line({"type": name, "data": data}))
                counts[name] += 1
                on_record()
                continue
            result = await conn.stream(_query(kind.table, tenant_id))
            async for row in result:
                data = data_of(dict(row._mapping))
                on_record()
                if _is_seeded(name, data):
                    continue
                out.write(_line({"type": name, "data": data}))
                counts[name] += 1
        await conn.rollback()  # read only
    out.write(_line({"type": "end", "records": sum(counts.values()), "counts": counts}))
    return counts
