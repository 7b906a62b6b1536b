"""Grant types, looked up by ``grant_type`` in a registry (never an if/elif chain).

A grant module declares its ``grant_type`` and registers one handler with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from portico.protocol.params import Params
from portico.protocol.provider import Provider
from portico.services.applications import Client

GrantHandler = Callable[[Provider, Client, Params], Awaitable[dict[str, Any]]]
_REGISTRY: dict[str, GrantHandler] = {}


def register(grant_type: str) -> Callable[[GrantHandler], GrantHandler]:
    def decorate(handler: GrantHandler) -> GrantHandler:
        _REGISTRY[grant_type] = handler
        return handler

    return decorate


def handler_for(grant_type: str) -> GrantHandler | None:
    return _REGISTRY.get(grant_type)


def supported() -> list[str]:
    return sorted(_REGISTRY)


def load_builtin() -> None:
    """Import the built-in grant modules so that they register themselves."""
    from portico.protocol import device  # noqa: F401  (RFC 8628's grant lives with its endpoint)
    from portico.protocol.grants import (  # noqa: F401
        authorization_code,
        client_credentials,
        refresh_token,
        token_exchange,
    )
