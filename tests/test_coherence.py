"""Cache coherence (``portico.coherence``) against the real Redis on 127.0.0.1: two
``Coherence`` objects stand for two processes; the Redis setting names."""

from __future__ import annotations

import asyncio
import time

import pytest

from portico.cache import TTLCache
from portico.coherence import CACHE_TTL, EVERYTHING, Coherence
from portico.settings import DEFAULT_REDIS_URL, SettingsError, load_settings
from tests.cluster import REDIS_URL
from tests.support import free_port, unique


async def test_a_load_begun_before_an_invalidation_does_not_store_its_result() -> None:
    cache: TTLCache[str, str] = TTLCache(60)
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_old_value(_: str) -> str:
        reading.set()
        await release.wait()
        return "old"

    pending = asyncio.create_task(cache.get("k", slow_old_value))
    await reading.wait()
    cache.invalidate()  # the change committed while the old value was on its way
    release.set()
    assert await pending == "old"  # that caller asked before the change: fine

    async def new_value(_: str) -> str:
        return "new"

    assert await cache.get("k", new_value) == "new"  # but nobody is served it afterwards


async def wait_for(condition, timeout: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_an_invalidation_reaches_the_other_process_through_redis() -> None:
    channel = f"portico:{unique('test')}:invalidate"
    a, b = Coherence(REDIS_URL, channel), Coherence(REDIS_URL, channel)
    await a.start()
    await b.start()
    try:
        await wait_for(lambda: a.subscribed and b.subscribed)
        a_cache, b_cache = a.cache("keys"), b.cache("keys")
        other_topic = b.cache("connectors")
        loads = {"keys": 0, "connectors": 0}

        async def load(topic: str) -> str:
            loads[topic] += 1
            return f"{topic}-{loads[topic]}"

        assert await b_cache.get("keys", load) == "keys-1"
        assert await other_topic.get("connectors", load) == "connectors-1"
        assert await a_cache.get("keys", load) == "keys-2"
        a_cache.invalidate()  # a wrote new keys

        async def b_reloads() -> bool:
            return await b_cache.get("keys", load) != "keys-1"

        started = time.monotonic()
        while not await b_reloads():
            assert time.monotonic() - started < CACHE_TTL / 2, "not pushed: waited for expiry"
            await asyncio.sleep(0.005)
        # Only that topic: b's connectors cache was left alone.
        assert await other_topic.get("connectors", load) == "connectors-1"
    finally:
        await a.stop()
        await b.stop()


async def test_without_a_reachable_redis_entries_expire_and_writers_are_not_held_up() -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    coherence = Coherence(nobody, "portico:none:invalidate")
    await coherence.start()
    try:
        cache = coherence.cache("applications")
        values = iter(["v1", "v2"])

        async def load(_: str) -> str:
            return next(values)

        assert await cache.get("c", load) == "v1"
        started = time.monotonic()
        cache.invalidate()  # publishing fails in the background, never in the caller
        assert time.monotonic() - started < 0.05
        assert await cache.get("c", load) == "v2"
        await asyncio.sleep(0.3)
        assert not coherence.subscribed
    finally:
        await coherence.stop()


def test_redis_url_setting_names() -> None:
    assert load_settings(environ={}).redis_url is None
    assert load_settings(environ={"REDIS_URL": "redis://r:6379/1"}).redis_url == "redis://r:6379/1"
    both = {"REDIS_URL": "redis://logto:6379", "PORTICO_REDIS_URL": "rediss://portico:6380"}
    assert load_settings(environ=both).redis_url == "rediss://portico:6380"
    assert load_settings(environ={"REDIS_URL": "true"}).redis_url == DEFAULT_REDIS_URL
    with pytest.raises(SettingsError, match="PORTICO_REDIS_URL"):
        load_settings(environ={"REDIS_URL": "http://r:6379"})
    secret = load_settings(environ={"REDIS_URL": "redis://:hunter2@r:6379"})
    assert "hunter2" not in repr(secret)


async def test_everything_drops_every_topic_in_every_process() -> None:
    channel = f"portico:{unique('test')}:invalidate"
    a, b = Coherence(REDIS_URL, channel), Coherence(REDIS_URL, channel)
    await a.start()
    await b.start()
    try:
        await wait_for(lambda: a.subscribed and b.subscribed)
        caches = [b.cache("keys"), b.cache("applications")]
        loads = 0

        async def load(_: str) -> int:
            nonlocal loads
            loads += 1
            return loads

        assert [await c.get("k", load) for c in caches] == [1, 2]
        a.changed(EVERYTHING)

        async def reloaded() -> bool:
            first, second = [await c.get("k", load) for c in caches]
            return first != 1 and second != 2  # both topics dropped, not just one

        started = time.monotonic()
        while not await reloaded():
            assert time.monotonic() - started < CACHE_TTL / 2
            await asyncio.sleep(0.005)
    finally:
        await a.stop()
        await b.stop()
