"""The console's language: the admin's choice (the picker in the side navigation or under the
sign-in forms, kept in a cookie so it holds before sign-in and after sign-out), else the
browser's ``Accept-Language``, else English.

Phrases are keyed like the hosted pages' (``nav.applications``) but live in their own Babel
domain, ``locales/<locale>/LC_MESSAGES/console.po``: the pages' catalog stays what tenants
override with custom phrases, and no tenant's phrase can reach the console. Templates get
``t`` (text, escaped as usual) and ``t.markup`` for the few phrases that hold markup of
their own (``<code>``, ``<strong>``); the values put into those are escaped.

Messages of ``ServiceError`` raised by ``services/`` stay English: they are the Management
API's messages too.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request

from portico.web import i18n
from portico.web.runtime import Runtime

DOMAIN = "console"
CHOICE_TTL = 365 * 24 * 3600


def cookie_name(runtime: Runtime) -> str:
    secure = runtime.settings.secure_cookies
    return "__Host-portico-console-lang" if secure else "portico-console-lang"


def language_of(runtime: Runtime, request: Request) -> str:
    chosen = request.cookies.get(cookie_name(runtime))
    return i18n.negotiate(chosen, request.headers.get("accept-language"), True, i18n.DEFAULT)


class Phrases:
    """``t("key", name=...)`` in the console's domain for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._t = i18n.translator(lang, domain=DOMAIN)

    def __call__(self, key: str, **values: Any) -> str:
        return self._t(key, **values)

    def markup(self, key: str, **values: Any) -> Markup:
        # The console's catalogs are Portico's own files (no tenant phrase reaches them),
        # so their markup is trusted; only the values are not, and they are escaped.
        escaped = {name: escape(value) for name, value in values.items()}
        return Markup(self._t(key, **escaped))  # noqa: S704


ENGLISH = Phrases(i18n.DEFAULT)


def phrases_for(runtime: Runtime, request: Request) -> Phrases:
    lang = language_of(runtime, request)
    return ENGLISH if lang == i18n.DEFAULT else Phrases(lang)


def choices() -> list[tuple[str, str]]:
    """Each language the console speaks, named in itself, for the picker."""
    return [(tag, i18n.catalog(tag, DOMAIN).get("meta.name", tag)) for tag in i18n.SUPPORTED]
