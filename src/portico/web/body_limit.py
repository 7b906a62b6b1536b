"""Pure ASGI middleware: no request body larger than :data:`MAX_BODY` reaches the application.

A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
body is read up to the limit and refused the moment it passes it. Every body is read here
in full (it is small by then) and replayed to the application, so no endpoint can be made to
hold more than the limit in memory, whatever it does with its body. ``/oidc`` endpoints and
the sign-in forms apply their own, smaller limit (``web/http.MAX_BODY``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portico.protocol.errors import OAuthError
from portico.web.failures import answer

MAX_BODY = 1024 * 1024  # the Management API's JSON; Logto's body parser allows 1 MB too


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = OAuthError("invalid_request", "request body too large", 413)
        response = answer(scope["path"], error, "request.body_too_large")
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``first`` (the whole body, or the disconnect that came
    instead), then whatever the server sends next (a disconnect, when it happens)."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
