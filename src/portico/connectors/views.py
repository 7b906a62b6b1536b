"""Connector objects as Logto's API returns them (factory metadata spread at the top level,
the stored row's fields beside it), with confidential config values masked."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from portico.connectors import secrets
from portico.connectors.errors import invalid_config
from portico.connectors.kit import Connector, field_errors
from portico.services.urls import PublicUrl

OVERRIDABLE = ("target", "name", "logo", "logoDark")  # what a row's ``metadata`` may replace


class MetadataOverride(BaseModel):
    """A row's ``metadata``: what it may replace of the factory's (Logto's partial connector
    metadata). The logos are shown on the public sign-in page, so they follow the one rule
    for configured URLs (``services/urls.py``); unknown members are refused."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    name: dict[str, Annotated[str, Field(max_length=128)]] | None = Field(None, max_length=50)
    logo: PublicUrl | None = None
    logoDark: PublicUrl | None = None


def checked_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` as stored (members left unset are dropped); ``connector.invalid_config``
    naming each wrong member otherwise."""
    try:
        parsed = MetadataOverride.model_validate(metadata)
    except ValidationError as error:
        problems = field_errors(error, prefix="metadata.")
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        raise invalid_config(f"Invalid connector metadata: {summary}", problems) from None
    return parsed.model_dump(exclude_unset=True)


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
