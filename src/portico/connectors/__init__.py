"""Connectors: the kit (types, config models, registry via entry points) and the service the
rest of Portico calls to send a message through a tenant's configured Email or Sms connector."""

from portico.connectors.errors import ConnectorError
from portico.connectors.kit import Connector, MessageConnector, SocialConnector, SocialUserInfo
from portico.connectors.registry import registry
from portico.connectors.service import Connectors
from portico.connectors.types import (
    ConnectorMetadata,
    ConnectorPlatform,
    ConnectorType,
    TemplateType,
)

__all__ = [
    "Connector",
    "ConnectorError",
    "ConnectorMetadata",
    "ConnectorPlatform",
    "ConnectorType",
    "Connectors",
    "MessageConnector",
    "SocialConnector",
    "SocialUserInfo",
    "TemplateType",
    "registry",
]
