"""Safe building blocks for email headers, shared by every Email connector.

Python's ``email`` package refuses a bare line feed in the middle of a header value, but a
trailing newline, the other line breaks ``str.splitlines`` knows (U+2028, U+0085...) and an
RFC 2047 encoded word such as ``=?UTF-8?Q?=0A?=`` have slipped through before (cpython
gh-121650). So every header built from input is checked here, before any connection is made.
"""

from __future__ import annotations

import re
import unicodedata
from email.header import decode_header
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

from portico.connectors.errors import ConnectorError

ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=")
FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 §3.6.8: printable ASCII except ':'
_NAME_ADDR = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<addr>[^<>]*)>\s*$", re.DOTALL)


def unsafe_header(what: str) -> ConnectorError:
    return ConnectorError(
        "connector.general",
        f"The {what} contains a line break or control character; refusing to send.",
        reason="unsafe_header",
    )


def _has_break(text: str) -> bool:
    if len(text.splitlines()) > 1 or text.endswith(("\r", "\n")):
        return True
    return any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in text)


def _decoded_words(value: str) -> list[str]:
    decoded: list[str] = []
    for word in ENCODED_WORD.findall(value):
        try:
            for chunk, charset in decode_header(word):
                if isinstance(chunk, bytes):
                    decoded.append(chunk.decode(charset or "latin-1", errors="replace"))
                else:
                    decoded.append(chunk)
        except (LookupError, ValueError, UnicodeError):
            decoded.append("\n")  # undecodable: refuse rather than guess what a reader sees
    return decoded


def check_header(value: str, what: str) -> str:
    """Return ``value`` when it is one line with no encoded line break; raise otherwise."""
    if _has_break(value) or any(_has_break(word) for word in _decoded_words(value)):
        raise unsafe_header(what)
    return value


def check_field_name(name: str) -> str:
    if not FIELD_NAME.match(name):
        raise unsafe_header(f"header name {name!r}")
    return name


def parse_mailbox(value: str, what: str) -> Address:
    """``"Name <addr>"`` or ``addr`` → a validated :class:`Address` (one mailbox only)."""
    check_header(value, what)
    match = _NAME_ADDR.match(value)
    name, addr = (match["name"].strip().strip('"'), match["addr"]) if match else ("", value)
    check_header(name, f"{what} display name")
    return Address(display_name=name, addr_spec=validate_address(addr, what))


def validate_address(value: str, what: str = "recipient") -> str:
    """One address, parsed strictly (email-validator), returned normalised."""
    check_header(value, what)
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ConnectorError(
            "connector.general",
            f"The {what} {value!r} is not a valid email address: {exc}",
            "Please enter a valid email address.",
            reason="invalid_address",
        ) from None
