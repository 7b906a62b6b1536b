"""What the user typed, read as an identifier, and what the sign-up configuration still
requires of a user (profile fulfilment)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from portico.services import emails, phones
from portico.services.sign_in_experience import SignInExperience


@dataclass(frozen=True)
class Identifier:
    """``kind`` is ``username``, ``email`` or ``phone``; ``value`` is normalised the way the
    users table stores it (email lower-cased, phone as E.164 digits without the ``+``)."""

    kind: str
    value: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Identifier:
        return cls(str(data["kind"]), str(data["value"]))


def normalise_email(raw: str) -> str | None:
    """The stored form of a well-formed address (``services/emails.normalise``)."""
    return emails.normalise(raw)


def normalise_phone(raw: str) -> str | None:
    """E.164 digits (``services/phones.py``), the one form every lookup and counter uses."""
    return phones.normalise(raw)


def read(raw: str, allowed: set[str]) -> Identifier | None:
    """The identifier ``raw`` is, among ``allowed`` kinds; None when it is none of them.
    An ``@`` means email; digits (with +, spaces, dashes) mean phone; anything else is a
    username."""
    raw = unicodedata.normalize("NFKC", raw.strip()[:256])  # fullwidth letters and digits
    if not raw:
        return None
    if "@" in raw:
        email = normalise_email(raw) if "email" in allowed else None
        return Identifier("email", email) if email else None
    if "phone" in allowed and (phone := normalise_phone(raw)):
        return Identifier("phone", phone)
    if "username" in allowed:
        return Identifier("username", raw)
    return None


def missing(sie: SignInExperience, have: dict[str, Any]) -> str | None:
    """The next thing sign-up requires that ``have`` lacks: ``username``, ``email``,
    ``phone``, ``emailOrPhone`` or ``password``; None when the profile is complete.

    ``have`` holds ``username``/``email``/``phone`` (present when truthy) and ``password``
    (True when the user has or has just set one)."""
    primary = sie.signUp.identifiers
    if primary and not any(have.get(kind) for kind in primary):
        return "emailOrPhone" if set(primary) == {"email", "phone"} else primary[0]
    for secondary in sie.signUp.secondaryIdentifiers:
        kind = secondary.identifier
        if kind == "emailOrPhone":
            if not (have.get("email") or have.get("phone")):
                return kind
        elif not have.get(kind):
            return kind
    if sie.signUp.password and not have.get("password"):
        return "password"
    return None
