"""An organization's identity provider (an SSO connector: OIDC, later SAML) proves who the
user is. Logto's ``EnterpriseSsoVerification``: the provider's page is opened with a
``state`` bound to this interaction, the callback is accepted only with that state, once,
before the provider is called, and the provider's answer becomes an identity
``{issuer, id, email (verified only), name, avatar, detail}``.

``identify_user`` answers whose account it is: the user the identity is linked to; else the
user who owns the provider's verified email (Logto links SSO identities to that account
automatically: the email's domain is the organization's); else nobody (a new account).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.verifications.callback_state import spend_state
from portico.experience.verifications.kinds import VerificationType
from portico.services import emails
from portico.services import sso_connectors as sso
from portico.services import sso_signing_keys as signing_keys
from portico.sso import Provider, SsoError
from portico.sso.saml import SamlProvider

if TYPE_CHECKING:
    from portico.experience.turn import Turn

log = logging.getLogger("portico.experience")

MAX_CALLBACK_PARAMS = 32


@dataclass(frozen=True)
class SsoMatch:
    """``user_id`` when the identity is linked to a user; otherwise ``related``, the user
    with the provider's verified email (None when nobody has it)."""

    user_id: str | None = None
    related: dict[str, Any] | None = None


async def connector(turn: Turn, connector_id: str) -> tuple[dict[str, Any], Provider]:  # type: ignore[type-arg]
    """A connector usable for sign-in and its provider; ``error.sso_not_found`` when there
    is no such connector, it has no domain or single sign-on is off, ``error.sso_failed``
    when its config is broken."""
    async with turn.engine.connect() as conn:
        found = await sso.for_connector(conn, turn.tenant, connector_id)
        signing = None
        if found is not None and signing_keys.signs_requests(found["config"] or {}):
            signing = await signing_keys.credential(
                conn, turn.tenant, turn.mfa_keys.sealer, connector_id
            )
    if found is None or not turn.sie.singleSignOnEnabled:
        raise StepError("error.sso_not_found", 404)
    name = display_name(found)
    try:
        endpoint = turn.provider.issuer.removesuffix("/oidc")
        provider = sso.instance(turn.mfa_keys.sealer, found, endpoint)
        if signing is not None and isinstance(provider, SamlProvider):
            provider.request_key = signing.key_pem  # signed AuthnRequests
        return found, provider
    except SsoError as error:
        log.warning("SSO connector %s is misconfigured: %s", connector_id, error.message)
        raise StepError("error.sso_failed", 500, provider=name, code=error.code) from None


def display_name(row: dict[str, Any]) -> str:
    return str((row.get("branding") or {}).get("displayName") or row["connector_name"])


@dataclass
class EnterpriseSsoVerification:
    connector_id: str
    provider: str  # the connector's display name, for messages
    redirect_uri: str
    state: str | None = None  # until the callback comes back (single use)
    session: dict[str, Any] = field(default_factory=dict)  # what the provider keeps
    identity: dict[str, Any] | None = None  # issuer, id, email, name, avatar, detail...

    type: ClassVar[VerificationType] = VerificationType.ENTERPRISE_SSO

    @property
    def verified(self) -> bool:
        return self.identity is not None

    @classmethod
    async def start(
        cls, turn: Turn, connector_id: str, *, state: str, redirect_uri: str
    ) -> tuple[EnterpriseSsoVerification, str]:
        """The record and the provider's authorization URL."""
        row, provider = await connector(turn, connector_id)
        record = cls(connector_id, display_name(row), redirect_uri, state)
        try:
            authorization = await provider.authorization(state=state, redirect_uri=redirect_uri)
        except SsoError as error:
            await _failed(turn, connector_id, error, "Create")
            raise StepError(
                "error.sso_failed", 500, provider=record.provider, code=error.code
            ) from None
        record.session = authorization.session
        await turn.audit(
            "Interaction.SignIn.Identifier.SingleSignOn.Create", connectorId=connector_id
        )
        return record, authorization.url

    def take_state(self, connector_id: str, state: str) -> None:
        """The callback's ``state``, spent once (``callback_state.spend_state``)."""
        spend_state(self, connector_id, state, "error.sso_state")

    async def verify(self, turn: Turn, data: dict[str, str]) -> None:
        """The provider's callback (after :meth:`take_state`): the identity, checked."""
        row, provider = await connector(turn, self.connector_id)
        try:
            found = await provider.verify(data, self.session)
        except SsoError as error:
            await _failed(turn, self.connector_id, error, "Submit")
            raise StepError(
                "error.sso_failed", 500, provider=self.provider, code=error.code
            ) from None
        email = emails.canonical(found.email) if found.email and found.email_verified else None
        self.session = {}
        self.identity = {
            "connectorId": self.connector_id,
            "issuer": found.issuer,
            "id": found.id,
            "email": email,
            "name": found.name,
            "avatar": found.avatar,
            "syncProfile": bool(row["sync_profile"]),
            "detail": {**found.raw, "id": found.id},
        }
        await turn.audit(
            "Interaction.SignIn.Identifier.SingleSignOn.Submit",
            connectorId=self.connector_id,
            issuer=found.issuer,
            identityId=found.id,
        )

    async def identify_user(self, turn: Turn) -> SsoMatch:
        identity = self.identity
        if identity is None:
            raise StepError("error.verification_incomplete", 400)
        async with turn.engine.connect() as conn:
            linked = await sso.find_identity(conn, turn.tenant, identity["issuer"], identity["id"])
        if linked is not None:
            return SsoMatch(user_id=str(linked["user_id"]))
        if identity.get("email"):
            return SsoMatch(
                related=await accounts.owner(turn.engine, turn.tenant, identity["email"])
            )
        return SsoMatch()

    def to_json(self) -> dict[str, Any]:
        data = {
            "type": self.type.value,
            "connectorId": self.connector_id,
            "provider": self.provider,
            "redirectUri": self.redirect_uri,
            "state": self.state,
            "session": self.session or None,
            "identity": self.identity,
            "verified": self.verified,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnterpriseSsoVerification:
        return cls(
            str(data["connectorId"]),
            str(data.get("provider") or data["connectorId"]),
            str(data.get("redirectUri") or ""),
            data.get("state"),
            dict(data.get("session") or {}),
            data.get("identity"),
        )


async def _failed(turn: Turn, connector_id: str, error: SsoError, step: str) -> None:
    log.warning(
        "SSO sign-in %s failed: [%s/%s] %s", connector_id, error.code, error.reason, error.message
    )
    await turn.audit(
        f"Interaction.SignIn.Identifier.SingleSignOn.{step}",
        error=error.code,
        connectorId=connector_id,
        reason=error.reason,
    )


async def connectors_for(turn: Turn, email: str) -> list[dict[str, Any]]:
    """The connectors an email must sign in through (its domain is theirs), when single
    sign-on is on; ``[]`` otherwise."""
    if not turn.sie.singleSignOnEnabled or "@" not in email:
        return []
    async with turn.engine.connect() as conn:
        return await sso.for_email(conn, turn.tenant, email)
