"""Telling applications that the user signed out at the provider: OpenID Connect Back-Channel
Logout 1.0 (a signed logout token POSTed to each application's ``backchannelLogoutUri``) and
Front-Channel Logout 1.0 (each application's ``frontchannelLogoutUri`` loaded in an iframe of
the signed-out page).

Which applications to tell: those the browser session signed the user in to. Issuing a code
(or approving a device) to an application that has a logout URI records it under the
session's ``sid``; applications without one cost nothing extra on the authorization path.
The records are taken (deleted) at logout, so a second logout tells nobody twice.

Delivery runs after the logout answered (the user is never kept waiting on an application):
a few attempts, each with a short timeout, under the same private-target rules as every other
outbound request. A failure is written to the audit log, never the token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from portico.ids import digest, opaque_token
from portico.net import outbound
from portico.protocol.provider import Provider
from portico.protocol.sessions import SESSION_TTL, Session
from portico.services.applications import Client

log = logging.getLogger("portico.logout")

SESSION_CLIENT = "SessionClient"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120  # seconds (§2.4: a short lifetime; oidc-provider's figure)
TIMEOUT = 2.5  # seconds per attempt
# Waits before the second and later attempts: an application restarting gets a few seconds.
RETRY_DELAYS = (1.0, 4.0)


def _group(sid: str) -> str:
    return f"session:{sid}"


def wants_notice(client: Client) -> bool:
    return bool(client.backchannel_logout_uri or client.frontchannel_logout_uri)


async def remember(provider: Provider, session: Session, client: Client) -> None:
    """Record that ``session`` signed the user in to ``client`` (if it can be told)."""
    if not wants_notice(client):
        return
    await provider.artifacts.save_once(
        SESSION_CLIENT,
        digest(f"{session.sid}:{client.id}"),  # a client id may be a long URL
        {"clientId": client.id, "accountId": session.account_id, "sid": session.sid},
        SESSION_TTL,
        group=_group(session.sid),
    )


@dataclass(frozen=True)
class Notice:
    """The applications to tell that the user ``account_id`` left session ``sid``."""

    account_id: str
    sid: str
    clients: tuple[Client, ...]

    def frontchannel_urls(self, issuer: str) -> list[str]:
        """Front-Channel Logout 1.0 §2-§3: ``iss`` and ``sid`` as query parameters when the
        application asked for them (``frontchannelLogoutSessionRequired``)."""
        urls = []
        for client in self.clients:
            if not client.frontchannel_logout_uri:
                continue
            url = client.frontchannel_logout_uri
            if client.frontchannel_logout_session_required:
                parts = urlsplit(url)
                extra = urlencode({"iss": issuer, "sid": self.sid})
                query = f"{parts.query}&{extra}" if parts.query else extra
                url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
            urls.append(url)
        return urls

    def frontchannel_origins(self) -> list[str]:
        origins = []
        for client in self.clients:
            if client.frontchannel_logout_uri:
                parts = urlsplit(client.frontchannel_logout_uri)
                origins.append(f"{parts.scheme}://{parts.netloc}")
        return sorted(set(origins))

    @property
    def backchannel(self) -> tuple[Client, ...]:
        return tuple(c for c in self.clients if c.backchannel_logout_uri)


async def take_notice(provider: Provider, session: Session) -> Notice:
    """The applications ``session`` signed in to that have a logout URI, taken once."""
    records = await provider.artifacts.take_group(SESSION_CLIENT, _group(session.sid))
    clients = []
    for record in records:
        client = await provider.client(str(record.payload.get("clientId")))
        if client is not None and wants_notice(client):
            clients.append(client)
    return Notice(session.account_id, session.sid, tuple(clients))


async def logout_token(provider: Provider, client: Client, account_id: str, sid: str) -> str:
    """§2.4: ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, ``events``, ``sub`` always (Logto
    sends it) and ``sid`` when the application asked for it; never a ``nonce`` (§2.4, so
    that a logout token cannot pass for an ID token); ``typ: logout+jwt`` (§2.4, RFC 8725)."""
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "aud": client.id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_TTL,
        "jti": opaque_token(),
        "sub": account_id,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if client.backchannel_logout_session_required:
        claims["sid"] = sid
    # signed as the application's ID tokens are (it verifies both with the same rules)
    return await provider.sign(claims, typ="logout+jwt", alg=client.id_token_signed_response_alg)


Failed = Callable[[Client, str], Awaitable[None]]


async def deliver(provider: Provider, notice: Notice, failed: Failed) -> None:
    """Send every back-channel logout of ``notice`` (concurrently); ``failed(client,
    reason)`` for each application that did not take it after every attempt."""
    await asyncio.gather(
        *(_deliver_one(provider, notice, client, failed) for client in notice.backchannel)
    )


async def _deliver_one(provider: Provider, notice: Notice, client: Client, failed: Failed) -> None:
    assert client.backchannel_logout_uri is not None
    token = await logout_token(provider, client, notice.account_id, notice.sid)
    reason = ""
    for attempt in range(1 + len(RETRY_DELAYS)):
        if attempt:
            await asyncio.sleep(RETRY_DELAYS[attempt - 1])
        try:
            async with outbound.guarded_client(timeout=TIMEOUT) as http:
                response = await http.post(
                    client.backchannel_logout_uri,
                    data={"logout_token": token},
                    headers={"Cache-Control": "no-store"},
                )
        except Exception as error:  # network, guard, timeout: try again
            reason = f"{type(error).__name__}: {str(error)[:120]}"
            continue
        if response.status_code in (200, 204):  # §2.8
            return
        reason = f"answered {response.status_code}"
        if 400 <= response.status_code < 500 and response.status_code != 429:
            # §2.8: the application refused the token; sending it again is no use
            break
    log.warning("back-channel logout to application %s failed: %s", client.id, reason)
    await failed(client, reason)
