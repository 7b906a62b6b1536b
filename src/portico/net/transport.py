"""The httpx transport behind :func:`portico.net.outbound.guarded_client`.

A module of its own only so that importing the guard does not import httpx: most server
processes validate configurations but never call out. Use it through ``guarded_client``.
"""

from __future__ import annotations

import ssl

import httpx

from portico.net.outbound import AllowList, Resolver, UnresolvedTarget, check_host, literal_address


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks each request's host with :func:`~portico.net.outbound.check_host` and connects
    to an address it checked, trying them in the resolver's order.

    The URL handed to httpx's own transport carries the address instead of the name, so
    nothing resolves the name a second time; the ``Host`` header (set when the request was
    built) and TLS keep the name: ``sni_hostname`` makes it the TLS server name, which is also
    the name the certificate is verified against. Each origin (scheme, name, port) gets its own
    connection pool, so a connection opened and verified for one name never carries a request
    for another name that happens to share its address."""

    def __init__(
        self,
        *,
        allow: AllowList | None = None,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._allow = allow
        self._resolver = resolver
        self._verify = verify
        self._pools: dict[tuple[str, str, int], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")  # IDNA-encoded: the name DNS and TLS get
        port = url.port or (443 if url.scheme == "https" else 80)
        timeouts = request.extensions.get("timeout") or {}
        try:
            addresses = await check_host(
                host,
                port,
                allow=self._allow,
                resolver=self._resolver,
                timeout=timeouts.get("connect"),
            )
        except UnresolvedTarget as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        except TimeoutError:
            raise httpx.ConnectTimeout(f"resolving {host} timed out", request=request) from None
        pool = self._pool(url.scheme, host, port)
        if literal_address(host) is None:
            request.extensions = {**request.extensions, "sni_hostname": host.rstrip(".")}
        failure: httpx.ConnectError | None = None
        try:
            for address in addresses:
                request.url = url.copy_with(host=str(address))
                try:
                    return await pool.handle_async_request(request)
                except httpx.ConnectError as exc:  # refused or unreachable: the next address
                    failure = exc
        finally:
            request.url = url  # the response's request shows what the caller asked for
        assert failure is not None
        raise failure

    def _pool(self, scheme: str, host: str, port: int) -> httpx.AsyncHTTPTransport:
        key = (scheme, host, port)
        if key not in self._pools:
            self._pools[key] = httpx.AsyncHTTPTransport(verify=self._verify)
        return self._pools[key]

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
