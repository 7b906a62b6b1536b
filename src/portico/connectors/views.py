"""Connector objects as Logto's API returns them (factory metadata spread at the top level,
the stored row's fields beside it), with confidential config values masked."""

from __future__ import annotations

from typing import Any

from portico.connectors import secrets
from portico.connectors.kit import Connector

OVERRIDABLE = ("target", "name", "logo", "logoDark")  # what a row's ``metadata`` may replace


def factory_view(factory: type[Connector]) -> dict[str, Any]:  # type: ignore[type-arg]
    return {
        **factory.metadata.model_dump(mode="json"),
        "type": factory.type.value,
        "isDemo": False,
        "configSchema": factory.config_schema(),
    }


def connector_view(
    factory: type[Connector],  # type: ignore[type-arg]
    row: dict[str, Any],
    plain_config: dict[str, Any],
) -> dict[str, Any]:
    view = factory_view(factory)
    overrides = row["metadata"] or {}
    view.update({k: overrides[k] for k in OVERRIDABLE if overrides.get(k)})
    paths = secrets.confidential_paths(view["configSchema"])
    view.update(
        {
            "id": row["id"],
            "tenantId": row["tenant_id"],
            "connectorId": row["connector_id"],
            "config": secrets.mask(plain_config, paths),
            "metadata": overrides,
            "syncProfile": bool(row["sync_profile"]),
            "createdAt": row["created_at"],
        }
    )
    return view
