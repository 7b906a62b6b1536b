"""One delivery over SMTP with aiosmtplib: connect, STARTTLS policy, authenticate, send.

The send as a whole is bounded (``SEND_DEADLINE``) and each step is capped, because Logto's
defaults (2 minutes to connect, 10 minutes per socket read) are far too long for someone
waiting on a sign-in page. Temporary refusals (4xx) are retried with back-off; permanent ones
(5xx) and configuration problems are not. Every failure becomes a ``ConnectorError`` whose
admin message names the cause and never contains a password, token or the message body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from portico.connectors.errors import ConnectorError
from portico.connectors.smtp import oauth, tls
from portico.connectors.smtp.config import LoginAuth, OAuth2Auth, SmtpConfig

SEND_DEADLINE = 30.0
CAPS = {"dns": 5.0, "connection": 10.0, "greeting": 10.0, "socket": 15.0}
ATTEMPTS = 3
BACKOFF = 0.25  # seconds before the second attempt, doubled for each further one

log = logging.getLogger("portico.connectors.smtp")


@dataclass(frozen=True)
class Timeouts:
    dns: float
    connection: float
    greeting: float
    socket: float

    @classmethod
    def of(cls, config: SmtpConfig) -> Timeouts:
        def capped(ms: int, cap: float) -> float:
            return min(ms / 1000, cap) if ms > 0 else cap

        return cls(
            capped(config.dnsTimeout, CAPS["dns"]),
            capped(config.connectionTimeout, CAPS["connection"]),
            capped(config.greetingTimeout, CAPS["greeting"]),
            capped(config.socketTimeout, CAPS["socket"]),
        )


def failure(reason: str, admin_message: str) -> ConnectorError:
    return ConnectorError("connector.general", admin_message, reason=reason)


def _said(exc: aiosmtplib.SMTPResponseException) -> str:
    text = " ".join(exc.message.split())[:200]
    return f"{exc.code} {text}".strip()


async def deliver(config: SmtpConfig, message: EmailMessage, sender: str, to: str) -> None:
    """Send ``message``; retry temporary failures; raise ``ConnectorError`` otherwise."""
    where = f"{config.host}:{config.port}"
    try:
        async with asyncio.timeout(SEND_DEADLINE):
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    await _attempt(config, message, sender, to)
                    return
                except ConnectorError as exc:
                    if exc.reason != "temporary" or attempt == ATTEMPTS:
                        raise
                    log.info("SMTP %s temporary failure, attempt %d: %s", where, attempt, exc)
                    await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))
    except TimeoutError:
        raise failure(
            "timeout", f"Sending through {where} took longer than {SEND_DEADLINE:g} s in total."
        ) from None


async def _attempt(config: SmtpConfig, message: EmailMessage, sender: str, to: str) -> None:
    timeouts = Timeouts.of(config)
    server_name = tls.server_name(config.tls, config.servername, config.host)
    tls_context = tls.context(config.tls) if config.secure else None
    sock = await _open_socket(config, timeouts)
    smtp = aiosmtplib.SMTP(
        hostname=server_name,
        sock=sock,
        timeout=timeouts.socket,
        local_hostname=config.name,
        use_tls=config.secure,
        start_tls=False,
        tls_context=tls_context,
    )
    try:
        await _step(config, "greeting", smtp.connect(timeout=timeouts.greeting))
    except BaseException:
        smtp.close()  # asyncio owns the socket from connect() on and closes it on failure
        raise
    try:
        await _step(config, "starttls", _maybe_starttls(config, smtp, server_name))
        await _step(config, "auth", _authenticate(config, smtp))
        await _step(config, "send", smtp.send_message(message, sender=sender, recipients=[to]))
        with contextlib.suppress(aiosmtplib.SMTPException, TimeoutError):
            await smtp.quit(timeout=1.0)
    finally:
        # Only the transport may close the socket: closing it under a TLS transport that is
        # still shutting down frees the descriptor while the event loop watches it.
        smtp.close()


async def _step(config: SmtpConfig, name: str, work: object) -> object:
    """Run one protocol step and translate what aiosmtplib raises."""
    if config.debug or config.logger:
        log.debug("SMTP %s:%s %s", config.host, config.port, name)
    try:
        return await work  # type: ignore[misc]
    except ConnectorError:
        raise
    except Exception as exc:
        raise _translate(config, name, exc) from None


async def _open_socket(config: SmtpConfig, timeouts: Timeouts) -> socket.socket:
    """Resolve and connect ourselves, so that dnsTimeout, connectionTimeout and localAddress
    mean what they say (aiosmtplib has one timeout for connect + greeting)."""
    loop = asyncio.get_running_loop()
    where = f"{config.host}:{config.port}"
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM), timeouts.dns
        )
    except TimeoutError:
        raise failure("timeout", f"DNS lookup of {config.host} timed out.") from None
    except OSError as exc:
        raise failure("dns", f"Cannot resolve the SMTP host {config.host}: {exc}.") from None
    last: Exception | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            if config.localAddress:
                sock.bind((config.localAddress, 0))
            await asyncio.wait_for(loop.sock_connect(sock, address), timeouts.connection)
            return sock
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc
    if isinstance(last, ConnectionRefusedError):
        raise failure(
            "connection_refused",
            f"The connection to {where} was refused: is the SMTP server running, and is "
            "this the right port?",
        )
    if isinstance(last, TimeoutError):
        raise failure(
            "timeout", f"Connecting to {where} timed out after {timeouts.connection:g} s."
        )
    raise failure("connection_failed", f"Cannot connect to {where}: {last}.")


async def _maybe_starttls(config: SmtpConfig, smtp: aiosmtplib.SMTP, server_name: str) -> None:
    """nodemailer's policy: upgrade when offered, unless ignoreTLS; fail when requireTLS and
    the server does not offer it."""
    if config.secure or config.ignoreTLS:
        return
    await smtp.ehlo()
    if not smtp.supports_extension("starttls"):
        if config.requireTLS:
            raise failure(
                "tls",
                f"requireTLS is set but {config.host}:{config.port} does not offer STARTTLS.",
            )
        return
    await smtp.starttls(server_hostname=server_name, tls_context=tls.context(config.tls))


async def _authenticate(config: SmtpConfig, smtp: aiosmtplib.SMTP) -> None:
    auth = config.auth
    if isinstance(auth, OAuth2Auth):
        token = await oauth.access_token(auth)
        await smtp.ehlo()
        await smtp.auth_xoauth2(auth.user, token)
    elif isinstance(auth, LoginAuth) and auth.user:
        password = auth.pass_.get_secret_value() if auth.pass_ else ""
        await smtp.login(auth.user, password)


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _translate(config: SmtpConfig, step: str, exc: Exception) -> ConnectorError:
    where = f"{config.host}:{config.port}"
    tls_error = _tls_cause(exc)
    if tls_error is not None:
        detail = getattr(tls_error, "verify_message", None) or tls_error.reason or "handshake"
        return failure(
            "tls",
            f"TLS with {where} failed ({detail}). For a self-signed certificate set "
            '"tls": {"rejectUnauthorized": false} or give its CA in "tls": {"ca": ...}; '
            "for port 465 set secure: true, for 587 secure: false.",
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or (
        step == "auth" and isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500
    ):
        return failure(
            "auth_rejected",
            f"{where} rejected the credentials ({_said(exc)}). Check the user name and password "
            "(Gmail needs an app password; SendGrid's user is the literal 'apikey').",
        )
    if isinstance(exc, TimeoutError):
        return failure("timeout", f"{where} did not answer in time during {step}.")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return failure("temporary", f"{where} refused temporarily ({_said(exc)}).")
        return failure("permanent", f"{where} refused the message ({_said(exc)}).")
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or step == "auth":
        return failure("auth_rejected", f"Authentication with {where} is not possible: {exc}")
    if isinstance(exc, ConnectionError | aiosmtplib.SMTPServerDisconnected):
        return failure("disconnected", f"{where} closed the connection during {step}.")
    return failure("smtp_error", f"SMTP error with {where} during {step}: {exc}")
