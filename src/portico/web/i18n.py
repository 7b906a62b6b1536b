"""Translated phrases for the hosted pages.

Phrases are keyed like Logto's (``action.sign_in``, ``error.invalid_credentials``), so a
tenant's custom phrases (Logto's ``custom_phrases``: nested JSON per language tag) override
them key by key. The catalogs are Babel ``.po`` files under ``portico/locales/<locale>/
LC_MESSAGES/messages.po``, read once per process; no build step. English is the reference
catalog: a key missing from another language falls back to English, never to the bare key.

The language is ``ui_locales`` (the app's choice) > ``Accept-Language`` (when the sign-in
experience allows auto-detection) > the experience's fallback language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED = ("en", "es", "ko", "zh-CN", "ja")
DEFAULT = "en"

Translate = Callable[..., str]


def _directory(tag: str) -> str:
    return tag.replace("-", "_")


@cache
def catalog(tag: str) -> dict[str, str]:
    """The phrases of one supported language (empty when it has no catalog yet)."""
    path = LOCALES_DIR / _directory(tag) / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=_directory(tag))
    return {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}


def _match(tag: str) -> str | None:
    """The supported language for a BCP 47 tag: exact, then by language (``es-MX`` → es,
    ``zh-Hans``/``zh`` → zh-CN)."""
    tag = tag.strip()
    if not tag or len(tag) > 35:
        return None
    lowered = {s.lower(): s for s in SUPPORTED}
    if tag.lower() in lowered:
        return lowered[tag.lower()]
    try:
        locale = Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        return None
    if locale.language == "zh":
        return "zh-CN" if locale.script in (None, "Hans") and locale.territory != "TW" else None
    return lowered.get(locale.language)


def _accept_language(header: str) -> list[str]:
    """Tags of an ``Accept-Language`` header, best first (RFC 9110 §12.5.4)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    ui_locales: str | None, accept_language: str | None, auto_detect: bool, fallback: str
) -> str:
    for tag in (ui_locales or "").split():
        if found := _match(tag):
            return found
    if auto_detect and accept_language:
        for tag in _accept_language(accept_language):
            if found := _match(tag):
                return found
    return _match(fallback) or DEFAULT


def translator(tag: str, custom: Mapping[str, str] | None = None) -> Translate:
    """``t("key", name=...)``: custom phrase > language catalog > English > the key."""
    own, english, overrides = catalog(tag), catalog(DEFAULT), custom or {}

    def t(key: str, **values: Any) -> str:
        text = overrides.get(key) or own.get(key) or english.get(key) or key
        if values:
            for name, value in values.items():
                text = text.replace("{" + name + "}", str(value))
        return text

    return t
