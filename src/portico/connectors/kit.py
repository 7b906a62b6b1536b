"""What a connector is: metadata + a Pydantic config model + behaviour.

A connector is a class. Its class attributes declare ``type``, ``metadata`` and
``config_model``; an instance is bound to one validated configuration and does the work
(``send_message`` for Email/Sms, ``authorization_uri`` + ``user_info`` for Social). The config
model both validates what the admin typed and renders the console's form (its JSON schema),
with ``isConfidential`` on the fields that must be encrypted at rest and masked in responses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from portico.connectors.errors import invalid_config
from portico.connectors.types import ConnectorMetadata, ConnectorType

CONFIDENTIAL: dict[str, Any] = {"isConfidential": True}
"""Pass as ``Field(json_schema_extra=CONFIDENTIAL)`` on secrets (passwords, tokens, keys)."""

C = TypeVar("C", bound=BaseModel)
# What Pydantic puts before the message of a validator's own ValueError / assert: noise to
# the admin reading it (Logto's zod messages have no such prefix).
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as ``[{path, message}]`` (the API's ``guard.invalid_input`` shape),
    never echoing the input, which may be a password; ``prefix`` goes before each path."""
    return [
        {
            "path": prefix + (".".join(str(p) for p in error["loc"]) or "config"),
            "message": _plain_message(error["msg"]),
        }
        for error in exc.errors(include_input=False, include_url=False)
    ]


def _plain_message(message: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message.removeprefix(prefix)
    return message


class Connector(ABC, Generic[C]):
    type: ClassVar[ConnectorType]
    metadata: ClassVar[ConnectorMetadata]
    config_model: ClassVar[type[BaseModel]]

    def __init__(self, config: C) -> None:
        self.config = config

    @classmethod
    def parse_config(cls, raw: Mapping[str, Any]) -> C:
        """Validate ``raw``; ``ConnectorError(connector.invalid_config)`` lists each field."""
        try:
            return cls.config_model.model_validate(dict(raw))  # type: ignore[return-value]
        except ValidationError as exc:
            errors = field_errors(exc)
            summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
            raise invalid_config(f"Invalid connector configuration: {summary}", errors) from None

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return cls.config_model.model_json_schema(by_alias=True)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> Connector[C]:
        return cls(cls.parse_config(raw))


class MessageConnector(Connector[C]):
    """Email and Sms connectors: deliver one message, rendered from a template."""

    @abstractmethod
    async def send_message(self, to: str, template_type: str, payload: dict[str, Any]) -> None:
        """Deliver or raise ``ConnectorError`` (admin and user messages, no secrets)."""


class SocialUserInfo(BaseModel):
    id: str
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    avatar: str | None = None
    rawData: dict[str, Any] | None = None


class SocialConnector(Connector[C]):
    """Social sign-in (Kakao, ...): where to send the browser, then who came back."""

    @abstractmethod
    async def authorization_uri(
        self,
        *,
        state: str,
        redirect_uri: str,
        connector_id: str,
        session: dict[str, Any],
        scope: str | None = None,
    ) -> str:
        """The provider's authorization URL; put what ``user_info`` needs back in ``session``."""

    @abstractmethod
    async def user_info(self, data: dict[str, Any], session: dict[str, Any]) -> SocialUserInfo:
        """Exchange the callback ``data`` (e.g. ``{code, redirectUri}``) for the user."""
