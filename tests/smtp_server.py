"""Real SMTP servers for connector tests: aiosmtpd on 127.0.0.1 (plain, STARTTLS, implicit
TLS, AUTH), scripted refusals, a port that refuses and a server that never speaks."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import free_port

TEMPLATE_TYPES = ("Register", "SignIn", "ForgotPassword", "Generic")


@dataclass
class Certificate:
    cert_pem: str
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed(directory: Path) -> Certificate:
    """A certificate for localhost / 127.0.0.1 that no system trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_text(cert_pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_pem, cert_file, key_file)


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every accepted message; replies scripted refusals."""

    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    attempts: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_MAIL(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        self.attempts += 1
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.data_reply:
            return self.data_reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


@dataclass
class Authenticator:
    users: dict[str, str]
    mechanisms: list[str] = field(default_factory=list)

    def __call__(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        self.mechanisms.append(mechanism)
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False)


@dataclass
class Running:
    port: int
    handler: Recorder
    authenticator: Authenticator | None = None
    host: str = "127.0.0.1"


@contextmanager
def smtp_server(
    handler: Recorder | None = None,
    *,
    certificate: Certificate | None = None,
    implicit_tls: bool = False,
    users: dict[str, str] | None = None,
    only_mechanism: str | None = None,
) -> Iterator[Running]:
    """STARTTLS is offered when ``certificate`` is given (implicit TLS with ``implicit_tls``);
    AUTH when ``users`` is given (``only_mechanism`` hides the other of LOGIN/PLAIN)."""
    handler = handler or Recorder()
    authenticator = Authenticator(users) if users is not None else None
    kwargs: dict[str, Any] = {"auth_require_tls": False}
    if authenticator:
        kwargs["authenticator"] = authenticator
    if only_mechanism:
        kwargs["auth_exclude_mechanism"] = [m for m in ("LOGIN", "PLAIN") if m != only_mechanism]
    if certificate and not implicit_tls:
        kwargs["tls_context"] = certificate.server_context()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=certificate.server_context() if implicit_tls and certificate else None,
        **kwargs,
    )
    controller.start()
    try:
        yield Running(port, handler, authenticator)
    finally:
        controller.stop()


def refused_port() -> int:
    """A port nobody listens on (connections are refused)."""
    return free_port()


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts TCP connections (the kernel completes the handshake) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def smtp_config(port: int, **overrides: Any) -> dict[str, Any]:
    """A Logto-shaped SMTP connector config for a local server."""
    templates = [
        {
            "usageType": usage,
            "contentType": "text/plain",
            "subject": f"{usage} code",
            "content": f"Your {usage} code is {{{{code}}}}.",
        }
        for usage in TEMPLATE_TYPES
    ]
    return {
        "host": "127.0.0.1",
        "port": port,
        "fromEmail": "Portico <no-reply@example.com>",
        "templates": templates,
        **overrides,
    }


@dataclass
class XOAuth2Recorder(Recorder):
    """Also offers AUTH XOAUTH2 and accepts ``user`` with ``token`` only."""

    user: str = ""
    token: str = ""
    presented: list[str] = field(default_factory=list)

    async def auth_XOAUTH2(self, server, args):  # type: ignore[no-untyped-def]
        import base64

        fields = base64.b64decode(args[1]).decode().split("\x01")
        values = dict(f.split("=", 1) for f in fields if "=" in f)
        self.presented.append(values.get("auth", ""))
        ok = values.get("user") == self.user and values.get("auth") == f"Bearer {self.token}"
        return AuthResult(success=ok, handled=False)


@contextmanager
def token_endpoint(refresh_token: str, access_token: str) -> Iterator[str]:
    """An OAuth 2.0 token endpoint (RFC 6749 §6) that trades ``refresh_token``."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            good = form.get("grant_type") == "refresh_token" and (
                form.get("refresh_token") == refresh_token
            )
            body = (
                {"access_token": access_token, "expires_in": 3600}
                if good
                else {"error": "invalid_grant"}
            )
            data = json.dumps(body).encode()
            self.send_response(200 if good else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/token"
    finally:
        httpd.shutdown()
        httpd.server_close()
