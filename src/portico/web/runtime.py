"""What every request handler needs, built once per process at start-up."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncEngine
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
from portico.experience.sentinel import Sentinel
from portico.protocol.provider import Provider
from portico.services import keys as key_service
from portico.services.bootstrap import DEFAULT_TENANT, ensure_ready
from portico.services.custom_phrases import CustomPhrases
from portico.services.sign_in_experience import SignInExperiences
from portico.settings import Settings
from portico.storage import configs
from portico.storage.database import create_engine
from portico.web import i18n
from portico.web.i18n import Translate

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
    cookie_key: bytes = b""
    ready: bool = field(default=False)
    experiences: SignInExperiences | None = None
    phrases: CustomPhrases | None = None
    codes: VerificationCodes | None = None
    sentinel: Sentinel | None = None
    connectors: Connectors | None = None
    coherence: Coherence = field(default_factory=Coherence)
    cors_origins: TTLCache[str, frozenset[str]] | None = None

    async def start(self) -> None:
        # Migrations may wait for another process's (advisory lock): no statement timeout.
        migrator = create_engine(self.settings.database_url, pool=False)
        try:
            await ensure_ready(migrator)
        finally:
            await migrator.dispose()
        self.engine = create_engine(self.settings.database_url)
        redis_url = self.settings.redis_url
        channel = await installation_channel(self.engine) if redis_url else ""
        self.coherence = Coherence(redis_url, channel)
        await self.coherence.start()
        self.provider = await Provider.open(
            self.engine, DEFAULT_TENANT, self.settings.endpoint, self.coherence
        )
        async with self.engine.connect() as conn:
            cookie_keys = await configs.get(conn, DEFAULT_TENANT, key_service.COOKIE_KEYS)
        self.cookie_key = cookie_keys[0]["value"].encode()
        self.experiences = SignInExperiences(self.engine, self.coherence.cache(SIGN_IN_EXPERIENCE))
        self.phrases = CustomPhrases(self.engine, self.coherence.cache(CUSTOM_PHRASES))
        self.codes = VerificationCodes(self.engine, self.cookie_key)
        self.sentinel = Sentinel(self.engine, self.cookie_key)
        self.connectors = Connectors(
            self.engine,
            self.settings.encryption_key_bytes(),
            cache=self.coherence.cache(CONNECTORS),
        )
        self.cors_origins = self.coherence.cache(APPLICATIONS, max_entries=1)
        self.ready = True

    async def stop(self) -> None:
        await self.coherence.stop()
        if self.engine is not None:
            await self.engine.dispose()

    def mac(self, purpose: str, value: str) -> str:
        """A keyed tag binding ``value`` to ``purpose`` (CSRF tokens derived from sessions)."""
        message = f"{purpose}:{value}".encode()
        return hmac.new(self.cookie_key, message, hashlib.sha256).hexdigest()

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
    def interaction_cookie(self) -> str:
        return (
            "__Host-portico_interaction" if self.settings.secure_cookies else "portico_interaction"
        )

    @property
    def console_cookie(self) -> str:
        return "__Host-portico-console" if self.settings.secure_cookies else "portico-console"
