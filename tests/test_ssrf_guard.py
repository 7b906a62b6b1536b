"""The outgoing-request guard (``portico.net.outbound``) against server-side request forgery.

An admin token must not turn Portico into a proxy into its own network: connector URLs that
are, or resolve to, internal addresses are refused when saved (400, Logto's ``{code,
message}``, the setting named) and again at call time after Portico's own DNS lookup, whose
answer is the address it connects to (DNS rebinding). DNS is played by injected resolvers and
every "internal" target that could be reached is a loopback listener that must see no
connection: no test sends a packet off this machine.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.ext.asyncio import AsyncConnection

from portico.connectors import ConnectorError, http
from portico.net import outbound
from portico.settings import SettingsError, load_settings
from tests.cluster import Process
from tests.console import ConsoleClient
from tests.lab import Lab
from tests.management import client_with, token_for
from tests.support import create_database, free_port, in_transaction
from tests.test_experience_flows import start

SETTING = "PORTICO_ALLOW_PRIVATE_TARGETS"
PUBLIC = "93.184.215.14"  # only ever an injected DNS answer: nothing connects to it
ip = ipaddress.ip_address


# --- helpers --------------------------------------------------------------------------------


@dataclass
class FakeDns:
    """Stands in for ``outbound.resolve``: scripted answers for chosen names, the system's
    for the rest (loopback names of the test servers); every question is recorded."""

    system: Callable[[str, int], Awaitable[Sequence[str]]]
    answers: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host in self.answers:
            return self.answers[host]
        return await self.system(host, port)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns(outbound.resolve)
    monkeypatch.setattr(outbound, "resolve", fake)
    return fake


class Listener:
    """A TCP port nobody answers on; ``connections()`` counts the connections made to it."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])

    def connections(self) -> int:
        count = 0
        while True:
            try:
                accepted, _ = self.sock.accept()
            except BlockingIOError:
                return count
            accepted.close()
            count += 1


@pytest.fixture
def internal() -> Iterator[Listener]:
    """A listener on 127.0.0.2: loopback, but not in the test servers' allow-list
    (127.0.0.1,localhost), so it plays the internal service an attacker is after."""
    listener = Listener("127.0.0.2")
    yield listener
    listener.sock.close()


class Echo(BaseHTTPRequestHandler):
    """Answers with the Host header it got; ``/redirect?to=URL`` redirects."""

    def do_GET(self) -> None:
        target = parse_qs(urlsplit(self.path).query).get("to")
        if self.path.startswith("/redirect") and target:
            self.send_response(302)
            self.send_header("Location", target[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"host": self.headers["Host"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def echo_server(context: ssl.SSLContext | None = None) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` only (no IP address in it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def resolver(answers: dict[str, list[str]], asked: list[str] | None = None) -> outbound.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        if host not in answers:
            raise outbound.UnresolvedTarget(host, "not in the test's DNS")
        return answers[host]

    return resolve


# --- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("168.63.129.16", "a cloud metadata address"),  # Azure: a public address
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a unique-local address"),
        ("fd12:3456::1", "a unique-local address"),
        ("fec0::1", "a site-local address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("0.0.0.0", "an unspecified (this-network) address"),
        ("::", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a private address"),  # reserved; Python counts it private
        ("255.255.255.255", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("64:ff9b::a00:1", "an IPv6 form of 10.0.0.1, a private address"),  # NAT64
        ("2002:7f00:1::", "an IPv6 form of 127.0.0.1, a loopback address"),  # 6to4
        ("::7f00:1", "a reserved address"),  # IPv4-compatible, long deprecated
        ("2001:db8::1", "a private address"),  # documentation
    ],
)
def test_internal_addresses_are_classified(address: str, reason: str) -> None:
    assert outbound.classify(ip(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert outbound.classify(ip(address)) is None
    outbound.check_address(ip(address), allow=outbound.EMPTY)


# --- the allow-list ---------------------------------------------------------------------------


def test_allow_list_entries_are_addresses_networks_and_host_names() -> None:
    allow = outbound.AllowList.parse(" 127.0.0.1, LocalHost., 10.0.0.0/8,[::1], gw.corp ,, ")
    assert str(allow) == "127.0.0.1,10.0.0.0/8,::1,localhost,gw.corp"
    assert allow.covers(ip("10.200.0.1")) and allow.covers(ip("127.0.0.1"))
    assert not allow.covers(ip("127.0.0.2")) and not allow.covers(ip("192.168.0.1"))
    assert allow.covers(ip("::ffff:10.0.0.1"))  # the IPv4-mapped form of a listed network
    assert allow.covers(ip("::1"))
    assert allow.allows_host("localhost") and allow.allows_host("GW.CORP.")
    assert not allow.allows_host("other.corp")
    with pytest.raises(ValueError, match=re.escape("'127.0.0.1:8080' is not a host name")):
        outbound.AllowList.parse("127.0.0.1:8080")
    with pytest.raises(ValueError, match="not a host name, IP address or CIDR"):
        outbound.AllowList.parse("10.0.0.0/33")


def test_a_network_does_not_open_the_metadata_address_the_exact_address_does() -> None:
    wide = outbound.AllowList.parse("169.254.0.0/16,fd00::/8")
    assert wide.covers(ip("169.254.1.1"))
    assert not wide.covers(ip("169.254.169.254")) and not wide.covers(ip("fd00:ec2::254"))
    with pytest.raises(outbound.TargetRefused, match="cloud metadata"):
        outbound.check_address(ip("169.254.169.254"), allow=wide)
    exact = outbound.AllowList.parse("169.254.169.254")
    outbound.check_address(ip("169.254.169.254"), allow=exact)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("https://127.0.0.1:5432/", ""),
        ("https://127.1/", ""),  # what the C resolver reads as 127.0.0.1
        ("https://2130706433/", ""),
        ("https://0x7f000001/", ""),
        ("https://[::1]/", ""),
        ("http://[::ffff:127.0.0.1]/", ""),
        ("https://10.1.2.3/token", "127.0.0.1,localhost"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
        ("https://metadata.google.internal/computeMetadata/v1/", "169.254.169.254"),
        ("http://localhost:5432/", ""),
        ("https://api.localhost/", "10.0.0.0/8"),
        ("https://LOCALHOST./", ""),
    ],
)
def test_check_url_refuses_without_dns(url: str, allow: str) -> None:
    with pytest.raises(outbound.TargetRefused) as refused:
        outbound.check_url(url, allow=outbound.AllowList.parse(allow))
    assert SETTING in str(refused.value)  # says how to allow it


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("https://provider.test/token", ""),  # a name: checked with DNS, later
        ("https://8.8.8.8/", ""),
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://localhost:8080/", "127.0.0.1"),  # localhost resolves to a listed address
        ("http://localhost:8080/", "localhost"),
        ("https://10.1.2.3/", "10.0.0.0/8"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
        ("https://metadata.google.internal/", "metadata.google.internal"),
    ],
)
def test_check_url_passes_public_and_allowed_targets(url: str, allow: str) -> None:
    outbound.check_url(url, allow=outbound.AllowList.parse(allow))


def test_provider_urls_keep_the_scheme_rule_and_name_the_setting() -> None:
    with outbound.allowing(""):
        for url in ("http://provider.test/", "ftp://provider.test/", "https:///path"):
            with pytest.raises(ValueError, match="must be an https URL"):
                http.https_or_loopback(url)
        with pytest.raises(ValueError, match=SETTING):
            http.https_or_loopback("http://127.0.0.1:9000/")  # loopback: needs the setting
        assert http.https_or_loopback("https://provider.test/") == "https://provider.test/"
    with outbound.allowing("127.0.0.1"):
        assert http.https_or_loopback("http://127.0.0.1:9000/x") == "http://127.0.0.1:9000/x"
    with outbound.allowing("10.0.0.0/8"), pytest.raises(ValueError, match="must be an https"):
        http.https_or_loopback("http://10.0.0.5/")  # allowed address, but http needs loopback


# --- with DNS -------------------------------------------------------------------------------


async def test_every_resolved_address_is_checked() -> None:
    answers = {
        "public.test": [PUBLIC, "2606:4700:4700::1111"],
        "mixed.test": [PUBLIC, "10.0.0.7"],  # one internal answer is enough to refuse
        "inside.test": ["127.0.0.1"],
        "metadata.google.internal": [PUBLIC],
    }
    empty = outbound.EMPTY
    found = await outbound.check_target(
        "https://public.test/x", allow=empty, resolver=resolver(answers)
    )
    assert found == [ip(PUBLIC), ip("2606:4700:4700::1111")]
    for url in (
        "https://mixed.test/",
        "http://inside.test:8080/",
        "https://metadata.google.internal/",
    ):
        with pytest.raises(outbound.TargetRefused) as refused:
            await outbound.check_target(url, allow=empty, resolver=resolver(answers))
        assert SETTING in str(refused.value)
    refused_message = str(refused.value)
    assert "metadata.google.internal is a cloud metadata host" in refused_message
    with pytest.raises(outbound.UnresolvedTarget):
        await outbound.check_target("https://nowhere.test/", allow=empty, resolver=resolver({}))


async def test_listed_names_and_networks_may_resolve_inside() -> None:
    answers = {"sms.corp": ["10.0.0.7"], "db.corp": ["10.9.0.1"], "local.test": ["127.0.0.1"]}
    by_name = outbound.AllowList.parse("sms.corp")
    by_network = outbound.AllowList.parse("127.0.0.1")
    assert await outbound.check_target(
        "https://sms.corp/send", allow=by_name, resolver=resolver(answers)
    ) == [ip("10.0.0.7")]
    with pytest.raises(outbound.TargetRefused, match=re.escape("db.corp resolves to 10.9.0.1")):
        await outbound.check_target("https://db.corp/", allow=by_name, resolver=resolver(answers))
    assert await outbound.check_target(
        "http://local.test:9/", allow=by_network, resolver=resolver(answers)
    ) == [ip("127.0.0.1")]


async def test_a_name_that_rebinds_to_an_internal_address_is_refused() -> None:
    """Public when the configuration was saved, 127.0.0.2 when it is used."""
    answers = {"rebind.test": [PUBLIC]}
    allow = outbound.AllowList.parse("127.0.0.1,localhost")  # as the test servers have
    await outbound.check_target("https://rebind.test/", allow=allow, resolver=resolver(answers))
    answers["rebind.test"] = ["127.0.0.2"]
    with pytest.raises(
        outbound.TargetRefused, match=re.escape("rebind.test resolves to 127.0.0.2")
    ):
        await outbound.check_target("https://rebind.test/", allow=allow, resolver=resolver(answers))


# --- the guarded client -------------------------------------------------------------------------


async def test_the_client_refuses_before_connecting(internal: Listener) -> None:
    answers = {"rebind.test": ["127.0.0.2"]}
    async with outbound.guarded_client(
        allow=outbound.AllowList.parse("127.0.0.1"), resolver=resolver(answers)
    ) as client:
        for url in (
            f"http://rebind.test:{internal.port}/",
            f"http://127.0.0.2:{internal.port}/",
            f"http://[::ffff:127.0.0.2]:{internal.port}/",
        ):
            with pytest.raises(outbound.TargetRefused):
                await client.get(url)
    assert internal.connections() == 0


async def test_the_client_connects_to_the_address_it_checked() -> None:
    """One lookup, by the guard; the request goes to that address with the name as Host."""
    asked: list[str] = []
    with echo_server() as port:
        async with outbound.guarded_client(
            allow=outbound.AllowList.parse("127.0.0.1"),
            resolver=resolver({"pinned.test": ["127.0.0.1"]}, asked),
        ) as client:
            response = await client.get(f"http://pinned.test:{port}/")
    assert response.status_code == 200
    assert response.json() == {"host": f"pinned.test:{port}"}
    assert str(response.request.url) == f"http://pinned.test:{port}/"
    assert asked == ["pinned.test"]


async def test_the_client_tries_each_checked_address_in_turn() -> None:
    answers = {"two.test": ["127.0.0.3", "127.0.0.1"]}  # nothing listens on 127.0.0.3
    with echo_server() as port:
        async with outbound.guarded_client(
            allow=outbound.AllowList.parse("127.0.0.0/8"), resolver=resolver(answers)
        ) as client:
            response = await client.get(f"http://two.test:{port}/")
    assert response.json() == {"host": f"two.test:{port}"}


async def test_tls_keeps_the_name_for_sni_and_certificate_checks(tmp_path: Path) -> None:
    cert_file, key_file = certificate_for("pinned.test", tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    trust = ssl.create_default_context(cafile=str(cert_file))
    answers = {"pinned.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    with echo_server(server_context) as port:
        async with outbound.guarded_client(
            allow=outbound.AllowList.parse("127.0.0.1"), resolver=resolver(answers), verify=trust
        ) as client:
            response = await client.get(f"https://pinned.test:{port}/")
            assert response.json() == {"host": f"pinned.test:{port}"}
            # Same address, another name: the certificate is checked against the name.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://other.test:{port}/")


async def test_redirect_hops_are_checked_too(internal: Listener) -> None:
    with echo_server() as port:
        async with outbound.guarded_client(
            allow=outbound.AllowList.parse("127.0.0.1"), follow_redirects=True
        ) as client:
            hop = f"http://127.0.0.2:{internal.port}/"
            with pytest.raises(outbound.TargetRefused):
                await client.get(f"http://127.0.0.1:{port}/redirect?to={hop}")
    assert internal.connections() == 0


async def test_connector_requests_go_through_the_guard(dns: FakeDns, internal: Listener) -> None:
    dns.answers["rebind.test"] = ["127.0.0.2"]
    with outbound.allowing("127.0.0.1,localhost"), pytest.raises(ConnectorError) as failure:
        await http.fetch("POST", f"https://rebind.test:{internal.port}/sms", what="SMS gateway")
    assert failure.value.reason == "target_refused"
    assert "rebind.test resolves to 127.0.0.2" in failure.value.admin_message
    assert SETTING in failure.value.admin_message
    assert internal.connections() == 0


# --- the setting --------------------------------------------------------------------------------


def test_the_setting_is_read_normalised_and_checked(tmp_path: Path) -> None:
    assert load_settings({}, environ={}).allow_private_targets == ""
    settings = load_settings({}, environ={SETTING: " 10.0.0.0/8 , LocalHost, [::1]"})
    assert settings.allow_private_targets == "10.0.0.0/8,::1,localhost"
    toml = tmp_path / "portico.toml"
    toml.write_text('allow_private_targets = ["127.0.0.1", "sms.corp"]\n')
    assert (
        load_settings({}, environ={"PORTICO_CONFIG": str(toml)}).allow_private_targets
        == "127.0.0.1,sms.corp"
    )
    with pytest.raises(SettingsError) as error:
        load_settings({}, environ={SETTING: "127.0.0.1,not a host"})
    assert str(error.value).startswith(f"{SETTING}: ")
    assert "'not a host'" in str(error.value)


# --- a server with the default (empty) allow-list ------------------------------------------


@dataclass
class Isolated:
    """A ``portico serve`` process with nothing allowed (its environment has no
    PORTICO_ALLOW_PRIVATE_TARGETS): a process of its own, because the allow-list is the
    process's and the in-process test servers allow loopback."""

    endpoint: str
    database_url: str

    def db(self, work: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        return in_transaction(self.database_url, work)


CLEARED = {
    SETTING,
    "PORTICO_CONFIG",
    "DATABASE_URL",
    "DB_URL",
    "REDIS_URL",
    "PORTICO_REDIS_URL",
    "PORTICO_ENDPOINT",
    "ENDPOINT",
}


@pytest.fixture(scope="module")
def isolated_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp("portico-no-private-targets")
    url, drop = create_database(str(data_dir))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        PORTICO_ENDPOINT=f"http://localhost:{port}",
        DATABASE_URL=url,
        PORTICO_DATA_DIR=str(data_dir),
        PORTICO_LOG_LEVEL="warning",
    )
    process = Process("no-private-targets", port, env, data_dir / "server.log").start()
    try:
        server = Isolated(process.url, url)
        _, token = token_for(server, ["Logto Management API access"])  # type: ignore[arg-type]
        with client_with(server, token) as client:  # type: ignore[arg-type]
            yield client
    finally:
        process.stop()
        drop()


INTERNAL_URLS = [
    "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://127.0.0.1:5432/",
    "https://10.1.2.3/token",
    "https://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:5432/",
    "https://[fd00:ec2::254]/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://2130706433/",
    "https://metadata.google.internal/computeMetadata/v1/",
]
ELSEWHERE = "https://provider.test"  # never resolves (RFC 2606): accepted, checked when called


def oauth2(url: str) -> dict[str, Any]:
    return {
        "connectorId": "oauth2",
        "config": {
            "authorizationEndpoint": f"{ELSEWHERE}/auth",
            "tokenEndpoint": url,
            "userInfoEndpoint": f"{ELSEWHERE}/me",
            "clientId": "client",
        },
    }


def oidc_issuer(url: str) -> dict[str, Any]:
    return {"connectorId": "oidc", "config": {"issuer": url, "clientId": "client"}}


def oidc_jwks(url: str) -> dict[str, Any]:
    return {
        "connectorId": "oidc",
        "config": {
            "authorizationEndpoint": f"{ELSEWHERE}/auth",
            "tokenEndpoint": f"{ELSEWHERE}/token",
            "idTokenVerificationConfig": {"jwksUri": url},
            "clientId": "client",
        },
    }


def http_sms(url: str) -> dict[str, Any]:
    return {"connectorId": "http-sms", "config": {"endpoint": url}}


def github(url: str) -> dict[str, Any]:
    return {
        "connectorId": "github-universal",
        "config": {"clientId": "client", "clientSecret": "secret", "apiServer": url},
    }


@pytest.mark.parametrize("body", [oauth2, oidc_issuer, oidc_jwks, http_sms, github])
def test_internal_targets_are_refused_on_save(
    isolated_api: httpx.Client, body: Callable[[str], dict[str, Any]]
) -> None:
    for url in INTERNAL_URLS:
        response = isolated_api.post("/connectors", json=body(url))
        assert response.status_code == 400, (url, response.text)
        error = response.json()
        assert error["code"] == "connector.invalid_config", (url, error)
        assert SETTING in error["message"], (url, error)
    assert isolated_api.get("/connectors").json() == []


def test_an_update_to_an_internal_target_is_refused_and_changes_nothing(
    isolated_api: httpx.Client,
) -> None:
    created = isolated_api.post("/connectors", json=oauth2(f"{ELSEWHERE}/token"))
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    try:
        for url in ("https://10.1.2.3/token", "https://[::1]/", "http://localhost:8080/"):
            config = {**created.json()["config"], "tokenEndpoint": url}
            response = isolated_api.patch(f"/connectors/{cid}", json={"config": config})
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "connector.invalid_config"
            assert "tokenEndpoint" in response.json()["message"]
            assert SETTING in response.json()["message"]
        stored = isolated_api.get(f"/connectors/{cid}").json()["config"]
        assert stored["tokenEndpoint"] == f"{ELSEWHERE}/token"
    finally:
        isolated_api.delete(f"/connectors/{cid}")


def test_the_test_route_refuses_an_internal_sms_endpoint(isolated_api: httpx.Client) -> None:
    internal = Listener("127.0.0.1")
    try:
        response = isolated_api.post(
            "/connectors/http-sms/test",
            json={
                "phone": "+15550100",
                "config": {"endpoint": f"http://127.0.0.1:{internal.port}/"},
            },
        )
        assert response.status_code == 400
        assert SETTING in response.json()["message"]
        assert internal.connections() == 0
    finally:
        internal.sock.close()


# --- DNS rebinding through the servers' call paths ------------------------------------------


def test_saving_looks_the_names_up(admin: httpx.Client, dns: FakeDns, internal: Listener) -> None:
    """On the shared test server (loopback 127.0.0.1 allowed, 127.0.0.2 not): accepted while
    the name resolves outside, refused once it resolves inside."""
    url = f"https://rebind.test:{internal.port}"
    dns.answers["rebind.test"] = [PUBLIC]
    created = admin.post("/connectors", json=oidc_issuer(url))
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    try:
        dns.answers["rebind.test"] = ["127.0.0.2"]
        again = admin.patch(f"/connectors/{cid}", json={"config": created.json()["config"]})
        assert again.status_code == 400, again.text
        assert again.json()["code"] == "connector.invalid_config"
        assert "issuer: rebind.test resolves to 127.0.0.2" in again.json()["message"]
        assert again.json()["data"][0]["path"] == "issuer"
        assert admin.get(f"/connectors/{cid}").json()["config"]["issuer"] == url
    finally:
        admin.delete(f"/connectors/{cid}")


def test_the_sms_test_route_is_guarded_after_its_own_lookup(
    admin: httpx.Client, dns: FakeDns, internal: Listener
) -> None:
    dns.answers["rebind.test"] = ["127.0.0.2"]
    response = admin.post(
        "/connectors/http-sms/test",
        json={
            "phone": "+15550100",
            "config": {"endpoint": f"https://rebind.test:{internal.port}/"},
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["data"] == {"reason": "target_refused"}
    assert "rebind.test resolves to 127.0.0.2" in response.json()["message"]
    assert "rebind.test" in dns.asked
    assert internal.connections() == 0


def test_a_social_sign_in_to_a_rebound_provider_stops_before_connecting(
    lab: Lab, dns: FakeDns, internal: Listener
) -> None:
    dns.answers["rebind.test"] = [PUBLIC]
    created = lab.api.post(
        "/api/connectors",
        json={
            **oidc_issuer(f"https://rebind.test:{internal.port}"),
            "metadata": {"target": "rebinding", "name": {"en": "Rebinding"}},
        },
    )
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    try:
        lab.configure(socialSignInConnectorTargets=["rebinding"])
        browser = lab.browser()
        page, _ = start(lab, browser)
        assert "Continue with Rebinding" in page.text
        dns.asked.clear()
        dns.answers["rebind.test"] = ["127.0.0.2"]
        response = browser.get(f"/social/{cid}")
        assert response.status_code == 502
        assert "rebind.test" in dns.asked  # discovery was attempted, through the guard
        assert internal.connections() == 0
    finally:
        lab.api.delete(f"/api/connectors/{cid}")


def test_the_console_form_shows_the_refusal_on_the_field(
    console: ConsoleClient, dns: FakeDns
) -> None:
    path = "/console/connectors/new/http-sms"
    refused = console.submit(path, path, {"endpoint": "https://10.1.2.3/sms"})
    assert refused.status_code == 400
    assert SETTING in refused.text and "10.1.2.3 is a private address" in refused.text
    dns.answers["sms.rebind.test"] = ["10.9.8.7"]  # refused when saved, after the lookup
    refused = console.submit(path, path, {"endpoint": "https://sms.rebind.test/send"})
    assert refused.status_code == 400
    assert "sms.rebind.test resolves to 10.9.8.7" in refused.text
