"""Pure ASGI middleware: requests carrying a NUL character anywhere (path, query, form or JSON
body) are refused with 400 before any handler runs.

No identifier, secret, URL or setting may contain one, and PostgreSQL cannot store one in a
text or JSON value (it fails the statement, which would be a 500); SQLite would store it. So
one rule at the edge keeps every endpoint, present and future, consistent on both databases.
Runs inside :class:`~portico.web.body_limit.BodyLimit`, which has buffered the body.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portico.protocol.errors import invalid_request
from portico.web.failures import answer

# A JSON escape of NUL: "\u0000" preceded by an even number of backslashes (an odd number
# would make the first one escape the backslash of "\u0000", leaving plain text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_NUL = b"%00"  # how a form or query string writes NUL


def carries_nul(scope: Scope, body: bytes) -> bool:
    # Plain substring tests, and the headers read only for a body: this runs on every
    # request, and the JWKS answer's whole application time is ~15 µs.
    if "\x00" in scope.get("path", "") or _URL_NUL in scope.get("query_string", b""):
        return True
    if not body:
        return False
    if b"\x00" in body:
        return True
    content_type = next(
        (value for name, value in scope.get("headers", []) if name == b"content-type"), b""
    ).lower()
    if b"json" in content_type:
        return bool(_JSON_NUL.search(body))
    return _URL_NUL in body if b"urlencoded" in content_type else False


class NoNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first = await receive()  # the whole body: BodyLimit hands it over in one message
        body = first.get("body", b"") if first["type"] == "http.request" else b""
        if carries_nul(scope, body):
            error = invalid_request("the request contains a NUL character")
            await answer(scope["path"], error, "guard.invalid_input")(scope, receive, send)
            return
        pending = [first]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)
