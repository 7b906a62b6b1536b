"""A small time-bounded cache for hot, rarely-changing reads (clients, keys, configuration).

Entries live ``ttl`` seconds, so a change made by any process is re-read by every process
within that time. Misses are not cached: something created a moment ago is found at once.
``invalidate`` drops entries here and tells ``on_invalidate`` (the broadcast of
:class:`portico.coherence.Coherence`), so a writer's one call reaches every process.

Concurrent misses of one key share one load. Under load every entry expires while many
requests need it: without sharing, each of them read the database at the same moment (16
concurrent token requests made 16 client lookups every ``ttl``), which profiling showed as a
tenth of the client-credentials grant's CPU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        *,
        on_invalidate: Callable[[], None] | None = None,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._on_invalidate = on_invalidate
        # Bumped by every invalidation: a load that started before one must not store what it
        # read, or a value read just before a change would outlive the change's broadcast.
        self._generation = 0
        # Loads under way: (generation when started, future of their value).
        self._loading: dict[K, tuple[int, asyncio.Future[V | None]]] = {}

    async def get(self, key: K, load: Callable[[K], Awaitable[V | None]]) -> V | None:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        loop = asyncio.get_running_loop()
        pending = self._loading.get(key)
        # Join a load only if it started after the last invalidation (and on this loop: tools
        # and tests run caches on several loops in turn).
        if pending is not None and pending[0] == self._generation and pending[1].get_loop() is loop:
            try:
                return await asyncio.shield(pending[1])
            except _Abandoned:
                pass  # the request that was loading went away: load here
        return await self._load(key, load, loop)

    async def _load(
        self, key: K, load: Callable[[K], Awaitable[V | None]], loop: asyncio.AbstractEventLoop
    ) -> V | None:
        started, generation = time.monotonic(), self._generation
        shared: asyncio.Future[V | None] = loop.create_future()
        self._loading[key] = (generation, shared)
        try:
            value = await load(key)
        except asyncio.CancelledError:
            shared.set_exception(_Abandoned())
            raise
        except BaseException as error:
            shared.set_exception(error)
            raise
        else:
            shared.set_result(value)
        finally:
            if self._loading.get(key, (0, None))[1] is shared:
                del self._loading[key]
            if shared.done() and not shared.cancelled():
                shared.exception()  # retrieved: no "never retrieved" warning without waiters
        if value is None:
            self._entries.pop(key, None)
            return None
        if generation == self._generation:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = (started + self._ttl, value)
        return value

    def invalidate(self, key: K | None = None) -> None:
        """Forget ``key`` (everything when None), here and, through ``on_invalidate``, in
        every other process. Call it after the change is committed."""
        self.drop(key)
        if self._on_invalidate is not None:
            self._on_invalidate()

    def drop(self, key: K | None = None) -> None:
        """Forget ``key`` (everything when None) in this process only."""
        self._generation += 1
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)


class _Abandoned(Exception):
    """The load a request joined was cancelled with the request that started it."""
