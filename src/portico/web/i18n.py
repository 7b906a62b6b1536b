"""Translated phrases for the hosted pages.

Phrases are keyed like Logto's (``action.sign_in``, ``error.invalid_credentials``), so a
tenant's custom phrases (Logto's ``custom_phrases``: nested JSON per language tag) override
them key by key. The catalogs are Babel ``.po`` files under ``portico/locales/<locale>/
LC_MESSAGES/messages.po``, read once per process; no build step. English is the reference
catalog: a key missing from another language falls back to English, never to the bare key.
The admin console's phrases are a second domain, ``console.po`` beside it
(``web/console/language.py``): tenants' custom phrases never reach them.

The language is ``ui_locales`` (the app's choice) > ``Accept-Language`` (when the sign-in
experience allows auto-detection) > the experience's fallback language.
"""

from __future__ import annotations

import re
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
def catalog(tag: str, domain: str = "messages") -> dict[str, str]:
    """The phrases of one supported language (empty when it has no catalog yet)."""
    path = LOCALES_DIR / _directory(tag) / "LC_MESSAGES" / f"{domain}.po"
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


# Korean particles whose form depends on the word before them, written in the catalogs
# as both forms ("{name}(으)로"): (after a final consonant, after a vowel) and whether a
# final ㄹ counts as a vowel (only for 로).
_PARTICLES = {
    "(으)로": ("으로", "로", True),
    "이(가)": ("이", "가", False),
    "을(를)": ("을", "를", False),
    "은(는)": ("은", "는", False),
    "과(와)": ("과", "와", False),
    "(이)": ("이", "", False),
}
_PARTICLE = re.compile(r"\{(\w+)\}(" + "|".join(re.escape(p) for p in _PARTICLES) + ")")
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # the index of ㄹ among a syllable's final consonants
# How digits are read (영 일 이 삼 사 오 육 칠 팔 구): their final consonant index.
_DIGIT_FINALS = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}


def _final_consonant(word: str) -> int | None:
    """The final consonant index (0: none, 8: ㄹ) of the last syllable of ``word`` as read
    aloud; None when it cannot be told (Latin letters: "Kakao" and "Google" end alike)."""
    last = word.rstrip()[-1:]
    if last in _DIGIT_FINALS:
        return _DIGIT_FINALS[last]
    if last and _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        return (ord(last) - _HANGUL_FIRST) % 28
    return None


def korean_particle(word: str, particle: str) -> str:
    """The form of ``particle`` (as the catalogs write it, "(으)로") that follows ``word``:
    "카카오로", "구글로" (ㄹ), "네이버로", "깃헙으로"; unchanged when the word's sound is
    unknown."""
    after_consonant, after_vowel, rieul_is_vowel = _PARTICLES[particle]
    final = _final_consonant(word)
    if final is None:
        return particle
    if final == 0 or (rieul_is_vowel and final == _RIEUL):
        return after_vowel
    return after_consonant


def _fill(text: str, values: Mapping[str, Any]) -> str:
    def particle(match: re.Match[str]) -> str:
        name, marker = match.group(1), match.group(2)
        if name not in values:
            return match.group(0)
        return "{" + name + "}" + korean_particle(str(values[name]), marker)

    text = _PARTICLE.sub(particle, text)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def translator(
    tag: str, custom: Mapping[str, str] | None = None, domain: str = "messages"
) -> Translate:
    """``t("key", name=...)``: custom phrase > language catalog > English > the key; a
    Korean particle after a value takes the value's form (:func:`korean_particle`)."""
    own, english, overrides = catalog(tag, domain), catalog(DEFAULT, domain), custom or {}

    def t(key: str, **values: Any) -> str:
        text = overrides.get(key) or own.get(key) or english.get(key) or key
        return _fill(text, values) if values else text

    return t
