"""Authentication context (OpenID Connect Core §2, RFC 8176): how a session was
authenticated (``amr``: the methods, e.g. ``pwd``, ``otp``, ``mfa``) and the level an
application may demand with ``acr_values`` and read back from the ``acr`` claim.

Two levels: one factor, and multi-factor. A request asking for multi-factor makes a session
that lacks it sign in again, and the sign-in then asks for a second factor (step-up);
``acr_values`` stay voluntary (§3.1.2.1), so the ID token says what was achieved and the
application decides.
"""

from __future__ import annotations

from collections.abc import Iterable

SINGLE_FACTOR = "urn:portico:acr:1fa"
MULTI_FACTOR = "urn:portico:acr:mfa"
# The value Auth0 and others use for "multi-factor", accepted as the same level.
PAPE_MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
SUPPORTED = (SINGLE_FACTOR, MULTI_FACTOR, PAPE_MULTI_FACTOR)
_MULTI = {MULTI_FACTOR, PAPE_MULTI_FACTOR}


def wants_mfa(acr_values: Iterable[str]) -> bool:
    return any(value in _MULTI for value in acr_values)


def acr_for(acr_values: Iterable[str], amr: Iterable[str]) -> str:
    """The ``acr`` claim: the first requested value the session meets, else its level."""
    multi = "mfa" in set(amr)
    for value in acr_values:
        if value == SINGLE_FACTOR or (value in _MULTI and multi):
            return value
    return MULTI_FACTOR if multi else SINGLE_FACTOR


def code_method(kind: str) -> str:
    """RFC 8176's method for a one-time code: ``sms`` by text message, ``otp`` by email."""
    return "sms" if kind == "phone" else "otp"


def with_mfa(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """The ``amr`` of a sign-in: the first factor's methods, the second factor's, and
    ``mfa`` when both were used (RFC 8176 §2)."""
    methods = list(dict.fromkeys([*first, *second]))
    if list(first) and list(second):
        methods.append("mfa")
    return methods
