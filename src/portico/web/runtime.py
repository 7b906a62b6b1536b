"""What every request handler needs, built once per process at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import Response

from portico.cache import TTLCache
from portico.coherence import (
    APPLICATIONS,
    CONNECTORS,
    CUSTOM_PHRASES,
    SIGN_IN_EXPERIENCE,
    Coherence,
    installation_channel,
)
from portico.connectors import Connectors
from portico.experience.codes import VerificationCodes
from portico.experience.conclusion import SignedIn
from portico.experience.sentinel import Sentinel
from portico.jwt_customizer import sandbox
from portico.net import outbound
from portico.protocol.provider import Provider
from portico.protocol.sessions import SESSION_TTL
from portico.services import cookie_keys
from portico.services.applications import SecretSealer
from portico.services.audit_buffer import AuditBuffer
from portico.services.bootstrap import DEFAULT_TENANT, ensure_ready
from portico.services.cookie_keys import CookieKeys
from portico.services.custom_phrases import CustomPhrases
from portico.services.mfa import MfaKeys
from portico.services.sign_in_experience import SignInExperiences
from portico.settings import Settings
from portico.storage.database import create_engine, refresh_statistics
from portico.web import i18n
from portico.web.i18n import Translate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from portico.services.webhook_delivery import WebhookWorker

log = logging.getLogger("portico")

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine | None = None
    provider: Provider | None = None
    ready: bool = field(default=False)
    experiences: SignInExperiences | None = None
    phrases: CustomPhrases | None = None
    codes: VerificationCodes | None = None
    sentinel: Sentinel | None = None
    connectors: Connectors | None = None
    mfa_keys: MfaKeys | None = None
    secret_sealer: SecretSealer | None = None
    coherence: Coherence = field(default_factory=Coherence)
    cors_origins: TTLCache[str, frozenset[str]] | None = None
    audit: AuditBuffer | None = None
    webhooks: WebhookWorker | None = None  # the outbox's deliverer (web/app.py's lifespan)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        # Where outgoing requests (connectors...) may go: this process's settings.
        outbound.configure(self.settings.allow_private_targets)
        # Migrations may wait for another process's (advisory lock): no statement timeout.
        migrator = create_engine(self.settings.database_url, pool=False)
        try:
            await ensure_ready(migrator, self.settings.endpoint)
        finally:
            await migrator.dispose()
        self.engine = create_engine(self.settings.database_url)
        await refresh_statistics(self.engine)
        redis_url = self.settings.redis_url
        channel = await installation_channel(self.engine) if redis_url else ""
        self.coherence = Coherence(redis_url, channel)
        await self.coherence.start()
        self.provider = await Provider.open(
            self.engine, DEFAULT_TENANT, self.settings.endpoint, self.coherence
        )
        async with self.engine.connect() as conn:
            stable = await cookie_keys.sentinel_key(conn, DEFAULT_TENANT)
        self.experiences = SignInExperiences(self.engine, self.coherence.cache(SIGN_IN_EXPERIENCE))
        self.phrases = CustomPhrases(self.engine, self.coherence.cache(CUSTOM_PHRASES))
        self.codes = VerificationCodes(self.engine, self.cookie_keys)
        self.sentinel = Sentinel(self.engine, stable)
        encryption_key = self.settings.encryption_key_bytes()
        self.connectors = Connectors(
            self.engine, encryption_key, cache=self.coherence.cache(CONNECTORS)
        )
        self.mfa_keys = MfaKeys.from_encryption_key(encryption_key)
        # client_secret_jwt secrets, sealed when made (API, console), opened by the provider
        self.secret_sealer = SecretSealer(encryption_key)
        self.provider.secret_sealer = self.secret_sealer
        sandbox.configure(sandbox.Limits.from_settings(self.settings))  # custom token claims
        self.cors_origins = self.coherence.cache(APPLICATIONS, max_entries=1)
        self.audit = AuditBuffer(self.engine)
        self.audit.start()
        self.ready = True

    async def flush_audit(self) -> None:
        """Write the token-endpoint audit entries this process still holds, so that reading
        the log shows every exchange this process has answered; if the database cannot take
        them now, the read goes on (it shows what is stored, the entries wait)."""
        if self.audit is None:
            return
        try:
            await self.audit.flush()
        except Exception as error:
            log.warning("audit entries not written before a log read (%s)", type(error).__name__)

    def spawn(self, work: Coroutine[object, object, None]) -> None:
        """Run ``work`` after the response, holding a reference until it ends (the event loop
        keeps only weak ones); a normal stop waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=15)
        if self.audit is not None:
            await self.audit.stop()
        await self.coherence.stop()
        if self.engine is not None:
            await self.engine.dispose()

    async def cookie_keys(self) -> CookieKeys:
        """The tenant's cookie keys as they are now (newest signs, all verify)."""
        assert self.provider is not None
        return await self.provider.cookie_keys()

    async def mac(self, purpose: str, value: str) -> str:
        """A keyed tag binding ``value`` to ``purpose`` (CSRF tokens derived from sessions),
        with the newest cookie key."""
        return (await self.cookie_keys()).sign(f"{purpose}:{value}")

    async def mac_matches(self, purpose: str, value: str, tag: str) -> bool:
        """Whether ``tag`` is :meth:`mac` of ``value`` under any key still in the ring, so
        a form rendered before a rotation is still accepted after it."""
        return (await self.cookie_keys()).verify(f"{purpose}:{value}", tag)

    def set_cookie(
        self,
        response: Response,
        name: str,
        value: str,
        max_age: int,
        samesite: Literal["lax", "strict"] = "lax",
    ) -> None:
        """The one way Portico sets a cookie: host-only, HttpOnly, SameSite=Lax (Strict for
        the console, which no other site ever needs to link into signed in), Secure when the
        endpoint is a secure context."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            secure=self.settings.secure_cookies,
            samesite=samesite,
        )

    async def translator(self, request: Request, ui_locales: str | None = None) -> Translate:
        """The phrases for this request's language (see ``web/i18n.py``), with the tenant's
        custom phrases on top."""
        assert self.experiences is not None and self.phrases is not None
        sie = await self.experiences.get(DEFAULT_TENANT)
        lang = i18n.negotiate(
            ui_locales,
            request.headers.get("accept-language"),
            sie.languageInfo.autoDetect,
            sie.languageInfo.fallbackLanguage,
        )
        return i18n.translator(lang, await self.phrases.get(DEFAULT_TENANT, lang))

    @property
    def session_cookie(self) -> str:
        return "__Host-portico_session" if self.settings.secure_cookies else "portico_session"

    @property
    def device_cookie(self) -> str:
        """A trusted device's token (``experience/devices.py``)."""
        return "__Host-portico_device" if self.settings.secure_cookies else "portico_device"

    def set_signed_in_cookies(self, response: Response, signed_in: SignedIn, days: int) -> None:
        """The new session's cookie, and the trusted device's when the user asked for it."""
        self.set_cookie(response, self.session_cookie, signed_in.session, SESSION_TTL)
        if signed_in.device:
            self.set_cookie(response, self.device_cookie, signed_in.device, days * 86400)

    @property
    def interaction_cookie(self) -> str:
        return (
            "__Host-portico_interaction" if self.settings.secure_cookies else "portico_interaction"
        )

    @property
    def console_cookie(self) -> str:
        return "__Host-portico-console" if self.settings.secure_cookies else "portico-console"
