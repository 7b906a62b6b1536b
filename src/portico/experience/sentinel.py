"""Counting security events per target: failed sign-in attempts per account (lockout, ASVS
2.2.1: at most 100 per hour) and messages sent per recipient (mailbox flooding).

Targets are stored as keyed digests, never as addresses. Counting is done in the database,
the one source of truth every process shares (Redis is never asked: a counter there could be
lost with it, and a lost counter means unlimited attempts). Sign-in failures count against the
account (:func:`lockout_target`): its username, email and phone share one budget, or each
would give a fresh one. An identifier no account has is a target of its own and locks the
same way, so a lockout says nothing about whether an account exists.

A sign-in attempt is counted as a failure *before* it is checked (:meth:`Sentinel.reserve`),
in one statement that inserts only while the window holds fewer failures than the limit,
serialised per target (``storage/sentinel.py``). So parallel guesses, on any number of
processes, can never get more than the limit past the check. A correct attempt takes its
reservation back.

A :class:`Backoff` makes the same statement also wait a growing delay after the newest
failure (throttling instead of locking): the console uses it per account *and* client
address, so that a stranger's guesses slow down the stranger, never lock out the owner.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portico.ids import standard_id
from portico.storage.database import now_ms
from portico.storage.sentinel import FAILED, SIGN_IN, SUCCESS, USER, SentinelStore, Throttle

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

SEND_MESSAGE = "SendMessage"
RECIPIENT = "Recipient"

# Logto's message rate limit: 10 sends per recipient in a rolling 10 minutes.
SEND_LIMIT = 10
SEND_WINDOW = 600


def lockout_target(kind: str, value: str, account_id: str | None) -> str:
    """What sign-in failures count against: the account when one has this identifier
    (``kind`` username/email/phone, ``value`` in its stored form), else the identifier."""
    return account_target(account_id) if account_id else f"{kind}:{value}"


def account_target(account_id: str) -> str:
    return f"account:{account_id}"


@dataclass(frozen=True)
class Locked:
    """The target is blocked until ``until`` (epoch ms)."""

    until: int

    def minutes_left(self, now: int | None = None) -> int:
        return max(1, -(-(self.until - (now or now_ms())) // 60_000))

    def seconds_left(self, now: int | None = None) -> int:
        return max(1, -(-(self.until - (now or now_ms())) // 1000))


@dataclass(frozen=True)
class Backoff:
    """After ``free`` failures in the window, each attempt waits ``first`` seconds after the
    newest failure, twice as long for each failure more, at most ``longest`` seconds."""

    free: int
    first: int
    longest: int

    def delays_ms(self) -> list[int]:
        """The wait after ``free``, ``free + 1``, ... failures, up to the first at ``longest``
        (every later count waits ``longest``)."""
        delays, delay = [], self.first
        while delay < self.longest:
            delays.append(delay * 1000)
            delay *= 2
        return [*delays, self.longest * 1000]

    def throttle(self) -> Throttle:
        return Throttle(self.free, tuple(self.delays_ms()))

    def delay_ms(self, failures: int) -> int:
        if failures < self.free:
            return 0
        delays = self.delays_ms()
        return delays[min(failures - self.free, len(delays) - 1)]


class Sentinel:
    def __init__(self, engine: AsyncEngine, key: bytes) -> None:
        """``key``: the stable sentinel key (``services/cookie_keys.sentinel_key``), never a
        cookie key: targets keyed by a rotating key would reset every counter on rotation."""
        self._store = SentinelStore(engine)
        self._key = key

    def _target(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    # Lockout ------------------------------------------------------------------------------
    async def reserve(
        self,
        tenant_id: str,
        identifier: str,
        max_attempts: int,
        lockout_seconds: int,
        backoff: Backoff | None = None,
    ) -> str | Locked:
        """Record one failed attempt ahead of checking it, unless the target is locked; the
        id of the recorded event (give it to :meth:`release` when the attempt succeeds), or
        :class:`Locked` when the window already holds ``max_attempts`` failures (or, with a
        ``backoff``, its delay after the newest failure has not passed)."""
        target = self._target(identifier)
        event_id = standard_id()
        now = now_ms()
        since = now - lockout_seconds * 1000
        throttle = backoff.throttle() if backoff else None
        if await self._store.reserve(
            tenant_id, target, event_id, now, since, max_attempts, throttle
        ):
            return event_id
        count, newest = await self._store.events(tenant_id, USER, target, SIGN_IN, FAILED, since)
        if count >= max_attempts or backoff is None:
            return Locked(newest + lockout_seconds * 1000)
        return Locked(newest + backoff.delay_ms(count))

    async def release(self, event_id: str) -> None:
        """The reserved attempt succeeded: it is not a failure after all."""
        await self._store.release(event_id)

    async def failed(self, tenant_id: str, identifier: str) -> None:
        target = self._target(identifier)
        await self._store.record(tenant_id, USER, target, SIGN_IN, FAILED, now_ms())

    async def succeeded(
        self, tenant_id: str, identifier: str, conn: AsyncConnection | None = None
    ) -> None:
        """A successful sign-in clears the account's failures (as Logto's sentinel does);
        ``conn``: in the caller's transaction."""
        await self._store.clear(tenant_id, self._target(identifier), conn)

    # Message sends ------------------------------------------------------------------------
    async def send_wait(self, tenant_id: str, recipient: str) -> int:
        """Count one attempt to send to ``recipient`` (refused ones count too, so hammering
        never frees the budget); 0 when it may go, else the seconds until one would: when the
        window holds ``SEND_LIMIT - 1`` attempts, so that the next one is the limit's last. The
        pages show that figure as their countdown."""
        target = self._target(recipient)
        now = now_ms()
        await self._store.record(tenant_id, RECIPIENT, target, SEND_MESSAGE, SUCCESS, now)
        since = now - SEND_WINDOW * 1000
        count, _ = await self._store.events(
            tenant_id, RECIPIENT, target, SEND_MESSAGE, SUCCESS, since
        )
        if count <= SEND_LIMIT:
            return 0
        limiting = await self._store.nth_newest(
            tenant_id, RECIPIENT, target, SEND_MESSAGE, SUCCESS, since, SEND_LIMIT
        )
        return max(1, -(-(limiting + SEND_WINDOW * 1000 - now) // 1000))
