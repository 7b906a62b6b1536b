"""The guard on outgoing HTTP requests, against server-side request forgery (SSRF).

An admin, or whoever holds an admin token, chooses the URLs Portico calls: a connector's token
endpoint, an SMS gateway, later webhooks and logout notifications. Unguarded, that makes Portico
a proxy into its own network: the cloud metadata service (instance credentials), the database
port, services that trust their neighbours. So a request may only go to a public address unless
the setting ``PORTICO_ALLOW_PRIVATE_TARGETS`` (:data:`SETTING`) lists the internal host or
network (``127.0.0.1,localhost`` for development and tests, ``10.0.0.0/8`` for an internal
SMS gateway...). Cloud metadata addresses are opened only by naming the exact address.

Three checks, because the address a name stands for can change:

- :func:`check_url`, synchronous and without DNS, when a configuration is validated, so that
  the admin sees the problem on the field they typed it in;
- :func:`check_target`, with DNS, when a configuration is saved;
- :func:`guarded_client` when the request is made: its transport resolves the name itself,
  refuses the request if *any* address is internal, and connects to the address it checked
  (the ``Host`` header, TLS SNI and certificate verification keep the name). A name that was
  public when saved and points at ``127.0.0.1`` now (DNS rebinding) is refused, and there is no
  second lookup between the check and the connection for a rebinding to slip into.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

    import httpx

SETTING = "PORTICO_ALLOW_PRIVATE_TARGETS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``; raises :class:`UnresolvedTarget` (or ``OSError``)."""

# Where clouds hand out instance credentials. A network in the allow-list (169.254.0.0/16 for
# a link-local sidecar) does not open these: only the exact address does.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, Google Cloud, Azure, OpenStack, Oracle, DigitalOcean...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "168.63.129.16",  # Azure WireServer (a public address)
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))

# Special-purpose networks that not every supported Python flags (3.11's ``is_global`` is
# True for fec0::/10 and 192.0.0.0/24, ``is_private`` False for 100.64.0.0/10).
_SPECIAL: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("0.0.0.0/8"), "an unspecified (this-network) address"),
    (ipaddress.ip_network("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (ipaddress.ip_network("192.0.0.0/24"), "a special-purpose (IETF protocol) address"),
    (ipaddress.ip_network("fc00::/7"), "a unique-local address"),
    (ipaddress.ip_network("fec0::/10"), "a site-local address"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a local-use NAT64 address"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*"
)
_NUMERIC_HOST = re.compile(r"[0-9a-fx.:]+")
_EXAMPLE = "127.0.0.1,localhost,10.0.0.0/8"


class TargetRefused(Exception):
    """The request would go to an internal address that the allow-list does not open. The
    message names the host, the address and the setting that would allow it; no secret."""

    def __init__(self, host: str, reason: str, address: IPAddress | None = None) -> None:
        self.host = host
        self.reason = reason
        self.address = address
        # What to list: the name when a name was given, else the address.
        example = host
        if address is None:
            subject = f"{host} is {reason}"
        elif literal_address(host) is not None:  # an address, however spelt
            subject = f"{host} is {reason}"
            mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped
            example = str(mapped or address)
        else:
            subject = f"{host} resolves to {address}, {reason}"
        super().__init__(
            f"{subject}; Portico calls internal addresses only when {SETTING} lists them "
            f"(e.g. {SETTING}={example})"
        )


class UnresolvedTarget(Exception):
    """The host name has no address (now): nothing to check, nothing to connect to."""

    def __init__(self, host: str, detail: str) -> None:
        self.host = host
        super().__init__(f"{host} could not be resolved ({detail})")


@dataclass(frozen=True)
class AllowList:
    """The internal networks and host names that may be called anyway (:data:`SETTING`).
    A listed host name may resolve to anything; a listed network opens every internal address
    in it except cloud metadata addresses, which only an exact address opens."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | Iterable[str]) -> AllowList:
        """Comma-separated (or listed) IP addresses, CIDR networks and host names; a
        ValueError names the first entry that is none of these."""
        entries = value.split(",") if isinstance(value, str) else list(value)
        networks: list[IPNetwork] = []
        hosts: list[str] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            network = _network(entry)
            if network is not None:
                networks.append(network)
            elif _HOST_NAME.fullmatch(_host_key(entry)):
                hosts.append(_host_key(entry))
            else:
                raise ValueError(
                    f"{entry!r} is not a host name, IP address or CIDR network (e.g. {_EXAMPLE})"
                )
        return cls(tuple(dict.fromkeys(networks)), tuple(dict.fromkeys(hosts)))

    def __str__(self) -> str:
        networks = [
            str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)
            for n in self.networks
        ]
        return ",".join([*networks, *self.hosts])

    def allows_host(self, host: str) -> bool:
        return _host_key(host) in self.hosts

    def covers(self, address: IPAddress) -> bool:
        """Whether a listed network holds ``address`` (or the IPv4 address it embeds)."""
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            inner = address.ipv4_mapped or _embedded_ipv4(address)
            if inner is not None:
                candidates.append(inner)
        exact = any(candidate in METADATA_ADDRESSES for candidate in candidates)
        return any(
            candidate in network and (not exact or network.prefixlen == network.max_prefixlen)
            for candidate in candidates
            for network in self.networks
        )


EMPTY = AllowList()

# The process's allow-list, from its settings (``configure`` at start; read from the
# environment on first use in a process that never called it, e.g. a CLI command).
_process_allow: AllowList | None = None
_override: contextvars.ContextVar[AllowList | None] = contextvars.ContextVar(
    "portico_outbound_allow", default=None
)


def configure(allow: AllowList | str) -> None:
    """Set the process's allow-list (``Runtime.start()`` passes the settings' value)."""
    global _process_allow
    _process_allow = allow if isinstance(allow, AllowList) else AllowList.parse(allow)


def current_allow_list() -> AllowList:
    """The allow-list in force here: :func:`allowing`'s, else the process's."""
    override = _override.get()
    if override is not None:
        return override
    global _process_allow
    if _process_allow is None:
        from portico.settings import load_settings  # here: settings imports this module

        _process_allow = AllowList.parse(load_settings().allow_private_targets)
    return _process_allow


@contextlib.contextmanager
def allowing(allow: AllowList | str) -> Iterator[AllowList]:
    """Use ``allow`` in this context (and the tasks it starts) instead of the process's
    allow-list; for tests, and code that acts for a narrower policy."""
    chosen = allow if isinstance(allow, AllowList) else AllowList.parse(allow)
    token = _override.set(chosen)
    try:
        yield chosen
    finally:
        _override.reset(token)


# -- classification ---------------------------------------------------------------------------


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is internal (``"a loopback address"``...), or None when it is public.
    IPv6 forms of an IPv4 address (``::ffff:a.b.c.d``, NAT64, 6to4) are judged by that
    address, since that is where the packets end up."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return classify(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for network, why in _SPECIAL:
        if address in network:
            return why
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = classify(embedded)
            return None if inner is None else f"an IPv6 form of {embedded}, {inner}"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` denotes without DNS: an IP literal, or a numeric form the C
    resolver would turn into one (``127.1``, ``2130706433``, ``0x7f.0.0.1``); None for a
    name."""
    key = _host_key(host)
    try:
        return ipaddress.ip_address(key)
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(key):
        return None
    try:  # AI_NUMERICHOST: parsed as the resolver would, never looked up
        infos = socket.getaddrinfo(key, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(infos[0][4][0]) if infos else None


def is_loopback_name(host: str) -> bool:
    """``localhost`` and its subdomains, loopback by definition (RFC 6761 §6.3)."""
    key = _host_key(host)
    return key == "localhost" or key.endswith(".localhost")


def is_loopback_host(host: str) -> bool:
    """A loopback name or address (IPv4-mapped forms included)."""
    if is_loopback_name(host):
        return True
    address = literal_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


def check_address(
    address: IPAddress, *, host: str | None = None, allow: AllowList | None = None
) -> None:
    """Raise :class:`TargetRefused` unless ``address`` is public or allowed."""
    allow = current_allow_list() if allow is None else allow
    reason = classify(address)
    if reason is not None and not allow.covers(address):
        raise TargetRefused(host or str(address), reason, address)


def check_url(url: str, *, allow: AllowList | None = None) -> str:
    """What can be checked without DNS (IP literals, loopback and metadata names); the URL's
    host. :class:`TargetRefused` for an internal target, ValueError for a URL that is not
    absolute http(s). Names are checked by :func:`check_target` and at call time."""
    host = _url_host(url)[0]
    allow = current_allow_list() if allow is None else allow
    if allow.allows_host(host):
        return host
    address = literal_address(host)
    if address is not None:
        check_address(address, host=host, allow=allow)
    elif _host_key(host) in METADATA_NAMES:
        raise TargetRefused(host, "a cloud metadata host")
    elif is_loopback_name(host) and not any(allow.covers(a) for a in LOOPBACK_ADDRESSES):
        raise TargetRefused(host, "a loopback host")
    return host


# -- resolution -------------------------------------------------------------------------------


async def resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host``. The default :data:`Resolver`; tests
    replace this function to play DNS (rebinding included) without a network."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvedTarget(host, str(exc)) from None
    return [str(info[4][0]) for info in infos]


async def check_host(
    host: str,
    port: int,
    *,
    allow: AllowList | None = None,
    resolver: Resolver | None = None,
    timeout: float | None = None,
) -> list[IPAddress]:
    """The addresses to connect to for ``host``, every one of them checked. Raises
    :class:`TargetRefused` if any is internal and not allowed (a listed host name may resolve
    to anything), :class:`UnresolvedTarget` without an answer, TimeoutError after
    ``timeout`` seconds."""
    allow = current_allow_list() if allow is None else allow
    literal = literal_address(host)
    if literal is not None:
        check_address(literal, host=host, allow=allow)
        return [literal]
    lookup = (resolver or resolve)(host, port)
    try:
        answers = await (lookup if timeout is None else asyncio.wait_for(lookup, timeout))
        addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in answers))
    except (OSError, ValueError) as exc:
        raise UnresolvedTarget(host, str(exc)) from None
    if not addresses:
        raise UnresolvedTarget(host, "no address")
    if not allow.allows_host(host):
        if _host_key(host) in METADATA_NAMES:
            raise TargetRefused(host, "a cloud metadata host")
        for address in addresses:
            check_address(address, host=host, allow=allow)
    return addresses


async def check_target(
    url: str,
    *,
    allow: AllowList | None = None,
    resolver: Resolver | None = None,
    timeout: float | None = None,
) -> list[IPAddress]:
    """:func:`check_host` for the host and port of an http(s) ``url`` (ValueError for any
    other URL): what a configuration is checked with when it is saved, and what any code
    about to call a URL by other means than :func:`guarded_client` must call first."""
    host, port = _url_host(url)
    return await check_host(host, port, allow=allow, resolver=resolver, timeout=timeout)


def guarded_client(
    *,
    allow: AllowList | None = None,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
    **options: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (``options`` are its arguments: timeout, headers...) whose
    every request, redirect hops included, is checked with :func:`check_host` and sent to
    the address that was checked. ``allow`` defaults to the allow-list in force when each
    request is sent. Redirects are not followed unless ``follow_redirects`` says so.

    Environment proxies (``HTTPS_PROXY``) are not used: a proxy would resolve the name
    itself, and the guard could not know where the request goes."""
    import httpx  # here: a process that never calls out does not load it (~5 MB)

    from portico.net.transport import GuardedTransport

    options.setdefault("follow_redirects", False)
    transport = GuardedTransport(allow=allow, resolver=resolver, verify=verify)
    return httpx.AsyncClient(transport=transport, **options)


# -- helpers ----------------------------------------------------------------------------------


def _host_key(host: str) -> str:
    """A host as compared: lower case, without IPv6 brackets or the root's trailing dot."""
    key = host.strip().lower()
    if key.startswith("[") and key.endswith("]"):
        key = key[1:-1]
    return key.rstrip(".")


def _url_host(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _network(entry: str) -> IPNetwork | None:
    text = entry[1:].replace("]", "", 1) if entry.startswith("[") else entry
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address leads to."""
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour
