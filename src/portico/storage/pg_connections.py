"""A small pool of asyncpg connections for the hot path's statements (storage/hot_path.py).

asyncpg's own pool costs about 45 µs of CPU to acquire and release a connection here (a
shielded task, a queue, timeouts, an optional reset), more than the point read it is
acquired for (37 µs): measured with 16 concurrent tasks on 8 connections under uvloop, in
``bench/README.md``. The hot path's connections only ever run single autocommit statements,
so they need none of that: an idle connection is popped and pushed back, and a caller finds
one waiting, opens one while fewer than ``size`` are open, or waits its turn (first come,
first served). A connection that failed in any way is closed, never handed out again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class ConnectionPool:
    """Up to ``size`` connections to one database, opened when first needed, bound to the
    event loop that made the pool (as every asyncpg connection is)."""

    def __init__(self, connect: dict[str, Any], size: int) -> None:
        self._connect = connect  # asyncpg.connect's arguments
        self._size = size
        self._idle: list[Any] = []
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._open = 0  # idle, in use, or being opened
        self._closed = False
        self.loop = asyncio.get_running_loop()

    @property
    def open_connections(self) -> int:
        return self._open

    async def acquire(self) -> Any:
        """A connection of this caller's alone until :meth:`release`."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._open -= 1  # the server closed it while idle (a restart, a failover)
        if self._open >= self._size:
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed over, never taken
                    self._hand(waiter.result())
                raise
            if handed is not None:
                return handed
            # None: a slot came free (a connection was closed); open one in it
        self._open += 1
        try:
            import asyncpg

            return await asyncpg.connect(**self._connect)
        except BaseException:
            self._open -= 1
            self._hand(None)
            raise

    def release(self, conn: Any, *, reuse: bool = True) -> None:
        """Give ``conn`` back; ``reuse=False`` after any failure on it: it is closed."""
        if reuse and not self._closed and not conn.is_closed():
            self._hand(conn)
            return
        conn.terminate()
        self._open -= 1
        self._hand(None)

    def _hand(self, conn: Any) -> None:
        """``conn`` (or, for None, a free slot) to the longest waiting caller, else idle."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    def close(self) -> None:
        """Close the idle connections now and the others as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.terminate()
            self._open -= 1
