"""Pure ASGI middleware: the Management API and the console run their SQLite statements on
the connections' threads instead of the event loop.

On SQLite a statement normally runs on the event loop (``storage/sqlite_driver.py``): the
token, userinfo and sign-in paths make indexed reads and one-row writes that take
microseconds, far less than a hand-off to a thread. The administrative surfaces are the
exception: a user search or page count over a million users, a log query, an export takes
tens of milliseconds, and on the loop every token request of the process would wait for it.
Under :func:`~portico.storage.sqlite_driver.threaded` they run beside the loop, as before.
PostgreSQL is unaffected (asyncpg never blocks the loop).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from portico.storage.sqlite_driver import threaded

PREFIXES = ("/api/", "/console")


class LongWork:
    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = PREFIXES) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            with threaded():
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)
