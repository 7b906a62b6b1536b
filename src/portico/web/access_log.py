"""The access log (``PORTICO_ACCESS_LOG=true``, uvicorn's ``uvicorn.access`` logger) without
the secrets that travel in query strings.

A protocol URL carries credentials and personal data in its query: ``id_token_hint`` at
sign-out (a signed statement of who the user is), ``code`` and ``state`` on the way back to
a client, ``login_hint`` (an email address), the console's ``setup`` code, one-time tokens.
Log files are kept longer and read by more people than the database, so every parameter
whose name says it is one of these keeps its name and loses its value. The line is otherwise
uvicorn's own, so existing log parsing keeps working.
"""

from __future__ import annotations

import logging
import re

# Parameter names (case-insensitive, anywhere in the name) whose values never reach the log.
_SENSITIVE = (
    "token", "secret", "code", "password", "hint", "assertion", "setup", "key", "ticket",
    "nonce", "state", "session", "credential", "verifier", "request", "jwt", "otp",
)  # fmt: skip
_PARAMETER = re.compile(
    r"(?P<name>[^=&]*(?:" + "|".join(_SENSITIVE) + r")[^=&]*)=(?P<value>[^&]*)", re.IGNORECASE
)
REDACTED = "[redacted]"


def redact_query(target: str) -> str:
    """``target`` (path and query) with the values of sensitive parameters replaced."""
    path, question, query = target.partition("?")
    if not question:
        return target
    return f"{path}?" + "&".join(
        _PARAMETER.sub(lambda m: f"{m['name']}={REDACTED}", part) if part else part
        for part in query.split("&")
    )


class RedactQuery(logging.Filter):
    """Rewrites uvicorn's access record: its arguments are ``(client, method, target, http
    version, status)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once per process (every worker builds the
    app, after uvicorn has configured logging)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())
