"""Enterprise SSO providers (Logto's SSO connector factories): each is a
:class:`portico.sso.base.Provider` subclass, registered here under Logto's ``providerName``.

Adding a provider is one more entry in :data:`BUILTIN`; everything else (the Management
API's provider list, config validation, sealing, sign-in) reads :data:`PROVIDERS`.
"""

from __future__ import annotations

from portico.sso.base import (
    Authorization,
    Identity,
    Provider,
    ProviderType,
    SsoError,
    SsoErrorCode,
)
from portico.sso.oidc import AzureOidcProvider, GoogleWorkspaceProvider, OidcProvider, OktaProvider
from portico.sso.saml import AzureAdSamlProvider, SamlProvider

# Logto's order (its provider list): standard protocols first, then the presets.
BUILTIN: tuple[type[Provider], ...] = (  # type: ignore[type-arg]
    OidcProvider,
    SamlProvider,
    AzureAdSamlProvider,
    AzureOidcProvider,
    GoogleWorkspaceProvider,
    OktaProvider,
)
PROVIDERS: dict[str, type[Provider]] = {p.provider_name: p for p in BUILTIN}  # type: ignore[type-arg]


def register(provider: type[Provider]) -> None:  # type: ignore[type-arg]
    """Make ``provider`` available under its ``providerName`` (a plug-in's provider)."""
    PROVIDERS[provider.provider_name] = provider


def provider_class(name: str) -> type[Provider] | None:  # type: ignore[type-arg]
    return PROVIDERS.get(name)


__all__ = [
    "BUILTIN",
    "PROVIDERS",
    "Authorization",
    "Identity",
    "Provider",
    "ProviderType",
    "SsoError",
    "SsoErrorCode",
    "provider_class",
    "register",
]
