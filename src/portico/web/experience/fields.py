"""Errors that belong to one field: the pages show them next to it (``aria-invalid``,
``aria-describedby``) instead of above the form."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

from portico.experience.answers import StepError
from portico.experience.identifiers import Identifier, read

# Phrase key -> the field (its input's id) the phrase is about.
FIELD_ERRORS = {
    "error.invalid_email": "identifier",
    "error.invalid_phone": "identifier",
    "error.invalid_email_or_phone": "identifier",
    "error.invalid_identifier": "identifier",
}

_PHONE_LIKE = re.compile(r"[\d\s()+\-.]+")


def identifier_of(raw: str, kinds: Collection[str]) -> Identifier:
    """The identifier typed, among ``kinds``; else a field error saying what was expected:
    an address with an ``@`` or a form that takes only emails gets "Enter a valid email
    address", digits where a phone number is allowed "Enter a valid phone number"."""
    allowed = set(kinds)
    found = read(raw, allowed)
    if found is not None:
        return found
    typed = unicodedata.normalize("NFKC", raw.strip())
    if "email" in allowed and ("@" in typed or allowed == {"email"}):
        raise StepError("error.invalid_email")
    if "phone" in allowed and (allowed == {"phone"} or _PHONE_LIKE.fullmatch(typed)):
        raise StepError("error.invalid_phone")
    if allowed == {"email", "phone"}:
        raise StepError("error.invalid_email_or_phone")
    raise StepError("error.invalid_identifier")
