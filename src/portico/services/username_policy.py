"""Username policy: Logto's ``username_policy`` shape, its base rule, and four rejection codes.

Logto's base rule stands whatever the policy says: a username starts with an ASCII letter or an
underscore and continues with ASCII letters, digits or underscores. The policy narrows it (which
of those classes are allowed, the length) and says whether usernames are case-sensitive.

Rejection codes (``Rejection.data`` in brackets):

* ``username.too_short`` (``min``) / ``username.too_long`` (``max``): length in characters.
* ``username.invalid_characters`` (``allowed``: the allowed class names): a character outside the
  allowed classes, including any non-ASCII letter. Usernames are shown to other people, and Unicode
  look-alikes ("admin" spelt with a Cyrillic "a", U+0430) would let one user pass for another.
* ``username.invalid_start``: the first character is not a letter or an underscore.

Usernames are checked as they will be stored, i.e. after :func:`normalise_username`.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portico.services.password_policy import Rejection, check_range, merge_config

MAX_LENGTH = 128  # users.username is varchar(128)
_CLASSES = {
    "lowercase": frozenset(string.ascii_lowercase),
    "uppercase": frozenset(string.ascii_uppercase),
    "numbers": frozenset(string.digits),
    "underscore": frozenset("_"),
}
_VALID_START = frozenset(string.ascii_letters + "_")

DEFAULT_CONFIG: dict[str, Any] = {
    "caseSensitive": True,
    "minLength": 1,
    "maxLength": MAX_LENGTH,
    "allowedChars": dict.fromkeys(_CLASSES, True),
}


@dataclass(frozen=True)
class UsernamePolicy:
    case_sensitive: bool = True
    min_length: int = 1
    max_length: int = MAX_LENGTH
    allowed_classes: tuple[str, ...] = tuple(_CLASSES)

    @classmethod
    def from_config(cls, partial: Mapping[str, Any] | None = None) -> UsernamePolicy:
        """Fill Logto's defaults into a partial ``usernamePolicy``; ValueError names the field.

        Refuses policies no username could satisfy: none of lowercase/uppercase/underscore (no
        valid first character), or case-insensitive without lowercase (names are lower-cased).
        """
        config = merge_config(DEFAULT_CONFIG, partial or {}, "usernamePolicy")
        min_length, max_length = config["minLength"], config["maxLength"]
        check_range("usernamePolicy.minLength", min_length, 1, MAX_LENGTH)
        check_range("usernamePolicy.maxLength", max_length, min_length, MAX_LENGTH)
        allowed = tuple(name for name, on in config["allowedChars"].items() if on)
        if not {"lowercase", "uppercase", "underscore"} & set(allowed):
            raise ValueError(
                "usernamePolicy.allowedChars: allow lowercase, uppercase or underscore,"
                " or no username can start validly"
            )
        if not config["caseSensitive"] and "lowercase" not in allowed:
            raise ValueError(
                "usernamePolicy.allowedChars.lowercase: must be true when caseSensitive is false,"
                " because usernames are then stored lower-case"
            )
        return cls(config["caseSensitive"], min_length, max_length, allowed)

    def to_config(self) -> dict[str, Any]:
        """The full Logto-shaped JSON, defaults included, as the API returns it."""
        return {
            "caseSensitive": self.case_sensitive,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "allowedChars": {name: name in self.allowed_classes for name in _CLASSES},
        }


def normalise_username(username: str, policy: UsernamePolicy) -> str:
    """The form to store and look up: NFKC (``alice`` in fullwidth letters is ``alice``), then
    lower-case unless the policy is case-sensitive."""
    username = unicodedata.normalize("NFKC", username)
    return username if policy.case_sensitive else username.lower()


def check_username(username: str, policy: UsernamePolicy) -> list[Rejection]:
    """Every rule the (normalised) username breaks; an empty list means acceptable."""
    name = normalise_username(username, policy)
    rejections: list[Rejection] = []
    if len(name) < policy.min_length:
        rejections.append(Rejection("username.too_short", {"min": policy.min_length}))
    if len(name) > policy.max_length:
        rejections.append(Rejection("username.too_long", {"max": policy.max_length}))
    allowed = frozenset[str]().union(*(_CLASSES[c] for c in policy.allowed_classes))
    if not allowed.issuperset(name):
        data = {"allowed": list(policy.allowed_classes)}
        rejections.append(Rejection("username.invalid_characters", data))
    if name and name[0] not in _VALID_START:
        rejections.append(Rejection("username.invalid_start", {}))
    return rejections
