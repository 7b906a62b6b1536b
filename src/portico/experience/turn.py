"""One request's hold on a sign-in interaction, as the engine sees it: no HTTP.

A front end (the hosted pages, the Experience API) builds a :class:`Turn` from its request
and hands it to the engine's steps. The turn carries the interaction artifact and its typed
state, the tenant's sign-in experience, the running server's services and who is asking
(address, user agent, application, language) for audit entries and messages. The engine
reads and changes ``turn.state``; :meth:`Turn.save` writes it back with the artifact, so any
process can serve the interaction's next request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from portico.experience.interaction import Event, ExperienceState
from portico.ids import digest
from portico.protocol import sessions as sessions_mod
from portico.services import audit, webhook_events
from portico.services.bootstrap import DEFAULT_TENANT

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from portico.connectors import Connectors
    from portico.experience.codes import VerificationCodes
    from portico.experience.sentinel import Sentinel
    from portico.protocol.provider import Provider
    from portico.services.mfa import MfaKeys
    from portico.services.sign_in_experience import SignInExperience


class Services(Protocol):
    """What the engine uses of the running server (``web.runtime.Runtime`` is one)."""

    @property
    def engine(self) -> AsyncEngine | None: ...
    @property
    def provider(self) -> Provider | None: ...
    @property
    def codes(self) -> VerificationCodes | None: ...
    @property
    def sentinel(self) -> Sentinel | None: ...
    @property
    def connectors(self) -> Connectors | None: ...
    @property
    def mfa_keys(self) -> MfaKeys | None: ...
    def spawn(self, work: Coroutine[object, object, None]) -> None: ...


@dataclass(frozen=True)
class Origin:
    """Who asks: recorded with audit entries and given to message templates."""

    ip: str | None = None
    user_agent: str | None = None
    application_id: str | None = None
    application_name: str | None = None
    locale: str = "en"
    ui_locales: str = ""
    host: str = "localhost"  # the server's host name as asked for (TOTP issuer, WebAuthn RP ID)
    url: str = "http://localhost"  # the pages' origin (WebAuthn checks it)
    related: tuple[str, ...] = ()  # other origins passkeys may be registered from


def _key_as_message(key: str, **_: Any) -> str:
    return key


@dataclass
class Turn:
    """One request inside one interaction (see the module's docstring). ``translate`` turns
    a phrase key into the user's language (audit entries keep the message as shown)."""

    services: Services
    uid: str
    interaction: dict[str, Any]
    sie: SignInExperience
    origin: Origin = field(default_factory=Origin)
    translate: Callable[..., str] = _key_as_message
    tenant: str = DEFAULT_TENANT
    device: str | None = None  # the browser's trusted-device token (its cookie), if any
    _state: ExperienceState | None = field(default=None, repr=False)

    # State ---------------------------------------------------------------------------------
    @property
    def state(self) -> ExperienceState:
        """The interaction's typed state, read from the artifact once (``exp``)."""
        if self._state is None:
            self._state = ExperienceState.from_json(self.interaction.get("exp"))
        return self._state

    def reset(self, event: str = Event.SIGN_IN) -> None:
        """A fresh state for ``event``: nothing proven, nobody identified."""
        self._state = ExperienceState(event=Event(event))

    @property
    def jti(self) -> str:
        """The interaction's id as stored (codes are bound to it)."""
        return digest(self.uid)

    @property
    def engine(self) -> AsyncEngine:
        assert self.services.engine is not None
        return self.services.engine

    @property
    def sentinel(self) -> Sentinel:
        assert self.services.sentinel is not None
        return self.services.sentinel

    @property
    def mfa_keys(self) -> MfaKeys:
        assert self.services.mfa_keys is not None
        return self.services.mfa_keys

    @property
    def provider(self) -> Provider:
        assert self.services.provider is not None
        return self.services.provider

    async def save(self, conn: AsyncConnection | None = None) -> None:
        """Write the state back with the artifact (in ``conn``'s transaction when given)."""
        self.interaction["exp"] = self.state.to_json()
        await sessions_mod.update_interaction(self.provider, self.uid, self.interaction, conn)

    # Audit log -----------------------------------------------------------------------------
    async def exception_event(self, event: str, details: dict[str, Any]) -> None:
        """A webhook exception event (``Identifier.Lockout``, ``Message.RateLimited``) in
        its own transaction: it reports a refusal, not a change."""
        async with self.engine.begin() as conn:
            await webhook_events.emit_exception(
                conn, self.tenant, event, details,
                ip=self.origin.ip, user_agent=self.origin.user_agent,
            )  # fmt: skip

    async def audit(
        self,
        key: str,
        *,
        user_id: str | None = None,
        error: str | None = None,
        conn: AsyncConnection | None = None,
        **details: Any,
    ) -> None:
        """One entry in the audit log (Logto's ``Interaction.*`` keys), in ``conn``'s
        transaction when given; codes and passwords never reach it (``audit.record`` drops
        credential-named keys as well)."""
        values: dict[str, Any] = {
            "result": audit.LogResult.ERROR if error else audit.LogResult.SUCCESS,
            "user_id": user_id,
            "application_id": self.origin.application_id,
            "ip": self.origin.ip,
            "user_agent": self.origin.user_agent,
            "error": {
                "code": error,
                "message": self.translate(error) if error.startswith("error.") else error,
            }
            if error
            else None,
            "interactionEvent": self.state.event.value,
            **details,
        }
        if conn is not None:
            await audit.record(conn, self.tenant, key, **values)
            return
        async with self.engine.begin() as own:
            await audit.record(own, self.tenant, key, **values)
