"""Cache coherence between the processes of one installation.

Every process caches hot configuration (clients, resources, signing keys, the sign-in
experience, phrases, connectors) in :class:`~portico.cache.TTLCache` objects made by
:meth:`Coherence.cache`, each under a *topic*. Two mechanisms keep them current:

- the database is the shared store: an entry lives :data:`CACHE_TTL` seconds, so every
  process re-reads a change within that time whatever else fails (Redis down or partitioned
  from the writer, a message lost, a writer that forgot to invalidate);
- with Redis (``REDIS_URL``), a writer's ``invalidate()`` (after its commit) publishes the
  topic on the installation's channel and every subscribed process drops it at once.

So a change is seen everywhere within a second, and within milliseconds while Redis works.
Redis holds no data and no counter (see ``experience/sentinel.py``): losing it costs only
the speed of propagation. The subscription proves itself with pings and reconnects with
back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from portico.cache import TTLCache
from portico.storage import configs

log = logging.getLogger("portico.coherence")

# Topics: what a writer changed. Caches of a topic are dropped together.
APPLICATIONS = "applications"  # clients, their redirect URIs and CORS origins
RBAC = "rbac"  # resources, scopes, roles and their assignments to applications
KEYS = "keys"  # signing keys (oidc.privateKeys)
SIGN_IN_EXPERIENCE = "sign-in-experience"
CUSTOM_PHRASES = "custom-phrases"
CONNECTORS = "connectors"
EVERYTHING = "*"  # a writer that cannot say which (a generic write path): drop every cache

CACHE_TTL = 0.5
PING_SECONDS = 1.0
REDIS_TIMEOUT = 1.0
MAX_BACKOFF = 2.0
# logto_configs key (tenant "default") holding this installation's random id: the channel is
# named after it, so installations sharing one Redis never see each other's messages.
INSTALLATION_KEY = "portico.installation"
TENANT = "default"


async def installation_channel(engine: AsyncEngine) -> str:
    """The Redis channel of the installation behind ``engine`` (its id is made once)."""
    async with engine.begin() as conn:
        stored = await configs.add_if_absent(
            conn, TENANT, INSTALLATION_KEY, {"id": secrets.token_hex(8)}
        )
    return f"portico:{stored['id']}:invalidate"


def redis_client(url: str) -> Any:
    """A client that fails fast: the request path never waits long on Redis."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
    )


class Coherence:
    """Per-process registry of caches by topic, with the optional Redis broadcast."""

    def __init__(self, redis_url: str | None = None, channel: str = "") -> None:
        self._redis_url = redis_url
        self._channel = channel
        self._sender = secrets.token_hex(6)
        self._caches: dict[str, list[TTLCache[Any, Any]]] = {}
        self._client: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.subscribed = False

    # Caches ---------------------------------------------------------------------------------
    def cache(self, topic: str, max_entries: int = 10_000) -> TTLCache[Any, Any]:
        """A cache whose ``invalidate()`` reaches every process."""
        made: TTLCache[Any, Any] = TTLCache(
            CACHE_TTL, max_entries, on_invalidate=lambda: self.changed(topic)
        )
        self._caches.setdefault(topic, []).append(made)
        return made

    def _drop(self, topic: str) -> None:
        for name, caches in self._caches.items():
            if topic in (EVERYTHING, name):
                for cache in caches:
                    cache.drop()

    def changed(self, topic: str) -> None:
        """``topic`` changed (committed): drop it here and tell the other processes."""
        self._drop(topic)
        if self._client is None:
            return
        try:
            self._spawn(self._publish(topic))
        except RuntimeError:  # no running loop (a synchronous caller): local only
            log.warning("cache change of %s not broadcast: no event loop", topic)

    # Redis ----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._redis_url:
            self._client = redis_client(self._redis_url)
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        tasks = [t for t in (self._listener, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, topic: str) -> None:
        try:
            await self._client.publish(self._channel, f"{self._sender} {topic}")
        except Exception as error:  # Redis down: the others re-read within CACHE_TTL
            log.warning("cache change of %s not broadcast: %s", topic, type(error).__name__)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await self._receive(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.subscribed:
                    log.warning("cache invalidation channel lost: %s", type(error).__name__)
                    delay = 0.1
                self.subscribed = False
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def _receive(self, pubsub: Any) -> None:
        """Apply messages until the connection fails; a ping every :data:`PING_SECONDS`
        proves the link (a silent link is as good as a lost one)."""
        heard = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=PING_SECONDS)
            now = time.monotonic()
            if message is None:
                if now - heard > 3 * PING_SECONDS:
                    raise TimeoutError("no reply from Redis")
                await pubsub.ping()
                continue
            heard = now
            kind = message.get("type")
            if kind == "subscribe":
                self.subscribed = True
                log.info("cache invalidation channel subscribed")
            elif kind == "message":
                sender, _, topic = _text(message["data"]).partition(" ")
                if sender != self._sender and topic:
                    self._drop(topic)


def _text(data: Any) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


async def announce(redis_url: str | None, engine: AsyncEngine, topic: str) -> None:
    """Tell running processes that ``topic`` changed, from a command outside them (the CLI);
    without Redis they see it within :data:`CACHE_TTL` anyway."""
    if not redis_url:
        return
    client = redis_client(redis_url)
    try:
        await client.publish(await installation_channel(engine), f"cli {topic}")
    except Exception as error:
        log.warning("cache change of %s not broadcast: %s", topic, type(error).__name__)
    finally:
        await client.aclose()
