"""A social provider's account (Kakao, Google, any OIDC provider the admin enabled) proves
an identity: the provider's page is opened with a ``state`` bound to this interaction, and
its callback is accepted only with that state, once, before the provider is called.

``identify_user`` answers whose account the identity is: the user it is linked to, else the
user who owns the provider's (verified) email or phone (a link candidate), else nobody.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from portico.connectors import ConnectorError
from portico.connectors.kit import SocialUserInfo
from portico.connectors.social import SocialErrorCode
from portico.experience import accounts
from portico.experience.answers import StepError
from portico.experience.verifications.callback_state import spend_state
from portico.experience.verifications.kinds import VerificationType
from portico.services import emails, identities, phones

if TYPE_CHECKING:
    from portico.experience.turn import Turn

log = logging.getLogger("portico.experience")

MAX_CALLBACK_PARAMS = 32


@dataclass(frozen=True)
class SocialMatch:
    """Whose account a provider identity is: ``user_id`` when linked to one; otherwise
    ``related``, the user with the provider's email or phone (None when nobody has it), and
    ``related_by``, which of the two it shares (``email`` or ``phone``)."""

    user_id: str | None = None
    related: dict[str, Any] | None = None
    related_by: str | None = None


@dataclass
class SocialVerification:
    connector_id: str
    provider: str  # the connector's display name, for messages
    redirect_uri: str
    state: str | None = None  # until the callback comes back (single use)
    session: dict[str, Any] = field(default_factory=dict)  # what the connector keeps
    identity: dict[str, Any] | None = None  # target, id, details, provider, syncProfile
    info: dict[str, Any] | None = None  # the provider's profile (normalised)

    type: ClassVar[VerificationType] = VerificationType.SOCIAL

    @property
    def verified(self) -> bool:
        return self.identity is not None

    @classmethod
    async def start(
        cls, turn: Turn, connector_id: str, provider: str, *, state: str, redirect_uri: str
    ) -> tuple[SocialVerification, str]:
        """The record and the provider's authorization URL."""
        connectors = turn.services.connectors
        assert connectors is not None
        record = cls(connector_id, provider, redirect_uri, state)
        try:
            connector, _ = await connectors.social(turn.tenant, connector_id)
            url: str = await connector.authorization_uri(
                state=state,
                redirect_uri=redirect_uri,
                connector_id=connector_id,
                session=record.session,
            )
        except ConnectorError as error:
            log.warning("social sign-in %s could not start: %s", connector_id, error.admin_message)
            raise StepError("error.social_failed", 502, provider=provider) from None
        return record, url

    def take_state(self, connector_id: str, state: str) -> None:
        """The callback's ``state``, spent once (``callback_state.spend_state``)."""
        spend_state(self, connector_id, state, "error.social_state")

    async def verify(self, turn: Turn, params: dict[str, str]) -> None:
        """The provider's callback parameters (after :meth:`take_state`): the provider's
        user, checked by the connector, normalised to the stored forms."""
        connectors = turn.services.connectors
        assert connectors is not None
        if params.get("error"):
            log.info("social sign-in %s ended by the provider: %s", self.connector_id,
                     params["error"][:64])  # fmt: skip
            raise StepError("error.social_cancelled", 400, provider=self.provider)
        try:
            connector, found = await connectors.social(turn.tenant, self.connector_id)
            info = await connector.user_info(
                {**params, "redirectUri": self.redirect_uri}, self.session
            )
        except ConnectorError as error:
            log.warning("social sign-in %s failed: [%s/%s] %s", self.connector_id, error.code,
                        error.reason, error.admin_message)  # fmt: skip
            await turn.audit(
                "Interaction.SignIn.Verification.Social.Submit",
                error=error.code,
                connectorId=self.connector_id,
                reason=error.reason,
            )
            if error.code == SocialErrorCode.AuthorizationFailed:
                raise StepError("error.social_cancelled", 400, provider=self.provider) from None
            raise StepError("error.social_failed", 502, provider=self.provider) from None
        info = normalised(info)
        self.session = {}
        self.identity = {
            "target": found["target"],
            "id": info.id,
            "details": details_of(info),
            "provider": self.provider,
            "syncProfile": bool(found.get("syncProfile")),
        }
        self.info = info.model_dump(exclude={"rawData"})

    async def identify_user(self, turn: Turn) -> SocialMatch:
        identity = self.identity
        if identity is None or self.info is None:
            raise StepError("error.verification_incomplete", 400)
        async with turn.engine.connect() as conn:
            user_id = await identities.find_user_id(
                conn, turn.tenant, identity["target"], identity["id"]
            )
        if user_id:
            return SocialMatch(user_id=str(user_id))
        return await related_user(turn, self.info)

    def to_json(self) -> dict[str, Any]:
        data = {
            "type": self.type.value,
            "connectorId": self.connector_id,
            "provider": self.provider,
            "redirectUri": self.redirect_uri,
            "state": self.state,
            "session": self.session or None,
            "identity": self.identity,
            "info": self.info,
            "verified": self.verified,
        }
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SocialVerification:
        return cls(
            str(data["connectorId"]),
            str(data.get("provider") or data["connectorId"]),
            str(data.get("redirectUri") or ""),
            data.get("state"),
            dict(data.get("session") or {}),
            data.get("identity"),
            data.get("info"),
        )


async def related_user(turn: Turn, info: dict[str, Any]) -> SocialMatch:
    """The user who owns the provider's (verified) email, else its phone number."""
    for kind in ("email", "phone"):
        if value := info.get(kind):
            user = await accounts.owner(turn.engine, turn.tenant, value)
            if user is not None:
                return SocialMatch(related=user, related_by=kind)
    return SocialMatch()


def normalised(info: SocialUserInfo) -> SocialUserInfo:
    """The provider's email and phone number in the one stored form (``services/emails``,
    E.164 digits), so they find and link the same account a typed one would; one that has
    no such form is not used at all."""
    return info.model_copy(
        update={
            "email": info.email and emails.canonical(info.email),
            "phone": info.phone and phones.normalise(info.phone),
        }
    )


def details_of(info: SocialUserInfo) -> dict[str, Any]:
    """What Logto keeps under ``identities[target].details``."""
    details: dict[str, Any] = {"id": info.id}
    for key in ("name", "email", "phone", "avatar"):
        if getattr(info, key):
            details[key] = getattr(info, key)
    if info.rawData is not None:
        details["rawData"] = info.rawData
    return details
