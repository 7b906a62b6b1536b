"""Email addresses in one form everywhere they are stored or looked up: the pages, the
Experience API, the Management API, imports and social profiles all go through
:func:`canonical`, so one mailbox is one account and one lockout counter however it is typed.

Unicode gives one address many spellings: ``alice@example.com`` in fullwidth letters,
``éve@`` composed or as ``e`` + a combining accent, a zero-width joiner hidden inside. The form
kept is NFKC (compatibility characters folded to the ordinary ones, RFC 8265's width
mapping), lower case (Logto lower-cases addresses), and for an internationalised domain its
UTS #46 form (IDNA's own mapping, RFC 5891/5895). Characters no address has a use for
(controls, format characters such as zero-width joiners, spaces) are refused rather than
dropped, so nothing invisible decides which account an address reaches.
"""

from __future__ import annotations

import unicodedata

import idna
from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 128  # users.primary_email is varchar(128)


def _fold(text: str) -> str:
    # lower() can undo NFKC (``İ`` lower-cases to ``i`` and a combining dot): fold again.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).lower())


def canonical(raw: str) -> str | None:
    """The stored form of ``raw``, or None when it cannot be an address (no ``@``, invisible
    or control characters, a domain IDNA refuses, too long). Syntax beyond that is each
    surface's own check (the pages use ``email-validator``)."""
    text = _fold(raw.strip())
    if any(unicodedata.category(ch)[0] in "CZ" for ch in text):
        return None
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return None
    if not domain.isascii() or "xn--" in domain:  # one form: Unicode labels, not A-labels
        try:
            domain = idna.decode(idna.encode(domain, uts46=True))
        except (idna.IDNAError, UnicodeError):
            return None
    address = f"{local}@{domain}"
    return address if len(address) <= MAX_LENGTH else None


def normalise(raw: str) -> str | None:
    """:func:`canonical` of an address that is also well-formed (``email-validator``'s syntax
    rules, no DNS): what a person types on a page, or an admin sets as a support address."""
    address = canonical(raw)
    if address is None:
        return None
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return address
