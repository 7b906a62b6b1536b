"""An application's public keys for ``private_key_jwt`` (RFC 7523): registered inline
(``jwks``) or published at its ``jwksUri``, fetched under the same private-target rules as
connectors (``net.outbound``) and kept for five minutes. A key id the cached set lacks fetches
the set again at most once a minute (a client rotating its keys), never on every request (a
forged ``kid`` must not make the server a request amplifier)."""

from __future__ import annotations

import time
from typing import Any

from joserfc.jwk import KeySet

from portico.net import outbound
from portico.services.applications import Client

CACHE_SECONDS = 300
REFETCH_SECONDS = 60
MAX_BODY = 64 * 1024


class ClientKeysUnavailable(Exception):
    """The client's key set could not be had (the reason, for the log)."""


_cache: dict[str, tuple[float, KeySet]] = {}


_inline: dict[str, tuple[dict[str, Any], KeySet]] = {}


async def key_set(client: Client, kid: str | None) -> KeySet:
    if client.jwks is not None:
        # Importing keys is most of a signature check's cost: once per registered set.
        cached = _inline.get(client.id)
        if cached is not None and cached[0] == client.jwks:
            return cached[1]
        keys = KeySet.import_key_set(client.jwks)
        if len(_inline) > 1000:
            _inline.clear()
        _inline[client.id] = (client.jwks, keys)
        return keys
    if client.jwks_uri is None:
        raise ClientKeysUnavailable("no keys registered")
    now = time.monotonic()
    cached = _cache.get(client.jwks_uri)
    if cached is not None:
        fetched_at, keys = cached
        fresh = now - fetched_at < CACHE_SECONDS
        known = kid is None or any(k.kid == kid for k in keys)
        if fresh and (known or now - fetched_at < REFETCH_SECONDS):
            return keys
    keys = await _fetch(client.jwks_uri)
    _cache[client.jwks_uri] = (now, keys)
    return keys


async def _fetch(url: str) -> KeySet:
    try:
        async with outbound.guarded_client(timeout=5) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200 or len(response.content) > MAX_BODY:
            raise ClientKeysUnavailable(f"jwksUri answered {response.status_code}")
        data: Any = response.json()
        return KeySet.import_key_set(data)
    except ClientKeysUnavailable:
        raise
    except Exception as error:  # network, guard, JSON, key import: the client has no keys now
        raise ClientKeysUnavailable(f"{type(error).__name__}: {str(error)[:120]}") from None
