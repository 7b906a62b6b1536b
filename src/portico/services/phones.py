"""Phone numbers in one form everywhere: E.164 (ITU-T E.164: country code then subscriber
number, at most 15 digits, never starting with 0) stored as its digits without the ``+``, as
Logto stores ``primaryPhone``. Sign-up, sign-in, the send limits and the lockout all key on
this form, so "+1 (415) 555-2671" and "14155552671" are one number and one counter.
"""

from __future__ import annotations

import re
import unicodedata

E164_DIGITS = re.compile(r"^[1-9][0-9]{6,14}$")
# What people type: an optional +, digits, and the usual separators.
_TYPED = re.compile(r"^\+?[0-9][0-9 ().\-]{5,30}$")
_SEPARATORS = re.compile(r"[ ().\-]")


def normalise(raw: str) -> str | None:
    """The E.164 digits of ``raw``, or None when it is not an international number."""
    typed = unicodedata.normalize("NFKC", raw).strip()  # fullwidth digits and plus sign
    if not _TYPED.match(typed):
        return None
    digits = _SEPARATORS.sub("", typed).removeprefix("+")
    return digits if E164_DIGITS.match(digits) else None
