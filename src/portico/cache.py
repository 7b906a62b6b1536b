"""A small time-bounded cache for hot, rarely-changing reads (clients, keys, configuration).

Entries live ``ttl`` seconds, so a change made by any process is re-read by every process
within that time. Misses are not cached: something created a moment ago is found at once.
``invalidate`` drops entries here and tells ``on_invalidate`` (the broadcast of
:class:`portico.coherence.Coherence`), so a writer's one call reaches every process.
"""

from __future__ import annotations

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

    async def get(self, key: K, load: Callable[[K], Awaitable[V | None]]) -> V | None:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._generation
        value = await load(key)
        if value is None:
            self._entries.pop(key, None)
            return None
        if generation == self._generation:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, value)
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
