"""web/lazy.py: the Management API is built at its first request, once, on a thread."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from starlette.responses import PlainTextResponse

from portico.web.lazy import LazyApp


async def test_built_once_for_concurrent_first_requests_off_the_loop() -> None:
    builds: list[int] = []

    def build():  # type: ignore[no-untyped-def]
        builds.append(threading.get_ident())
        threading.Event().wait(0.2)  # an import that takes a while
        return PlainTextResponse("built")

    lazy = LazyApp(build)
    assert lazy.built is None
    transport = httpx.ASGITransport(app=lazy)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        responses = await asyncio.gather(*(client.get("/") for _ in range(5)))
    assert [r.text for r in responses] == ["built"] * 5
    assert len(builds) == 1 and builds[0] != threading.get_ident()
    assert lazy.built is not None


async def test_a_failed_build_is_tried_again() -> None:
    attempts = 0

    def build():  # type: ignore[no-untyped-def]
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("first build fails")
        return PlainTextResponse("second")

    lazy = LazyApp(build)
    transport = httpx.ASGITransport(app=lazy)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="first build fails"):
            await client.get("/")
        assert (await client.get("/")).text == "second"
    assert attempts == 2
