"""The one rule for a URL an admin configures and Portico shows or sends people to: support
and policy links, logos, redirect targets after an unknown session.

Such a URL ends up in an ``href`` or ``src`` of a public page, so a ``javascript:`` or
``data:`` value would run in the sign-in page's origin, and plain ``http`` would let anyone
on the network swap what a user is sent to. Hence: absolute ``https`` (``http`` only for a
loopback host, for development), a host, no user name or password in it, no white space
or control characters, at most 2048 characters. Redirect URIs of applications have rules of
their own (custom schemes for native apps: ``services/applications.validate_redirect_uri``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from portico.net.outbound import is_loopback_host

MAX_LENGTH = 2048


def check_public_url(value: str) -> str:
    """``value`` when it is an https URL (http for loopback hosts); ValueError says why not."""
    if len(value) > MAX_LENGTH:
        raise ValueError(f"must be at most {MAX_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("must be an absolute https URL, such as https://example.com/help")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ValueError("must use https (http is allowed for localhost only)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    return value


PublicUrl = Annotated[str, AfterValidator(check_public_url)]
