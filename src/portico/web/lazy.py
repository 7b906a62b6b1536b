"""An ASGI app built at its first request, on a thread: for the Management API.

The Management API is FastAPI with some two hundred Pydantic-validated routes: importing and
building it is about half of a process's start-up time (``python -X importtime``) and some
ten MB of its memory, yet many processes of a fleet (those behind the sign-in and token
endpoints) never serve it. Built on first use, it costs nothing until then; the build runs on
a thread so that the event loop keeps serving tokens meanwhile, and concurrent first requests
wait for the one build. The health check ``/api/status`` is answered by the root app, so a
process is ready as soon as the provider is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class LazyApp:
    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None
        self._building: asyncio.Future[ASGIApp] | None = None

    @property
    def built(self) -> ASGIApp | None:
        """The app once built, else None."""
        return self._app

    async def app(self) -> ASGIApp:
        """The app, building it once (a failed build is tried again by the next request)."""
        if self._app is not None:
            return self._app
        if self._building is None or self._building.get_loop() is not asyncio.get_running_loop():
            self._building = asyncio.ensure_future(asyncio.to_thread(self._build))
        building = self._building
        try:
            self._app = await asyncio.shield(building)
        except BaseException:
            if building.done() and self._building is building:
                self._building = None
            raise
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self.app())(scope, receive, send)
