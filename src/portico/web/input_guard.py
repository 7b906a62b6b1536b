"""Pure ASGI middleware: malformed input every endpoint would refuse anyway is refused at the
edge with 400, before any handler runs: a NUL character anywhere (path, query, form or JSON
body), and a JSON body nested deeper than :data:`MAX_JSON_DEPTH`.

Nesting: Python's ``json`` parser recurses once per level, so a 60 KB body of ``[`` raises
``RecursionError`` (a 500) in whichever handler parses it (``/oidc/token``, the Management
and Experience APIs), and deep values that do parse cost every later walk over them. No
configuration Portico takes nests anywhere near 32 levels.

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
MAX_JSON_DEPTH = 32
# A JSON string (escapes included): removed before brackets are counted, since a bracket
# inside a string is text.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS_IN_A_ROW = re.compile(rb"[\[{]{%d}" % (MAX_JSON_DEPTH + 1))


def _content_type(scope: Scope) -> bytes:
    return next(
        (value for name, value in scope.get("headers", []) if name == b"content-type"), b""
    ).lower()


def too_deep(body: bytes) -> bool:
    """Whether JSON ``body`` nests arrays and objects more than :data:`MAX_JSON_DEPTH` levels
    deep, or leaves so many open that the parser would recurse as deep before it found out.

    The brackets outside strings are kept, then innermost pairs are removed once per level
    (``bytes.replace`` runs in C): a well-formed body empties in as many rounds as it is
    deep; an opening bracket still there after that many rounds, or when no pair is left to
    remove, is nested too deep or never closed.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:  # the common case: a quick look only
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if _OPENERS_IN_A_ROW.search(brackets):  # an attack's shape, found in one pass
        return True
    for _ in range(MAX_JSON_DEPTH):
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    return b"[" in brackets or b"{" in brackets


def problem_of(scope: Scope, body: bytes) -> str | None:
    """Why the request is refused (a NUL anywhere, JSON nested too deep), or None.

    Plain substring tests, and the headers read only for a body: this runs on every
    request, and the JWKS answer's whole application time is ~15 µs."""
    nul = "the request contains a NUL character"
    if "\x00" in scope.get("path", "") or _URL_NUL in scope.get("query_string", b""):
        return nul
    if not body:
        return None
    if b"\x00" in body:
        return nul
    content_type = _content_type(scope)
    if b"json" in content_type:
        if _JSON_NUL.search(body):
            return nul
        if too_deep(body):
            return f"the JSON body is malformed or nests deeper than {MAX_JSON_DEPTH} levels"
        return None
    return nul if b"urlencoded" in content_type and _URL_NUL in body else None


class InputGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first = await receive()  # the whole body: BodyLimit hands it over in one message
        body = first.get("body", b"") if first["type"] == "http.request" else b""
        problem = problem_of(scope, body)
        if problem:
            error = invalid_request(problem)
            await answer(scope["path"], error, "guard.invalid_input")(scope, receive, send)
            return
        pending = [first]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)
