"""The sign-in engine without HTTP: the sentinel (lockout, throttling, send limits) and
verification codes on the real database, with a clock the test moves."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from portico.experience.codes import CodeError, Recipient, VerificationCodes
from portico.experience.sentinel import SEND_WINDOW, Backoff, Locked, Sentinel, lockout_target
from portico.services.cookie_keys import CookieKeys
from tests.conftest import Clock

TENANT = "default"
# The engine's fixtures run on the session's loop (pyproject): so do these tests (asyncpg's
# connections belong to the loop that opened them).
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def sentinel(engine: AsyncEngine) -> Sentinel:
    return Sentinel(engine, b"k" * 32)


async def test_a_known_account_is_one_target_an_unknown_identifier_its_own() -> None:
    assert lockout_target("username", "alice", "u1") == lockout_target("email", "a@x.io", "u1")
    assert lockout_target("email", "a@x.io", None) != lockout_target("username", "a@x.io", None)


async def test_lockout_after_the_limit_until_the_window_passes(
    sentinel: Sentinel, clock: Clock
) -> None:
    for _ in range(3):
        assert isinstance(await sentinel.reserve(TENANT, "account:u1", 3, 60), str)
    locked = await sentinel.reserve(TENANT, "account:u1", 3, 60)
    assert isinstance(locked, Locked) and locked.minutes_left(clock.now) == 1
    assert isinstance(await sentinel.reserve(TENANT, "account:u2", 3, 60), str)  # another
    clock.advance(61)
    assert isinstance(await sentinel.reserve(TENANT, "account:u1", 3, 60), str)


async def test_a_released_attempt_and_a_success_do_not_count(
    sentinel: Sentinel, clock: Clock
) -> None:
    for _ in range(5):
        attempt = await sentinel.reserve(TENANT, "account:u3", 2, 60)
        assert isinstance(attempt, str)
        await sentinel.release(attempt)  # the password was right
    await sentinel.failed(TENANT, "account:u3")
    await sentinel.succeeded(TENANT, "account:u3")
    await sentinel.failed(TENANT, "account:u3")
    assert isinstance(await sentinel.reserve(TENANT, "account:u3", 2, 60), str)
    assert isinstance(await sentinel.reserve(TENANT, "account:u3", 2, 60), Locked)


async def test_a_backoff_throttles_with_doubling_delays(sentinel: Sentinel, clock: Clock) -> None:
    backoff = Backoff(free=2, first=1, longest=4)
    assert backoff.delays_ms() == [1000, 2000, 4000]

    async def attempt() -> str | Locked:
        return await sentinel.reserve(TENANT, "console:root@10.0.0.1", 100, 3600, backoff)

    assert isinstance(await attempt(), str)
    assert isinstance(await attempt(), str)
    for expected in (1, 2, 4, 4):  # seconds to wait after the 2nd, 3rd, 4th, 5th failure
        waiting = await attempt()
        assert isinstance(waiting, Locked) and waiting.seconds_left(clock.now) == expected
        clock.advance(expected - 0.5)
        assert isinstance(await attempt(), Locked)  # not yet
        clock.advance(0.5)
        assert isinstance(await attempt(), str)


async def test_sends_are_limited_per_recipient(sentinel: Sentinel, clock: Clock) -> None:
    waits = []
    for _ in range(10):  # one attempt a minute for ten minutes
        waits.append(await sentinel.send_wait(TENANT, "a@x.io"))
        clock.advance(59)
    assert waits == [0] * 10
    assert await sentinel.send_wait(TENANT, "b@x.io") == 0
    # The 11th within the window is refused (at 590 s) and counts: the next may go once the
    # window holds nine, when the attempt at 59 s leaves it.
    refused = await sentinel.send_wait(TENANT, "a@x.io")
    assert refused == 59 + SEND_WINDOW - 10 * 59
    clock.advance(refused - 1)
    # A refused attempt counts too: hammering pushes the figure on, never lets one through.
    again = await sentinel.send_wait(TENANT, "a@x.io")
    assert again > 0
    clock.advance(again)
    assert await sentinel.send_wait(TENANT, "a@x.io") == 0


async def test_a_code_is_single_use_bound_and_expires(engine: AsyncEngine, clock: Clock) -> None:
    keys = CookieKeys((b"cookie-key-1",))

    async def ring() -> CookieKeys:
        return keys

    codes = VerificationCodes(engine, ring)
    alice = Recipient("email", "alice@example.com")
    code = await codes.issue(TENANT, "jti-1", alice, "SignIn", ttl=600)

    async def refused(recipient: Recipient, given: str, purpose: str = "SignIn") -> str:
        with pytest.raises(CodeError) as error:
            await codes.verify(TENANT, "jti-1", recipient, purpose, given, 3)
        return error.value.code

    assert await refused(Recipient("email", "eve@example.com"), code) == (
        "verification_code.email_mismatch"
    )
    assert await refused(alice, code, "Register") == "verification_code.not_found"
    wrong = "000000" if code != "000000" else "111111"
    assert await refused(alice, wrong) == "verification_code.code_mismatch"
    await codes.verify(TENANT, "jti-1", alice, "SignIn", f" {code[:3]} {code[3:]} ", 3)
    assert await refused(alice, code) == "verification_code.not_found"  # used

    code = await codes.issue(TENANT, "jti-1", alice, "SignIn", ttl=600)
    for _ in range(3):
        assert await refused(alice, wrong) == "verification_code.code_mismatch"
    assert await refused(alice, code) == "verification_code.exceed_max_try"

    code = await codes.issue(TENANT, "jti-1", alice, "SignIn", ttl=600)
    clock.advance(601)
    assert await refused(alice, code) == "verification_code.expired"
